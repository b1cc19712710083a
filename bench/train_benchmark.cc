// Training time against its floor: one LAPACK potrf + potri of the same G + Λ in the same precision.
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
#include "trainer/train.h"

ABSL_FLAG(std::string, input, "", "interaction file (e.g. from edlae-train synth)");
ABSL_FLAG(std::string, format, "auto", "input format");
ABSL_FLAG(std::string, model, "edlae", "ease | dlae | edlae");
ABSL_FLAG(double, lambda, 500, "λ");
ABSL_FLAG(double, dropout, 0.33, "p");
ABSL_FLAG(std::string, precision, "float64", "float64 | float32");
ABSL_FLAG(std::string, out, "/tmp/edlae_train_benchmark.edlae", "model file to write");

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

  const double inverse = options.precision == Precision::kFloat64
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
