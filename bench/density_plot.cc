// Writes the accuracy-against-density SVG (evaluation/density_plot.h) from a
// TSV of "series<TAB>density<TAB>value" rows ("exact" as density: the
// reference); scripts/density_sweep.sh calls it.
#include "evaluation/density_plot.h"

#include <cstdio>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/file_io.h"

ABSL_FLAG(std::string, input, "",
          "TSV rows: series, density (a number or 'exact'), value; lines "
          "starting with # are skipped");
ABSL_FLAG(std::string, out, "", "SVG file to write");
ABSL_FLAG(std::string, title, "nDCG@100 (test) against density", "title");
ABSL_FLAG(std::string, ylabel, "nDCG@100 (test)", "y axis label");

namespace edlae {
namespace {

int Run() {
  const std::string input = absl::GetFlag(FLAGS_input);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (input.empty() || out.empty()) {
    std::cerr << "density_plot: --input and --out are required\n";
    return 2;
  }
  absl::StatusOr<std::string> text = ReadFileToString(input, "--input");
  if (!text.ok()) {
    std::cerr << "density_plot: " << text.status().message() << "\n";
    return 1;
  }
  std::vector<DensitySeries> series;
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    double density = 0, value = 0;
    const bool exact = f.size() == 3 && f[1] == "exact";
    if (f.size() != 3 || (!exact && !absl::SimpleAtod(f[1], &density)) ||
        !absl::SimpleAtod(f[2], &value)) {
      std::cerr << "density_plot: " << input << ":" << line_number
                << ": want series<TAB>density<TAB>value\n";
      return 1;
    }
    DensitySeries* s = nullptr;
    for (DensitySeries& t : series) {
      if (t.label == f[0]) s = &t;
    }
    if (s == nullptr) {
      series.push_back(
          {f[0], {}, {}, std::numeric_limits<double>::quiet_NaN()});
      s = &series.back();
    }
    if (exact) {
      s->exact = value;
    } else {
      s->densities.push_back(density);
      s->values.push_back(value);
    }
  }
  const std::string svg = DensitySvg(absl::GetFlag(FLAGS_title),
                                     absl::GetFlag(FLAGS_ylabel), series);
  if (absl::Status s = WriteFileAtomically(out, svg); !s.ok()) {
    std::cerr << "density_plot: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace edlae

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return edlae::Run();
}
