// Grid search: one Gram matrix, a copy per point into SolveFullRank, validation nDCG@100 picks, test reported.
#include "evaluation/tune.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/seconds_since.h"
#include "core/model_writer.h"
#include "core/status_macros.h"
#include "core/utf8.h"
#include "trainer/gram.h"
#include "trainer/low_rank.h"
#include "trainer/model_metadata.h"

namespace edlae {
namespace {

std::string FormatDuration(double seconds) {
  if (seconds < 90) return absl::StrFormat("%.0fs", seconds);
  return absl::StrFormat("%dm%02ds", static_cast<int>(seconds) / 60,
                         static_cast<int>(seconds) % 60);
}

}  // namespace

absl::StatusOr<TrainedModel> TrainInMemory(const Interactions& train,
                                           const SolverOptions& options) {
  const size_t n = train.num_items();
  if (n == 0) return absl::InvalidArgumentError("no items to train on");
  TrainedModel model;
  model.options = options;
  auto start = std::chrono::steady_clock::now();
  std::vector<double> gram = ComputeGram(train, options.num_threads);
  model.popularity = PopularityFromGram(gram, n);
  model.gram_seconds = SecondsSince(start);
  start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(model.b, SolveFullRank(std::move(gram), n, options));
  model.solve_seconds = SecondsSince(start);
  return model;
}

absl::Status WriteTrainedModel(const Interactions& train,
                               const TrainedModel& model,
                               const std::string& source,
                               const std::string& path) {
  TrainingFacts facts;
  facts.num_users = train.num_users();
  facts.num_items = train.num_items();
  facts.num_interactions = train.num_interactions();
  facts.train_seconds = model.gram_seconds + model.solve_seconds;
  // Tune records a source that is not UTF-8 by this note, not by its bytes.
  facts.source = IsValidUtf8(source) ? source : "(source path is not UTF-8)";
  DenseModelData data;
  data.b = model.b;
  data.item_ids = train.item_ids;
  data.popularity = model.popularity;
  data.metadata =
      BuildModelMetadata(ModelSpecOf(model.options, LowRankOptions{}), facts);
  return WriteDenseModel(path, data);
}

absl::StatusOr<TuneResult> Tune(const Interactions& train,
                                const HeldOutUsers& validation,
                                const HeldOutUsers& test,
                                const TuneOptions& options) {
  if (options.models.empty() || options.lambdas.empty() ||
      options.dropouts.empty()) {
    return absl::InvalidArgumentError(
        "the grid needs at least one model, one λ and one p");
  }
  const auto start = std::chrono::steady_clock::now();
  const size_t n = train.num_items();
  if (n == 0) return absl::InvalidArgumentError("no items to train on");

  TuneResult result;
  for (Algorithm a : options.models) {
    for (double lambda : options.lambdas) {
      const std::vector<double> ease_dropout = {0.0};
      for (double p : a == Algorithm::kEase ? ease_dropout : options.dropouts) {
        TunePoint point;
        point.algorithm = a;
        point.lambda = lambda;
        point.dropout = p;
        result.points.push_back(point);
      }
    }
  }

  auto gram_start = std::chrono::steady_clock::now();
  const std::vector<double> gram = ComputeGram(train, options.num_threads);
  const std::vector<float> popularity = PopularityFromGram(gram, n);
  result.gram_seconds = SecondsSince(gram_start);
  if (options.progress) {
    *options.progress << absl::StrFormat(
        "[tune] gram: %.2f s (%d users × %d items); %d grid points\n",
        result.gram_seconds, train.num_users(), n, result.points.size());
  }

  result.best_per_model.resize(options.models.size());
  std::vector<double> model_best_ndcg(options.models.size(), -1);
  double best_ndcg = -1;
  const auto grid_start = std::chrono::steady_clock::now();
  for (size_t k = 0; k < result.points.size(); ++k) {
    TunePoint& point = result.points[k];
    SolverOptions solver;
    solver.algorithm = point.algorithm;
    solver.lambda = point.lambda;
    solver.dropout = point.dropout;
    solver.precision = options.precision;
    solver.num_threads = options.num_threads;
    const auto solve_start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<float>> b = SolveFullRank(gram, n, solver);
    point.solve_seconds = SecondsSince(solve_start);
    if (b.ok()) {
      const WeightRows view{b->data(), DType::kFloat32, n, n, n};
      ASSIGN_OR_RETURN(
          point.validation,
          EvaluateHeldOut(view, popularity, validation, options.eval));
      const double ndcg = point.validation.ndcg100.mean;
      size_t m = 0;
      while (options.models[m] != point.algorithm) ++m;
      if (ndcg > model_best_ndcg[m]) {
        model_best_ndcg[m] = ndcg;
        result.best_per_model[m].algorithm = point.algorithm;
        result.best_per_model[m].point = k;
        ASSIGN_OR_RETURN(result.best_per_model[m].test,
                         EvaluateHeldOut(view, popularity, test, options.eval));
      }
      if (ndcg > best_ndcg) {
        best_ndcg = ndcg;
        result.best_point = k;
        if (options.keep_best_model) {
          result.best_model.options = solver;
          result.best_model.b = *std::move(b);
          result.best_model.popularity = popularity;
          result.best_model.gram_seconds = result.gram_seconds;
          result.best_model.solve_seconds = point.solve_seconds;
        }
      }
    } else {
      point.error = std::string(b.status().message());
    }
    if (options.progress) {
      const double elapsed = SecondsSince(grid_start);
      const double eta = elapsed / (k + 1) * (result.points.size() - k - 1);
      std::string what =
          point.error.empty()
              ? absl::StrFormat("nDCG@100 %.4f", point.validation.ndcg100.mean)
              : absl::StrCat("failed: ", point.error);
      *options.progress << absl::StrFormat(
          "[tune] %d/%d %s λ=%g p=%g: %s (solve %.1f s) — elapsed %s, ETA %s\n",
          k + 1, result.points.size(), AlgorithmName(point.algorithm),
          point.lambda, point.dropout, what, point.solve_seconds,
          FormatDuration(elapsed), FormatDuration(eta));
      options.progress->flush();
    }
  }
  for (size_t m = 0; m < options.models.size(); ++m) {
    if (model_best_ndcg[m] < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("no grid point of ", AlgorithmName(options.models[m]),
                       " could be solved (try a larger λ)"));
    }
  }
  result.total_seconds = SecondsSince(start);
  return result;
}

}  // namespace edlae
