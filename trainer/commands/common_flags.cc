// The shared edlae-train flags: their definitions (names, defaults, checks) and
// conversion to options structs.
#include "trainer/commands/common_flags.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/progress.h"
#include "trainer/eigensolver.h"

namespace edlae::cli {
namespace {

// The status's message as CLI11 wants a validator's answer ("" = fine).
std::string Problem(const absl::Status& status) {
  return status.ok() ? std::string() : std::string(status.message());
}

template <typename T>
std::function<absl::Status(const std::string&)> Checker(
    absl::StatusOr<T> (*parse)(const std::string&)) {
  return [parse](const std::string& text) { return parse(text).status(); };
}

}  // namespace

CLI::Validator ParsedBy(std::function<absl::Status(const std::string&)> check,
                        bool list) {
  return CLI::Validator(
      [check = std::move(check), list](std::string& text) {
        if (!list) return Problem(check(text));
        for (const std::string& part : SplitList(text)) {
          if (std::string problem = Problem(check(part)); !problem.empty()) {
            return problem;
          }
        }
        return std::string();
      },
      "");
}

CLI::Validator NumberListIn(double min, double bound) {
  return CLI::Validator(
      [min, bound](std::string& text) -> std::string {
        for (const std::string& part : SplitList(text)) {
          double value;
          if (!absl::SimpleAtod(part, &value) || !std::isfinite(value) ||
              value < min || value >= bound) {
            return absl::StrCat("every entry must be a number in [", min, ", ",
                                bound, "), got '", part, "'");
          }
        }
        return std::string();
      },
      "");
}

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',');
}

std::vector<double> NumberList(const std::string& text) {
  std::vector<double> values;
  for (const std::string& part : SplitList(text)) {
    double value = 0;
    (void)absl::SimpleAtod(part, &value);  // checked by NumberListIn
    values.push_back(value);
  }
  return values;
}

void AddDataFlags(CLI::App& command, DataFlags& flags,
                  const std::string& input_help) {
  AddOption(command, "input", flags.input, input_help)->required();
  AddFormatFlags(command, flags);
  AddOption(command, "min-user-count", flags.min_user_count,
            "drop users with fewer distinct items")
      ->check(AtLeast(0));
  AddOption(command, "min-item-count", flags.min_item_count,
            "drop items with fewer distinct users")
      ->check(AtLeast(0));
}

std::vector<CLI::Option*> AddFormatFlags(CLI::App& command, DataFlags& flags) {
  std::vector<CLI::Option*> options;
  options.push_back(
      AddOption(command, "format", flags.format,
                "auto | movielens-csv | movielens-dat | csv | tsv | lines | "
                "count-lines")
          ->check(ParsedBy([](const std::string& name) {
            return ParseInputFormat(name, nullptr).status();
          })));
  options.push_back(AddOption(command, "user-col", flags.user_col,
                              "csv/tsv: zero-based user id column")
                        ->check(AtLeast(0)));
  options.push_back(AddOption(command, "item-col", flags.item_col,
                              "csv/tsv: zero-based item id column")
                        ->check(AtLeast(0)));
  options.push_back(AddOption(command, "rating-col", flags.rating_col,
                              "csv/tsv: zero-based rating column (-1: none)")
                        ->check(AtLeast(-1)));
  options.push_back(AddFlag(command, "header", flags.header,
                            "csv/tsv: the first line is a header"));
  options.push_back(
      AddOption(command, "min-rating", flags.min_rating,
                "keep only interactions with rating > this value (e.g. 3.5; "
                "empty or none: all)")
          ->check(CLI::Validator(
              [](std::string& text) -> std::string {
                double value;
                if (text.empty() || text == "none" ||
                    (absl::SimpleAtod(text, &value) && std::isfinite(value))) {
                  return "";
                }
                return absl::StrCat("must be a number, got '", text, "'");
              },
              "")));
  return options;
}

LoadOptions ToLoadOptions(const DataFlags& flags) {
  LoadOptions load;
  load.format = *ParseInputFormat(flags.format, &load.delimiter);
  load.user_column = flags.user_col;
  load.item_column = flags.item_col;
  load.rating_column = flags.rating_col;
  load.has_header = flags.header;
  double min_rating;
  if (absl::SimpleAtod(flags.min_rating, &min_rating)) {
    load.min_rating = min_rating;
  }
  load.min_user_count = static_cast<size_t>(flags.min_user_count);
  load.min_item_count = static_cast<size_t>(flags.min_item_count);
  return load;
}

CLI::Option* AddThreadsFlag(CLI::App& command, int& threads) {
  return AddOption(command, "threads", threads, "worker threads (0: all cores)")
      ->check(AtLeast(0));
}

CLI::Option* AddProgressFlag(CLI::App& command, std::string& mode) {
  return AddOption(command, "progress", mode,
                   "progress of long phases: auto (in place on a terminal) | "
                   "always (a line every 10 s) | never")
      ->check(ParsedBy([](const std::string& name) {
        return ParseProgressMode(name).has_value()
                   ? absl::OkStatus()
                   : absl::InvalidArgumentError(
                         "must be auto, always or never");
      }));
}

SolverFlagOptions AddSolverFlags(CLI::App& command, SolverFlags& flags) {
  SolverFlagOptions options;
  options.model = AddOption(command, "model", flags.model,
                            "ease | dlae | edlae | zero-diag")
                      ->check(ParsedBy(Checker(ParseAlgorithm)));
  options.lambda =
      AddOption(command, "lambda", flags.lambda, "L2 regularization λ")
          ->check(AtLeast(0));
  options.dropout =
      AddOption(command, "dropout", flags.dropout,
                "dropout probability p (dlae, edlae; ease ignores it)")
          ->check(AtLeastBelow(0, 1));
  options.precision = AddOption(command, "precision", flags.precision,
                                "factorization precision: float64 | float32")
                          ->check(ParsedBy(Checker(ParsePrecision)));
  AddThreadsFlag(command, flags.threads);
  return options;
}

SolverOptions ToSolverOptions(const SolverFlags& flags) {
  SolverOptions solver;
  solver.algorithm = *ParseAlgorithm(flags.model);
  solver.precision = *ParsePrecision(flags.precision);
  solver.lambda = flags.lambda;
  solver.dropout = flags.dropout;
  solver.num_threads = flags.threads;
  return solver;
}

CLI::Option* AddRankFlag(CLI::App& command, LowRankFlags& flags) {
  return AddOption(command, "rank", flags.rank,
                   "low-rank model of rank K (U, V: items x K); 0 = full rank")
      ->check(AtLeast(0));
}

CLI::Option* AddMethodFlag(CLI::App& command, LowRankFlags& flags) {
  return AddOption(command, "method", flags.method,
                   "low-rank training: closed-form (edlae, dlae) | admm "
                   "(edlae) | als (zero-diag)")
      ->check(ParsedBy(Checker(ParseLowRankMethod)));
}

std::vector<CLI::Option*> AddLowRankSolverFlags(CLI::App& command,
                                                LowRankFlags& flags) {
  return {
      AddOption(command, "epochs", flags.spec.epochs,
                "admm/als: passes over (U, V)")
          ->check(AtLeast(1)),
      AddOption(command, "omega", flags.spec.omega,
                "admm: penalty Ω = Λ + ω·I (0: ω = λ, or 1 when λ = 0)")
          ->check(AtLeast(0)),
      AddOption(command, "eigensolver", flags.eigensolver,
                "closed-form: auto | krylov | syevr (auto: krylov when rank "
                "<= items/20)")
          ->check(ParsedBy(Checker(ParseEigenMethod))),
      AddSeedFlag(command, flags.spec.seed,
                  "admm/als: seed of the initial (U, V)"),
  };
}

LowRankOptions ToLowRankOptions(const LowRankFlags& flags, double lambda) {
  ModelSpec spec = flags.spec;
  spec.rank = static_cast<size_t>(flags.rank);
  spec.method = *ParseLowRankMethod(flags.method);
  spec.eigensolver = *ParseEigenMethod(flags.eigensolver);
  spec.lambda = lambda;  // ω = 0 becomes DefaultOmega(λ)
  return LowRankOptionsFor(spec);
}

void AddLowRankFlags(CLI::App& command, LowRankFlags& flags) {
  AddRankFlag(command, flags);
  flags.method_option = AddMethodFlag(command, flags);
  flags.needs_rank = AddLowRankSolverFlags(command, flags);
  flags.needs_rank.insert(flags.needs_rank.begin(), flags.method_option);
}

absl::StatusOr<LowRankOptions> CheckedLowRankOptions(
    const LowRankFlags& flags, const SolverOptions& solver) {
  LowRankOptions low_rank = ToLowRankOptions(flags, solver.lambda);
  if (low_rank.rank == 0) {
    for (const CLI::Option* option : flags.needs_rank) {
      if (option->count() > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", option->get_lnames().front(),
                         " is for low-rank training: give --rank K too"));
      }
    }
  }
  if (absl::Status s = ResolveLowRankMethod(solver.algorithm, low_rank.rank,
                                            flags.method_option->count() > 0,
                                            low_rank.method);
      !s.ok()) {
    return s;
  }
  return low_rank;
}

CLI::Option* AddSplitDirFlag(CLI::App& command, std::string& dir) {
  return AddOption(command, "split", dir,
                   "directory with train.csv, validation_{tr,te}.csv, "
                   "test_{tr,te}.csv (edlae-train split or the VAE-CF "
                   "notebook)")
      ->required();
}

CLI::Option* AddJsonFlag(CLI::App& command, bool& json) {
  return AddFlag(command, "json", json, "print one JSON object on stdout");
}

CLI::Option* AddSeedFlag(CLI::App& command, uint64_t& seed,
                         const std::string& what) {
  return AddOption(command, "seed", seed, what);
}

}  // namespace edlae::cli
