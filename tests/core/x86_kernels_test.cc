// AMX and VNNI kernels against scalar references; absent paths skip, saying so.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/half.h"
#include "core/kernels.h"
#include "core/kernels_testing.h"
#include "core/kernels_x86.h"
#include "gtest/gtest.h"

namespace edlae {
namespace {

// Skips the test, naming what this machine lacks, unless `have`.
#define SKIP_UNLESS(have, what)                                         \
  do {                                                                  \
    if (!(have)) {                                                      \
      GTEST_SKIP() << what << " is not usable on this machine (CPUID, " \
                   << "XCR0 or arch_prctl): path not tested here";      \
    }                                                                   \
  } while (0)

// Restores the default dispatch when a test ends.
class X86KernelsTest : public ::testing::Test {
 protected:
  void TearDown() override { ForceSimdTargetForTest(0); }
};

TEST_F(X86KernelsTest, DetectionIsConsistent) {
  const X86MatrixFeatures& f = DetectX86MatrixFeatures();
  EXPECT_EQ(&f, &DetectX86MatrixFeatures());  // detected once
  EXPECT_TRUE(!f.amx_tile || f.avx512);
  EXPECT_TRUE(!(f.amx_bf16 || f.amx_int8) || f.amx_tile);
  EXPECT_TRUE(!f.avx512_vnni || f.avx512);
  const X86MatrixPath best = f.amx_tile      ? X86MatrixPath::kAmx
                             : f.avx512_vnni ? X86MatrixPath::kVnni
                                             : X86MatrixPath::kNone;
  EXPECT_EQ(ActiveX86MatrixPath(), best);
  EXPECT_EQ(ActiveMatrixPath(), X86MatrixPathName(best));
  std::printf(
      "x86 matrix features: avx512=%d amx_tile=%d amx_bf16=%d "
      "amx_int8=%d avx512_vnni=%d avx_vnni=%d\n",
      f.avx512, f.amx_tile, f.amx_bf16, f.amx_int8, f.avx512_vnni, f.avx_vnni);
}

TEST_F(X86KernelsTest, ForcedHighwayTargetTurnsTilesOffAndResetRestores) {
  const std::vector<int64_t> targets = AvailableSimdTargets();
  ASSERT_FALSE(targets.empty());
  ForceSimdTargetForTest(targets.front());
  EXPECT_EQ(ActiveX86MatrixPath(), X86MatrixPath::kNone);
  std::vector<int32_t> out(1, 7);
  const int8_t one = 1;
  EXPECT_FALSE(DotRowsBatchI8X86(&one, 1, 1, &one, 1, 1, 1, out.data(), 1));
  EXPECT_EQ(out[0], 7);  // declined: nothing written
  ForceSimdTargetForTest(0);
  const X86MatrixFeatures& f = DetectX86MatrixFeatures();
  EXPECT_EQ(ActiveX86MatrixPath(), f.amx_tile      ? X86MatrixPath::kAmx
                                   : f.avx512_vnni ? X86MatrixPath::kVnni
                                                   : X86MatrixPath::kNone);
  EXPECT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kNone));
  EXPECT_EQ(ForceX86MatrixPathForTest(X86MatrixPath::kVnni), f.avx512_vnni);
  EXPECT_EQ(ForceX86MatrixPathForTest(X86MatrixPath::kAmx),
            DetectX86MatrixFeatures().amx_tile);
}

TEST_F(X86KernelsTest, EnvironmentSelectsVnniOrRefusesIt) {
  setenv("EDLAE_SIMD_TARGET", "vnni", 1);
  const absl::Status status = ApplySimdTargetFromEnv();
  unsetenv("EDLAE_SIMD_TARGET");
  if (DetectX86MatrixFeatures().avx512_vnni) {
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(ActiveMatrixPath(), "VNNI");
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(X86KernelsTest, EnvironmentSelectsAmxOrRefusesIt) {
  setenv("EDLAE_SIMD_TARGET", "amx", 1);
  const absl::Status status = ApplySimdTargetFromEnv();
  unsetenv("EDLAE_SIMD_TARGET");
  if (DetectX86MatrixFeatures().amx_tile) {
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(ActiveMatrixPath(), "AMX");
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("AMX"), std::string::npos) << status;
  }
}

// Rows of `dim` elements `stride` apart; the padding past dim holds `fill`
// (a NaN for bf16), which the kernels must never read.
template <typename T>
std::vector<T> Rows(size_t count, size_t stride, size_t dim, T fill,
                    std::mt19937& rng, T (*make)(std::mt19937&)) {
  std::vector<T> v(count * stride, fill);
  for (size_t j = 0; j < count; ++j) {
    for (size_t d = 0; d < dim; ++d) v[j * stride + d] = make(rng);
  }
  return v;
}

int8_t RandomInt8(std::mt19937& rng) {
  return static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
}

struct Shape {
  size_t count, dim, batch;
};
const Shape kShapes[] = {
    {1, 1, 1},     {15, 63, 1},   {16, 64, 16},   {17, 65, 17},   {31, 127, 15},
    {32, 128, 32}, {33, 129, 33}, {100, 200, 64}, {257, 1000, 5}, {40, 4, 70}};

// Every int8 shape on the current path against the scalar reference.
void ExpectInt8ExactOnActivePath() {
  std::mt19937 rng(7);
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "count " << s.count << " dim " << s.dim
                                    << " batch " << s.batch);
    const size_t stride = s.dim + 3, z_stride = s.dim + 5;
    const size_t out_stride = s.count + 2;
    const auto v = Rows<int8_t>(s.count, stride, s.dim, 127, rng, RandomInt8);
    const auto z =
        Rows<int8_t>(s.batch, z_stride, s.dim, -127, rng, RandomInt8);
    std::vector<int32_t> got(s.batch * out_stride, -1), want = got;
    // A single query stays on Highway (AMX and VNNI alike); the dispatcher
    // then gives the same integers.
    ASSERT_EQ(DotRowsBatchI8X86(v.data(), stride, s.count, z.data(), z_stride,
                                s.batch, s.dim, got.data(), out_stride),
              s.batch >= 2);
    if (s.batch < 2) {
      DotRowsBatchI8(v.data(), stride, s.count, z.data(), z_stride, s.batch,
                     s.dim, got.data(), out_stride);
    }
    DotRowsBatchI8Scalar(v.data(), stride, s.count, z.data(), z_stride, s.batch,
                         s.dim, want.data(), out_stride);
    EXPECT_EQ(got, want);  // padding columns untouched (−1) as well
  }
}

// The REQUIRES bound, dim = 131072 (127²·dim < 2³¹), at both signs.
void ExpectInt8LargestDimensionExact() {
  const size_t dim = 131072;
  std::vector<int8_t> v(2 * dim, 127), z(2 * dim, 127);
  for (size_t d = 0; d < dim; ++d) v[dim + d] = -127;
  std::vector<int32_t> out(4);
  ASSERT_TRUE(DotRowsBatchI8X86(v.data(), dim, 2, z.data(), dim, 2, dim,
                                out.data(), 2));
  const int32_t top = 127 * 127 * static_cast<int32_t>(dim);
  EXPECT_EQ(out, (std::vector<int32_t>{top, -top, top, -top}));
}

// Scaled scores on the current path: bit for bit the exact dots followed by
// the scalar dequantizing loop (what the scorer ran before the fusion), for
// every shape, scales of many magnitudes, and untouched padding columns.
void ExpectScaledInt8MatchesDotsThenScale() {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> mantissa(0.5f, 1.0f);
  for (const Shape& s : kShapes) {
    if (s.batch < 2) continue;  // single queries stay on Highway
    SCOPED_TRACE(testing::Message() << "count " << s.count << " dim " << s.dim
                                    << " batch " << s.batch);
    const size_t stride = s.dim + 3, out_stride = s.count + 2;
    const auto v = Rows<int8_t>(s.count, stride, s.dim, 127, rng, RandomInt8);
    const auto z = Rows<int8_t>(s.batch, s.dim, s.dim, 0, rng, RandomInt8);
    std::vector<float> row_scales(s.count), z_scales(s.batch);
    for (float& x : row_scales) {
      x = std::ldexp(mantissa(rng), static_cast<int>(rng() % 30) - 20);
    }
    for (float& x : z_scales) {
      x = std::ldexp(mantissa(rng), static_cast<int>(rng() % 30) - 20);
    }
    std::vector<int32_t> dots(s.batch * out_stride);
    DotRowsBatchI8Scalar(v.data(), stride, s.count, z.data(), s.dim, s.batch,
                         s.dim, dots.data(), out_stride);
    std::vector<float> want(s.batch * out_stride, -1.0f), got = want;
    for (size_t b = 0; b < s.batch; ++b) {
      for (size_t j = 0; j < s.count; ++j) {
        want[b * out_stride + j] =
            static_cast<float>(dots[b * out_stride + j]) *
            (z_scales[b] * row_scales[j]);
      }
    }
    const TileQueries q =
        TileQueries::Int8(z.data(), s.dim, s.batch, s.dim, z_scales.data());
    ASSERT_TRUE(DotRowsTilesScaled(v.data(), stride, s.count, row_scales.data(),
                                   q, got.data(), out_stride));
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(got[i]),
                std::bit_cast<uint32_t>(want[i]))
          << "entry " << i << ": " << got[i] << " vs " << want[i];
    }
    // Queries prepared without scales cannot give scaled scores.
    const TileQueries unscaled =
        TileQueries::Int8(z.data(), s.dim, s.batch, s.dim);
    EXPECT_FALSE(DotRowsTilesScaled(v.data(), stride, s.count,
                                    row_scales.data(), unscaled, got.data(),
                                    out_stride));
  }
}

TEST_F(X86KernelsTest, AmxInt8ScaledScoresEqualDotsThenScale) {
  SKIP_UNLESS(DetectX86MatrixFeatures().amx_int8, "AMX-INT8");
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kAmx));
  ExpectScaledInt8MatchesDotsThenScale();
}

TEST_F(X86KernelsTest, VnniInt8ScaledScoresEqualDotsThenScale) {
  SKIP_UNLESS(DetectX86MatrixFeatures().avx512_vnni, "AVX-512 VNNI");
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kVnni));
  ExpectScaledInt8MatchesDotsThenScale();
}

TEST_F(X86KernelsTest, ScaledScoresAreRefusedWithoutAMatrixPath) {
  ForceSimdTargetForTest(0);
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kNone));
  std::vector<int8_t> v(64, 1), z(128, 1);
  std::vector<float> scales(2, 1.0f), out(4, -1.0f);
  const TileQueries q = TileQueries::Int8(z.data(), 64, 2, 64, scales.data());
  EXPECT_FALSE(
      DotRowsTilesScaled(v.data(), 64, 1, scales.data(), q, out.data(), 2));
  EXPECT_EQ(out, std::vector<float>(4, -1.0f));
  ResetX86MatrixPath();
}

TEST_F(X86KernelsTest, AmxInt8IsExact) {
  SKIP_UNLESS(DetectX86MatrixFeatures().amx_int8, "AMX-INT8");
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kAmx));
  ExpectInt8ExactOnActivePath();
}

TEST_F(X86KernelsTest, AmxInt8AtTheLargestDimensionDoesNotOverflow) {
  SKIP_UNLESS(DetectX86MatrixFeatures().amx_int8, "AMX-INT8");
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kAmx));
  ExpectInt8LargestDimensionExact();
}

TEST_F(X86KernelsTest, VnniInt8IsExact) {
  SKIP_UNLESS(DetectX86MatrixFeatures().avx512_vnni, "AVX-512 VNNI");
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kVnni));
  EXPECT_EQ(ActiveMatrixPath(), "VNNI");
  ExpectInt8ExactOnActivePath();
}

TEST_F(X86KernelsTest, VnniInt8AtTheLargestDimensionDoesNotOverflow) {
  // The unsigned offset makes each lane wrap past 2³¹ on the way; the
  // correction must still land on the exact sum.
  SKIP_UNLESS(DetectX86MatrixFeatures().avx512_vnni, "AVX-512 VNNI");
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kVnni));
  ExpectInt8LargestDimensionExact();
}

TEST_F(X86KernelsTest, VnniLeavesBf16ToHighway) {
  SKIP_UNLESS(DetectX86MatrixFeatures().avx512_vnni, "AVX-512 VNNI");
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kVnni));
  const uint16_t one = FloatToBf16(1.0f);
  const float z = 0.5f;
  float out = -1.0f;
  EXPECT_FALSE(DotRowsBatchBF16X86(&one, 1, 1, &z, 1, 1, 1, &out, 1));
  EXPECT_EQ(out, -1.0f);
}

uint16_t RandomBf16(std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  return FloatToBf16(normal(rng));
}

// Σ_d V[j,d]·bf16(z[b,d]) in double, and Σ |·| for the error bound.
void ReferenceBf16(const std::vector<uint16_t>& v, size_t stride,
                   const std::vector<float>& z, size_t z_stride, const Shape& s,
                   std::vector<double>& dot, std::vector<double>& abs_sum) {
  dot.assign(s.batch * s.count, 0);
  abs_sum.assign(s.batch * s.count, 0);
  for (size_t b = 0; b < s.batch; ++b) {
    for (size_t j = 0; j < s.count; ++j) {
      double t = 0, a = 0;
      for (size_t d = 0; d < s.dim; ++d) {
        const double p = static_cast<double>(Bf16ToFloat(v[j * stride + d])) *
                         Bf16ToFloat(FloatToBf16(z[b * z_stride + d]));
        t += p;
        a += std::fabs(p);
      }
      dot[b * s.count + j] = t;
      abs_sum[b * s.count + j] = a;
    }
  }
}

TEST_F(X86KernelsTest, AmxBf16MatchesTheRoundedReference) {
  SKIP_UNLESS(DetectX86MatrixFeatures().amx_bf16, "AMX-BF16");
  std::mt19937 rng(11);
  const uint16_t nan = 0x7FC0;
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "count " << s.count << " dim " << s.dim
                                    << " batch " << s.batch);
    const size_t stride = s.dim + 3, z_stride = s.dim + 1;
    const size_t out_stride = s.count + 1;
    const auto v = Rows<uint16_t>(s.count, stride, s.dim, nan, rng, RandomBf16);
    std::vector<float> z(s.batch * z_stride,
                         std::numeric_limits<float>::quiet_NaN());
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (size_t b = 0; b < s.batch; ++b) {
      for (size_t d = 0; d < s.dim; ++d) z[b * z_stride + d] = normal(rng);
    }
    std::vector<float> got(s.batch * out_stride, -1.0f);
    ASSERT_TRUE(DotRowsBatchBF16X86(v.data(), stride, s.count, z.data(),
                                    z_stride, s.batch, s.dim, got.data(),
                                    out_stride));
    std::vector<double> want, abs_sum;
    ReferenceBf16(v, stride, z, z_stride, s, want, abs_sum);
    for (size_t b = 0; b < s.batch; ++b) {
      for (size_t j = 0; j < s.count; ++j) {
        // Float32 summation of dim exact products: |error| ≤ dim·u·Σ|p|.
        const double bound = s.dim * 0x1p-24 * abs_sum[b * s.count + j] + 1e-30;
        ASSERT_NEAR(got[b * out_stride + j], want[b * s.count + j], bound)
            << "user " << b << " item " << j;
      }
      for (size_t j = s.count; j < out_stride; ++j) {
        ASSERT_EQ(got[b * out_stride + j], -1.0f);  // nothing past count
      }
    }
  }
}

TEST_F(X86KernelsTest, AmxBf16IsExactWhereEverySumIsRepresentable) {
  SKIP_UNLESS(DetectX86MatrixFeatures().amx_bf16, "AMX-BF16");
  // Values k/8 with |k| ≤ 16 and dim ≤ 128: every partial sum is a multiple
  // of 1/64 below 2^10, exact in float32, so any order gives the exact dot.
  std::mt19937 rng(3);
  auto dyadic = [&] {
    return static_cast<float>(static_cast<int>(rng() % 33) - 16) / 8;
  };
  const size_t count = 37, dim = 97, batch = 19;
  std::vector<uint16_t> v(count * dim);
  std::vector<float> z(batch * dim);
  for (auto& x : v) x = FloatToBf16(dyadic());
  for (auto& x : z) x = dyadic();
  std::vector<float> got(batch * count);
  ASSERT_TRUE(DotRowsBatchBF16X86(v.data(), dim, count, z.data(), dim, batch,
                                  dim, got.data(), count));
  for (size_t b = 0; b < batch; ++b) {
    for (size_t j = 0; j < count; ++j) {
      float want = 0;
      for (size_t d = 0; d < dim; ++d) {
        want += Bf16ToFloat(v[j * dim + d]) * z[b * dim + d];
      }
      ASSERT_EQ(got[b * count + j], want) << b << " " << j;
    }
  }
}

TEST_F(X86KernelsTest, AmxBf16ScoresDoNotDependOnBatchOrItemRange) {
  SKIP_UNLESS(DetectX86MatrixFeatures().amx_bf16, "AMX-BF16");
  std::mt19937 rng(5);
  const size_t count = 300, dim = 1000, batch = 64;
  const auto v = Rows<uint16_t>(count, dim, dim, 0, rng, RandomBf16);
  std::vector<float> z(batch * dim);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : z) x = normal(rng);
  std::vector<float> all(batch * count);
  ASSERT_TRUE(DotRowsBatchBF16X86(v.data(), dim, count, z.data(), dim, batch,
                                  dim, all.data(), count));
  for (size_t b : {0u, 17u, 63u}) {
    std::vector<float> alone(count);
    ASSERT_TRUE(DotRowsBatchBF16X86(v.data(), dim, count, z.data() + b * dim,
                                    dim, 1, dim, alone.data(), count));
    for (size_t j = 0; j < count; ++j) {
      ASSERT_EQ(alone[j], all[b * count + j]) << "user " << b << " item " << j;
    }
    // One item at a time (how candidate lists score) gives the same bits.
    for (size_t j : {0u, 150u, 299u}) {
      float one = 0;
      ASSERT_TRUE(DotRowsBatchBF16X86(v.data() + j * dim, dim, 1,
                                      z.data() + b * dim, dim, 1, dim, &one,
                                      1));
      ASSERT_EQ(one, all[b * count + j]);
    }
  }
}

TEST_F(X86KernelsTest, DotRowsBatchRunsTheTilesForBf16OnlyWhenActive) {
  SKIP_UNLESS(DetectX86MatrixFeatures().amx_bf16, "AMX-BF16");
  std::mt19937 rng(9);
  const size_t count = 50, dim = 70, batch = 3;
  const auto v = Rows<uint16_t>(count, dim, dim, 0, rng, RandomBf16);
  std::vector<float> z(batch * dim);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : z) x = normal(rng);
  std::vector<float> tiles(batch * count), dispatched(batch * count);
  ASSERT_TRUE(DotRowsBatchBF16X86(v.data(), dim, count, z.data(), dim, batch,
                                  dim, tiles.data(), count));
  DotRowsBatch(DType::kBFloat16, v.data(), dim, count, z.data(), dim, batch,
               dim, dispatched.data(), count);
  EXPECT_EQ(dispatched, tiles);
  // A forced Highway target scores with float32 z: DotRowsBF16 per user.
  ForceSimdTargetForTest(AvailableSimdTargets().front());
  DotRowsBatch(DType::kBFloat16, v.data(), dim, count, z.data(), dim, batch,
               dim, dispatched.data(), count);
  std::vector<float> alone(count);
  for (size_t b = 0; b < batch; ++b) {
    DotRowsBF16(v.data(), dim, count, z.data() + b * dim, dim, alone.data());
    for (size_t j = 0; j < count; ++j) {
      ASSERT_EQ(dispatched[b * count + j], alone[j]);
    }
  }
}

TEST_F(X86KernelsTest, ThreadsScoreConcurrentlyWithTheirOwnTiles) {
  SKIP_UNLESS(DetectX86MatrixFeatures().amx_tile, "AMX");
  std::mt19937 rng(13);
  const size_t count = 200, dim = 256, batch = 20;
  const auto v8 = Rows<int8_t>(count, dim, dim, 0, rng, RandomInt8);
  const auto z8 = Rows<int8_t>(batch, dim, dim, 0, rng, RandomInt8);
  std::vector<int32_t> want(batch * count);
  DotRowsBatchI8Scalar(v8.data(), dim, count, z8.data(), dim, batch, dim,
                       want.data(), count);
  std::vector<std::vector<int32_t>> got(4, std::vector<int32_t>(want.size()));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 50; ++repeat) {
        DotRowsBatchI8(v8.data(), dim, count, z8.data(), dim, batch, dim,
                       got[t].data(), count);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(got[t], want) << "thread " << t;
}

}  // namespace
}  // namespace edlae
