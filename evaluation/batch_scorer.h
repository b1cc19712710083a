// Batched top-k for many users at once (offline evaluation, batch
// recommendations): X_block · B, history excluded or not, server ranking.
#ifndef EDLAE_EVALUATION_BATCH_SCORER_H_
#define EDLAE_EVALUATION_BATCH_SCORER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/model.h"
#include "core/topn.h"
#include "core/weight_rows.h"

namespace edlae {

// A block of users' binary histories in CSR form: user u's item indices are
// items[offsets[u] .. offsets[u + 1]), each with weight 1. Spans are borrowed.
struct SparseRows {
  absl::Span<const uint64_t> offsets;  // num_rows + 1, non-decreasing
  absl::Span<const uint32_t> items;    // indices into B's rows
  size_t num_rows() const { return offsets.empty() ? 0 : offsets.size() - 1; }
};

enum class BatchMethod {
  // Each user's scores = Σ rows of B, accumulated exactly as core/scorer.cc's
  // ComputeScores / Recommend do (the same dispatched AccumulateRows kernel
  // over the same rows), so scores and rankings are bit-identical to what the
  // server returns.
  // Cost: nnz(X) · n multiply-adds; best for sparse histories.
  kExact,
  // Users in blocks: a dense 0/1 block of X times B through OpenBLAS
  // cblas_sgemm. Cost: users · n² multiply-adds at BLAS speed. Scores equal
  // kExact's up to float rounding (summation order differs), so two items
  // whose scores differ in the last bits may swap. A half-precision B is
  // widened to a float32 copy first (n² floats of memory).
  kGemm,
};

struct BatchOptions {
  size_t top_k = 100;
  BatchMethod method = BatchMethod::kExact;
  // kGemm: users per GEMM call (memory: 2 · block_users · n floats).
  size_t block_users = 256;
  // kExact: worker threads over users (0: all cores). kGemm uses OpenBLAS's
  // own threads.
  int num_threads = 0;
  // Leave each user's history items out of its ranking, as Recommend's
  // exclude_history (the functions below describe the default, true; false
  // ranks the history's items too, as Recommend with exclude_history =
  // false does).
  bool exclude_history = true;
};

// B is any square WeightRows (b.num_rows == b.dim): a dense model's
// dense_rows(), or a trainer's compact float32 matrix.
// For every user u of `histories`: the top_k items of B by score
// Σ_{i ∈ history(u)} B[i, :], excluding u's own history items, best first,
// ties broken by lower item index (core/topn.h's RanksBefore) — the ranking
// core::Recommend gives with exclude_history = true. A user with an empty
// history gets Recommend's popularity fallback: items by `popularity`
// (descending, ties by index), or an empty list when `popularity` is empty.
// Fewer than top_k items come back when the catalog minus the history is
// smaller. Returns one vector per user, in order.
// Errors: InvalidArgument (top_k == 0, item index >= b.num_rows, b not
// square, malformed offsets, popularity size not 0 or b.dim).
absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatch(
    const WeightRows& b, absl::Span<const float> popularity,
    const SparseRows& histories, const BatchOptions& options);

// The low-rank counterpart of TopKBatch, with the server's arithmetic: for each
// user z = LatentVector(model, history) (core/scorer.h, weights 1), then the
// top_k items by V·z through FactorTopN (core/factor_topn.h) with the user's
// history excluded, `block_users` users per pass over V, `num_threads` (0: all
// cores) splitting the items. Rankings equal core::Recommend's with
// exclude_history = true (ties by lower index); an empty history gets the
// popularity fallback from model.popularity(). Memory: block_users ·
// row_stride floats of latent vectors.
// Errors: InvalidArgument (top_k == 0, model not low-rank, item index out of
// range, malformed offsets).
absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatchLowRank(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options);

// The sparse counterpart of TopKBatch (kExact only; `method` and
// `block_users` are ignored): each user scored by the server's
// SparseBlockScorer over the history's CSR rows of B, so rankings equal
// core::Recommend's on a sparse model with exclude_history = true (ties by
// lower index); an empty history gets `popularity`'s fallback (or nothing
// when it is empty). Users are split over `num_threads` (0: all cores).
// Memory: one 2048-float tile and a cursor per history row per thread.
// Errors: InvalidArgument (top_k == 0, item index >= b.num_rows, malformed
// offsets, popularity size not 0 or b.num_rows).
absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatchSparse(
    const CsrWeights& b, absl::Span<const float> popularity,
    const SparseRows& histories, const BatchOptions& options);

// Any model file, as the server ranks it: TopKBatch on a dense model's
// dense_rows() (with options.method), TopKBatchSparse on a sparse one's
// sparse_rows(), TopKBatchLowRank on a low-rank one; the popularity fallback
// is model.popularity(). Errors: those of the function called.
absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatchOfModel(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options);

// The same rankings with their scores: ranked[u][k] is the item and the score
// Recommend gives it (bit for bit for kExact, sparse and low-rank models; up
// to float rounding for kGemm; the training count for a popularity
// fallback). The functions above are these without the scores.
absl::StatusOr<std::vector<std::vector<ScoredItem>>> ScoredTopKBatch(
    const WeightRows& b, absl::Span<const float> popularity,
    const SparseRows& histories, const BatchOptions& options);
absl::StatusOr<std::vector<std::vector<ScoredItem>>> ScoredTopKBatchLowRank(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options);
absl::StatusOr<std::vector<std::vector<ScoredItem>>> ScoredTopKBatchSparse(
    const CsrWeights& b, absl::Span<const float> popularity,
    const SparseRows& histories, const BatchOptions& options);
absl::StatusOr<std::vector<std::vector<ScoredItem>>> ScoredTopKBatchOfModel(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_BATCH_SCORER_H_
