// Grid search over (model, λ, p) on a split's validation users, with one Gram matrix reused for every point.
#ifndef EDLAE_EVALUATION_TUNE_H_
#define EDLAE_EVALUATION_TUNE_H_

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evaluation/evaluate.h"
#include "trainer/interactions.h"
#include "trainer/full_rank_solver.h"

namespace edlae {

// A trained dense model held in memory, with what the model file records.
struct TrainedModel {
  SolverOptions options;
  std::vector<float> b;           // n × n compact row-major
  std::vector<float> popularity;  // training count per item
  double gram_seconds = 0;
  double solve_seconds = 0;
  WeightRows view() const {
    const size_t n = popularity.size();
    return WeightRows{b.data(), DType::kFloat32, n, n, n};
  }
};

// Gram matrix (once) → SolveFullRank → B, for evaluation without a file.
absl::StatusOr<TrainedModel> TrainInMemory(const Interactions& train,
                                           const SolverOptions& options);

// Writes `model` (items = train.item_ids) atomically with the standard
// metadata keys of docs/model-format.md plus `source`.
absl::Status WriteTrainedModel(const Interactions& train,
                               const TrainedModel& model,
                               const std::string& source,
                               const std::string& path);

struct TuneOptions {
  std::vector<Algorithm> models;
  std::vector<double> lambdas;
  std::vector<double> dropouts;  // ignored for kEase (one point per λ)
  Precision precision = Precision::kFloat64;
  int num_threads = 0;
  EvalOptions eval;
  bool keep_best_model = false;      // fill TuneResult::best_model
  std::ostream* progress = nullptr;  // one line per point, with an ETA
};

struct TunePoint {
  Algorithm algorithm = Algorithm::kEdlae;
  double lambda = 0;
  double dropout = 0;
  double solve_seconds = 0;
  EvalResult validation;
  // The error when this point could not be solved (e.g. not positive
  // definite); such points are listed but never chosen.
  std::string error;
};

struct ModelBest {
  Algorithm algorithm = Algorithm::kEdlae;
  size_t point = 0;  // index into TuneResult::points
  EvalResult test;   // test metrics of that point
};

struct TuneResult {
  std::vector<TunePoint> points;          // grid order: model, then λ, then p
  std::vector<ModelBest> best_per_model;  // in TuneOptions::models order
  size_t best_point = 0;  // the best validation nDCG@100 over everything
  double gram_seconds = 0;
  double total_seconds = 0;
  TrainedModel best_model;  // when keep_best_model
};

// Evaluates every grid point on `validation`; for each model the point with
// the highest validation nDCG@100 (ties: earlier point) is evaluated on `test`.
// The Gram matrix of `train` is computed once and copied for each point
// (SolveFullRank consumes its input). Errors: InvalidArgument (empty grid),
// FailedPrecondition when no point of some model could be solved.
absl::StatusOr<TuneResult> Tune(const Interactions& train,
                                const HeldOutUsers& validation,
                                const HeldOutUsers& test,
                                const TuneOptions& options);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_TUNE_H_
