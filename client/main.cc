// edlae-client: command-line client (recommend, info, health) for an
// edlae-server.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/bench.h"
#include "client/output_format.h"
#include "client/recommender_client.h"

ABSL_FLAG(std::string, target, "", "Server address, HOST:PORT.");
ABSL_FLAG(std::vector<std::string>, items, {},
          "recommend: comma-separated history item ids.");
ABSL_FLAG(std::vector<std::string>, weights, {},
          "recommend: comma-separated weights, one per --items id.");
ABSL_FLAG(uint32_t, top_n, 10, "recommend: number of items to return (-n).");
ABSL_FLAG(std::vector<std::string>, exclude, {},
          "recommend: comma-separated ids never to return.");
ABSL_FLAG(std::vector<std::string>, candidates, {},
          "recommend: comma-separated ids to choose from (default: all).");
ABSL_FLAG(bool, include_history, false,
          "recommend: allow the history's own items in the result.");
ABSL_FLAG(std::string, service, "",
          "health: service to check (\"\" = the whole server).");
ABSL_FLAG(bool, json, false, "Print one JSON object instead of a table.");
ABSL_FLAG(int32_t, timeout_ms, 5000, "Deadline of the call in milliseconds.");
ABSL_FLAG(bool, tls, false,
          "Connect with TLS, verifying the server against the system roots "
          "(implied by --tls_ca, --tls_cert).");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates the server's certificate must chain to.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate for mutual TLS (with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(int32_t, concurrency, 4, "bench: callers, one call in flight each.");
ABSL_FLAG(int64_t, requests, 1000, "bench: total calls (at most).");
ABSL_FLAG(int32_t, duration_s, 60, "bench: stop after this many seconds.");
ABSL_FLAG(int32_t, history_len, 10, "bench: history items per call.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File with the bearer token to send (authorization metadata).");

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRpcError = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "Usage:\n"
    "  edlae-client recommend --target HOST:PORT --items ID,ID,...\n"
    "      [--weights W,W,...] [-n N | --top_n N] [--exclude ID,...]\n"
    "      [--candidates ID,...] [--include_history] [--json] "
    "[--timeout_ms MS]\n"
    "  edlae-client info --target HOST:PORT [--json] [--timeout_ms MS]\n"
    "  edlae-client health --target HOST:PORT [--service NAME] [--json] "
    "[--timeout_ms MS]\n"
    "  edlae-client bench --target HOST:PORT [--concurrency 4] [--requests 1000]\n"
    "      [--duration_s 60] [--history_len 10] [-n N] [--items ID,...]\n"
    "      (history ids from --items, else 1..num_items as in MovieLens and\n"
    "      edlae-train synth data)\n"
    "Connection (every command): [--tls] [--tls_ca CA.pem] "
    "[--tls_cert CERT.pem --tls_key KEY.pem] [--auth_token_file FILE]\n"
    "Exit status: 0 success; 1 RPC error (or health not SERVING); "
    "2 usage error.\n";

enum class Command { kRecommend, kInfo, kHealth, kBench };

struct CommandSpec {
  absl::string_view name;
  Command command;
  // Flags the command accepts besides target, json and timeout_ms.
  std::vector<absl::string_view> flags;
};

const std::vector<CommandSpec>& Commands() {
  static const auto* const kCommands = new std::vector<CommandSpec>{
      {"recommend",
       Command::kRecommend,
       {"items", "weights", "top_n", "exclude", "candidates",
        "include_history"}},
      {"info", Command::kInfo, {}},
      {"health", Command::kHealth, {"service"}},
      {"bench",
       Command::kBench,
       {"concurrency", "requests", "duration_s", "history_len", "top_n", "items"}},
  };
  return *kCommands;
}

// Prints `message` and the usage text to stderr; returns kExitUsage.
int UsageError(absl::string_view message) {
  std::fprintf(stderr, "edlae-client: %.*s\n%s",
               static_cast<int>(message.size()), message.data(), kUsage);
  return kExitUsage;
}

// Sets flags from argv[first..argc): "--name=value", "--name value",
// "-name value" (one dash works too), "--bool_flag", "--nobool_flag"; "-n" is
// --top_n. Only flags of `spec` (and the common ones) are accepted. Returns a
// usage message on error.
std::optional<std::string> ParseFlags(const CommandSpec& spec, int first,
                                      int argc, char** argv) {
  for (int i = first; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::StrCat("unexpected argument '", arg, "'");
    }
    absl::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<absl::string_view> value;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      value = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    std::string name(body == "n" ? "top_n" : body);
    auto allowed = [&spec](absl::string_view flag_name) {
      if (flag_name == "target" || flag_name == "json" ||
          flag_name == "timeout_ms" || flag_name == "tls" ||
          flag_name == "tls_ca" || flag_name == "tls_cert" ||
          flag_name == "tls_key" || flag_name == "auth_token_file") {
        return true;
      }
      for (absl::string_view f : spec.flags) {
        if (f == flag_name) return true;
      }
      return false;
    };
    absl::CommandLineFlag* flag =
        allowed(name) ? absl::FindCommandLineFlag(name) : nullptr;
    if (flag == nullptr && !value.has_value() && absl::StartsWith(name, "no")) {
      // --noinclude_history, --nojson
      std::string positive = name.substr(2);
      absl::CommandLineFlag* negated =
          allowed(positive) ? absl::FindCommandLineFlag(positive) : nullptr;
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        value = "false";
        name = positive;
      }
    }
    if (flag == nullptr) {
      return absl::StrCat("unknown flag '", arg, "' for '", spec.name, "'");
    }
    if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::StrCat("flag --", name, " needs a value");
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::StrCat("bad value for --", name, ": ", error);
    }
  }
  return std::nullopt;
}

int RpcError(const absl::Status& status) {
  std::fprintf(stderr, "edlae-client: %s: %s\n",
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return kExitRpcError;
}

int RunRecommend(const edlae::client::RecommenderClient& client,
                 absl::Duration timeout, bool json) {
  const std::vector<std::string> items = absl::GetFlag(FLAGS_items);
  const std::vector<std::string> weights = absl::GetFlag(FLAGS_weights);
  if (items.empty()) return UsageError("recommend needs --items");
  if (!weights.empty() && weights.size() != items.size()) {
    return UsageError(absl::StrCat("--weights has ", weights.size(),
                                   " values but --items has ", items.size()));
  }
  edlae::v1::RecommendRequest request;
  for (const std::string& id : items) request.add_history_item_ids(id);
  for (const std::string& text : weights) {
    float weight = 0;
    if (!absl::SimpleAtof(text, &weight)) {
      return UsageError(
          absl::StrCat("--weights: '", text, "' is not a number"));
    }
    request.add_history_weights(weight);
  }
  request.set_top_n(absl::GetFlag(FLAGS_top_n));
  request.set_exclude_history(!absl::GetFlag(FLAGS_include_history));
  for (const std::string& id : absl::GetFlag(FLAGS_exclude)) {
    request.add_exclude_item_ids(id);
  }
  for (const std::string& id : absl::GetFlag(FLAGS_candidates)) {
    request.add_candidate_item_ids(id);
  }
  absl::StatusOr<edlae::v1::RecommendResponse> response =
      client.Recommend(request, timeout);
  if (!response.ok()) return RpcError(response.status());
  const std::string out =
      json ? edlae::client::RecommendResponseToJson(*response) + "\n"
           : edlae::client::RecommendResponseToTable(*response);
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

int RunInfo(const edlae::client::RecommenderClient& client,
            absl::Duration timeout, bool json) {
  absl::StatusOr<edlae::v1::ModelInfo> info = client.GetModelInfo(timeout);
  if (!info.ok()) return RpcError(info.status());
  const std::string out = json ? edlae::client::ModelInfoToJson(*info) + "\n"
                               : edlae::client::ModelInfoToTable(*info);
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

int RunHealth(const edlae::client::RecommenderClient& client,
              absl::Duration timeout, bool json) {
  const std::string service = absl::GetFlag(FLAGS_service);
  absl::StatusOr<edlae::client::ServingStatus> status =
      client.CheckHealth(service, timeout);
  if (!status.ok()) return RpcError(status.status());
  const std::string out = json ? edlae::client::HealthToJson(service, *status)
                               : edlae::client::ServingStatusName(*status);
  std::printf("%s\n", out.c_str());
  return *status == grpc::health::v1::HealthCheckResponse::SERVING
             ? kExitOk
             : kExitRpcError;
}

int RunBenchCommand(const edlae::client::RecommenderClient& client,
                    absl::Duration timeout, bool json) {
  edlae::client::BenchOptions options;
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.requests = absl::GetFlag(FLAGS_requests);
  options.max_duration = absl::Seconds(std::max(1, absl::GetFlag(FLAGS_duration_s)));
  options.history_len = std::max(1, absl::GetFlag(FLAGS_history_len));
  options.top_n = absl::GetFlag(FLAGS_top_n);
  options.timeout = timeout;
  options.item_ids = absl::GetFlag(FLAGS_items);
  if (options.item_ids.empty()) {
    absl::StatusOr<edlae::v1::ModelInfo> info = client.GetModelInfo(timeout);
    if (!info.ok()) return RpcError(info.status());
    for (uint64_t i = 1; i <= info->num_items(); ++i) {
      options.item_ids.push_back(absl::StrCat(i));
    }
  }
  absl::StatusOr<edlae::client::BenchReport> report =
      edlae::client::RunBench(client, options);
  if (!report.ok()) return UsageError(report.status().message());
  if (json) {
    std::string out = absl::StrFormat(
        "{\"calls\":%d,\"seconds\":%.6f,\"qps\":%.3f,\"p50_us\":%.1f,"
        "\"p95_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"status\":{",
        report->calls, report->seconds, report->qps, report->p50_us,
        report->p95_us, report->p99_us, report->max_us);
    bool first = true;
    for (const auto& [code, n] : report->status_counts) {
      absl::StrAppend(&out, first ? "" : ",", "\"", code, "\":", n);
      first = false;
    }
    std::printf("%s}}\n", out.c_str());
  } else {
    std::printf("%s\n", edlae::client::FormatBenchReport(*report).c_str());
  }
  const auto ok = report->status_counts.find("OK");
  const int64_t ok_calls = ok == report->status_counts.end() ? 0 : ok->second;
  return ok_calls == report->calls ? kExitOk : kExitRpcError;
}

int Main(int argc, char** argv) {
  if (argc < 2) return UsageError("missing subcommand");
  const absl::string_view first = argv[1];
  if (first == "--help" || first == "-help" || first == "-h" ||
      first == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& candidate : Commands()) {
    if (candidate.name == first) spec = &candidate;
  }
  if (spec == nullptr) {
    return UsageError(absl::StrCat("unknown subcommand '", first, "'"));
  }
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
  }
  if (std::optional<std::string> error = ParseFlags(*spec, 2, argc, argv)) {
    return UsageError(*error);
  }
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) return UsageError("missing --target HOST:PORT");
  const int32_t timeout_ms = absl::GetFlag(FLAGS_timeout_ms);
  if (timeout_ms <= 0) return UsageError("--timeout_ms must be positive");
  const absl::Duration timeout = absl::Milliseconds(timeout_ms);
  const bool json = absl::GetFlag(FLAGS_json);

  edlae::client::ClientOptions connection;
  connection.tls = absl::GetFlag(FLAGS_tls);
  connection.tls_ca_path = absl::GetFlag(FLAGS_tls_ca);
  connection.tls_cert_path = absl::GetFlag(FLAGS_tls_cert);
  connection.tls_key_path = absl::GetFlag(FLAGS_tls_key);
  if (const std::string path = absl::GetFlag(FLAGS_auth_token_file);
      !path.empty()) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream contents;
    if (!in || !(contents << in.rdbuf())) {
      return UsageError(absl::StrCat("cannot read --auth_token_file '", path,
                                     "'"));
    }
    connection.auth_token = std::string(absl::StripAsciiWhitespace(contents.str()));
    if (connection.auth_token.empty()) {
      return UsageError(absl::StrCat("--auth_token_file '", path,
                                     "' holds no token"));
    }
  }
  absl::StatusOr<std::unique_ptr<edlae::client::RecommenderClient>> connected =
      edlae::client::RecommenderClient::Connect(target, connection);
  if (!connected.ok()) return UsageError(connected.status().message());
  const std::unique_ptr<edlae::client::RecommenderClient>& client = *connected;
  switch (spec->command) {
    case Command::kRecommend:
      return RunRecommend(*client, timeout, json);
    case Command::kInfo:
      return RunInfo(*client, timeout, json);
    case Command::kHealth:
      return RunHealth(*client, timeout, json);
    case Command::kBench:
      return RunBenchCommand(*client, timeout, json);
  }
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // As in edlae-server: no absl::Mutex deadlock-detection bookkeeping (the
  // distribution's abseil has it on) on gRPC's per-call locks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return Main(argc, argv);
}
