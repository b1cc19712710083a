// The train pipeline: interactions → Gram matrix → closed-form B → model file, with phase timings.
#ifndef EDLAE_TRAINER_TRAIN_H_
#define EDLAE_TRAINER_TRAIN_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "core/model_format.h"
#include "trainer/interactions.h"
#include "trainer/low_rank.h"
#include "trainer/full_rank_solver.h"

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
};

// Trains a full-rank model on `x` and writes it atomically to `out_path`, with
// the standard metadata keys (docs/model-format.md) plus `source`. Progress
// lines go to `log` when it is not null. `num_threads` = 0 uses all cores.
absl::StatusOr<TrainReport> TrainAndWrite(const Interactions& x,
                                          const SolverOptions& options,
                                          const std::string& source,
                                          int num_threads,
                                          const std::string& out_path,
                                          std::ostream* log);

// The same with a choice of rank: low_rank.rank == 0 trains the full-rank
// model above; otherwise SolveLowRank runs and a low-rank file (U, V) is
// written, with the metadata keys `rank` and `method` (plus `eigensolver`,
// `eigen_residual`, `epochs`, `omega` and `objective` where they apply).
// `storage` is the dtype of the file's weights (B, or U and V): the solve is
// unchanged and its float32 result is rounded to halves on the way out.
absl::StatusOr<TrainReport> TrainAndWrite(const Interactions& x,
                                          const SolverOptions& options,
                                          const LowRankOptions& low_rank,
                                          const std::string& source,
                                          int num_threads,
                                          const std::string& out_path,
                                          std::ostream* log,
                                          DType storage = DType::kFloat32);

// `v` as the shortest decimal that reads back as exactly `v` ("0.2", not
// "0.20000000000000001"): how model metadata records λ, p and the like.
std::string MetadataNumber(double v);

// Peak resident memory of this process so far, in bytes (getrusage).
size_t PeakRssBytes();

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
bool UsesFloatGram(size_t num_users, const SolverOptions& options,
                   size_t rank);

// Memory this process may still allocate: /proc/meminfo MemAvailable, capped
// by the cgroup (v2 memory.max − memory.current, or v1 limit − usage) when
// one is set. Unavailable when /proc/meminfo cannot be read.
absl::StatusOr<size_t> AvailableMemoryBytes();

}  // namespace edlae

#endif  // EDLAE_TRAINER_TRAIN_H_
