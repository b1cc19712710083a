// IncompleteCholesky: left-looking columns from linked lists of the earlier
// columns that update them.
#include "trainer/incomplete_cholesky.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace edlae {

absl::StatusOr<LowerCsc> IncompleteCholesky(
    const LowerCsc& a, const IncompleteCholeskyOptions& options,
    IncompleteCholeskyReport* report) {
  const size_t n = a.n;
  if (!(options.fill > 0)) {
    return absl::InvalidArgumentError("fill must be > 0");
  }
  if (a.p.size() != n + 1 || a.p[0] != 0 ||
      a.i.size() != static_cast<size_t>(a.p[n]) || a.x.size() != a.i.size()) {
    return absl::InvalidArgumentError("malformed lower CSC matrix");
  }
  std::vector<double> inv_sqrt_diag(n);
  for (size_t j = 0; j < n; ++j) {
    if (a.p[j] >= a.p[j + 1] || a.i[a.p[j]] != static_cast<int64_t>(j)) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", j, " does not start with its diagonal"));
    }
    const double d = a.x[a.p[j]];
    if (!(d > 0) || !std::isfinite(d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("diagonal ", j, " is ", d, ", not positive"));
    }
    inv_sqrt_diag[j] = 1.0 / std::sqrt(d);
  }

  LowerCsc l;
  l.n = n;
  l.p.assign(n + 1, 0);
  const double reserve =
      std::min(static_cast<double>(a.i.size()) * std::max(1.0, options.fill),
               static_cast<double>(a.i.size()) + 1e9);
  l.i.reserve(static_cast<size_t>(reserve));
  l.x.reserve(static_cast<size_t>(reserve));
  // Column k's next unused entry (rows ascending: its row is the next column
  // k updates) and the intrusive lists of columns waiting on each row.
  std::vector<int64_t> next_entry(n, 0);
  std::vector<int64_t> head(n, -1), link(n, -1);
  std::vector<double> work(n, 0.0);
  std::vector<double> compensation(n, 0.0);  // dropped mass, per diagonal
  std::vector<uint8_t> marked(n, 0);
  std::vector<int64_t> pattern;
  std::vector<std::pair<double, int64_t>> candidates;  // (−scaled |v|, row)
  size_t replaced = 0;
  auto enqueue = [&](int64_t k) {
    // Called when next_entry[k] points at an entry of row r > k.
    const int64_t r = l.i[next_entry[k]];
    link[k] = head[r];
    head[r] = k;
  };
  for (size_t j = 0; j < n; ++j) {
    pattern.clear();
    for (int64_t q = a.p[j] + 1; q < a.p[j + 1]; ++q) {
      const int64_t r = a.i[q];
      work[r] = a.x[q];
      marked[r] = 1;
      pattern.push_back(r);
    }
    double pivot = a.x[a.p[j]];
    // Every earlier column k with a kept L[j][k]: subtract L[r][k]·L[j][k].
    int64_t k = head[j];
    head[j] = -1;
    while (k >= 0) {
      const int64_t following = link[k];
      const int64_t at = next_entry[k];
      const double ljk = l.x[at];
      pivot -= ljk * ljk;
      for (int64_t q = at + 1; q < l.p[k + 1]; ++q) {
        const int64_t r = l.i[q];
        if (!marked[r]) {
          marked[r] = 1;
          work[r] = 0.0;
          pattern.push_back(r);
        }
        work[r] -= l.x[q] * ljk;
      }
      next_entry[k] = at + 1;
      if (at + 1 < l.p[k + 1]) enqueue(k);
      k = following;
    }
    const double a_jj = a.x[a.p[j]];
    pivot += compensation[j];
    // Keep the largest entries of the column (Jacobi-scaled), rows ascending;
    // each dropped Schur complement entry s = S[r][j] moves to the two
    // diagonals (Ajiz & Jennings): |s|·√(A_jj/A_rr) to this pivot and
    // |s|·√(A_rr/A_jj) to row r's, which keeps the remaining Schur complement
    // positive semidefinite, so L·Lᵀ = A + E with E ⪰ 0 and no breakdown in
    // exact arithmetic.
    const size_t below = static_cast<size_t>(a.p[j + 1] - a.p[j] - 1);
    size_t keep = std::min(pattern.size(),
                           static_cast<size_t>(std::ceil(
                               options.fill * static_cast<double>(below))));
    if (options.max_per_column > 0) {
      keep = std::min(keep, options.max_per_column);
    }
    candidates.clear();
    for (int64_t r : pattern) {
      const double v = work[r];
      work[r] = 0.0;
      marked[r] = 0;
      if (v != 0.0) candidates.emplace_back(v, r);
    }
    if (candidates.size() > keep) {
      std::nth_element(candidates.begin(), candidates.begin() + keep,
                       candidates.end(), [&](const auto& x, const auto& y) {
                         return std::abs(x.first) * inv_sqrt_diag[x.second] >
                                std::abs(y.first) * inv_sqrt_diag[y.second];
                       });
      const double sqrt_a_jj = 1.0 / inv_sqrt_diag[j];
      for (size_t q = keep; q < candidates.size(); ++q) {
        const auto [s_rj, r] = candidates[q];
        pivot += std::abs(s_rj) * sqrt_a_jj * inv_sqrt_diag[r];
        compensation[r] += std::abs(s_rj) / (sqrt_a_jj * inv_sqrt_diag[r]);
      }
      candidates.resize(keep);
    }
    if (!(pivot > options.pivot_floor * a_jj)) {  // rounding, or not SPD
      pivot = a_jj;
      ++replaced;
    }
    const double l_jj = std::sqrt(pivot);
    for (auto& candidate : candidates) candidate.first /= l_jj;
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& x, const auto& y) { return x.second < y.second; });
    l.i.push_back(static_cast<int64_t>(j));
    l.x.push_back(l_jj);
    for (const auto& [v, r] : candidates) {
      l.i.push_back(r);
      l.x.push_back(v);
    }
    l.p[j + 1] = static_cast<int64_t>(l.i.size());
    next_entry[j] = l.p[j] + 1;
    if (next_entry[j] < l.p[j + 1]) enqueue(static_cast<int64_t>(j));
  }
  l.i.shrink_to_fit();
  l.x.shrink_to_fit();
  if (report != nullptr) report->replaced_pivots = replaced;
  return l;
}

}  // namespace edlae
