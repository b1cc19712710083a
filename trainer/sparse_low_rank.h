// Low-rank EDLAE (Algorithm 1) and DLAE closed forms from the sparse Gram
// matrix, matrix-free: never n × n.
#ifndef EDLAE_TRAINER_SPARSE_LOW_RANK_H_
#define EDLAE_TRAINER_SPARSE_LOW_RANK_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/full_rank_solver.h"
#include "trainer/interactions.h"
#include "trainer/low_rank.h"
#include "trainer/model_spec.h"
#include "trainer/sparse_gram.h"

namespace edlae {

struct SparseLowRankOptions {
  // Off-diagonal co-occurrence counts below this are dropped from G (their
  // row sums move to the diagonal of A, as SparseTrainOptions does); 0 or 1:
  // none, and the result is exactly the dense Algorithm 1's.
  uint32_t min_cooccurrence = 0;
  int num_threads = 0;  // sparse Gram and G·X products; 0: all cores
  // Columns of a Krylov block pushed through one CHOLMOD solve (bounds the
  // operator's scratch to 4 · n · solve_columns doubles).
  size_t solve_columns = 256;
  // CHOLMOD's choice (kAuto: supernodal when flops/nnz(L) ≥ 40, i.e. when
  // the factor fills) or a forced one; the result is the same either way.
  enum class Factorization { kAuto, kSimplicial, kSupernodal };
  Factorization factorization = Factorization::kAuto;
  // The most the process may hold at its peak (what it holds at the call
  // plus the phases' buffers, SparseLowRankPlan::peak_bytes); checked after
  // CHOLMOD's symbolic analysis, before the numeric factorization. 0: no
  // limit.
  size_t memory_limit_bytes = 0;
};

// What each phase cost. Sizes in entries, not bytes.
struct SparseLowRankReport {
  double gram_seconds = 0;
  double factor_seconds = 0;  // analyze (ordering) + supernodal factorize
  double diag_seconds = 0;    // diag C by the Takahashi recurrence (EDLAE)
  double eigen_seconds = 0;   // block Krylov on M, operator included
  double u_seconds = 0;       // U = V − C·D·V
  size_t peak_rss_bytes = 0;  // getrusage after the last phase
  size_t nnz_gram = 0;        // full symmetric G (both triangles)
  size_t nnz_factor = 0;      // L (lower triangle incl. diagonal)
  // Entries CHOLMOD stores for L (supernodal: dense supernode blocks, so
  // ≥ nnz_factor); diag C's Z takes as many again.
  size_t factor_stored_entries = 0;
  std::string ordering;         // CHOLMOD's fill-reducing ordering
  size_t operator_columns = 0;  // columns of M·X applied (EigenResult)
  // The Krylov basis and its image: 2 · n · (k + oversample) · depth
  // doubles, the largest buffer of the eigen-solve.
  size_t krylov_basis_elements = 0;
};

struct SparseLowRankResult {
  // U, V, eigenvalues, residuals as SolveLowRank returns them
  // (eigensolver = kBlockKrylov, dense_buffers = 0).
  LowRankResult low_rank;
  std::vector<float> popularity;  // diag G, for the model file
  SparseLowRankReport report;
};

// The closed-form low-rank model of `solver` (kEdlae: Algorithm 1 of Steck &
// Garcia Garcia 2021; kDlae: the exact low-rank DLAE) from the sparse Gram
// matrix `g`, consumed, with the same definitions as SolveLowRank
// (trainer/low_rank.h): A = G + Λ, Λ = λ·I + p/(1−p)·dMat(diag G), C = A⁻¹,
// B̂ = I − C·D with D = dMat(1 ⊘ diag C) (kEdlae) or Λ (kDlae),
// V = eig_k(M), M = B̂ᵀ·A·B̂ = A − 2·D + D·C·D, U = B̂·V = V − C·(D·V).
// Never forms C, B̂ or M:
//  1. P·A·Pᵀ = L·Lᵀ by CHOLMOD (AMD or METIS ordering; supernodal or
//     simplicial, options.factorization);
//  2. kEdlae: diag C exactly, by selected inversion — the Takahashi
//     recurrence Z·L = L⁻ᵀ for Z = C on the pattern of L, from the last
//     column back: per supernode with BLAS-3 (about the factorization's
//     flops), or per column on a simplicial factor; nnz(L) extra doubles;
//  3. V by LeadingEigenpairsKrylov on the operator X ↦ A·X − 2·D·X +
//     D·C·(D·X): one sparse product with A and one CHOLMOD solve per block;
//  4. U = V − C·(D·V), one more solve.
// On the same data the model U·Vᵀ equals SolveLowRank's closed form to the
// eigensolver's tolerance (tests/trainer/sparse_low_rank_test.cc).
// Memory: G as full CSR (12 · nnz(G) bytes) + the factor, + nnz(L) doubles
// (and the largest supernode's |R|² + 2·|R|·|J|) while diag C is computed, +
// the Krylov basis (krylov_basis_elements doubles) + O(n · (solve_columns +
// k)); no n × n buffer unless `options.rank` is so close to n that the Krylov
// basis would not fit, which is refused for n > 8192 (then the dense path is
// the right one). `low_rank.eigensolver` must be kAuto or kBlockKrylov (syevr
// needs M explicitly) and `low_rank.method` kClosedForm. Thread-compatible
// (no shared state; runs `options.num_threads` threads and OpenBLAS's own).
// Errors:
// InvalidArgument (rank outside [1, n − 1], λ or p out of range, another
// algorithm or method, syevr), FailedPrecondition (G + Λ not positive definite,
// non-finite U or V), ResourceExhausted (the estimated peak exceeds
// options.memory_limit_bytes — said before any numeric work, with the
// estimate and what to change — or CHOLMOD out of memory), Internal
// (LAPACK/CHOLMOD failure).
absl::StatusOr<SparseLowRankResult> SolveSparseLowRank(
    SparseGram g, const SolverOptions& solver, const LowRankOptions& low_rank,
    const SparseLowRankOptions& options, std::ostream* log = nullptr);

// What SolveSparseLowRank would cost on `g`, from CHOLMOD's symbolic
// analysis alone (ordering and column counts, no numeric factorization):
// for choosing between this path and the dense one before memory is spent.
struct SparseLowRankPlan {
  size_t n = 0;
  size_t nnz_gram = 0;               // full symmetric G
  size_t nnz_factor = 0;             // nnz(L), CHOLMOD's lnz
  size_t factor_stored_entries = 0;  // what CHOLMOD will allocate for L
  double factor_flops = 0;           // CHOLMOD's fl for the factorization
  std::string ordering;
  bool supernodal = false;
  size_t krylov_basis_elements = 0;
  // EDLAE's diag C scratch beyond Z: the largest supernode's |R|² + |R|·|J|
  // + |J|² doubles (Z_RR dominates: a small supernode below a dense one).
  size_t diag_scratch_elements = 0;
  // Peak bytes of the phases, by their buffers (G's CSRs, A, L, Z, the
  // Krylov basis, x/mx blocks, the operator's scratch): an estimate.
  size_t peak_bytes = 0;
};
// Errors: those of SolveSparseLowRank's argument checks, ResourceExhausted.
absl::StatusOr<SparseLowRankPlan> PlanSparseLowRank(
    const SparseGram& g, const SolverOptions& solver,
    const LowRankOptions& low_rank, const SparseLowRankOptions& options);

// ComputeSparseGram (with options.min_cooccurrence) then SolveSparseLowRank
// with SolverOptionsFor(spec, options.num_threads) and
// LowRankOptionsFor(spec); per-phase time and peak memory in the report and
// on `log` when not null.
absl::StatusOr<SparseLowRankResult> TrainSparseLowRank(
    const Interactions& x, const ModelSpec& spec,
    const SparseLowRankOptions& options, std::ostream* log = nullptr);

}  // namespace edlae

#endif  // EDLAE_TRAINER_SPARSE_LOW_RANK_H_
