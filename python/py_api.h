// The C++ side of the Python API (no Python types): fit into a held model,
// save, load, recommend and similar items as the server answers them, and
// the CLI's evaluations.
//
// Thread safety: no shared state; every function may run concurrently with
// others (the bindings call them without the GIL). Models are immutable and
// shared (std::shared_ptr<const Model>); arguments are borrowed for the call.
#ifndef EDLAE_PYTHON_PY_API_H_
#define EDLAE_PYTHON_PY_API_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model.h"
#include "core/topn.h"
#include "evaluation/evaluate.h"
#include "evaluation/weak_evaluate.h"
#include "trainer/interactions.h"
#include "trainer/sparse_factor.h"
#include "trainer/sparse_solver.h"
#include "trainer/train.h"

namespace edlae::python {

// edlae.fit's keyword arguments. The defaults are those of
// `edlae-train train` (ModelSpec, TrainFlags); names as its flags spell them.
struct FitArgs {
  std::string model = AlgorithmName(ModelSpec().algorithm);
  double lam = ModelSpec().lambda;
  double dropout = ModelSpec().dropout;
  size_t rank = 0;     // 0: full rank
  std::string method;  // "": closed-form (zero-diag: als)
  std::string eigensolver = EigenMethodName(ModelSpec().eigensolver);
  int epochs = ModelSpec().epochs;
  double omega = 0;  // 0: DefaultOmega
  uint64_t seed = ModelSpec().seed;
  std::string precision = PrecisionName(ModelSpec().precision);
  std::string dtype = "float32";  // storage: float32 | float16 | bfloat16
  // Sparse training, as --sparse, --density, --min-cooccurrence (either
  // selects it; density 0: DefaultSparseDensity).
  bool sparse = false;
  double density = 0;
  int64_t min_cooccurrence = 0;
  // --factorization (auto | complete | incomplete; not auto selects sparse
  // training), --incomplete-fill, --incomplete-max-per-column.
  std::string factorization = "auto";
  // --sparse-method (auto | neighborhoods | factor; not auto selects sparse
  // training), --neighborhood-factor (0: the default).
  std::string sparse_method = "auto";
  double neighborhood_factor = 0;
  double incomplete_fill = SparseTrainOptions().incomplete_fill;
  int64_t incomplete_max_per_column = kIncompleteMaxPerColumn;
  int threads = 0;  // 0: all cores
  bool skip_memory_check = false;
  int64_t memory_limit_mb = 0;              // 0: the available memory
  std::string source = "python:edlae.fit";  // the `source` metadata key
  bool verbose = false;                     // the trainer's log lines on stderr
  // Where the model file is written before it is opened (a private folder
  // inside it, removed at once; the mapping keeps the model). "": TMPDIR or
  // /tmp.
  std::string temp_dir;
};

// The TrainOptions `args` describe for `x`, checked as `edlae-train train`
// checks its flags (names, ranges, zero-diag needs a rank, the low-rank
// model/method pair, what sparse training supports), and the memory
// estimate against the available memory (ResourceExhausted, unless
// args.skip_memory_check). out_path is left empty.
absl::StatusOr<TrainOptions> TrainOptionsOf(const FitArgs& args,
                                            const Interactions& x);

// TrainAndWrite into a temporary file, opened (mapped) and removed: the
// model the CLI would have written, held by the returned Model only.
// Errors: those of TrainOptionsOf and TrainAndWrite, and the temporary
// folder's I/O errors.
absl::StatusOr<std::shared_ptr<const Model>> Fit(const Interactions& x,
                                                 const FitArgs& args);

// Writes `model`'s file to `path` atomically (temp + fsync + rename), byte for
// byte the file it was opened from (what TrainAndWrite wrote).
absl::Status SaveModel(const Model& model, const std::string& path);

// One Recommend query: item ids and, empty or one per id, weights.
struct Query {
  std::vector<std::string> ids;
  std::vector<float> weights;
};

// The request options every query of a call shares (RecommendRequest's
// fields).
struct QueryOptions {
  size_t top_n = 10;
  bool exclude_history = true;
  std::vector<std::string> exclude;     // ids never returned
  std::vector<std::string> candidates;  // empty: every item
  int threads = 0;                      // 0: all cores
  bool cosine = false;                  // SimilarItems: Similarity::kCosine
};

// An answer as the server's RecommendResponse carries it.
struct Answer {
  std::vector<ScoredItem> items;  // best first
  bool popularity_fallback = false;
  uint32_t unknown = 0;  // ids (history, exclude, candidates) not in the model
};

// Every query answered as the server's Recommend answers it
// (server/request_translation.h PrepareRecommend + core Recommend, through
// RecommendMany): unknown ids are skipped and counted, duplicates add their
// weights, the history is excluded unless exclude_history is false, an
// empty history gets the popularity fallback, candidates none of which is
// known give an empty answer. InvalidArgument: top_n 0, weights of the
// wrong count or not finite, scores that overflow float; the first failing
// query's error, naming it.
absl::StatusOr<std::vector<Answer>> RecommendQueries(
    const Model& model, const std::vector<Query>& queries,
    const QueryOptions& options);

// The server's SimilarItems for `ids` (PrepareSimilarItems + core
// SimilarItems): kModel, or kCosine when options.cosine (low-rank models
// only, else InvalidArgument); the query items are never returned.
absl::StatusOr<Answer> SimilarTo(const Model& model,
                                 const std::vector<std::string>& ids,
                                 const QueryOptions& options);

// `edlae-train evaluate --fold-in F --targets T --model-file M` on
// interactions already loaded: AlignWeakHeldOut (users matched by id) and
// EvaluateWeak. InvalidArgument when no target user is left.
struct WeakEvaluation {
  WeakHeldOut held_out;
  WeakEvalResult result;
};
absl::StatusOr<WeakEvaluation> EvaluateWeakOf(const Model& model,
                                              const Interactions& fold_in,
                                              const Interactions& targets,
                                              int threads);

// `edlae-train evaluate --split DIR --on PART --model-file M`:
// ReadHeldOutUsers and EvaluateHeldOutOfModel (Recall@20/50, nDCG@100).
// FailedPrecondition when the model knows fewer than half of the held-out
// interactions' items, as the CLI refuses.
struct SplitEvaluation {
  HeldOutUsers users;
  EvalResult result;
};
absl::StatusOr<SplitEvaluation> EvaluateSplitOf(const Model& model,
                                                const std::string& dir,
                                                const std::string& part,
                                                int threads);

}  // namespace edlae::python

#endif  // EDLAE_PYTHON_PY_API_H_
