// FactorSparseGram: CHOLMOD analyze, the memory estimate of each method, then
// CHOLMOD's complete factor or the incomplete one
// (trainer/incomplete_cholesky.h) on CHOLMOD's ordering.
#include "trainer/sparse_factor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/seconds_since.h"
#include "core/status_macros.h"
#include "trainer/incomplete_cholesky.h"
#include "trainer/parallel.h"

extern "C" {
#include <cholmod.h>
}

namespace edlae {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

size_t ToBytes(double bytes) {
  return bytes >= static_cast<double>(std::numeric_limits<size_t>::max())
             ? std::numeric_limits<size_t>::max()
             : static_cast<size_t>(bytes);
}

}  // namespace

const char* CholmodOrderingName(int ordering) {
  switch (ordering) {
    case CHOLMOD_NATURAL:
      return "natural";
    case CHOLMOD_GIVEN:
      return "given";
    case CHOLMOD_AMD:
      return "amd";
    case CHOLMOD_METIS:
      return "metis";
    case CHOLMOD_NESDIS:
      return "nesdis";
    case CHOLMOD_COLAMD:
      return "colamd";
    case CHOLMOD_POSTORDERED:
      return "postordered";
    default:
      return "unknown";
  }
}

std::optional<FactorizationMethod> ParseFactorizationMethod(
    std::string_view name) {
  if (name == "auto") return FactorizationMethod::kAuto;
  if (name == "complete") return FactorizationMethod::kComplete;
  if (name == "incomplete") return FactorizationMethod::kIncomplete;
  return std::nullopt;
}

const char* FactorizationMethodName(FactorizationMethod method) {
  switch (method) {
    case FactorizationMethod::kAuto:
      return "auto";
    case FactorizationMethod::kComplete:
      return "complete";
    case FactorizationMethod::kIncomplete:
      return "incomplete";
  }
  return "unknown";
}

// A cholmod_common and the objects made with it (freed with it), or the
// incomplete factor's own arrays.
struct SparseFactor::Impl {
  Impl() {
    cholmod_l_start(&common);
    common.print = 0;  // errors come back as statuses
    common.final_ll = 1;
  }
  ~Impl() {
    FreeCholmod();
    cholmod_l_finish(&common);
  }
  void FreeCholmod() {
    if (a != nullptr) cholmod_l_free_sparse(&a, &common);
    if (l != nullptr) cholmod_l_free_factor(&l, &common);
  }

  absl::Status StatusOf(const char* what) const {
    if (common.status == CHOLMOD_OUT_OF_MEMORY) {
      return absl::ResourceExhaustedError(
          absl::StrCat("CHOLMOD ran out of memory in ", what));
    }
    if (common.status < CHOLMOD_OK) {
      return absl::InternalError(absl::StrCat(
          "CHOLMOD ", what, " failed with status ", common.status));
    }
    return absl::OkStatus();
  }

  cholmod_common common;
  cholmod_sparse* a = nullptr;
  cholmod_factor* l = nullptr;
  // The incomplete factor (l == nullptr then).
  std::vector<int64_t> p, i, perm;
  std::vector<double> x;
  SparseFactorReport report;
};

SparseFactor::SparseFactor() = default;
SparseFactor::SparseFactor(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
SparseFactor::~SparseFactor() = default;
SparseFactor::SparseFactor(SparseFactor&&) noexcept = default;
SparseFactor& SparseFactor::operator=(SparseFactor&&) noexcept = default;

const SparseFactorReport& SparseFactor::report() const { return impl_->report; }

FactorView SparseFactor::view() const {
  FactorView f;
  if (impl_->l != nullptr) {
    const cholmod_factor* l = impl_->l;
    f.n = l->n;
    f.p = static_cast<const int64_t*>(l->p);
    f.i = static_cast<const int64_t*>(l->i);
    f.x = static_cast<const double*>(l->x);
    f.perm = static_cast<const int64_t*>(l->Perm);
    f.complete = true;
  } else {
    f.n = impl_->perm.size();
    f.p = impl_->p.data();
    f.i = impl_->i.data();
    f.x = impl_->x.data();
    f.perm = impl_->perm.data();
    f.complete = false;
  }
  return f;
}

void SparseFactor::Release() {
  impl_->FreeCholmod();
  std::vector<int64_t>().swap(impl_->p);
  std::vector<int64_t>().swap(impl_->i);
  std::vector<int64_t>().swap(impl_->perm);
  std::vector<double>().swap(impl_->x);
}

namespace {

// P·A·Pᵀ's lower triangle (rows ascending, diagonal first) from CHOLMOD's
// lower-triangular A and the permutation (row k = item perm[k]).
LowerCsc PermuteLower(const cholmod_sparse& a, const int64_t* perm,
                      int threads) {
  const size_t n = a.nrow;
  const auto* ap = static_cast<const int64_t*>(a.p);
  const auto* ai = static_cast<const int64_t*>(a.i);
  const auto* ax = static_cast<const double*>(a.x);
  std::vector<int64_t> inverse(n);
  for (size_t k = 0; k < n; ++k) inverse[perm[k]] = static_cast<int64_t>(k);
  LowerCsc out;
  out.n = n;
  out.p.assign(n + 1, 0);
  const size_t nnz = static_cast<size_t>(ap[n]);
  for (size_t j = 0; j < n; ++j) {
    for (int64_t q = ap[j]; q < ap[j + 1]; ++q) {
      ++out.p[std::min(inverse[ai[q]], inverse[j]) + 1];
    }
  }
  for (size_t k = 0; k < n; ++k) out.p[k + 1] += out.p[k];
  out.i.resize(nnz);
  out.x.resize(nnz);
  std::vector<int64_t> fill(out.p.begin(), out.p.end() - 1);
  for (size_t j = 0; j < n; ++j) {
    for (int64_t q = ap[j]; q < ap[j + 1]; ++q) {
      const int64_t r = inverse[ai[q]], c = inverse[j];
      const int64_t at = fill[std::min(r, c)]++;
      out.i[at] = std::max(r, c);
      out.x[at] = ax[q];
    }
  }
  ParallelFor(n, 256, threads, [&](size_t begin, size_t end) {
    std::vector<std::pair<int64_t, double>> column;
    for (size_t k = begin; k < end; ++k) {
      column.clear();
      for (int64_t q = out.p[k]; q < out.p[k + 1]; ++q) {
        column.emplace_back(out.i[q], out.x[q]);
      }
      std::sort(column.begin(), column.end());
      int64_t q = out.p[k];
      for (const auto& [row, value] : column) {
        out.i[q] = row;
        out.x[q++] = value;
      }
    }
  });
  return out;
}

// Estimated process peak (bytes) of the complete factorization, after
// CHOLMOD's analysis.
double CompleteEstimate(const cholmod_factor& symbolic, double lnz, size_t n,
                        size_t nnz_a, const SparseFactorOptions& options) {
  const double base = static_cast<double>(options.base_bytes);
  const double with = static_cast<double>(options.later.with_factor);
  const double after = static_cast<double>(options.later.after_factor);
  const double a_bytes = 16.0 * nnz_a + 8.0 * n;    // CHOLMOD's A (int64)
  const double simplicial = 16.0 * lnz + 40.0 * n;  // i, x; p, nz, prev, …
  double factorize = a_bytes + simplicial;
  double convert = 0;
  if (symbolic.is_super) {
    const double super = 8.0 * symbolic.xsize + 8.0 * symbolic.ssize +
                         8.0 * symbolic.maxcsize + 32.0 * n;
    factorize = a_bytes + super;
    convert = super + simplicial;  // super → simplicial keeps both briefly
  }
  return base + std::max({factorize, convert, simplicial + with, after});
}

// The same for the incomplete one: A next to its permuted copy; then that
// copy next to L (at most `fill` times A's entries) and O(n) lists.
double IncompleteEstimate(size_t n, size_t nnz_a,
                          const SparseFactorOptions& options) {
  const double base = static_cast<double>(options.base_bytes);
  const double with = static_cast<double>(options.later.with_factor);
  const double after = static_cast<double>(options.later.after_factor);
  const double a_bytes = 16.0 * nnz_a + 8.0 * n;
  const double own = 16.0 * nnz_a + 8.0 * n;
  const double factor = options.incomplete_fill * own;
  return base + std::max({a_bytes + own, own + factor + 64.0 * n, factor + with,
                          after});
}

// Items by ascending degree in G's graph (ties by index): the static
// ordering of the incomplete factor when no analysis ran. Like minimum
// degree it eliminates sparse items first and leaves the popular ones,
// whose columns would fill most, to the end.
std::vector<int64_t> DegreeOrdering(const cholmod_sparse& a) {
  const size_t n = a.nrow;
  const auto* ap = static_cast<const int64_t*>(a.p);
  const auto* ai = static_cast<const int64_t*>(a.i);
  std::vector<int64_t> degree(n, 0);
  for (size_t j = 0; j < n; ++j) {
    degree[j] += ap[j + 1] - ap[j] - 1;
    for (int64_t q = ap[j] + 1; q < ap[j + 1]; ++q) ++degree[ai[q]];
  }
  std::vector<int64_t> perm(n);
  for (size_t k = 0; k < n; ++k) perm[k] = static_cast<int64_t>(k);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int64_t x, int64_t y) { return degree[x] < degree[y]; });
  return perm;
}

std::string GiB(double bytes) {
  return absl::StrFormat("%.2f GiB", bytes / kGiB);
}

}  // namespace

absl::StatusOr<SparseFactor> FactorSparseGram(
    SparseGram g, const std::vector<double>& diagonal_shift,
    const SparseFactorOptions& options, std::ostream* log) {
  const size_t n = g.n;
  if (diagonal_shift.size() != n) {
    return absl::InvalidArgumentError("diagonal shift must have n entries");
  }
  auto impl = std::make_unique<SparseFactor::Impl>();
  SparseFactorReport& report = impl->report;
  cholmod_common* cc = &impl->common;
  const size_t nnz_a = g.nnz_upper();
  report.nnz_a_lower = nnz_a;
  const size_t limit = options.memory_limit_bytes;

  // The analysis (AMD on the symmetric pattern) needs about twice A's
  // pattern again; refuse before it when even that cannot fit.
  const double analysis_bytes =
      static_cast<double>(options.base_bytes) + 40.0 * nnz_a + 64.0 * n;
  if (limit > 0 && analysis_bytes > static_cast<double>(limit)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the sparse Gram matrix (nnz %d) alone needs about %s to order, more "
        "than the %s allowed: raise --min-cooccurrence, drop rare items "
        "(--min-item-count) or allow more memory",
        g.nnz_full(), GiB(analysis_bytes), GiB(static_cast<double>(limit))));
  }

  // A = G + dMat(shift), lower triangle in CSC (= G's upper CSR rows).
  impl->a = cholmod_l_allocate_sparse(n, n, nnz_a, /*sorted=*/1, /*packed=*/1,
                                      /*stype=*/-1, CHOLMOD_REAL, cc);
  if (impl->a == nullptr) return impl->StatusOf("allocate");
  {
    auto* ap = static_cast<int64_t*>(impl->a->p);
    auto* ai = static_cast<int64_t*>(impl->a->i);
    auto* ax = static_cast<double*>(impl->a->x);
    for (size_t i = 0; i <= n; ++i) ap[i] = static_cast<int64_t>(g.offsets[i]);
    for (size_t q = 0; q < nnz_a; ++q) {
      ai[q] = g.indices[q];
      ax[q] = g.values[q];
    }
    for (size_t i = 0; i < n; ++i) {
      ax[g.offsets[i]] += diagonal_shift[i];
      // A positive definite A has a positive diagonal; both methods would
      // otherwise fail (complete) or shift it silently (incomplete).
      if (!(ax[g.offsets[i]] > 0)) {
        return absl::FailedPreconditionError(
            absl::StrCat("G + Λ is not positive definite: item ", i,
                         " has diagonal ", ax[g.offsets[i]],
                         " (e.g. λ = 0 with an unused item); increase lambda"));
      }
    }
  }
  g = SparseGram();  // A holds it now

  // The incomplete factorization asked for: a static degree ordering, no
  // analysis (AMD alone takes minutes on 10⁸ entries).
  auto start = Clock::now();
  FactorizationMethod method = options.method;
  const double incomplete_estimate = IncompleteEstimate(n, nnz_a, options);
  report.incomplete_peak_bytes = ToBytes(incomplete_estimate);
  double complete_estimate = 0;
  if (method == FactorizationMethod::kIncomplete) {
    impl->perm = DegreeOrdering(*impl->a);
    report.ordering = "degree";
  } else {
    // AMD first; CHOLMOD's full strategy (AMD, then METIS when AMD fills
    // badly: nnz(L) ≥ 5·nnz(A) and flops ≥ 500·nnz(L)) only where a better
    // ordering could make the complete factor fit: METIS on a large graph
    // costs minutes, and the incomplete factor only needs an ordering.
    cc->nmethods = 1;
    cc->method[0].ordering = CHOLMOD_AMD;
    impl->l = cholmod_l_analyze(impl->a, cc);
    if (impl->l == nullptr) return impl->StatusOf("analyze");
    complete_estimate = CompleteEstimate(*impl->l, cc->lnz, n, nnz_a, options);
    const bool fills_badly =
        cc->lnz >= 5.0 * nnz_a && cc->fl >= 500.0 * cc->lnz;
    constexpr double kBestOrderingGain = 3.0;  // METIS over AMD, at most
    if (fills_badly &&
        (limit == 0 || method == FactorizationMethod::kComplete ||
         complete_estimate <= kBestOrderingGain * static_cast<double>(limit))) {
      cholmod_l_free_factor(&impl->l, cc);
      cc->nmethods = 0;  // CHOLMOD's default strategy
      impl->l = cholmod_l_analyze(impl->a, cc);
      if (impl->l == nullptr) return impl->StatusOf("analyze");
      complete_estimate =
          CompleteEstimate(*impl->l, cc->lnz, n, nnz_a, options);
    }
    report.ordering = CholmodOrderingName(cc->method[cc->selected].ordering);
    report.complete_nnz = cc->lnz;
    report.complete_flops = cc->fl;
    report.complete_peak_bytes = ToBytes(complete_estimate);
    if (method == FactorizationMethod::kAuto) {
      method = limit == 0 || complete_estimate <= static_cast<double>(limit)
                   ? FactorizationMethod::kComplete
                   : FactorizationMethod::kIncomplete;
    }
  }
  report.analyze_seconds = SecondsSince(start);
  report.method = method;
  if (log) {
    const std::string complete =
        options.method == FactorizationMethod::kIncomplete
            ? std::string("not analyzed (--factorization incomplete)")
            : absl::StrFormat(
                  "nnz(L) = %.4g (%.3g GFlop, %s ordering, analyzed in %.1f "
                  "s) → peak %s",
                  cc->lnz, cc->fl / 1e9, report.ordering,
                  report.analyze_seconds, GiB(complete_estimate));
    *log << absl::StrFormat(
        "[train] sparse memory estimate: complete factor %s; incomplete "
        "(nnz(L) ≤ %.4g) → peak %s; limit %s → %s\n",
        complete, options.incomplete_fill * nnz_a, GiB(incomplete_estimate),
        limit == 0 ? std::string("none") : GiB(static_cast<double>(limit)),
        FactorizationMethodName(method));
  }
  const double chosen = method == FactorizationMethod::kComplete
                            ? complete_estimate
                            : incomplete_estimate;
  if (limit > 0 && chosen > static_cast<double>(limit)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the %s factorization needs about %s (complete %s, incomplete %s) but "
        "only %s is allowed: lower --density, raise --min-cooccurrence, drop "
        "rare items (--min-item-count) or allow more memory",
        FactorizationMethodName(method), GiB(chosen),
        complete_estimate > 0 ? GiB(complete_estimate) : "not analyzed",
        GiB(incomplete_estimate), GiB(static_cast<double>(limit))));
  }

  start = Clock::now();
  if (method == FactorizationMethod::kComplete) {
    cholmod_l_factorize(impl->a, impl->l, cc);
    if (cc->status == CHOLMOD_NOT_POSDEF ||
        (cc->status >= CHOLMOD_OK && impl->l->minor < n)) {
      return absl::FailedPreconditionError(
          "G + Λ is not positive definite (e.g. λ = 0 with an unused item); "
          "increase lambda");
    }
    RETURN_IF_ERROR(impl->StatusOf("factorize"));
    cholmod_l_free_sparse(&impl->a, cc);
    if (!cholmod_l_change_factor(CHOLMOD_REAL, /*to_ll=*/1, /*to_super=*/0,
                                 /*to_packed=*/1, /*to_monotonic=*/1, impl->l,
                                 cc)) {
      return impl->StatusOf("change_factor");
    }
    report.nnz_factor =
        static_cast<size_t>(static_cast<const int64_t*>(impl->l->p)[n]);
  } else {
    if (impl->l != nullptr) {  // auto: CHOLMOD's ordering
      const auto* l_perm = static_cast<const int64_t*>(impl->l->Perm);
      impl->perm.assign(l_perm, l_perm + n);
      cholmod_l_free_factor(&impl->l, cc);
    }
    LowerCsc pa = PermuteLower(*impl->a, impl->perm.data(),
                               ResolveThreadCount(options.num_threads));
    cholmod_l_free_sparse(&impl->a, cc);
    IncompleteCholeskyOptions ic;
    ic.fill = options.incomplete_fill;
    ic.max_per_column = options.incomplete_max_per_column;
    IncompleteCholeskyReport ic_report;
    absl::StatusOr<LowerCsc> l = IncompleteCholesky(pa, ic, &ic_report);
    if (!l.ok()) return l.status();
    pa = LowerCsc();
    report.replaced_pivots = ic_report.replaced_pivots;
    impl->p = std::move(l->p);
    impl->i = std::move(l->i);
    impl->x = std::move(l->x);
    report.nnz_factor = impl->i.size();
  }
  report.factorize_seconds = SecondsSince(start);
  return SparseFactor(std::move(impl));
}

}  // namespace edlae
