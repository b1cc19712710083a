// Ranking metrics of Liang et al. 2018 (Recall@k, nDCG@k, binary relevance) and
// their mean ± standard error.
#ifndef EDLAE_EVALUATION_RANKING_METRICS_H_
#define EDLAE_EVALUATION_RANKING_METRICS_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace edlae {

// `ranked`: the recommended item indices, best first, distinct (it may be
// shorter than k, e.g. when the catalog is small). `targets`: the user's
// held-out items, sorted ascending and distinct. Ties in score were broken by
// whoever produced `ranked` (edlae: lower item index first).
//
// Recall@k = |top-k ∩ targets| / min(k, |targets|)   (Liang et al. 2018).
// Returns NaN when `targets` is empty or k == 0: the user has no defined
// value and must be left out of averages.
double RecallAtK(absl::Span<const uint32_t> ranked,
                 absl::Span<const uint32_t> targets, size_t k);

// Recall@k as NGCF, LightGCN and KGAT define it (weak generalization):
// |top-k ∩ targets| / |targets|, so a user with more than k targets cannot
// reach 1. NaN when `targets` is empty or k == 0.
double RecallOfAllAtK(absl::Span<const uint32_t> ranked,
                      absl::Span<const uint32_t> targets, size_t k);

// nDCG@k with binary relevance: DCG = Σ_{r < k, ranked[r] ∈ targets}
// 1 / log2(r + 2), divided by the ideal DCG Σ_{r < min(|targets|, k)}
// 1 / log2(r + 2). NaN when `targets` is empty or k == 0.
double NdcgAtK(absl::Span<const uint32_t> ranked,
               absl::Span<const uint32_t> targets, size_t k);

struct MetricSummary {
  double mean = 0;
  // Standard error of the mean: population standard deviation / sqrt(n), i.e.
  // np.std(values) / np.sqrt(n) as in the published VAE-CF code.
  double std_error = 0;
  size_t count = 0;  // values averaged (NaNs skipped)
};

// Mean and standard error over the non-NaN `values` (count 0 → mean 0).
MetricSummary Summarize(absl::Span<const double> values);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_RANKING_METRICS_H_
