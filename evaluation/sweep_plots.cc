// The sweep's figures (Fig. 1 of Steck & Garcia Garcia 2021): nDCG@100 against
// rank, cosine-median histograms.
#include "evaluation/sweep_plots.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "evaluation/svg_plot.h"

namespace edlae {
namespace {

const char* Color(const ModelSpec& m) {
  switch (m.algorithm) {
    case Algorithm::kEdlae:
      return m.method == LowRankMethod::kAdmm ? "#ff7f0e" : "#1f77b4";
    case Algorithm::kZeroDiag:
      return "#2ca02c";
    case Algorithm::kDlae:
      return "#d62728";
    case Algorithm::kEase:
      break;
  }
  return "#000000";
}

}  // namespace

std::string NdcgRankSvg(const SweepResult& r) {
  SvgFrame f;
  f.log_x = true;
  size_t kmin = std::numeric_limits<size_t>::max(), kmax = 0;
  double ymin = std::numeric_limits<double>::infinity(), ymax = -ymin;
  std::vector<ModelSpec> methods;
  for (const SweepPoint& p : r.points) {
    if (!p.error.empty()) continue;
    if (p.rank > 0) {
      kmin = std::min(kmin, p.rank);
      kmax = std::max(kmax, p.rank);
      if (std::none_of(methods.begin(), methods.end(), [&](const ModelSpec& m) {
            return SameSweepMethod(m, p.model);
          })) {
        methods.push_back(p.model);
      }
    }
    ymin = std::min(ymin, p.validation.ndcg100.mean);
    ymax = std::max(ymax, p.validation.ndcg100.mean);
  }
  if (kmax == 0) kmin = kmax = std::max<size_t>(r.num_items, 1);
  if (!std::isfinite(ymin)) ymin = 0, ymax = 1;
  const double pad = std::max(0.01, (ymax - ymin) * 0.08);
  f.x0 = kmin / 1.5;
  f.x1 = std::max<double>(kmax, r.num_items) * 1.5;
  f.y0 = std::max(0.0, ymin - pad);
  f.y1 = ymax + pad;
  std::vector<double> xticks;
  for (double t = 1; t <= f.x1; t *= 10) {
    if (t >= f.x0) xticks.push_back(t);
  }
  std::string s = SvgOpen(
      f, absl::StrFormat("nDCG@100 (validation) vs rank, %d items, λ=%g p=%g",
                         r.num_items, r.lambda, r.dropout));
  absl::StrAppend(
      &s, SvgAxes(f, xticks, "rank k (log scale)", "nDCG@100 (validation)", 3));
  int row = 0;
  for (const ModelSpec& m : methods) {
    std::string pts;
    std::string marks;
    for (const SweepPoint& p : r.points) {
      if (!SameSweepMethod(p.model, m) || p.rank == 0 || !p.error.empty())
        continue;
      const double x = f.X(p.rank), y = f.Y(p.validation.ndcg100.mean);
      absl::StrAppend(&pts, pts.empty() ? "" : " ",
                      absl::StrFormat("%.1f,%.1f", x, y));
      absl::StrAppend(&marks,
                      absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                                      "fill=\"%s\"/>\n",
                                      x, y, Color(m)));
    }
    absl::StrAppend(&s, "<polyline fill=\"none\" stroke=\"", Color(m),
                    "\" stroke-width=\"2\" points=\"", pts, "\"/>\n", marks);
    absl::StrAppend(
        &s, SvgLegendEntry(f, row++, Color(m), SweepMethodLabel(m), false));
  }
  for (const SweepPoint& p : r.points) {
    if (p.rank != 0 || !p.error.empty()) continue;
    const bool dlae = p.model.algorithm == Algorithm::kDlae;
    const char* color = dlae ? "#d62728" : "#1f77b4";
    const double y = f.Y(p.validation.ndcg100.mean);
    absl::StrAppend(
        &s,
        absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        "stroke=\"%s\" stroke-width=\"1.5\" "
                        "stroke-dasharray=\"6 4\"/>\n"
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" "
                        "fill=\"%s\"/>\n",
                        f.left, y, f.width - f.right, y, color,
                        f.X(r.num_items) - 3.5, y - 3.5, color));
    absl::StrAppend(
        &s, SvgLegendEntry(f, row++, color,
                           dlae ? "DLAE full rank" : "EDLAE full rank", true));
  }
  absl::StrAppend(&s, "</svg>\n");
  return s;
}

std::string CosineHistogramSvg(const SweepResult& r, bool of_v) {
  constexpr int kBins = 50;
  constexpr double kLo = -0.25, kHi = 1;  // values below land in bin 0
  std::vector<std::vector<double>> fractions;
  double ymax = 0;
  for (const CosineMedians& c : r.cosines) {
    const std::vector<double>& x = of_v ? c.v : c.u;
    std::vector<double> h(kBins, 0);
    size_t count = 0;
    for (double v : x) {
      if (std::isnan(v)) continue;
      int b = static_cast<int>((v - kLo) / (kHi - kLo) * kBins);
      h[std::clamp(b, 0, kBins - 1)] += 1;
      ++count;
    }
    for (double& v : h) {
      v = count ? v / count : 0;
      ymax = std::max(ymax, v);
    }
    fractions.push_back(std::move(h));
  }
  SvgFrame f;
  f.x0 = kLo;
  f.x1 = kHi;
  f.y0 = 0;
  f.y1 = ymax > 0 ? ymax * 1.1 : 1;
  const char* which = of_v ? "V" : "U";
  std::string s = SvgOpen(
      f, absl::StrFormat("median cosine of the 10 most similar items in %s "
                         "(rank %d)",
                         which, r.histogram_rank));
  absl::StrAppend(&s, SvgAxes(f, {-0.25, 0, 0.25, 0.5, 0.75, 1},
                              absl::StrCat("median cos(", which, "_i, ", which,
                                           "_j) over the 10 neighbours j of i"),
                              "fraction of items", 2));
  for (size_t c = 0; c < fractions.size(); ++c) {
    const char* color = r.cosines[c].label == "DLAE" ? "#d62728" : "#1f77b4";
    std::string pts = absl::StrFormat("%.1f,%.1f", f.X(kLo), f.Y(0));
    for (int b = 0; b < kBins; ++b) {
      const double x0 = kLo + (kHi - kLo) * b / kBins;
      const double x1 = kLo + (kHi - kLo) * (b + 1) / kBins;
      absl::StrAppend(&pts, absl::StrFormat(" %.1f,%.1f %.1f,%.1f", f.X(x0),
                                            f.Y(fractions[c][b]), f.X(x1),
                                            f.Y(fractions[c][b])));
    }
    absl::StrAppend(&pts, absl::StrFormat(" %.1f,%.1f", f.X(kHi), f.Y(0)));
    absl::StrAppend(&s, "<polyline fill=\"none\" stroke=\"", color,
                    "\" stroke-width=\"2\" points=\"", pts, "\"/>\n");
    absl::StrAppend(&s, SvgLegendEntry(f, static_cast<int>(c), color,
                                       r.cosines[c].label, false));
  }
  absl::StrAppend(&s, "</svg>\n");
  return s;
}

}  // namespace edlae
