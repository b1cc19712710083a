// Every compiled SIMD target against the scalar reference, over tail sizes 1…65 and unaligned pointers.
#include "core/kernels.h"

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"

namespace edlae {
namespace {

// Runs `body` once per available target, restoring the default afterwards.
template <typename Body>
void ForEachTarget(Body body) {
  const std::vector<int64_t> targets = AvailableSimdTargets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    ForceSimdTargetForTest(target);
    SCOPED_TRACE(ActiveSimdTarget());
    EXPECT_EQ(ActiveSimdTarget(), hwy::TargetName(target));
    body();
  }
  ForceSimdTargetForTest(0);
}

// Values k/8 in [-2, 2] and small weights keep every partial sum exact in
// float, so any summation order must reproduce the reference bit for bit.
std::vector<float> Dyadic(size_t n, std::mt19937& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(static_cast<int>(rng() % 33) - 16) / 8;
  return v;
}

TEST(KernelsTest, AccumulateRowsMatchesScalarForEveryTarget) {
  std::mt19937 rng(1);
  ForEachTarget([&] {
    for (size_t len = 1; len <= 65; ++len) {
      for (size_t num_rows : {0u, 1u, 3u, 4u, 5u, 9u}) {
        for (size_t offset : {0u, 1u}) {  // unaligned starts too
          std::vector<std::vector<float>> storage;
          std::vector<const float*> rows;
          for (size_t r = 0; r < num_rows; ++r) {
            storage.push_back(Dyadic(len + offset, rng));
          }
          for (auto& s : storage) rows.push_back(s.data() + offset);
          std::vector<float> weights = Dyadic(num_rows, rng);
          std::vector<float> acc = Dyadic(len + offset, rng);
          std::vector<float> want = acc;
          AccumulateRows(rows.data(), weights.data(), num_rows, len,
                         acc.data() + offset);
          AccumulateRowsScalar(rows.data(), weights.data(), num_rows, len,
                               want.data() + offset);
          ASSERT_EQ(acc, want) << "len " << len << " rows " << num_rows;
        }
      }
    }
  });
}

TEST(KernelsTest, DotRowsMatchesScalarForEveryTarget) {
  std::mt19937 rng(2);
  ForEachTarget([&] {
    for (size_t dim = 1; dim <= 65; ++dim) {
      for (size_t count : {1u, 3u, 4u, 7u, 17u}) {
        for (size_t stride : {dim, dim + 3, (dim + 15) / 16 * 16}) {
          std::vector<float> v = Dyadic((count - 1) * stride + dim, rng);
          std::vector<float> z = Dyadic(dim, rng);
          std::vector<float> out(count), want(count);
          DotRows(v.data(), stride, count, z.data(), dim, out.data());
          DotRowsScalar(v.data(), stride, count, z.data(), dim, want.data());
          ASSERT_EQ(out, want) << "dim " << dim << " count " << count;
        }
      }
    }
  });
}

TEST(KernelsTest, RealValuedInputsAgreeToRounding) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  const size_t dim = 1000, count = 50;
  std::vector<float> v(count * dim), z(dim), out(count), want(count);
  for (float& x : v) x = u(rng);
  for (float& x : z) x = u(rng);
  ForEachTarget([&] {
    DotRows(v.data(), dim, count, z.data(), dim, out.data());
    DotRowsScalar(v.data(), dim, count, z.data(), dim, want.data());
    for (size_t j = 0; j < count; ++j) EXPECT_NEAR(out[j], want[j], 1e-3f);
  });
}

TEST(KernelsTest, EnvironmentSelectsATargetAndRejectsUnknownNames) {
  ASSERT_EQ(setenv("EDLAE_SIMD_TARGET", "emu128", 1), 0);
  ASSERT_TRUE(ApplySimdTargetFromEnv().ok());
  EXPECT_TRUE(ActiveSimdTarget() == "SCALAR" || ActiveSimdTarget() == "EMU128")
      << ActiveSimdTarget();
  ASSERT_EQ(setenv("EDLAE_SIMD_TARGET", "NEON_SVE9", 1), 0);
  absl::Status s = ApplySimdTargetFromEnv();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("available"), std::string::npos);
  unsetenv("EDLAE_SIMD_TARGET");
  ForceSimdTargetForTest(0);
}

}  // namespace
}  // namespace edlae
