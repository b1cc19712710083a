// edlae-server: serves a model file or a folder of model versions over gRPC
// until SIGTERM/SIGINT; SIGHUP looks for a new version.
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_io.h"
#include "core/flag_names.h"
#include "core/kernels.h"
#include "server/log.h"
#include "server/server.h"

ABSL_FLAG(std::string, model, "",
          "Model file to serve as version 0 (or use --model_dir); reloaded "
          "when the file is replaced.");
ABSL_FLAG(std::string, model_dir, "",
          "Folder of numbered versions DIR/<version>/model.edlae; the highest "
          "one that loads is served and new ones are picked up while running.");
ABSL_FLAG(absl::Duration, poll_interval, absl::Seconds(5),
          "How often to look for a new model version (SIGHUP: now); 0 never.");
ABSL_FLAG(bool, warmup, true,
          "Populate the mapping and run a few requests before a version "
          "takes traffic.");
ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int32_t, port, 8500, "Port to listen on (0: pick a free port).");
ABSL_FLAG(std::string, port_file, "",
          "After the server listens, write its port to this file (atomically); "
          "useful with --port 0.");
ABSL_FLAG(uint32_t, max_top_n, 1000, "Largest top_n a request may ask for.");
ABSL_FLAG(uint32_t, max_history, 10000,
          "Most history items a request may carry.");
ABSL_FLAG(uint32_t, max_item_list, 100000,
          "Most exclude or candidate ids a request may carry.");
ABSL_FLAG(uint32_t, max_concurrent_requests, 256,
          "Recommend calls admitted at once (queued or scoring); beyond it, "
          "calls fail at once with RESOURCE_EXHAUSTED (0: no limit).");
ABSL_FLAG(uint32_t, batch_max_size, 64,
          "Most concurrent Recommend calls on a low-rank model scored in one "
          "pass over V (answers are identical to unbatched scoring); 1 "
          "disables micro-batching.");
ABSL_FLAG(int64_t, batch_max_wait_us, 0,
          "How long a free worker waits for more calls to fill a batch "
          "(0: take what is queued, no added latency).");
ABSL_FLAG(uint64_t, inline_max_work, 200000,
          "Recommend calls estimated at most this many multiply-adds "
          "(history x items dense, (history + items) x rank low-rank) are "
          "scored on the gRPC thread that received them, skipping the hand-off "
          "to a worker (0: always hand off).");
ABSL_FLAG(int32_t, inline_max_concurrent, 0,
          "Most calls scored inline at once (0: one less than gRPC's callback "
          "threads, cores / 2 clamped to [2, 16]).");
ABSL_FLAG(uint32_t, max_batch_requests, 1024,
          "Most requests in one RecommendBatch call.");
ABSL_FLAG(int32_t, worker_threads, 0,
          "Threads scoring Recommend calls (0: one per core).");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:9464",
          "Serve Prometheus metrics at http://ADDRESS/metrics (empty: off).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the server (TLS; with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates; clients must present a certificate they "
          "sign (mutual TLS).");
ABSL_FLAG(std::string, auth_token_file, "",
          "File with the bearer token Recommend/GetModelInfo require "
          "(metadata 'authorization: Bearer TOKEN'); health is exempt.");
ABSL_FLAG(int32_t, max_receive_message_bytes, 16 * 1024 * 1024,
          "Largest request accepted, in bytes.");
ABSL_FLAG(int32_t, keepalive_time_ms, 60 * 1000,
          "Send an HTTP/2 keepalive ping after this long without activity.");
ABSL_FLAG(
    int32_t, keepalive_timeout_ms, 20 * 1000,
    "Close a connection whose keepalive ping is not answered in this time.");
ABSL_FLAG(bool, reflection, true,
          "Register the gRPC server reflection service.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take before they "
          "are cancelled.");

namespace {

using edlae::server::LogEvent;
using edlae::server::LogLevel;

// Writes "<port>\n" atomically, so a reader polling for the file never sees
// it half written.
absl::Status WritePortFile(const std::string& path, int port) {
  return edlae::WriteFileAtomically(path, absl::StrCat(port, "\n"));
}

// Write end [1] is used by OnSignal, read end [0] by the signal thread.
int g_signal_pipe[2] = {-1, -1};

// Async-signal-safe: one write(2) of the signal number.
extern "C" void OnSignal(int signal_number) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  [[maybe_unused]] const ssize_t ignored = write(g_signal_pipe[1], &byte, 1);
  errno = saved_errno;
}

int Run() {
  const std::string model = absl::GetFlag(FLAGS_model);
  const std::string model_dir = absl::GetFlag(FLAGS_model_dir);
  if (model.empty() == model_dir.empty()) {
    std::fprintf(stderr,
                 "edlae-server: exactly one of --model and --model_dir is "
                 "required\n%s\n",
                 absl::ProgramUsageMessage().data());
    return 2;
  }

  // SIGTERM/SIGINT/SIGHUP become bytes on a pipe that one thread below reads.
  // A handler works whichever thread the kernel picks — also threads the
  // process had before main (sanitizer runtimes start some), which a blocked
  // mask set here would not cover.
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "edlae-server: pipe: %s\n", std::strerror(errno));
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) {
    sigaction(signal_number, &action, nullptr);
  }

  edlae::server::ServerOptions options;
  options.model_path = model;
  options.model_dir = model_dir;
  options.poll_interval = absl::GetFlag(FLAGS_poll_interval);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.service.limits.max_concurrent_requests =
      absl::GetFlag(FLAGS_max_concurrent_requests);
  options.service.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  options.service.batch_max_size = absl::GetFlag(FLAGS_batch_max_size);
  options.service.batch_max_wait = std::chrono::microseconds(
      std::max<int64_t>(0, absl::GetFlag(FLAGS_batch_max_wait_us)));
  options.service.inline_max_work = absl::GetFlag(FLAGS_inline_max_work);
  options.service.inline_max_concurrent =
      absl::GetFlag(FLAGS_inline_max_concurrent);
  options.service.limits.max_batch_requests =
      absl::GetFlag(FLAGS_max_batch_requests);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  options.tls_cert_path = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_path = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_path = absl::GetFlag(FLAGS_tls_client_ca);
  options.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.service.limits.max_top_n = absl::GetFlag(FLAGS_max_top_n);
  options.service.limits.max_history = absl::GetFlag(FLAGS_max_history);
  options.service.limits.max_item_list = absl::GetFlag(FLAGS_max_item_list);
  options.max_receive_message_bytes =
      absl::GetFlag(FLAGS_max_receive_message_bytes);
  options.keepalive_time_ms = absl::GetFlag(FLAGS_keepalive_time_ms);
  options.keepalive_timeout_ms = absl::GetFlag(FLAGS_keepalive_timeout_ms);
  options.enable_reflection = absl::GetFlag(FLAGS_reflection);

  absl::StatusOr<std::unique_ptr<edlae::server::RecommenderServer>> server =
      edlae::server::RecommenderServer::BuildAndStart(options);
  if (!server.ok()) {
    LogEvent(LogLevel::kError, "startup_failed",
             {{"model", model.empty() ? model_dir : model},
              {"error", server.status().ToString()}});
    std::fprintf(stderr, "edlae-server: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  edlae::server::RecommenderServer* running = server->get();
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file);
      !port_file.empty()) {
    if (absl::Status s = WritePortFile(port_file, running->port()); !s.ok()) {
      std::fprintf(stderr, "edlae-server: %s\n", std::string(s.message()).c_str());
      running->Shutdown(absl::Now());
      return 1;
    }
  }

  const absl::Duration grace = absl::GetFlag(FLAGS_shutdown_grace);
  std::thread signal_thread([running, grace] {
    int signal_number = 0;
    for (;;) {
      unsigned char byte;
      const ssize_t got = read(g_signal_pipe[0], &byte, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got != 1) return;
      signal_number = byte;
      if (signal_number != SIGHUP) break;
      LogEvent(LogLevel::kInfo, "model_check_requested", {{"signal", "SIGHUP"}});
      running->TriggerModelCheck();
    }
    LogEvent(LogLevel::kInfo, "shutdown",
             {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
              {"grace", absl::FormatDuration(grace)}});
    running->Shutdown(absl::Now() + grace);
  });

  running->Wait();
  // Wait() returns only after Shutdown, which only the signal thread calls.
  signal_thread.join();
  server->reset();
  LogEvent(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The distribution's abseil is built without NDEBUG, so absl::Mutex keeps a
  // lock-order graph for deadlock detection on every Lock/Unlock; gRPC takes
  // such mutexes several times per call (GraphCycles showed in profiles of
  // a loaded server). Off in the served binary; the tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "Serves an edlae model over gRPC.\n"
      "Usage: edlae-server (--model PATH | --model_dir DIR) [--port 8500] "
      "[--host 0.0.0.0] [--poll_interval 5s] [--metrics_address "
      "0.0.0.0:9464] [--tls_cert F --tls_key F [--tls_client_ca F]] "
      "[--auth_token_file F] [--max_concurrent_requests 256] [--max_top_n "
      "1000] [--max_history 10000] [--max_item_list 100000] "
      "[--shutdown_grace 10s] [--port_file FILE]");
  std::vector<std::string> args = edlae::NormalizeFlagNames(argc, argv);
  std::vector<char*> view = edlae::FlagArgv(args);
  absl::ParseCommandLine(static_cast<int>(args.size()), view.data());
  // EDLAE_SIMD_TARGET pins the scoring kernels' SIMD target (before any scoring).
  if (absl::Status s = edlae::ApplySimdTargetFromEnv(); !s.ok()) {
    std::fprintf(stderr, "edlae-server: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  LogEvent(LogLevel::kInfo, "simd", {{"target", edlae::ActiveSimdTarget()}});
  return Run();
}
