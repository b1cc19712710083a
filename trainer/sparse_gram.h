// Gram matrix G = XᵀX of a binary interaction matrix as a sparse symmetric
// matrix (upper triangle, CSR), in parallel.
#ifndef EDLAE_TRAINER_SPARSE_GRAM_H_
#define EDLAE_TRAINER_SPARSE_GRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "trainer/interactions.h"

namespace edlae {

// The upper triangle (j >= i) of the symmetric n × n matrix G in compressed
// sparse rows: row i holds [offsets[i], offsets[i + 1]) with column indices
// strictly ascending, the diagonal (always present, possibly 0) first.
// Read as compressed sparse columns, the same arrays are the lower triangle.
// Memory: 8·(n + 1) + 12·nnz bytes; never n².
struct SparseGram {
  size_t n = 0;
  std::vector<uint64_t> offsets;  // n + 1, offsets[0] = 0
  std::vector<uint32_t> indices;  // nnz (upper triangle incl. diagonal)
  std::vector<double> values;     // nnz: co-occurrence counts
  // With a min_cooccurrence: Σ_j of the off-diagonal counts dropped from row
  // (= column) i of the full G, n entries; empty when nothing can be dropped.
  // Adding them to the diagonal keeps the thresholded matrix ⪰ G ⪰ 0 (the
  // dropped part E satisfies dMat(Σ_j |E_ij|) − E ⪰ 0, diagonally dominant).
  std::vector<double> dropped_row_sums;

  size_t nnz_upper() const { return indices.size(); }
  // Stored entries of the full symmetric matrix: 2·nnz_upper − n.
  size_t nnz_full() const { return 2 * indices.size() - n; }
  // G[i][i], the number of users of item i.
  double diagonal(size_t i) const { return values[offsets[i]]; }
  // Bytes its buffers hold (what releasing it frees).
  size_t bytes() const {
    return offsets.size() * sizeof(uint64_t) +
           indices.size() * (sizeof(uint32_t) + sizeof(double)) +
           dropped_row_sums.size() * sizeof(double);
  }
};

struct SparseGramOptions {
  // Off-diagonal counts below this are dropped (0 or 1: keep everything);
  // their row sums go to SparseGram::dropped_row_sums. The diagonal is always
  // kept exactly.
  uint32_t min_cooccurrence = 0;
  int num_threads = 0;  // 0: all cores
};

// G = XᵀX: G[i][j] = number of users who interacted with both i and j. Rows
// of G are built in parallel (dynamically balanced chunks of items) from the
// item → users transpose of X; each thread accumulates into its own length-n
// counter, so the memory beyond G itself is O(threads · n + nnz(X)). Each
// (user, i, j ≥ i) triple is visited once: Σ_u |x_u|²/2 work, as a sparse
// XᵀX (Gustavson) does. Thread-compatible.
SparseGram ComputeSparseGram(const Interactions& x,
                             const SparseGramOptions& options);

// Keeps the off-diagonal entries of g with the largest normalized weight in
// A = G + dMat(shift), |G_ij| / sqrt((G_ii + shift_i) · (G_jj + shift_j))
// (shift: n entries, e.g. the regularization Λ, or empty for 0; with Λ a rare
// pair's cosine of 1 does not outrank a popular pair's): with t the k-th
// largest weight over the strictly upper entries, k = floor(density · n · (n −
// 1) / 2), exactly the entries with weight ≥ t stay (ties at t all stay; k = 0
// drops every off-diagonal entry). Each dropped G_ij is added to
// dropped_row_sums[i] and [j] (allocated if empty), the same compensation as
// min_cooccurrence, so G' + dMat(dropped_row_sums) − G ⪰ 0. The diagonal is
// never dropped. density ≥ the current off-diagonal density (in particular 1):
// g unchanged. Extra memory: 4 bytes per stored entry + 8·n. Returns the
// entries dropped.
size_t SparsifyGram(double density, const std::vector<double>& shift,
                    SparseGram* g);

// diag G as float, the popularity vector a model file records.
std::vector<float> PopularityFromSparseGram(const SparseGram& g);

}  // namespace edlae

#endif  // EDLAE_TRAINER_SPARSE_GRAM_H_
