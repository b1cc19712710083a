// Synthetic data: determinism, validation, shape, heavy tails, structure.
#include "evaluation/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "trainer/interactions.h"

namespace edlae {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SynthOptions SmallOptions() {
  SynthOptions o;
  o.num_users = 3000;
  o.num_items = 1000;
  o.mean_items_per_user = 30;
  o.num_topics = 10;
  o.popularity_exponent = 1.0;
  o.seed = 7;
  return o;
}

Interactions WriteAndLoad(const testing::ScratchDir& dir,
                          const SynthOptions& o) {
  const std::string path = dir.File("ratings.csv");
  absl::Status s = WriteSyntheticInteractions(path, o);
  EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<Interactions> x = LoadInteractions(path, LoadOptions());
  EXPECT_TRUE(x.ok()) << x.status();
  return x.ok() ? *std::move(x) : Interactions();
}

std::vector<size_t> ItemCounts(const Interactions& x) {
  std::vector<size_t> counts(x.num_items(), 0);
  for (uint32_t i : x.item_indices) ++counts[i];
  return counts;
}

// Share of interactions held by the most popular 10% of items.
double TopDecileShare(const Interactions& x) {
  std::vector<size_t> counts = ItemCounts(x);
  std::sort(counts.rbegin(), counts.rend());
  const size_t top = std::max<size_t>(1, counts.size() / 10);
  return static_cast<double>(
             std::accumulate(counts.begin(), counts.begin() + top, size_t{0})) /
         static_cast<double>(x.num_interactions());
}

// Structure statistic over the 60 most popular items: lift(i, j) =
// co-occurrence × users / (count_i × count_j). Without latent tastes every
// pair has about the same lift (activity skew scales all of them alike); with
// topics, same-topic pairs sit far above cross-topic pairs. Returns the mean
// lift of the top 10% of pairs divided by the median lift (about 8% of the
// pairs share a topic when there are ten).
double LiftSpread(const Interactions& x) {
  const std::vector<size_t> counts = ItemCounts(x);
  std::vector<uint32_t> by_pop(x.num_items());
  std::iota(by_pop.begin(), by_pop.end(), 0);
  std::sort(by_pop.begin(), by_pop.end(),
            [&](uint32_t a, uint32_t b) { return counts[a] > counts[b]; });
  const size_t k = std::min<size_t>(60, by_pop.size());
  std::vector<int> slot(x.num_items(), -1);
  for (size_t s = 0; s < k; ++s) slot[by_pop[s]] = static_cast<int>(s);
  std::vector<double> co(k * k, 0);
  std::vector<int> present;
  for (size_t u = 0; u < x.num_users(); ++u) {
    present.clear();
    for (uint64_t e = x.row_offsets[u]; e < x.row_offsets[u + 1]; ++e) {
      if (slot[x.item_indices[e]] >= 0)
        present.push_back(slot[x.item_indices[e]]);
    }
    for (int a : present) {
      for (int b : present) co[a * k + b] += 1;
    }
  }
  std::vector<double> lifts;
  for (size_t a = 0; a < k; ++a) {
    for (size_t b = a + 1; b < k; ++b) {
      lifts.push_back(
          co[a * k + b] * static_cast<double>(x.num_users()) /
          (static_cast<double>(counts[by_pop[a]]) * counts[by_pop[b]]));
    }
  }
  std::sort(lifts.begin(), lifts.end());
  const double median = lifts[lifts.size() / 2];
  const size_t top = lifts.size() / 10;
  const double top_mean = std::accumulate(lifts.end() - top, lifts.end(), 0.0) /
                          static_cast<double>(top);
  return top_mean / median;
}

TEST(SynthTest, SameSeedSameBytesOtherSeedDifferent) {
  testing::ScratchDir dir;
  SynthOptions o = SmallOptions();
  ASSERT_TRUE(WriteSyntheticInteractions(dir.File("a.csv"), o).ok());
  ASSERT_TRUE(WriteSyntheticInteractions(dir.File("b.csv"), o).ok());
  o.seed = 8;
  ASSERT_TRUE(WriteSyntheticInteractions(dir.File("c.csv"), o).ok());
  const std::string a = ReadAll(dir.File("a.csv"));
  EXPECT_GT(a.size(), 1000u);
  EXPECT_EQ(a, ReadAll(dir.File("b.csv")));
  EXPECT_NE(a, ReadAll(dir.File("c.csv")));
  // Atomic write: nothing but the three outputs is left in the directory.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_THAT(entry.path().filename().string(),
                ::testing::Not(::testing::HasSubstr("tmp")));
  }
  EXPECT_EQ(files, 3u);
}

TEST(SynthTest, RejectsInvalidOptions) {
  testing::ScratchDir dir;
  const std::string path = dir.File("ratings.csv");
  auto expect_invalid = [&](SynthOptions o) {
    absl::Status s = WriteSyntheticInteractions(path, o);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  };
  SynthOptions o = SmallOptions();
  o.num_items = 1;
  expect_invalid(o);
  o = SmallOptions();
  o.num_users = 0;
  expect_invalid(o);
  o = SmallOptions();
  o.num_topics = 0;
  expect_invalid(o);
  o.num_topics = o.num_items + 1;
  expect_invalid(o);
  o = SmallOptions();
  o.mean_items_per_user = 4;  // Below the 5-item minimum.
  expect_invalid(o);
  o.mean_items_per_user = 1001;  // Above num_items.
  expect_invalid(o);
  o.mean_items_per_user = std::nan("");
  expect_invalid(o);
  o = SmallOptions();
  o.popularity_exponent = -1;
  expect_invalid(o);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  EXPECT_EQ(
      WriteSyntheticInteractions(dir.File("no/such/dir/r.csv"), SmallOptions())
          .code(),
      absl::StatusCode::kNotFound);
}

TEST(SynthTest, FileShape) {
  testing::ScratchDir dir;
  const SynthOptions o = SmallOptions();
  const std::string path = dir.File("ratings.csv");
  ASSERT_TRUE(WriteSyntheticInteractions(path, o).ok());
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "userId,movieId,rating,timestamp");
  int64_t last_user = 0, last_time = 0;
  size_t rows = 0;
  std::vector<size_t> rating_counts(6, 0);
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    ASSERT_EQ(f.size(), 4u) << line;
    int64_t user, item, time;
    double rating;
    ASSERT_TRUE(
        absl::SimpleAtoi(f[0], &user) && absl::SimpleAtoi(f[1], &item) &&
        absl::SimpleAtod(f[2], &rating) && absl::SimpleAtoi(f[3], &time))
        << line;
    ASSERT_TRUE(user == last_user || user == last_user + 1)
        << line;  // 1..N in order
    ASSERT_GE(item, 1);
    ASSERT_LE(item, static_cast<int64_t>(o.num_items));
    ASSERT_EQ(rating, std::round(rating));
    ASSERT_GE(rating, 1);
    ASSERT_LE(rating, 5);
    ASSERT_GT(time, last_time) << line;
    ++rating_counts[static_cast<int>(rating)];
    last_user = user;
    last_time = time;
    ++rows;
  }
  EXPECT_EQ(last_user, static_cast<int64_t>(o.num_users));
  for (int r = 1; r <= 5; ++r) EXPECT_GT(rating_counts[r], rows / 50) << r;
  EXPECT_GT(rating_counts[4] + rating_counts[5],
            rating_counts[1] + rating_counts[2]);

  // Loads back with distinct items per user, so rows == interactions.
  absl::StatusOr<Interactions> x = LoadInteractions(path, LoadOptions());
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x->num_interactions(), rows);
  EXPECT_EQ(x->num_users(), o.num_users);
}

TEST(SynthTest, CountsAndHeavyTails) {
  testing::ScratchDir dir;
  const SynthOptions o = SmallOptions();
  const Interactions x = WriteAndLoad(dir, o);
  ASSERT_EQ(x.num_users(), o.num_users);
  EXPECT_LE(x.num_items(), o.num_items);
  EXPECT_GE(x.num_items(), o.num_items * 9 / 10);
  const double expected =
      o.mean_items_per_user * static_cast<double>(o.num_users);
  EXPECT_NEAR(static_cast<double>(x.num_interactions()), expected,
              0.01 * expected);

  // Activity: at least 5 each, skewed (median below mean, a long tail).
  std::vector<size_t> sizes(x.num_users());
  for (size_t u = 0; u < x.num_users(); ++u)
    sizes[u] = x.row_offsets[u + 1] - x.row_offsets[u];
  std::sort(sizes.begin(), sizes.end());
  EXPECT_GE(sizes.front(), 5u);
  EXPECT_LE(sizes.back(), o.num_items);
  EXPECT_LT(sizes[sizes.size() / 2], o.mean_items_per_user);
  EXPECT_GT(sizes.back(), 4 * o.mean_items_per_user);

  // Popularity: Zipf(1) concentrates far more than uniform popularity.
  const double zipf_share = TopDecileShare(x);
  SynthOptions flat = o;
  flat.popularity_exponent = 0;
  const double flat_share = TopDecileShare(WriteAndLoad(dir, flat));
  EXPECT_GT(zipf_share, 0.4);
  EXPECT_LT(flat_share, 0.25);
}

TEST(SynthTest, TopicsCreateItemItemStructure) {
  testing::ScratchDir dir;
  SynthOptions o = SmallOptions();
  const double structured = LiftSpread(WriteAndLoad(dir, o));
  o.num_topics = 1;  // One taste shared by all: no structure beyond popularity.
  const double null = LiftSpread(WriteAndLoad(dir, o));
  // Seeds 1-8 give 2.1-2.4 with ten topics and 1.31-1.38 with one.
  EXPECT_GT(structured, 1.8);
  EXPECT_LT(null, 1.6);
  EXPECT_GT(structured, 1.4 * null);
}

TEST(SynthTest, ExtremeActivityFillsEveryItem) {
  testing::ScratchDir dir;
  SynthOptions o;
  o.num_users = 20;
  o.num_items = 12;
  o.num_topics = 3;
  o.mean_items_per_user = 12;  // Every user must take every item.
  Interactions x = WriteAndLoad(dir, o);
  EXPECT_EQ(x.num_users(), 20u);
  EXPECT_EQ(x.num_items(), 12u);
  EXPECT_EQ(x.num_interactions(), 240u);

  o.num_items = 2;  // Tiny catalogue: the 5-item minimum is capped at 2.
  o.num_topics = 2;
  o.mean_items_per_user = 2;
  x = WriteAndLoad(dir, o);
  EXPECT_EQ(x.num_interactions(), 40u);
}

}  // namespace
}  // namespace edlae
