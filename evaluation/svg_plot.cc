// SVG chart primitives: title, axes with nice ticks, legend entries
// (absl::StrFormat, no dependencies).
#include "evaluation/svg_plot.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edlae {

double TickStep(double span, int ticks) {
  const double raw = span / ticks;
  const double e = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * e >= raw) return m * e;
  }
  return 10 * e;
}

std::string SvgOpen(const SvgFrame& f, const std::string& title) {
  return absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%g\" y=\"22\" text-anchor=\"middle\" "
      "font-size=\"14\">%s</text>\n",
      f.width, f.height, f.width, f.height, (f.left + f.width - f.right) / 2,
      title);
}

std::string SvgAxes(const SvgFrame& f, const std::vector<double>& xticks,
                    const std::string& xlabel, const std::string& ylabel,
                    int ydigits) {
  std::string s;
  const double step = TickStep(f.y1 - f.y0, 6);
  for (double y = std::ceil(f.y0 / step) * step; y <= f.y1 + 1e-12; y += step) {
    absl::StrAppend(
        &s, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                            "y2=\"%.1f\" stroke=\"#dddddd\"/>\n"
                            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
                            "%.*f</text>\n",
                            f.left, f.Y(y), f.width - f.right, f.Y(y),
                            f.left - 6, f.Y(y) + 4, ydigits, y));
  }
  for (double x : xticks) {
    absl::StrAppend(
        &s, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                            "y2=\"%.1f\" stroke=\"#dddddd\"/>\n"
                            "<text x=\"%.1f\" y=\"%.1f\" "
                            "text-anchor=\"middle\">%g</text>\n",
                            f.X(x), f.top, f.X(x), f.height - f.bottom, f.X(x),
                            f.height - f.bottom + 16, x));
  }
  absl::StrAppend(
      &s, absl::StrFormat(
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
              "fill=\"none\" stroke=\"black\"/>\n"
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n"
              "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
              "transform=\"rotate(-90 16 %.1f)\">%s</text>\n",
              f.left, f.top, f.width - f.left - f.right,
              f.height - f.top - f.bottom, (f.left + f.width - f.right) / 2,
              f.height - 14, xlabel, (f.top + f.height - f.bottom) / 2,
              (f.top + f.height - f.bottom) / 2, ylabel));
  return s;
}

std::string SvgLegendEntry(const SvgFrame& f, int row, const std::string& color,
                           const std::string& label, bool dashed) {
  const double y = f.top + 14 + row * 20;
  const double x = f.width - f.right + 12;
  return absl::StrFormat(
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
      "stroke-width=\"2\"%s/>\n<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
      x, y, x + 24, y, color, dashed ? " stroke-dasharray=\"6 4\"" : "", x + 30,
      y + 4, label);
}

}  // namespace edlae
