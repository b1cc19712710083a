// Sparse closed forms: a (complete or incomplete) factor L·Lᵀ ≈ P(G + Λ)Pᵀ,
// pruned W ≈ L⁻¹ by sparse triangular solves, C ≈ WᵀW, pruned B rows.
#include "trainer/sparse_solver.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/progress.h"
#include "common/seconds_since.h"
#include "core/model_convert.h"
#include "trainer/parallel.h"
#include "trainer/sparse_factor.h"
#include "trainer/sparse_neighborhood.h"
#include "trainer/train.h"

namespace edlae {
namespace {

using Clock = std::chrono::steady_clock;

// W ≈ L⁻¹ in CSC form, lower triangular.
struct InverseFactor {
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> rows;
  std::vector<double> values;
  // ‖column j of L⁻¹‖² = C[j][j] (in P·A·Pᵀ order), summed before pruning:
  // exact up to the drop tolerance.
  std::vector<double> squared_norms;
};

// Solves L·w = e_j for each column j of W ≈ L⁻¹, then keeps the `keep`
// largest |w_kj| (and w_jj). For a complete factor the nonzeros lie on j's
// path to the root of the elimination tree (parent(k) = the smallest
// off-diagonal row of L's column k): walk it. For an incomplete one they lie
// wherever L's graph reaches from j: visit the touched rows in ascending
// order from a min-heap.
// For an incomplete factor at most `max_propagated` entries per column
// (0: all) update the entries above them; the rest are solved with what
// has reached them and kept, like entries below the drop tolerance.
InverseFactor InvertFactor(const FactorView& f, size_t keep,
                           double drop_tolerance, size_t max_propagated,
                           int threads, ProgressMeter* progress) {
  const size_t n = f.n;
  std::vector<int64_t> parent(f.complete ? n : 0, -1);
  for (size_t k = 0; k < parent.size(); ++k) {
    int64_t best = -1;
    for (int64_t q = f.p[k] + 1; q < f.p[k + 1]; ++q) {
      if (best < 0 || f.i[q] < best) best = f.i[q];
    }
    parent[k] = best;
  }
  constexpr size_t kChunk = 64;
  const size_t num_chunks = (n + kChunk - 1) / kChunk;
  struct Chunk {
    std::vector<uint32_t> col_nnz, rows;
    std::vector<double> values;
  };
  std::vector<Chunk> chunks(num_chunks);
  InverseFactor w;
  w.squared_norms.assign(n, 0.0);
  std::atomic<size_t> next{0};
  RunThreads(threads, [&] {
    std::vector<double> work(n, 0.0);
    std::vector<uint8_t> queued(f.complete ? 0 : n, 0);
    std::vector<int64_t> heap;  // min-heap of touched rows (incomplete)
    std::vector<std::pair<uint32_t, double>> column;
    for (;;) {
      const size_t c = next.fetch_add(1);
      if (c >= num_chunks) return;
      Chunk& out = chunks[c];
      const size_t begin = c * kChunk, end = std::min(n, begin + kChunk);
      for (size_t j = begin; j < end; ++j) {
        column.clear();
        double squared_norm = 0;
        work[j] = 1.0;
        const double diag = 1.0 / f.x[f.p[j]];
        const double drop = drop_tolerance * std::abs(diag);
        // Takes w_kj from the work vector; returns false when it is not
        // propagated (zero, or kept but below the drop tolerance: the error
        // in the entries above it is of the order of drop · |w_jj| · |L|).
        auto solve = [&](int64_t k) {
          const double v = work[k] / f.x[f.p[k]];
          work[k] = 0.0;
          if (v == 0.0) return false;
          column.emplace_back(static_cast<uint32_t>(k), v);
          squared_norm += v * v;
          return !(std::abs(v) < drop && k != static_cast<int64_t>(j));
        };
        if (f.complete) {
          for (int64_t k = static_cast<int64_t>(j); k >= 0; k = parent[k]) {
            if (!solve(k)) continue;
            for (int64_t q = f.p[k] + 1; q < f.p[k + 1]; ++q) {
              work[f.i[q]] -= f.x[q] * column.back().second;
            }
          }
        } else {
          heap.assign(1, static_cast<int64_t>(j));
          queued[j] = 1;
          size_t propagated = 0;
          while (!heap.empty()) {
            std::pop_heap(heap.begin(), heap.end(), std::greater<>());
            const int64_t k = heap.back();
            heap.pop_back();
            queued[k] = 0;
            if (!solve(k)) continue;
            if (max_propagated > 0 && propagated++ >= max_propagated) continue;
            const double v = column.back().second;
            for (int64_t q = f.p[k] + 1; q < f.p[k + 1]; ++q) {
              const int64_t r = f.i[q];
              work[r] -= f.x[q] * v;
              if (!queued[r]) {
                queued[r] = 1;
                heap.push_back(r);
                std::push_heap(heap.begin(), heap.end(), std::greater<>());
              }
            }
          }
        }
        if (column.size() > keep) {  // column[0] is the diagonal: keep it
          std::nth_element(column.begin() + 1, column.begin() + keep,
                           column.end(), [](const auto& a, const auto& b) {
                             return std::abs(a.second) > std::abs(b.second);
                           });
          column.resize(keep);
          std::sort(column.begin(), column.end());
        }
        w.squared_norms[j] = squared_norm;
        out.col_nnz.push_back(static_cast<uint32_t>(column.size()));
        for (const auto& [row, v] : column) {
          out.rows.push_back(row);
          out.values.push_back(v);
        }
      }
      progress->Add(end - begin);
    }
  });
  progress->Finish();
  w.offsets.assign(n + 1, 0);
  for (size_t c = 0; c < num_chunks; ++c) {
    for (size_t r = 0; r < chunks[c].col_nnz.size(); ++r) {
      const size_t j = c * kChunk + r;
      w.offsets[j + 1] = w.offsets[j] + chunks[c].col_nnz[r];
    }
  }
  w.rows.resize(w.offsets[n]);
  w.values.resize(w.offsets[n]);
  ParallelFor(num_chunks, 1, threads, [&](size_t begin, size_t end) {
    for (size_t c = begin; c < end; ++c) {
      const uint64_t at = w.offsets[c * kChunk];
      std::copy(chunks[c].rows.begin(), chunks[c].rows.end(),
                w.rows.begin() + at);
      std::copy(chunks[c].values.begin(), chunks[c].values.end(),
                w.values.begin() + at);
      chunks[c] = Chunk();
    }
  });
  return w;
}

// The transpose of `w` (so row k of W: its columns l <= k, ascending).
InverseFactor Transpose(const InverseFactor& w, size_t n) {
  InverseFactor t;
  t.offsets.assign(n + 1, 0);
  for (uint32_t r : w.rows) ++t.offsets[r + 1];
  for (size_t k = 0; k < n; ++k) t.offsets[k + 1] += t.offsets[k];
  t.rows.resize(w.rows.size());
  t.values.resize(w.rows.size());
  std::vector<uint64_t> fill(t.offsets.begin(), t.offsets.end() - 1);
  for (size_t j = 0; j < n; ++j) {
    for (uint64_t q = w.offsets[j]; q < w.offsets[j + 1]; ++q) {
      const uint64_t at = fill[w.rows[q]]++;
      t.rows[at] = static_cast<uint32_t>(j);
      t.values[at] = w.values[q];
    }
  }
  return t;
}

// Keeps at most `max_per_row` entries of each row of W (given as its
// transpose `wt`): the diagonal and the largest |w|. C ≈ WᵀW costs
// Σ_k (row k of W)², and an incomplete factor's late (popular) rows are
// reached from most columns.
void PruneRows(InverseFactor& wt, size_t n, size_t max_per_row, int threads) {
  std::vector<uint64_t> kept(n + 1, 0);
  ParallelFor(n, 256, threads, [&](size_t begin, size_t end) {
    std::vector<std::pair<double, uint64_t>> row;  // (−|w| or −∞ diag, at)
    for (size_t k = begin; k < end; ++k) {
      const uint64_t first = wt.offsets[k], last = wt.offsets[k + 1];
      if (last - first <= max_per_row) {
        kept[k + 1] = last - first;
        continue;
      }
      row.clear();
      for (uint64_t q = first; q < last; ++q) {
        row.emplace_back(wt.rows[q] == k ? -HUGE_VAL : -std::abs(wt.values[q]),
                         q);
      }
      std::nth_element(row.begin(), row.begin() + max_per_row, row.end());
      row.resize(max_per_row);
      std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      });
      uint64_t at = first;
      for (const auto& [unused, q] : row) {
        wt.rows[at] = wt.rows[q];
        wt.values[at++] = wt.values[q];
      }
      kept[k + 1] = max_per_row;
    }
  });
  uint64_t at = 0;
  for (size_t k = 0; k < n; ++k) {
    const uint64_t first = wt.offsets[k];
    for (uint64_t q = first; q < first + kept[k + 1]; ++q) {
      wt.rows[at] = wt.rows[q];
      wt.values[at++] = wt.values[q];
    }
    wt.offsets[k] = at - kept[k + 1];
  }
  wt.offsets[n] = at;
  wt.rows.resize(at);
  wt.values.resize(at);
  wt.rows.shrink_to_fit();
  wt.values.shrink_to_fit();
}

absl::Status Validate(const SolverOptions& solver,
                      const SparseTrainOptions& options) {
  if (solver.algorithm == Algorithm::kZeroDiag) {
    return absl::InvalidArgumentError(
        "zero-diag has no sparse solver (low-rank only)");
  }
  if (!std::isfinite(solver.lambda) || solver.lambda < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lambda must be finite and >= 0, got ", solver.lambda));
  }
  if (!std::isfinite(solver.dropout) || solver.dropout < 0 ||
      solver.dropout >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("dropout must be in [0, 1), got ", solver.dropout));
  }
  if (!(options.density > 0 && options.density <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("density must be in (0, 1], got ", options.density));
  }
  if (!(options.inverse_density >= 0 && options.inverse_density <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inverse density must be in [0, 1], got ", options.inverse_density));
  }
  if (absl::Status s = CheckSparseMethod(options.method, options.factorization,
                                         options.neighborhood_factor);
      !s.ok()) {
    return s;
  }
  if (!std::isfinite(options.drop_tolerance)) {
    return absl::InvalidArgumentError("drop tolerance must be finite");
  }
  return absl::OkStatus();
}

void LogPhase(std::ostream* log, const std::string& what, double seconds) {
  if (!log) return;
  *log << absl::StrFormat("[train] sparse %s: %.3f s, peak RSS %.1f MiB\n",
                          what, seconds, PeakRssBytes() / 1048576.0);
}

// What the phases after the factorization hold (see LaterPhaseBytes): the
// inverse factor's per-chunk buffers (grown by doubling) and its assembled
// arrays next to the factor; then W, its transpose, B's rows and the model.
LaterPhaseBytes EstimateLaterPhases(size_t n, size_t keep_w, size_t keep_b,
                                    int threads) {
  const double entries_w = static_cast<double>(n) * keep_w;
  const double entries_b = static_cast<double>(n) * keep_b;
  const double per_thread = 16.0 * n * threads;  // work vectors
  LaterPhaseBytes later;
  later.with_factor = static_cast<size_t>(36.0 * entries_w + per_thread);
  later.after_factor = static_cast<size_t>(24.0 * entries_w + 16.0 * entries_b +
                                           48.0 * n + per_thread);
  return later;
}

// B by per-column regressions on neighborhoods (SolveNeighborhoods) into
// `model`, whose popularity is set.
absl::StatusOr<SparseModel> SolveByNeighborhoods(
    SparseModel model, SparseGram g, const std::vector<double>& shift,
    const SolverOptions& solver, const SparseTrainOptions& options,
    size_t keep_b, int threads, std::ostream* log) {
  SparseTrainReport& report = model.report;
  const size_t n = g.n;
  const size_t nnz_upper = g.nnz_upper();
  const auto start = Clock::now();
  NeighborhoodOptions o;
  o.keep = keep_b;
  o.neighbors = NeighborsFor(keep_b, n, options.neighborhood_factor);
  o.zero_diagonal = solver.algorithm != Algorithm::kDlae;
  o.num_threads = threads;
  o.progress = options.progress;
  o.max_per_row = kNeighborhoodRowCap * keep_b;
  report.max_per_row = o.max_per_row;
  report.method = SparseMethodName(SparseMethod::kNeighborhoods);
  report.factorization = "none";
  report.neighbors = o.neighbors;
  // The estimate, before the big allocations: what the process holds
  // besides G, plus the solve's own peak (G and its ranked lists, then the
  // lists and B).
  const size_t gram_bytes = g.bytes();
  const size_t rss = CurrentRssBytes();
  report.estimated_peak_bytes =
      (rss > gram_bytes ? rss - gram_bytes : 0) + NeighborhoodPeakBytes(g, o);
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  if (log) {
    *log << absl::StrFormat(
        "[train] sparse memory estimate: neighborhoods (%d neighbors, ≤ %d "
        "weights per column) → peak %.2f GiB%s\n",
        o.neighbors, keep_b, report.estimated_peak_bytes / kGiB,
        options.memory_limit_bytes > 0
            ? absl::StrFormat("; limit %.2f GiB",
                              options.memory_limit_bytes / kGiB)
            : "");
  }
  if (options.memory_limit_bytes > 0 &&
      report.estimated_peak_bytes > options.memory_limit_bytes) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the sparse neighborhood solve needs about %.2f GiB but only %.2f GiB "
        "is allowed; lower --density (B's weights: %d per column) or "
        "--neighborhood-factor, or drop rare items (--min-item-count)",
        report.estimated_peak_bytes / kGiB, options.memory_limit_bytes / kGiB,
        keep_b));
  }
  absl::StatusOr<NeighborhoodModel> b =
      SolveNeighborhoods(std::move(g), shift, o, log);
  if (!b.ok()) return b.status();
  model.offsets = std::move(b->offsets);
  model.indices = std::move(b->indices);
  model.weights = std::move(b->weights);
  report.longest_row = b->longest_row;
  report.nnz_b = model.indices.size();
  report.largest_buffer_elements =
      std::max({report.largest_buffer_elements, report.nnz_b, nnz_upper});
  report.neighborhood_seconds = SecondsSince(start);
  report.peak_rss_bytes = PeakRssBytes();
  LogPhase(log,
           absl::StrFormat("B by neighborhoods (%d neighbors per item, "
                           "nnz(B) = %d, ≤ %d per column, longest row %d "
                           "(cap %d), "
                           "density %.4g)",
                           o.neighbors, report.nnz_b, keep_b,
                           report.longest_row, report.max_per_row,
                           static_cast<double>(report.nnz_b) / n / n),
           report.neighborhood_seconds);
  return model;
}

}  // namespace

absl::Status CheckSparseMethod(SparseMethod method,
                               FactorizationMethod factorization,
                               double neighborhood_factor) {
  if (method == SparseMethod::kNeighborhoods &&
      factorization != FactorizationMethod::kAuto) {
    return absl::InvalidArgumentError(
        "a factorization is for the factor method; the neighborhood "
        "regressions factor nothing");
  }
  if (neighborhood_factor != 0 &&
      !(neighborhood_factor >= 1 && std::isfinite(neighborhood_factor))) {
    return absl::InvalidArgumentError(
        absl::StrCat("neighborhood factor must be 0 (the default) or a "
                     "finite number >= 1, got ",
                     neighborhood_factor));
  }
  if (method == SparseMethod::kFactor && neighborhood_factor != 0) {
    return absl::InvalidArgumentError(
        "a neighborhood factor is for the neighborhoods method");
  }
  return absl::OkStatus();
}

size_t NeighborsFor(size_t keep, size_t n, double factor) {
  if (factor == 0) factor = kDefaultNeighborhoodFactor;
  const size_t scaled = static_cast<size_t>(
      std::ceil(std::max(1.0, factor) * static_cast<double>(keep)));
  return std::min(n, std::max(scaled, std::min(4 * keep, kMinNeighbors)));
}

SparseMethod ResolveSparseMethod(const SparseTrainOptions& options, size_t n) {
  if (options.method != SparseMethod::kAuto) return options.method;
  if (options.density >= 1 ||
      options.factorization != FactorizationMethod::kAuto) {
    return SparseMethod::kFactor;
  }
  const double m =
      static_cast<double>(NeighborsFor(KeepPerRowForDensity(options.density, n),
                                       n, options.neighborhood_factor));
  const double items = static_cast<double>(n);
  return items * m * m * m / 3 > kNeighborhoodCostShare * items * items * items
             ? SparseMethod::kFactor
             : SparseMethod::kNeighborhoods;
}

std::optional<SparseMethod> ParseSparseMethod(std::string_view name) {
  if (name == "auto") return SparseMethod::kAuto;
  if (name == "neighborhoods") return SparseMethod::kNeighborhoods;
  if (name == "factor") return SparseMethod::kFactor;
  return std::nullopt;
}

const char* SparseMethodName(SparseMethod method) {
  switch (method) {
    case SparseMethod::kAuto:
      return "auto";
    case SparseMethod::kNeighborhoods:
      return "neighborhoods";
    case SparseMethod::kFactor:
      return "factor";
  }
  return "unknown";
}

double DefaultSparseDensity(size_t num_items) {
  if (num_items == 0) return 0.01;
  return std::min(0.01, static_cast<double>(kDefaultSparseKeep) /
                            static_cast<double>(num_items));
}

double DefaultGramDensity(size_t num_items) {
  (void)num_items;
  return 1.0;
}

size_t DefaultInverseKeep(size_t keep_per_row, size_t n) {
  if (keep_per_row >= n) return n;  // exact
  return std::min({n, 4 * keep_per_row, size_t{256}});
}

SparseModelData SparseModel::View(
    absl::Span<const std::string> item_ids) const {
  SparseModelData data;
  data.offsets = offsets;
  data.indices = indices;
  data.weights = weights;
  data.item_ids = item_ids;
  data.popularity = popularity;
  return data;
}

absl::StatusOr<SparseModel> SolveSparse(SparseGram g,
                                        const SolverOptions& solver,
                                        const SparseTrainOptions& options,
                                        std::ostream* log) {
  if (absl::Status s = Validate(solver, options); !s.ok()) return s;
  const size_t n = g.n;
  if (n == 0) return absl::InvalidArgumentError("no items");
  const int threads = ResolveThreadCount(options.num_threads);
  const double p = solver.algorithm == Algorithm::kEase ? 0.0 : solver.dropout;
  SparseModel model;
  model.num_items = n;
  SparseTrainReport& report = model.report;
  report.nnz_gram = g.nnz_full();
  report.largest_buffer_elements = std::max(g.nnz_upper(), threads * n);
  const bool exact = options.density >= 1;
  const double drop = options.drop_tolerance >= 0
                          ? options.drop_tolerance
                          : (exact ? 0.0 : kDefaultDropTolerance);
  const size_t keep_b = KeepPerRowForDensity(options.density, n);
  const size_t keep_w = options.inverse_density > 0
                            ? KeepPerRowForDensity(options.inverse_density, n)
                            : DefaultInverseKeep(keep_b, n);
  report.keep_per_row = keep_b;

  // 1. A = G + Λ, Λ = λ·I + p/(1−p)·dMat(diag G); dropped co-occurrences
  // move to the diagonal, so A stays positive definite whenever G + Λ is
  // (see SparseGram::dropped_row_sums).
  // With gram_density < 1, G is first cut to its largest entries normalized
  // in A (SparsifyGram, by |G_ij| / sqrt(A_ii·A_jj)), the cut mass on the
  // same diagonal.
  std::vector<double> lambda(n), shift(n);
  model.popularity = PopularityFromSparseGram(g);
  for (size_t i = 0; i < n; ++i) {
    lambda[i] = solver.lambda + p / (1 - p) * g.diagonal(i);
  }
  if (options.gram_density < 1) {
    const auto cut_start = Clock::now();
    const size_t cut = SparsifyGram(options.gram_density, lambda, &g);
    report.nnz_gram = g.nnz_full();
    LogPhase(log,
             absl::StrFormat("gram cut to density %.4g by normalized weight "
                             "(nnz(G) = %d, %d pairs moved to the diagonal)",
                             options.gram_density, g.nnz_full(), cut),
             SecondsSince(cut_start));
  }
  for (size_t i = 0; i < n; ++i) {
    shift[i] =
        lambda[i] + (g.dropped_row_sums.empty() ? 0.0 : g.dropped_row_sums[i]);
  }

  const SparseMethod method = ResolveSparseMethod(options, n);
  if (method == SparseMethod::kNeighborhoods) {
    return SolveByNeighborhoods(std::move(model), std::move(g), shift, solver,
                                options, keep_b, threads, log);
  }
  report.method = SparseMethodName(SparseMethod::kFactor);
  report.inverse_keep = keep_w;
  report.drop_tolerance = drop;

  // 2. Ordering and factorization, complete where the whole solve fits.
  SparseFactorOptions factor_options;
  factor_options.method = options.factorization;
  factor_options.memory_limit_bytes = options.memory_limit_bytes;
  factor_options.num_threads = threads;
  factor_options.incomplete_fill = options.incomplete_fill;
  factor_options.incomplete_max_per_column = options.incomplete_max_per_column;
  const size_t gram_bytes = g.bytes();
  const size_t rss = CurrentRssBytes();
  factor_options.base_bytes = rss > gram_bytes ? rss - gram_bytes : 0;
  factor_options.later = EstimateLaterPhases(n, keep_w, keep_b, threads);
  auto start = Clock::now();
  absl::StatusOr<SparseFactor> factor =
      FactorSparseGram(std::move(g), shift, factor_options, log);
  if (!factor.ok()) return factor.status();
  const SparseFactorReport& fr = factor->report();
  report.factorization = FactorizationMethodName(fr.method);
  report.ordering = fr.ordering;
  report.estimated_peak_bytes = fr.method == FactorizationMethod::kComplete
                                    ? fr.complete_peak_bytes
                                    : fr.incomplete_peak_bytes;
  const FactorView f = factor->view();
  report.nnz_factor = fr.nnz_factor;
  report.largest_buffer_elements =
      std::max(report.largest_buffer_elements, report.nnz_factor);
  report.factor_seconds = SecondsSince(start);
  LogPhase(log,
           absl::StrFormat(
               "%s factor (%s ordering, nnz(L) = %d, %.2f× A's "
               "lower triangle, %d pivots repaired; analyze %.1f s, "
               "factorize %.1f s)",
               report.factorization, report.ordering, report.nnz_factor,
               static_cast<double>(report.nnz_factor) /
                   std::max<size_t>(1, fr.nnz_a_lower),
               fr.replaced_pivots, fr.analyze_seconds, fr.factorize_seconds),
           report.factor_seconds);

  // 3. W ≈ L⁻¹.
  start = Clock::now();
  InverseFactor w;
  {
    ProgressMeter progress(log, "train: sparse inverse factor", n,
                           options.progress);
    // Incomplete factors: L is as wide as A, so L⁻¹'s columns reach far;
    // a budget of kPropagationsPerKept·keep_w bounds each column's solve.
    constexpr size_t kPropagationsPerKept = 4;
    w = InvertFactor(f, keep_w, drop,
                     f.complete ? 0 : kPropagationsPerKept * keep_w, threads,
                     &progress);
  }
  std::vector<int64_t> perm(f.perm, f.perm + n);
  factor->Release();
  report.nnz_inverse = w.rows.size();
  report.largest_buffer_elements =
      std::max(report.largest_buffer_elements, report.nnz_inverse);
  report.inverse_seconds = SecondsSince(start);
  LogPhase(
      log,
      absl::StrFormat(
          "inverse factor (nnz(W) = %d, ≤ %d per column, drop tolerance %g)",
          report.nnz_inverse, keep_w, drop),
      report.inverse_seconds);

  // 4. C ≈ WᵀW: C[i][l] = Σ_k W[k][i]·W[k][l], diag C from the unpruned
  // columns (exact up to the drop tolerance); then B rows.
  start = Clock::now();
  const std::vector<double> diag_c = std::move(w.squared_norms);
  InverseFactor wt = Transpose(w, n);  // rows of W
  if (!exact && fr.method == FactorizationMethod::kIncomplete) {
    PruneRows(wt, n, keep_w, threads);
    w = Transpose(wt, n);
    report.nnz_inverse = w.rows.size();
  }
  std::vector<double> lambda_perm(n);
  for (size_t l = 0; l < n; ++l) lambda_perm[l] = lambda[perm[l]];
  const bool zero_diagonal = solver.algorithm != Algorithm::kDlae;
  struct Entry {
    uint32_t col;
    float weight;
  };
  std::vector<std::vector<Entry>> rows(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> finite{true};
  ProgressMeter progress(log, "train: sparse B rows", n, options.progress);
  RunThreads(threads, [&] {
    std::vector<double> acc(n, 0.0);
    std::vector<uint8_t> seen(n, 0);
    std::vector<uint32_t> touched;
    std::vector<std::pair<double, uint32_t>> row;  // (|b|-ordered value, item)
    constexpr size_t kChunk = 16;
    for (;;) {
      const size_t begin = next.fetch_add(kChunk);
      if (begin >= n) return;
      for (size_t i = begin; i < std::min(n, begin + kChunk); ++i) {
        touched.clear();
        for (uint64_t q = w.offsets[i]; q < w.offsets[i + 1]; ++q) {
          const uint32_t k = w.rows[q];
          const double wki = w.values[q];
          for (uint64_t r = wt.offsets[k]; r < wt.offsets[k + 1]; ++r) {
            const uint32_t l = wt.rows[r];
            if (!seen[l]) {
              seen[l] = 1;
              touched.push_back(l);
            }
            acc[l] += wki * wt.values[r];
          }
        }
        row.clear();
        for (uint32_t l : touched) {
          const double c = acc[l];
          acc[l] = 0;
          seen[l] = 0;
          double b;
          if (zero_diagonal) {
            if (l == i) continue;
            b = -c / diag_c[l];
          } else {
            b = (l == i ? 1.0 : 0.0) - c * lambda_perm[l];
          }
          if (b != 0) row.emplace_back(b, static_cast<uint32_t>(perm[l]));
        }
        if (row.size() > keep_b) {
          std::nth_element(row.begin(), row.begin() + keep_b, row.end(),
                           [](const auto& a, const auto& b) {
                             return std::abs(a.first) > std::abs(b.first);
                           });
          row.resize(keep_b);
        }
        std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) {
          return a.second < b.second;
        });
        std::vector<Entry>& out = rows[perm[i]];
        out.reserve(row.size());
        for (const auto& [b, item] : row) {
          const float v = static_cast<float>(b);
          if (!std::isfinite(v)) finite = false;
          out.push_back({item, v});
        }
      }
      progress.Add(std::min(n, begin + kChunk) - begin);
    }
  });
  progress.Finish();
  if (!finite) {
    return absl::FailedPreconditionError(
        "B has non-finite entries: G + Λ is too ill-conditioned; increase "
        "lambda");
  }
  model.offsets.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i)
    model.offsets[i + 1] = model.offsets[i] + rows[i].size();
  model.indices.resize(model.offsets[n]);
  model.weights.resize(model.offsets[n]);
  for (size_t i = 0; i < n; ++i) {
    uint64_t at = model.offsets[i];
    for (const Entry& e : rows[i]) {
      model.indices[at] = e.col;
      model.weights[at++] = e.weight;
    }
    std::vector<Entry>().swap(rows[i]);
  }
  report.nnz_b = model.indices.size();
  report.largest_buffer_elements =
      std::max(report.largest_buffer_elements, report.nnz_b);
  report.b_seconds = SecondsSince(start);
  report.peak_rss_bytes = PeakRssBytes();
  LogPhase(log,
           absl::StrFormat("B (nnz(B) = %d, ≤ %d per row, density %.4g)",
                           report.nnz_b, keep_b,
                           static_cast<double>(report.nnz_b) / n / n),
           report.b_seconds);
  return model;
}

absl::StatusOr<SparseModel> TrainSparse(const Interactions& x,
                                        const ModelSpec& spec,
                                        const SparseTrainOptions& options,
                                        std::ostream* log) {
  if (x.num_items() == 0)
    return absl::InvalidArgumentError("no items to train on");
  const auto start = Clock::now();
  SparseGramOptions gram_options;
  gram_options.min_cooccurrence = options.min_cooccurrence;
  gram_options.num_threads = options.num_threads;
  SparseGram g = ComputeSparseGram(x, gram_options);
  const double gram_seconds = SecondsSince(start);
  const size_t n = x.num_items();
  LogPhase(
      log,
      absl::StrFormat("gram (nnz(G) = %d, density %.4g, min co-occurrence %d)",
                      g.nnz_full(), static_cast<double>(g.nnz_full()) / n / n,
                      options.min_cooccurrence),
      gram_seconds);
  absl::StatusOr<SparseModel> model = SolveSparse(
      std::move(g), SolverOptionsFor(spec, options.num_threads), options, log);
  if (model.ok()) model->report.gram_seconds = gram_seconds;
  return model;
}

}  // namespace edlae
