// edlae-train: train closed-form linear-autoencoder models (train) and write synthetic data (synth).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "core/flag_names.h"
#include "trainer/interactions.h"
#include "trainer/solver.h"
#include "trainer/synth.h"
#include "trainer/train.h"

// train
ABSL_FLAG(std::string, input, "", "interaction file to train on");
ABSL_FLAG(std::string, format, "auto",
          "auto | movielens-csv | movielens-dat | csv | tsv | lines | count-lines");
ABSL_FLAG(int, user_col, 0, "csv/tsv: zero-based user id column");
ABSL_FLAG(int, item_col, 1, "csv/tsv: zero-based item id column");
ABSL_FLAG(int, rating_col, -1, "csv/tsv: zero-based rating column (-1: none)");
ABSL_FLAG(bool, header, false, "csv/tsv: the first line is a header");
ABSL_FLAG(std::string, min_rating, "",
          "keep only interactions with rating > this value (e.g. 3.5)");
ABSL_FLAG(int, min_user_count, 0, "drop users with fewer distinct items");
ABSL_FLAG(int, min_item_count, 0, "drop items with fewer distinct users");
ABSL_FLAG(std::string, model, "edlae", "ease | dlae | edlae");
ABSL_FLAG(double, lambda, 0.0, "L2 regularization λ (>= 0)");
ABSL_FLAG(double, dropout, 0.0, "dropout probability p in [0, 1) (dlae, edlae)");
ABSL_FLAG(std::string, precision, "float64",
          "factorization precision: float64 | float32");
ABSL_FLAG(int, threads, 0, "worker threads (0: all cores)");
ABSL_FLAG(std::string, out, "", "model file to write (atomically)");
// synth
ABSL_FLAG(int64_t, users, 2000, "synth: number of users");
ABSL_FLAG(int64_t, items, 1000, "synth: number of items");
ABSL_FLAG(double, mean_items, 40, "synth: mean distinct items per user");
ABSL_FLAG(int64_t, topics, 20, "synth: latent tastes");
ABSL_FLAG(uint64_t, seed, 42, "synth: random seed");

namespace edlae {
namespace {

constexpr char kUsage[] =
    "edlae-train: train linear-autoencoder recommenders in closed form.\n\n"
    "  edlae-train train --input PATH [--format F] --model {ease,dlae,edlae}\n"
    "                    --lambda L [--dropout P] --out MODEL\n"
    "                    [--min-rating R] [--min-user-count N] [--min-item-count N]\n"
    "                    [--precision float64|float32] [--threads N]\n"
    "                    [--user-col C --item-col C --rating-col C --header]  (csv/tsv)\n"
    "  edlae-train synth --users N --items M --out FILE [--mean-items K]\n"
    "                    [--topics T] [--seed S]\n\n"
    "Exit status: 0 success, 1 failure (bad data, I/O), 2 usage error.";

int Fail(const absl::Status& status) {
  std::cerr << "edlae-train: " << status.message() << "\n";
  return 1;
}

int UsageError(const std::string& message) {
  std::cerr << "edlae-train: " << message << "\n\n" << kUsage << "\n";
  return 2;
}

int RunTrain() {
  const auto start = std::chrono::steady_clock::now();
  const std::string input = absl::GetFlag(FLAGS_input);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (input.empty()) return UsageError("train needs --input");
  if (out.empty()) return UsageError("train needs --out");

  LoadOptions load;
  absl::StatusOr<InputFormat> format =
      ParseInputFormat(absl::GetFlag(FLAGS_format), &load.delimiter);
  if (!format.ok()) return UsageError(std::string(format.status().message()));
  load.format = *format;
  load.user_column = absl::GetFlag(FLAGS_user_col);
  load.item_column = absl::GetFlag(FLAGS_item_col);
  load.rating_column = absl::GetFlag(FLAGS_rating_col);
  load.has_header = absl::GetFlag(FLAGS_header);
  if (const std::string r = absl::GetFlag(FLAGS_min_rating); !r.empty()) {
    double value;
    if (!absl::SimpleAtod(r, &value)) {
      return UsageError("--min-rating must be a number, got '" + r + "'");
    }
    load.min_rating = value;
  }
  if (absl::GetFlag(FLAGS_min_user_count) < 0 ||
      absl::GetFlag(FLAGS_min_item_count) < 0) {
    return UsageError("--min-user-count and --min-item-count must be >= 0");
  }
  load.min_user_count = absl::GetFlag(FLAGS_min_user_count);
  load.min_item_count = absl::GetFlag(FLAGS_min_item_count);

  SolverOptions solver;
  absl::StatusOr<Algorithm> algorithm = ParseAlgorithm(absl::GetFlag(FLAGS_model));
  if (!algorithm.ok()) return UsageError(std::string(algorithm.status().message()));
  solver.algorithm = *algorithm;
  absl::StatusOr<Precision> precision =
      ParsePrecision(absl::GetFlag(FLAGS_precision));
  if (!precision.ok()) return UsageError(std::string(precision.status().message()));
  solver.precision = *precision;
  solver.lambda = absl::GetFlag(FLAGS_lambda);
  solver.dropout = absl::GetFlag(FLAGS_dropout);
  if (solver.algorithm == Algorithm::kEase && solver.dropout != 0) {
    std::cerr << "[train] note: ease ignores --dropout (it is edlae with p = 0)\n";
  }
  const int threads = absl::GetFlag(FLAGS_threads);

  auto phase = std::chrono::steady_clock::now();
  absl::StatusOr<Interactions> x = LoadInteractions(input, load);
  if (!x.ok()) return Fail(x.status());
  std::cerr << absl::StrFormat(
      "[train] load: %.3f s (%d users, %d items, %d interactions from %s)\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - phase).count(),
      x->num_users(), x->num_items(), x->num_interactions(), input);

  absl::StatusOr<TrainReport> report =
      TrainAndWrite(*x, solver, input, threads, out, &std::cerr);
  if (!report.ok()) return Fail(report.status());
  std::cerr << absl::StrFormat(
      "[train] total: %.3f s; peak memory: %.1f MiB\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
      PeakRssBytes() / (1024.0 * 1024.0));
  return 0;
}

int RunSynth() {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return UsageError("synth needs --out");
  SynthOptions options;
  if (absl::GetFlag(FLAGS_users) < 1 || absl::GetFlag(FLAGS_items) < 2 ||
      absl::GetFlag(FLAGS_topics) < 1) {
    return UsageError("synth needs --users >= 1, --items >= 2, --topics >= 1");
  }
  options.num_users = absl::GetFlag(FLAGS_users);
  options.num_items = absl::GetFlag(FLAGS_items);
  options.mean_items_per_user = absl::GetFlag(FLAGS_mean_items);
  options.num_topics = absl::GetFlag(FLAGS_topics);
  options.seed = absl::GetFlag(FLAGS_seed);
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = WriteSyntheticInteractions(out, options); !s.ok()) {
    return Fail(s);
  }
  std::cerr << absl::StrFormat(
      "[synth] %d users × %d items → %s in %.3f s\n", options.num_users,
      options.num_items, out,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace
}  // namespace edlae

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(edlae::kUsage);
  std::vector<std::string> args = edlae::NormalizeFlagNames(argc, argv);
  std::vector<char*> view = edlae::FlagArgv(args);
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), view.data());
  if (positional.size() != 2) {
    return edlae::UsageError(positional.size() < 2 ? "missing command"
                                                   : "too many arguments");
  }
  const std::string command = positional[1];
  if (command == "train") return edlae::RunTrain();
  if (command == "synth") return edlae::RunSynth();
  return edlae::UsageError("unknown command '" + command + "'");
}
