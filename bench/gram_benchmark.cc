// Wall time of the dense Gram matrix alone (ComputeGram / ComputeGramFloat) on
// one interaction file.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "trainer/gram.h"
#include "trainer/interactions.h"

ABSL_FLAG(std::string, input, "", "interaction file");
ABSL_FLAG(std::string, format, "auto",
          "input format (as edlae-train's --format)");
ABSL_FLAG(std::string, precision, "float32", "float32 | float64");
ABSL_FLAG(int, threads, 2, "threads (0: all cores)");
ABSL_FLAG(std::string, buffer, "vector",
          "vector: ComputeGram's zeroed std::vector | uninitialized: "
          "ComputeGramInto on new T[n²] (what an uninitialized buffer type "
          "would buy)");
ABSL_FLAG(std::string, rows, "auto",
          "with --buffer uninitialized: auto | whole | upper (GramRows)");
ABSL_FLAG(int, reps, 3, "repetitions; each prints its time, then the median");

namespace edlae {
namespace {

int Run() {
  LoadOptions load;
  absl::StatusOr<InputFormat> format =
      ParseInputFormat(absl::GetFlag(FLAGS_format), &load.delimiter);
  if (!format.ok()) return std::cerr << format.status() << "\n", 2;
  load.format = *format;
  absl::StatusOr<Interactions> x =
      LoadInteractions(absl::GetFlag(FLAGS_input), load);
  if (!x.ok()) return std::cerr << x.status() << "\n", 1;
  const bool f32 = absl::GetFlag(FLAGS_precision) == "float32";
  const int threads = absl::GetFlag(FLAGS_threads);
  std::vector<double> times;
  double checksum = 0;
  const bool uninitialized = absl::GetFlag(FLAGS_buffer) == "uninitialized";
  const size_t n = x->num_items();
  const std::string rows_name = absl::GetFlag(FLAGS_rows);
  const GramRows rows = rows_name == "whole"   ? GramRows::kWhole
                        : rows_name == "upper" ? GramRows::kUpperThenMirror
                                               : GramRows::kAuto;
  for (int r = 0; r < absl::GetFlag(FLAGS_reps); ++r) {
    // Times the buffer's allocation and construction, not its release.
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           start)
          .count();
    };
    double seconds = 0;
    if (f32 && uninitialized) {
      std::unique_ptr<float[]> g(new float[n * n]);
      ComputeGramInto(*x, threads, g.get(), rows);
      seconds = elapsed();
      checksum = g[n * n / 2 + 1];
    } else if (uninitialized) {
      std::unique_ptr<double[]> g(new double[n * n]);
      ComputeGramInto(*x, threads, g.get(), rows);
      seconds = elapsed();
      checksum = g[n * n / 2 + 1];
    } else if (f32) {
      std::vector<float> g = ComputeGramFloat(*x, threads);
      seconds = elapsed();
      checksum = g[n * n / 2 + 1];
    } else {
      std::vector<double> g = ComputeGram(*x, threads);
      seconds = elapsed();
      checksum = g[n * n / 2 + 1];
    }
    times.push_back(seconds);
    std::printf("rep %d: %.3f s\n", r, seconds);
  }
  std::sort(times.begin(), times.end());
  std::printf(
      "gram items=%zu precision=%s threads=%d buffer=%s rows=%s median=%.3f "
      "s (check %g)\n",
      n, f32 ? "float32" : "float64", threads,
      uninitialized ? "uninitialized" : "vector",
      uninitialized ? rows_name.c_str() : "auto", times[times.size() / 2],
      checksum);
  return 0;
}

}  // namespace
}  // namespace edlae

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return edlae::Run();
}
