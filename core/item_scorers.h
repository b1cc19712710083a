// Block scorers per model kind for the ranking engine: dense (history rows of B
// summed), sparse (CSR rows scattered), low-rank (V·z per query) and cosine
// (V·z scaled by each item's 1/‖V_j‖).
#ifndef EDLAE_CORE_ITEM_SCORERS_H_
#define EDLAE_CORE_ITEM_SCORERS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "core/kernels_x86.h"
#include "core/weight_rows.h"

namespace edlae {

// One history item and its weight (typically 1; finite).
struct HistoryEntry {
  uint32_t index;  // item index in the model
  float weight;
};

// Scores of one query on a dense model: score(j) = Σ_h weight_h · B[h, j],
// B in any dtype (halves widened in registers, int8 rows summed as integers
// times weight_h · scale_h; float32 accumulation), by the
// dispatched AccumulateRows kernel over the history's rows. Blocks of 2048
// items: 8 KiB of accumulator stays in L1 while the rows stream through it.
// Borrows `b`'s data and `history`. Thread-safe (const; scratch per thread).
// REQUIRES: history indices < b.num_rows.
class DenseBlockScorer {
 public:
  static constexpr size_t kBlockItems = 2048;

  DenseBlockScorer(const WeightRows& b, absl::Span<const HistoryEntry> history);

  class Scratch {
   public:
    float* tile() { return tile_; }

   private:
    friend class DenseBlockScorer;
    std::vector<const void*> rows_;  // history rows offset to the block
    alignas(64) float tile_[kBlockItems];
  };

  size_t batch() const { return 1; }
  size_t block_items() const { return kBlockItems; }
  Scratch NewScratch() const;
  // tile[0..len) = scores of items begin .. begin+len-1; len <= kBlockItems.
  void ScoreBlock(size_t begin, size_t len, Scratch& scratch) const;
  // The score of one item (a scalar sum over the history), for candidate
  // lists, where gathering a block of every row would cost more.
  float ScoreOne(uint32_t item) const;

 private:
  WeightRows b_;
  absl::Span<const HistoryEntry> history_;
  std::vector<const uint8_t*> rows_;
  std::vector<float> weights_;
};

// Scores of one query on a sparse model: score(j) = Σ_h weight_h · B[h, j]
// over the stored entries of the history's CSR rows (others are 0), rows
// added in history order. Each block is zeroed, then every row scatters its
// entries that fall in the block (a per-row cursor in the scratch walks the
// row alongside the scan, so a whole scan costs O(n + Σ row nnz)). Borrows
// `b`'s data and `history`. Thread-safe (const; scratch per thread).
// REQUIRES: history indices < b.num_rows.
class SparseBlockScorer {
 public:
  static constexpr size_t kBlockItems = 2048;

  SparseBlockScorer(const CsrWeights& b,
                    absl::Span<const HistoryEntry> history);

  class Scratch {
   public:
    float* tile() { return tile_; }

   private:
    friend class SparseBlockScorer;
    std::vector<uint64_t> cursor_;  // per history row: next entry to add
    size_t next_begin_ = 0;         // the block the cursors are positioned for
    alignas(64) float tile_[kBlockItems];
  };

  size_t batch() const { return 1; }
  size_t block_items() const { return kBlockItems; }
  Scratch NewScratch() const;
  void ScoreBlock(size_t begin, size_t len, Scratch& scratch) const;
  // One item's score (a binary search per history row), for candidate lists.
  float ScoreOne(uint32_t item) const;
  // Stored entries the history's rows hold: the scan's scatter work.
  uint64_t work() const { return work_; }

 private:
  CsrWeights b_;
  absl::Span<const HistoryEntry> history_;
  uint64_t work_ = 0;
};

// Scores of a batch of queries on a low-rank model: score_q(j) = <V_j, z_q>,
// z_q the `v.dim` floats at z + q·z_stride, by the DotRowsBatch kernel
// (float32 accumulation for every dtype): each query's scores are
// bit-identical whatever the batch it is in. One pass over V serves the
// whole batch. Borrows v's data and z. Thread-safe (const).
//
// int8 V (scales s_j): each z_q is quantized once, at construction, with its
// own scale s_q = max_d |z_q[d]| / 127 (q_d = z_q[d] / s_q rounded to nearest,
// ties to even; s_q = 0 for an all-zero z_q), and score_q(j) =
// float(Σ_d V_j[d]·q_d) · (s_q · s_j) with the integer sum exact
// (DotRowsBatchI8): bit-identical whatever the batch, threads or SIMD path.
// The quantized rows are owned by the scorer.
class LowRankBlockScorer {
 public:
  // `block_items`: 256 rows of V (1 MiB at dim 1000 in float32) stay in L2
  // while the whole batch is scored against them; a single query streams
  // larger blocks.
  LowRankBlockScorer(const WeightRows& v, const float* z, size_t z_stride,
                     size_t batch, size_t block_items);

  class Scratch {
   public:
    float* tile() { return tile_.data(); }

   private:
    friend class LowRankBlockScorer;
    std::vector<float> tile_;
    std::vector<int32_t> dots_;  // int8 V: the block's exact dot products
  };

  size_t batch() const { return batch_; }
  size_t block_items() const { return block_items_; }
  Scratch NewScratch() const;
  void ScoreBlock(size_t begin, size_t len, Scratch& scratch) const;

 private:
  WeightRows v_;
  const float* z_;
  size_t z_stride_;
  size_t batch_;
  size_t block_items_;
  // int8 V only: the quantized queries (batch_ rows of v_.dim) and scales.
  std::vector<int8_t> z_q_;
  std::vector<float> z_scales_;
  // bf16 or int8 V where a matrix path scores it: the queries prepared once.
  TileQueries tiles_;
};

// Cosine similarity of one query on a low-rank model: score(j) = <V_j, z> ·
// inverse_norms[j], with z a unit vector (v.dim floats) and inverse_norms[j]
// = 1 / ‖V_j‖ (Model::v_inverse_norms(); 0 for a zero row), so score(j) =
// cos(V_j, z). The LowRankBlockScorer's dot products, then one multiply per
// item. Borrows v's data, z and inverse_norms. Thread-safe (const).
class CosineBlockScorer {
 public:
  CosineBlockScorer(const WeightRows& v, const float* z,
                    absl::Span<const float> inverse_norms, size_t block_items);

  using Scratch = LowRankBlockScorer::Scratch;

  size_t batch() const { return 1; }
  size_t block_items() const { return inner_.block_items(); }
  Scratch NewScratch() const { return inner_.NewScratch(); }
  void ScoreBlock(size_t begin, size_t len, Scratch& scratch) const;
  // One item's score, as ScoreBlock computes it, for candidate lists.
  float ScoreOne(uint32_t item) const;

 private:
  LowRankBlockScorer inner_;
  absl::Span<const float> inverse_norms_;
};

}  // namespace edlae

#endif  // EDLAE_CORE_ITEM_SCORERS_H_
