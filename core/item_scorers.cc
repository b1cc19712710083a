// Dense, sparse, low-rank and cosine block scorers: the dispatched
// AccumulateRows and DotRowsBatch kernels (or the CSR scatter) over one item
// block.
#include "core/item_scorers.h"

#include <algorithm>

#include "core/kernels.h"
#include "core/kernels_x86.h"
#include "core/model_format.h"

namespace edlae {

DenseBlockScorer::DenseBlockScorer(const WeightRows& b,
                                   absl::Span<const HistoryEntry> history)
    : b_(b), history_(history) {
  rows_.reserve(history.size());
  weights_.reserve(history.size());
  for (const HistoryEntry& e : history) {
    rows_.push_back(static_cast<const uint8_t*>(b_.row(e.index)));
    // int8 rows: the kernel sums the integers, each times weight · scale.
    weights_.push_back(e.weight * b_.scale(e.index));
  }
}

DenseBlockScorer::Scratch DenseBlockScorer::NewScratch() const {
  Scratch scratch;
  scratch.rows_.resize(rows_.size());
  return scratch;
}

void DenseBlockScorer::ScoreBlock(size_t begin, size_t len,
                                  Scratch& scratch) const {
  float* out = scratch.tile_;
  std::fill(out, out + len, 0.0f);
  const size_t offset = begin * DTypeSize(b_.dtype);
  for (size_t h = 0; h < rows_.size(); ++h)
    scratch.rows_[h] = rows_[h] + offset;
  AccumulateRows(b_.dtype, scratch.rows_.data(), weights_.data(), rows_.size(),
                 len, out);
}

float DenseBlockScorer::ScoreOne(uint32_t item) const {
  float score = 0;
  for (size_t h = 0; h < history_.size(); ++h) {
    // weights_[h] is the weight times the row's scale, as the kernel uses it.
    score += weights_[h] * ElementAt(b_, history_[h].index, item);
  }
  return score;
}

SparseBlockScorer::SparseBlockScorer(const CsrWeights& b,
                                     absl::Span<const HistoryEntry> history)
    : b_(b), history_(history) {
  for (const HistoryEntry& e : history) {
    work_ += b.offsets[e.index + 1] - b.offsets[e.index];
  }
}

SparseBlockScorer::Scratch SparseBlockScorer::NewScratch() const {
  Scratch scratch;
  scratch.cursor_.resize(history_.size());
  for (size_t h = 0; h < history_.size(); ++h) {
    scratch.cursor_[h] = b_.offsets[history_[h].index];
  }
  scratch.next_begin_ = 0;
  return scratch;
}

void SparseBlockScorer::ScoreBlock(size_t begin, size_t len,
                                   Scratch& scratch) const {
  float* out = scratch.tile_;
  std::fill(out, out + len, 0.0f);
  if (begin != scratch.next_begin_) {
    // Not the continuation of the last block (a thread's first block, or a
    // jump): position every row's cursor by binary search.
    for (size_t h = 0; h < history_.size(); ++h) {
      const uint32_t row = history_[h].index;
      const uint32_t* first = b_.indices + b_.offsets[row];
      const uint32_t* last = b_.indices + b_.offsets[row + 1];
      scratch.cursor_[h] = static_cast<uint64_t>(
          std::lower_bound(first, last, static_cast<uint32_t>(begin)) -
          b_.indices);
    }
  }
  const size_t end = begin + len;
  for (size_t h = 0; h < history_.size(); ++h) {
    const uint64_t row_end = b_.offsets[history_[h].index + 1];
    const float w = history_[h].weight;
    uint64_t e = scratch.cursor_[h];
    for (; e < row_end && b_.indices[e] < end; ++e) {
      out[b_.indices[e] - begin] += w * b_.weight(e);
    }
    scratch.cursor_[h] = e;
  }
  scratch.next_begin_ = end;
}

float SparseBlockScorer::ScoreOne(uint32_t item) const {
  float score = 0;
  for (const HistoryEntry& h : history_) {
    const uint32_t* first = b_.indices + b_.offsets[h.index];
    const uint32_t* last = b_.indices + b_.offsets[h.index + 1];
    const uint32_t* it = std::lower_bound(first, last, item);
    if (it != last && *it == item) {
      score += h.weight * b_.weight(static_cast<size_t>(it - b_.indices));
    }
  }
  return score;
}

LowRankBlockScorer::LowRankBlockScorer(const WeightRows& v, const float* z,
                                       size_t z_stride, size_t batch,
                                       size_t block_items)
    : v_(v),
      z_(z),
      z_stride_(z_stride),
      batch_(batch),
      block_items_(std::max<size_t>(block_items, 1)) {
  // Where a matrix path (AMX tiles; VNNI for int8) scores this dtype, the
  // queries are prepared for it once here rather than once per item block.
  if (v_.dtype == DType::kBFloat16 && TilesActiveFor(/*int8=*/false, batch_)) {
    tiles_ = TileQueries::Bf16(z_, z_stride_, batch_, v_.dim);
  }
  if (v_.dtype != DType::kInt8) return;
  const size_t dim = v_.dim;
  z_q_.resize(batch_ * dim);
  z_scales_.resize(batch_);
  for (size_t q = 0; q < batch_; ++q) {
    z_scales_[q] = QuantizeToInt8(absl::MakeConstSpan(z_ + q * z_stride_, dim),
                                  z_q_.data() + q * dim);
  }
  if (TilesActiveFor(/*int8=*/true, batch_)) {
    tiles_ = TileQueries::Int8(z_q_.data(), dim, batch_, dim, z_scales_.data());
  }
}

LowRankBlockScorer::Scratch LowRankBlockScorer::NewScratch() const {
  Scratch scratch;
  scratch.tile_.resize(batch_ * block_items_);
  if (v_.dtype == DType::kInt8) scratch.dots_.resize(batch_ * block_items_);
  return scratch;
}

void LowRankBlockScorer::ScoreBlock(size_t begin, size_t len,
                                    Scratch& scratch) const {
  if (v_.dtype != DType::kInt8) {
    if (tiles_.empty() || !DotRowsTiles(v_.row(begin), v_.stride, len, tiles_,
                                        scratch.tile_.data(), len)) {
      DotRowsBatch(v_.dtype, v_.row(begin), v_.stride, len, z_, z_stride_,
                   batch_, v_.dim, scratch.tile_.data(), len);
    }
    return;
  }
  const float* v_scales = v_.scales + begin;
  if (!tiles_.empty() &&
      DotRowsTilesScaled(static_cast<const int8_t*>(v_.row(begin)), v_.stride,
                         len, v_scales, tiles_, scratch.tile_.data(), len)) {
    return;  // dequantized in the tiles' epilogue
  }
  DotRowsBatchI8(static_cast<const int8_t*>(v_.row(begin)), v_.stride, len,
                 z_q_.data(), v_.dim, batch_, v_.dim, scratch.dots_.data(),
                 len);
  for (size_t q = 0; q < batch_; ++q) {
    const int32_t* dots = scratch.dots_.data() + q * len;
    float* tile = scratch.tile_.data() + q * len;
    const float s_q = z_scales_[q];
    for (size_t j = 0; j < len; ++j) {
      tile[j] = static_cast<float>(dots[j]) * (s_q * v_scales[j]);
    }
  }
}

CosineBlockScorer::CosineBlockScorer(const WeightRows& v, const float* z,
                                     absl::Span<const float> inverse_norms,
                                     size_t block_items)
    : inner_(v, z, v.dim, 1, block_items), inverse_norms_(inverse_norms) {}

void CosineBlockScorer::ScoreBlock(size_t begin, size_t len,
                                   Scratch& scratch) const {
  inner_.ScoreBlock(begin, len, scratch);
  float* tile = scratch.tile();
  const float* inverse = inverse_norms_.data() + begin;
  for (size_t j = 0; j < len; ++j) tile[j] *= inverse[j];
}

float CosineBlockScorer::ScoreOne(uint32_t item) const {
  Scratch scratch = inner_.NewScratch();
  ScoreBlock(item, 1, scratch);
  return scratch.tile()[0];
}

}  // namespace edlae
