// FactorTopN: item blocks scored for the whole batch by the DotRowsBatch kernel, top-N fused per block.
#include "core/factor_topn.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <thread>

#include "core/exclusions.h"
#include "core/kernels.h"

namespace edlae {
namespace {

// Items per block: 256 rows of V (1 MiB at dim 1000 in float32) stay in L2
// while every query of the batch is scored against them, so V is read from
// memory once per batch, not once per query. The kernel re-reads the block
// from L2 once per group of users in its register tile (8 on AVX-512) and
// keeps that group's z rows in L1. Blocks of 64, 128 and 512 measured no
// better at batch 64, k = 1000.
constexpr size_t kItemBlock = 256;

// Scans items [begin, end) into one TopN per query.
std::vector<TopN> ScanRange(const WeightRows& v, const float* z, size_t z_stride,
                            size_t batch, const FactorTopNOptions& options,
                            size_t begin, size_t end) {
  std::vector<TopN> tops(batch, TopN(options.top_n));
  std::vector<float> tile(batch * kItemBlock);
  const size_t element_size = DTypeSize(v.dtype);
  // Per-query cursor into its sorted exclusion list.
  std::vector<ExclusionCursor> cursors;
  cursors.reserve(options.exclude.size());
  for (const std::vector<uint32_t>& ex : options.exclude) {
    cursors.emplace_back(ex, begin);
  }
  const float kSkip = std::numeric_limits<float>::quiet_NaN();  // TopN drops NaN
  for (size_t j0 = begin; j0 < end; j0 += kItemBlock) {
    const size_t count = std::min(kItemBlock, end - j0);
    const void* block = static_cast<const uint8_t*>(v.data) + j0 * v.stride * element_size;
    DotRowsBatch(v.dtype, block, v.stride, count, z, z_stride, batch, v.dim,
                 tile.data(), count);
    for (size_t b = 0; b < batch; ++b) {
      float* row = tile.data() + b * count;
      if (b < cursors.size()) cursors[b].Mark(j0, count, row, kSkip);
      tops[b].PushBlock(static_cast<uint32_t>(j0), row, count);
    }
  }
  return tops;
}

// Copies the batch's latent vectors to rows that start on 64-byte boundaries
// (stride a multiple of 16 floats). The kernel reloads each z chunk once per
// item tile; unaligned, every 64-byte load straddles two cache lines, which
// on AVX-512 costs about a quarter of the tile's throughput. Returns the
// aligned base; `storage` owns it.
const float* AlignedCopy(const float* z, size_t z_stride, size_t batch,
                         size_t dim, std::vector<float>& storage,
                         size_t& aligned_stride) {
  constexpr size_t kAlignFloats = 16;
  aligned_stride = (dim + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  storage.assign(batch * aligned_stride + kAlignFloats, 0.0f);
  float* base = storage.data();
  base += (kAlignFloats -
           reinterpret_cast<uintptr_t>(base) / sizeof(float) % kAlignFloats) %
          kAlignFloats;
  for (size_t b = 0; b < batch; ++b) {
    std::copy_n(z + b * z_stride, dim, base + b * aligned_stride);
  }
  return base;
}

}  // namespace

std::vector<std::vector<ScoredItem>> FactorTopN(const WeightRows& v,
                                                const float* z, size_t z_stride,
                                                size_t batch,
                                                const FactorTopNOptions& options) {
  std::vector<std::vector<ScoredItem>> results(batch);
  if (batch == 0 || options.top_n == 0 || v.num_rows == 0) return results;
  std::vector<float> z_storage;
  z = AlignedCopy(z, z_stride, batch, v.dim, z_storage, z_stride);
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
