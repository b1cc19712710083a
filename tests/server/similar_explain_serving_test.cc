// SimilarItems and explained Recommend over loopback gRPC on dense, low-rank
// and sparse models, against brute force.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/model_writer.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/metrics.h"
#include "server/server.h"
#include "tests/testing/run_client.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

constexpr size_t kItems = 300;
constexpr size_t kRank = 6;

enum Kind { kDense = 0, kLowRank = 1, kSparse = 2 };

std::string Id(size_t i) { return absl::StrCat("it", i); }

// One server per model kind; the weights kept for brute-force references.
class SimilarExplainServingTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    kind_ = GetParam();
    std::mt19937 rng(17 + kind_);
    std::normal_distribution<float> normal(0, 1);
    std::vector<std::string> ids;
    std::vector<float> popularity(kItems);
    for (size_t i = 0; i < kItems; ++i) {
      ids.push_back(Id(i));
      popularity[i] = static_cast<float>((i * 7) % 31);
    }
    const std::string path = dir_.File("m.edlae");
    b_.assign(kItems * kItems, 0.0f);
    if (kind_ == kDense) {
      for (float& x : b_) x = normal(rng);
      DenseModelData d{b_, ids, popularity, {}};
      ASSERT_TRUE(WriteDenseModel(path, d).ok());
    } else if (kind_ == kLowRank) {
      u_.resize(kItems * kRank);
      v_.resize(kItems * kRank);
      for (float& x : u_) x = normal(rng);
      for (float& x : v_) x = normal(rng);
      LowRankModelData d{kRank, u_, v_, ids, popularity, {}};
      ASSERT_TRUE(WriteLowRankModel(path, d).ok());
      for (size_t i = 0; i < kItems; ++i) {
        for (size_t j = 0; j < kItems; ++j) {
          double s = 0;
          for (size_t c = 0; c < kRank; ++c) {
            s += static_cast<double>(u_[i * kRank + c]) * v_[j * kRank + c];
          }
          b_[i * kItems + j] = static_cast<float>(s);
        }
      }
    } else {
      std::vector<uint64_t> offsets{0};
      std::vector<uint32_t> indices;
      std::vector<float> weights;
      for (size_t i = 0; i < kItems; ++i) {
        for (size_t j = 0; j < kItems; ++j) {
          if (rng() % 10 != 0) continue;
          indices.push_back(static_cast<uint32_t>(j));
          weights.push_back(normal(rng));
          b_[i * kItems + j] = weights.back();
        }
        offsets.push_back(indices.size());
      }
      SparseModelData d;
      d.offsets = offsets;
      d.indices = indices;
      d.weights = weights;
      d.item_ids = ids;
      d.popularity = popularity;
      ASSERT_TRUE(WriteSparseModel(path, d).ok());
    }
    ServerOptions options;
    options.model_path = path;
    options.host = "127.0.0.1";
    options.port = 0;
    options.metrics_address = "";
    options.service.limits.max_history = 50;
    options.service.limits.max_contributions = 64;
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Recommender::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Now() + absl::Seconds(1));
  }

  grpc::Status Similar(const v1::SimilarItemsRequest& request,
                       v1::RecommendResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return stub_->SimilarItems(&context, request, response);
  }
  grpc::Status Recommend(const v1::RecommendRequest& request,
                         v1::RecommendResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return stub_->Recommend(&context, request, response);
  }

  // Brute-force scores of items `query` (weight 1 each, distinct).
  std::vector<double> RowSum(const std::vector<size_t>& query) const {
    std::vector<double> s(kItems, 0.0);
    for (size_t i : query) {
      for (size_t j = 0; j < kItems; ++j) s[j] += b_[i * kItems + j];
    }
    return s;
  }
  std::vector<double> Cosine(const std::vector<size_t>& query) const {
    auto norm = [&](size_t i) {
      double n = 0;
      for (size_t c = 0; c < kRank; ++c)
        n += v_[i * kRank + c] * v_[i * kRank + c];
      return std::sqrt(n);
    };
    std::vector<double> z(kRank, 0.0);
    for (size_t i : query) {
      for (size_t c = 0; c < kRank; ++c) z[c] += v_[i * kRank + c] / norm(i);
    }
    double zn = 0;
    for (double x : z) zn += x * x;
    zn = std::sqrt(zn);
    std::vector<double> s(kItems);
    for (size_t j = 0; j < kItems; ++j) {
      double d = 0;
      for (size_t c = 0; c < kRank; ++c) d += v_[j * kRank + c] * z[c];
      s[j] = d / (norm(j) * zn);
    }
    return s;
  }

  // `response` is the top `top_n` of `ref` over `allowed`: each score within
  // eps of the reference, descending, and no better allowed item left out.
  static void ExpectTopN(const v1::RecommendResponse& response,
                         const std::vector<double>& ref,
                         const std::vector<bool>& allowed, size_t top_n,
                         double eps) {
    const size_t n_allowed = std::count(allowed.begin(), allowed.end(), true);
    ASSERT_EQ(static_cast<size_t>(response.items_size()),
              std::min(top_n, n_allowed));
    std::vector<bool> returned(kItems, false);
    for (int k = 0; k < response.items_size(); ++k) {
      const std::string& id = response.items(k).item_id();
      const size_t j = std::stoul(id.substr(2));
      ASSERT_TRUE(allowed[j]) << id << " is not allowed";
      EXPECT_NEAR(response.items(k).score(), ref[j], eps) << id;
      if (k > 0) {
        EXPECT_GE(response.items(k - 1).score(), response.items(k).score());
      }
      returned[j] = true;
    }
    if (response.items_size() == 0) return;
    const float last = response.items(response.items_size() - 1).score();
    for (size_t j = 0; j < kItems; ++j) {
      if (allowed[j] && !returned[j]) EXPECT_LE(ref[j], last + eps) << Id(j);
    }
  }

  int kind_ = 0;
  testing::ScratchDir dir_;
  std::vector<float> b_, u_, v_;  // b_: B (U·Vᵀ for low-rank), dense
  std::unique_ptr<RecommenderServer> server_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

TEST_P(SimilarExplainServingTest, SimilarItemsIsTheQueryRowsSummed) {
  v1::SimilarItemsRequest request;
  for (const char* id : {"it3", "it250", "it3", "nope", "it77"}) {
    request.add_item_ids(id);
  }
  request.add_exclude_item_ids("it10");
  request.add_exclude_item_ids("also-unknown");
  request.set_top_n(20);
  v1::RecommendResponse response;
  grpc::Status status = Similar(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<bool> allowed(kItems, true);
  for (size_t i : {3, 250, 77, 10}) allowed[i] = false;
  ExpectTopN(response, RowSum({3, 77, 250}), allowed, 20, 1e-4);
  EXPECT_EQ(response.unknown_item_count(), 2u);
  EXPECT_FALSE(response.popularity_fallback());
  EXPECT_EQ(response.model_fingerprint().size(), 16u);
  for (const v1::ScoredItem& item : response.items()) {
    EXPECT_EQ(item.contributions_size(), 0);  // not asked for
  }

  // Candidates: only those, never a query item.
  request.clear_exclude_item_ids();
  for (const char* id : {"it1", "it2", "it3", "it299", "it2"}) {
    request.add_candidate_item_ids(id);
  }
  ASSERT_TRUE(Similar(request, &response).ok());
  std::vector<bool> candidates(kItems, false);
  for (size_t i : {1, 2, 299}) candidates[i] = true;
  ExpectTopN(response, RowSum({3, 77, 250}), candidates, 20, 1e-4);

  // Only unknown candidates: nothing (never the whole catalog).
  request.clear_candidate_item_ids();
  request.add_candidate_item_ids("unknown");
  ASSERT_TRUE(Similar(request, &response).ok());
  EXPECT_EQ(response.items_size(), 0);

  // No known query item: the most popular items.
  v1::SimilarItemsRequest cold;
  cold.add_item_ids("unknown");
  cold.set_top_n(3);
  ASSERT_TRUE(Similar(cold, &response).ok());
  EXPECT_TRUE(response.popularity_fallback());
  ASSERT_EQ(response.items_size(), 3);
  EXPECT_EQ(response.items(0).item_id(),
            "it22");  // popularity (22·7) % 31 = 30
  EXPECT_EQ(server_->metrics().RequestCount(RpcMethod::kSimilarItems,
                                            grpc::StatusCode::OK),
            4);
}

TEST_P(SimilarExplainServingTest, SimilarItemsErrorsAndModelName) {
  v1::RecommendResponse response;
  v1::SimilarItemsRequest request;
  request.add_item_ids("it1");
  request.set_top_n(0);
  grpc::Status status = Similar(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("top_n"), std::string::npos);

  request.set_top_n(5);
  for (int i = 0; i < 60; ++i) request.add_item_ids(Id(i));
  status = Similar(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("--max_history"), std::string::npos);

  request.clear_item_ids();
  request.add_item_ids("it1");
  request.set_model_name("other");
  status = Similar(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("'default'"), std::string::npos)
      << status.error_message();
  request.set_model_name("default");
  EXPECT_TRUE(Similar(request, &response).ok());

  request.set_explain(true);
  request.set_max_contributions(65);
  status = Similar(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("--max_contributions"),
            std::string::npos);

  request.set_max_contributions(0);
  request.set_similarity(v1::SimilarItemsRequest::COSINE);
  status = Similar(request, &response);
  if (kind_ == kLowRank) {
    EXPECT_TRUE(status.ok()) << status.error_message();
  } else {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("low-rank"), std::string::npos);
  }

  grpc::ClientContext context;
  v1::ModelInfo info;
  ASSERT_TRUE(
      stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.model_name(), "default");
}

TEST_P(SimilarExplainServingTest, CosineSimilarityOnLowRank) {
  if (kind_ != kLowRank) GTEST_SKIP() << "cosine is for low-rank models";
  v1::SimilarItemsRequest request;
  request.add_item_ids("it5");
  request.add_item_ids("it6");
  request.set_top_n(15);
  request.set_similarity(v1::SimilarItemsRequest::COSINE);
  request.set_explain(true);
  request.set_max_contributions(2);
  v1::RecommendResponse response;
  ASSERT_TRUE(Similar(request, &response).ok());
  std::vector<bool> allowed(kItems, true);
  allowed[5] = allowed[6] = false;
  ExpectTopN(response, Cosine({5, 6}), allowed, 15, 1e-5);
  for (const v1::ScoredItem& item : response.items()) {
    ASSERT_EQ(item.contributions_size(), 2);
    EXPECT_NEAR(item.contributions(0).contribution() +
                    item.contributions(1).contribution(),
                item.score(), 1e-5);
  }
}

TEST_P(SimilarExplainServingTest, ExplainedRecommendSumsToTheScore) {
  v1::RecommendRequest request;
  const std::vector<size_t> history = {4, 8, 15, 16, 23, 42, 108, 299};
  const std::vector<float> weights = {1, 2, 0.5f, 1, 1, 3, 1, 0.25f};
  for (size_t k = 0; k < history.size(); ++k) {
    request.add_history_item_ids(Id(history[k]));
    request.add_history_weights(weights[k]);
  }
  request.set_top_n(10);
  v1::RecommendResponse plain;
  ASSERT_TRUE(Recommend(request, &plain).ok());
  for (const v1::ScoredItem& item : plain.items()) {
    EXPECT_EQ(item.contributions_size(), 0);
  }

  request.set_explain(true);
  request.set_max_contributions(64);  // all of them
  v1::RecommendResponse all;
  ASSERT_TRUE(Recommend(request, &all).ok());
  ASSERT_EQ(all.items_size(), plain.items_size());
  for (int k = 0; k < all.items_size(); ++k) {
    const v1::ScoredItem& item = all.items(k);
    EXPECT_EQ(item.item_id(), plain.items(k).item_id());
    EXPECT_EQ(item.score(), plain.items(k).score());
    const size_t j = std::stoul(item.item_id().substr(2));
    // Brute force: every non-zero w_i·B[i, j].
    std::map<std::string, double> want;
    for (size_t h = 0; h < history.size(); ++h) {
      const double c = weights[h] * b_[history[h] * kItems + j];
      if (c != 0) want[Id(history[h])] = c;
    }
    ASSERT_EQ(static_cast<size_t>(item.contributions_size()), want.size());
    double sum = 0, magnitude = 0;
    for (int m = 0; m < item.contributions_size(); ++m) {
      const v1::Contribution& c = item.contributions(m);
      ASSERT_TRUE(want.count(c.item_id())) << c.item_id();
      EXPECT_NEAR(c.contribution(), want[c.item_id()], 1e-4);
      if (m > 0) {
        EXPECT_GE(item.contributions(m - 1).contribution(), c.contribution());
      }
      sum += c.contribution();
      magnitude += std::abs(c.contribution());
    }
    EXPECT_NEAR(sum, item.score(), 1e-5 * std::max(1.0, magnitude));
  }

  // The default limit is 5: the 5 largest of the full list.
  request.set_max_contributions(0);
  v1::RecommendResponse five;
  ASSERT_TRUE(Recommend(request, &five).ok());
  for (int k = 0; k < five.items_size(); ++k) {
    const v1::ScoredItem& item = five.items(k);
    ASSERT_EQ(item.contributions_size(),
              std::min(5, all.items(k).contributions_size()));
    for (int m = 0; m < item.contributions_size(); ++m) {
      EXPECT_EQ(item.contributions(m).item_id(),
                all.items(k).contributions(m).item_id());
    }
  }

  // Over the server's limit.
  request.set_max_contributions(65);
  v1::RecommendResponse refused;
  grpc::Status status = Recommend(request, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // RecommendBatch (micro-batched passes over V on low-rank) explains too.
  request.set_max_contributions(3);
  v1::RecommendBatchRequest batch;
  *batch.add_requests() = request;
  *batch.add_requests() = request;
  v1::RecommendBatchResponse batched;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  ASSERT_TRUE(stub_->RecommendBatch(&context, batch, &batched).ok());
  ASSERT_EQ(batched.results_size(), 2);
  for (const v1::RecommendBatchResult& r : batched.results()) {
    ASSERT_EQ(r.code(), 0) << r.message();
    ASSERT_EQ(r.response().items_size(), all.items_size());
    for (int k = 0; k < all.items_size(); ++k) {
      ASSERT_EQ(r.response().items(k).contributions_size(),
                std::min(3, all.items(k).contributions_size()));
      EXPECT_EQ(r.response().items(k).contributions(0).item_id(),
                all.items(k).contributions(0).item_id());
    }
  }
}

TEST_P(SimilarExplainServingTest, ExplainedSimilarItemsAndFallbackHasNone) {
  v1::SimilarItemsRequest request;
  request.add_item_ids("it9");
  request.add_item_ids("it90");
  request.set_top_n(5);
  request.set_explain(true);
  v1::RecommendResponse response;
  ASSERT_TRUE(Similar(request, &response).ok());
  for (const v1::ScoredItem& item : response.items()) {
    const size_t j = std::stoul(item.item_id().substr(2));
    double sum = 0;
    for (const v1::Contribution& c : item.contributions()) {
      EXPECT_TRUE(c.item_id() == "it9" || c.item_id() == "it90");
      sum += c.contribution();
    }
    EXPECT_NEAR(sum, b_[9 * kItems + j] + b_[90 * kItems + j], 1e-4);
  }
  v1::SimilarItemsRequest cold = request;
  cold.clear_item_ids();
  ASSERT_TRUE(Similar(cold, &response).ok());
  EXPECT_TRUE(response.popularity_fallback());
  for (const v1::ScoredItem& item : response.items()) {
    EXPECT_EQ(item.contributions_size(), 0);
  }
}

TEST_P(SimilarExplainServingTest, ExpiredDeadlineIsDeadlineExceeded) {
  v1::SimilarItemsRequest request;
  request.add_item_ids("it1");
  request.set_top_n(5);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() - absl::Seconds(1)));
  v1::RecommendResponse response;
  EXPECT_EQ(stub_->SimilarItems(&context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

// edlae-client similar / recommend --explain print what the RPCs answer.
TEST_P(SimilarExplainServingTest, ClientSimilarAndExplain) {
  const std::string target =
      absl::StrCat("--target 127.0.0.1:", server_->port());
  testing::CommandResult r = testing::RunClient(
      "similar " + target +
      " --items it3,it77 -n 4 --exclude it5 --explain --max_contributions 2 "
      "--json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  v1::RecommendResponse parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(r.output, &parsed).ok())
      << r.output;
  v1::SimilarItemsRequest request;
  request.add_item_ids("it3");
  request.add_item_ids("it77");
  request.set_top_n(4);
  request.add_exclude_item_ids("it5");
  request.set_explain(true);
  request.set_max_contributions(2);
  v1::RecommendResponse direct;
  ASSERT_TRUE(Similar(request, &direct).ok());
  EXPECT_EQ(parsed.SerializeAsString(), direct.SerializeAsString()) << r.output;

  // The table shows each contribution under its item.
  r = testing::RunClient("recommend " + target +
                         " --items it3,it77 -n 2 --explain");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("<- it"), std::string::npos) << r.output;

  r = testing::RunClient("similar " + target +
                         " --items it3 --similarity cosine --json");
  EXPECT_EQ(r.exit_code, kind_ == kLowRank ? 0 : 1) << r.output;
  r = testing::RunClient("similar " + target + " --items it3 --model_name x");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("NOT_FOUND"), std::string::npos) << r.output;
  r = testing::RunClient("similar " + target +
                         " --items it3 --similarity euclid");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// SimilarItems is behind the bearer token like every Recommender call.
TEST(SimilarItemsAuthTest, RequiresTheToken) {
  testing::ScratchDir dir;
  std::vector<float> b(16, 0.5f), popularity(4, 1.0f);
  std::vector<std::string> ids = {"a", "b", "c", "d"};
  const std::string path = dir.File("m.edlae");
  ASSERT_TRUE(
      WriteDenseModel(path, DenseModelData{b, ids, popularity, {}}).ok());
  ServerOptions options;
  options.model_path = path;
  options.host = "127.0.0.1";
  options.port = 0;
  options.metrics_address = "";
  options.service.auth_token = "s3cret-token-0123456789";
  auto server = RecommenderServer::BuildAndStart(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Recommender::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                          grpc::InsecureChannelCredentials()));
  v1::SimilarItemsRequest request;
  request.add_item_ids("a");
  request.set_top_n(2);
  v1::RecommendResponse response;
  {
    grpc::ClientContext context;
    EXPECT_EQ(stub->SimilarItems(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer s3cret-token-0123456789");
    grpc::Status status = stub->SimilarItems(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.items_size(), 2);
  }
  (*server)->Shutdown(absl::Now() + absl::Seconds(1));
}

INSTANTIATE_TEST_SUITE_P(Kinds, SimilarExplainServingTest,
                         ::testing::Values(kDense, kLowRank, kSparse),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == kDense ? "Dense"
                                              : info.param == kLowRank
                                                  ? "LowRank"
                                                  : "Sparse");
                         });

}  // namespace
}  // namespace edlae::server
