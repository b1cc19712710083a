// edlae-train train: load interactions, solve the closed form, write the model
// file.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/progress.h"
#include "common/seconds_since.h"
#include "core/weight_rows.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/model_spec.h"
#include "trainer/train.h"

namespace edlae::cli {
namespace {

// train's flags; their values are the defaults.
struct TrainFlags {
  DataFlags data;
  SolverFlags solver;
  LowRankFlags low_rank;
  std::string out;
  std::string dtype = "f32";
  bool skip_memory_check = false;
  int64_t memory_limit_mb = 0;
  // Sparse training (trainer/sparse_solver.h): any of the three selects it.
  bool sparse = false;
  double density = 0;  // 0: DefaultSparseDensity(n)
  int64_t min_cooccurrence = 0;
  double gram_density = 0;  // 0: DefaultGramDensity(n)
  std::string sparse_method = "auto";
  double neighborhood_factor = 0;  // as SparseTrainOptions
  std::string factorization = "auto";
  double incomplete_fill = 1.0;
  int64_t incomplete_max_per_column = kIncompleteMaxPerColumn;
  std::string progress = "auto";
};

int RunTrain(const CLI::App& command, const TrainFlags& flags) {
  const auto start = std::chrono::steady_clock::now();
  const std::string& input = flags.data.input;
  const std::string& out = flags.out;
  const LoadOptions load = ToLoadOptions(flags.data);
  const SolverOptions solver = ToSolverOptions(flags.solver);
  absl::StatusOr<LowRankOptions> checked =
      CheckedLowRankOptions(flags.low_rank, solver);
  if (!checked.ok()) return UsageError(command, checked.status().message());
  const LowRankOptions& low_rank = *checked;
  const FactorizationMethod factorization =
      *ParseFactorizationMethod(flags.factorization);
  const SparseMethod sparse_method = *ParseSparseMethod(flags.sparse_method);
  const ProgressMode progress = *ParseProgressMode(flags.progress);
  // What shapes a sparse full-rank B (refused with --rank), and what selects
  // sparse training at all.
  const bool shaped = flags.density > 0 || flags.gram_density > 0 ||
                      factorization != FactorizationMethod::kAuto ||
                      sparse_method != SparseMethod::kAuto ||
                      flags.neighborhood_factor > 0;
  const bool sparse = flags.sparse || flags.min_cooccurrence > 0 || shaped;
  if (absl::Status s = CheckSparseMethod(sparse_method, factorization,
                                         flags.neighborhood_factor);
      !s.ok()) {
    return UsageError(command, s.message());
  }
  // --sparse --rank K: Algorithm 1 (edlae) or the low-rank DLAE in closed
  // form, matrix-free on the sparse factor (trainer/sparse_low_rank.h).
  if (sparse) {
    if (absl::Status s =
            CheckSparseTraining(ModelSpecOf(solver, low_rank), shaped);
        !s.ok()) {
      return UsageError(command, s.message());
    }
  }
  const DType storage = *ParseDType(flags.dtype);
  if (absl::Status s = CheckStorage(storage, sparse);
      !s.ok()) {
    return UsageError(command, s.message());
  }
  if (solver.algorithm == Algorithm::kEase && solver.dropout != 0) {
    std::cerr
        << "[train] note: ease ignores --dropout (it is edlae with p = 0)\n";
  }

  // The output is checked before the data is read: a bad --out, or one that
  // would replace the training data, fails in a second, not after the solve.
  absl::StatusOr<std::vector<std::string>> inputs = SplitInputList(input);
  if (!inputs.ok()) return UsageError(command, inputs.status().message());
  if (std::optional<int> bad =
          PreflightOutput(command, out, "--out", *inputs)) {
    return *bad;
  }

  const auto load_start = std::chrono::steady_clock::now();
  absl::StatusOr<Interactions> x = LoadInteractionList(input, load);
  if (!x.ok()) return Fail(x.status());
  std::cerr << absl::StrFormat(
      "[train] load: %.3f s (%d users, %d items, %d interactions from %s)\n",
      SecondsSince(load_start), x->num_users(), x->num_items(),
      x->num_interactions(), input);

  TrainOptions train;
  train.spec = ModelSpecOf(solver, low_rank);
  train.storage = storage;
  train.num_threads = solver.num_threads;
  train.source = input;
  train.out_path = out;
  train.log = &std::cerr;
  train.progress = progress;
  if (sparse) {
    SparseTrainOptions options;
    options.density = flags.density > 0 ? flags.density
                                        : DefaultSparseDensity(x->num_items());
    options.min_cooccurrence = static_cast<uint32_t>(flags.min_cooccurrence);
    options.gram_density = flags.gram_density > 0
                               ? flags.gram_density
                               : DefaultGramDensity(x->num_items());
    options.method = sparse_method;
    options.neighborhood_factor = flags.neighborhood_factor;
    options.factorization = factorization;
    options.incomplete_fill = flags.incomplete_fill;
    options.incomplete_max_per_column =
        static_cast<size_t>(flags.incomplete_max_per_column);
    options.progress = progress;
    train.sparse = options;
  }

  // Refuse before the big allocations rather than be OOM-killed half way (the
  // sparse path never allocates n × n; its phases log their own memory, and
  // are checked against the whole process's budget).
  const MemoryBudget budget = TrainingMemoryBudget(
      *x, train, static_cast<size_t>(flags.memory_limit_mb) << 20);
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  if (!sparse)
    std::cerr << absl::StrFormat(
        "[train] memory estimate: %.2f GiB for %d items (%s: %s)\n",
        budget.need / kGiB, x->num_items(),
        budget.limit_given ? "--memory_limit_mb" : "available",
        budget.limit.has_value()
            ? absl::StrFormat("%.2f GiB", *budget.limit / kGiB)
            : std::string("unknown"));
  if (absl::Status s =
          ApplyMemoryBudget(budget, flags.skip_memory_check, train);
      !s.ok()) {
    std::cerr << "edlae-train: " << s.message()
              << "; drop rare items (--min-item-count), use a machine with "
                 "more memory, or pass --skip-memory-check to try anyway\n";
    return kExitFailure;
  }
  if (!sparse && flags.skip_memory_check && budget.limit.has_value() &&
      budget.need > *budget.limit) {
    std::cerr << "[train] warning: --skip-memory-check given; continuing\n";
  }
  absl::StatusOr<TrainReport> report = TrainAndWrite(*x, train);
  if (!report.ok()) return Fail(report.status());
  std::cerr << absl::StrFormat("[train] total: %.3f s; peak memory: %.1f MiB\n",
                               SecondsSince(start),
                               PeakRssBytes() / (1024.0 * 1024.0));
  return kExitOk;
}

}  // namespace

Command AddTrainCommand(CLI::App& program) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* command = program.add_subcommand(
      "train",
      "Load interactions, solve the closed form (or train a low-rank model), "
      "write the model file.");
  AddDataFlags(*command, flags->data,
               "interaction file(s) to read, comma-separated (see --format)");
  AddSolverFlags(*command, flags->solver);
  AddOption(*command, "out", flags->out, "model file to write (atomically)")
      ->required();
  AddOption(*command, "dtype", flags->dtype,
            "storage type of the weights: f32 | f16 | bf16 | int8 (int8: dense "
            "and low-rank models, a scale per row of B, U and V; computation stays "
            "float32/float64)")
      ->check(ParsedBy(
          [](const std::string& name) { return ParseDType(name).status(); }));
  AddLowRankFlags(*command, flags->low_rank);
  AddFlag(*command, "skip-memory-check", flags->skip_memory_check,
          "go ahead even when the memory estimate exceeds the available "
          "memory");
  AddOption(*command, "memory-limit-mb", flags->memory_limit_mb,
            "refuse when the memory estimate exceeds this many MiB (0: the "
            "available memory, MemAvailable capped by the cgroup)")
      ->check(AtLeast(0));
  AddFlag(*command, "sparse", flags->sparse,
          "train a sparse B (sparse factorization, never n × n) at "
          "--density");
  AddOption(*command, "density", flags->density,
            "sparse B: fraction of the n² weights kept (about density·n per "
            "row); implies --sparse (0: min(0.01, 256/n), i.e. at most 256 "
            "per row)")
      ->check(Between(0, 1));
  AddOption(*command, "gram-density", flags->gram_density,
            "sparse full rank: before factoring, keep the fraction D of G's "
            "n² off-diagonal entries with the largest |G_ij| / "
            "sqrt(A_ii·A_jj), A = G + Λ (the dropped counts move to the "
            "diagonal); implies --sparse (0: the default, 1 = exact G)")
      ->check(Between(0, 1));
  AddOption(*command, "sparse-method", flags->sparse_method,
            "sparse full rank: auto | neighborhoods | factor "
            "(neighborhoods: each item's exact regression on its "
            "--neighborhood-factor × density·n neighbors; factor: a sparse "
            "factor of G + Λ and its pruned inverse; auto: neighborhoods, "
            "except factor at density 1, when --factorization is given, or "
            "when the neighborhood solves would cost over a tenth of a dense "
            "solve); implies --sparse")
      ->check(ParsedBy([](const std::string& name) {
        return ParseSparseMethod(name).has_value()
                   ? absl::OkStatus()
                   : absl::InvalidArgumentError(
                         "must be auto, neighborhoods or factor");
      }));
  AddOption(*command, "neighborhood-factor", flags->neighborhood_factor,
            "sparse neighborhoods: each item regresses on this many times "
            "its kept weights' count of neighbors, then keeps the largest "
            "(0: the default, else at least 1); implies --sparse")
      ->check(AtLeast(0));
  AddOption(*command, "factorization", flags->factorization,
            "sparse: auto | complete | incomplete (auto: complete CHOLMOD "
            "factor when the estimated peak fits the memory limit, else an "
            "incomplete one with the fill of G); a value other than auto "
            "implies --sparse")
      ->check(ParsedBy([](const std::string& name) {
        return ParseFactorizationMethod(name).has_value()
                   ? absl::OkStatus()
                   : absl::InvalidArgumentError(
                         "must be auto, complete or incomplete");
      }));
  AddOption(*command, "incomplete-fill", flags->incomplete_fill,
            "incomplete factor: at most this many times G's entries per "
            "column")
      ->check(GreaterThan(0));
  AddOption(*command, "incomplete-max-per-column",
            flags->incomplete_max_per_column,
            "incomplete factor: at most this many entries per column (0: no "
            "cap)")
      ->check(AtLeast(0));
  AddProgressFlag(*command, flags->progress);
  AddOption(*command, "min-cooccurrence", flags->min_cooccurrence,
            "sparse Gram: drop co-occurrence counts below this (their mass "
            "moves to the diagonal); implies --sparse")
      ->check(AtLeast(0));
  return {command, [command, flags] { return RunTrain(*command, *flags); }};
}

}  // namespace edlae::cli
