// edlae-train train: load interactions, solve the closed form, write the model file.
#include <chrono>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/train.h"

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

  absl::StatusOr<TrainReport> report = TrainAndWrite(
      *x, *solver, *low_rank, input, solver->num_threads, out, &std::cerr);
  if (!report.ok()) return Fail(report.status());
  std::cerr << absl::StrFormat("[train] total: %.3f s; peak memory: %.1f MiB\n",
                               SecondsSince(start),
                               PeakRssBytes() / (1024.0 * 1024.0));
  return kExitOk;
}

}  // namespace edlae::cli
