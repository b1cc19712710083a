// One low-rank closed-form training run, matrix-free sparse
// (TrainSparseLowRank) or dense (SolveLowRank): time and peak memory.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "trainer/gram.h"
#include "trainer/interactions.h"
#include "trainer/low_rank.h"
#include "trainer/model_spec.h"
#include "trainer/sparse_gram.h"
#include "trainer/sparse_low_rank.h"
#include "trainer/train.h"

ABSL_FLAG(std::string, train, "", "training interactions");
ABSL_FLAG(std::string, format, "auto", "input format (as edlae-train)");
ABSL_FLAG(std::string, mode, "sparse",
          "sparse (matrix-free, never n × n) | dense (SolveLowRank) | plan "
          "(PlanSparseLowRank: the factor's size and flops, no solve)");
ABSL_FLAG(std::string, model, "edlae", "edlae | dlae");
ABSL_FLAG(double, lambda, 500, "λ");
ABSL_FLAG(double, dropout, 0.25, "p");
ABSL_FLAG(uint64_t, rank, 100, "k");
ABSL_FLAG(std::string, eigensolver, "krylov",
          "dense mode: auto | krylov | syevr");
ABSL_FLAG(uint64_t, solve_columns, 256,
          "sparse mode: columns per CHOLMOD solve");
ABSL_FLAG(uint32_t, min_cooccurrence, 0,
          "sparse, plan: SparseLowRankOptions::min_cooccurrence (changes the "
          "model: dropped counts move to the diagonal)");
ABSL_FLAG(int, threads, 0, "threads (0: all cores)");

namespace edlae {
namespace {

int Run() {
  LoadOptions lo;
  char delimiter = ',';
  absl::StatusOr<InputFormat> format =
      ParseInputFormat(absl::GetFlag(FLAGS_format), &delimiter);
  if (!format.ok()) {
    std::cerr << format.status() << "\n";
    return 1;
  }
  lo.format = *format;
  lo.delimiter = delimiter;
  absl::StatusOr<Interactions> x =
      LoadInteractions(absl::GetFlag(FLAGS_train), lo);
  if (!x.ok()) {
    std::cerr << x.status() << "\n";
    return 1;
  }
  const size_t n = x->num_items();
  ModelSpec spec;
  absl::StatusOr<Algorithm> algorithm =
      ParseAlgorithm(absl::GetFlag(FLAGS_model));
  absl::StatusOr<EigenMethod> eigensolver =
      ParseEigenMethod(absl::GetFlag(FLAGS_eigensolver));
  if (!algorithm.ok() || !eigensolver.ok()) {
    std::cerr << "bad --model or --eigensolver\n";
    return 1;
  }
  spec.algorithm = *algorithm;
  spec.lambda = absl::GetFlag(FLAGS_lambda);
  spec.dropout = absl::GetFlag(FLAGS_dropout);
  spec.rank = absl::GetFlag(FLAGS_rank);
  spec.eigensolver = *eigensolver;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int threads = absl::GetFlag(FLAGS_threads);
  const size_t rss_loaded = PeakRssBytes();
  std::fprintf(stderr, "%zu users × %zu items, %zu interactions\n",
               x->num_users(), n, x->num_interactions());
  const auto start = std::chrono::steady_clock::now();
  LowRankResult result;
  if (mode == "plan") {
    const SparseGram g = ComputeSparseGram(
        *x, {.min_cooccurrence = absl::GetFlag(FLAGS_min_cooccurrence),
             .num_threads = threads});
    absl::StatusOr<SparseLowRankPlan> plan =
        PlanSparseLowRank(g, SolverOptionsFor(spec, threads),
                          LowRankOptionsFor(spec), SparseLowRankOptions());
    if (!plan.ok()) {
      std::cerr << plan.status() << "\n";
      return 1;
    }
    std::printf(
        "plan n=%zu k=%zu nnz_gram=%zu nnz_factor=%zu stored=%zu (%.2f GiB) "
        "flops=%.3g ordering=%s supernodal=%d krylov_basis_gib=%.2f "
        "peak_gib=%.2f seconds=%.2f\n",
        plan->n, spec.rank, plan->nnz_gram, plan->nnz_factor,
        plan->factor_stored_entries,
        plan->factor_stored_entries * 8.0 / (1 << 30), plan->factor_flops,
        plan->ordering.c_str(), plan->supernodal ? 1 : 0,
        plan->krylov_basis_elements * 8.0 / (1 << 30),
        plan->peak_bytes / 1073741824.0,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
    return 0;
  }
  if (mode == "sparse") {
    SparseLowRankOptions o;
    o.num_threads = threads;
    o.min_cooccurrence = absl::GetFlag(FLAGS_min_cooccurrence);
    o.solve_columns = absl::GetFlag(FLAGS_solve_columns);
    absl::StatusOr<SparseLowRankResult> r =
        TrainSparseLowRank(*x, spec, o, &std::cerr);
    if (!r.ok()) {
      std::cerr << r.status() << "\n";
      return 1;
    }
    const SparseLowRankReport& rep = r->report;
    std::fprintf(stderr,
                 "phases: gram %.2f s, factor %.2f s (nnz(L) %zu, %s), diag C "
                 "%.2f s, eigen %.2f s (%zu operator columns), U %.2f s; "
                 "Krylov basis %.2f GiB\n",
                 rep.gram_seconds, rep.factor_seconds, rep.nnz_factor,
                 rep.ordering.c_str(), rep.diag_seconds, rep.eigen_seconds,
                 rep.operator_columns, rep.u_seconds,
                 rep.krylov_basis_elements * 8.0 / (1 << 30));
    result = std::move(r->low_rank);
  } else if (mode == "dense") {
    LowRankOptions o = LowRankOptionsFor(spec);
    absl::StatusOr<LowRankResult> r =
        SolveLowRank(ComputeGram(*x, threads), n,
                     SolverOptionsFor(spec, threads), o, &std::cerr);
    if (!r.ok()) {
      std::cerr << r.status() << "\n";
      return 1;
    }
    result = *std::move(r);
  } else {
    std::cerr << "unknown --mode " << mode << "\n";
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf(
      "mode=%s model=%s n=%zu k=%zu seconds=%.2f peak_rss_gib=%.2f "
      "(after load %.2f) relative_residual=%.3g restarts=%d converged=%d\n",
      mode.c_str(), absl::GetFlag(FLAGS_model).c_str(), n, result.k, seconds,
      PeakRssBytes() / 1073741824.0, rss_loaded / 1073741824.0,
      result.eigen_relative_residual, result.krylov_restarts,
      result.eigen_converged ? 1 : 0);
  return 0;
}

}  // namespace
}  // namespace edlae

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return edlae::Run();
}
