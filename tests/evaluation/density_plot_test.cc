// The density figure: one polyline per series through its points in density
// order, the exact value dashed.
#include "evaluation/density_plot.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace edlae {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(DensitySvgTest, OnePolylinePerSeriesAndADashedExactLine) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::string svg =
      DensitySvg("nDCG <test> & more", "nDCG@100",
                 {{"EASE", {1e-2, 1e-4, 1e-3}, {0.40, 0.20, 0.30}, 0.45},
                  {"EDLAE", {1e-4, 1e-3}, {0.25, nan}, nan}});
  EXPECT_EQ(Count(svg, "<polyline"), 2);
  EXPECT_EQ(Count(svg, "<circle"), 4);  // the NaN point is left out
  // Only EASE has an exact value: one dashed reference line (the legend's
  // dashed sample is a second dasharray).
  EXPECT_EQ(Count(svg, "EASE exact"), 1);
  EXPECT_EQ(Count(svg, "EDLAE exact"), 0);
  EXPECT_NE(svg.find("nDCG &lt;test&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(svg.find("<test>"), std::string::npos);
  // EASE's points are joined in density order: x increases along the line.
  const size_t line = svg.find("points=\"");
  ASSERT_NE(line, std::string::npos);
  double x0, y0, x1, y1, x2, y2;
  ASSERT_EQ(std::sscanf(svg.c_str() + line, "points=\"%lf,%lf %lf,%lf %lf,%lf",
                        &x0, &y0, &x1, &y1, &x2, &y2),
            6);
  EXPECT_LT(x0, x1);
  EXPECT_LT(x1, x2);
  // Decades are evenly spaced on the log axis; higher values are drawn higher.
  EXPECT_NEAR(x1 - x0, x2 - x1, 0.2);
  EXPECT_GT(y0, y1);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

}  // namespace
}  // namespace edlae
