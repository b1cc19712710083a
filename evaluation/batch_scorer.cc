// Batched top-k: exact row accumulation (the server's kernel, bit-identical) or dense-block GEMM through OpenBLAS.
#include "evaluation/batch_scorer.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/exclusions.h"
#include "core/factor_topn.h"
#include "core/kernels.h"
#include "core/scorer.h"
#include "core/topn.h"

namespace edlae {
namespace {

// Same column block as core/scorer.cc: the accumulator stays in L1.
constexpr size_t kBlockItems = 2048;
constexpr float kSkip =
    std::numeric_limits<float>::quiet_NaN();  // TopN drops NaN

// acc[0..len) += Σ_h B[items[h], begin .. begin+len) through the same
// dispatched AccumulateRows kernel, row order and unit weights as the server's
// DenseScorer (core/scorer.cc), so the scores are bit-identical to Recommend's;
// tests/core/batch_scorer_test.cc checks it. `rows` is scratch.
void AccumulateRows(const WeightRows& b, absl::Span<const uint32_t> items,
                    size_t begin, size_t len, const std::vector<float>& ones,
                    std::vector<const void*>* rows, float* acc) {
  rows->resize(items.size());
  const size_t offset = begin * DTypeSize(b.dtype);
  for (size_t h = 0; h < items.size(); ++h) {
    (*rows)[h] = static_cast<const uint8_t*>(b.row(items[h])) + offset;
  }
  edlae::AccumulateRows(b.dtype, rows->data(), ones.data(), items.size(), len,
                        acc);
}

std::vector<uint32_t> Indices(std::vector<ScoredItem> items) {
  std::vector<uint32_t> out(items.size());
  for (size_t i = 0; i < items.size(); ++i) out[i] = items[i].index;
  return out;
}

// Recommend's popularity fallback for an empty history: nothing to exclude.
std::vector<uint32_t> ByPopularity(absl::Span<const float> popularity,
                                   size_t top_k) {
  TopN top(top_k);
  top.PushBlock(0, popularity.data(), popularity.size());
  return Indices(top.TakeSorted());
}

absl::Status Validate(const WeightRows& b,
                      absl::Span<const float> popularity, const SparseRows& h,
                      const BatchOptions& options) {
  if (options.top_k == 0)
    return absl::InvalidArgumentError("top_k must be >= 1");
  if (b.num_rows != b.dim || b.stride < b.dim || DTypeSize(b.dtype) == 0 ||
      (b.num_rows > 0 && b.data == nullptr)) {
    return absl::InvalidArgumentError("B must be a square matrix view");
  }
  if (!popularity.empty() && popularity.size() != b.dim) {
    return absl::InvalidArgumentError(
        "popularity must have one entry per item");
  }
  if (h.offsets.empty()) {
    if (!h.items.empty())
      return absl::InvalidArgumentError("items without offsets");
    return absl::OkStatus();
  }
  if (h.offsets.front() != 0 || h.offsets.back() != h.items.size()) {
    return absl::InvalidArgumentError("offsets must span the item list");
  }
  for (size_t u = 0; u + 1 < h.offsets.size(); ++u) {
    if (h.offsets[u] > h.offsets[u + 1]) {
      return absl::InvalidArgumentError("offsets must not decrease");
    }
  }
  for (uint32_t i : h.items) {
    if (i >= b.num_rows) {
      return absl::InvalidArgumentError(
          absl::StrCat("history item index ", i, " out of range"));
    }
  }
  return absl::OkStatus();
}

absl::Span<const uint32_t> Row(const SparseRows& h, size_t u) {
  return h.items.subspan(h.offsets[u], h.offsets[u + 1] - h.offsets[u]);
}

void ExactTopK(const WeightRows& b, absl::Span<const float> popularity,
               const SparseRows& h, const BatchOptions& options,
               std::vector<std::vector<uint32_t>>* out) {
  const size_t n = b.dim;
  const size_t users = h.num_rows();
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::vector<const void*> rows;
    std::vector<float> ones;
    alignas(64) float acc[kBlockItems];
    TopN top(options.top_k);
    for (size_t u = next++; u < users; u = next++) {
      absl::Span<const uint32_t> items = Row(h, u);
      if (items.empty()) {
        if (!popularity.empty())
          (*out)[u] = ByPopularity(popularity, options.top_k);
        continue;
      }
      const std::vector<uint32_t> excluded =
          SortedUnique(std::vector<uint32_t>(items.begin(), items.end()));
      ExclusionCursor cursor(excluded);
      ones.assign(items.size(), 1.0f);
      for (size_t begin = 0; begin < n; begin += kBlockItems) {
        const size_t len = std::min(kBlockItems, n - begin);
        std::fill(acc, acc + len, 0.0f);
        AccumulateRows(b, items, begin, len, ones, &rows, acc);
        cursor.Mark(begin, len, acc, kSkip);
        top.PushBlock(static_cast<uint32_t>(begin), acc, len);
      }
      (*out)[u] = Indices(top.TakeSorted());
    }
  };
  int threads =
      options.num_threads > 0
          ? options.num_threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads =
      static_cast<int>(std::min<size_t>(threads, std::max<size_t>(users, 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

// REQUIRES: b.dtype == kFloat32 (TopKBatch widens halves first).
void GemmTopK(const WeightRows& b, absl::Span<const float> popularity,
              const SparseRows& h, const BatchOptions& options,
              std::vector<std::vector<uint32_t>>* out) {
  const size_t n = b.dim;
  const size_t users = h.num_rows();
  const size_t block = std::max<size_t>(1, options.block_users);
  std::vector<float> x(std::min(block, users) * n);
  std::vector<float> scores(x.size());
  TopN top(options.top_k);
  for (size_t first = 0; first < users; first += block) {
    const size_t count = std::min(block, users - first);
    std::fill(x.begin(), x.begin() + count * n, 0.0f);
    for (size_t r = 0; r < count; ++r) {
      for (uint32_t i : Row(h, first + r)) x[r * n + i] = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                static_cast<blasint>(count), static_cast<blasint>(n),
                static_cast<blasint>(n), 1.0f, x.data(),
                static_cast<blasint>(n), static_cast<const float*>(b.data),
                static_cast<blasint>(b.stride),
                0.0f, scores.data(), static_cast<blasint>(n));
    for (size_t r = 0; r < count; ++r) {
      absl::Span<const uint32_t> items = Row(h, first + r);
      if (items.empty()) {
        if (!popularity.empty()) {
          (*out)[first + r] = ByPopularity(popularity, options.top_k);
        }
        continue;
      }
      float* s = scores.data() + r * n;
      for (uint32_t i : items) s[i] = kSkip;
      top.PushBlock(0, s, n);
      (*out)[first + r] = Indices(top.TakeSorted());
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatch(
    const WeightRows& b, absl::Span<const float> popularity,
    const SparseRows& histories, const BatchOptions& options) {
  if (absl::Status s = Validate(b, popularity, histories, options); !s.ok()) {
    return s;
  }
  constexpr size_t kMaxBlas =
      static_cast<size_t>(std::numeric_limits<int>::max());
  if (options.method == BatchMethod::kGemm && b.stride > kMaxBlas) {
    return absl::InvalidArgumentError("matrix too large for BLAS int sizes");
  }
  std::vector<std::vector<uint32_t>> out(histories.num_rows());
  if (histories.num_rows() == 0) return out;
  if (options.method == BatchMethod::kGemm) {
    if (b.dtype == DType::kFloat32) {
      GemmTopK(b, popularity, histories, options, &out);
    } else {
      // sgemm reads float32 only: widen the halves once, compact.
      const size_t n = b.dim;
      std::vector<float> widened(n * n);
      for (size_t i = 0; i < n; ++i) ReadRow(b, i, n, widened.data() + i * n);
      const WeightRows wide{widened.data(), DType::kFloat32, n, n, n};
      GemmTopK(wide, popularity, histories, options, &out);
    }
  } else {
    ExactTopK(b, popularity, histories, options, &out);
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatchLowRank(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options) {
  if (model.kind() != ModelKind::kLowRank) {
    return absl::InvalidArgumentError("TopKBatchLowRank needs a low-rank model");
  }
  // Validate's checks need only B's shape: an n × n stand-in view.
  const size_t n = model.num_items();
  static const float kNoData = 0;
  const WeightRows shape{&kNoData, DType::kFloat32, n, n, n};
  if (absl::Status s = Validate(shape, {}, histories, options); !s.ok()) {
    return s;
  }
  const size_t users = histories.num_rows();
  std::vector<std::vector<uint32_t>> out(users);
  const size_t stride = model.row_stride();
  // Whole padded rows, as the server's LowRankScorer scores them.
  WeightRows v = model.v_rows();
  v.dim = stride;
  const int threads =
      options.num_threads > 0
          ? options.num_threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t block = std::max<size_t>(1, options.block_users);
  std::vector<float> z;
  std::vector<std::vector<uint32_t>> exclude;
  std::vector<size_t> batch_users;
  std::vector<HistoryEntry> history;
  for (size_t first = 0; first < users; first += block) {
    const size_t last = std::min(users, first + block);
    z.clear();
    exclude.clear();
    batch_users.clear();
    for (size_t u = first; u < last; ++u) {
      absl::Span<const uint32_t> items = Row(histories, u);
      if (items.empty()) {
        out[u] = ByPopularity(model.popularity(), options.top_k);
        continue;
      }
      history.clear();
      for (uint32_t i : items) history.push_back({i, 1.0f});
      const std::vector<float> zu = LatentVector(model, history);
      z.insert(z.end(), zu.begin(), zu.end());
      exclude.push_back(
          SortedUnique(std::vector<uint32_t>(items.begin(), items.end())));
      batch_users.push_back(u);
    }
    if (batch_users.empty()) continue;
    FactorTopNOptions top;
    top.top_n = options.top_k;
    top.exclude = exclude;
    top.num_threads = threads;
    std::vector<std::vector<ScoredItem>> ranked =
        FactorTopN(v, z.data(), stride, batch_users.size(), top);
    for (size_t b = 0; b < batch_users.size(); ++b) {
      out[batch_users[b]] = Indices(std::move(ranked[b]));
    }
  }
  return out;
}

}  // namespace edlae
