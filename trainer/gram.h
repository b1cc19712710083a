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

// Returns G = XᵀX as a dense, symmetric, compact row-major num_items ×
// num_items matrix of doubles: G[i][j] = number of users who interacted with
// both i and j (exact integers; the same bits for any thread count). Work is
// split over `num_threads` threads (0: all cores) by whole rows of G, rows
// balanced by their scatter work (Σ over the row item's users of their item
// counts); each row, both triangles, is written by the thread that builds it,
// so no mirror pass follows. No dense users × items matrix is ever formed.
// The returned vector is value-initialized (zeroed by the allocating thread)
// before the rows are built; ComputeGramInto skips that.
std::vector<double> ComputeGram(const Interactions& x, int num_threads);

// The same in float32: exact while every count is below 2²⁴ (i.e. fewer than
// 16.7 M users), half the memory. For the float32 solver.
std::vector<float> ComputeGramFloat(const Interactions& x, int num_threads);

// ComputeGram into caller-owned memory: `gram` must hold num_items² entries
// and need not be initialized — every entry is written (each row zeroed, then
// accumulated, by the thread that builds it, so the first touch of fresh
// pages is spread over the threads). Same threads and result as ComputeGram.
void ComputeGramInto(const Interactions& x, int num_threads, double* gram);
void ComputeGramInto(const Interactions& x, int num_threads, float* gram);

// The training count per item, diag G, as the popularity vector a model file
// records: `gram` is n × n compact row-major (either precision).
std::vector<float> PopularityFromGram(const std::vector<double>& gram,
                                      size_t n);
std::vector<float> PopularityFromGram(const std::vector<float>& gram, size_t n);

}  // namespace edlae

#endif  // EDLAE_TRAINER_GRAM_H_
