// edlae-train tune: grid search over (model, λ, p) on validation users, then
// the chosen points' test metrics.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "evaluation/split.h"
#include "evaluation/tune.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/commands/eval_output.h"

namespace edlae::cli {
namespace {

std::string PointName(const TunePoint& p) {
  return absl::StrFormat("%s λ=%g p=%g", AlgorithmName(p.algorithm), p.lambda,
                         p.dropout);
}

std::string PointJson(const TunePoint& p) {
  std::string out = absl::StrFormat(
      "{\"model\":\"%s\",\"lambda\":%.17g,\"dropout\":%.17g,\"solve_seconds\":%"
      ".3f",
      AlgorithmName(p.algorithm), p.lambda, p.dropout, p.solve_seconds);
  if (p.error.empty()) {
    absl::StrAppend(&out, ",\"validation\":", MetricJson(p.validation), "}");
  } else {
    absl::StrAppend(&out, ",\"error\":", JsonQuote(p.error), "}");
  }
  return out;
}

// tune's flags: the grid as comma-separated lists.
struct TuneFlags {
  std::string split;
  std::string models = "edlae";
  std::string lambdas = "0";
  std::string dropouts = "0";
  std::string precision = "float64";
  int threads = 0;
  std::string scorer = "exact";
  std::string out;
  bool json = false;
};

// Writes the best model after the results are printed, so a failed write
// never loses the table.
int WriteBest(const TuneFlags& flags, const LoadedSplit& split,
              const TuneResult& result) {
  if (flags.out.empty()) return kExitOk;
  absl::Status s = WriteTrainedModel(split.train, result.best_model,
                                     flags.split + "/train.csv", flags.out);
  if (!s.ok()) return Fail(s);
  std::cerr << "[tune] wrote the best model ("
            << PointName(result.points[result.best_point]) << ") to "
            << flags.out << "\n";
  return kExitOk;
}

int RunTune(const CLI::App& command, const TuneFlags& flags) {
  const std::string& dir = flags.split;
  TuneOptions options;
  for (const std::string& name : SplitList(flags.models)) {
    const Algorithm a = *ParseAlgorithm(name);
    if (std::find(options.models.begin(), options.models.end(), a) ==
        options.models.end()) {
      options.models.push_back(a);
    }
  }
  options.lambdas = NumberList(flags.lambdas);
  options.dropouts = NumberList(flags.dropouts);
  options.precision = *ParsePrecision(flags.precision);
  options.num_threads = flags.threads;
  options.eval.method = *ParseScorer(flags.scorer);
  options.eval.num_threads = options.num_threads;
  const std::string& out = flags.out;
  options.keep_best_model = !out.empty();
  options.progress = &std::cerr;
  // The best model's path is checked before the grid runs (minutes to hours),
  // and may not be one of the split's files.
  std::vector<std::string> split_files;
  for (const char* name : kSplitFileNames) {
    split_files.push_back(absl::StrCat(dir, "/", name));
  }
  if (std::optional<int> bad =
          PreflightOutput(command, out, "--out", split_files)) {
    return *bad;
  }

  absl::StatusOr<LoadedSplit> split = ReadSplit(dir);
  if (!split.ok()) return Fail(split.status());

  absl::StatusOr<TuneResult> result =
      Tune(split->train, split->validation, split->test, options);
  if (!result.ok()) return Fail(result.status());
  const TunePoint& best = result->points[result->best_point];
  if (flags.json) {
    std::string json = absl::StrCat(
        "{\"split\":", JsonQuote(dir), ",\"precision\":\"",
        PrecisionName(options.precision), "\"",
        ",\"scorer\":", JsonQuote(flags.scorer),
        absl::StrFormat(",\"gram_seconds\":%.3f,\"total_seconds\":%.3f",
                        result->gram_seconds, result->total_seconds),
        ",\"train_users\":", split->train.num_users(),
        ",\"items\":", split->train.num_items(), ",\"points\":[");
    for (size_t k = 0; k < result->points.size(); ++k) {
      absl::StrAppend(&json, k ? "," : "", PointJson(result->points[k]));
    }
    absl::StrAppend(&json, "],\"best\":[");
    for (size_t m = 0; m < result->best_per_model.size(); ++m) {
      const ModelBest& b = result->best_per_model[m];
      const TunePoint& p = result->points[b.point];
      absl::StrAppend(&json, m ? "," : "", "{\"point\":", PointJson(p),
                      absl::StrFormat(",\"train_seconds\":%.3f",
                                      result->gram_seconds + p.solve_seconds),
                      ",\"test\":", MetricJson(b.test), "}");
    }
    absl::StrAppend(&json, "],\"best_overall\":", result->best_point, "}\n");
    std::cout << json << std::flush;
    return WriteBest(flags, *split, *result);
  }

  std::cout << absl::StrFormat(
      "tune on %s: %d train users × %d items, %d validation / %d test users; "
      "gram %.2f s, total %.1f s (%s, %s scorer)\n\n",
      dir, split->train.num_users(), split->train.num_items(),
      split->validation.num_users(), split->test.num_users(),
      result->gram_seconds, result->total_seconds,
      PrecisionName(options.precision), flags.scorer);
  std::cout << "validation (mean±s.e.)\n"
            << absl::StrFormat("%-6s %10s %6s  %-13s  %-13s  %-13s  %8s\n",
                               "model", "lambda", "p", "Recall@20", "Recall@50",
                               "nDCG@100", "solve s");
  for (size_t k = 0; k < result->points.size(); ++k) {
    const TunePoint& p = result->points[k];
    std::cout << absl::StrFormat("%-6s %10g %6g  ", AlgorithmName(p.algorithm),
                                 p.lambda, p.dropout)
              << (p.error.empty() ? MetricCells(p.validation)
                                  : absl::StrCat("failed: ", p.error))
              << absl::StrFormat("  %8.2f%s\n", p.solve_seconds,
                                 k == result->best_point ? "  <- best" : "");
  }
  std::cout << "\nbest per model by validation nDCG@100, on test (mean±s.e.)\n"
            << absl::StrFormat("%-6s %10s %6s  %-13s  %-13s  %-13s  %8s\n",
                               "model", "lambda", "p", "Recall@20", "Recall@50",
                               "nDCG@100", "train s");
  for (const ModelBest& b : result->best_per_model) {
    const TunePoint& p = result->points[b.point];
    std::cout << absl::StrFormat("%-6s %10g %6g  ", AlgorithmName(p.algorithm),
                                 p.lambda, p.dropout)
              << MetricCells(b.test)
              << absl::StrFormat("  %8.2f\n",
                                 result->gram_seconds + p.solve_seconds);
  }
  std::cout << "\nbest overall: " << PointName(best) << "\n" << std::flush;
  return WriteBest(flags, *split, *result);
}

}  // namespace

Command AddTuneCommand(CLI::App& program) {
  auto flags = std::make_shared<TuneFlags>();
  CLI::App* command = program.add_subcommand(
      "tune",
      "Grid search over (model, λ, p) on the split's validation users, then "
      "the chosen points' test metrics.");
  AddSplitDirFlag(*command, flags->split);
  AddOption(*command, "model", flags->models,
            "comma-separated models: ease | dlae | edlae (full rank)")
      ->check(ParsedBy(
          [](const std::string& name) -> absl::Status {
            absl::StatusOr<Algorithm> a = ParseAlgorithm(name);
            if (a.ok() && *a == Algorithm::kZeroDiag) {
              return absl::InvalidArgumentError(
                  "zero-diag is low-rank; tune grids full-rank models");
            }
            return a.status();
          },
          /*list=*/true));
  AddOption(*command, "lambda", flags->lambdas,
            "comma-separated grid of L2 regularization λ")
      ->check(NumberListIn(0, HUGE_VAL));
  AddOption(*command, "dropout", flags->dropouts,
            "comma-separated grid of dropout probabilities p")
      ->check(NumberListIn(0, 1));
  AddOption(*command, "precision", flags->precision,
            "factorization precision: float64 | float32")
      ->check(ParsedBy([](const std::string& name) {
        return ParsePrecision(name).status();
      }));
  AddThreadsFlag(*command, flags->threads);
  AddScorerFlag(*command, flags->scorer);
  AddOption(*command, "out", flags->out,
            "write the best model to this file (atomically)");
  AddJsonFlag(*command, flags->json);
  return {command, [command, flags] { return RunTune(*command, *flags); }};
}

}  // namespace edlae::cli
