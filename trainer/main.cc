// edlae-train: dispatches to the subcommands in trainer/commands/.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/flag_names.h"
#include "trainer/commands/command.h"

namespace edlae::cli {
namespace {

struct Command {
  std::string_view name;
  int (*run)();
};

// Add a command here and in commands/command.h; its usage goes in kUsage.
constexpr Command kCommands[] = {
    {"train", RunTrain},
    {"synth", RunSynth},
    {"split", RunSplit},
    {"evaluate", RunEvaluate},
    {"tune", RunTune},
    {"sweep", RunSweep},
    {"convert", RunConvert},
};

constexpr char kUsage[] =
    "edlae-train: train linear-autoencoder recommenders in closed form.\n\n"
    "  edlae-train train --input PATH [--format F] --model {ease,dlae,edlae,zero-diag}\n"
    "                    --lambda L [--dropout P] --out MODEL\n"
    "                    [--min-rating R] [--min-user-count N] [--min-item-count N]\n"
    "                    [--precision float64|float32] [--dtype f32|f16|bf16]\n"
    "                    [--threads N]\n"
    "                    [--user-col C --item-col C --rating-col C --header]  (csv/tsv)\n"
    "                    [--rank K [--method closed-form|admm|als] [--epochs E]\n"
    "                     [--omega W] [--eigensolver auto|krylov|syevr]]  (low rank)\n"
    "  edlae-train synth --users N --items M --out FILE [--mean-items K]\n"
    "                    [--topics T] [--seed S]\n"
    "  edlae-train split --input PATH[,PATH...] [--format F] --heldout-users N|P%\n"
    "                    --out DIR [--seed 98765] [--min-rating 3.5|none]\n"
    "                    [--min-user-count 5]\n"
    "  edlae-train evaluate --split DIR (--model-file MODEL | --model M --lambda L\n"
    "                    [--dropout P]) [--on validation|test] [--json]\n"
    "                    [--scorer exact|gemm]\n"
    "  edlae-train tune --split DIR --model M[,M...] --lambda L1,L2,...\n"
    "                    [--dropout P1,P2,...] [--precision float64|float32]\n"
    "                    [--out MODEL] [--json] [--scorer exact|gemm]\n"
    "  edlae-train sweep --split DIR [--ranks 10,50,100,200,500,1000,full]\n"
    "                    [--methods closed-form,admm,als,dlae] [--lambda L]\n"
    "                    [--dropout P] [--epochs E] [--omega W] [--out-dir DIR]\n"
    "                    [--json]\n"
    "  edlae-train convert --model-file MODEL --dtype f32|f16|bf16 --out MODEL\n"
    "  edlae-train inspect MODEL\n\n"
    "Formats: auto, movielens-csv, movielens-dat, csv, tsv, lines, count-lines.\n"
    "Exit status: 0 success, 1 failure (bad data, I/O), 2 usage error.";

}  // namespace

int Fail(const absl::Status& status) {
  std::cerr << "edlae-train: " << status.message() << "\n";
  return kExitFailure;
}

int UsageError(const std::string& message) {
  std::cerr << "edlae-train: " << message << "\n\n" << kUsage << "\n";
  return kExitUsage;
}

}  // namespace edlae::cli

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(edlae::cli::kUsage);
  std::vector<std::string> args = edlae::NormalizeFlagNames(argc, argv);
  std::vector<char*> view = edlae::FlagArgv(args);
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), view.data());
  if (positional.size() >= 2 && std::string_view(positional[1]) == "inspect") {
    return edlae::cli::RunInspect(
        std::vector<std::string>(positional.begin() + 2, positional.end()));
  }
  if (positional.size() != 2) {
    return edlae::cli::UsageError(positional.size() < 2 ? "missing command"
                                                        : "too many arguments");
  }
  const std::string_view name = positional[1];
  for (const edlae::cli::Command& command : edlae::cli::kCommands) {
    if (command.name == name) return command.run();
  }
  return edlae::cli::UsageError("unknown command '" + std::string(name) + "'");
}
