// FactorTopN against brute force: float32/f16/bf16 factors, batch sizes around the sgemm switch, threads, exclusions.
#include "core/factor_topn.h"

#include <algorithm>
#include <random>
#include <vector>

#include "core/half.h"
#include "gtest/gtest.h"

namespace edlae {
namespace {

struct Case {
  size_t n, dim, stride, batch, top_n;
  int threads;
};

// Dyadic values keep every dot product exact in float, whatever the
// summation order (sgemm, SIMD lanes, scalar), so rankings must match exactly.
float Dyadic(std::mt19937& rng) {
  return static_cast<float>(static_cast<int>(rng() % 17) - 8) / 8;
}

void Check(const Case& c, DType dtype, bool with_exclusions) {
  std::mt19937 rng(static_cast<uint32_t>(c.n * 31 + c.batch));
  std::vector<float> v(c.n * c.stride, 0.0f), z(c.batch * c.dim);
  for (size_t j = 0; j < c.n; ++j) {
    for (size_t k = 0; k < c.dim; ++k) v[j * c.stride + k] = Dyadic(rng);
  }
  for (float& x : z) x = Dyadic(rng);
  std::vector<uint16_t> half(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    half[i] = dtype == DType::kBFloat16 ? FloatToBf16(v[i]) : FloatToF16(v[i]);
  }
  WeightRows rows{dtype == DType::kFloat32 ? static_cast<const void*>(v.data())
                                           : static_cast<const void*>(half.data()),
                  dtype, c.n, c.dim, c.stride};
  std::vector<std::vector<uint32_t>> exclude;
  if (with_exclusions) {
    for (size_t b = 0; b < c.batch; ++b) {
      std::vector<uint32_t> ex;
      for (uint32_t j = 0; j < c.n; ++j) {
        if (rng() % 5 == 0) ex.push_back(j);
      }
      exclude.push_back(ex);
    }
  }
  FactorTopNOptions options;
  options.top_n = c.top_n;
  options.exclude = exclude;
  options.num_threads = c.threads;
  const auto got = FactorTopN(rows, z.data(), c.dim, c.batch, options);
  ASSERT_EQ(got.size(), c.batch);
  for (size_t b = 0; b < c.batch; ++b) {
    std::vector<ScoredItem> want;
    for (uint32_t j = 0; j < c.n; ++j) {
      if (with_exclusions &&
          std::binary_search(exclude[b].begin(), exclude[b].end(), j)) {
        continue;
      }
      float s = 0;
      for (size_t k = 0; k < c.dim; ++k) s += v[j * c.stride + k] * z[b * c.dim + k];
      want.push_back({j, s});
    }
    std::sort(want.begin(), want.end(), RanksBefore);
    if (want.size() > c.top_n) want.resize(c.top_n);
    ASSERT_EQ(got[b].size(), want.size()) << "query " << b;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[b][i].index, want[i].index) << "query " << b << " rank " << i;
      ASSERT_EQ(got[b][i].score, want[i].score) << "query " << b << " rank " << i;
    }
  }
}

TEST(FactorTopNTest, MatchesBruteForce) {
  const Case cases[] = {
      {1300, 33, 48, 1, 10, 1},   {1300, 33, 48, 3, 10, 1},
      {1300, 33, 48, 4, 100, 1},  {1300, 33, 48, 17, 7, 3},
      {513, 16, 16, 64, 50, 2},   {50, 5, 16, 5, 100, 4},  // top_n > items
      {2048, 64, 64, 8, 1, 2},
  };
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    for (bool ex : {false, true}) {
      for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message() << "dtype " << static_cast<int>(dtype)
                                        << " n " << c.n << " batch " << c.batch
                                        << " threads " << c.threads << " ex " << ex);
        Check(c, dtype, ex);
      }
    }
  }
}

TEST(FactorTopNTest, EmptyInputsGiveEmptyResults) {
  std::vector<float> v(16, 1.0f), z(16, 1.0f);
  WeightRows rows{v.data(), DType::kFloat32, 1, 16, 16};
  FactorTopNOptions options;
  options.top_n = 0;
  EXPECT_TRUE(FactorTopN(rows, z.data(), 16, 1, options)[0].empty());
  options.top_n = 5;
  EXPECT_TRUE(FactorTopN(rows, z.data(), 16, 0, options).empty());
  rows.num_rows = 0;
  EXPECT_TRUE(FactorTopN(rows, z.data(), 16, 1, options)[0].empty());
}

}  // namespace
}  // namespace edlae
