// The edlae-train subcommands: each adds itself to the program (its flags bound
// to its own state) and returns how to run it; plus the exit statuses and
// failure helper they share.
#ifndef EDLAE_TRAINER_COMMANDS_COMMAND_H_
#define EDLAE_TRAINER_COMMANDS_COMMAND_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/cli.h"

namespace edlae::cli {

// Exit statuses of edlae-train: kExitOk, kExitUsage (common/cli.h) and
inline constexpr int kExitFailure = 1;  // bad data, I/O, numerical failure

// Prints "edlae-train: <message>" to stderr and returns kExitFailure.
int Fail(const absl::Status& status);

// Before any work: the output `path` of flag `flag` can be written (its
// folder exists and is writable, it is not a folder) and is none of
// `inputs` (same file, links followed). nullopt when fine; otherwise the
// usage error has been printed and this is the exit status (kExitUsage). An
// empty `path` (no output asked for) is fine.
std::optional<int> PreflightOutput(const CLI::App& command,
                                   const std::string& path,
                                   absl::string_view flag,
                                   const std::vector<std::string>& inputs);

// A subcommand added to the program: `run` reads the flags parsed into
// `app` and returns the exit status.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// One per command file; add a command here and in trainer/main.cc.
Command AddTrainCommand(CLI::App& program);     // commands/train_command.cc
Command AddSynthCommand(CLI::App& program);     // commands/synth_command.cc
Command AddSplitCommand(CLI::App& program);     // commands/split_command.cc
Command AddEvaluateCommand(CLI::App& program);  // commands/evaluate_command.cc
Command AddTuneCommand(CLI::App& program);      // commands/tune_command.cc
Command AddSweepCommand(CLI::App& program);     // commands/sweep_command.cc
Command AddConvertCommand(CLI::App& program);   // commands/convert_command.cc
Command AddInspectCommand(CLI::App& program);   // commands/inspect_command.cc
Command AddRecommendCommand(
    CLI::App& program);  // commands/recommend_command.cc

}  // namespace edlae::cli

#endif  // EDLAE_TRAINER_COMMANDS_COMMAND_H_
