// A minimal SVG line-chart toolkit: a frame mapping data to pixels, axes with
// "nice" ticks, legend entries.
#ifndef EDLAE_EVALUATION_SVG_PLOT_H_
#define EDLAE_EVALUATION_SVG_PLOT_H_

#include <cmath>
#include <string>
#include <vector>

namespace edlae {

// The plot area of a width × height chart with margins; x0..x1, y0..y1 are
// the data ranges drawn, x optionally on a log scale. X() and Y() map data
// coordinates to pixels (y grows downwards in SVG).
struct SvgFrame {
  double width = 700, height = 420;
  double left = 70, right = 230, top = 40, bottom = 55;
  double x0, x1, y0, y1;  // data ranges
  bool log_x = false;
  double X(double x) const {
    const double t = log_x ? (std::log10(x) - std::log10(x0)) /
                                 (std::log10(x1) - std::log10(x0))
                           : (x - x0) / (x1 - x0);
    return left + t * (width - left - right);
  }
  double Y(double y) const {
    return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom);
  }
};

// "nice" tick step for a span: 1, 2 or 5 × 10^e, about `ticks` ticks.
double TickStep(double span, int ticks);

// The <svg> element (white background) and a centred title. The caller
// appends the body and "</svg>\n".
std::string SvgOpen(const SvgFrame& f, const std::string& title);

// Grid lines and labels for y (TickStep over the y range, `ydigits`
// decimals) and for each of `xticks`, the frame, and both axis labels.
std::string SvgAxes(const SvgFrame& f, const std::vector<double>& xticks,
                    const std::string& xlabel, const std::string& ylabel,
                    int ydigits);

// Legend entry `row` (0 first) right of the plot area: a line sample in
// `color` (dashed or solid) and its label.
std::string SvgLegendEntry(const SvgFrame& f, int row, const std::string& color,
                           const std::string& label, bool dashed);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_SVG_PLOT_H_
