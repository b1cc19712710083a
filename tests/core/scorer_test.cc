// Dense and low-rank scorers against brute-force references: exact sums, ties, exclusions, candidates, fallback.
#include "core/scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace edlae {
namespace {

// A model whose entries are multiples of 1/4 in [-2, 2]: every sum of a few
// weighted rows is exact in float, so any summation order gives identical
// scores and ties are frequent — the ranking must break them by index.
class ScorerTest : public ::testing::Test {
 protected:
  void Build(size_t n, uint32_t seed) {
    n_ = n;
    std::mt19937 rng(seed);
    b_.resize(n * n);
    for (float& v : b_) v = static_cast<float>(static_cast<int>(rng() % 17) - 8) / 4;
    ids_.clear();
    for (size_t i = 0; i < n; ++i) ids_.push_back(absl::StrCat("item-", i));
    popularity_.resize(n);
    for (float& p : popularity_) p = static_cast<float>(rng() % 5);  // ties
    const std::string path = dir_.File(absl::StrCat("m", n, "-", rank_, ".edlae"));
    if (rank_ == 0) {
      DenseModelData data;
      data.b = b_;
      data.item_ids = ids_;
      data.popularity = popularity_;
      ASSERT_TRUE(WriteDenseModel(path, data).ok());
    } else {
      // U and V with the same dyadic entries; B (kept only for reference
      // checks that need it) is their product, also exact.
      u_.resize(n * rank_);
      v_.resize(n * rank_);
      for (float& x : u_) x = static_cast<float>(static_cast<int>(rng() % 17) - 8) / 4;
      for (float& x : v_) x = static_cast<float>(static_cast<int>(rng() % 17) - 8) / 4;
      LowRankModelData data;
      data.rank = rank_;
      data.u = u_;
      data.v = v_;
      data.item_ids = ids_;
      data.popularity = popularity_;
      ASSERT_TRUE(WriteLowRankModel(path, data).ok());
    }
    absl::StatusOr<std::shared_ptr<const Model>> m = Model::Open(path);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *m;
  }

  // Builds a low-rank model of rank `rank`.
  void BuildLowRank(size_t n, size_t rank, uint32_t seed) {
    rank_ = rank;
    Build(n, seed);
    ASSERT_EQ(model_->kind(), ModelKind::kLowRank);
    ASSERT_EQ(model_->rank(), rank);
  }

  // Exact scores in double: x·B for dense models, (x·U)·Vᵀ for low-rank ones
  // (z = x·U first, as a direct reference of what the model means).
  std::vector<double> ReferenceScores(
      const std::vector<HistoryEntry>& history) const {
    std::vector<double> s(n_, 0.0);
    if (rank_ == 0) {
      for (const HistoryEntry& e : history) {
        for (size_t j = 0; j < n_; ++j) s[j] += e.weight * b_[e.index * n_ + j];
      }
      return s;
    }
    std::vector<double> z(rank_, 0.0);
    for (const HistoryEntry& e : history) {
      for (size_t c = 0; c < rank_; ++c) z[c] += e.weight * u_[e.index * rank_ + c];
    }
    for (size_t j = 0; j < n_; ++j) {
      for (size_t c = 0; c < rank_; ++c) s[j] += z[c] * v_[j * rank_ + c];
    }
    return s;
  }

  // Brute force: full double-precision scores, filter, full sort.
  std::vector<ScoredItem> Reference(const std::vector<HistoryEntry>& history,
                                    const RecommendOptions& o) const {
    const std::vector<double> s = ReferenceScores(history);
    std::vector<bool> allowed(n_, o.candidates.empty());
    for (uint32_t c : o.candidates) allowed[c] = true;
    for (uint32_t x : o.exclude) allowed[x] = false;
    if (o.exclude_history) {
      for (const HistoryEntry& e : history) allowed[e.index] = false;
    }
    std::vector<ScoredItem> all;
    for (size_t j = 0; j < n_; ++j) {
      if (allowed[j]) all.push_back({static_cast<uint32_t>(j), static_cast<float>(s[j])});
    }
    std::sort(all.begin(), all.end(), RanksBefore);
    if (all.size() > o.top_n) all.resize(o.top_n);
    return all;
  }

  void ExpectMatches(const std::vector<HistoryEntry>& history,
                     const RecommendOptions& o) const {
    absl::StatusOr<Recommendation> got = Recommend(*model_, history, o);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->popularity_fallback);
    const std::vector<ScoredItem> want = Reference(history, o);
    ASSERT_EQ(got->items.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got->items[i].index, want[i].index) << "rank " << i;
      EXPECT_EQ(got->items[i].score, want[i].score) << "rank " << i;
    }
  }

  testing::ScratchDir dir_;
  size_t n_ = 0;
  size_t rank_ = 0;  // 0: dense
  std::vector<float> b_;
  std::vector<float> u_, v_;
  std::vector<std::string> ids_;
  std::vector<float> popularity_;
  std::shared_ptr<const Model> model_;
};

TEST_F(ScorerTest, MatchesBruteForceAcrossBlockBoundaries) {
  Build(2100, 1);  // > one 2048-item block, with a ragged tail
  std::mt19937 rng(2);
  for (size_t len : {1u, 2u, 3u, 4u, 5u, 9u, 50u}) {
    std::vector<HistoryEntry> history;
    for (size_t k = 0; k < len; ++k) {
      history.push_back({static_cast<uint32_t>(rng() % n_), 1.0f});
    }
    for (size_t top_n : {1u, 10u, 100u}) {
      RecommendOptions o;
      o.top_n = top_n;
      ExpectMatches(history, o);
      o.exclude_history = false;
      ExpectMatches(history, o);
    }
  }
}

TEST_F(ScorerTest, WeightsDuplicatesAndExclusions) {
  Build(300, 3);
  std::vector<HistoryEntry> history = {{5, 2.0f}, {7, 0.5f}, {5, 1.0f}, {299, -1.0f}};
  std::vector<uint32_t> exclude = {0, 1, 2, 3, 4, 5, 100, 150};
  RecommendOptions o;
  o.top_n = 40;
  o.exclude = exclude;
  ExpectMatches(history, o);
}

TEST_F(ScorerTest, TopNLargerThanCatalogReturnsEveryAllowedItem) {
  Build(37, 4);
  std::vector<HistoryEntry> history = {{3, 1.0f}, {4, 1.0f}};
  RecommendOptions o;
  o.top_n = 1000;
  absl::StatusOr<Recommendation> got = Recommend(*model_, history, o);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->items.size(), 35u);
  ExpectMatches(history, o);
}

TEST_F(ScorerTest, CandidatesRestrictScoringAndDeduplicate) {
  Build(500, 5);
  std::vector<HistoryEntry> history = {{10, 1.0f}, {20, 1.0f}, {30, 1.0f}};
  std::vector<uint32_t> candidates = {10, 499, 42, 42, 7, 250, 251, 20, 3};
  std::vector<uint32_t> exclude = {250};
  RecommendOptions o;
  o.top_n = 5;
  o.candidates = candidates;
  o.exclude = exclude;
  ExpectMatches(history, o);
  absl::StatusOr<Recommendation> got = Recommend(*model_, history, o);
  ASSERT_TRUE(got.ok());
  for (const ScoredItem& s : got->items) {
    EXPECT_NE(s.index, 10u);   // history
    EXPECT_NE(s.index, 250u);  // excluded
  }
}

TEST_F(ScorerTest, ComputeScoresIsXTimesB) {
  Build(64, 6);
  std::vector<HistoryEntry> history = {{1, 1.0f}, {2, 3.0f}, {63, -2.0f}};
  std::vector<float> scores(n_);
  ComputeScores(*model_, history, absl::MakeSpan(scores));
  for (size_t j = 0; j < n_; ++j) {
    EXPECT_EQ(scores[j], b_[1 * n_ + j] + 3 * b_[2 * n_ + j] - 2 * b_[63 * n_ + j]);
  }
}

TEST_F(ScorerTest, EmptyOrZeroWeightHistoryFallsBackToPopularity) {
  Build(50, 7);
  std::vector<uint32_t> exclude = {model_->items_by_popularity()[0]};
  for (const std::vector<HistoryEntry>& history :
       {std::vector<HistoryEntry>{}, std::vector<HistoryEntry>{{9, 0.0f}}}) {
    RecommendOptions o;
    o.top_n = 5;
    o.exclude = exclude;
    absl::StatusOr<Recommendation> got = Recommend(*model_, history, o);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(got->popularity_fallback);
    // Most popular first, ties by index, the excluded and history items skipped.
    std::vector<ScoredItem> want;
    for (uint32_t i = 0; i < n_; ++i) {
      if (i == exclude[0] || (!history.empty() && i == 9)) continue;
      want.push_back({i, popularity_[i]});
    }
    std::sort(want.begin(), want.end(), RanksBefore);
    want.resize(5);
    ASSERT_EQ(got->items.size(), 5u);
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(got->items[k].index, want[k].index);
      EXPECT_EQ(got->items[k].score, want[k].score);
    }
  }
}

TEST_F(ScorerTest, FallbackRespectsCandidates) {
  Build(50, 8);
  std::vector<uint32_t> candidates = {3, 4, 5, 5};
  RecommendOptions o;
  o.top_n = 10;
  o.candidates = candidates;
  absl::StatusOr<Recommendation> got = Recommend(*model_, {}, o);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->popularity_fallback);
  EXPECT_EQ(got->items.size(), 3u);
  for (const ScoredItem& s : got->items) {
    EXPECT_TRUE(s.index >= 3 && s.index <= 5);
  }
}

TEST_F(ScorerTest, RejectsBadRequests) {
  Build(20, 9);
  RecommendOptions o;
  o.top_n = 0;
  EXPECT_EQ(Recommend(*model_, {}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.top_n = 5;
  std::vector<HistoryEntry> out_of_range = {{20, 1.0f}};
  EXPECT_EQ(Recommend(*model_, out_of_range, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<HistoryEntry> nan = {{1, std::numeric_limits<float>::quiet_NaN()}};
  EXPECT_EQ(Recommend(*model_, nan, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<HistoryEntry> inf = {{1, std::numeric_limits<float>::infinity()}};
  EXPECT_EQ(Recommend(*model_, inf, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uint32_t> bad = {99};
  o.exclude = bad;
  EXPECT_EQ(Recommend(*model_, {}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- Low-rank models: the same guarantees, scores = (x·U)·Vᵀ. ---

TEST_F(ScorerTest, LowRankMatchesXUVAcrossBlockBoundaries) {
  BuildLowRank(2100, 24, 11);  // rank not a multiple of 16: padded rows
  ASSERT_EQ(model_->row_stride(), 32u);
  std::mt19937 rng(12);
  for (size_t len : {1u, 2u, 5u, 50u}) {
    std::vector<HistoryEntry> history;
    for (size_t k = 0; k < len; ++k) {
      history.push_back({static_cast<uint32_t>(rng() % n_), 1.0f});
    }
    for (size_t top_n : {1u, 10u, 100u}) {
      RecommendOptions o;
      o.top_n = top_n;
      ExpectMatches(history, o);
      o.exclude_history = false;
      ExpectMatches(history, o);
    }
  }
}

TEST_F(ScorerTest, LowRankWeightsDuplicatesAndExclusions) {
  BuildLowRank(300, 16, 13);
  std::vector<HistoryEntry> history = {{5, 2.0f}, {7, 0.5f}, {5, 1.0f}, {299, -1.0f}};
  std::vector<uint32_t> exclude = {0, 1, 2, 3, 4, 5, 100, 150};
  RecommendOptions o;
  o.top_n = 40;
  o.exclude = exclude;
  ExpectMatches(history, o);
  absl::StatusOr<Recommendation> got = Recommend(*model_, history, o);
  ASSERT_TRUE(got.ok());
  for (const ScoredItem& s : got->items) {
    EXPECT_TRUE(std::find(exclude.begin(), exclude.end(), s.index) == exclude.end());
    EXPECT_NE(s.index, 7u);
    EXPECT_NE(s.index, 299u);
  }
}

TEST_F(ScorerTest, LowRankCandidatesRestrictScoringAndDeduplicate) {
  BuildLowRank(500, 3, 14);  // tiny rank: many exact ties, broken by index
  std::vector<HistoryEntry> history = {{10, 1.0f}, {20, 1.0f}, {30, 1.0f}};
  std::vector<uint32_t> candidates = {10, 499, 42, 42, 7, 250, 251, 20, 3};
  std::vector<uint32_t> exclude = {250};
  RecommendOptions o;
  o.top_n = 5;
  o.candidates = candidates;
  o.exclude = exclude;
  ExpectMatches(history, o);
  o.top_n = 100;  // every allowed candidate, once
  absl::StatusOr<Recommendation> got = Recommend(*model_, history, o);
  ASSERT_TRUE(got.ok());
  std::vector<uint32_t> indices;
  for (const ScoredItem& s : got->items) indices.push_back(s.index);
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<uint32_t>{3, 7, 42, 251, 499}));
}

TEST_F(ScorerTest, LowRankComputeScoresIsXUVt) {
  BuildLowRank(70, 40, 15);
  std::vector<HistoryEntry> history = {{1, 1.0f}, {2, 3.0f}, {69, -2.0f}};
  std::vector<float> scores(n_);
  ComputeScores(*model_, history, absl::MakeSpan(scores));
  const std::vector<double> want = ReferenceScores(history);
  for (size_t j = 0; j < n_; ++j) EXPECT_EQ(scores[j], want[j]) << j;
  // And B = U·Vᵀ row by row: x·(U·Vᵀ) for a single history item.
  std::vector<HistoryEntry> one = {{4, 1.0f}};
  ComputeScores(*model_, one, absl::MakeSpan(scores));
  for (size_t j = 0; j < n_; ++j) {
    double b = 0;
    for (size_t c = 0; c < rank_; ++c) b += u_[4 * rank_ + c] * v_[j * rank_ + c];
    EXPECT_EQ(scores[j], b) << j;
  }
}

TEST_F(ScorerTest, LowRankEmptyHistoryFallsBackToPopularity) {
  BuildLowRank(50, 8, 16);
  std::vector<uint32_t> exclude = {model_->items_by_popularity()[0]};
  RecommendOptions o;
  o.top_n = 5;
  o.exclude = exclude;
  std::vector<HistoryEntry> zero = {{9, 0.0f}};
  absl::StatusOr<Recommendation> got = Recommend(*model_, zero, o);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->popularity_fallback);
  std::vector<ScoredItem> want;
  for (uint32_t i = 0; i < n_; ++i) {
    if (i == exclude[0] || i == 9) continue;
    want.push_back({i, popularity_[i]});
  }
  std::sort(want.begin(), want.end(), RanksBefore);
  ASSERT_EQ(got->items.size(), 5u);
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(got->items[k].index, want[k].index);
  std::vector<HistoryEntry> bad = {{50, 1.0f}};
  EXPECT_EQ(Recommend(*model_, bad, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Runs a scan's shares last to first on one other thread: the merge must
// not depend on which share finishes first or where it runs.
class ReverseOrderRunner : public ShareRunner {
 public:
  void Run(size_t shares, const std::function<void(size_t)>& share) override {
    ++runs;
    std::thread t([&] {
      for (size_t i = shares; i-- > 0;) share(i);
    });
    t.join();
  }
  int runs = 0;
};

// A whole-catalog scan split into shares (by threads of its own or by a
// runner) gives the unsplit answer: same items, same scores, same order —
// on a model whose frequent ties must be broken by index across share
// boundaries, for dense and low-rank models, with exclusions.
TEST_F(ScorerTest, SplitScansAnswerAsOneScan) {
  for (size_t rank : {size_t{0}, size_t{7}}) {
    rank_ = rank;
    Build(9000, 12);  // five 2048-item blocks, ragged tail
    std::mt19937 rng(13);
    std::vector<HistoryEntry> history;
    for (int k = 0; k < 6; ++k) {
      history.push_back({static_cast<uint32_t>(rng() % n_), 1.0f});
    }
    std::vector<uint32_t> exclude = {0, 1, 2047, 2048, 4095, 8999};
    RecommendOptions one;
    one.top_n = 300;  // more than a share's worth of ties
    one.exclude = exclude;
    absl::StatusOr<Recommendation> want = Recommend(*model_, history, one);
    ASSERT_TRUE(want.ok()) << want.status();
    ExpectMatches(history, one);
    ReverseOrderRunner runner;
    for (ShareRunner* r : {static_cast<ShareRunner*>(nullptr),
                           static_cast<ShareRunner*>(&runner)}) {
      for (int shares : {2, 3, 5, 100}) {
        SCOPED_TRACE(::testing::Message()
                     << "rank " << rank << " shares " << shares << " runner "
                     << (r != nullptr));
        RecommendOptions split = one;
        split.scan_shares = shares;
        split.runner = r;
        absl::StatusOr<Recommendation> got = Recommend(*model_, history, split);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(got->items.size(), want->items.size());
        for (size_t i = 0; i < want->items.size(); ++i) {
          ASSERT_EQ(got->items[i].index, want->items[i].index) << "rank " << i;
          ASSERT_EQ(got->items[i].score, want->items[i].score) << "rank " << i;
        }
      }
    }
    EXPECT_EQ(runner.runs, 4);  // every split scan went through the runner
  }
}

TEST_F(ScorerTest, ShouldStopIsCheckedPerBlockAndCancels) {
  Build(5000, 11);  // three blocks of 2048 items
  RecommendOptions o;
  o.top_n = 5;
  int calls = 0;
  o.should_stop = [&calls] { return ++calls == 2; };  // stop before block 2
  absl::StatusOr<Recommendation> got = Recommend(*model_, {{1, 1.0f}}, o);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);

  calls = 0;
  o.should_stop = [&calls] { ++calls; return false; };
  got = Recommend(*model_, {{1, 1.0f}}, o);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(calls, 3);  // one check per block, and the result is complete
  o.should_stop = nullptr;
  ExpectMatches({{1, 1.0f}}, o);

  std::vector<uint32_t> candidates = {3, 4, 5};
  o.candidates = candidates;
  o.should_stop = [] { return true; };
  EXPECT_EQ(Recommend(*model_, {{1, 1.0f}}, o).status().code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace edlae

namespace edlae {
namespace {

// RecommendMany must answer every request exactly as Recommend does — same
// items, bit-identical scores — whatever the batch size, on real-valued
// factors where summation order would show.
TEST(RecommendManyTest, EqualsRecommendForEveryRequestAndBatchSize) {
  testing::ScratchDir dir;
  const size_t n = 700, rank = 37;
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> u(n * rank), v(n * rank), popularity(n);
  for (float& x : u) x = normal(rng);
  for (float& x : v) x = normal(rng);
  for (float& p : popularity) p = static_cast<float>(rng() % 9);
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(absl::StrCat("i", i));
  LowRankModelData data{rank, u, v, ids, popularity, {}};
  const std::string path = dir.File("lr.edlae");
  ASSERT_TRUE(WriteLowRankModel(path, data).ok());
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Open(path);
  ASSERT_TRUE(model.ok()) << model.status();

  // A mix: plain, weighted, excluded items, include history, candidates
  // (answered alone), empty and all-zero histories (fallback), invalid.
  std::vector<std::vector<HistoryEntry>> histories;
  std::vector<std::vector<uint32_t>> excludes;
  std::vector<ScoringRequest> requests;
  std::vector<uint32_t> candidates = {5, 9, 600, 42};
  for (int r = 0; r < 23; ++r) {
    std::vector<HistoryEntry> h;
    const int len = r % 7 == 0 ? 0 : 1 + r % 5;
    for (int k = 0; k < len; ++k) {
      h.push_back({static_cast<uint32_t>(rng() % n), r % 3 == 0 ? 0.5f * (k + 1) : 1.0f});
    }
    if (r == 11) h = {{3, 0.0f}};  // zero weights only
    if (r == 13) h = {{static_cast<uint32_t>(n), 1.0f}};  // out of range
    histories.push_back(h);
    excludes.push_back({static_cast<uint32_t>(rng() % n), static_cast<uint32_t>(rng() % n)});
  }
  for (int r = 0; r < 23; ++r) {
    ScoringRequest q;
    q.history = histories[r];
    q.options.top_n = 1 + (r * 7) % 60;
    q.options.exclude_history = r % 4 != 1;
    if (r % 2 == 0) q.options.exclude = excludes[r];
    if (r == 17) q.options.candidates = candidates;
    requests.push_back(q);
  }
  for (size_t max_batch : {1u, 3u, 64u}) {
    const auto got = RecommendMany(**model, requests, max_batch);
    ASSERT_EQ(got.size(), requests.size());
    for (size_t r = 0; r < requests.size(); ++r) {
      const auto want = Recommend(**model, requests[r].history, requests[r].options);
      ASSERT_EQ(got[r].ok(), want.ok()) << "request " << r;
      if (!want.ok()) {
        EXPECT_EQ(got[r].status().code(), want.status().code());
        continue;
      }
      EXPECT_EQ(got[r]->popularity_fallback, want->popularity_fallback);
      ASSERT_EQ(got[r]->items.size(), want->items.size()) << "request " << r;
      for (size_t i = 0; i < want->items.size(); ++i) {
        EXPECT_EQ(got[r]->items[i].index, want->items[i].index) << "request " << r;
        EXPECT_EQ(got[r]->items[i].score, want->items[i].score) << "request " << r;
      }
    }
  }
}

}  // namespace
}  // namespace edlae
