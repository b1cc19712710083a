// Training time against its floor: one LAPACK potrf + potri of the same G + Λ in the same precision; with --rank,
// the low-rank closed form (Algorithm 1) against the full-rank training on the same data.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "trainer/gram.h"
#include "trainer/interactions.h"
#include "trainer/lapack.h"
#include "trainer/full_rank_solver.h"
#include "trainer/low_rank.h"
#include "trainer/train.h"

ABSL_FLAG(std::string, input, "", "interaction file (e.g. from edlae-train synth)");
ABSL_FLAG(std::string, format, "auto", "input format");
ABSL_FLAG(std::string, model, "edlae", "ease | dlae | edlae");
ABSL_FLAG(double, lambda, 500, "λ");
ABSL_FLAG(double, dropout, 0.33, "p");
ABSL_FLAG(std::string, precision, "float64", "float64 | float32");
ABSL_FLAG(std::string, out, "/tmp/edlae_train_benchmark.edlae", "model file to write");
ABSL_FLAG(std::vector<std::string>, rank, {},
          "ranks K1,K2,…: after the full-rank training (no potrf + potri floor), Gram + each rank-K closed "
          "form (SolveLowRank, float64 Gram) and its ratio to the full-rank training");
ABSL_FLAG(std::string, eigensolver, "auto", "with --rank: auto | krylov | syevr");
ABSL_FLAG(std::string, eigen_precision, "float32", "with --rank: Krylov operator precision, float32 | float64");
ABSL_FLAG(double, krylov_tolerance, 0, "with --rank: Krylov tolerance (0: LowRankOptionsFor's)");
ABSL_FLAG(int, krylov_oversample, 0,
          "with --rank: Krylov block columns beyond k (0: KrylovOptions' default, max(8, k/4))");
ABSL_FLAG(std::vector<std::string>, krylov_depth, {},
          "with --rank: Krylov blocks per restart cycle, D1,D2,... (each rank is solved once per depth; "
          "default: KrylovOptions' depth)");

namespace edlae {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// potrf + potri alone on G + λI (the factorization every model needs).
template <typename T>
double TimeInverse(const Interactions& x, double lambda) {
  const size_t n = x.num_items();
  std::vector<double> g = ComputeGram(x, 0);
  std::vector<T> a(g.begin(), g.end());
  std::vector<double>().swap(g);
  for (size_t j = 0; j < n; ++j) a[j * n + j] += static_cast<T>(lambda);
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = InvertSpdUpperLapack(a.data(), n);
  const double seconds = Seconds(start);
  if (!s.ok()) {
    std::cerr << s << "\n";
    std::exit(1);
  }
  return seconds;
}

int Run() {
  LoadOptions load;
  absl::StatusOr<InputFormat> format =
      ParseInputFormat(absl::GetFlag(FLAGS_format), &load.delimiter);
  if (!format.ok()) return std::cerr << format.status() << "\n", 2;
  load.format = *format;
  absl::StatusOr<Interactions> x = LoadInteractions(absl::GetFlag(FLAGS_input), load);
  if (!x.ok()) return std::cerr << x.status() << "\n", 1;
  SolverOptions options;
  options.algorithm = *ParseAlgorithm(absl::GetFlag(FLAGS_model));
  options.precision = *ParsePrecision(absl::GetFlag(FLAGS_precision));
  options.lambda = absl::GetFlag(FLAGS_lambda);
  options.dropout = absl::GetFlag(FLAGS_dropout);

  const std::vector<std::string> ranks = absl::GetFlag(FLAGS_rank);
  const double inverse = !ranks.empty() ? 0
                         : options.precision == Precision::kFloat64
                             ? TimeInverse<double>(*x, options.lambda)
                             : TimeInverse<float>(*x, options.lambda);
  const auto start = std::chrono::steady_clock::now();
  TrainOptions train_options;
  train_options.spec = ModelSpecOf(options, LowRankOptions{});
  train_options.source = "benchmark";
  train_options.out_path = absl::GetFlag(FLAGS_out);
  train_options.log = &std::cerr;
  absl::StatusOr<TrainReport> report = TrainAndWrite(*x, train_options);
  if (!report.ok()) return std::cerr << report.status() << "\n", 1;
  const double train = Seconds(start);
  std::remove(absl::GetFlag(FLAGS_out).c_str());
  std::vector<std::string> depths = absl::GetFlag(FLAGS_krylov_depth);
  if (depths.empty()) depths.push_back("0");
  for (const std::string& rank_text : ranks) for (const std::string& depth_text : depths) {
    const int rank = std::stoi(rank_text);
    const int depth = std::stoi(depth_text);
    LowRankOptions low_rank = LowRankOptionsFor(ModelSpecOf(options, LowRankOptions{}));
    low_rank.rank = static_cast<size_t>(rank);
    absl::StatusOr<EigenMethod> method = ParseEigenMethod(absl::GetFlag(FLAGS_eigensolver));
    absl::StatusOr<Precision> eigen_precision = ParsePrecision(absl::GetFlag(FLAGS_eigen_precision));
    if (!method.ok() || !eigen_precision.ok()) return std::cerr << "bad --eigensolver or --eigen_precision\n", 2;
    low_rank.eigensolver = *method;
    low_rank.eigen_precision = *eigen_precision;
    if (absl::GetFlag(FLAGS_krylov_tolerance) > 0) low_rank.krylov.tolerance = absl::GetFlag(FLAGS_krylov_tolerance);
    if (depth > 0) low_rank.krylov.depth = static_cast<size_t>(depth);
    if (absl::GetFlag(FLAGS_krylov_oversample) > 0) {
      low_rank.krylov.oversample = static_cast<size_t>(absl::GetFlag(FLAGS_krylov_oversample));
    }
    const auto low_start = std::chrono::steady_clock::now();
    std::vector<double> g = ComputeGram(*x, 0);
    const double gram = Seconds(low_start);
    absl::StatusOr<LowRankResult> r = SolveLowRank(std::move(g), x->num_items(), options, low_rank, &std::cerr);
    if (!r.ok()) return std::cerr << r.status() << "\n", 1;
    const double low = Seconds(low_start);
    std::cout << absl::StrFormat(
        "items=%d full-rank precision=%s train=%.2fs (solve %.2fs); rank=%d closed form (float64 Gram, "
        "%s %s operator, depth %d, oversample %d) gram+solve=%.2fs (gram %.2fs) ratio=%.3f (target <= 2) restarts=%d "
        "relative residual=%.3g\n",
        x->num_items(), PrecisionName(options.precision), train, report->solve_seconds, rank,
        EigenMethodName(r->eigensolver), PrecisionName(low_rank.eigen_precision), low_rank.krylov.depth,
        static_cast<int>(low_rank.krylov.oversample), low, gram,
        low / train,
        r->krylov_restarts, r->eigen_relative_residual);
    std::cout.flush();
  }
  if (!ranks.empty()) return 0;
  std::cout << absl::StrFormat(
      "items=%d precision=%s potrf+potri=%.2fs train(gram+solve+write)=%.2fs "
      "ratio=%.3f (target <= 1.25) gram=%.2fs solve=%.2fs write=%.2fs\n",
      x->num_items(), PrecisionName(options.precision), inverse, train,
      train / inverse, report->gram_seconds, report->solve_seconds,
      report->write_seconds);
  return 0;
}

}  // namespace
}  // namespace edlae

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return edlae::Run();
}
