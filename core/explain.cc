// Per-history-item contributions to returned scores: B entries (dense,
// sparse) or dot products of factor rows (low-rank, cosine).
#include "core/explain.h"

#include <algorithm>

#include "core/kernels.h"
#include "core/model_format.h"
#include "core/ranking_engine.h"

namespace edlae {
namespace {

// `history` sorted by index, duplicates merged (weights added), zero weights
// dropped: one term per item that can contribute.
std::vector<HistoryEntry> MergedHistory(
    absl::Span<const HistoryEntry> history) {
  std::vector<HistoryEntry> merged(history.begin(), history.end());
  std::stable_sort(merged.begin(), merged.end(),
                   [](const HistoryEntry& a, const HistoryEntry& b) {
                     return a.index < b.index;
                   });
  std::vector<HistoryEntry> out;
  out.reserve(merged.size());
  for (const HistoryEntry& e : merged) {
    if (!out.empty() && out.back().index == e.index) {
      out.back().weight += e.weight;
    } else {
      out.push_back(e);
    }
  }
  std::erase_if(out, [](const HistoryEntry& e) { return e.weight == 0.0f; });
  return out;
}

// The largest `limit` of `all` (zeros dropped), descending, ties by index.
std::vector<Contribution> Largest(std::vector<Contribution> all, size_t limit) {
  std::erase_if(all, [](const Contribution& c) { return c.contribution == 0; });
  auto before = [](const Contribution& a, const Contribution& b) {
    if (a.contribution != b.contribution)
      return a.contribution > b.contribution;
    return a.index < b.index;
  };
  if (all.size() > limit) {
    std::partial_sort(all.begin(), all.begin() + limit, all.end(), before);
    all.resize(limit);
  } else {
    std::sort(all.begin(), all.end(), before);
  }
  return all;
}

// Weight of B[row, item] in a CSR matrix (0 when not stored).
float CsrAt(const CsrWeights& b, uint32_t row, uint32_t item) {
  const uint32_t* first = b.indices + b.offsets[row];
  const uint32_t* last = b.indices + b.offsets[row + 1];
  const uint32_t* it = std::lower_bound(first, last, item);
  if (it == last || *it != item) return 0.0f;
  return b.weight(static_cast<size_t>(it - b.indices));
}

// Items explained between two should_stop checks (and, for factor models,
// rows of the right factor widened at once).
constexpr size_t kItemsPerChunk = 64;

}  // namespace

absl::StatusOr<std::vector<std::vector<Contribution>>> ExplainFactorScores(
    const WeightRows& left, const WeightRows& right,
    absl::Span<const float> scale, absl::Span<const HistoryEntry> history,
    absl::Span<const ScoredItem> items, size_t max_contributions,
    const std::function<bool()>& should_stop) {
  const std::vector<HistoryEntry> terms = MergedHistory(history);
  std::vector<std::vector<Contribution>> out(items.size());
  if (terms.empty() || items.empty() || max_contributions == 0) return out;
  // Both sides widened into contiguous float32 rows, so one DotRowsBatch
  // call per chunk of items computes every <L_i, R_j>: dots[b·h + i] =
  // <L_i, R_{items[b0 + b]}>.
  const size_t dim = left.dim;
  const size_t h = terms.size();
  std::vector<float> l(h * dim);
  for (size_t t = 0; t < h; ++t) {
    ReadRow(left, terms[t].index, dim, l.data() + t * dim);
  }
  std::vector<float> r(kItemsPerChunk * dim);
  std::vector<float> dots(kItemsPerChunk * h);
  for (size_t b0 = 0; b0 < items.size(); b0 += kItemsPerChunk) {
    if (should_stop && should_stop()) return ScanStoppedError();
    const size_t count = std::min(kItemsPerChunk, items.size() - b0);
    for (size_t b = 0; b < count; ++b) {
      ReadRow(right, items[b0 + b].index, dim, r.data() + b * dim);
    }
    DotRowsBatch(DType::kFloat32, l.data(), dim, h, r.data(), dim, count, dim,
                 dots.data(), h);
    for (size_t b = 0; b < count; ++b) {
      const uint32_t j = items[b0 + b].index;
      const float s = scale.empty() ? 1.0f : scale[j];
      std::vector<Contribution> all(h);
      for (size_t t = 0; t < h; ++t) {
        all[t] = {terms[t].index, terms[t].weight * dots[b * h + t] * s};
      }
      out[b0 + b] = Largest(std::move(all), max_contributions);
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<Contribution>>> ExplainScores(
    const Model& model, absl::Span<const HistoryEntry> history,
    absl::Span<const ScoredItem> items, size_t max_contributions,
    const std::function<bool()>& should_stop) {
  if (model.kind() == ModelKind::kLowRank) {
    return ExplainFactorScores(model.u_rows(), model.v_rows(), {}, history,
                               items, max_contributions, should_stop);
  }
  const std::vector<HistoryEntry> terms = MergedHistory(history);
  std::vector<std::vector<Contribution>> out(items.size());
  if (terms.empty() || max_contributions == 0) return out;
  const bool sparse = model.kind() == ModelKind::kSparse;
  for (size_t b = 0; b < items.size(); ++b) {
    if (b % kItemsPerChunk == 0 && should_stop && should_stop()) {
      return ScanStoppedError();
    }
    const uint32_t j = items[b].index;
    std::vector<Contribution> all(terms.size());
    for (size_t t = 0; t < terms.size(); ++t) {
      const uint32_t i = terms[t].index;
      const float w = sparse ? CsrAt(model.sparse_rows(), i, j)
                             : WeightAt(model.dense_rows(), i, j);
      all[t] = {i, terms[t].weight * w};
    }
    out[b] = Largest(std::move(all), max_contributions);
  }
  return out;
}

}  // namespace edlae
