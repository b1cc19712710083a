// A sparse (CSR) model served over loopback gRPC: GetModelInfo, and Recommend equal to core Recommend on the file.
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

constexpr size_t kItems = 3000;

// A random sparse B: ~25 entries per row, ids "s<i>".
absl::Status WriteRandomSparse(const std::string& path) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> w(-1.0f, 1.0f);
  std::vector<uint64_t> offsets{0};
  std::vector<uint32_t> indices;
  std::vector<float> weights;
  std::vector<std::string> ids;
  std::vector<float> popularity;
  for (size_t i = 0; i < kItems; ++i) {
    std::vector<uint32_t> cols;
    for (int k = 0; k < 25; ++k) cols.push_back(rng() % kItems);
    std::sort(cols.begin(), cols.end());
    cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
    for (uint32_t j : cols) {
      indices.push_back(j);
      weights.push_back(w(rng));
    }
    offsets.push_back(indices.size());
    ids.push_back(absl::StrCat("s", i));
    popularity.push_back(static_cast<float>(i % 13));
  }
  SparseModelData data;
  data.offsets = offsets;
  data.indices = indices;
  data.weights = weights;
  data.item_ids = ids;
  data.popularity = popularity;
  data.metadata = {{"algorithm", "ease"}};
  data.dtype = DType::kFloat16;
  return WriteSparseModel(path, data);
}

class SparseServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("sparse.edlae");
    ASSERT_TRUE(WriteRandomSparse(path_).ok());
    ServerOptions options;
    options.model_path = path_;
    options.host = "127.0.0.1";
    options.port = 0;
    options.metrics_address = "";
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Recommender::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
    auto model = Model::Open(path_);
    ASSERT_TRUE(model.ok());
    model_ = *model;
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Now() + absl::Seconds(1));
  }
  static void SetDeadline(grpc::ClientContext* c) {
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  }

  testing::ScratchDir dir_;
  std::string path_;
  std::unique_ptr<RecommenderServer> server_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
  std::shared_ptr<const Model> model_;
};

TEST_F(SparseServingTest, GetModelInfoReportsKindNnzAndDensity) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ModelInfo info;
  ASSERT_TRUE(
      stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.kind(), "sparse");
  EXPECT_EQ(info.dtype(), "float16");
  EXPECT_EQ(info.num_items(), kItems);
  EXPECT_EQ(info.rank(), 0u);
  EXPECT_EQ(info.nnz(), model_->nnz());
  EXPECT_GT(info.nnz(), 20 * kItems);
  EXPECT_DOUBLE_EQ(info.density(), static_cast<double>(model_->nnz()) /
                                       (static_cast<double>(kItems) * kItems));
}

TEST_F(SparseServingTest, RecommendEqualsCoreRecommendOnTheFile) {
  struct Case {
    std::vector<uint32_t> history;
    std::vector<uint32_t> exclude;
    std::vector<uint32_t> candidates;
  };
  const std::vector<Case> cases = {
      {{1}, {}, {}},
      {{5, 2999, 2048, 7}, {100, 200}, {}},
      {{42, 43}, {}, {1, 2, 3, 500, 2500, 42}},
  };
  for (const Case& c : cases) {
    v1::RecommendRequest request;
    std::vector<HistoryEntry> history;
    for (uint32_t i : c.history) {
      request.add_history_item_ids(absl::StrCat("s", i));
      history.push_back({i, 1.0f});
    }
    for (uint32_t i : c.exclude) {
      request.add_exclude_item_ids(absl::StrCat("s", i));
    }
    for (uint32_t i : c.candidates) {
      request.add_candidate_item_ids(absl::StrCat("s", i));
    }
    request.add_history_item_ids("not-in-the-model");
    request.set_top_n(25);
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::RecommendResponse response;
    grpc::Status status = stub_->Recommend(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();

    RecommendOptions options;
    options.top_n = 25;
    options.exclude = c.exclude;
    options.candidates = c.candidates;
    auto want = Recommend(*model_, history, options);
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(static_cast<size_t>(response.items_size()), want->items.size());
    for (size_t k = 0; k < want->items.size(); ++k) {
      EXPECT_EQ(response.items(k).item_id(),
                absl::StrCat("s", want->items[k].index));
      EXPECT_EQ(response.items(k).score(), want->items[k].score);
    }
    EXPECT_EQ(response.unknown_item_count(), 1u);
    EXPECT_FALSE(response.popularity_fallback());
  }
}

}  // namespace
}  // namespace edlae::server
