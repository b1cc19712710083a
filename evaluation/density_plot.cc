// The density figure: accuracy against the fraction of weights kept, each
// series with its exact model dashed.
#include "evaluation/density_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "evaluation/svg_plot.h"

namespace edlae {
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c",
                                   "#ff7f0e", "#9467bd", "#8c564b"};

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string DensitySvg(const std::string& title, const std::string& ylabel,
                       const std::vector<DensitySeries>& series) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  double ymin = xmin, ymax = -xmin;
  auto add_y = [&](double y) {
    if (!std::isfinite(y)) return;
    ymin = std::min(ymin, y);
    ymax = std::max(ymax, y);
  };
  for (const DensitySeries& s : series) {
    for (size_t i = 0; i < s.densities.size() && i < s.values.size(); ++i) {
      if (!(s.densities[i] > 0) || !std::isfinite(s.values[i])) continue;
      xmin = std::min(xmin, s.densities[i]);
      xmax = std::max(xmax, s.densities[i]);
      add_y(s.values[i]);
    }
    add_y(s.exact);
  }
  if (!std::isfinite(xmin)) xmin = 1e-4, xmax = 1;
  if (!std::isfinite(ymin)) ymin = 0, ymax = 1;
  SvgFrame f;
  f.log_x = true;
  f.x0 = std::pow(10, std::floor(std::log10(xmin)));
  f.x1 = std::max(std::pow(10, std::ceil(std::log10(xmax))), f.x0 * 10);
  const double pad = std::max(0.01, (ymax - ymin) * 0.08);
  f.y0 = std::max(0.0, ymin - pad);
  f.y1 = ymax + pad;
  std::vector<double> xticks;
  for (double t = f.x0; t <= f.x1 * 1.0001; t *= 10) xticks.push_back(t);
  std::string svg = SvgOpen(f, Escape(title));
  absl::StrAppend(
      &svg, SvgAxes(f, xticks, "density (fraction of n² weights, log scale)",
                    Escape(ylabel), 3));
  int row = 0;
  for (size_t k = 0; k < series.size(); ++k) {
    const DensitySeries& s = series[k];
    const char* color = kColors[k % std::size(kColors)];
    std::vector<size_t> order(std::min(s.densities.size(), s.values.size()));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return s.densities[a] < s.densities[b];
    });
    std::string points, marks;
    for (size_t i : order) {
      if (!(s.densities[i] > 0) || !std::isfinite(s.values[i])) continue;
      const double x = f.X(s.densities[i]), y = f.Y(s.values[i]);
      absl::StrAppend(&points, points.empty() ? "" : " ",
                      absl::StrFormat("%.1f,%.1f", x, y));
      absl::StrAppend(&marks, absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" "
                                              "r=\"3\" fill=\"%s\"/>\n",
                                              x, y, color));
    }
    absl::StrAppend(&svg, "<polyline fill=\"none\" stroke=\"", color,
                    "\" stroke-width=\"2\" points=\"", points, "\"/>\n", marks);
    absl::StrAppend(&svg,
                    SvgLegendEntry(f, row++, color, Escape(s.label), false));
    if (std::isfinite(s.exact)) {
      const double y = f.Y(s.exact);
      absl::StrAppend(
          &svg, absl::StrFormat(
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"%s\" stroke-width=\"1.5\" "
                    "stroke-dasharray=\"6 4\"/>\n",
                    f.left, y, f.width - f.right, y, color));
      absl::StrAppend(&svg, SvgLegendEntry(f, row++, color,
                                           Escape(s.label) + " exact", true));
    }
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

}  // namespace edlae
