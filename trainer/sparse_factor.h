// Sparse Cholesky factor of P·(G + Λ)·Pᵀ: complete (CHOLMOD) where it fits in
// memory, else incomplete (bounded fill, on CHOLMOD's ordering), with the
// memory estimate that chooses.
#ifndef EDLAE_TRAINER_SPARSE_FACTOR_H_
#define EDLAE_TRAINER_SPARSE_FACTOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/sparse_gram.h"

namespace edlae {

enum class FactorizationMethod {
  kAuto,        // complete when its estimated peak fits the memory limit
  kComplete,    // CHOLMOD supernodal L·Lᵀ (exact)
  kIncomplete,  // IncompleteCholesky with bounded fill, CHOLMOD's ordering
};

// "auto" | "complete" | "incomplete"; nullopt for anything else.
std::optional<FactorizationMethod> ParseFactorizationMethod(
    std::string_view name);
const char* FactorizationMethodName(FactorizationMethod method);
// The name of a CHOLMOD ordering constant (CHOLMOD_AMD → "amd", …; "unknown"
// for anything else), as the trainers report it.
const char* CholmodOrderingName(int ordering);

// A lower-triangular factor in compressed sparse columns, the diagonal
// first in each column (other rows in no particular order), with
// L·Lᵀ ≈ P·A·Pᵀ: row k of P·A·Pᵀ is item perm[k]. Borrowed from a
// SparseFactor; valid while it lives and is not released.
struct FactorView {
  size_t n = 0;
  const int64_t* p = nullptr;  // n + 1 column offsets
  const int64_t* i = nullptr;  // p[n] row indices
  const double* x = nullptr;   // p[n] values
  const int64_t* perm = nullptr;
  // True for the complete factor: then column j of L⁻¹ is nonzero only on
  // j's path to the root of the elimination tree (parent(k) = the smallest
  // off-diagonal row of column k). False: anywhere L's graph reaches from j.
  bool complete = true;
};

// Bytes of the phases that follow the factorization, so that the choice
// covers the whole solve: `with_factor` is held while the factor still
// lives (the inverse factor being built), `after_factor` once it is freed.
struct LaterPhaseBytes {
  size_t with_factor = 0;
  size_t after_factor = 0;
};

// The incomplete factor's default cap per column: none. Measured on a 20 k
// item synthetic split (EASE λ = 200, docs/performance.md): a cap of 256
// kept nDCG@100 at 0.122 against 0.245 exact, no cap 0.238 (fill 1) and
// 0.242 (fill 2): the cap bounds the work (Σ column²) at 10⁶ items but costs
// half the accuracy there.
inline constexpr size_t kIncompleteMaxPerColumn = 0;

struct SparseFactorOptions {
  FactorizationMethod method = FactorizationMethod::kAuto;
  // The most this process may hold (resident bytes) at its peak; 0: no
  // limit (kAuto then always factors completely).
  size_t memory_limit_bytes = 0;
  // Bytes the process holds besides A and the factor (the interactions, the
  // model's popularity, …): added to every estimate.
  size_t base_bytes = 0;
  LaterPhaseBytes later;
  int num_threads = 0;  // 0: all cores (permuting A for the incomplete one)
  // The incomplete factor keeps at most this many times A's entries per
  // column (IncompleteCholeskyOptions::fill).
  double incomplete_fill = 1.0;
  // … and at most this many per column (0: no cap).
  size_t incomplete_max_per_column = kIncompleteMaxPerColumn;
};

// What the analysis predicted and the factorization did.
struct SparseFactorReport {
  FactorizationMethod method = FactorizationMethod::kComplete;  // the one run
  std::string ordering;            // CHOLMOD's fill-reducing ordering
  size_t nnz_a_lower = 0;          // A's lower triangle incl. diagonal
  double complete_nnz = 0;         // nnz(L) of the complete factor (predicted)
  double complete_flops = 0;       // its floating-point operations
  size_t complete_peak_bytes = 0;  // estimated process peak, complete
  size_t incomplete_peak_bytes = 0;  // estimated process peak, incomplete
  size_t nnz_factor = 0;             // nnz(L) of the factor made
  size_t replaced_pivots = 0;        // incomplete: breakdowns repaired
  double analyze_seconds = 0;
  double factorize_seconds = 0;
};

// Owns the factor (CHOLMOD's or its own arrays). Movable, not copyable.
class SparseFactor {
 public:
  SparseFactor();
  ~SparseFactor();
  SparseFactor(SparseFactor&&) noexcept;
  SparseFactor& operator=(SparseFactor&&) noexcept;

  FactorView view() const;
  const SparseFactorReport& report() const;
  // Frees the factor (view() is then invalid); report() stays.
  void Release();

  struct Impl;

 private:
  explicit SparseFactor(std::unique_ptr<Impl> impl);
  friend absl::StatusOr<SparseFactor> FactorSparseGram(
      SparseGram, const std::vector<double>&, const SparseFactorOptions&,
      std::ostream*);
  std::unique_ptr<Impl> impl_;
};

// Factors A = G + dMat(diagonal_shift) (`diagonal_shift`: n entries, Λ plus
// any dropped co-occurrence mass), consuming `g` (freed once A holds it):
// CHOLMOD analyze (AMD; METIS too when AMD fills badly and a better ordering
// could make it fit) predicts the complete factor's fill; the estimates of
// both methods (process peak = base_bytes + max(factorization, factor +
// later.with_factor, later.after_factor)) go to `log`; kAuto takes the
// complete factor when its estimate fits the limit, else the incomplete one
// on AMD's ordering. kIncomplete skips the analysis (minutes at 10⁸ entries)
// and orders by ascending degree. Errors: ResourceExhausted (the chosen
// method's estimate exceeds a nonzero limit: the message names both estimates
// and what to change; or CHOLMOD ran out of memory), FailedPrecondition (A is
// not positive definite), Internal.
absl::StatusOr<SparseFactor> FactorSparseGram(
    SparseGram g, const std::vector<double>& diagonal_shift,
    const SparseFactorOptions& options, std::ostream* log = nullptr);

}  // namespace edlae

#endif  // EDLAE_TRAINER_SPARSE_FACTOR_H_
