// edlae-train train: load interactions, solve the closed form, write the model file.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/weight_rows.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/train.h"

ABSL_FLAG(bool, skip_memory_check, false,
          "train: go ahead even when the memory estimate exceeds the "
          "available memory");
ABSL_FLAG(int64_t, memory_limit_mb, 0,
          "train: refuse when the memory estimate exceeds this many MiB "
          "(0: the available memory, MemAvailable capped by the cgroup)");

namespace edlae::cli {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

int RunTrain() {
  const auto start = std::chrono::steady_clock::now();
  const std::string input = absl::GetFlag(FLAGS_input);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (input.empty()) return UsageError("train needs --input");
  if (out.empty()) return UsageError("train needs --out");
  absl::StatusOr<LoadOptions> load = LoadOptionsFromFlags();
  if (!load.ok()) return UsageError(std::string(load.status().message()));
  absl::StatusOr<SolverOptions> solver = SolverOptionsFromFlags();
  if (!solver.ok()) return UsageError(std::string(solver.status().message()));
  absl::StatusOr<LowRankOptions> low_rank = LowRankOptionsFromFlags();
  if (!low_rank.ok()) {
    return UsageError(std::string(low_rank.status().message()));
  }
  if (solver->algorithm == Algorithm::kZeroDiag && low_rank->rank == 0) {
    return UsageError("--model zero-diag is low-rank: give --rank K --method als");
  }
  if (low_rank->rank > 0 && absl::GetFlag(FLAGS_method) == "closed-form" &&
      solver->algorithm == Algorithm::kZeroDiag) {
    low_rank->method = LowRankMethod::kAls;  // its only method
  }
  absl::StatusOr<DType> storage = ParseDType(absl::GetFlag(FLAGS_dtype));
  if (!storage.ok()) {
    return UsageError(absl::StrCat("--dtype: ", storage.status().message()));
  }
  if (solver->algorithm == Algorithm::kEase && solver->dropout != 0) {
    std::cerr << "[train] note: ease ignores --dropout (it is edlae with p = 0)\n";
  }

  const auto load_start = std::chrono::steady_clock::now();
  absl::StatusOr<Interactions> x = LoadInteractions(input, *load);
  if (!x.ok()) return Fail(x.status());
  std::cerr << absl::StrFormat(
      "[train] load: %.3f s (%d users, %d items, %d interactions from %s)\n",
      SecondsSince(load_start), x->num_users(), x->num_items(),
      x->num_interactions(), input);

  // Refuse before the big allocations rather than be OOM-killed half way.
  const size_t interaction_bytes =
      x->num_interactions() * 2 * sizeof(uint32_t);
  const size_t need = EstimateTrainingBytes(
      x->num_items(), interaction_bytes,
      UsesFloatGram(x->num_users(), *solver, low_rank->rank));
  std::optional<size_t> limit;
  std::string limit_source;
  if (const int64_t mb = absl::GetFlag(FLAGS_memory_limit_mb); mb > 0) {
    limit = static_cast<size_t>(mb) << 20;
    limit_source = "--memory_limit_mb";
  } else if (absl::StatusOr<size_t> available = AvailableMemoryBytes();
             available.ok()) {
    limit = *available;
    limit_source = "available";
  }
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  std::cerr << absl::StrFormat(
      "[train] memory estimate: %.2f GiB for %d items (%s: %s)\n", need / kGiB,
      x->num_items(), limit_source.empty() ? "available" : limit_source,
      limit.has_value() ? absl::StrFormat("%.2f GiB", *limit / kGiB)
                        : std::string("unknown"));
  if (limit.has_value() && need > *limit) {
    if (!absl::GetFlag(FLAGS_skip_memory_check)) {
      std::cerr << absl::StrFormat(
          "edlae-train: training %d items needs about %.2f GiB but only %.2f "
          "GiB is %s; drop rare items (--min-item-count), use a machine with "
          "more memory, or pass --skip-memory-check to try anyway\n",
          x->num_items(), need / kGiB, *limit / kGiB,
          limit_source == "available" ? "available" : "allowed");
      return kExitFailure;
    }
    std::cerr << "[train] warning: --skip-memory-check given; continuing\n";
  }

  TrainOptions train;
  train.spec = ModelSpecOf(*solver, *low_rank);
  train.storage = *storage;
  train.num_threads = solver->num_threads;
  train.source = input;
  train.out_path = out;
  train.log = &std::cerr;
  absl::StatusOr<TrainReport> report = TrainAndWrite(*x, train);
  if (!report.ok()) return Fail(report.status());
  std::cerr << absl::StrFormat("[train] total: %.3f s; peak memory: %.1f MiB\n",
                               SecondsSince(start),
                               PeakRssBytes() / (1024.0 * 1024.0));
  return kExitOk;
}

}  // namespace edlae::cli
