// edlae-client: command-line client (recommend, recommend-batch, similar, info,
// health, bench) for an edlae-server.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/bench.h"
#include "client/output_format.h"
#include "client/recommend_batch.h"
#include "client/recommender_client.h"
#include "common/cli.h"
#include "common/file_io.h"
#include "common/recs_file.h"
#include "trainer/interactions.h"

namespace {

using edlae::cli::AddFlag;
using edlae::cli::AddOption;
using edlae::cli::AtLeast;

constexpr int kExitOk = edlae::cli::kExitOk;
constexpr int kExitRpcError = 1;

constexpr char kSynopsis[] =
    "Command-line client of an edlae-server.\n"
    "  edlae-client recommend --target HOST:PORT --items ID,ID,... "
    "[-n N] [--explain] [...]\n"
    "  edlae-client recommend-batch --target HOST:PORT --input USERS "
    "[--format lines|csv] [--out FILE] [--concurrency 8] [...]\n"
    "  edlae-client similar --target HOST:PORT --items ID,ID,... "
    "[-n N] [--similarity cosine] [...]\n"
    "  edlae-client info --target HOST:PORT [--model_name NAME]\n"
    "Every command but health takes --model_name NAME and --model_version V "
    "or --version_label L.\n"
    "  edlae-client health --target HOST:PORT [--service NAME]\n"
    "  edlae-client bench --target HOST:PORT [--concurrency 4] "
    "[--requests 1000] [...]\n"
    "'edlae-client COMMAND --help' lists a command's flags.\n"
    "Exit status: 0 success; 1 RPC error (or health not SERVING); 2 usage "
    "error.";

// Flags every command takes: where the server is and how to reach it.
struct ConnectionFlags {
  std::string target;
  bool json = false;
  int32_t timeout_ms = 5000;
  edlae::client::ClientOptions client;
  std::string auth_token_file;
};

void AddConnectionFlags(CLI::App& command, ConnectionFlags& flags) {
  AddOption(command, "target", flags.target, "Server address, HOST:PORT.")
      ->required();
  AddFlag(command, "json", flags.json,
          "Print one JSON object instead of a table.");
  AddOption(command, "timeout_ms", flags.timeout_ms,
            "Deadline of the call in milliseconds.")
      ->check(AtLeast(1));
  AddFlag(command, "tls", flags.client.tls,
          "Connect with TLS, verifying the server against the system roots "
          "(implied by --tls_ca, --tls_cert).");
  AddOption(command, "tls_ca", flags.client.tls_ca_path,
            "PEM CA certificates the server's certificate must chain to.");
  AddOption(command, "tls_cert", flags.client.tls_cert_path,
            "PEM client certificate for mutual TLS (with --tls_key).");
  AddOption(command, "tls_key", flags.client.tls_key_path,
            "PEM private key of --tls_cert.");
  AddOption(command, "auth_token_file", flags.auth_token_file,
            "File with the bearer token to send (authorization metadata).");
}

// recommend's flags; lists are comma-separated as given.
struct RecommendFlags {
  std::string items;
  std::string weights;
  uint32_t top_n = 10;
  std::string exclude;
  std::string candidates;
  bool include_history = false;
  bool explain = false;
  uint32_t max_contributions = 0;
};

// recommend-batch's flags.
struct RecommendBatchFlags {
  std::string input;
  std::string format = "lines";
  bool header = false;
  std::string out = "-";
  std::string out_format = "auto";
  uint32_t top_n = 10;
  std::string exclude;
  std::string candidates;
  bool include_history = false;
  int concurrency = 8;
};

// similar's flags.
struct SimilarFlags {
  std::string items;
  uint32_t top_n = 10;
  std::string exclude;
  std::string candidates;
  std::string similarity = "model";
  bool explain = false;
  uint32_t max_contributions = 0;
};

// --model_name, --model_version, --version_label of every command that asks a
// model.
void AddModelFlags(CLI::App& command, edlae::client::ModelSelector& model) {
  AddOption(command, "model_name", model.name,
            "Model to ask (default: the server's default model, the only one "
            "it serves).");
  CLI::Option* version = AddOption(
      command, "model_version", model.version,
      "Exactly this version of the model (default: its highest served).");
  AddOption(command, "version_label", model.label,
            "The version a label of the server's --model_config names "
            "(\"stable\", \"canary\").")
      ->excludes(version);
}

// bench's flags, bound to its options (which hold the defaults).
struct BenchFlags {
  edlae::client::BenchOptions options;
  int32_t duration_s =
      static_cast<int32_t>(absl::ToInt64Seconds(options.max_duration));
  std::string items;
  std::string ids_file;
};

// `text` split at commas; "" is no ids.
std::vector<std::string> IdList(const std::string& text) {
  if (text.empty()) return {};
  return absl::StrSplit(text, ',');
}

int RpcError(const absl::Status& status) {
  std::fprintf(stderr, "edlae-client: %s: %s\n",
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return kExitRpcError;
}

// Prints a Recommend or SimilarItems answer (table or JSON), or its error.
int PrintResponse(const absl::StatusOr<edlae::v1::RecommendResponse>& response,
                  bool json) {
  if (!response.ok()) return RpcError(response.status());
  const std::string out =
      json ? edlae::client::RecommendResponseToJson(*response) + "\n"
           : edlae::client::RecommendResponseToTable(*response);
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

int RunRecommend(const CLI::App& command, const RecommendFlags& flags,
                 const edlae::client::ModelSelector& model,
                 const edlae::client::RecommenderClient& client,
                 absl::Duration timeout, bool json) {
  const std::vector<std::string> items = IdList(flags.items);
  const std::vector<std::string> weights = IdList(flags.weights);
  if (!weights.empty() && weights.size() != items.size()) {
    return edlae::cli::UsageError(
        command, absl::StrCat("--weights has ", weights.size(),
                              " values but --items has ", items.size()));
  }
  edlae::v1::RecommendRequest request;
  for (const std::string& id : items) request.add_history_item_ids(id);
  for (const std::string& text : weights) {
    float weight = 0;
    if (!absl::SimpleAtof(text, &weight)) {
      return edlae::cli::UsageError(
          command, absl::StrCat("--weights: '", text, "' is not a number"));
    }
    request.add_history_weights(weight);
  }
  request.set_top_n(flags.top_n);
  request.set_exclude_history(!flags.include_history);
  for (const std::string& id : IdList(flags.exclude)) {
    request.add_exclude_item_ids(id);
  }
  for (const std::string& id : IdList(flags.candidates)) {
    request.add_candidate_item_ids(id);
  }
  request.set_explain(flags.explain);
  request.set_max_contributions(flags.max_contributions);
  model.ApplyTo(&request);
  return PrintResponse(client.Recommend(request, timeout), json);
}

// The users of --input: "lines" (USER ITEM ITEM ...) or "csv" (USER,ITEM rows
// grouped by user) through the trainer's loader, so ids are read exactly as
// edlae-train recommend reads them (each user's items once, in the loader's
// row order).
int RunRecommendBatch(const CLI::App& command, const RecommendBatchFlags& flags,
                      const edlae::client::ModelSelector& model,
                      const edlae::client::RecommenderClient& client,
                      absl::Duration timeout) {
  absl::StatusOr<edlae::RecsFormat> format =
      edlae::ResolveRecsFormat(flags.out_format, flags.out);
  if (!format.ok()) {
    return edlae::cli::UsageError(
        command, absl::StrCat("--out_format: ", format.status().message()));
  }
  if (flags.out != "-") {
    absl::Status s = edlae::CheckWritableOutput(flags.out, "--out");
    if (s.ok())
      s = edlae::CheckOutputIsNotInput(flags.out, "--out", {flags.input});
    if (!s.ok()) return edlae::cli::UsageError(command, s.message());
  }
  edlae::LoadOptions load;
  if (flags.format == "csv") {
    load.format = edlae::InputFormat::kDelimited;
    load.has_header = flags.header;
  } else {
    load.format = edlae::InputFormat::kUserLines;
  }
  absl::StatusOr<edlae::Interactions> read =
      edlae::LoadInteractions(flags.input, load);
  if (!read.ok())
    return edlae::cli::UsageError(command, read.status().message());
  std::vector<edlae::client::BatchUser> users(read->num_users());
  for (size_t u = 0; u < users.size(); ++u) {
    users[u].user_id = read->user_ids[u];
    for (uint64_t k = read->row_offsets[u]; k < read->row_offsets[u + 1]; ++k) {
      users[u].item_ids.push_back(read->item_ids[read->item_indices[k]]);
    }
  }
  edlae::client::RecommendBatchOptions options;
  options.concurrency = flags.concurrency;
  options.timeout = timeout;
  options.format = *format;
  options.base.set_top_n(flags.top_n);
  options.base.set_exclude_history(!flags.include_history);
  model.ApplyTo(&options.base);
  for (const std::string& id : IdList(flags.exclude)) {
    options.base.add_exclude_item_ids(id);
  }
  for (const std::string& id : IdList(flags.candidates)) {
    options.base.add_candidate_item_ids(id);
  }
  absl::StatusOr<edlae::client::RecommendBatchReport> report =
      edlae::client::RecommendBatch(client, users, flags.out, options);
  if (!report.ok()) {
    std::fprintf(stderr, "edlae-client: %s\n",
                 std::string(report.status().message()).c_str());
    return kExitRpcError;
  }
  std::fprintf(stderr,
               "edlae-client: recommend-batch: %zu users, %zu failed, %.3f s "
               "(%.0f users/s)\n",
               report->users, report->failed, report->seconds,
               report->seconds > 0 ? report->users / report->seconds : 0.0);
  return report->failed == 0 ? kExitOk : kExitRpcError;
}

int RunSimilar(const SimilarFlags& flags,
               const edlae::client::ModelSelector& model,
               const edlae::client::RecommenderClient& client,
               absl::Duration timeout, bool json) {
  edlae::v1::SimilarItemsRequest request;
  model.ApplyTo(&request);
  for (const std::string& id : IdList(flags.items)) request.add_item_ids(id);
  request.set_top_n(flags.top_n);
  for (const std::string& id : IdList(flags.exclude)) {
    request.add_exclude_item_ids(id);
  }
  for (const std::string& id : IdList(flags.candidates)) {
    request.add_candidate_item_ids(id);
  }
  request.set_similarity(flags.similarity == "cosine"
                             ? edlae::v1::SimilarItemsRequest::COSINE
                             : edlae::v1::SimilarItemsRequest::MODEL);
  request.set_explain(flags.explain);
  request.set_max_contributions(flags.max_contributions);
  return PrintResponse(client.SimilarItems(request, timeout), json);
}

int RunInfo(const edlae::client::ModelSelector& model,
            const edlae::client::RecommenderClient& client,
            absl::Duration timeout, bool json) {
  absl::StatusOr<edlae::v1::ModelInfo> info =
      client.GetModelInfo(timeout, model);
  if (!info.ok()) return RpcError(info.status());
  const std::string out = json ? edlae::client::ModelInfoToJson(*info) + "\n"
                               : edlae::client::ModelInfoToTable(*info);
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

int RunHealth(const std::string& service,
              const edlae::client::RecommenderClient& client,
              absl::Duration timeout, bool json) {
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

int RunBenchCommand(const CLI::App& command, BenchFlags flags,
                    const edlae::client::RecommenderClient& client,
                    absl::Duration timeout, bool json) {
  edlae::client::BenchOptions& options = flags.options;
  options.max_duration = absl::Seconds(flags.duration_s);
  options.timeout = timeout;
  options.item_ids = IdList(flags.items);
  if (!flags.ids_file.empty()) {
    absl::StatusOr<std::string> text =
        edlae::ReadFileToString(flags.ids_file, "--ids_file");
    if (!text.ok())
      return edlae::cli::UsageError(command, text.status().message());
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty()) options.item_ids.emplace_back(line);
    }
    if (options.item_ids.empty()) {
      return edlae::cli::UsageError(
          command, absl::StrCat("--ids_file '", flags.ids_file,
                                "' holds no ids (one id per line)"));
    }
  }
  // GetModelInfo does not list the model's ids: without --items or
  // --ids_file, histories are drawn from 1..num_items (MovieLens and synth
  // ids), and the report warns when most of them were unknown.
  const bool generated_ids = options.item_ids.empty();
  if (generated_ids) {
    absl::StatusOr<edlae::v1::ModelInfo> info =
        client.GetModelInfo(timeout, options.model);
    if (!info.ok()) return RpcError(info.status());
    for (uint64_t i = 1; i <= info->num_items(); ++i) {
      options.item_ids.push_back(absl::StrCat(i));
    }
  }
  absl::StatusOr<edlae::client::BenchReport> report =
      edlae::client::RunBench(client, options);
  if (!report.ok()) {
    return edlae::cli::UsageError(command, report.status().message());
  }
  if (json) {
    std::string out = absl::StrFormat(
        "{\"calls\":%d,\"ok_calls\":%d,\"seconds\":%.6f,\"qps\":%.3f,"
        "\"p50_us\":%.1f,\"p95_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
        "\"history_ids_sent\":%d,\"unknown_history_ids\":%d,"
        "\"backoffs\":%d,\"status\":{",
        report->calls, report->ok_calls, report->seconds, report->qps,
        report->p50_us, report->p95_us, report->p99_us, report->max_us,
        report->history_ids_sent, report->unknown_history_ids,
        report->backoffs);
    bool first = true;
    for (const auto& [code, n] : report->status_counts) {
      absl::StrAppend(&out, first ? "" : ",", "\"", code, "\":", n);
      first = false;
    }
    std::printf("%s}}\n", out.c_str());
  } else {
    std::printf("%s\n", edlae::client::FormatBenchReport(*report).c_str());
  }
  if (edlae::client::MostIdsUnknown(*report)) {
    std::fprintf(
        stderr,
        "edlae-client: warning: %lld of the %lld history ids sent (%.0f%%) "
        "are unknown to the model, so most calls measured the popularity "
        "fallback; %s\n",
        static_cast<long long>(report->unknown_history_ids),
        static_cast<long long>(report->history_ids_sent),
        100.0 * report->unknown_history_ids / report->history_ids_sent,
        generated_ids ? "the generated ids 1..num_items are not the model's: "
                        "pass its ids with --ids_file FILE (one per line) or "
                        "--items"
                      : "check the ids given with --items/--ids_file");
  }
  return report->ok_calls == report->calls ? kExitOk : kExitRpcError;
}

int Main(int argc, char** argv) {
  CLI::App app(kSynopsis, "edlae-client");
  edlae::cli::Configure(app);
  app.require_subcommand(1);

  ConnectionFlags connection;
  edlae::client::ModelSelector model;
  RecommendFlags recommend;
  CLI::App* recommend_command =
      app.add_subcommand("recommend", "Top-N items for a history (Recommend).");
  AddConnectionFlags(*recommend_command, connection);
  AddModelFlags(*recommend_command, model);
  AddOption(*recommend_command, "items", recommend.items,
            "Comma-separated history item ids.")
      ->required();
  AddOption(*recommend_command, "weights", recommend.weights,
            "Comma-separated weights, one per --items id (default: 1 each).");
  AddOption(*recommend_command, "n,top_n", recommend.top_n,
            "Number of items to return.");
  AddOption(*recommend_command, "exclude", recommend.exclude,
            "Comma-separated ids never to return.");
  AddOption(*recommend_command, "candidates", recommend.candidates,
            "Comma-separated ids to choose from (default: all).");
  AddFlag(*recommend_command, "include_history", recommend.include_history,
          "Allow the history's own items in the result.");
  AddFlag(*recommend_command, "explain", recommend.explain,
          "Show, under each item, the history items contributing most to its "
          "score.");
  AddOption(*recommend_command, "max_contributions",
            recommend.max_contributions,
            "Contributions shown per item with --explain (0: the server's "
            "default, 5).");

  RecommendBatchFlags batch;
  CLI::App* batch_command = app.add_subcommand(
      "recommend-batch",
      "Top-N items for every user of a file, one Recommend call per user, "
      "written as JSONL ({\"user_id\":…,\"items\":[…]}; a failed user has "
      "\"error\") or CSV (user_id,rank,item_id,score). Exit 1 if any call "
      "failed.");
  AddConnectionFlags(*batch_command, connection);
  AddOption(*batch_command, "input", batch.input,
            "Users: 'USER ITEM ITEM ...' lines (--format lines) or USER,ITEM "
            "rows (--format csv).")
      ->required();
  AddOption(*batch_command, "format", batch.format, "lines | csv")
      ->check(CLI::IsMember({"lines", "csv"}));
  AddFlag(*batch_command, "header", batch.header,
          "--format csv: the first line is a header.");
  AddOption(*batch_command, "out", batch.out,
            "Output file, written atomically ('-': stdout).");
  AddOption(*batch_command, "out_format", batch.out_format,
            "jsonl | csv | auto (from --out's extension; stdout: jsonl).")
      ->check(CLI::IsMember({"auto", "csv", "jsonl"}));
  AddOption(*batch_command, "n,top_n", batch.top_n,
            "Number of items per user.");
  AddOption(*batch_command, "exclude", batch.exclude,
            "Comma-separated ids never to return.");
  AddOption(*batch_command, "candidates", batch.candidates,
            "Comma-separated ids to choose from (default: all).");
  AddFlag(*batch_command, "include_history", batch.include_history,
          "Allow each user's own items in its result.");
  AddOption(*batch_command, "concurrency", batch.concurrency,
            "Calls in flight at most.")
      ->check(edlae::cli::Between(1, 1024));
  AddModelFlags(*batch_command, model);

  SimilarFlags similar;
  CLI::App* similar_command = app.add_subcommand(
      "similar", "Top-N items related to the given items (SimilarItems).");
  AddConnectionFlags(*similar_command, connection);
  AddModelFlags(*similar_command, model);
  AddOption(*similar_command, "items", similar.items,
            "Comma-separated query item ids.")
      ->required();
  AddOption(*similar_command, "n,top_n", similar.top_n,
            "Number of items to return.");
  AddOption(*similar_command, "exclude", similar.exclude,
            "Comma-separated ids never to return.");
  AddOption(*similar_command, "candidates", similar.candidates,
            "Comma-separated ids to choose from (default: all).");
  AddOption(*similar_command, "similarity", similar.similarity,
            "model (the model's scores for a history of these items) or "
            "cosine (low-rank models: cosine with the rows of V).")
      ->check(CLI::IsMember({"model", "cosine"}));
  AddFlag(*similar_command, "explain", similar.explain,
          "Show, under each item, the query items contributing most to its "
          "score.");
  AddOption(*similar_command, "max_contributions", similar.max_contributions,
            "Contributions shown per item with --explain (0: the server's "
            "default, 5).");

  CLI::App* info_command =
      app.add_subcommand("info", "The served model (GetModelInfo).");
  AddConnectionFlags(*info_command, connection);
  AddModelFlags(*info_command, model);

  std::string service;
  CLI::App* health_command =
      app.add_subcommand("health", "grpc.health.v1 status of the server.");
  AddConnectionFlags(*health_command, connection);
  AddOption(*health_command, "service", service,
            "Service to check (\"\" = the whole server).");

  BenchFlags bench;
  CLI::App* bench_command = app.add_subcommand(
      "bench",
      "Closed-loop load: Recommend calls with random histories; QPS and "
      "latency percentiles.");
  AddConnectionFlags(*bench_command, connection);
  AddModelFlags(*bench_command, bench.options.model);
  AddOption(*bench_command, "concurrency", bench.options.concurrency,
            "Callers, one call in flight each.")
      ->check(AtLeast(1));
  AddOption(*bench_command, "requests", bench.options.requests,
            "Total calls (at most).")
      ->check(AtLeast(1));
  AddOption(*bench_command, "duration_s", bench.duration_s,
            "Stop after this many seconds.")
      ->check(AtLeast(1));
  AddOption(*bench_command, "history_len", bench.options.history_len,
            "History items per call.")
      ->check(AtLeast(1));
  AddOption(*bench_command, "n,top_n", bench.options.top_n,
            "Items each call asks for.");
  AddOption(*bench_command, "items", bench.items,
            "Comma-separated ids to draw histories from (default: 1..num_items "
            "as in MovieLens and edlae-train synth data).");
  AddOption(*bench_command, "ids_file", bench.ids_file,
            "File of ids to draw histories from, one per line (e.g. the "
            "model's ids); instead of --items.")
      ->excludes(bench_command->get_option("--items"));

  if (std::optional<int> exit = edlae::cli::Parse(app, argc, argv)) {
    return *exit;
  }
  const CLI::App& command = *app.get_subcommands().front();
  if (!connection.auth_token_file.empty()) {
    absl::StatusOr<std::string> token =
        edlae::ReadTokenFile(connection.auth_token_file, "--auth_token_file");
    if (!token.ok()) {
      return edlae::cli::UsageError(command, token.status().message());
    }
    connection.client.auth_token = *std::move(token);
  }
  const absl::Duration timeout = absl::Milliseconds(connection.timeout_ms);
  absl::StatusOr<std::unique_ptr<edlae::client::RecommenderClient>> connected =
      edlae::client::RecommenderClient::Connect(connection.target,
                                                connection.client);
  if (!connected.ok()) {
    return edlae::cli::UsageError(command, connected.status().message());
  }
  const edlae::client::RecommenderClient& client = **connected;
  if (&command == recommend_command) {
    return RunRecommend(command, recommend, model, client, timeout,
                        connection.json);
  }
  if (&command == batch_command) {
    return RunRecommendBatch(command, batch, model, client, timeout);
  }
  if (&command == similar_command) {
    return RunSimilar(similar, model, client, timeout, connection.json);
  }
  if (&command == info_command)
    return RunInfo(model, client, timeout, connection.json);
  if (&command == health_command) {
    return RunHealth(service, client, timeout, connection.json);
  }
  return RunBenchCommand(command, bench, client, timeout, connection.json);
}

}  // namespace

int main(int argc, char** argv) {
  // As in edlae-server: no absl::Mutex deadlock-detection bookkeeping (the
  // distribution's abseil has it on) on gRPC's per-call locks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return Main(argc, argv);
}
