// The edlae-train subcommands: one Run function per command file, plus shared exit-status helpers.
#ifndef EDLAE_TRAINER_COMMANDS_COMMAND_H_
#define EDLAE_TRAINER_COMMANDS_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace edlae::cli {

// Exit statuses of edlae-train.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // bad data, I/O, numerical failure
inline constexpr int kExitUsage = 2;    // bad command line

// Prints "edlae-train: <message>" to stderr and returns kExitFailure.
int Fail(const absl::Status& status);
// Prints the message and the usage text to stderr and returns kExitUsage.
int UsageError(const std::string& message);

// Each reads its flags (already parsed) and returns an exit status.
int RunTrain();  // commands/train_command.cc
int RunSynth();  // commands/synth_command.cc
int RunSplit();     // commands/split_command.cc
int RunEvaluate();  // commands/evaluate_command.cc
int RunTune();      // commands/tune_command.cc
int RunSweep();     // commands/sweep_command.cc
int RunConvert();   // commands/convert_command.cc
// Commands that take positional arguments get those after the command name.
int RunInspect(const std::vector<std::string>& args);  // commands/inspect_command.cc

}  // namespace edlae::cli

#endif  // EDLAE_TRAINER_COMMANDS_COMMAND_H_
