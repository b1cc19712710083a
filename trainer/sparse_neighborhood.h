// Sparse EASE/EDLAE/DLAE as exact regressions of each item on its neighbors.
#ifndef EDLAE_TRAINER_SPARSE_NEIGHBORHOOD_H_
#define EDLAE_TRAINER_SPARSE_NEIGHBORHOOD_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <vector>

#include "absl/status/statusor.h"
#include "common/progress.h"
#include "trainer/sparse_gram.h"

namespace edlae {

// The objective of EASE, EDLAE and DLAE, ‖X − X·B‖² + Σ_j b_jᵀ·Λ·b_j (with
// diag B = 0 for EASE and EDLAE), separates over the columns b_j of B: column
// j is the ridge regression of item j's users on the other items,
//   b_j = (G_SS + Λ_SS)⁻¹ · G_Sj   on a support S,
// S = every item but j (EASE, EDLAE) or every item (DLAE) giving the exact
// closed form (the Schur-complement form of B = I − C·dMat(1 ⊘ diag C), and
// B = I − C·Λ). Restricting S to j's `neighbors` items with the largest
// G_ij / A_ii^kNeighborExponent, A = G + dMat(shift) (items that never
// co-occur with j have G_ij = 0 and are never chosen), gives the B with the
// smallest objective among all B whose column j lives on S: each column is
// an m × m Cholesky solve, independent of n, so the whole solve costs
// n·(m³/3 + the gather of G_SS) and holds nothing of size n² — no factor of
// G + Λ, no fill.

// The neighbors' score G_ij / A_ii^e: e = 1/2 ranks by the objective's
// decrease when i alone is added (G_ij² / A_ii, forward selection's first
// step), e = 1 by the one-item ridge coefficient G_ij / A_ii, which favors
// rare items. Measured (docs/performance.md "Sparse training by
// neighborhoods", nDCG@100 against the exact model): e = 1/2 is best on the
// 40k synthetic set (100.5 %, e = 1: 96 %), e = 1 on ML-1M (95 %, e = 1/2:
// 90 %), 3/4 within 2 % of the best on every set measured.
inline constexpr double kNeighborExponent = 0.75;

struct NeighborhoodOptions {
  // m: the items each column regresses on (≥ n − 1: all of them, the exact
  // closed form; dense m × m solves, for small n only).
  size_t neighbors = 256;
  // Entries kept per column of B after its solve: the `keep` largest |b_ij|
  // (≥ neighbors: all).
  size_t keep = 256;
  // Then each row of B (the weights from one item) keeps at most this many,
  // its largest |b_ij| (0: no cap). Popular items are in most
  // neighborhoods, and a row is what one history item costs to serve.
  size_t max_per_row = 0;
  // EASE, EDLAE: b_jj = 0 (S excludes j). DLAE: S also holds j.
  bool zero_diagonal = true;
  int num_threads = 1;
  ProgressMode progress = ProgressMode::kAuto;
};

// B in compressed sparse rows (row i = the weights from item i, columns
// ascending, every weight finite and nonzero).
struct NeighborhoodModel {
  std::vector<uint64_t> offsets;  // n + 1
  std::vector<uint32_t> indices;
  std::vector<float> weights;
  size_t longest_row = 0;  // the most weights any row holds
};

// Solves every column of B on its neighborhood from the upper-triangle
// Gram matrix `g` (SparseGram) with A = G + dMat(shift) (shift: Λ plus any
// dropped co-occurrence mass, n entries), in parallel over columns with
// per-thread buffers of O(n + m²); OpenBLAS runs one thread per call inside
// (ScopedSingleThreadedBlas). Then B by columns and by rows (8 bytes per
// weight each). Deterministic: a column's result does not depend on the thread
// count. g is consumed: relabeled by ascending popularity into two lists
// (8 bytes per stored pair each) that replace it. Errors: FailedPrecondition
// naming the item when a neighborhood's G_SS + Λ_SS is not positive definite (λ
// = 0 with duplicated items) or a weight is not finite; InvalidArgument for
// neighbors == 0 or a shift of the wrong size. The most SolveNeighborhoods
// holds at once beyond what the caller holds besides g, in bytes: g plus its
// two ranked lists while they are built, then the lists, B's columns and rows
// (8 bytes per weight each, at most keep per column), and each thread's buffers
// (pos, candidates, the m × (m + 1) system).
size_t NeighborhoodPeakBytes(const SparseGram& g,
                             const NeighborhoodOptions& options);

absl::StatusOr<NeighborhoodModel> SolveNeighborhoods(
    SparseGram g, const std::vector<double>& shift,
    const NeighborhoodOptions& options, std::ostream* log = nullptr);

}  // namespace edlae

#endif  // EDLAE_TRAINER_SPARSE_NEIGHBORHOOD_H_
