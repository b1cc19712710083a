// Definitions of the data-loading and model flags, and their conversion to options structs.
#include "trainer/commands/common_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

ABSL_FLAG(std::string, input, "", "interaction file to read");
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
ABSL_FLAG(std::string, model, "edlae",
          "ease | dlae | edlae | zero-diag; tune: a comma-separated list");
ABSL_FLAG(std::string, lambda, "0",
          "L2 regularization λ (>= 0); tune: a comma-separated grid");
ABSL_FLAG(std::string, dropout, "0",
          "dropout probability p in [0, 1) (dlae, edlae); tune: a comma-separated grid");
ABSL_FLAG(std::string, precision, "float64",
          "factorization precision: float64 | float32");
ABSL_FLAG(int, threads, 0, "worker threads (0: all cores)");
ABSL_FLAG(std::string, seed, "",
          "random seed (default: synth 42, split 98765 as in Liang et al.)");
ABSL_FLAG(std::string, out, "", "file to write (atomically)");
ABSL_FLAG(std::string, model_file, "",
          "evaluate: a trained model file to evaluate; inspect, convert: the "
          "model file");
ABSL_FLAG(std::string, dtype, "f32",
          "storage type of the model file's weights: f32 | f16 | bf16 "
          "(train, convert; computation stays float32/float64)");
ABSL_FLAG(int, rank, 0,
          "low-rank model of rank K (U, V: items x K); 0 = full rank");
ABSL_FLAG(std::string, method, "closed-form",
          "low-rank training: closed-form (edlae, dlae) | admm (edlae) | "
          "als (zero-diag)");
ABSL_FLAG(int, epochs, 10, "admm/als: passes over (U, V)");
ABSL_FLAG(double, omega, 0.0,
          "admm: penalty Ω = Λ + ω·I (0: ω = λ, or 1 when λ = 0)");
ABSL_FLAG(std::string, eigensolver, "auto",
          "closed-form: auto | krylov | syevr (auto: krylov when rank <= "
          "items/20)");

namespace edlae::cli {

absl::StatusOr<double> ParseNumberFlag(const std::string& name,
                                       const std::string& text) {
  double value;
  if (!absl::SimpleAtod(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a number, got '", text, "'"));
  }
  return value;
}

absl::StatusOr<uint64_t> SeedFromFlag(uint64_t default_seed) {
  const std::string text = absl::GetFlag(FLAGS_seed);
  if (text.empty()) return default_seed;
  uint64_t seed;
  if (!absl::SimpleAtoi(text, &seed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--seed must be a non-negative integer, got '", text, "'"));
  }
  return seed;
}

absl::StatusOr<std::vector<double>> ParseNumberListFlag(const std::string& name,
                                                        const std::string& text) {
  std::vector<double> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    absl::StatusOr<double> v = ParseNumberFlag(name, std::string(part));
    if (!v.ok()) return v.status();
    values.push_back(*v);
  }
  return values;
}

absl::StatusOr<LoadOptions> LoadOptionsFromFlags() {
  LoadOptions load;
  absl::StatusOr<InputFormat> format =
      ParseInputFormat(absl::GetFlag(FLAGS_format), &load.delimiter);
  if (!format.ok()) return format.status();
  load.format = *format;
  load.user_column = absl::GetFlag(FLAGS_user_col);
  load.item_column = absl::GetFlag(FLAGS_item_col);
  load.rating_column = absl::GetFlag(FLAGS_rating_col);
  load.has_header = absl::GetFlag(FLAGS_header);
  if (const std::string r = absl::GetFlag(FLAGS_min_rating); !r.empty()) {
    double value;
    if (!absl::SimpleAtod(r, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--min-rating must be a number, got '", r, "'"));
    }
    load.min_rating = value;
  }
  const int min_users = absl::GetFlag(FLAGS_min_user_count);
  const int min_items = absl::GetFlag(FLAGS_min_item_count);
  if (min_users < 0 || min_items < 0) {
    return absl::InvalidArgumentError(
        "--min-user-count and --min-item-count must be >= 0");
  }
  load.min_user_count = min_users;
  load.min_item_count = min_items;
  return load;
}

absl::StatusOr<SolverOptions> SolverOptionsFromFlags() {
  SolverOptions solver;
  absl::StatusOr<Algorithm> algorithm = ParseAlgorithm(absl::GetFlag(FLAGS_model));
  if (!algorithm.ok()) return algorithm.status();
  solver.algorithm = *algorithm;
  absl::StatusOr<Precision> precision =
      ParsePrecision(absl::GetFlag(FLAGS_precision));
  if (!precision.ok()) return precision.status();
  solver.precision = *precision;
  absl::StatusOr<double> lambda = ParseNumberFlag("lambda", absl::GetFlag(FLAGS_lambda));
  if (!lambda.ok()) return lambda.status();
  absl::StatusOr<double> dropout = ParseNumberFlag("dropout", absl::GetFlag(FLAGS_dropout));
  if (!dropout.ok()) return dropout.status();
  solver.lambda = *lambda;
  solver.dropout = *dropout;
  solver.num_threads = absl::GetFlag(FLAGS_threads);
  return solver;
}

absl::StatusOr<LowRankOptions> LowRankOptionsFromFlags() {
  LowRankOptions o;
  const int rank = absl::GetFlag(FLAGS_rank);
  if (rank < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rank must be >= 0, got ", rank));
  }
  o.rank = static_cast<size_t>(rank);
  absl::StatusOr<LowRankMethod> method =
      ParseLowRankMethod(absl::GetFlag(FLAGS_method));
  if (!method.ok()) return method.status();
  o.method = *method;
  absl::StatusOr<EigenMethod> eig =
      ParseEigenMethod(absl::GetFlag(FLAGS_eigensolver));
  if (!eig.ok()) return eig.status();
  o.eigensolver = *eig;
  o.epochs = absl::GetFlag(FLAGS_epochs);
  if (o.epochs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--epochs must be >= 1, got ", o.epochs));
  }
  o.omega = absl::GetFlag(FLAGS_omega);
  if (o.omega == 0) {
    absl::StatusOr<double> lambda =
        ParseNumberFlag("lambda", absl::GetFlag(FLAGS_lambda));
    if (!lambda.ok()) return lambda.status();
    o.omega = DefaultOmega(*lambda);
  }
  return o;
}

}  // namespace edlae::cli
