// Low-rank offline evaluation equals the server's per-user Recommend; the rank
// sweep's table, JSON and SVGs on a tiny split.
#include "evaluation/sweep.h"
#include "evaluation/sweep_plots.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "evaluation/batch_scorer.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "evaluation/evaluate.h"
#include "trainer/gram.h"
#include "trainer/low_rank.h"
#include "evaluation/split.h"
#include "evaluation/synth.h"

namespace edlae {
namespace {

absl::Span<const uint32_t> Slice(const std::vector<uint32_t>& v,
                                 const std::vector<uint64_t>& offsets,
                                 size_t u) {
  return absl::MakeConstSpan(v).subspan(offsets[u],
                                        offsets[u + 1] - offsets[u]);
}

// Minimal XML well-formedness: tags balance, attributes quoted, one root.
// Returns the root element's name, or "" when malformed.
std::string XmlRoot(const std::string& s) {
  std::vector<std::string> stack;
  std::string root;
  size_t roots = 0;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '<') {
      if (stack.empty() && !isspace(static_cast<unsigned char>(s[i])))
        return "";  // text outside the root
      if (s[i] == '&') {
        const size_t semi = s.find(';', i);
        if (semi == std::string::npos || semi - i > 8) return "";
      }
      ++i;
      continue;
    }
    const size_t end = s.find('>', i);
    if (end == std::string::npos) return "";
    std::string tag = s.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "";
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return "";
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return "";
      stack.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (stack.empty()) {
      ++roots;
      root = name;
    }
    if (!self_closing) stack.push_back(name);
  }
  return stack.empty() && roots == 1 ? root : "";
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos;
       p = s.find(what, p + 1)) {
    ++n;
  }
  return n;
}

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions synth;
    synth.num_users = 500;
    synth.num_items = 120;
    synth.mean_items_per_user = 20;
    const std::string csv = dir_.File("ratings.csv");
    ASSERT_TRUE(WriteSyntheticInteractions(csv, synth).ok());
    LoadOptions load;
    load.format = InputFormat::kMovieLensCsv;
    load.min_rating = 3.5;
    auto x = LoadInteractions(csv, load);
    ASSERT_TRUE(x.ok()) << x.status();
    SplitOptions options;
    options.heldout_users = 80;
    auto split = MakeStrongSplit(*x, options);
    ASSERT_TRUE(split.ok()) << split.status();
    const std::string dir = dir_.File("split");
    ASSERT_TRUE(WriteStrongSplit(*split, dir).ok());
    auto train = ReadSplitFile(dir + "/train.csv");
    ASSERT_TRUE(train.ok());
    train_ = *std::move(train);
    absl::flat_hash_map<std::string, uint32_t> index;
    for (size_t i = 0; i < train_.num_items(); ++i)
      index.emplace(train_.item_ids[i], i);
    ItemLookup lookup =
        [index](std::string_view id) -> std::optional<uint32_t> {
      auto it = index.find(std::string(id));
      if (it == index.end()) return std::nullopt;
      return it->second;
    };
    auto v = ReadHeldOutUsers(dir, "validation", lookup);
    auto t = ReadHeldOutUsers(dir, "test", lookup);
    ASSERT_TRUE(v.ok() && t.ok());
    validation_ = *std::move(v);
    test_ = *std::move(t);
  }

  // A rank-k closed-form EDLAE of the training users, as a mapped file.
  std::shared_ptr<const Model> LowRankModel(size_t k) {
    const size_t n = train_.num_items();
    std::vector<double> gram = ComputeGram(train_, 1);
    std::vector<float> popularity(n);
    for (size_t i = 0; i < n; ++i) popularity[i] = gram[i * n + i];
    SolverOptions solver;
    solver.lambda = 10;
    solver.dropout = 0.3;
    LowRankOptions lr;
    lr.rank = k;
    auto r = SolveLowRank(std::move(gram), n, solver, lr, nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return nullptr;
    LowRankModelData data;
    data.rank = k;
    data.u = r->u;
    data.v = r->v;
    data.item_ids = train_.item_ids;
    data.popularity = popularity;
    const std::string path = dir_.File(absl::StrCat("lr", k, ".edlae"));
    EXPECT_TRUE(WriteLowRankModel(path, data).ok());
    auto m = Model::Open(path);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : nullptr;
  }

  testing::ScratchDir dir_;
  Interactions train_;
  HeldOutUsers validation_, test_;
};

TEST_F(SweepTest, LowRankBatchedRankingsEqualPerUserRecommend) {
  std::shared_ptr<const Model> model = LowRankModel(7);
  ASSERT_NE(model, nullptr);
  const Model& m = *model;
  const size_t n = m.num_items();
  // Random histories, some empty (popularity fallback), some with repeats.
  std::mt19937 rng(5);
  std::vector<uint64_t> offsets{0};
  std::vector<uint32_t> items;
  for (size_t u = 0; u < 150; ++u) {
    const size_t len = u % 10 == 0 ? 0 : rng() % 30;
    for (size_t h = 0; h < len; ++h) items.push_back(rng() % n);
    offsets.push_back(items.size());
  }
  const SparseRows rows{offsets, items};
  for (size_t block : {1, 64, 1000}) {
    for (int threads : {1, 2}) {
      BatchOptions options;
      options.top_k = 100;
      options.block_users = block;
      options.num_threads = threads;
      auto got = TopKBatchLowRank(m, rows, options);
      ASSERT_TRUE(got.ok()) << got.status();
      for (size_t u = 0; u + 1 < offsets.size(); ++u) {
        std::vector<HistoryEntry> history;
        for (uint32_t i : Slice(items, offsets, u)) history.push_back({i, 1});
        RecommendOptions rec_options;
        rec_options.top_n = 100;
        auto rec = Recommend(m, history, rec_options);
        ASSERT_TRUE(rec.ok());
        std::vector<uint32_t> want;
        for (const ScoredItem& s : rec->items) want.push_back(s.index);
        ASSERT_EQ((*got)[u], want) << "user " << u << " block " << block;
      }
    }
  }
  // Bad input: out-of-range item, top_k 0.
  std::vector<uint32_t> bad{static_cast<uint32_t>(n)};
  std::vector<uint64_t> bad_offsets{0, 1};
  EXPECT_EQ(
      TopKBatchLowRank(m, SparseRows{bad_offsets, bad}, {}).status().code(),
      absl::StatusCode::kInvalidArgument);
  BatchOptions zero;
  zero.top_k = 0;
  EXPECT_EQ(TopKBatchLowRank(m, rows, zero).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SweepTest, LowRankEvaluationEqualsPerUserServerScoring) {
  std::shared_ptr<const Model> model = LowRankModel(5);
  ASSERT_NE(model, nullptr);
  std::vector<double> n100;
  for (size_t u = 0; u < test_.num_users(); ++u) {
    std::vector<HistoryEntry> history;
    for (uint32_t i : Slice(test_.fold_in_items, test_.fold_in_offsets, u))
      history.push_back({i, 1.0f});
    RecommendOptions options;
    options.top_n = 100;
    auto rec = Recommend(*model, history, options);
    ASSERT_TRUE(rec.ok());
    std::vector<uint32_t> ranked;
    for (const ScoredItem& s : rec->items) ranked.push_back(s.index);
    n100.push_back(NdcgAtK(
        ranked, Slice(test_.target_items, test_.target_offsets, u), 100));
  }
  const MetricSummary want = Summarize(n100);
  ASSERT_GT(want.count, 40u);
  auto got = EvaluateHeldOutLowRank(*model, test_, {});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->ndcg100.mean, want.mean);
  EXPECT_EQ(got->ndcg100.std_error, want.std_error);
  EXPECT_GT(got->ndcg100.mean, 0.05);
}

TEST_F(SweepTest, SweepProducesTableJsonAndWellFormedSvgs) {
  SweepOptions options;
  options.ranks = {16, 4, 5000};  // 5000 > items: skipped
  options.methods = {*ParseSweepMethod("closed-form"),
                     *ParseSweepMethod("admm"), *ParseSweepMethod("als"),
                     *ParseSweepMethod("dlae")};
  options.lambda = 10;
  options.dropout = 0.3;
  options.low_rank.epochs = 2;
  options.num_threads = 1;
  options.scratch_dir = dir_.path().string();
  auto r = RunSweep(train_, validation_, test_, options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->points.size(), 2u * 4 + 2);
  EXPECT_EQ(r->skipped_ranks, std::vector<size_t>{5000});
  for (const SweepPoint& p : r->points) {
    EXPECT_TRUE(p.error.empty()) << p.error;
    EXPECT_GT(p.validation.ndcg100.mean, 0.0);
    EXPECT_LE(p.validation.ndcg100.mean, 1.0);
    EXPECT_GT(p.test.users_with_targets, 0u);
  }
  EXPECT_EQ(r->points.front().rank, 4u);  // ranks sorted
  // Eq. 10 objectives for the EDLAE family, none for DLAE.
  for (const SweepPoint& p : r->points) {
    if (p.rank > 0 && p.model.algorithm != Algorithm::kDlae) {
      EXPECT_GT(p.eq10_objective, 0) << SweepMethodName(p.model);
    } else {
      EXPECT_TRUE(std::isnan(p.eq10_objective));
    }
  }
  // Histograms from the largest swept rank ≤ 1000, EDLAE then DLAE.
  EXPECT_EQ(r->histogram_rank, 16u);
  ASSERT_EQ(r->cosines.size(), 2u);
  EXPECT_EQ(r->cosines[0].label, "EDLAE");
  EXPECT_EQ(r->cosines[0].u.size(), train_.num_items());
  for (double c : r->cosines[1].v) {
    if (!std::isnan(c)) {
      EXPECT_LE(std::abs(c), 1.0 + 1e-9);
    }
  }

  const std::string table = SweepTable(*r);
  EXPECT_TRUE(absl::StrContains(table, "| 4 |"));
  EXPECT_TRUE(absl::StrContains(table, "| 16 |"));
  EXPECT_TRUE(absl::StrContains(table, "EDLAE ADMM"));
  EXPECT_TRUE(absl::StrContains(table, "full ("));
  EXPECT_TRUE(
      absl::StrContains(table, "skipped ranks above the catalog size: 5000"));
  const std::string json = SweepJson(*r);
  EXPECT_EQ(Count(json, "\"method\":"), r->points.size());
  EXPECT_EQ(Count(json, "{"), Count(json, "}"));

  const std::string plot = NdcgRankSvg(*r);
  EXPECT_EQ(XmlRoot(plot), "svg");
  EXPECT_EQ(Count(plot, "<polyline"), 4u);  // one per method
  EXPECT_EQ(Count(plot, "stroke-dasharray"),
            2u * 2);  // full-rank lines + legend
  for (const char* name :
       {"EDLAE closed form", "EDLAE ADMM", "zero-diag ALS", "DLAE full rank"}) {
    EXPECT_TRUE(absl::StrContains(plot, name)) << name;
  }
  for (bool of_v : {false, true}) {
    const std::string hist = CosineHistogramSvg(*r, of_v);
    EXPECT_EQ(XmlRoot(hist), "svg");
    EXPECT_EQ(Count(hist, "<polyline"), 2u);
  }
  // The checker itself rejects broken XML.
  EXPECT_EQ(XmlRoot("<svg><line></svg>"), "");
  EXPECT_EQ(XmlRoot("<svg a=\"1/>"), "");
}

TEST_F(SweepTest, SweepRejectsBadOptions) {
  SweepOptions options;
  options.ranks = {4};
  options.scratch_dir = dir_.path().string();
  EXPECT_EQ(RunSweep(train_, validation_, test_, options).status().code(),
            absl::StatusCode::kInvalidArgument);  // no method
  options.methods = {*ParseSweepMethod("dlae")};
  options.dropout = 1;
  EXPECT_EQ(RunSweep(train_, validation_, test_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseSweepMethod("pca").ok());
}

}  // namespace
}  // namespace edlae
