// edlae-train recommend: top-N recommendations for every user of a file,
// through the batched scorer, written as CSV or JSONL.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/progress.h"
#include "common/recs_file.h"
#include "core/model.h"
#include "evaluation/batch_recommend.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/commands/eval_output.h"

namespace edlae::cli {
namespace {

// recommend's flags; their values are the defaults.
struct RecommendFlags {
  std::string model_file;
  DataFlags data;  // --input and how to read it (format flags)
  std::string out;
  std::string out_format = "auto";
  int top_n = 100;
  bool exclude_history = false;
  int threads = 0;
  std::string scorer = "exact";
  int block_users = 256;
  std::string progress = "auto";
};

int RunRecommend(const CLI::App& command, const RecommendFlags& flags) {
  absl::StatusOr<RecsFormat> format =
      ResolveRecsFormat(flags.out_format, flags.out);
  if (!format.ok()) {
    return UsageError(
        command, absl::StrCat("--out-format: ", format.status().message()));
  }
  // The output is checked before the model is opened or any user scored.
  if (flags.out != "-") {
    if (std::optional<int> bad =
            PreflightOutput(command, flags.out, "--out",
                            {flags.model_file, flags.data.input})) {
      return *bad;
    }
  }
  absl::StatusOr<std::shared_ptr<const Model>> opened =
      Model::Open(flags.model_file);
  if (!opened.ok()) return Fail(opened.status());
  const Model& model = **opened;
  if (flags.scorer == "gemm" && model.kind() != ModelKind::kDense) {
    return UsageError(
        command,
        absl::StrCat("--scorer gemm needs a dense model; ", flags.model_file,
                     " is ", ModelKindName(model.kind())));
  }
  absl::StatusOr<Interactions> users =
      LoadInteractions(flags.data.input, ToLoadOptions(flags.data));
  if (!users.ok()) return Fail(users.status());

  BatchRecommendOptions options;
  options.top_n = static_cast<size_t>(flags.top_n);
  options.exclude_history = flags.exclude_history;
  options.method = *ParseScorer(flags.scorer);
  options.num_threads = flags.threads;
  options.block_users = static_cast<size_t>(flags.block_users);
  options.format = *format;
  options.progress = *ParseProgressMode(flags.progress);
  options.log = &std::cerr;
  absl::StatusOr<BatchRecommendReport> report =
      WriteBatchRecommendations(model, *users, flags.out, options);
  if (!report.ok()) return Fail(report.status());
  std::cerr << absl::StrFormat(
      "[recommend] %d users of %s → %s: top %d (%s), %.3f s, %.0f users/s; "
      "%d users without a known item got the popularity fallback, %d "
      "interactions named items the model lacks\n",
      report->users, flags.data.input, flags.out, flags.top_n,
      flags.exclude_history ? "history excluded" : "history included",
      report->seconds,
      report->seconds > 0 ? report->users / report->seconds : 0.0,
      report->cold_users, report->unknown_items);
  return kExitOk;
}

}  // namespace

Command AddRecommendCommand(CLI::App& program) {
  auto flags = std::make_shared<RecommendFlags>();
  CLI::App* command = program.add_subcommand(
      "recommend",
      "Top-N recommendations for every user of an interactions file (the "
      "server's ranking, through the batched scorer), written as CSV "
      "(user_id,rank,item_id,score) or JSONL ({\"user_id\":…,\"items\":[…]}).");
  AddOption(*command, "model-file", flags->model_file,
            "trained model file (dense, low-rank or sparse)")
      ->required();
  AddOption(*command, "input", flags->data.input,
            "users to score: any interactions format (--format); each user's "
            "rows are its history. lines: 'USER ITEM ITEM ...' (the first "
            "token is the user id); count-lines: the user id is the zero-based "
            "line number")
      ->required();
  AddFormatFlags(*command, flags->data);
  AddOption(*command, "out", flags->out,
            "output file (written atomically; '-': stdout)")
      ->required();
  AddOption(*command, "out-format", flags->out_format,
            "csv | jsonl | auto (from --out's extension: .csv, .jsonl)")
      ->check(CLI::IsMember({"auto", "csv", "jsonl"}));
  AddOption(*command, "n,top-n", flags->top_n, "items per user")
      ->check(AtLeast(1));
  AddFlag(*command, "exclude-history", flags->exclude_history,
          "leave each user's own items out of its list (as the server does by "
          "default); without it they may be recommended");
  AddThreadsFlag(*command, flags->threads);
  AddScorerFlag(*command, flags->scorer);
  AddOption(*command, "block-users", flags->block_users,
            "users scored together (one pass over B or V per block: gemm, "
            "low-rank)")
      ->check(AtLeast(1));
  AddProgressFlag(*command, flags->progress);
  return {command, [command, flags] { return RunRecommend(*command, *flags); }};
}

}  // namespace edlae::cli
