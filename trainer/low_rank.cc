// Low-rank solvers on GEMM/SYMM: two symmetric n × n matrices share one buffer
// (one per triangle).
#include "trainer/low_rank.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/seconds_since.h"
#include "trainer/lapack.h"
#include "trainer/parallel.h"

namespace edlae {
namespace {

// Two symmetric n × n matrices in one row-major buffer: `upper` in the
// triangle j > i, `lower` in the triangle j < i, and each one's diagonal kept
// aside and written into the shared diagonal before that matrix is used.
// BLAS symm reads exactly one triangle plus the diagonal, so products with
// either matrix cost the same as with a dedicated buffer, and the trainer
// needs half the memory. Not thread-safe.
class SymmetricPair {
 public:
  SymmetricPair(double* a, size_t n, std::vector<double> upper_diag,
                std::vector<double> lower_diag)
      : a_(a),
        n_(n),
        upper_diag_(std::move(upper_diag)),
        lower_diag_(std::move(lower_diag)) {}

  // y = Upper·x, x and y n × cols row-major (leading dimensions ldx, ldy).
  void MultiplyUpper(const double* x, size_t ldx, size_t cols, double* y,
                     size_t ldy) {
    SetDiagonal(upper_diag_);
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, n_, cols, 1.0, a_, n_, x,
                ldx, 0.0, y, ldy);
  }
  void MultiplyLower(const double* x, size_t ldx, size_t cols, double* y,
                     size_t ldy) {
    SetDiagonal(lower_diag_);
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasLower, n_, cols, 1.0, a_, n_, x,
                ldx, 0.0, y, ldy);
  }
  const std::vector<double>& upper_diag() const { return upper_diag_; }
  const std::vector<double>& lower_diag() const { return lower_diag_; }
  double* data() { return a_; }
  // Leaves the upper matrix's diagonal in place (for LAPACK on the upper
  // triangle).
  void UseUpperDiagonal() { SetDiagonal(upper_diag_); }
  void UseLowerDiagonal() { SetDiagonal(lower_diag_); }

 private:
  void SetDiagonal(const std::vector<double>& d) {
    if (current_ == &d) return;
    for (size_t i = 0; i < n_; ++i) a_[i * n_ + i] = d[i];
    current_ = &d;
  }

  double* a_;
  size_t n_;
  std::vector<double> upper_diag_, lower_diag_;
  const std::vector<double>* current_ = nullptr;
};

// Row-major small-matrix helpers (n × k tall blocks, k × k squares).
// c = aᵀ·b for n × k blocks a, b: k × k.
std::vector<double> AtB(const std::vector<double>& a,
                        const std::vector<double>& b, size_t n, size_t k) {
  std::vector<double> c(k * k);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, k, n, 1.0, a.data(),
              k, b.data(), k, 0.0, c.data(), k);
  return c;
}
// a·s for an n × k block a and a k × k matrix s.
std::vector<double> TimesSquare(const std::vector<double>& a,
                                const std::vector<double>& s, size_t n,
                                size_t k) {
  std::vector<double> c(n * k);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, k, k, 1.0, a.data(),
              k, s.data(), k, 0.0, c.data(), k);
  return c;
}
// Inverse of the symmetric positive-definite k × k matrix s (symmetrized).
absl::StatusOr<std::vector<double>> SpdInverse(std::vector<double> s, size_t k,
                                               const char* what) {
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < i; ++j) {
      s[j * k + i] = s[i * k + j] = 0.5 * (s[i * k + j] + s[j * k + i]);
    }
  }
  if (absl::Status st = InvertSpdUpper(s.data(), k); !st.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " is singular: ", st.message(),
                     "; the rank may exceed what the data supports"));
  }
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < i; ++j) s[i * k + j] = s[j * k + i];
  }
  return s;
}
// Row dot products: out[i] = a[i,:] · b[i,:].
std::vector<double> RowDots(const std::vector<double>& a,
                            const std::vector<double>& b, size_t n, size_t k) {
  std::vector<double> out(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t c = 0; c < k; ++c) s += a[i * k + c] * b[i * k + c];
    out[i] = s;
  }
  return out;
}
// Scales row i of the n × k block a by d[i] (in place).
void ScaleRows(std::vector<double>& a, const std::vector<double>& d, size_t n,
               size_t k) {
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < k; ++c) a[i * k + c] *= d[i];
  }
}

// Objective from G·U (see LowRankObjective): tr G − 2 tr(G W) + tr(Wᵀ A W)
// with A = G + Λ, W = U·Vᵀ (− dMat(diag(UVᵀ)) when drop_diagonal).
double ObjectiveFromProducts(const std::vector<double>& gu,
                             const std::vector<double>& u,
                             const std::vector<double>& v,
                             const std::vector<double>& gram_diag,
                             const std::vector<double>& lambda_diag, size_t n,
                             size_t k, bool drop_diagonal) {
  std::vector<double> au = gu;
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < k; ++c)
      au[i * k + c] += lambda_diag[i] * u[i * k + c];
  }
  const std::vector<double> utau = AtB(u, au, n, k);
  const std::vector<double> vtv = AtB(v, v, n, k);
  double trace_g = 0, g_w = 0, quad = 0;
  for (size_t i = 0; i < n; ++i) trace_g += gram_diag[i];
  const std::vector<double> guv = RowDots(gu, v, n, k);
  for (size_t i = 0; i < n; ++i) g_w += guv[i];
  for (size_t e = 0; e < k * k; ++e) quad += utau[e] * vtv[e];
  if (drop_diagonal) {
    const std::vector<double> d = RowDots(u, v, n, k);
    const std::vector<double> auv = RowDots(au, v, n, k);
    for (size_t i = 0; i < n; ++i) {
      g_w -= gram_diag[i] * d[i];
      quad +=
          -2 * d[i] * auv[i] + d[i] * d[i] * (gram_diag[i] + lambda_diag[i]);
    }
  }
  return trace_g - 2 * g_w + quad;
}

// An n × k start for the iterative methods: G·R for a Gaussian R, columns
// scaled to unit norm: one power step towards G's dominant subspace, where
// both factors of a good model live.
std::vector<double> RangeStart(SymmetricPair& pair, size_t n, size_t k,
                               uint64_t seed) {
  std::vector<double> r(n * k), start(n * k);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (double& x : r) x = normal(rng);
  pair.MultiplyLower(r.data(), k, k, start.data(), k);
  std::vector<double> norm(k, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < k; ++c)
      norm[c] += start[i * k + c] * start[i * k + c];
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < k; ++c) {
      start[i * k + c] /= std::max(std::sqrt(norm[c]), 1e-300);
    }
  }
  return start;
}

absl::Status InvertWithMessage(double* a, size_t n) {
  absl::Status s = InvertSpdUpper(a, n);
  if (!s.ok() && absl::IsFailedPrecondition(s)) {
    return absl::FailedPreconditionError(
        absl::StrCat(s.message(), " (G + Λ must be positive definite)"));
  }
  return s;
}

void Notify(const LowRankOptions& o, int epoch, char updated, size_t n,
            size_t k, const std::vector<double>& u,
            const std::vector<double>& v, const std::vector<double>* beta,
            double objective) {
  if (!o.observer) return;
  LowRankStep step;
  step.epoch = epoch;
  step.updated = updated;
  step.n = n;
  step.k = k;
  step.u = u;
  step.v = v;
  if (beta != nullptr) step.beta = *beta;
  step.objective = objective;
  o.observer(step);
}

absl::Status ToFloats(const std::vector<double>& in, std::vector<float>* out,
                      const char* what) {
  out->resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    (*out)[i] = static_cast<float>(in[i]);
    if (!std::isfinite((*out)[i])) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " has non-finite entries; increase --lambda or lower --rank"));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Closed form (Algorithm 1 for EDLAE; exact for DLAE).
//
// With A = G + Λ, C = A⁻¹ and B̂ = I − C·D (D = dMat(1 ⊘ diag C) for EDLAE,
// D = Λ for DLAE): M = B̂ᵀ·A·B̂ = A − 2D + D·C·D, and U = B̂·V = V − C·(D·V).
// After potrf/potri of A's upper triangle, the buffer holds C above the
// diagonal and A below it; A's lower triangle is turned into M's in place, so
// C and M share the buffer.
absl::StatusOr<LowRankResult> ClosedForm(std::vector<double>& g, size_t n,
                                         const std::vector<double>& lambda_diag,
                                         bool edlae, const LowRankOptions& o,
                                         int threads, std::ostream* log) {
  const size_t k = o.rank;
  std::vector<double> a_diag(n);
  for (size_t i = 0; i < n; ++i) {
    g[i * n + i] += lambda_diag[i];
    a_diag[i] = g[i * n + i];
  }
  auto start = std::chrono::steady_clock::now();
  if (absl::Status s = InvertWithMessage(g.data(), n); !s.ok()) return s;
  std::vector<double> c_diag(n), d(n), m_diag(n);
  for (size_t i = 0; i < n; ++i) {
    c_diag[i] = g[i * n + i];
    d[i] = edlae ? 1.0 / c_diag[i] : lambda_diag[i];
    m_diag[i] = a_diag[i] - 2 * d[i] + d[i] * d[i] * c_diag[i];
  }
  ForEachLowerWithUpper(g.data(), n, threads,
                        [&](size_t i, size_t j, double& lower, double upper) {
                          lower += d[i] * d[j] * upper;
                        });
  SymmetricPair pair(g.data(), n, c_diag, m_diag);
  if (log) {
    *log << absl::StrFormat("[train] C = (G+Λ)⁻¹ and M = B̂ᵀ(G+Λ)B̂: %.3f s\n",
                            SecondsSince(start));
  }

  start = std::chrono::steady_clock::now();
  const SymmetricOperator m_op = [&pair](const double* x, size_t ldx,
                                         size_t cols, double* y, size_t ldy) {
    pair.MultiplyLower(x, ldx, cols, y, ldy);
  };
  const EigenMethod method = o.eigensolver == EigenMethod::kAuto
                                 ? ChooseEigenMethod(n, k)
                                 : o.eigensolver;
  // float32 Krylov operator: M rounded to float (n² floats beside the double
  // buffer), ssymm on float copies of the block; the basis, its
  // orthonormalization and Rayleigh–Ritz stay float64.
  std::vector<float> m_float;
  if (method == EigenMethod::kBlockKrylov &&
      o.eigen_precision == Precision::kFloat32) {
    m_float.resize(n * n);
    pair.UseLowerDiagonal();
    ParallelFor(n, 64, threads, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        for (size_t j = 0; j <= i; ++j) {
          m_float[i * n + j] = static_cast<float>(g[i * n + j]);
        }
      }
    });
  }
  std::vector<float> x_float, y_float;
  const SymmetricOperator m_op_float = [&](const double* x, size_t ldx,
                                           size_t cols, double* y, size_t ldy) {
    x_float.resize(n * cols);
    y_float.resize(n * cols);
    for (size_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < cols; ++c) {
        x_float[i * cols + c] = static_cast<float>(x[i * ldx + c]);
      }
    }
    cblas_ssymm(CblasRowMajor, CblasLeft, CblasLower, n, cols, 1.0f,
                m_float.data(), n, x_float.data(), cols, 0.0f, y_float.data(),
                cols);
    for (size_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < cols; ++c) {
        y[i * ldy + c] = y_float[i * cols + c];
      }
    }
  };
  LowRankResult result;
  result.n = n;
  result.k = k;
  result.dense_buffers = 1;
  absl::StatusOr<EigenResult> eig;
  if (method == EigenMethod::kSyevr) {
    // syevr destroys its input; M stays intact in `g` for the residual.
    std::vector<double> copy(n * n);
    result.dense_buffers = 2;
    ParallelFor(n, 64, threads, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        std::copy_n(&g[i * n], i, &copy[i * n]);
        copy[i * n + i] = m_diag[i];
      }
    });
    eig = LeadingEigenpairsSyevr(copy.data(), n, k);
    if (eig.ok()) {
      std::vector<double>().swap(copy);
      eig->max_residual = MaxResidual(m_op, *eig);
    }
  } else if (!m_float.empty()) {
    eig = LeadingEigenpairsKrylov(m_op_float, n, k, o.krylov);
    std::vector<float>().swap(m_float);
    std::vector<float>().swap(x_float);
    std::vector<float>().swap(y_float);
    // The residual against M itself (float64), not its rounding.
    if (eig.ok()) eig->max_residual = MaxResidual(m_op, *eig);
  } else {
    eig = LeadingEigenpairsKrylov(m_op, n, k, o.krylov);
  }
  if (!eig.ok()) return eig.status();
  result.eigensolver = eig->method;
  result.eigenvalues = eig->values;
  result.eigen_residual = eig->max_residual;
  result.eigen_relative_residual =
      eig->max_residual / std::max(std::fabs(eig->values[0]), 1e-300);
  result.krylov_restarts = eig->restarts;
  result.eigen_converged = eig->converged;
  if (log) {
    *log << absl::StrFormat(
        "[train] eig_%d(M) by %s: %.3f s; θ_1 = %.6g, θ_k = %.6g; residual "
        "max ‖Mv − θv‖ = %.3g (%.3g relative to θ_1)%s\n",
        k, EigenMethodName(eig->method), SecondsSince(start), eig->values[0],
        eig->values[k - 1], result.eigen_residual,
        result.eigen_relative_residual,
        eig->method == EigenMethod::kBlockKrylov
            ? absl::StrFormat(
                  ", %d restarts%s, %d operator columns (%s); operator %.3f s, "
                  "orthonormalize %.3f s, Rayleigh–Ritz %.3f s",
                  eig->restarts, eig->converged ? "" : " (NOT converged)",
                  eig->operator_columns,
                  o.eigen_precision == Precision::kFloat32 ? "float32"
                                                           : "float64",
                  eig->operator_seconds, eig->orthonormalize_seconds,
                  eig->rayleigh_ritz_seconds)
            : std::string());
  }
  start = std::chrono::steady_clock::now();

  // U = V − C·(D·V).
  std::vector<double>& v = eig->vectors;
  std::vector<double> dv = v, u(n * k);
  ScaleRows(dv, d, n, k);
  pair.MultiplyUpper(dv.data(), k, k, u.data(), k);
  for (size_t e = 0; e < n * k; ++e) u[e] = v[e] - u[e];
  if (absl::Status s = ToFloats(u, &result.u, "U"); !s.ok()) return s;
  if (absl::Status s = ToFloats(v, &result.v, "V"); !s.ok()) return s;
  if (log) {
    *log << absl::StrFormat("[train] U = B̂·V: %.3f s\n", SecondsSince(start));
  }
  return result;
}

// ---------------------------------------------------------------------------
// ADMM for Eq. 10 (supplement §3), with Ω = Λ + ω·I and t = β − γ:
//   U  ← (A+Ω)⁻¹ (G·dMat(1+β) + Ω·dMat(t)) V (VᵀV)⁻¹
//   Vᵀ ← (Uᵀ(A+Ω)U)⁻¹ Uᵀ (G·dMat(1+β) + Ω·dMat(t))
//   β  ← (diag(G·UVᵀ) − diag G + Ω⊙(diag(UVᵀ) + γ)) ⊘ (diag G + ω)
//   γ  ← γ + diag(UVᵀ) − β
// (the updates as printed; they correspond to the multiplier term
// +2γᵀΩ(diag(UVᵀ) − β), the sign Eq. 27's text flips). K = (A+Ω)⁻¹ lives in
// the upper triangle of the Gram buffer, G in the lower.
absl::StatusOr<LowRankResult> Admm(std::vector<double>& g, size_t n,
                                   const std::vector<double>& lambda_diag,
                                   const LowRankOptions& o, std::ostream* log) {
  const size_t k = o.rank;
  std::vector<double> gram_diag(n), omega(n);
  for (size_t i = 0; i < n; ++i) {
    gram_diag[i] = g[i * n + i];
    omega[i] = lambda_diag[i] + o.omega;
    g[i * n + i] += lambda_diag[i] + omega[i];
  }
  auto start = std::chrono::steady_clock::now();
  if (absl::Status s = InvertWithMessage(g.data(), n); !s.ok()) return s;
  std::vector<double> k_diag(n);
  for (size_t i = 0; i < n; ++i) k_diag[i] = g[i * n + i];
  SymmetricPair pair(g.data(), n, k_diag, gram_diag);
  if (log) {
    *log << absl::StrFormat("[train] (G+Λ+Ω)⁻¹: %.3f s\n", SecondsSince(start));
  }

  std::vector<double> v = RangeStart(pair, n, k, o.seed), u(n * k), gu(n * k);
  std::vector<double> beta(n, 0.0), gamma(n, 0.0), t(n), one_plus_beta(n),
      omega_t(n), y(n * k), tmp(n * k);
  LowRankResult result;
  result.n = n;
  result.k = k;
  result.dense_buffers = 1;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; ++i) {
      t[i] = beta[i] - gamma[i];
      one_plus_beta[i] = 1 + beta[i];
      omega_t[i] = omega[i] * t[i];
    }
    // U update: y = G·dMat(1+β)·V + dMat(Ω⊙t)·V; U = K·y·(VᵀV)⁻¹.
    tmp = v;
    ScaleRows(tmp, one_plus_beta, n, k);
    pair.MultiplyLower(tmp.data(), k, k, y.data(), k);
    for (size_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < k; ++c) y[i * k + c] += omega_t[i] * v[i * k + c];
    }
    pair.MultiplyUpper(y.data(), k, k, tmp.data(), k);
    absl::StatusOr<std::vector<double>> vtv_inv =
        SpdInverse(AtB(v, v, n, k), k, "VᵀV");
    if (!vtv_inv.ok()) return vtv_inv.status();
    u = TimesSquare(tmp, *vtv_inv, n, k);
    Notify(o, epoch, 'U', n, k, u, v, &beta,
           std::numeric_limits<double>::quiet_NaN());

    // V update: V = (dMat(1+β)·G·U + dMat(Ω⊙t)·U)·(Uᵀ(A+Ω)U)⁻¹.
    pair.MultiplyLower(u.data(), k, k, gu.data(), k);
    for (size_t i = 0; i < n; ++i) {
      const double s = lambda_diag[i] + omega[i];
      for (size_t c = 0; c < k; ++c) {
        tmp[i * k + c] = gu[i * k + c] + s * u[i * k + c];
        y[i * k + c] =
            one_plus_beta[i] * gu[i * k + c] + omega_t[i] * u[i * k + c];
      }
    }
    absl::StatusOr<std::vector<double>> utau_inv =
        SpdInverse(AtB(u, tmp, n, k), k, "Uᵀ(G+Λ+Ω)U");
    if (!utau_inv.ok()) return utau_inv.status();
    v = TimesSquare(y, *utau_inv, n, k);

    // β and γ.
    const std::vector<double> d = RowDots(u, v, n, k);
    const std::vector<double> guv = RowDots(gu, v, n, k);
    double gap = 0;
    for (size_t i = 0; i < n; ++i) {
      beta[i] = (guv[i] - gram_diag[i] + omega[i] * (d[i] + gamma[i])) /
                (gram_diag[i] + o.omega);
      gamma[i] += d[i] - beta[i];
      gap = std::max(gap, std::fabs(d[i] - beta[i]));
    }
    const double objective = ObjectiveFromProducts(
        gu, u, v, gram_diag, lambda_diag, n, k, /*drop_diagonal=*/true);
    result.objectives.push_back(objective);
    Notify(o, epoch, 'V', n, k, u, v, &beta, objective);
    if (log) {
      *log << absl::StrFormat(
          "[train] admm epoch %d/%d: objective (Eq. 10) %.10g, max "
          "|diag(UVᵀ) − β| %.3g, %.3f s\n",
          epoch, o.epochs, objective, gap, SecondsSince(start));
    }
  }
  if (absl::Status s = ToFloats(u, &result.u, "U"); !s.ok()) return s;
  if (absl::Status s = ToFloats(v, &result.v, "V"); !s.ok()) return s;
  if (log) {
    *log << absl::StrFormat("[train] U = B̂·V: %.3f s\n", SecondsSince(start));
  }
  return result;
}

// Eq. 32 for items whose row of P = V(VᵀV)⁻¹Vᵀ vanishes: an item that never
// co-occurs with another has no off-diagonal information, its V row is 0 up
// to round-off, and so are its row and column of C ⊙ P — which is then only
// positive semi-definite. Such an item's equation reads 0·μ = P_ii ≈ 0, so
// its μ_i is free: it is fixed to 0 (its U row is then W_i − (C·dMat μ·W)_i,
// which keeps U_i·V_i = 0), and its row and column are replaced by the unit
// vector, leaving the other items' system as it was. P_ii of a rank-k
// projection averages k/n; "vanishes" is below 1e-10 of that.
// `h` holds C ⊙ P in its upper triangle, `mu` = diag(P) on entry.
void DecoupleItemsWithoutSignal(std::vector<double>& h, std::vector<double>& mu,
                                size_t n, size_t k) {
  const double tiny = 1e-10 * static_cast<double>(k) / static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    if (mu[i] > tiny) continue;
    for (size_t j = 0; j < i; ++j) h[j * n + i] = 0.0;
    for (size_t j = i + 1; j < n; ++j) h[i * n + j] = 0.0;
    h[i * n + i] = 1.0;
    mu[i] = 0.0;
  }
}

// ---------------------------------------------------------------------------
// ALS for Eq. 11, diag(UVᵀ) = 0 (supplement §4):
//   V step (Eqs. 29–30): D = (UᵀAU)⁻¹, η = diag(UDUᵀG) ⊘ diag(UDUᵀ),
//       V = (G − dMat η)·U·D.
//   U step (Eqs. 31–32): W = V(VᵀV)⁻¹, P = V·Wᵀ; with μ = Λ + η, Eq. 32
//       reads (C ⊙ P)·μ = diag(P), and U = C(G − dMat η)W = W − C·dMat(μ)·W
//       (using C·G = I − C·Λ).
// C = A⁻¹ in the upper triangle of the Gram buffer, G in the lower; C ⊙ P
// needs a second n × n buffer, factorized by Cholesky every epoch (it is
// positive definite by the Schur product theorem).
absl::StatusOr<LowRankResult> Als(std::vector<double>& g, size_t n,
                                  const std::vector<double>& lambda_diag,
                                  const LowRankOptions& o, int threads,
                                  std::ostream* log) {
  const size_t k = o.rank;
  std::vector<double> gram_diag(n);
  for (size_t i = 0; i < n; ++i) {
    gram_diag[i] = g[i * n + i];
    g[i * n + i] += lambda_diag[i];
  }
  auto start = std::chrono::steady_clock::now();
  if (absl::Status s = InvertWithMessage(g.data(), n); !s.ok()) return s;
  std::vector<double> c_diag(n);
  for (size_t i = 0; i < n; ++i) c_diag[i] = g[i * n + i];
  SymmetricPair pair(g.data(), n, c_diag, gram_diag);
  if (log) {
    *log << absl::StrFormat("[train] C = (G+Λ)⁻¹: %.3f s\n",
                            SecondsSince(start));
  }
  std::vector<double> h(n * n);  // C ⊙ P, the second dense buffer

  std::vector<double> u = RangeStart(pair, n, k, o.seed), v(n * k), gu(n * k),
                      tmp(n * k), mu(n), eta(n);
  pair.MultiplyLower(u.data(), k, k, gu.data(), k);
  LowRankResult result;
  result.n = n;
  result.k = k;
  result.dense_buffers = 2;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    start = std::chrono::steady_clock::now();
    // V step.
    for (size_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < k; ++c) {
        tmp[i * k + c] = gu[i * k + c] + lambda_diag[i] * u[i * k + c];
      }
    }
    absl::StatusOr<std::vector<double>> dm =
        SpdInverse(AtB(u, tmp, n, k), k, "Uᵀ(G+Λ)U");
    if (!dm.ok()) return dm.status();
    const std::vector<double> ud = TimesSquare(u, *dm, n, k);
    const std::vector<double> num = RowDots(ud, gu, n, k);
    const std::vector<double> den = RowDots(ud, u, n, k);
    for (size_t i = 0; i < n; ++i) {
      // den = U_i·D·U_iᵀ > 0 unless U_i = 0, where any η gives diag 0.
      eta[i] = den[i] > 0 ? num[i] / den[i] : 0.0;
      for (size_t c = 0; c < k; ++c) {
        tmp[i * k + c] = gu[i * k + c] - eta[i] * u[i * k + c];
      }
    }
    v = TimesSquare(tmp, *dm, n, k);
    Notify(o, epoch, 'V', n, k, u, v, nullptr,
           std::numeric_limits<double>::quiet_NaN());

    // U step.
    absl::StatusOr<std::vector<double>> vtv_inv =
        SpdInverse(AtB(v, v, n, k), k, "VᵀV");
    if (!vtv_inv.ok()) return vtv_inv.status();
    const std::vector<double> w = TimesSquare(v, *vtv_inv, n, k);
    // Upper triangle of P = V·Wᵀ (dgemm fills all of it; only j >= i is read).
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, k, 1.0, v.data(),
                k, w.data(), k, 0.0, h.data(), n);
    for (size_t i = 0; i < n; ++i) mu[i] = h[i * n + i];  // diag(P)
    pair.UseUpperDiagonal();
    const double* c = pair.data();
    ParallelFor(n, 16, threads, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        for (size_t j = i; j < n; ++j) h[i * n + j] *= c[i * n + j];
      }
    });
    DecoupleItemsWithoutSignal(h, mu, n, k);
    if (absl::Status s = SolveSpdUpper(h.data(), n, mu.data()); !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("Eq. 32 system C ⊙ V(VᵀV)⁻¹Vᵀ: ", s.message()));
    }
    tmp = w;
    ScaleRows(tmp, mu, n, k);
    pair.MultiplyUpper(tmp.data(), k, k, u.data(), k);
    for (size_t e = 0; e < n * k; ++e) u[e] = w[e] - u[e];
    pair.MultiplyLower(u.data(), k, k, gu.data(), k);
    const double objective = ObjectiveFromProducts(
        gu, u, v, gram_diag, lambda_diag, n, k, /*drop_diagonal=*/false);
    result.objectives.push_back(objective);
    Notify(o, epoch, 'U', n, k, u, v, nullptr, objective);
    if (log) {
      const std::vector<double> d = RowDots(u, v, n, k);
      double worst = 0;
      for (double x : d) worst = std::max(worst, std::fabs(x));
      *log << absl::StrFormat(
          "[train] als epoch %d/%d: objective (Eq. 11) %.10g, max "
          "|diag(UVᵀ)| %.3g, %.3f s\n",
          epoch, o.epochs, objective, worst, SecondsSince(start));
    }
  }
  if (absl::Status s = ToFloats(u, &result.u, "U"); !s.ok()) return s;
  if (absl::Status s = ToFloats(v, &result.v, "V"); !s.ok()) return s;
  if (log) {
    *log << absl::StrFormat("[train] U = B̂·V: %.3f s\n", SecondsSince(start));
  }
  return result;
}

}  // namespace

LowRankOptions LowRankOptionsFor(const ModelSpec& spec) {
  LowRankOptions o;
  o.rank = spec.rank;
  o.method = spec.method;
  o.eigensolver = spec.eigensolver;
  o.epochs = spec.epochs;
  o.omega = Omega(spec);
  o.seed = spec.seed;
  // The float32 operator's residual floor is ~1e-6 of θ_1; 1e-5 is two Krylov
  // cycles fewer than 1e-6 on the 10k-item synthetic set and leaves nDCG@100
  // on ML-1M unchanged (docs/performance.md §3).
  o.eigen_precision = Precision::kFloat32;
  o.krylov.tolerance = 1e-5;
  return o;
}

ModelSpec ModelSpecOf(const SolverOptions& solver,
                      const LowRankOptions& low_rank) {
  ModelSpec spec;
  spec.algorithm = solver.algorithm;
  spec.lambda = solver.lambda;
  spec.dropout = solver.dropout;
  spec.precision = solver.precision;
  spec.rank = low_rank.rank;
  spec.method = low_rank.method;
  spec.eigensolver = low_rank.eigensolver;
  spec.epochs = low_rank.epochs;
  spec.omega = low_rank.omega;
  spec.seed = low_rank.seed;
  return spec;
}

double LowRankObjective(const std::vector<double>& gram,
                        const std::vector<double>& lambda_diag, size_t n,
                        absl::Span<const double> u, absl::Span<const double> v,
                        size_t k, bool drop_diagonal) {
  std::vector<double> uu(u.begin(), u.end()), vv(v.begin(), v.end()), gu(n * k);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, k, n, 1.0,
              gram.data(), n, uu.data(), k, 0.0, gu.data(), k);
  std::vector<double> gram_diag(n);
  for (size_t i = 0; i < n; ++i) gram_diag[i] = gram[i * n + i];
  return ObjectiveFromProducts(gu, uu, vv, gram_diag, lambda_diag, n, k,
                               drop_diagonal);
}

absl::StatusOr<LowRankResult> SolveLowRank(std::vector<double> gram, size_t n,
                                           const SolverOptions& solver,
                                           const LowRankOptions& options,
                                           std::ostream* log) {
  if (n == 0 || gram.size() != n * n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Gram matrix has ", gram.size(), " entries, expected ", n, "²"));
  }
  if (options.rank == 0 || options.rank > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rank must be in [1, ", n,
                     "] (the number of items), got ", options.rank));
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
  const Algorithm a = solver.algorithm;
  const LowRankMethod m = options.method;
  if (absl::Status s = ValidateLowRankMethod(a, m); !s.ok()) return s;
  if (m != LowRankMethod::kClosedForm && options.epochs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--epochs must be >= 1, got ", options.epochs));
  }
  if (m == LowRankMethod::kAdmm &&
      (!std::isfinite(options.omega) || options.omega <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--omega must be > 0, got ", options.omega));
  }
  const int threads = ResolveThreadCount(solver.num_threads);
  const double dropout_scale = solver.dropout / (1.0 - solver.dropout);
  std::vector<double> lambda_diag(n);
  for (size_t i = 0; i < n; ++i) {
    lambda_diag[i] = solver.lambda + dropout_scale * gram[i * n + i];
  }
  switch (m) {
    case LowRankMethod::kClosedForm:
      return ClosedForm(gram, n, lambda_diag, a == Algorithm::kEdlae, options,
                        threads, log);
    case LowRankMethod::kAdmm:
      return Admm(gram, n, lambda_diag, options, log);
    case LowRankMethod::kAls:
      return Als(gram, n, lambda_diag, options, threads, log);
  }
  return absl::InternalError("unreachable");
}

}  // namespace edlae
