// Batched top-k: exact row accumulation (the server's kernel, bit-identical) or
// dense-block GEMM through OpenBLAS.
#include "evaluation/batch_scorer.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/thread_count.h"
#include "core/exclusions.h"
#include "core/item_scorers.h"
#include "core/ranking_engine.h"
#include "core/scorer.h"
#include "core/status_macros.h"
#include "core/topn.h"

namespace edlae {
namespace {

std::vector<uint32_t> Indices(std::vector<ScoredItem> items) {
  std::vector<uint32_t> out(items.size());
  for (size_t i = 0; i < items.size(); ++i) out[i] = items[i].index;
  return out;
}

using ScoredLists = std::vector<std::vector<ScoredItem>>;

std::vector<std::vector<uint32_t>> IndexLists(ScoredLists lists) {
  std::vector<std::vector<uint32_t>> out(lists.size());
  for (size_t u = 0; u < lists.size(); ++u)
    out[u] = Indices(std::move(lists[u]));
  return out;
}

// Recommend's popularity fallback for an empty history: nothing to exclude.
std::vector<ScoredItem> ByPopularity(absl::Span<const float> popularity,
                                     absl::Span<const uint32_t> order,
                                     size_t top_k) {
  return PopularTopN(popularity, order, {}, {}, top_k);
}

// The items a user's ranking leaves out: its history (sorted, unique) when
// options.exclude_history, else none.
std::vector<uint32_t> ExcludedOf(absl::Span<const uint32_t> items,
                                 const BatchOptions& options) {
  if (!options.exclude_history) return {};
  return SortedUnique({items.begin(), items.end()});
}

absl::Status Validate(const WeightRows& b, absl::Span<const float> popularity,
                      const SparseRows& h, const BatchOptions& options) {
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

// Each user ranked by the server's path for the model's kind: the ranking
// engine's scan with the scorer `make_scorer` builds over the user's rows
// (weights 1) and the history excluded, so rankings are bit-identical to
// Recommend's. Users are split over threads; num_items is B's dimension.
template <typename MakeScorer>
void ExactTopK(size_t num_items, const MakeScorer& make_scorer,
               absl::Span<const float> popularity,
               absl::Span<const uint32_t> order, const SparseRows& h,
               const BatchOptions& options, ScoredLists* out) {
  const size_t users = h.num_rows();
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::vector<HistoryEntry> history;
    std::vector<std::vector<uint32_t>> excluded(1);
    std::vector<std::vector<ScoredItem>> ranked;
    for (size_t u = next++; u < users; u = next++) {
      absl::Span<const uint32_t> items = Row(h, u);
      if (items.empty()) {
        if (!popularity.empty()) {
          (*out)[u] = ByPopularity(popularity, order, options.top_k);
        }
        continue;
      }
      history.clear();
      for (uint32_t i : items) history.push_back({i, 1.0f});
      excluded[0] = ExcludedOf(items, options);
      ScanTopN(make_scorer(absl::Span<const HistoryEntry>(history)), num_items,
               options.top_k, excluded, ScanOptions{}, &ranked)
          .IgnoreError();  // no should_stop: cannot fail
      (*out)[u] = std::move(ranked[0]);
    }
  };
  const int threads = static_cast<int>(std::min<size_t>(
      ResolveThreadCount(options.num_threads), std::max<size_t>(users, 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

// Items by popularity once, as Model::items_by_popularity() holds them.
std::vector<uint32_t> PopularityOrder(absl::Span<const float> popularity) {
  return popularity.empty()
             ? std::vector<uint32_t>()
             : Indices(PopularTopN(popularity, {}, {}, {}, popularity.size()));
}

// REQUIRES: b.dtype == kFloat32 (TopKBatch widens halves first).
void GemmTopK(const WeightRows& b, absl::Span<const float> popularity,
              absl::Span<const uint32_t> order, const SparseRows& h,
              const BatchOptions& options, ScoredLists* out) {
  const size_t n = b.dim;
  const size_t users = h.num_rows();
  const size_t block = std::max<size_t>(1, options.block_users);
  std::vector<float> x(std::min(block, users) * n);
  std::vector<float> scores(x.size());
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
                static_cast<blasint>(b.stride), 0.0f, scores.data(),
                static_cast<blasint>(n));
    for (size_t r = 0; r < count; ++r) {
      absl::Span<const uint32_t> items = Row(h, first + r);
      if (items.empty()) {
        if (!popularity.empty()) {
          (*out)[first + r] = ByPopularity(popularity, order, options.top_k);
        }
        continue;
      }
      // The same result handler as the engine's scans: history masked, top-k.
      const std::vector<uint32_t> excluded = ExcludedOf(items, options);
      TopNHandler top(ClampTopN(options.top_k, n), excluded);
      top.AddBlock(0, scores.data() + r * n, n);
      (*out)[first + r] = top.TakeSorted();
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<std::vector<ScoredItem>>> ScoredTopKBatch(
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
  ScoredLists out(histories.num_rows());
  if (histories.num_rows() == 0) return out;
  const std::vector<uint32_t> order = PopularityOrder(popularity);
  if (options.method == BatchMethod::kGemm) {
    if (b.dtype == DType::kFloat32) {
      GemmTopK(b, popularity, order, histories, options, &out);
    } else {
      // sgemm reads float32 only: widen the halves once, compact.
      const size_t n = b.dim;
      std::vector<float> widened(n * n);
      for (size_t i = 0; i < n; ++i) ReadRow(b, i, n, widened.data() + i * n);
      const WeightRows wide{widened.data(), DType::kFloat32, n, n, n};
      GemmTopK(wide, popularity, order, histories, options, &out);
    }
  } else {
    ExactTopK(
        b.dim,
        [&b](absl::Span<const HistoryEntry> history) {
          return DenseBlockScorer(b, history);
        },
        popularity, order, histories, options, &out);
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<ScoredItem>>> ScoredTopKBatchSparse(
    const CsrWeights& b, absl::Span<const float> popularity,
    const SparseRows& histories, const BatchOptions& options) {
  // Validate's checks need only B's shape: an n × n stand-in view.
  const size_t n = b.num_rows;
  static const float kNoData = 0;
  const WeightRows shape{&kNoData, DType::kFloat32, n, n, n};
  if (absl::Status s = Validate(shape, popularity, histories, options);
      !s.ok()) {
    return s;
  }
  ScoredLists out(histories.num_rows());
  if (histories.num_rows() == 0) return out;
  ExactTopK(
      n,
      [&b](absl::Span<const HistoryEntry> history) {
        return SparseBlockScorer(b, history);
      },
      popularity, PopularityOrder(popularity), histories, options, &out);
  return out;
}

absl::StatusOr<std::vector<std::vector<ScoredItem>>> ScoredTopKBatchOfModel(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options) {
  switch (model.kind()) {
    case ModelKind::kLowRank:
      return ScoredTopKBatchLowRank(model, histories, options);
    case ModelKind::kSparse:
      return ScoredTopKBatchSparse(model.sparse_rows(), model.popularity(),
                                   histories, options);
    default:
      return ScoredTopKBatch(model.dense_rows(), model.popularity(), histories,
                             options);
  }
}

absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatch(
    const WeightRows& b, absl::Span<const float> popularity,
    const SparseRows& histories, const BatchOptions& options) {
  ASSIGN_OR_RETURN(ScoredLists lists,
                   ScoredTopKBatch(b, popularity, histories, options));
  return IndexLists(std::move(lists));
}

absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatchSparse(
    const CsrWeights& b, absl::Span<const float> popularity,
    const SparseRows& histories, const BatchOptions& options) {
  ASSIGN_OR_RETURN(ScoredLists lists,
                   ScoredTopKBatchSparse(b, popularity, histories, options));
  return IndexLists(std::move(lists));
}

absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatchLowRank(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options) {
  ASSIGN_OR_RETURN(ScoredLists lists,
                   ScoredTopKBatchLowRank(model, histories, options));
  return IndexLists(std::move(lists));
}

absl::StatusOr<std::vector<std::vector<uint32_t>>> TopKBatchOfModel(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options) {
  ASSIGN_OR_RETURN(ScoredLists lists,
                   ScoredTopKBatchOfModel(model, histories, options));
  return IndexLists(std::move(lists));
}

absl::StatusOr<std::vector<std::vector<ScoredItem>>> ScoredTopKBatchLowRank(
    const Model& model, const SparseRows& histories,
    const BatchOptions& options) {
  if (model.kind() != ModelKind::kLowRank) {
    return absl::InvalidArgumentError(
        "TopKBatchLowRank needs a low-rank model");
  }
  // Validate's checks need only B's shape: an n × n stand-in view.
  const size_t n = model.num_items();
  static const float kNoData = 0;
  const WeightRows shape{&kNoData, DType::kFloat32, n, n, n};
  if (absl::Status s = Validate(shape, {}, histories, options); !s.ok()) {
    return s;
  }
  // Recommend's requests (weights 1, history excluded), block_users at a
  // time through RecommendMany: one pass over V per block, exactly the
  // server's micro-batched path.
  const size_t users = histories.num_rows();
  ScoredLists out(users);
  RecommendManyOptions many;
  many.max_batch = std::max<size_t>(1, options.block_users);
  many.num_threads = ResolveThreadCount(options.num_threads);
  std::vector<std::vector<HistoryEntry>> history(many.max_batch);
  std::vector<ScoringRequest> requests;
  for (size_t first = 0; first < users; first += many.max_batch) {
    const size_t last = std::min(users, first + many.max_batch);
    requests.clear();
    for (size_t u = first; u < last; ++u) {
      std::vector<HistoryEntry>& entries = history[u - first];
      entries.clear();
      for (uint32_t i : Row(histories, u)) entries.push_back({i, 1.0f});
      ScoringRequest request;
      request.history = entries;
      request.options.top_n = options.top_k;
      request.options.exclude_history = options.exclude_history;
      requests.push_back(std::move(request));
    }
    std::vector<absl::StatusOr<Recommendation>> ranked =
        RecommendMany(model, requests, many);
    for (size_t u = first; u < last; ++u) {
      absl::StatusOr<Recommendation>& r = ranked[u - first];
      if (!r.ok()) return r.status();
      out[u] = std::move(r->items);
    }
  }
  return out;
}

}  // namespace edlae
