// Batch recommendations to a file (edlae-train recommend's pipeline) against
// the server's per-user Recommend: dense (exact and GEMM), low-rank and sparse
// models, history excluded or not, unknown ids, popularity fallback, CSV and
// JSONL.
#include "evaluation/batch_recommend.h"

#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/recs_file.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "trainer/interactions.h"

namespace edlae {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class BatchRecommendTest : public ::testing::Test {
 protected:
  static constexpr size_t kItems = 300;

  void SetUp() override {
    std::mt19937 rng(7);
    for (size_t i = 0; i < kItems; ++i) ids_.push_back(absl::StrCat("i", i));
    popularity_.resize(kItems);
    for (float& p : popularity_) p = static_cast<float>(rng() % 9);  // ties
    // Users in "lines" format: random known items, some unknown ids, one
    // user with only unknown ids (popularity fallback).
    std::string lines;
    for (int u = 0; u < 37; ++u) {
      absl::StrAppend(&lines, "user", u);
      const size_t count = 1 + rng() % 25;
      for (size_t k = 0; k < count; ++k) {
        absl::StrAppend(&lines, " i", rng() % kItems);
      }
      if (u % 5 == 0) absl::StrAppend(&lines, " unknown", u);
      absl::StrAppend(&lines, "\n");
    }
    absl::StrAppend(&lines, "cold nothing-known also-unknown\n");
    users_path_ = dir_.Write("users.txt", lines);
  }

  // quarter: entries multiples of 1/4, so every summation order (GEMM's)
  // gives the same float.
  std::shared_ptr<const Model> Dense(bool quarter) {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> real(-1.0f, 1.0f);
    b_.resize(kItems * kItems);
    for (float& v : b_) {
      v = quarter ? static_cast<float>(static_cast<int>(rng() % 17) - 8) / 4
                  : real(rng);
    }
    DenseModelData data;
    data.b = b_;
    data.item_ids = ids_;
    data.popularity = popularity_;
    return Open(WriteDenseModel(dir_.File("dense.edlae"), data), "dense.edlae");
  }

  std::shared_ptr<const Model> LowRank() {
    std::mt19937 rng(12);
    std::uniform_real_distribution<float> real(-1.0f, 1.0f);
    const size_t rank = 20;
    u_.resize(kItems * rank);
    v_.resize(kItems * rank);
    for (float& x : u_) x = real(rng);
    for (float& x : v_) x = real(rng);
    LowRankModelData data;
    data.rank = rank;
    data.u = u_;
    data.v = v_;
    data.item_ids = ids_;
    data.popularity = popularity_;
    return Open(WriteLowRankModel(dir_.File("lowrank.edlae"), data),
                "lowrank.edlae");
  }

  std::shared_ptr<const Model> Sparse() {
    std::mt19937 rng(13);
    std::uniform_real_distribution<float> real(-1.0f, 1.0f);
    offsets_ = {0};
    indices_.clear();
    weights_.clear();
    for (size_t i = 0; i < kItems; ++i) {
      for (uint32_t j = 0; j < kItems; ++j) {
        if (rng() % 10 == 0) {
          indices_.push_back(j);
          weights_.push_back(real(rng));
        }
      }
      offsets_.push_back(indices_.size());
    }
    SparseModelData data;
    data.offsets = offsets_;
    data.indices = indices_;
    data.weights = weights_;
    data.item_ids = ids_;
    data.popularity = popularity_;
    return Open(WriteSparseModel(dir_.File("sparse.edlae"), data),
                "sparse.edlae");
  }

  std::shared_ptr<const Model> Open(const absl::Status& written,
                                    const std::string& name) {
    EXPECT_TRUE(written.ok()) << written;
    absl::StatusOr<std::shared_ptr<const Model>> m =
        Model::Open(dir_.File(name));
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : nullptr;
  }

  // The file the server's answers make: per user, Recommend on the user's
  // known items in row order (weight 1), rendered by the same formatter.
  std::string Expected(const Model& model, const Interactions& users,
                       const BatchRecommendOptions& options) {
    std::string out = std::string(RecsHeader(options.format));
    for (size_t u = 0; u < users.num_users(); ++u) {
      std::vector<HistoryEntry> history;
      for (uint64_t k = users.row_offsets[u]; k < users.row_offsets[u + 1];
           ++k) {
        if (auto m = model.FindItem(users.item_ids[users.item_indices[k]])) {
          history.push_back({*m, 1.0f});
        }
      }
      RecommendOptions ro;
      ro.top_n = options.top_n;
      ro.exclude_history = options.exclude_history;
      absl::StatusOr<Recommendation> r = Recommend(model, history, ro);
      EXPECT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->popularity_fallback, history.empty());
      std::vector<RecItem> items;
      for (const ScoredItem& s : r->items) {
        items.push_back({model.item_id(s.index), s.score});
      }
      AppendRecs(options.format, users.user_ids[u], items, &out);
    }
    return out;
  }

  void ExpectEqualsRecommend(const Model& model, BatchMethod method) {
    LoadOptions load;
    load.format = InputFormat::kUserLines;
    absl::StatusOr<Interactions> users = LoadInteractions(users_path_, load);
    ASSERT_TRUE(users.ok()) << users.status();
    for (RecsFormat format : {RecsFormat::kCsv, RecsFormat::kJsonl}) {
      for (bool exclude : {false, true}) {
        for (int threads : {1, 3}) {
          BatchRecommendOptions options;
          options.top_n = 40;
          options.exclude_history = exclude;
          options.method = method;
          options.num_threads = threads;
          options.block_users = 5;
          options.chunk_users = 7;  // several chunks, a partial last one
          options.format = format;
          const std::string out = dir_.File("recs.out");
          absl::StatusOr<BatchRecommendReport> report =
              WriteBatchRecommendations(model, *users, out, options);
          ASSERT_TRUE(report.ok()) << report.status();
          EXPECT_EQ(report->users, 38u);
          EXPECT_EQ(report->cold_users, 1u);
          EXPECT_EQ(report->unknown_items, 8u + 2u);
          EXPECT_EQ(ReadAll(out), Expected(model, *users, options))
              << "format " << static_cast<int>(format) << " exclude " << exclude
              << " threads " << threads;
        }
      }
    }
  }

  testing::ScratchDir dir_;
  std::vector<std::string> ids_;
  std::vector<float> popularity_;
  std::vector<float> b_, u_, v_, weights_;
  std::vector<uint64_t> offsets_;
  std::vector<uint32_t> indices_;
  std::string users_path_;
};

TEST_F(BatchRecommendTest, DenseExactEqualsRecommend) {
  std::shared_ptr<const Model> model = Dense(/*quarter=*/false);
  ASSERT_NE(model, nullptr);
  ExpectEqualsRecommend(*model, BatchMethod::kExact);
}

TEST_F(BatchRecommendTest, DenseGemmEqualsRecommendWhenSumsAreExact) {
  std::shared_ptr<const Model> model = Dense(/*quarter=*/true);
  ASSERT_NE(model, nullptr);
  ExpectEqualsRecommend(*model, BatchMethod::kGemm);
}

TEST_F(BatchRecommendTest, LowRankEqualsRecommend) {
  std::shared_ptr<const Model> model = LowRank();
  ASSERT_NE(model, nullptr);
  ExpectEqualsRecommend(*model, BatchMethod::kExact);
}

TEST_F(BatchRecommendTest, SparseEqualsRecommend) {
  std::shared_ptr<const Model> model = Sparse();
  ASSERT_NE(model, nullptr);
  ExpectEqualsRecommend(*model, BatchMethod::kExact);
}

TEST_F(BatchRecommendTest, CsvUsersKeepTheirIdsQuotedWhenNeeded) {
  std::shared_ptr<const Model> model = Dense(/*quarter=*/false);
  ASSERT_NE(model, nullptr);
  const std::string path =
      dir_.Write("users.csv", "user,item\n\"a,b\",i1\n\"a,b\",i2\nc,i3\n");
  LoadOptions load;
  load.format = InputFormat::kDelimited;
  load.has_header = true;
  absl::StatusOr<Interactions> users = LoadInteractions(path, load);
  ASSERT_TRUE(users.ok()) << users.status();
  BatchRecommendOptions options;
  options.top_n = 2;
  const std::string out = dir_.File("recs.csv");
  ASSERT_TRUE(WriteBatchRecommendations(*model, *users, out, options).ok());
  const std::string text = ReadAll(out);
  EXPECT_EQ(text, Expected(*model, *users, options));
  EXPECT_EQ(text.substr(0, text.find('\n') + 1),
            "user_id,rank,item_id,score\n");
  EXPECT_NE(text.find("\n\"a,b\",1,i"), std::string::npos) << text;
  EXPECT_NE(text.find("\nc,2,i"), std::string::npos) << text;
}

TEST_F(BatchRecommendTest, AMissingFolderFailsAndAnEarlierFileSurvives) {
  std::shared_ptr<const Model> model = Dense(/*quarter=*/false);
  ASSERT_NE(model, nullptr);
  LoadOptions load;
  load.format = InputFormat::kUserLines;
  absl::StatusOr<Interactions> users = LoadInteractions(users_path_, load);
  ASSERT_TRUE(users.ok());
  BatchRecommendOptions options;
  EXPECT_FALSE(WriteBatchRecommendations(
                   *model, *users, dir_.File("no/such/dir/recs.csv"), options)
                   .ok());
  const std::string kept = dir_.Write("kept.csv", "earlier contents\n");
  options.top_n = 0;
  EXPECT_FALSE(WriteBatchRecommendations(*model, *users, kept, options).ok());
  EXPECT_EQ(ReadAll(kept), "earlier contents\n");
}

TEST(RecsFileTest, FormatsRowsAndObjects) {
  const std::vector<RecItem> items = {{"x", 0.25f}, {"y\"q", -1.5e-7f}};
  std::string csv, jsonl;
  AppendRecs(RecsFormat::kCsv, "u1", items, &csv);
  AppendRecs(RecsFormat::kJsonl, "u\t1", items, &jsonl);
  AppendRecs(RecsFormat::kJsonl, "empty", {}, &jsonl);
  EXPECT_EQ(csv, "u1,1,x,0.25\nu1,2,\"y\"\"q\",-1.5e-07\n");
  EXPECT_EQ(jsonl,
            "{\"user_id\":\"u\\t1\",\"items\":[{\"item_id\":\"x\",\"score\":"
            "0.25},{\"item_id\":\"y\\\"q\",\"score\":-1.5e-07}]}\n"
            "{\"user_id\":\"empty\",\"items\":[]}\n");
  std::string failed_csv, failed_jsonl;
  AppendRecsError(RecsFormat::kCsv, "u,1", "UNAVAILABLE: down", &failed_csv);
  AppendRecsError(RecsFormat::kJsonl, "u1", "UNAVAILABLE: \"down\"",
                  &failed_jsonl);
  EXPECT_EQ(failed_csv, "\"u,1\",,error: UNAVAILABLE: down,\n");
  EXPECT_EQ(failed_jsonl,
            "{\"user_id\":\"u1\",\"items\":[],\"error\":\"UNAVAILABLE: "
            "\\\"down\\\"\"}\n");
  EXPECT_EQ(*ResolveRecsFormat("auto", "out/R.CSV"), RecsFormat::kCsv);
  EXPECT_EQ(*ResolveRecsFormat("auto", "r.jsonl"), RecsFormat::kJsonl);
  EXPECT_EQ(*ResolveRecsFormat("csv", "r.jsonl"), RecsFormat::kCsv);
  EXPECT_FALSE(ResolveRecsFormat("auto", "r.txt").ok());
  EXPECT_FALSE(ResolveRecsFormat("xml", "r.csv").ok());
}

}  // namespace
}  // namespace edlae
