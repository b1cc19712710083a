// Idle-core split scans over loopback gRPC: dense, sparse and low-rank answers
// identical to one unsplit scan.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/model_writer.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/recommender_service.h"
#include "server/server.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

constexpr size_t kItems = 5000;  // three 2048-item blocks, ragged tail

// Real-valued weights: a split that changed any summation would show.
class SplitScanTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < kItems; ++i) ids_.push_back(absl::StrCat("i", i));
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> popularity(kItems, 1.0f);
    path_ = dir_.File("m.edlae");
    const std::string kind = GetParam();
    if (kind == "dense") {
      std::vector<float> b(kItems * kItems);
      for (float& x : b) x = normal(rng);
      DenseModelData data;
      data.b = b;
      data.item_ids = ids_;
      data.popularity = popularity;
      ASSERT_TRUE(WriteDenseModel(path_, data).ok());
    } else if (kind == "sparse") {
      std::vector<uint64_t> offsets = {0};
      std::vector<uint32_t> indices;
      std::vector<float> weights;
      for (size_t i = 0; i < kItems; ++i) {
        for (uint32_t j = static_cast<uint32_t>(rng() % 40); j < kItems;
             j += 1 + static_cast<uint32_t>(rng() % 60)) {
          indices.push_back(j);
          weights.push_back(normal(rng));
        }
        offsets.push_back(indices.size());
      }
      SparseModelData data;
      data.offsets = offsets;
      data.indices = indices;
      data.weights = weights;
      data.item_ids = ids_;
      data.popularity = popularity;
      ASSERT_TRUE(WriteSparseModel(path_, data).ok());
    } else {
      const size_t rank = 24;
      std::vector<float> u(kItems * rank), v(kItems * rank);
      for (float& x : u) x = normal(rng);
      for (float& x : v) x = normal(rng);
      ASSERT_TRUE(
          WriteLowRankModel(path_, {rank, u, v, ids_, popularity, {}}).ok());
    }
  }

  void Start(uint64_t split_min_work) {
    ServerOptions options;
    options.model_path = path_;
    options.host = "127.0.0.1";
    options.port = 0;
    options.service.worker_threads = 2;
    options.service.batch_max_size = 1;  // low-rank calls scored alone too
    options.service.split_min_work = split_min_work;
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::Recommender::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  v1::RecommendRequest Request(int user) const {
    v1::RecommendRequest request;
    std::mt19937 rng(200 + user);
    for (int k = 0; k < 1 + user % 9; ++k) {
      request.add_history_item_ids(ids_[rng() % ids_.size()]);
    }
    request.set_top_n(user % 2 == 0 ? 500 : 7);
    if (user % 3 == 0) request.add_exclude_item_ids(ids_[rng() % ids_.size()]);
    if (user % 4 == 0) request.set_exclude_history(false);
    return request;
  }

  static void ExpectSame(const v1::RecommendResponse& got,
                         const v1::RecommendResponse& want) {
    ASSERT_EQ(got.items_size(), want.items_size());
    for (int i = 0; i < want.items_size(); ++i) {
      ASSERT_EQ(got.items(i).item_id(), want.items(i).item_id())
          << "rank " << i;
      ASSERT_EQ(got.items(i).score(), want.items(i).score()) << "rank " << i;
    }
  }

  grpc::Status Call(const v1::RecommendRequest& request,
                    v1::RecommendResponse* response) const {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return stub_->Recommend(&context, request, response);
  }

  testing::ScratchDir dir_;
  std::vector<std::string> ids_;
  std::string path_;
  std::unique_ptr<RecommenderServer> server_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

// One call at a time leaves a worker idle: every call is split, and every
// answer equals one unsplit scan, score for score.
TEST_P(SplitScanTest, LoneCallsAreSplitAndAnswerAsOneScan) {
  Start(/*split_min_work=*/1);
  const int calls = 12;
  for (int c = 0; c < calls; ++c) {
    SCOPED_TRACE(c);
    v1::RecommendResponse got, want;
    const grpc::Status status = Call(Request(c), &got);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(RecommendWithModel(server_->servable().Get(), Request(c),
                                   ServiceLimits{}, &want)
                    .ok());
    ExpectSame(got, want);
  }
  EXPECT_EQ(server_->metrics().SplitScanCount(), calls);

  // SimilarItems is split the same way.
  v1::SimilarItemsRequest similar;
  similar.add_item_ids(ids_[17]);
  similar.add_item_ids(ids_[4500]);
  similar.set_top_n(200);
  v1::RecommendResponse got, want;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->SimilarItems(&context, similar, &got).ok());
  ASSERT_TRUE(SimilarItemsWithModel(server_->servable().Get(), similar,
                                    ServiceLimits{}, kDefaultModelName, &want)
                  .ok());
  ExpectSame(got, want);
  EXPECT_EQ(server_->metrics().SplitScanCount(), calls + 1);

  // A candidate list is not a catalog scan: never split.
  v1::RecommendRequest with_candidates = Request(1);
  for (int k = 0; k < 50; ++k) with_candidates.add_candidate_item_ids(ids_[k]);
  ASSERT_TRUE(Call(with_candidates, &got).ok());
  EXPECT_EQ(got.items_size(), 7);
  EXPECT_EQ(server_->metrics().SplitScanCount(), calls + 1);
}

TEST_P(SplitScanTest, ZeroMinWorkNeverSplits) {
  Start(/*split_min_work=*/0);
  for (int c = 0; c < 4; ++c) {
    v1::RecommendResponse got;
    ASSERT_TRUE(Call(Request(c), &got).ok());
  }
  EXPECT_EQ(server_->metrics().SplitScanCount(), 0);
}

INSTANTIATE_TEST_SUITE_P(Kinds, SplitScanTest,
                         ::testing::Values("dense", "sparse", "low_rank"));

}  // namespace
}  // namespace edlae::server
