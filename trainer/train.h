// The train pipeline: interactions → Gram matrix → closed-form B → model file,
// with phase timings.
#ifndef EDLAE_TRAINER_TRAIN_H_
#define EDLAE_TRAINER_TRAIN_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model_format.h"
#include "trainer/full_rank_solver.h"
#include "trainer/interactions.h"
#include "trainer/low_rank.h"
#include "trainer/model_metadata.h"
#include "trainer/model_spec.h"
#include "trainer/sparse_solver.h"

namespace edlae {

struct TrainReport {
  double gram_seconds = 0;
  double solve_seconds = 0;
  double write_seconds = 0;
  size_t num_users = 0;
  size_t num_items = 0;
  size_t num_interactions = 0;
  // Low-rank models (rank > 0): see LowRankResult.
  size_t rank = 0;
  double eigen_relative_residual = 0;
  std::vector<double> objectives;
  int dense_buffers = 0;
  // Sparse models (TrainOptions::sparse set): the per-phase report.
  std::optional<SparseTrainReport> sparse;
};

struct TrainOptions {
  ModelSpec spec;  // rank 0: full rank (B); otherwise U, V by spec.method
  // The dtype of the file's weights (B, or U and V): the solve is unchanged
  // and its float32 result is rounded to halves on the way out.
  DType storage = DType::kFloat32;
  int num_threads = 0;  // Gram matrix and solvers; 0 = all cores
  std::string source;   // recorded as the `source` metadata key
  std::string out_path;
  std::ostream* log = nullptr;  // progress lines, when not null
  // How the long phases (dense inverse, sparse inverse and B) report on `log`.
  ProgressMode progress = ProgressMode::kAuto;
  // Set: train sparse end to end (TrainSparse, trainer/sparse_solver.h; no
  // n × n buffer) and write a sparse file. Full rank only (spec.rank == 0),
  // kEase, kEdlae or kDlae; computed in float64 whatever spec.precision says.
  std::optional<SparseTrainOptions> sparse;
};

// Trains `options.spec` on `x` and writes it atomically to `out_path` with
// the metadata of BuildModelMetadata (trainer/model_metadata.h): a dense file
// at full rank, else SolveLowRank and a low-rank file (U, V); with
// `options.sparse`, TrainSparse and a sparse file (WriteSparseModel) whose
// metadata adds sparse_method, density, inverse_keep (entries per column of
// W), drop_tolerance, min_cooccurrence (the values used) and nnz.
absl::StatusOr<TrainReport> TrainAndWrite(const Interactions& x,
                                          const TrainOptions& options);

// What the sparse trainers can train, checked before any data is read
// (train, edlae.fit): with spec.rank > 0, sparse training is edlae or dlae by
// closed form on the exact factor, so `shaped` (a density or factorization was
// asked for, which shape a sparse full-rank B) is refused; zero-diag has no
// sparse trainer. InvalidArgument saying so.
absl::Status CheckSparseTraining(const ModelSpec& spec, bool shaped);

// The storage type a model may be written in, checked before any data is read
// (train, edlae.fit): int8 is for dense and low-rank models (the model writer
// refuses it for sparse ones, after the solve). InvalidArgument saying so.
absl::Status CheckStorage(DType storage, bool sparse);

// The memory check train and edlae.fit make before the big allocations.
struct MemoryBudget {
  size_t num_items = 0;
  // EstimateTrainingBytes of the dense path (0 when options.sparse is set:
  // the sparse trainer checks its own phases against memory_limit_bytes).
  size_t need = 0;
  std::optional<size_t> limit;  // bytes; nullopt: unknown
  bool limit_given = false;     // the caller's limit, not the available memory
};
// The budget of training `x` with `options`: `limit_bytes` > 0 is the limit
// (--memory-limit-mb), else AvailableMemoryBytes (unknown when unreadable).
MemoryBudget TrainingMemoryBudget(const Interactions& x,
                                  const TrainOptions& options,
                                  size_t limit_bytes);
// Applies `budget` to `options` unless `skip_check`: the dense path is
// refused with ResourceExhausted ("training N items needs about X GiB but
// only Y GiB is available", or "allowed" for a given limit) when need >
// limit; the sparse path gets memory_limit_bytes = the whole process's
// budget (a given limit, or what it holds now plus what is available).
absl::Status ApplyMemoryBudget(const MemoryBudget& budget, bool skip_check,
                               TrainOptions& options);

// Peak resident memory of this process so far, in bytes (getrusage).
size_t PeakRssBytes();
// Resident memory of this process now, in bytes (/proc/self/statm; 0 when
// it cannot be read).
size_t CurrentRssBytes();

// Bytes TrainAndWrite needs at its peak for `num_items` items: the float64
// Gram matrix (8·n²) next to a float32 n² matrix (B, or the float32 copy of
// the Gram matrix), i.e. 12·n² — or 4·n² when `float_gram` (see
// UsesFloatGram) — plus a fixed 64 MiB for everything else.
// `interaction_bytes` (the loaded data, still held) is added on top.
size_t EstimateTrainingBytes(size_t num_items, size_t interaction_bytes,
                             bool float_gram = false);

// True when TrainAndWrite builds G directly in float32 and solves in place:
// full rank, precision float32, and fewer than 2²⁴ users (so every count in G
// is exact in float).
bool UsesFloatGram(size_t num_users, const SolverOptions& options, size_t rank);

// Memory this process may still allocate: /proc/meminfo MemAvailable, capped
// by the cgroup (v2 memory.max − memory.current, or v1 limit − usage) when
// one is set. Unavailable when /proc/meminfo cannot be read.
absl::StatusOr<size_t> AvailableMemoryBytes();

}  // namespace edlae

#endif  // EDLAE_TRAINER_TRAIN_H_
