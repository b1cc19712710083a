// Flags several edlae-train subcommands share (data loading, model, low-rank
// training, split folder, --json), each defined once with its default, and
// their conversion to options structs.
#ifndef EDLAE_TRAINER_COMMANDS_COMMON_FLAGS_H_
#define EDLAE_TRAINER_COMMANDS_COMMON_FLAGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/cli.h"
#include "trainer/full_rank_solver.h"
#include "trainer/interactions.h"
#include "trainer/low_rank.h"
#include "trainer/model_spec.h"

namespace edlae::cli {

// --input and how to read it (train, split). The values are the defaults.
struct DataFlags {
  std::string input;
  std::string format = "auto";
  int user_col = 0;
  int item_col = 1;
  int rating_col = -1;
  bool header = false;
  std::string min_rating;  // a number, or "" (split: also "none"): keep all
  int min_user_count = 0;
  int min_item_count = 0;
};
// `input_help` says what --input takes (a file, or split's list of files).
void AddDataFlags(CLI::App& command, DataFlags& flags,
                  const std::string& input_help);
// The format flags of AddDataFlags alone (--format, --user-col, --item-col,
// --rating-col, --header, --min-rating: no --input, no count filters), for
// commands that read files named by other flags (evaluate --fold-in);
// returns them (for `->needs`).
std::vector<CLI::Option*> AddFormatFlags(CLI::App& command, DataFlags& flags);
// LoadOptions from the flags (checked when they were parsed).
LoadOptions ToLoadOptions(const DataFlags& flags);

// --model, --lambda, --dropout, --precision, --threads (train, evaluate).
// The defaults are ModelSpec's (trainer/model_spec.h).
struct SolverFlags {
  std::string model = AlgorithmName(ModelSpec().algorithm);
  double lambda = ModelSpec().lambda;
  double dropout = ModelSpec().dropout;
  std::string precision = PrecisionName(ModelSpec().precision);
  int threads = 0;
};
// The options, for `->excludes` (evaluate --model-file) and `count()`.
struct SolverFlagOptions {
  CLI::Option* model;
  CLI::Option* lambda;
  CLI::Option* dropout;
  CLI::Option* precision;
};
SolverFlagOptions AddSolverFlags(CLI::App& command, SolverFlags& flags);
SolverOptions ToSolverOptions(const SolverFlags& flags);

// --threads (>= 0; 0: all cores).
CLI::Option* AddThreadsFlag(CLI::App& command, int& threads);

// --progress auto | always | never (common/progress.h's ProgressMode), bound
// to `mode` (its default); ParseProgressMode reads the checked value.
CLI::Option* AddProgressFlag(CLI::App& command, std::string& mode);

// Low-rank training (train: all of them; sweep: all but --rank, --method).
// --epochs, --omega and --seed bind to `spec`; the defaults are ModelSpec's.
struct LowRankFlags {
  ModelSpec spec;
  int rank = static_cast<int>(spec.rank);  // 0: full rank
  std::string method = LowRankMethodName(spec.method);
  std::string eigensolver = EigenMethodName(spec.eigensolver);
  // Set by AddLowRankFlags: --method, and every flag that needs --rank.
  CLI::Option* method_option = nullptr;
  std::vector<CLI::Option*> needs_rank;
};
// --epochs, --omega, --eigensolver, --seed; returns them (for `->needs`).
std::vector<CLI::Option*> AddLowRankSolverFlags(CLI::App& command,
                                                LowRankFlags& flags);
// --rank and --method.
CLI::Option* AddRankFlag(CLI::App& command, LowRankFlags& flags);
CLI::Option* AddMethodFlag(CLI::App& command, LowRankFlags& flags);
// --rank, --method and the solver flags above (train, evaluate).
void AddLowRankFlags(CLI::App& command, LowRankFlags& flags);
// LowRankOptions of the flags; ω = 0 becomes λ (or 1 when λ = 0).
LowRankOptions ToLowRankOptions(const LowRankFlags& flags, double lambda);
// The same after the checks train and evaluate make before any work (flags
// added by AddLowRankFlags): a flag of low-rank training needs --rank,
// zero-diag needs --rank (and its method defaults to als), and the
// model/method pair must exist (ease is left to the solver).
// InvalidArgument saying what is wrong.
absl::StatusOr<LowRankOptions> CheckedLowRankOptions(
    const LowRankFlags& flags, const SolverOptions& solver);

// --split DIR (evaluate, tune, sweep), required.
CLI::Option* AddSplitDirFlag(CLI::App& command, std::string& dir);
// --json: one JSON object on stdout.
CLI::Option* AddJsonFlag(CLI::App& command, bool& json);
// --seed with `seed` (its current value) as the default.
CLI::Option* AddSeedFlag(CLI::App& command, uint64_t& seed,
                         const std::string& what);

// Accepts what `check` accepts (a library Parse… function returning its
// status), saying what it says otherwise; `list`: every comma-separated
// entry.
CLI::Validator ParsedBy(std::function<absl::Status(const std::string&)> check,
                        bool list = false);
// A comma-separated list of numbers in [min, bound).
CLI::Validator NumberListIn(double min, double bound);

// `text` split at commas.
std::vector<std::string> SplitList(const std::string& text);
// `text` (checked by NumberListIn) as numbers.
std::vector<double> NumberList(const std::string& text);

}  // namespace edlae::cli

#endif  // EDLAE_TRAINER_COMMANDS_COMMON_FLAGS_H_
