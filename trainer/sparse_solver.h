// Sparse EASE/EDLAE/DLAE: a sparse factor of G + Λ, a pruned inverse factor W ≈
// L⁻¹, C ≈ WᵀW, and B in CSR rows.
#ifndef EDLAE_TRAINER_SPARSE_SOLVER_H_
#define EDLAE_TRAINER_SPARSE_SOLVER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/progress.h"
#include "core/model_writer.h"
#include "trainer/full_rank_solver.h"
#include "trainer/interactions.h"
#include "trainer/model_spec.h"
#include "trainer/sparse_factor.h"
#include "trainer/sparse_gram.h"

namespace edlae {

// How SolveSparse finds B (trainer/sparse_neighborhood.h,
// trainer/sparse_factor.h).
enum class SparseMethod {
  kAuto,           // see ResolveSparseMethod
  kNeighborhoods,  // each column's exact regression on its neighbors
  kFactor,  // sparse factor of G + Λ, pruned inverse factor, C ≈ WᵀW
};
// "auto" | "neighborhoods" | "factor"; nullopt for anything else.
std::optional<SparseMethod> ParseSparseMethod(std::string_view name);
const char* SparseMethodName(SparseMethod method);

struct SparseTrainOptions;
// The method `options` runs on n items: its method unless kAuto; then
// kFactor when B keeps every weight (density 1: the complete factor is
// exact, the neighborhoods would be n dense (n−1)² solves), when a
// factorization is named, or when the neighborhood solves would cost more
// than kNeighborhoodCostShare of a dense n³ solve (n·m³/3 flops for m =
// NeighborsFor(K, n, factor): dense rows of B, e.g. density 0.1 at 17 k
// items); else kNeighborhoods (measured faster and as accurate or more at
// the densities served: docs/performance.md "Sparse training").
inline constexpr double kNeighborhoodCostShare = 0.1;
SparseMethod ResolveSparseMethod(const SparseTrainOptions& options, size_t n);

// InvalidArgument when the method's knobs contradict it: a factorization
// named with kNeighborhoods, or a neighborhood factor (> 0; 0: unset) with
// kFactor or below 1. What the CLI and edlae.fit refuse before reading data
// and SolveSparse refuses too.
absl::Status CheckSparseMethod(SparseMethod method,
                               FactorizationMethod factorization,
                               double neighborhood_factor);

// Neighbors per kept weight (measured: docs/performance.md "Sparse training
// by neighborhoods").
inline constexpr double kDefaultNeighborhoodFactor = 1.0;
// The neighborhood size SolveSparse uses for columns of `keep` weights:
// max(ceil(factor · keep), min(4 · keep, kMinNeighbors)), at most n
// (factor 0: kDefaultNeighborhoodFactor). A small
// K regresses on a wider pool (4·K, up to 256), whose solves stay cheap: at
// K = 36 on ML-1M, 144 neighbors scored 0.392 against 0.381 for 36
// (exact: 0.408).
inline constexpr size_t kMinNeighbors = 256;
size_t NeighborsFor(size_t keep, size_t n, double factor);
// Each row of a neighborhood B keeps at most this many times K weights, its
// largest: popular items are in most neighborhoods (one row of 465,617 at
// 10⁶ items uncapped: Recommend p50 2.7 ms), and a row is what one history
// item costs to serve. Measured (nDCG@100): 2·K costs nothing on Amazon-Book
// (0.13243 against 0.13245) or the 40k set (0.2298 both), 0.1 % on ML-1M;
// 1·K costs 1.4 % on ML-1M.
inline constexpr size_t kNeighborhoodRowCap = 2;

struct SparseTrainOptions {
  SparseMethod method = SparseMethod::kAuto;
  // kNeighborhoods: each column regresses on NeighborsFor(K, n, this)
  // neighbors (then keeps its K largest weights); 0: the default
  // (kDefaultNeighborhoodFactor), else ≥ 1.
  double neighborhood_factor = 0;
  // Fraction of the n² weights of B kept, in (0, 1]: K =
  // KeepPerRowForDensity(density, n) (core/model_convert.h: max(1,
  // round(density · n))) per row (kFactor: each row's K largest |B[i][j]|)
  // or per column (kNeighborhoods: each column's K largest after its solve,
  // then each row's kNeighborhoodRowCap·K largest). 1 keeps every weight
  // (exact B).
  double density = 0.01;
  // Off-diagonal co-occurrence counts below this are dropped from G before
  // the factorization (0 or 1: none); the diagonal is kept, and each row's
  // dropped counts are added to its diagonal in A so that A stays positive
  // definite (a thresholded Gram matrix alone need not be).
  uint32_t min_cooccurrence = 0;
  // Then G is cut to this density by normalized weight (SparsifyGram), the
  // dropped mass moved to the diagonal the same way; 1: keep every entry.
  double gram_density = 1.0;
  int num_threads = 0;  // 0: all cores
  // Entries kept per column of W ≈ L⁻¹:
  // KeepPerRowForDensity(inverse_density, n); 0: DefaultInverseKeep.
  double inverse_density = 0;
  // In the triangular solves for W's columns, an entry with
  // |w_kj| < drop_tolerance · |w_jj| is kept but not propagated to the
  // entries it would update (those are then computed without it).
  // Negative: 0 (exact) when density == 1, else kDefaultDropTolerance.
  double drop_tolerance = -1;
  // Complete (CHOLMOD) or incomplete (Eigen IC with A's fill) factor of A;
  // kAuto: complete when the whole solve's estimated peak fits
  // memory_limit_bytes (trainer/sparse_factor.h).
  FactorizationMethod factorization = FactorizationMethod::kAuto;
  // The most the process may hold at its peak; 0: no limit.
  size_t memory_limit_bytes = 0;
  // The incomplete factor's columns: at most incomplete_fill × A's entries
  // and at most incomplete_max_per_column (0: no cap) each.
  double incomplete_fill = 1.0;
  size_t incomplete_max_per_column = kIncompleteMaxPerColumn;
  // In-place progress with an ETA for the inverse and B phases (the
  // factorization itself is one CHOLMOD call: its flop count is logged).
  ProgressMode progress = ProgressMode::kAuto;
};
// Measured on ML-1M and Amazon-Book (docs/performance.md): 1e-2 is 10–40×
// faster than 1e-4 with the same Recall@20.
inline constexpr double kDefaultDropTolerance = 1e-2;

// The density `--sparse` alone trains at: min(0.01, kDefaultSparseKeep / n).
// 1 % of the n² weights measured within 1 % of the exact EASE's Recall@20 on
// Amazon-Book (24,915 items, 249 per row; docs/performance.md "Sparse
// training"); at larger n the per-row cap keeps the model and C ≈ WᵀW linear
// in n (1,000,000 items: 256 M weights, 2 GiB).
inline constexpr size_t kDefaultSparseKeep = 256;
double DefaultSparseDensity(size_t num_items);

// The G density `--sparse` alone sparsifies to (SparsifyGram): 1, exact G.
// Cutting G lost more than the 1 % on Amazon-Book (0.01: 94.9 % of
// the exact nDCG@100; docs/performance.md "Sparsifying G"), so it is a knob.
double DefaultGramDensity(size_t num_items);

// Entries per column of W when inverse_density is 0, for B rows of
// `keep_per_row`: n when keep_per_row >= n (exact), else
// min(4 · keep_per_row, 256, n). C ≈ WᵀW needs W wider than sparse B's rows
// (4× gained 0.01 Recall@20 on ML-1M at density 0.01), but the product costs
// Σ over W's rows of their squared length: at density 0.05 on Amazon-Book
// 1246 per column took 223 s, 256 took 34 s, both Recall@20 0.1598.
size_t DefaultInverseKeep(size_t keep_per_row, size_t n);

// What each phase cost; sizes in entries (not bytes).
struct SparseTrainReport {
  double gram_seconds = 0;
  double factor_seconds = 0;   // analyze (ordering) + factorize
  double inverse_seconds = 0;  // W ≈ L⁻¹
  double b_seconds = 0;        // C ≈ WᵀW, diag C, B rows, pruning
  // kNeighborhoods instead: the per-column solves and B's rows (the factor,
  // inverse and b phases are 0).
  double neighborhood_seconds = 0;
  std::string method;          // "neighborhoods" or "factor" (the one run)
  size_t neighbors = 0;        // the neighborhood size m
  size_t longest_row = 0;      // the most weights one row of B holds
  size_t max_per_row = 0;      // kNeighborhoods: the row cap (0: factor)
  size_t peak_rss_bytes = 0;   // getrusage after the last phase
  size_t nnz_gram = 0;         // full symmetric G (both triangles)
  size_t nnz_factor = 0;       // L (lower triangle incl. diagonal)
  size_t nnz_inverse = 0;      // W (lower triangle incl. diagonal)
  size_t nnz_b = 0;
  std::string ordering;             // CHOLMOD's chosen fill-reducing ordering
  std::string factorization;        // "complete" or "incomplete" (the one run)
  size_t estimated_peak_bytes = 0;  // the estimate that chose it
  // The parameters the run resolved: B's entries per row (per column for
  // kNeighborhoods); kFactor: W's per column, the drop tolerance (0 for
  // kNeighborhoods).
  size_t keep_per_row = 0;
  size_t inverse_keep = 0;
  double drop_tolerance = 0;
  // The largest single buffer any phase allocated, in elements: by
  // construction max(nnz(L), nnz(W), nnz(B), nnz(G), threads · n, ...);
  // never n² unless the factor or the model itself is that dense.
  size_t largest_buffer_elements = 0;
};

// B = I − C·dMat(1 ⊘ diag C) (kEase, kEdlae) or I − C·Λ (kDlae), sparse.
// Owns its arrays; View() lends them to WriteSparseModel.
struct SparseModel {
  size_t num_items = 0;
  std::vector<uint64_t> offsets;  // num_items + 1
  std::vector<uint32_t> indices;  // nnz, ascending within each row
  std::vector<float> weights;     // nnz, finite
  std::vector<float> popularity;  // diag G
  SparseTrainReport report;

  // The model as WriteSparseModel takes it (metadata empty, dtype float32):
  // valid while this object and `item_ids` live.
  SparseModelData View(absl::Span<const std::string> item_ids) const;
};

// Solves the model of `options` (algorithm, λ, p) on the sparse Gram matrix
// `g`, consumed (its memory is released once the factor holds it):
//  1. A = G + Λ, Λ = λ·I + p/(1−p)·dMat(diag G) (p = 0 for kEase), plus
//     dMat(g.dropped_row_sums) when co-occurrences were dropped;
//  2. P·A·Pᵀ = L·Lᵀ by CHOLMOD (AMD, or METIS when AMD fills badly;
//     supernodal factorization, then converted to a simplicial CSC L), or,
//     when that would not fit `memory_limit_bytes` (or is asked for),
//     P·A·Pᵀ ≈ L·Lᵀ incomplete with the fill of A (FactorSparseGram);
//  3. W ≈ L⁻¹ column by column: the sparse triangular solve L·w = e_j (along
//     j's elimination-tree path for the complete factor; with
//     `drop_tolerance`), then the column pruned to its largest entries
//     (`inverse_density`), diagonal kept;
//  4. C ≈ Wᵀ·W (so C = (P·A·Pᵀ)⁻¹ exactly when nothing is dropped), row by
//     row with a length-n accumulator per thread; diag C = the squared norms
//     of W's columns before pruning (exact up to the drop tolerance);
//     B from C as above; each row pruned to KeepPerRowForDensity(density, n)
//     entries and mapped back through P.
// At density 1 with nothing dropped this is the exact closed form of
// SolveFullRank (to rounding). Memory: G, then L, W and B, plus O(threads·n);
// no n × n buffer; the estimate of the whole solve is logged before the
// factorization. Errors: InvalidArgument (hyperparameters, density outside
// (0, 1], kZeroDiag), FailedPrecondition (G + Λ not positive definite, or a
// non-finite B), ResourceExhausted
// (the estimate exceeds memory_limit_bytes, or CHOLMOD out of memory).
absl::StatusOr<SparseModel> SolveSparse(SparseGram g,
                                        const SolverOptions& solver,
                                        const SparseTrainOptions& options,
                                        std::ostream* log = nullptr);

// ComputeSparseGram (with options.min_cooccurrence) then SolveSparse, with
// time and peak memory per phase in the report and on `log` when not null.
absl::StatusOr<SparseModel> TrainSparse(const Interactions& x,
                                        const ModelSpec& spec,
                                        const SparseTrainOptions& options,
                                        std::ostream* log = nullptr);

}  // namespace edlae

#endif  // EDLAE_TRAINER_SPARSE_SOLVER_H_
