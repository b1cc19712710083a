// Sparse closed forms: CHOLMOD LLᵀ of P(G + Λ)Pᵀ, pruned W ≈ L⁻¹ by etree-path
// solves, C ≈ WᵀW, pruned B rows.
#include "trainer/sparse_solver.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/model_convert.h"
#include "trainer/parallel.h"
#include "trainer/train.h"

extern "C" {
#include <cholmod.h>
}

namespace edlae {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs worker(state) on `threads` threads; each makes its own state first.
template <typename Worker>
void RunThreads(int threads, Worker worker) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
}

// Owns a cholmod_common and the objects made with it.
class Cholmod {
 public:
  Cholmod() {
    cholmod_l_start(&common_);
    common_.print = 0;  // errors come back as statuses
    common_.final_ll = 1;
  }
  ~Cholmod() {
    if (a_ != nullptr) cholmod_l_free_sparse(&a_, &common_);
    if (l_ != nullptr) cholmod_l_free_factor(&l_, &common_);
    cholmod_l_finish(&common_);
  }
  Cholmod(const Cholmod&) = delete;
  Cholmod& operator=(const Cholmod&) = delete;

  cholmod_common* common() { return &common_; }
  cholmod_sparse*& a() { return a_; }
  cholmod_factor*& l() { return l_; }

  absl::Status StatusOf(const char* what) const {
    if (common_.status == CHOLMOD_OUT_OF_MEMORY) {
      return absl::ResourceExhaustedError(
          absl::StrCat("CHOLMOD ran out of memory in ", what));
    }
    if (common_.status < CHOLMOD_OK) {
      return absl::InternalError(absl::StrCat(
          "CHOLMOD ", what, " failed with status ", common_.status));
    }
    return absl::OkStatus();
  }

 private:
  cholmod_common common_;
  cholmod_sparse* a_ = nullptr;
  cholmod_factor* l_ = nullptr;
};

const char* OrderingName(int ordering) {
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

// The lower-triangular factor in CSC form (diagonal first in each column)
// with its permutation: (P·A·Pᵀ) = L·Lᵀ, row k of P·A·Pᵀ is item perm[k].
struct Factor {
  size_t n = 0;
  const int64_t* p = nullptr;
  const int64_t* i = nullptr;
  const double* x = nullptr;
  const int64_t* perm = nullptr;
};

// W ≈ L⁻¹ in CSC form, lower triangular.
struct InverseFactor {
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> rows;
  std::vector<double> values;
  // ‖column j of L⁻¹‖² = C[j][j] (in P·A·Pᵀ order), summed before pruning:
  // exact up to the drop tolerance.
  std::vector<double> squared_norms;
};

// Column j of L⁻¹ is nonzero only on j's path to the root of the elimination
// tree (parent(k) = the smallest off-diagonal row of L's column k): walk it,
// solving and propagating, then keep the `keep` largest |w_kj| (and w_jj).
InverseFactor InvertFactor(const Factor& f, size_t keep, double drop_tolerance,
                           int threads) {
  const size_t n = f.n;
  std::vector<int64_t> parent(n, -1);
  for (size_t k = 0; k < n; ++k) {
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
        for (int64_t k = static_cast<int64_t>(j); k >= 0; k = parent[k]) {
          const double v = work[k] / f.x[f.p[k]];
          work[k] = 0.0;
          if (v == 0.0) continue;
          column.emplace_back(static_cast<uint32_t>(k), v);
          squared_norm += v * v;
          // A small entry is kept but not propagated into the entries above
          // it: their error is of the order of drop · |w_jj| · |L|.
          if (std::abs(v) < drop && k != static_cast<int64_t>(j)) continue;
          for (int64_t q = f.p[k] + 1; q < f.p[k + 1]; ++q) {
            work[f.i[q]] -= f.x[q] * v;
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
    }
  });
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

}  // namespace

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

  // 1. A = G + Λ, lower triangle in CSC (= G's upper CSR rows).
  std::vector<double> lambda(n);
  model.popularity = PopularityFromSparseGram(g);
  for (size_t i = 0; i < n; ++i) {
    lambda[i] = solver.lambda + p / (1 - p) * g.diagonal(i);
  }
  auto start = Clock::now();
  Cholmod chol;
  cholmod_common* cc = chol.common();
  chol.a() =
      cholmod_l_allocate_sparse(n, n, g.nnz_upper(), /*sorted=*/1,
                                /*packed=*/1, /*stype=*/-1, CHOLMOD_REAL, cc);
  if (chol.a() == nullptr) return chol.StatusOf("allocate");
  {
    auto* ap = static_cast<int64_t*>(chol.a()->p);
    auto* ai = static_cast<int64_t*>(chol.a()->i);
    auto* ax = static_cast<double*>(chol.a()->x);
    for (size_t i = 0; i <= n; ++i) ap[i] = static_cast<int64_t>(g.offsets[i]);
    for (size_t q = 0; q < g.nnz_upper(); ++q) {
      ai[q] = g.indices[q];
      ax[q] = g.values[q];
    }
    for (size_t i = 0; i < n; ++i) ax[g.offsets[i]] += lambda[i];
    // Dropped co-occurrences move to the diagonal, so A stays positive
    // definite whenever G + Λ is (see SparseGram::dropped_row_sums).
    for (size_t i = 0; i < g.dropped_row_sums.size(); ++i) {
      ax[g.offsets[i]] += g.dropped_row_sums[i];
    }
  }
  g = SparseGram();  // A holds it now

  // 2. Ordering and factorization.
  chol.l() = cholmod_l_analyze(chol.a(), cc);
  if (chol.l() == nullptr) return chol.StatusOf("analyze");
  report.ordering = OrderingName(cc->method[cc->selected].ordering);
  cholmod_l_factorize(chol.a(), chol.l(), cc);
  if (cc->status == CHOLMOD_NOT_POSDEF ||
      (cc->status >= CHOLMOD_OK && chol.l()->minor < n)) {
    return absl::FailedPreconditionError(
        "G + Λ is not positive definite (e.g. λ = 0 with an unused item); "
        "increase lambda");
  }
  if (absl::Status s = chol.StatusOf("factorize"); !s.ok()) return s;
  cholmod_l_free_sparse(&chol.a(), cc);
  if (!cholmod_l_change_factor(CHOLMOD_REAL, /*to_ll=*/1, /*to_super=*/0,
                               /*to_packed=*/1, /*to_monotonic=*/1, chol.l(),
                               cc)) {
    return chol.StatusOf("change_factor");
  }
  Factor f;
  f.n = n;
  f.p = static_cast<const int64_t*>(chol.l()->p);
  f.i = static_cast<const int64_t*>(chol.l()->i);
  f.x = static_cast<const double*>(chol.l()->x);
  f.perm = static_cast<const int64_t*>(chol.l()->Perm);
  report.nnz_factor = static_cast<size_t>(f.p[n]);
  report.largest_buffer_elements =
      std::max(report.largest_buffer_elements, report.nnz_factor);
  report.factor_seconds = SecondsSince(start);
  LogPhase(
      log,
      absl::StrFormat(
          "factor (%s ordering, nnz(L) = %d, fill %.2f× G's lower triangle)",
          report.ordering, report.nnz_factor,
          2.0 * report.nnz_factor / (report.nnz_gram + n)),
      report.factor_seconds);

  // 3. W ≈ L⁻¹.
  start = Clock::now();
  const bool exact = options.density >= 1;
  const double drop = options.drop_tolerance >= 0
                          ? options.drop_tolerance
                          : (exact ? 0.0 : kDefaultDropTolerance);
  const size_t keep_b = KeepPerRowForDensity(options.density, n);
  const size_t keep_w = options.inverse_density > 0
                            ? KeepPerRowForDensity(options.inverse_density, n)
                            : DefaultInverseKeep(keep_b, n);
  report.keep_per_row = keep_b;
  report.inverse_keep = keep_w;
  report.drop_tolerance = drop;
  InverseFactor w = InvertFactor(f, keep_w, drop, threads);
  std::vector<int64_t> perm(f.perm, f.perm + n);
  cholmod_l_free_factor(&chol.l(), cc);
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
  const InverseFactor wt = Transpose(w, n);  // rows of W
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
    }
  });
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
