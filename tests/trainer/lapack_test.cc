// The blocked Cholesky inverse (trainer/lapack.h) against LAPACK's potrf +
// potri and against A·A⁻¹ = I, across panel boundaries and in both precisions.
#include "trainer/lapack.h"

#include <cmath>
#include <random>
#include <sstream>
#include <vector>

#include "gtest/gtest.h"

namespace edlae {
namespace {

// A random well-conditioned SPD matrix, compact row-major n × n: M·Mᵀ/n + I.
std::vector<double> RandomSpd(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  const size_t k = n / 2 + 1;
  std::vector<double> m(n * k);
  for (double& v : m) v = normal(rng);
  std::vector<double> a(n * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j <= i; ++j) {
      double s = 0;
      for (size_t t = 0; t < k; ++t) s += m[i * k + t] * m[j * k + t];
      a[i * n + j] = a[j * n + i] = s / k + (i == j ? 1.0 : 0.0);
    }
  }
  return a;
}

// max |(A·C − I)_ij| with C's upper triangle (j >= i) as the whole inverse.
template <typename T>
double InverseResidual(const std::vector<double>& a, const std::vector<T>& c,
                       size_t n) {
  auto c_at = [&](size_t i, size_t j) {
    return static_cast<double>(i <= j ? c[i * n + j] : c[j * n + i]);
  };
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t t = 0; t < n; ++t) s += a[i * n + t] * c_at(t, j);
      worst = std::max(worst, std::abs(s - (i == j ? 1.0 : 0.0)));
    }
  }
  return worst;
}

class BlockedInverseTest : public ::testing::TestWithParam<size_t> {};

TEST_P(BlockedInverseTest, MatchesLapackAndInvertsInFloat64) {
  const size_t n = GetParam();
  const std::vector<double> a = RandomSpd(n, 7 + n);
  std::vector<double> blocked = a, lapack = a;
  ASSERT_TRUE(InvertSpdUpper(blocked.data(), n).ok());
  ASSERT_TRUE(InvertSpdUpperLapack(lapack.data(), n).ok());
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i; j < n; ++j) {
      ASSERT_NEAR(blocked[i * n + j], lapack[i * n + j], 1e-10)
          << "(" << i << ", " << j << ")";
    }
    // The lower triangle is left as it was.
    for (size_t j = 0; j < i; ++j) ASSERT_EQ(blocked[i * n + j], a[i * n + j]);
  }
  EXPECT_LT(InverseResidual(a, blocked, n), 1e-10);
}

TEST_P(BlockedInverseTest, InvertsInFloat32) {
  const size_t n = GetParam();
  const std::vector<double> a = RandomSpd(n, 11 + n);
  std::vector<float> c(a.begin(), a.end());
  ASSERT_TRUE(InvertSpdUpper(c.data(), n).ok());
  EXPECT_LT(InverseResidual(a, c, n), 2e-4);
}

// Orders below, at and across the panel width (384), and a partial last panel.
INSTANTIATE_TEST_SUITE_P(Orders, BlockedInverseTest,
                         ::testing::Values(1, 2, 100, 383, 384, 385, 800));

TEST(BlockedInverseTest, NamesTheFailingLeadingMinorInALaterPanel) {
  const size_t n = 600;
  std::vector<double> a = RandomSpd(n, 3);
  // Row/column 500 makes the leading 501 × 501 minor indefinite.
  for (size_t j = 0; j < n; ++j) a[500 * n + j] = a[j * n + 500] = 0;
  a[500 * n + 500] = -1;
  std::vector<double> c = a;
  const absl::Status s = InvertSpdUpper(c.data(), n);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("leading minor 501 of 600"), std::string::npos)
      << s;
}

TEST(BlockedInverseTest, PrintsProgressLinesAndAnnouncesNCubedMflop) {
  const size_t n = 800;
  std::vector<double> c = RandomSpd(n, 5);
  std::ostringstream log;
  {
    ProgressMeter progress(&log, "invert", InverseWorkUnits(n),
                           ProgressMode::kAlways, std::chrono::milliseconds(1));
    ASSERT_TRUE(InvertSpdUpper(c.data(), n, &progress).ok());
  }
  // Lines are printed under the meter's name; the announced total is the
  // three phases' ≈ n³ flops in millions.
  EXPECT_NE(log.str().find("[invert]"), std::string::npos) << log.str();
  EXPECT_EQ(InverseWorkUnits(n), static_cast<size_t>(800.0 * 800 * 800 / 1e6));
}

}  // namespace
}  // namespace edlae
