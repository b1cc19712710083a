// Every compiled SIMD target against the scalar reference, over tail sizes 1…65 and unaligned pointers.
#include "core/kernels.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "core/half.h"
#include "core/kernels_testing.h"
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

// Half-precision storage: the same dyadic values are exact in f16 and bf16.
std::vector<uint16_t> ToHalf(const std::vector<float>& v, bool bf16) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    h[i] = bf16 ? FloatToBf16(v[i]) : FloatToF16(v[i]);
  }
  return h;
}

TEST(KernelsTest, HalfPrecisionKernelsMatchScalarForEveryTarget) {
  std::mt19937 rng(4);
  ForEachTarget([&] {
    for (bool bf16 : {false, true}) {
      SCOPED_TRACE(bf16 ? "bf16" : "f16");
      for (size_t len = 1; len <= 65; ++len) {
        std::vector<std::vector<uint16_t>> storage;
        std::vector<const uint16_t*> rows;
        for (int r = 0; r < 5; ++r) storage.push_back(ToHalf(Dyadic(len, rng), bf16));
        for (auto& s : storage) rows.push_back(s.data());
        const std::vector<float> weights = Dyadic(5, rng);
        std::vector<float> acc = Dyadic(len, rng), want = acc;
        (bf16 ? AccumulateRowsBF16 : AccumulateRowsF16)(rows.data(), weights.data(), 5,
                                                        len, acc.data());
        (bf16 ? AccumulateRowsBF16Scalar : AccumulateRowsF16Scalar)(
            rows.data(), weights.data(), 5, len, want.data());
        ASSERT_EQ(acc, want) << "len " << len;

        const size_t count = 6, stride = len + 5;
        const std::vector<uint16_t> v = ToHalf(Dyadic(count * stride, rng), bf16);
        const std::vector<float> z = Dyadic(len, rng);
        std::vector<float> out(count), ref(count);
        (bf16 ? DotRowsBF16 : DotRowsF16)(v.data(), stride, count, z.data(), len,
                                          out.data());
        (bf16 ? DotRowsBF16Scalar : DotRowsF16Scalar)(v.data(), stride, count,
                                                      z.data(), len, ref.data());
        ASSERT_EQ(out, ref) << "dim " << len;
      }
    }
  });
}

// int8 rows: the integers widened exactly, so dyadic weights keep every sum
// exact and any order must reproduce the reference bit for bit.
TEST(KernelsTest, Int8AccumulateRowsMatchesScalarForEveryTarget) {
  std::mt19937 rng(6);
  ForEachTarget([&] {
    for (size_t len = 1; len <= 130; ++len) {
      for (size_t num_rows : {1u, 4u, 5u, 9u}) {
        for (size_t offset : {0u, 3u}) {  // unaligned starts too
          std::vector<std::vector<int8_t>> storage(num_rows);
          std::vector<const int8_t*> rows;
          for (auto& s : storage) {
            s.resize(len + offset);
            for (int8_t& q : s) q = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
            rows.push_back(s.data() + offset);
          }
          const std::vector<float> weights = Dyadic(num_rows, rng);
          std::vector<float> acc = Dyadic(len, rng), want = acc;
          AccumulateRowsI8(rows.data(), weights.data(), num_rows, len, acc.data());
          AccumulateRowsI8Scalar(rows.data(), weights.data(), num_rows, len,
                                 want.data());
          ASSERT_EQ(acc, want) << "len " << len << " rows " << num_rows;
          // The DType entry point dispatches to the same kernel.
          std::vector<float> via = Dyadic(len, rng), via_want = via;
          AccumulateRows(DType::kInt8, reinterpret_cast<const void* const*>(rows.data()),
                         weights.data(), num_rows, len, via.data());
          AccumulateRowsI8Scalar(rows.data(), weights.data(), num_rows, len,
                                 via_want.data());
          ASSERT_EQ(via, via_want);
        }
      }
    }
  });
}

// Exact int8 dot products (low-rank int8 V): every target equals the scalar
// reference bit for bit — odd shapes, strides beyond dim, ±127 extremes, and a
// dim near the int32 limit of the contract.
TEST(KernelsTest, Int8DotRowsBatchIsExactOnEveryTarget) {
  std::mt19937 rng(7);
  auto random_int8 = [&](size_t count) {
    std::vector<int8_t> out(count);
    for (int8_t& q : out) q = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    return out;
  };
  ForEachTarget([&] {
    for (size_t dim : {1u, 7u, 15u, 16u, 17u, 31u, 64u, 70u, 129u, 1000u}) {
      for (size_t count : {1u, 2u, 3u, 5u, 9u}) {
        for (size_t batch : {1u, 3u, 4u, 5u, 9u}) {
          const size_t stride = dim + (count % 2 == 0 ? 0 : 13);
          const size_t z_stride = dim + (batch % 2 == 0 ? 5 : 0);
          const std::vector<int8_t> v = random_int8(count * stride);
          const std::vector<int8_t> z = random_int8(batch * z_stride);
          const size_t out_stride = count + 2;
          std::vector<int32_t> out(batch * out_stride, -1), want = out;
          DotRowsBatchI8(v.data(), stride, count, z.data(), z_stride, batch, dim,
                         out.data(), out_stride);
          DotRowsBatchI8Scalar(v.data(), stride, count, z.data(), z_stride, batch,
                               dim, want.data(), out_stride);
          ASSERT_EQ(out, want) << "dim " << dim << " count " << count
                               << " batch " << batch;
        }
      }
    }
    // Extremes: all −127 against all −127 at dim 131072 is 127²·131072 =
    // 2,114,060,288, the largest sum the contract allows (< 2³¹).
    const size_t dim = 131072;
    const std::vector<int8_t> v(2 * dim, -127);
    std::vector<int8_t> z(dim, -127);
    std::vector<int32_t> out(2);
    DotRowsBatchI8(v.data(), dim, 2, z.data(), dim, 1, dim, out.data(), 2);
    EXPECT_EQ(out[0], 2114060288);
    EXPECT_EQ(out[1], 2114060288);
    for (size_t d = 0; d < dim; d += 2) z[d] = 127;
    DotRowsBatchI8(v.data(), dim, 2, z.data(), dim, 1, dim, out.data(), 2);
    EXPECT_EQ(out[0], 0);
  });
}

TEST(HalfTest, F16RoundTripsEveryValueAndRoundsLikeTheCompiler) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float f = F16ToFloat(static_cast<uint16_t>(bits));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(F16ToFloat(FloatToF16(f))));
      continue;
    }
    ASSERT_EQ(FloatToF16(f), bits) << std::hex << bits;
    ASSERT_EQ(f, static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(bits))));
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns cover subnormals, ties and overflow.
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (std::isnan(f)) continue;
    const _Float16 h = static_cast<_Float16>(f);
    ASSERT_EQ(FloatToF16(f), std::bit_cast<uint16_t>(h)) << f;
  }
}

TEST(HalfTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f)), 1.0f);
  EXPECT_EQ(FloatToBf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie → even
  EXPECT_EQ(FloatToBf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie → even
  EXPECT_EQ(FloatToBf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);  // above tie
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(NAN))));
  EXPECT_TRUE(std::isinf(Bf16ToFloat(FloatToBf16(3.4e38f))));
  std::mt19937 rng(6);
  for (int i = 0; i < 100000; ++i) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (!std::isnormal(f)) continue;  // subnormals keep fewer significant bits
    const float back = Bf16ToFloat(FloatToBf16(f));
    if (std::isinf(back)) continue;
    ASSERT_LE(std::abs(back - f), std::abs(f) * (1.0f / 256)) << f;
  }
}

// Real-valued inputs (rounding present): a user's scores must not depend on
// how many users share the pass, for every target and dtype.
TEST(KernelsTest, DotRowsBatchIsBitIdenticalToOneUserAtATime) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  ForEachTarget([&] {
    for (size_t dim : {1u, 15u, 16u, 33u, 100u}) {
      const size_t count = 11, stride = dim + 7, batch = 9;
      std::vector<float> v(count * stride), z(batch * dim);
      for (float& x : v) x = u(rng);
      for (float& x : z) x = u(rng);
      std::vector<uint16_t> v16(v.size()), vbf(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        v16[i] = FloatToF16(v[i]);
        vbf[i] = FloatToBf16(v[i]);
      }
      for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
        const void* data = dtype == DType::kFloat32   ? static_cast<const void*>(v.data())
                           : dtype == DType::kFloat16 ? static_cast<const void*>(v16.data())
                                                      : static_cast<const void*>(vbf.data());
        std::vector<float> together(batch * count), alone(count);
        DotRowsBatch(dtype, data, stride, count, z.data(), dim, batch, dim,
                     together.data(), count);
        for (size_t b = 0; b < batch; ++b) {
          const float* zb = z.data() + b * dim;
          if (dtype == DType::kFloat32) {
            DotRows(v.data(), stride, count, zb, dim, alone.data());
          } else if (dtype == DType::kFloat16) {
            DotRowsF16(v16.data(), stride, count, zb, dim, alone.data());
          } else {
            DotRowsBF16(vbf.data(), stride, count, zb, dim, alone.data());
          }
          for (size_t j = 0; j < count; ++j) {
            ASSERT_EQ(together[b * count + j], alone[j])
                << "dim " << dim << " dtype " << static_cast<int>(dtype)
                << " user " << b << " item " << j;
          }
        }
      }
    }
  });
}

// Every batch size and item count from 1 to 17 against single-user DotRows,
// so each (user, item) lands in full register tiles, in leftover items and in
// leftover users depending on the shape; dims cover empty, short and long
// scalar tails. Bit-identical with real-valued inputs; dyadic inputs also pin
// every output to its (user, item) via the scalar reference.
TEST(KernelsTest, DotRowsBatchEveryShapeMatchesOneUserAtATime) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(-1, 1);
  ForEachTarget([&] {
    for (size_t dim : {1u, 7u, 16u, 17u, 31u, 40u, 64u, 71u}) {
      // Unaligned float rows take the kernel's aligned-copy path; rows on
      // 64-byte boundaries do not.
      for (bool aligned : {false, true}) {
        const size_t stride = aligned ? (dim + 15) / 16 * 16 : dim + 3;
        const size_t z_stride = dim + 1, max_n = 17;
        std::vector<float> v_storage(max_n * stride + 16), z(max_n * z_stride);
        float* v_base = v_storage.data();
        while (reinterpret_cast<uintptr_t>(v_base) % 64 != 0) ++v_base;
        if (!aligned) ++v_base;
        std::span<float> v(v_base, max_n * stride);
        for (bool dyadic : {false, true}) {
          if (dyadic) {
            const std::vector<float> dv = Dyadic(v.size(), rng);
            std::copy(dv.begin(), dv.end(), v.begin());
            z = Dyadic(z.size(), rng);
          } else {
            for (float& x : v) x = u(rng);
            for (float& x : z) x = u(rng);
          }
          const std::vector<float> v_copy(v.begin(), v.end());
          const std::vector<uint16_t> v16 = ToHalf(v_copy, false),
                                      vbf = ToHalf(v_copy, true);
          for (DType dtype :
               {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
            const void* data = dtype == DType::kFloat32
                                   ? static_cast<const void*>(v.data())
                               : dtype == DType::kFloat16
                                   ? static_cast<const void*>(v16.data())
                                   : static_cast<const void*>(vbf.data());
            for (size_t batch = 1; batch <= max_n; ++batch) {
              for (size_t count = 1; count <= max_n; ++count) {
                const size_t out_stride = count + 2;
                std::vector<float> together(batch * out_stride, -7.0f);
                DotRowsBatch(dtype, data, stride, count, z.data(), z_stride,
                             batch, dim, together.data(), out_stride);
                std::vector<float> alone(count), ref(count);
                for (size_t b = 0; b < batch; ++b) {
                  const float* zb = z.data() + b * z_stride;
                  if (dtype == DType::kFloat32) {
                    DotRows(v.data(), stride, count, zb, dim, alone.data());
                    DotRowsScalar(v.data(), stride, count, zb, dim, ref.data());
                  } else if (dtype == DType::kFloat16) {
                    DotRowsF16(v16.data(), stride, count, zb, dim,
                               alone.data());
                    DotRowsF16Scalar(v16.data(), stride, count, zb, dim,
                                     ref.data());
                  } else {
                    DotRowsBF16(vbf.data(), stride, count, zb, dim,
                                alone.data());
                    DotRowsBF16Scalar(vbf.data(), stride, count, zb, dim,
                                      ref.data());
                  }
                  for (size_t j = 0; j < count; ++j) {
                    ASSERT_EQ(together[b * out_stride + j], alone[j])
                        << "dim " << dim << " dtype " << static_cast<int>(dtype)
                        << " batch " << batch << " count " << count << " user "
                        << b << " item " << j;
                    if (dyadic) ASSERT_EQ(alone[j], ref[j]) << "dim " << dim;
                  }
                  for (size_t j = count; j < out_stride; ++j) {
                    ASSERT_EQ(together[b * out_stride + j], -7.0f)
                        << "wrote past count";
                  }
                }
              }
            }
          }
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

TEST(KernelsTest, SelectAtOrAboveMatchesScalarForEveryTarget) {
  std::mt19937 rng(21);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  ForEachTarget([&] {
    for (size_t count = 0; count <= 140; count += count < 40 ? 1 : 13) {
      for (float threshold : {-inf, -0.5f, 0.0f, 0.9f, 2.0f, inf}) {
        std::vector<float> scores(count);
        for (float& x : scores) {
          const int r = static_cast<int>(rng() % 40);
          x = r == 0 ? nan : r == 1 ? inf : r == 2 ? -inf : (r - 20) / 10.0f;
        }
        std::vector<uint32_t> got(count + 1, 7777), want;
        for (size_t j = 0; j < count; ++j) {
          if (scores[j] >= threshold) want.push_back(static_cast<uint32_t>(j));
        }
        const size_t found =
            SelectAtOrAbove(scores.data(), count, threshold, got.data());
        ASSERT_EQ(found, want.size()) << count << " " << threshold;
        got.resize(found);
        ASSERT_EQ(got, want);
      }
    }
  });
}

// The reservoir's compaction: the n largest keys first, keys[n − 1] the n-th
// largest, nothing lost or invented — with duplicate keys, sorted and reversed
// inputs, and every size around the vector and small-input boundaries.
TEST(KernelsTest, PartitionLargestMatchesSortForEveryTarget) {
  std::mt19937_64 rng(29);
  ForEachTarget([&] {
    for (size_t count = 0; count <= 700; count += count < 80 ? 1 : 37) {
      for (int kind = 0; kind < 4; ++kind) {
        std::vector<uint64_t> keys(count);
        for (size_t i = 0; i < count; ++i) {
          keys[i] = kind == 0   ? rng()
                    : kind == 1 ? rng() % 7   // many equal keys
                    : kind == 2 ? i           // ascending
                                : count - i;  // descending
        }
        std::vector<uint64_t> want = keys;
        std::sort(want.begin(), want.end(), std::greater<uint64_t>());
        for (size_t n : {size_t{1}, count / 4, count / 2, count - 1}) {
          if (n == 0 || n >= count) continue;
          std::vector<uint64_t> got = keys, scratch(count, 12345);
          PartitionLargest(got.data(), count, n, scratch.data());
          ASSERT_EQ(got[n - 1], want[n - 1])
              << count << " " << n << " " << kind;
          std::vector<uint64_t> top(got.begin(), got.begin() + n);
          std::sort(top.begin(), top.end(), std::greater<uint64_t>());
          ASSERT_TRUE(std::equal(top.begin(), top.end(), want.begin()))
              << count << " " << n << " " << kind;
          std::sort(got.begin(), got.end(), std::greater<uint64_t>());
          ASSERT_EQ(got, want) << "a key was lost or duplicated";
        }
      }
    }
  });
}

TEST(KernelsTest, WidenI8IsBitIdenticalOnEveryTarget) {
  std::mt19937 rng(23);
  ForEachTarget([&] {
    for (size_t n = 0; n <= 70; ++n) {
      std::vector<int8_t> q(n);
      for (int8_t& x : q)
        x = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
      const float scale =
          std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 999, -7);
      std::vector<float> got(n + 1, -3.0f);
      WidenI8(q.data(), n, scale, got.data());
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], scale * static_cast<float>(q[i])) << n << " " << i;
      }
      ASSERT_EQ(got[n], -3.0f);  // nothing past n
    }
  });
}

}  // namespace
}  // namespace edlae
