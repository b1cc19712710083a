// edlae-server: serves a model file, a folder of model versions or a
// --model_config of named models over gRPC until SIGTERM/SIGINT; SIGHUP
// re-reads the config and looks for new versions.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/cli.h"
#include "common/file_io.h"
#include "core/kernels.h"
#include "server/log.h"
#include "server/server.h"

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

// The server's flags, bound to `options` (whose values are the defaults) and
// to the three that are not server options.
void AddServerFlags(CLI::App& app, edlae::server::ServerOptions& options,
                    std::string& port_file, int64_t& batch_max_wait_us,
                    absl::Duration& shutdown_grace) {
  using edlae::cli::AddDuration;
  using edlae::cli::AddFlag;
  using edlae::cli::AddOption;
  using edlae::cli::AtLeast;
  AddOption(app, "model", options.model_path,
            "Model file to serve as version 0 (or use --model_dir); reloaded "
            "when the file is replaced.");
  AddOption(
      app, "model_dir", options.model_dir,
      "Folder of numbered versions DIR/<version>/model.edlae; the highest "
      "one that loads is served and new ones are picked up while "
      "running.");
  AddOption(app, "model_config", options.model_config_path,
            "Serve several models by name: a model server config file in "
            "TensorFlow Serving's text format (model_config_list { config { "
            "name base_path model_version_policy version_labels } }), "
            "re-read on SIGHUP and when it changes (docs/operations.md).");
  AddDuration(app, "poll_interval", options.poll_interval,
              "How often to look for a new model version and a changed "
              "--model_config (SIGHUP: now); 0 never.");
  AddFlag(app, "warmup", options.warmup,
          "Populate the mapping and run a few requests before a version takes "
          "traffic.");
  AddFlag(app, "model_snapshot", options.model_snapshot,
          "Load each model version into private memory instead of mapping "
          "the file, so a file rewritten or truncated in place cannot crash "
          "the server (--nomodel_snapshot: map it).");
  AddOption(app, "host", options.host, "Address to listen on.");
  AddOption(app, "port", options.port,
            "Port to listen on (0: pick a free port).")
      ->check(edlae::cli::Between(0, 65535));
  AddOption(app, "port_file", port_file,
            "After the server listens, write its port to this file "
            "(atomically); useful with --port 0.");
  AddOption(app, "max_top_n", options.service.limits.max_top_n,
            "Largest top_n a request may ask for.")
      ->check(AtLeast(1));
  AddOption(app, "max_history", options.service.limits.max_history,
            "Most history items a request may carry.")
      ->check(AtLeast(1));
  AddOption(app, "max_item_list", options.service.limits.max_item_list,
            "Most exclude or candidate ids a request may carry.")
      ->check(AtLeast(0));
  AddOption(app, "max_concurrent_requests",
            options.service.limits.max_concurrent_requests,
            "Recommend calls admitted at once (queued or scoring); beyond it, "
            "calls fail at once with RESOURCE_EXHAUSTED (0: no limit).")
      ->check(AtLeast(0));
  AddOption(app, "batch_max_size", options.service.batch_max_size,
            "Most concurrent Recommend calls on a low-rank model scored in one "
            "pass over V (answers are identical to unbatched scoring); 1 "
            "disables micro-batching.")
      ->check(AtLeast(1));
  AddOption(app, "batch_max_wait_us", batch_max_wait_us,
            "How long a free worker waits for more calls to fill a batch (0: "
            "take what is queued, no added latency).")
      ->check(AtLeast(0));
  AddOption(app, "inline_max_work", options.service.inline_max_work,
            "Recommend calls estimated at most this many multiply-adds "
            "(history x items dense, (history + items) x rank low-rank) are "
            "scored on the gRPC thread that received them, skipping the "
            "hand-off to a worker (0: always hand off).")
      ->check(AtLeast(0));
  AddOption(app, "split_min_work", options.service.split_min_work,
            "Calls estimated at least this many multiply-adds, scored while "
            "workers are idle, split their scan over those workers (same "
            "answer; 0: never split).")
      ->check(AtLeast(0));
  AddOption(app, "inline_max_concurrent", options.service.inline_max_concurrent,
            "Most calls scored inline at once (0: one less than gRPC's "
            "callback threads, cores / 2 clamped to [2, 16]).")
      ->check(AtLeast(0));
  AddOption(app, "max_contributions", options.service.limits.max_contributions,
            "Largest max_contributions (history items explaining each "
            "returned item) an explained request may ask for.")
      ->check(AtLeast(1));
  AddOption(app, "model_name", options.service.model_name,
            "Name of the --model / --model_dir model: requests may name it "
            "(or leave model_name empty); GetModelInfo reports it (with "
            "--model_config each model has its config name).");
  AddOption(app, "max_batch_requests",
            options.service.limits.max_batch_requests,
            "Most requests in one RecommendBatch call.")
      ->check(AtLeast(1));
  AddOption(app, "worker_threads", options.service.worker_threads,
            "Threads scoring Recommend calls (0: one per core).")
      ->check(AtLeast(0));
  AddOption(app, "metrics_address", options.metrics_address,
            "Serve Prometheus metrics at http://ADDRESS/metrics (auto: "
            "--host, port 9464; empty: off).");
  AddOption(app, "tls_cert", options.tls_cert_path,
            "PEM certificate chain of the server (TLS; with --tls_key).");
  AddOption(app, "tls_key", options.tls_key_path,
            "PEM private key of --tls_cert.");
  AddOption(app, "tls_client_ca", options.tls_client_ca_path,
            "PEM CA certificates; clients must present a certificate they "
            "sign (mutual TLS).");
  AddOption(app, "auth_token_file", options.auth_token_file,
            "File with the bearer token every Recommender call requires "
            "(metadata 'authorization: Bearer TOKEN'); health is exempt.");
  AddOption(app, "max_receive_message_bytes", options.max_receive_message_bytes,
            "Largest request accepted, in bytes.")
      ->check(AtLeast(1));
  AddOption(app, "max_metadata_bytes", options.service.max_metadata_bytes,
            "Largest request metadata (HPACK size) a Recommender call may "
            "carry; a larger one fails alone with RESOURCE_EXHAUSTED (0: no "
            "limit beyond the transport's).")
      ->check(AtLeast(0));
  AddOption(app, "max_header_list_bytes", options.max_header_list_bytes,
            "The transport's limit on a call's header list (kept above "
            "--max_metadata_bytes + 64 KiB).")
      ->check(AtLeast(1));
  AddOption(app, "keepalive_time_ms", options.keepalive_time_ms,
            "Send an HTTP/2 keepalive ping after this long without activity.")
      ->check(AtLeast(1));
  AddOption(app, "keepalive_timeout_ms", options.keepalive_timeout_ms,
            "Close a connection whose keepalive ping is not answered in this "
            "time.")
      ->check(AtLeast(1));
  AddFlag(app, "reflection", options.enable_reflection,
          "Register the gRPC server reflection service, which needs no token "
          "(default: on, off with --auth_token_file).");
  AddDuration(app, "shutdown_grace", shutdown_grace,
              "On SIGTERM/SIGINT, how long in-flight calls may take before "
              "they are cancelled.");
}

// Serves with `options` until SIGTERM/SIGINT; `grace` as --shutdown_grace.
int Run(const edlae::server::ServerOptions& options,
        const std::string& port_file, absl::Duration grace) {
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

  absl::StatusOr<std::unique_ptr<edlae::server::RecommenderServer>> server =
      edlae::server::RecommenderServer::BuildAndStart(options);
  if (!server.ok()) {
    LogEvent(LogLevel::kError, "startup_failed",
             {{"model", !options.model_config_path.empty()
                            ? options.model_config_path
                            : (options.model_path.empty()
                                   ? options.model_dir
                                   : options.model_path)},
              {"error", server.status().ToString()}});
    std::fprintf(stderr, "edlae-server: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  edlae::server::RecommenderServer* running = server->get();
  if (!port_file.empty()) {
    if (absl::Status s = WritePortFile(port_file, running->port()); !s.ok()) {
      std::fprintf(stderr, "edlae-server: %s\n",
                   std::string(s.message()).c_str());
      running->Shutdown(absl::Now());
      return 1;
    }
  }

  std::thread signal_thread([running, grace] {
    int signal_number = 0;
    for (;;) {
      unsigned char byte;
      const ssize_t got = read(g_signal_pipe[0], &byte, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got != 1) return;
      signal_number = byte;
      if (signal_number != SIGHUP) break;
      LogEvent(LogLevel::kInfo, "model_check_requested",
               {{"signal", "SIGHUP"}});
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
  CLI::App app(
      "Serves an edlae model over gRPC until SIGTERM/SIGINT; SIGHUP "
      "looks for a new version.",
      "edlae-server");
  edlae::cli::Configure(app);
  edlae::server::ServerOptions options;  // holds the flags' defaults
  options.metrics_address = edlae::server::kMetricsAddressAuto;
  std::string port_file;
  int64_t batch_max_wait_us = options.service.batch_max_wait.count();
  absl::Duration shutdown_grace = absl::Seconds(10);
  AddServerFlags(app, options, port_file, batch_max_wait_us, shutdown_grace);
  if (std::optional<int> exit = edlae::cli::Parse(app, argc, argv)) {
    return *exit;
  }
  if (!options.model_path.empty() + !options.model_dir.empty() +
          !options.model_config_path.empty() !=
      1) {
    return edlae::cli::UsageError(
        app, "exactly one of --model, --model_dir and --model_config is "
             "required");
  }
  if (!options.model_config_path.empty() &&
      app.get_option("--model_name")->count() > 0) {
    return edlae::cli::UsageError(
        app, "--model_name names the --model / --model_dir model; with "
             "--model_config each model is named in the file");
  }
  options.service.batch_max_wait = std::chrono::microseconds(batch_max_wait_us);
  // Reflection answers without the token: with one, only when asked for.
  if (!options.auth_token_file.empty() &&
      app.get_option("--reflection")->count() == 0) {
    options.enable_reflection = false;
  }
  // EDLAE_SIMD_TARGET pins the scoring kernels' SIMD target (before any
  // scoring).
  if (absl::Status s = edlae::ApplySimdTargetFromEnv(); !s.ok()) {
    std::fprintf(stderr, "edlae-server: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  LogEvent(LogLevel::kInfo, "simd",
           {{"target", edlae::ActiveSimdTarget()},
            {"matrix", edlae::ActiveMatrixPath()}});
  return Run(options, port_file, shutdown_grace);
}
