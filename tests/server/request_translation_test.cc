// Tests of the service's proto ↔ core translation on small models, without
// threads, scoring or gRPC.
#include "server/request_translation.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// The indices and weights of `history`, for matching.
std::vector<std::pair<uint32_t, float>> Entries(
    const std::vector<HistoryEntry>& history) {
  std::vector<std::pair<uint32_t, float>> out;
  for (const HistoryEntry& entry : history) {
    out.emplace_back(entry.index, entry.weight);
  }
  return out;
}

v1::RecommendRequest Request(std::vector<std::string> history, uint32_t top_n) {
  v1::RecommendRequest request;
  for (const std::string& id : history) request.add_history_item_ids(id);
  request.set_top_n(top_n);
  return request;
}

// Opens the model written by `write` to a file in `dir`.
template <typename Write>
std::shared_ptr<const Model> OpenWritten(const testing::ScratchDir& dir,
                                         const std::string& name, Write write) {
  const std::string path = dir.File(name);
  const absl::Status written = write(path);
  EXPECT_TRUE(written.ok()) << written;
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Open(path);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// ---------------------------------------------------------------------------
// Validation: model-independent limits and weights.

ServiceLimits SmallLimits() {
  ServiceLimits limits;
  limits.max_top_n = 10;
  limits.max_history = 3;
  limits.max_item_list = 2;
  limits.max_batch_requests = 2;
  return limits;
}

TEST(ValidateRecommendRequestTest, TopNMustLieInOneToMaxTopN) {
  const ServiceLimits limits = SmallLimits();
  EXPECT_TRUE(ValidateRecommendRequest(Request({}, 1), limits).ok());
  EXPECT_TRUE(ValidateRecommendRequest(Request({}, 10), limits).ok());
  for (uint32_t top_n : {0u, 11u}) {
    const absl::Status status =
        ValidateRecommendRequest(Request({"a"}, top_n), limits);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_EQ(status.message(),
              absl::StrCat("top_n must be in [1, 10], got ", top_n));
  }
}

TEST(ValidateRecommendRequestTest, ListsOverTheirLimitsNameTheFlag) {
  const ServiceLimits limits = SmallLimits();
  // Ids count against the limits whether or not any model knows them.
  EXPECT_TRUE(
      ValidateRecommendRequest(Request({"x", "y", "z"}, 5), limits).ok());
  absl::Status status =
      ValidateRecommendRequest(Request({"x", "y", "z", "w"}, 5), limits);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(),
            "history_item_ids has 4 entries; at most 3 are allowed (server "
            "flag --max_history)");

  v1::RecommendRequest exclude = Request({"a"}, 5);
  for (const char* id : {"p", "q", "r"}) exclude.add_exclude_item_ids(id);
  status = ValidateRecommendRequest(exclude, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(),
            "exclude_item_ids has 3 entries; at most 2 are allowed (server "
            "flag --max_item_list)");

  v1::RecommendRequest candidates = Request({"a"}, 5);
  for (const char* id : {"p", "q"}) candidates.add_candidate_item_ids(id);
  EXPECT_TRUE(ValidateRecommendRequest(candidates, limits).ok());
  candidates.add_candidate_item_ids("r");
  status = ValidateRecommendRequest(candidates, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(),
            "candidate_item_ids has 3 entries; at most 2 are allowed (server "
            "flag --max_item_list)");
}

TEST(ValidateRecommendRequestTest, WeightsAreNoneOrOneFinitePerHistoryItem) {
  const ServiceLimits limits = SmallLimits();
  v1::RecommendRequest request = Request({"a", "b"}, 5);
  request.add_history_weights(0.5f);
  absl::Status status = ValidateRecommendRequest(request, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(),
            "history_weights has 1 entries but history_item_ids has 2; send "
            "one weight per history item or none");

  request.add_history_weights(0.0f);  // zero weights are allowed
  EXPECT_TRUE(ValidateRecommendRequest(request, limits).ok());

  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    request.set_history_weights(1, bad);
    status = ValidateRecommendRequest(request, limits);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_THAT(status.message(),
                HasSubstr("history_weights[1] is not finite"));
  }
}

TEST(ValidateBatchRequestTest, AtMostMaxBatchRequests) {
  const ServiceLimits limits = SmallLimits();
  v1::RecommendBatchRequest batch;
  EXPECT_TRUE(ValidateBatchRequest(batch, limits).ok());
  // Only the count is checked here: the entries are validated when scored.
  batch.add_requests()->set_top_n(0);
  batch.add_requests()->set_top_n(1000);
  EXPECT_TRUE(ValidateBatchRequest(batch, limits).ok());
  batch.add_requests();
  const absl::Status status = ValidateBatchRequest(batch, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(),
            "requests has 3 entries; at most 2 are allowed (server flag "
            "--max_batch_requests)");
}

// ---------------------------------------------------------------------------
// Mapping onto a model, responses and model info: a 5-item dense model
// "a".."e" (indices 0..4) and a 5-item rank-2 model.

class TranslationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::ScratchDir dir;  // the models stay mapped after it is removed
    static const std::vector<std::string> ids = {"a", "b", "c", "d", "e"};
    static const std::vector<float> popularity = {1, 5, 3, 2, 4};
    static const std::vector<float> b(25, 0.5f);
    static const std::vector<float> factors(10, 0.25f);
    dense_ = new std::shared_ptr<const Model>(
        OpenWritten(dir, "dense", [](const std::string& path) {
          DenseModelData data;
          data.b = b;
          data.item_ids = ids;
          data.popularity = popularity;
          data.metadata = {{"algorithm", "test"}, {"lambda", "2.5"}};
          return WriteDenseModel(path, data);
        }));
    low_rank_ = new std::shared_ptr<const Model>(
        OpenWritten(dir, "low_rank", [](const std::string& path) {
          LowRankModelData data;
          data.rank = 2;
          data.u = factors;
          data.v = factors;
          data.item_ids = ids;
          data.popularity = popularity;
          return WriteLowRankModel(path, data);
        }));
  }
  static void TearDownTestSuite() {
    delete dense_;
    delete low_rank_;
  }
  void SetUp() override {
    ASSERT_NE(*dense_, nullptr);
    ASSERT_NE(*low_rank_, nullptr);
  }

  static const Model& dense() { return **dense_; }
  static const Model& low_rank() { return **low_rank_; }

  // PrepareRecommend on the dense model with default limits; fails the test
  // (and returns an empty request) on an error.
  static PreparedRequest Prepare(const v1::RecommendRequest& request) {
    absl::StatusOr<PreparedRequest> prepared =
        PrepareRecommend(dense(), request, ServiceLimits());
    EXPECT_TRUE(prepared.ok()) << prepared.status();
    return prepared.ok() ? *std::move(prepared) : PreparedRequest();
  }

  static std::shared_ptr<const Model>* dense_;
  static std::shared_ptr<const Model>* low_rank_;
};

std::shared_ptr<const Model>* TranslationTest::dense_ = nullptr;
std::shared_ptr<const Model>* TranslationTest::low_rank_ = nullptr;

TEST_F(TranslationTest, PrepareMapsKnownIdsAndCountsUnknownOnes) {
  v1::RecommendRequest request = Request({"c", "nope", "a"}, 4);
  request.add_exclude_item_ids("e");
  request.add_exclude_item_ids("gone");
  request.add_exclude_item_ids("b");
  for (const char* id : {"d", "b", "zz", "b", "a"}) {
    request.add_candidate_item_ids(id);
  }
  const PreparedRequest prepared = Prepare(request);
  EXPECT_THAT(Entries(prepared.history),
              ElementsAre(Pair(2, 1.0f), Pair(0, 1.0f)));
  EXPECT_THAT(prepared.exclude, ElementsAre(4, 1));  // request order
  // Sorted and unique: a duplicate would be scored and returned twice.
  EXPECT_THAT(prepared.candidates, ElementsAre(0, 1, 3));
  EXPECT_EQ(prepared.unknown, 3u);  // one unknown id in each list
  EXPECT_TRUE(prepared.any_weight);
  EXPECT_FALSE(prepared.no_known_candidate);
  EXPECT_EQ(prepared.top_n, 4u);
  EXPECT_TRUE(prepared.exclude_history);  // unset: true
}

TEST_F(TranslationTest, PrepareKeepsWeightsAndDuplicatesOfKnownItems) {
  v1::RecommendRequest request = Request({"a", "x", "b", "a"}, 3);
  for (float w : {0.5f, 9.0f, 0.0f, 2.0f}) request.add_history_weights(w);
  PreparedRequest prepared = Prepare(request);
  // The unknown id's weight goes with it; duplicates stay (the scorer adds
  // them up).
  EXPECT_THAT(Entries(prepared.history),
              ElementsAre(Pair(0, 0.5f), Pair(1, 0.0f), Pair(0, 2.0f)));
  EXPECT_EQ(prepared.unknown, 1u);
  EXPECT_TRUE(prepared.any_weight);

  // Known items whose weights are all zero: no weight at all.
  request = Request({"a", "b"}, 3);
  request.add_history_weights(0.0f);
  request.add_history_weights(-0.0f);
  prepared = Prepare(request);
  EXPECT_THAT(Entries(prepared.history),
              ElementsAre(Pair(0, 0.0f), Pair(1, 0.0f)));
  EXPECT_FALSE(prepared.any_weight);

  // Only unknown history: nothing to weigh.
  prepared = Prepare(Request({"x", "y"}, 3));
  EXPECT_TRUE(prepared.history.empty());
  EXPECT_FALSE(prepared.any_weight);
  EXPECT_EQ(prepared.unknown, 2u);
}

TEST_F(TranslationTest, PrepareFlagsCandidatesOfWhichNoneIsKnown) {
  v1::RecommendRequest request = Request({"a"}, 3);
  request.add_candidate_item_ids("x");
  request.add_candidate_item_ids("y");
  PreparedRequest prepared = Prepare(request);
  EXPECT_TRUE(prepared.candidates.empty());
  EXPECT_TRUE(prepared.no_known_candidate);
  EXPECT_EQ(prepared.unknown, 2u);

  // No candidate list at all means every item, not "none known".
  prepared = Prepare(Request({"a"}, 3));
  EXPECT_TRUE(prepared.candidates.empty());
  EXPECT_FALSE(prepared.no_known_candidate);
}

TEST_F(TranslationTest, PrepareTakesExcludeHistoryFromTheRequest) {
  v1::RecommendRequest request = Request({"a"}, 3);
  request.set_exclude_history(false);
  EXPECT_FALSE(Prepare(request).exclude_history);
  request.set_exclude_history(true);
  EXPECT_TRUE(Prepare(request).exclude_history);
}

TEST_F(TranslationTest, PrepareValidatesBeforeMapping) {
  v1::RecommendRequest request = Request({"a", "unknown"}, 0);
  absl::StatusOr<PreparedRequest> prepared =
      PrepareRecommend(dense(), request, ServiceLimits());
  EXPECT_TRUE(absl::IsInvalidArgument(prepared.status())) << prepared.status();
  EXPECT_THAT(prepared.status().message(), HasSubstr("top_n must be in"));

  request.set_top_n(3);
  ServiceLimits limits;
  limits.max_history = 1;
  prepared = PrepareRecommend(dense(), request, limits);
  EXPECT_TRUE(absl::IsInvalidArgument(prepared.status())) << prepared.status();
  EXPECT_THAT(prepared.status().message(), HasSubstr("--max_history"));
}

TEST_F(TranslationTest, OptionsPointIntoThePreparedRequest) {
  v1::RecommendRequest request = Request({"b"}, 2);
  request.set_exclude_history(false);
  request.add_exclude_item_ids("c");
  request.add_candidate_item_ids("e");
  request.add_candidate_item_ids("a");
  const PreparedRequest prepared = Prepare(request);

  const RecommendOptions plain = prepared.Options();
  EXPECT_EQ(plain.top_n, 2u);
  EXPECT_FALSE(plain.exclude_history);
  EXPECT_EQ(plain.exclude.data(), prepared.exclude.data());
  EXPECT_THAT(plain.exclude, ElementsAre(2));
  EXPECT_EQ(plain.candidates.data(), prepared.candidates.data());
  EXPECT_THAT(plain.candidates, ElementsAre(0, 4));
  EXPECT_FALSE(plain.should_stop);

  int asked = 0;
  const RecommendOptions stoppable = prepared.Options([&asked] {
    ++asked;
    return true;
  });
  ASSERT_TRUE(stoppable.should_stop);
  EXPECT_TRUE(stoppable.should_stop());
  EXPECT_EQ(asked, 1);
}

TEST_F(TranslationTest, ResponseCarriesItemsModelAndUnknownCount) {
  PreparedRequest prepared;
  prepared.unknown = 2;
  prepared.any_weight = true;
  Recommendation result;
  result.items = {{3, 2.5f}, {0, -1.0f}, {4, -1.5f}};
  v1::RecommendResponse response;
  response.set_unknown_item_count(99);  // stale contents are cleared
  ASSERT_TRUE(
      FillRecommendResponse(dense(), 7, prepared, result, &response).ok());
  std::vector<std::pair<std::string, float>> items;
  for (const v1::ScoredItem& item : response.items()) {
    items.emplace_back(item.item_id(), item.score());
  }
  EXPECT_THAT(items,
              ElementsAre(Pair("d", 2.5f), Pair("a", -1.0f), Pair("e", -1.5f)));
  EXPECT_EQ(response.model_fingerprint(), dense().fingerprint());
  EXPECT_EQ(response.model_version(), 7u);
  EXPECT_EQ(response.unknown_item_count(), 2u);
  EXPECT_FALSE(response.popularity_fallback());

  result.popularity_fallback = true;
  ASSERT_TRUE(
      FillRecommendResponse(dense(), 7, prepared, result, &response).ok());
  EXPECT_TRUE(response.popularity_fallback());
  EXPECT_EQ(response.items_size(), 3);
}

TEST_F(TranslationTest, NoKnownCandidateAnswersEmptyWithFallbackByWeights) {
  PreparedRequest prepared;
  prepared.no_known_candidate = true;
  prepared.unknown = 1;
  v1::RecommendResponse response;
  // No weighted history: the (empty) answer counts as a popularity fallback.
  ASSERT_TRUE(
      FillRecommendResponse(dense(), 1, prepared, Recommendation{}, &response)
          .ok());
  EXPECT_EQ(response.items_size(), 0);
  EXPECT_TRUE(response.popularity_fallback());
  EXPECT_EQ(response.unknown_item_count(), 1u);

  prepared.any_weight = true;
  Recommendation result;
  result.popularity_fallback = true;  // ignored: the request decides
  ASSERT_TRUE(
      FillRecommendResponse(dense(), 1, prepared, result, &response).ok());
  EXPECT_FALSE(response.popularity_fallback());
}

TEST_F(TranslationTest, ScorerErrorsAndOverflowedScoresLeaveTheResponseEmpty) {
  PreparedRequest prepared;
  v1::RecommendResponse response;
  response.add_items()->set_item_id("stale");
  absl::Status status = FillRecommendResponse(
      dense(), 1, prepared, absl::CancelledError("stop"), &response);
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
  EXPECT_EQ(response.ByteSizeLong(), 0u);

  Recommendation overflowed;
  overflowed.items = {{1, 1.0f}, {2, std::numeric_limits<float>::infinity()}};
  response.add_items()->set_item_id("stale");
  status = FillRecommendResponse(dense(), 1, prepared, overflowed, &response);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(),
            "history_weights are too large: the scores overflow float");
  EXPECT_EQ(response.ByteSizeLong(), 0u);
}

TEST_F(TranslationTest, PreparedRequestScoresAsCoreRecommend) {
  // The prepared request feeds core scoring as is: B = 0.5 everywhere, so
  // every allowed item scores 0.5 per history entry; ties go to lower index.
  v1::RecommendRequest request = Request({"b", "b"}, 3);
  request.add_exclude_item_ids("a");
  const PreparedRequest prepared = Prepare(request);
  absl::StatusOr<Recommendation> result =
      Recommend(dense(), prepared.history, prepared.Options());
  v1::RecommendResponse response;
  ASSERT_TRUE(
      FillRecommendResponse(dense(), 2, prepared, std::move(result), &response)
          .ok());
  ASSERT_EQ(response.items_size(), 3);
  EXPECT_EQ(response.items(0).item_id(), "c");
  EXPECT_EQ(response.items(1).item_id(), "d");
  EXPECT_EQ(response.items(2).item_id(), "e");
  EXPECT_FLOAT_EQ(response.items(0).score(), 1.0f);
}

TEST_F(TranslationTest, ModelInfoDescribesEitherKind) {
  v1::ModelInfo info;
  (*info.mutable_metadata())["stale"] = "x";
  info.set_rank(99);
  FillModelInfo(dense(), 3, &info);
  EXPECT_EQ(info.kind(), "dense");
  EXPECT_EQ(info.dtype(), "float32");
  EXPECT_EQ(info.num_items(), 5u);
  EXPECT_EQ(info.rank(), 0u);
  EXPECT_EQ(info.fingerprint(), dense().fingerprint());
  EXPECT_EQ(info.format_version(), dense().format_version());
  EXPECT_EQ(info.file_size_bytes(), dense().file_size());
  EXPECT_GT(info.file_size_bytes(), 0u);
  EXPECT_EQ(info.model_version(), 3u);
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const auto& [key, value] : info.metadata()) {
    metadata.emplace_back(key, value);
  }
  EXPECT_THAT(metadata, UnorderedElementsAre(Pair("algorithm", "test"),
                                             Pair("lambda", "2.5")));

  FillModelInfo(low_rank(), 0, &info);
  EXPECT_EQ(info.kind(), "low_rank");
  EXPECT_EQ(info.rank(), 2u);
  EXPECT_EQ(info.num_items(), 5u);
  EXPECT_EQ(info.fingerprint(), low_rank().fingerprint());
  EXPECT_NE(info.fingerprint(), dense().fingerprint());
  EXPECT_EQ(info.model_version(), 0u);
  EXPECT_TRUE(info.metadata().empty());
}

TEST_F(TranslationTest, EstimatedWorkCountsHistoryRowsNotCandidates) {
  v1::RecommendRequest request = Request({"a", "b"}, 3);
  EXPECT_EQ(EstimatedScoringWork(dense(), request), 3u * 5);
  EXPECT_EQ(EstimatedScoringWork(low_rank(), request), (2u + 5) * 2 + 5);
  request.add_candidate_item_ids("c");  // an upper bound: not looked at
  EXPECT_EQ(EstimatedScoringWork(dense(), request), 3u * 5);
}

TEST_F(TranslationTest, SimilarItemsValidationNamesFieldsAndFlags) {
  const ServiceLimits limits = [] {
    ServiceLimits l = SmallLimits();
    l.max_contributions = 4;
    return l;
  }();
  v1::SimilarItemsRequest request;
  request.set_top_n(11);
  EXPECT_EQ(ValidateSimilarItemsRequest(request, limits).message(),
            "top_n must be in [1, 10], got 11");
  request.set_top_n(2);
  for (const char* id : {"a", "b", "c", "d"}) request.add_item_ids(id);
  EXPECT_EQ(ValidateSimilarItemsRequest(request, limits).message(),
            "item_ids has 4 entries; at most 3 are allowed (server flag "
            "--max_history)");
  request.clear_item_ids();
  request.set_max_contributions(5);
  EXPECT_EQ(ValidateSimilarItemsRequest(request, limits).message(),
            "max_contributions is 5; at most 4 are allowed (server flag "
            "--max_contributions)");
  request.set_max_contributions(4);
  EXPECT_TRUE(ValidateSimilarItemsRequest(request, limits).ok());
  // The same limit for Recommend.
  v1::RecommendRequest recommend = Request({"a"}, 2);
  recommend.set_max_contributions(5);
  EXPECT_TRUE(
      absl::IsInvalidArgument(ValidateRecommendRequest(recommend, limits)));
}

TEST_F(TranslationTest, PrepareSimilarItemsMapsTheQueryAsAHistory) {
  v1::SimilarItemsRequest request;
  for (const char* id : {"c", "nope", "a", "c"}) request.add_item_ids(id);
  request.add_exclude_item_ids("e");
  request.add_candidate_item_ids("zz");
  request.set_top_n(3);
  absl::StatusOr<PreparedRequest> prepared =
      PrepareSimilarItems(dense(), request, ServiceLimits());
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_THAT(QueryItems(*prepared), ElementsAre(2, 0, 2));
  EXPECT_THAT(prepared->exclude, ElementsAre(4));
  EXPECT_EQ(prepared->unknown, 2u);
  EXPECT_TRUE(prepared->no_known_candidate);
  EXPECT_TRUE(prepared->exclude_history);
  EXPECT_EQ(prepared->max_contributions, 0u);  // explain not set
  EXPECT_EQ(prepared->similarity, Similarity::kModel);

  request.set_explain(true);
  request.set_similarity(v1::SimilarItemsRequest::COSINE);
  absl::StatusOr<PreparedRequest> cosine =
      PrepareSimilarItems(low_rank(), request, ServiceLimits());
  ASSERT_TRUE(cosine.ok()) << cosine.status();
  EXPECT_EQ(cosine->similarity, Similarity::kCosine);
  EXPECT_EQ(cosine->max_contributions, kDefaultMaxContributions);
  const absl::Status refused =
      PrepareSimilarItems(dense(), request, ServiceLimits()).status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("needs a low-rank model"));
  request.set_similarity(static_cast<v1::SimilarItemsRequest::Similarity>(7));
  EXPECT_TRUE(absl::IsInvalidArgument(
      PrepareSimilarItems(low_rank(), request, ServiceLimits()).status()));
}

TEST_F(TranslationTest, ContributionsBecomeTheItemsContributions) {
  PreparedRequest prepared;
  Recommendation result;
  result.items = {{3, 1.5f}, {4, 0.5f}};
  result.contributions = {{{0, 1.0f}, {1, 0.5f}}, {}};
  v1::RecommendResponse response;
  ASSERT_TRUE(
      FillRecommendResponse(dense(), 1, prepared, result, &response).ok());
  ASSERT_EQ(response.items_size(), 2);
  ASSERT_EQ(response.items(0).contributions_size(), 2);
  EXPECT_EQ(response.items(0).contributions(0).item_id(), "a");
  EXPECT_EQ(response.items(0).contributions(0).contribution(), 1.0f);
  EXPECT_EQ(response.items(0).contributions(1).item_id(), "b");
  EXPECT_EQ(response.items(1).contributions_size(), 0);

  result.contributions[1] = {{2, std::numeric_limits<float>::infinity()}};
  EXPECT_TRUE(absl::IsInvalidArgument(
      FillRecommendResponse(dense(), 1, prepared, result, &response)));
  EXPECT_EQ(response.ByteSizeLong(), 0u);
}

TEST_F(TranslationTest, ExplainedRequestsEstimateMoreWork) {
  v1::RecommendRequest request = Request({"a", "b"}, 3);
  request.set_explain(true);
  EXPECT_EQ(EstimatedScoringWork(dense(), request), 3u * 5 + 3 * 2);
  EXPECT_EQ(EstimatedScoringWork(low_rank(), request),
            (2u + 5 + 3 * 2) * 2 + 5);
  v1::SimilarItemsRequest similar;
  similar.add_item_ids("a");
  similar.set_top_n(3);
  EXPECT_EQ(EstimatedScoringWork(dense(), similar), 2u * 5);
}

}  // namespace
}  // namespace edlae::server
