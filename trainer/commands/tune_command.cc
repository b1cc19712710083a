// edlae-train tune: grid search over (model, λ, p) on validation users, then the chosen points' test metrics.
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/commands/eval_output.h"
#include "evaluation/split.h"
#include "evaluation/tune.h"

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
    absl::StrAppend(&out, ",\"error\":", JsonString(p.error), "}");
  }
  return out;
}

}  // namespace

int RunTune() {
  const std::string dir = absl::GetFlag(FLAGS_split);
  if (dir.empty()) return UsageError("tune needs --split DIR");
  TuneOptions options;
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_model), ',')) {
    absl::StatusOr<Algorithm> a = ParseAlgorithm(std::string(name));
    if (!a.ok()) return UsageError(std::string(a.status().message()));
    if (std::find(options.models.begin(), options.models.end(), *a) ==
        options.models.end()) {
      options.models.push_back(*a);
    }
  }
  absl::StatusOr<std::vector<double>> lambdas =
      ParseNumberListFlag("lambda", absl::GetFlag(FLAGS_lambda));
  if (!lambdas.ok()) return UsageError(std::string(lambdas.status().message()));
  absl::StatusOr<std::vector<double>> dropouts =
      ParseNumberListFlag("dropout", absl::GetFlag(FLAGS_dropout));
  if (!dropouts.ok())
    return UsageError(std::string(dropouts.status().message()));
  for (double l : *lambdas) {
    if (!(l >= 0)) return UsageError("every --lambda must be >= 0");
  }
  for (double p : *dropouts) {
    if (!(p >= 0 && p < 1))
      return UsageError("every --dropout must be in [0, 1)");
  }
  options.lambdas = *lambdas;
  options.dropouts = *dropouts;
  absl::StatusOr<Precision> precision =
      ParsePrecision(absl::GetFlag(FLAGS_precision));
  if (!precision.ok())
    return UsageError(std::string(precision.status().message()));
  options.precision = *precision;
  options.num_threads = absl::GetFlag(FLAGS_threads);
  absl::StatusOr<BatchMethod> method = ParseScorer(absl::GetFlag(FLAGS_scorer));
  if (!method.ok()) return UsageError(std::string(method.status().message()));
  options.eval.method = *method;
  options.eval.num_threads = options.num_threads;
  const std::string out = absl::GetFlag(FLAGS_out);
  options.keep_best_model = !out.empty();
  options.progress = &std::cerr;

  absl::StatusOr<LoadedSplit> split = ReadSplit(dir);
  if (!split.ok()) return Fail(split.status());

  absl::StatusOr<TuneResult> result = Tune(split->train, split->validation, split->test, options);
  if (!result.ok()) return Fail(result.status());
  const TunePoint& best = result->points[result->best_point];
  if (!out.empty()) {
    absl::Status s =
        WriteTrainedModel(split->train, result->best_model, dir + "/train.csv", out);
    if (!s.ok()) return Fail(s);
    std::cerr << "[tune] wrote the best model (" << PointName(best) << ") to "
              << out << "\n";
  }

  if (absl::GetFlag(FLAGS_json)) {
    std::string json = absl::StrCat(
        "{\"split\":", JsonString(dir), ",\"precision\":\"",
        PrecisionName(options.precision), "\"",
        ",\"scorer\":", JsonString(absl::GetFlag(FLAGS_scorer)),
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
    std::cout << json;
    return kExitOk;
  }

  std::cout << absl::StrFormat(
      "tune on %s: %d train users × %d items, %d validation / %d test users; "
      "gram %.2f s, total %.1f s (%s, %s scorer)\n\n",
      dir, split->train.num_users(), split->train.num_items(), split->validation.num_users(),
      split->test.num_users(), result->gram_seconds, result->total_seconds,
      PrecisionName(options.precision), absl::GetFlag(FLAGS_scorer));
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
  std::cout << "\nbest overall: " << PointName(best) << "\n";
  return kExitOk;
}

}  // namespace edlae::cli
