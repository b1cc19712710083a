// SVG figure of accuracy against model density: nDCG@100 per density on a log
// axis, the exact model as reference.
#ifndef EDLAE_EVALUATION_DENSITY_PLOT_H_
#define EDLAE_EVALUATION_DENSITY_PLOT_H_

#include <string>
#include <vector>

namespace edlae {

// One model's points: value (e.g. test nDCG@100) at each density (fraction
// of n² weights kept, > 0), and the exact dense model's value (NaN: none).
struct DensitySeries {
  std::string label;  // legend text, e.g. "EASE λ=500"
  std::vector<double> densities;
  std::vector<double> values;  // same size as densities
  double exact = 0;
};

// A line chart: x = density on a log axis (decades as ticks), y = value; one
// solid polyline with markers per series (points sorted by density, NaN
// values skipped), and the series' exact value as a dashed horizontal line
// in the same colour ("… exact" in the legend). Up to six series get
// distinct colours (then they repeat). `title` and `ylabel` are escaped
// (&, <, >).
std::string DensitySvg(const std::string& title, const std::string& ylabel,
                       const std::vector<DensitySeries>& series);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_DENSITY_PLOT_H_
