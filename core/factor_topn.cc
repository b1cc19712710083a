// FactorTopN: a batch of latent vectors aligned, then one ranking-engine scan
// over V for the whole batch.
#include "core/factor_topn.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/item_scorers.h"
#include "core/ranking_engine.h"

namespace edlae {
namespace {

// Items per block: 256 rows of V (1 MiB at dim 1000 in float32) stay in L2
// while every query of the batch is scored against them, so V is read from
// memory once per batch, not once per query. The kernel re-reads the block
// from L2 once per group of users in its register tile (8 on AVX-512) and
// keeps that group's z rows in L1. Blocks of 64, 128 and 512 measured no
// better at batch 64, k = 1000.
constexpr size_t kItemBlock = 256;

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

std::vector<std::vector<ScoredItem>> FactorTopN(
    const WeightRows& v, const float* z, size_t z_stride, size_t batch,
    const FactorTopNOptions& options) {
  std::vector<std::vector<ScoredItem>> results(batch);
  if (batch == 0 || options.top_n == 0 || v.num_rows == 0) return results;
  std::vector<float> z_storage;
  z = AlignedCopy(z, z_stride, batch, v.dim, z_storage, z_stride);
  const LowRankBlockScorer scorer(v, z, z_stride, batch, kItemBlock);
  ScanOptions scan;
  scan.num_threads = options.num_threads;
  // No should_stop, so the scan cannot fail.
  ScanTopN(scorer, v.num_rows, options.top_n, options.exclude, scan, &results)
      .IgnoreError();
  return results;
}

}  // namespace edlae
