// Gram matrix G = XᵀX of a binary sparse interaction matrix, computed in
// parallel.
#ifndef EDLAE_TRAINER_GRAM_H_
#define EDLAE_TRAINER_GRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "trainer/interactions.h"

namespace edlae {

// X transposed: item i's users are users[offsets[i] .. offsets[i + 1]), in
// ascending user order. What the Gram builders (dense and sparse) walk.
struct ItemUsers {
  std::vector<uint64_t> offsets;  // num_items + 1
  std::vector<uint32_t> users;    // num_interactions
};
ItemUsers TransposeToItems(const Interactions& x);

// How the dense Gram's rows are built. kWhole: each row in full (both
// triangles; Σ_u d_u² scatter-adds, d_u = user u's item count, no second
// pass). kUpperThenMirror: the upper part j ≥ i of each row (half the
// scatter-adds), then a parallel tiled copy of the upper triangle into the
// lower. kAuto: kWhole when Σ_u d_u² ≤ 2·n², else kUpperThenMirror (the
// measured break-even, gram.cc). All give the same bits.
enum class GramRows { kAuto, kWhole, kUpperThenMirror };

// Returns G = XᵀX as a dense, symmetric, compact row-major num_items ×
// num_items matrix of doubles: G[i][j] = number of users who interacted with
// both i and j (exact integers; the same bits for any thread count). Work is
// split over `num_threads` threads (0: all cores) by rows of G, rows
// balanced by their scatter work, built as GramRows::kAuto. The returned
// vector is value-initialized (zeroed by the allocating thread) before the
// rows are built; ComputeGramInto skips that. No dense users × items matrix
// is ever formed.
std::vector<double> ComputeGram(const Interactions& x, int num_threads);

// The same in float32: exact while every count is below 2²⁴ (i.e. fewer than
// 16.7 M users), half the memory. For the float32 solver.
std::vector<float> ComputeGramFloat(const Interactions& x, int num_threads);

// ComputeGram into caller-owned memory: `gram` must hold num_items² entries
// and need not be initialized — every entry is written (each row zeroed, then
// accumulated, by the thread that builds it, so the first touch of fresh
// pages is spread over the threads). Same threads and result as ComputeGram.
void ComputeGramInto(const Interactions& x, int num_threads, double* gram,
                     GramRows rows = GramRows::kAuto);
void ComputeGramInto(const Interactions& x, int num_threads, float* gram,
                     GramRows rows = GramRows::kAuto);

// The training count per item, diag G, as the popularity vector a model file
// records: `gram` is n × n compact row-major (either precision).
std::vector<float> PopularityFromGram(const std::vector<double>& gram,
                                      size_t n);
std::vector<float> PopularityFromGram(const std::vector<float>& gram, size_t n);

}  // namespace edlae

#endif  // EDLAE_TRAINER_GRAM_H_
