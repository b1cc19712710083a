// Top-N items by inner product with V for a batch of latent vectors: V streamed once per batch, selection fused.
#ifndef EDLAE_CORE_FACTOR_TOPN_H_
#define EDLAE_CORE_FACTOR_TOPN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "core/model_format.h"
#include "core/topn.h"
#include "core/weight_rows.h"

namespace edlae {

struct FactorTopNOptions {
  size_t top_n = 100;
  // exclude[b], when present, lists item indices never returned for query b,
  // sorted ascending. Empty span: no exclusions.
  absl::Span<const std::vector<uint32_t>> exclude;
  // Threads that split the items among themselves (>= 1).
  int num_threads = 1;
};

// For each query b in [0, batch) with latent vector z + b·z_stride (v.dim
// floats), returns the top_n items j by <V_j, z_b>, best first, ties by lower
// index. One pass over V serves the whole batch: each block of items is scored
// for all queries at once (DotRowsBatch, float32 accumulation for every
// dtype) and fed straight into per-query top-N heaps. A query's result does
// not depend on the batch it is in or on num_threads. Thread-safe.
std::vector<std::vector<ScoredItem>> FactorTopN(const WeightRows& v,
                                                const float* z, size_t z_stride,
                                                size_t batch,
                                                const FactorTopNOptions& options);

}  // namespace edlae

#endif  // EDLAE_CORE_FACTOR_TOPN_H_
