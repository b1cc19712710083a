// Micro-batching and RecommendBatch over loopback gRPC: answers bit-identical to unbatched scoring.
#include <memory>
#include <random>
#include <string>
#include <thread>
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

class MicroBatchingTest : public ::testing::Test {
 protected:
  // A low-rank model with real-valued factors, so any difference in summation
  // order between batched and unbatched scoring would show in the scores.
  void SetUp() override {
    const size_t n = 3000, rank = 48;
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> u(n * rank), v(n * rank), popularity(n, 1.0f);
    for (float& x : u) x = normal(rng);
    for (float& x : v) x = normal(rng);
    for (size_t i = 0; i < n; ++i) ids_.push_back(absl::StrCat("item", i));
    path_ = dir_.File("lr.edlae");
    ASSERT_TRUE(WriteLowRankModel(path_, {rank, u, v, ids_, popularity, {}}).ok());
  }

  void Start(size_t batch_max_size, std::chrono::microseconds wait,
             uint64_t inline_max_work = ServiceOptions().inline_max_work) {
    ServerOptions options;
    options.service.inline_max_work = inline_max_work;
    options.model_path = path_;
    options.host = "127.0.0.1";
    options.port = 0;
    // Calls queue behind one worker: batches form.
    options.service.worker_threads = 1;
    options.service.batch_max_size = batch_max_size;
    options.service.batch_max_wait = wait;
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::Recommender::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  v1::RecommendRequest Request(int user) const {
    v1::RecommendRequest request;
    std::mt19937 rng(100 + user);
    for (int k = 0; k < 1 + user % 6; ++k) {
      request.add_history_item_ids(ids_[rng() % ids_.size()]);
    }
    request.set_top_n(10 + user % 30);
    if (user % 5 == 0) request.add_exclude_item_ids(ids_[rng() % ids_.size()]);
    if (user % 7 == 0) request.set_exclude_history(false);
    return request;
  }

  // The unbatched answer, computed in-process on the served model.
  v1::RecommendResponse Unbatched(const v1::RecommendRequest& request) const {
    v1::RecommendResponse response;
    absl::Status s = RecommendWithModel(server_->servable().Get(), request,
                                        ServiceLimits{}, &response);
    EXPECT_TRUE(s.ok()) << s;
    return response;
  }

  // Calls Recommend(Request(c)) for c in [0, calls) from as many threads at
  // once and expects every answer to equal the unbatched one.
  void CallConcurrentlyAndExpectUnbatchedAnswers(int calls) {
    std::vector<v1::RecommendResponse> responses(calls);
    std::vector<grpc::Status> statuses(calls);
    std::vector<std::thread> clients;
    for (int c = 0; c < calls; ++c) {
      clients.emplace_back([&, c] {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        statuses[c] = stub_->Recommend(&context, Request(c), &responses[c]);
      });
    }
    for (std::thread& t : clients) t.join();
    for (int c = 0; c < calls; ++c) {
      ASSERT_TRUE(statuses[c].ok()) << statuses[c].error_message();
      SCOPED_TRACE(c);
      ExpectSame(responses[c], Unbatched(Request(c)));
    }
  }

  static void ExpectSame(const v1::RecommendResponse& got,
                         const v1::RecommendResponse& want) {
    ASSERT_EQ(got.items_size(), want.items_size());
    for (int i = 0; i < want.items_size(); ++i) {
      EXPECT_EQ(got.items(i).item_id(), want.items(i).item_id()) << "rank " << i;
      EXPECT_EQ(got.items(i).score(), want.items(i).score()) << "rank " << i;
    }
    EXPECT_EQ(got.unknown_item_count(), want.unknown_item_count());
  }

  testing::ScratchDir dir_;
  std::vector<std::string> ids_;
  std::string path_;
  std::unique_ptr<RecommenderServer> server_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

TEST_F(MicroBatchingTest, ConcurrentCallsAreBatchedAndAnswerExactlyAsAlone) {
  Start(/*batch_max_size=*/16, std::chrono::milliseconds(20));
  const int kCalls = 48;
  ASSERT_NO_FATAL_FAILURE(CallConcurrentlyAndExpectUnbatchedAnswers(kCalls));
  const auto [batches, requests] = server_->metrics().BatchSizeTotals();
  EXPECT_EQ(requests, kCalls);
  EXPECT_LT(batches, kCalls) << "no call was batched with another";
  // batch_max_wait > 0 asks for batches: no call skips them to run inline.
  EXPECT_EQ(server_->metrics().InlineCount(), 0);
}

TEST_F(MicroBatchingTest, LoneCallsAreScoredInlineExactlyAsAlone) {
  // 3000 items × rank 48: ~150,000 units of work, under the default limit.
  Start(/*batch_max_size=*/16, std::chrono::microseconds(0));
  for (int c = 0; c < 5; ++c) {
    v1::RecommendResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Recommend(&context, Request(c), &response).ok());
    SCOPED_TRACE(c);
    ExpectSame(response, Unbatched(Request(c)));
  }
  EXPECT_EQ(server_->metrics().InlineCount(), 5);
  const auto [batches, requests] = server_->metrics().BatchSizeTotals();
  EXPECT_EQ(batches, 5u);
  EXPECT_EQ(requests, 5);
}

TEST_F(MicroBatchingTest, ConcurrentCallsInlineOrBatchedAnswerExactlyAsAlone) {
  // No wait: a call finding others queued joins their batch, a lone one may
  // run inline; every answer is the unbatched one.
  Start(/*batch_max_size=*/16, std::chrono::microseconds(0));
  const int kCalls = 48;
  ASSERT_NO_FATAL_FAILURE(CallConcurrentlyAndExpectUnbatchedAnswers(kCalls));
  const auto [batches, requests] = server_->metrics().BatchSizeTotals();
  EXPECT_EQ(requests, kCalls);  // inline calls are batches of one
  EXPECT_LE(server_->metrics().InlineCount(), kCalls);
  EXPECT_EQ(server_->metrics().Inflight(), 0);
}

TEST_F(MicroBatchingTest, RecommendBatchAnswersEachEntryWithItsOwnStatus) {
  Start(/*batch_max_size=*/8, std::chrono::microseconds(0));
  v1::RecommendBatchRequest batch;
  for (int u = 0; u < 20; ++u) *batch.add_requests() = Request(u);
  batch.mutable_requests(3)->set_top_n(0);                   // invalid entry
  batch.mutable_requests(4)->add_history_weights(NAN);        // invalid entry
  batch.mutable_requests(5)->clear_history_item_ids();        // popularity fallback
  batch.mutable_requests(6)->add_candidate_item_ids("item7"); // scored alone
  v1::RecommendBatchResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->RecommendBatch(&context, batch, &response).ok());
  ASSERT_EQ(response.results_size(), 20);
  for (int u = 0; u < 20; ++u) {
    SCOPED_TRACE(u);
    const v1::RecommendBatchResult& result = response.results(u);
    if (u == 3 || u == 4) {
      EXPECT_EQ(result.code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_FALSE(result.message().empty());
      continue;
    }
    EXPECT_EQ(result.code(), 0);
    ExpectSame(result.response(), Unbatched(batch.requests(u)));
  }
  EXPECT_TRUE(response.results(5).response().popularity_fallback());

  v1::RecommendBatchRequest too_many;
  for (int u = 0; u < 1025; ++u) *too_many.add_requests() = Request(u);
  grpc::ClientContext context2;
  EXPECT_EQ(stub_->RecommendBatch(&context2, too_many, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MicroBatchingTest, BatchingOffScoresEachCallAlone) {
  Start(/*batch_max_size=*/1, std::chrono::microseconds(0));
  for (int c = 0; c < 5; ++c) {
    v1::RecommendResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Recommend(&context, Request(c), &response).ok());
    ExpectSame(response, Unbatched(Request(c)));
  }
  const auto [batches, requests] = server_->metrics().BatchSizeTotals();
  EXPECT_EQ(batches, 5u);
  EXPECT_EQ(requests, 5);
}

}  // namespace
}  // namespace edlae::server
