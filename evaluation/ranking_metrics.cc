// Recall@k, nDCG@k and mean ± standard error, as in the published VAE-CF
// evaluation code.
#include "evaluation/ranking_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace edlae {
namespace {

bool IsTarget(absl::Span<const uint32_t> targets, uint32_t item) {
  return std::binary_search(targets.begin(), targets.end(), item);
}

size_t Hits(absl::Span<const uint32_t> ranked,
            absl::Span<const uint32_t> targets, size_t k) {
  const size_t depth = std::min(k, ranked.size());
  size_t hits = 0;
  for (size_t r = 0; r < depth; ++r) hits += IsTarget(targets, ranked[r]);
  return hits;
}

}  // namespace

double RecallAtK(absl::Span<const uint32_t> ranked,
                 absl::Span<const uint32_t> targets, size_t k) {
  if (targets.empty() || k == 0)
    return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(Hits(ranked, targets, k)) /
         static_cast<double>(std::min(k, targets.size()));
}

double RecallOfAllAtK(absl::Span<const uint32_t> ranked,
                      absl::Span<const uint32_t> targets, size_t k) {
  if (targets.empty() || k == 0)
    return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(Hits(ranked, targets, k)) /
         static_cast<double>(targets.size());
}

double NdcgAtK(absl::Span<const uint32_t> ranked,
               absl::Span<const uint32_t> targets, size_t k) {
  if (targets.empty() || k == 0)
    return std::numeric_limits<double>::quiet_NaN();
  const size_t depth = std::min(k, ranked.size());
  double dcg = 0;
  for (size_t r = 0; r < depth; ++r) {
    if (IsTarget(targets, ranked[r])) dcg += 1.0 / std::log2(r + 2.0);
  }
  double ideal = 0;
  const size_t ideal_depth = std::min(k, targets.size());
  for (size_t r = 0; r < ideal_depth; ++r) ideal += 1.0 / std::log2(r + 2.0);
  return dcg / ideal;
}

MetricSummary Summarize(absl::Span<const double> values) {
  MetricSummary s;
  double sum = 0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++s.count;
  }
  if (s.count == 0) return s;
  s.mean = sum / static_cast<double>(s.count);
  double squares = 0;
  for (double v : values) {
    if (!std::isnan(v)) squares += (v - s.mean) * (v - s.mean);
  }
  const double n = static_cast<double>(s.count);
  s.std_error = std::sqrt(squares / n) / std::sqrt(n);
  return s;
}

}  // namespace edlae
