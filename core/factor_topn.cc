// FactorTopN: item blocks scored for the whole batch (sgemm or dispatched kernels), top-N fused per block.
#include "core/factor_topn.h"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "core/kernels.h"

namespace edlae {
namespace {

// Items per block: 512 rows of V (2 MiB at dim 1000 in float32) stay in L2
// while every query of the batch is scored against them.
constexpr size_t kItemBlock = 512;
// From this batch size on, one sgemm per block beats per-query dot products.
constexpr size_t kGemmMinBatch = 4;

// Scores items [j0, j0 + count) for every query into tile[b·count + j − j0].
class BlockScorer {
 public:
  BlockScorer(const FactorRows& v, const float* z, size_t z_stride,
              size_t batch)
      : v_(v), z_(z), z_stride_(z_stride), batch_(batch) {
    if (v.dtype != DType::kFloat32 && batch >= kGemmMinBatch) {
      widened_.resize(kItemBlock * v.dim);
    }
  }

  void Score(size_t j0, size_t count, float* tile) {
    const size_t dim = v_.dim;
    if (v_.dtype == DType::kFloat32) {
      const float* block = static_cast<const float*>(v_.data) + j0 * v_.stride;
      if (batch_ >= kGemmMinBatch) {
        Gemm(block, v_.stride, count, tile);
      } else {
        for (size_t b = 0; b < batch_; ++b) {
          DotRows(block, v_.stride, count, z_ + b * z_stride_, dim, tile + b * count);
        }
      }
      return;
    }
    const uint16_t* block = static_cast<const uint16_t*>(v_.data) + j0 * v_.stride;
    const bool bf16 = v_.dtype == DType::kBFloat16;
    if (batch_ >= kGemmMinBatch) {
      // Widen the block once (it is in cache), then one float32 sgemm.
      for (size_t j = 0; j < count; ++j) {
        (bf16 ? WidenBF16 : WidenF16)(block + j * v_.stride, dim,
                                      widened_.data() + j * dim);
      }
      Gemm(widened_.data(), dim, count, tile);
      return;
    }
    for (size_t b = 0; b < batch_; ++b) {
      (bf16 ? DotRowsBF16 : DotRowsF16)(block, v_.stride, count,
                                        z_ + b * z_stride_, dim, tile + b * count);
    }
  }

 private:
  // tile (batch × count) = Z (batch × dim) · V_blockᵀ.
  void Gemm(const float* block, size_t ldv, size_t count, float* tile) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                static_cast<blasint>(batch_), static_cast<blasint>(count),
                static_cast<blasint>(v_.dim), 1.0f, z_,
                static_cast<blasint>(z_stride_), block, static_cast<blasint>(ldv),
                0.0f, tile, static_cast<blasint>(count));
  }

  const FactorRows& v_;
  const float* z_;
  size_t z_stride_;
  size_t batch_;
  std::vector<float> widened_;
};

// Scans items [begin, end) into one TopN per query.
std::vector<TopN> ScanRange(const FactorRows& v, const float* z, size_t z_stride,
                            size_t batch, const FactorTopNOptions& options,
                            size_t begin, size_t end) {
  std::vector<TopN> tops(batch, TopN(options.top_n));
  BlockScorer scorer(v, z, z_stride, batch);
  std::vector<float> tile(batch * kItemBlock);
  // Per-query cursor into its sorted exclusion list.
  std::vector<size_t> cursor(options.exclude.size());
  for (size_t b = 0; b < options.exclude.size(); ++b) {
    const std::vector<uint32_t>& ex = options.exclude[b];
    cursor[b] = std::lower_bound(ex.begin(), ex.end(), begin) - ex.begin();
  }
  const float kSkip = std::numeric_limits<float>::quiet_NaN();  // TopN drops NaN
  for (size_t j0 = begin; j0 < end; j0 += kItemBlock) {
    const size_t count = std::min(kItemBlock, end - j0);
    scorer.Score(j0, count, tile.data());
    for (size_t b = 0; b < batch; ++b) {
      float* row = tile.data() + b * count;
      if (b < options.exclude.size()) {
        const std::vector<uint32_t>& ex = options.exclude[b];
        size_t& c = cursor[b];
        for (; c < ex.size() && ex[c] < j0 + count; ++c) row[ex[c] - j0] = kSkip;
      }
      tops[b].PushBlock(static_cast<uint32_t>(j0), row, count);
    }
  }
  return tops;
}

}  // namespace

std::vector<std::vector<ScoredItem>> FactorTopN(const FactorRows& v,
                                                const float* z, size_t z_stride,
                                                size_t batch,
                                                const FactorTopNOptions& options) {
  std::vector<std::vector<ScoredItem>> results(batch);
  if (batch == 0 || options.top_n == 0 || v.num_rows == 0) return results;
  // Whole blocks per thread, so the threads' ranges never split a block.
  const size_t threads = std::clamp<size_t>(
      options.num_threads, 1, (v.num_rows + kItemBlock - 1) / kItemBlock);
  if (threads == 1) {
    std::vector<TopN> tops = ScanRange(v, z, z_stride, batch, options, 0, v.num_rows);
    for (size_t b = 0; b < batch; ++b) results[b] = tops[b].TakeSorted();
    return results;
  }
  const size_t blocks = (v.num_rows + kItemBlock - 1) / kItemBlock;
  std::vector<std::vector<TopN>> partial(threads);
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    const size_t begin = std::min(v.num_rows, blocks * t / threads * kItemBlock);
    const size_t end = std::min(v.num_rows, blocks * (t + 1) / threads * kItemBlock);
    pool.emplace_back([&, t, begin, end] {
      partial[t] = ScanRange(v, z, z_stride, batch, options, begin, end);
    });
  }
  for (std::thread& th : pool) th.join();
  // Merge: RanksBefore is a total order, so the union's top-N is exact.
  for (size_t b = 0; b < batch; ++b) {
    TopN merged(options.top_n);
    for (size_t t = 0; t < threads; ++t) {
      for (const ScoredItem& s : partial[t][b].TakeSorted()) merged.Push(s.index, s.score);
    }
    results[b] = merged.TakeSorted();
  }
  return results;
}

}  // namespace edlae
