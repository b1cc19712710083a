// edlae-train: dispatches to the subcommands in trainer/commands/.
#include <iostream>
#include <optional>
#include <vector>

#include "common/cli.h"
#include "common/file_io.h"
#include "core/kernels.h"
#include "trainer/commands/command.h"

namespace edlae::cli {

int Fail(const absl::Status& status) {
  std::cerr << "edlae-train: " << status.message() << "\n";
  return kExitFailure;
}

std::optional<int> PreflightOutput(const CLI::App& command,
                                   const std::string& path,
                                   absl::string_view flag,
                                   const std::vector<std::string>& inputs) {
  if (path.empty()) return std::nullopt;
  absl::Status s = CheckWritableOutput(path, flag);
  if (s.ok()) s = CheckOutputIsNotInput(path, flag, inputs);
  if (s.ok()) return std::nullopt;
  return UsageError(command, s.message());
}

}  // namespace edlae::cli

int main(int argc, char** argv) {
  CLI::App program(
      "Trains linear-autoencoder recommenders (EASE, DLAE, EDLAE, low-rank) "
      "in closed form, evaluates them, and scores users in "
      "batch.\n'edlae-train COMMAND --help' "
      "lists a command's flags and defaults.\nExit status: 0 success, 1 "
      "failure (bad data, I/O), 2 usage error (nothing was done).",
      "edlae-train");
  edlae::cli::Configure(program);
  program.require_subcommand(1);
  const std::vector<edlae::cli::Command> commands = {
      edlae::cli::AddTrainCommand(program),
      edlae::cli::AddSynthCommand(program),
      edlae::cli::AddSplitCommand(program),
      edlae::cli::AddEvaluateCommand(program),
      edlae::cli::AddTuneCommand(program),
      edlae::cli::AddSweepCommand(program),
      edlae::cli::AddConvertCommand(program),
      edlae::cli::AddInspectCommand(program),
      edlae::cli::AddRecommendCommand(program),
  };
  if (std::optional<int> exit = edlae::cli::Parse(program, argc, argv)) {
    return *exit;
  }
  // EDLAE_SIMD_TARGET pins the scoring kernels (evaluate, recommend, tune)
  // as it does the server's.
  if (absl::Status s = edlae::ApplySimdTargetFromEnv(); !s.ok()) {
    std::cerr << "edlae-train: " << s.message() << "\n";
    return edlae::cli::kExitUsage;
  }
  for (const edlae::cli::Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return edlae::cli::kExitUsage;  // require_subcommand(1) makes this
                                  // unreachable
}
