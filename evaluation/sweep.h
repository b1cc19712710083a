// Rank sweep of the low-rank EDLAE family (nDCG@100 against k per method) and
// its SVG figures, after Steck 2020 Fig. 1.
#ifndef EDLAE_EVALUATION_SWEEP_H_
#define EDLAE_EVALUATION_SWEEP_H_

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evaluation/evaluate.h"
#include "trainer/interactions.h"
#include "trainer/low_rank.h"
#include "trainer/model_spec.h"

namespace edlae {

// A sweep method is a ModelSpec with its algorithm and method set (the rest
// comes from SweepOptions and the rank):
//   "closed-form"  EDLAE, Algorithm 1 of Steck & Garcia Garcia 2021
//   "admm"         EDLAE, Eq. 10 by the ADMM of Steck 2020's supplement §3
//   "als"          zero-diagonal Eq. 11 by the ALS of the supplement §4
//   "dlae"         DLAE, exact low-rank closed form
// Parses one of these names; InvalidArgument otherwise.
absl::StatusOr<ModelSpec> ParseSweepMethod(const std::string& name);
// The name above of `model`'s (algorithm, method); "?" for others.
const char* SweepMethodName(const ModelSpec& model);
// The method as figures and tables label it ("EDLAE closed form (Alg. 1)").
const char* SweepMethodLabel(const ModelSpec& model);
// Whether `a` and `b` are the same sweep method (algorithm and method).
bool SameSweepMethod(const ModelSpec& a, const ModelSpec& b);

struct SweepOptions {
  std::vector<size_t> ranks;  // each ≥ 1; ranks above the catalog are skipped
  bool full_rank = true;      // also the full-rank EDLAE and DLAE points
  std::vector<ModelSpec> methods;  // see ParseSweepMethod
  double lambda = 0;
  double dropout = 0;
  // Epochs, ω (0 or below: DefaultOmega(λ)), eigensolver, Krylov options and
  // seed of the low-rank solvers; rank and method are set per point.
  LowRankOptions low_rank;
  int num_threads = 0;  // solvers and scoring; 0 = all cores
  // The cosine histograms use the closed-form EDLAE and DLAE models of this
  // rank, or of the largest swept rank below it.
  size_t histogram_rank = 1000;
  // Low-rank models are written here (one at a time, removed after scoring)
  // so they are scored from a mapped file exactly as the server scores them.
  std::string scratch_dir;
  std::ostream* progress = nullptr;  // one line per point
};

struct SweepPoint {
  // The model as trained: its sweep method, rank, λ, p and solver options.
  // At rank 0 (a full-rank point) "closed-form" stands for full-rank EDLAE
  // (the k → n limit of the three EDLAE-family methods), "dlae" for
  // full-rank DLAE.
  ModelSpec model;
  size_t rank = 0;           // model.rank
  double train_seconds = 0;  // the solve (the shared Gram matrix excluded)
  // Eq. 10 of Steck 2020 at the trained (U, V) (EDLAE family; NaN for DLAE
  // and full-rank points): lower is a better solution of the same problem.
  double eq10_objective = 0;
  EvalResult validation, test;
  std::string error;  // when the point could not be trained
};

// Per item i: the median, over the 10 items j with the largest B[j, i] of the
// full-rank EDLAE (j ≠ i), of cos(U_i, U_j) and of cos(V_i, V_j).
struct CosineMedians {
  std::string label;         // e.g. "EDLAE"
  std::vector<double> u, v;  // one per item (NaN for zero embeddings)
};

struct SweepResult {
  size_t num_items = 0, num_users = 0;
  double gram_seconds = 0;
  std::vector<size_t> skipped_ranks;   // above the catalog size
  std::vector<SweepPoint> points;      // rank order, methods in options order;
                                       // full-rank points last
  size_t histogram_rank = 0;           // 0 when no histogram was computed
  std::vector<CosineMedians> cosines;  // closed-form EDLAE, DLAE
  double lambda = 0, dropout = 0;
};

// Trains and evaluates every (method, rank) point from one Gram matrix of
// `train` (copied per solve): validation and test nDCG@100 of each model,
// scored as the server scores it. A low-rank point whose solve, scratch file
// or scoring fails is kept with its error (e.g. ADMM/ALS at a rank the data
// cannot support). Memory: the Gram matrix, the solver's n × n working
// buffers (SolveLowRank / SolveFullRank), the full-rank
// EDLAE B (floats) and one low-rank model at a time.
// Errors: InvalidArgument (no method or rank, a zero rank, bad λ or p),
// FailedPrecondition (the full-rank EDLAE, needed for the histograms, cannot
// be solved), and scoring errors of the full-rank points.
absl::StatusOr<SweepResult> RunSweep(const Interactions& train,
                                     const HeldOutUsers& validation,
                                     const HeldOutUsers& test,
                                     const SweepOptions& options);

// Markdown tables: validation (test) nDCG@100 per rank and method, then the
// training seconds, then Eq. 10 objectives.
std::string SweepTable(const SweepResult& result);
// One JSON object with every point and the cosine medians' summaries.
std::string SweepJson(const SweepResult& result);
}  // namespace edlae

#endif  // EDLAE_EVALUATION_SWEEP_H_
