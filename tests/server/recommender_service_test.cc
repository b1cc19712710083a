// End-to-end tests of edlae.v1.Recommender over real loopback gRPC: a hand-made
// model, ML-100K, and the edlae-client binary.
#include "server/recommender_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/weight_rows.h"
#include "core/scorer.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/servable_model.h"
#include "server/server.h"
#include "tests/testing/run_client.h"
#include "tests/testing/test_util.h"
#include "trainer/interactions.h"
#include "trainer/full_rank_solver.h"
#include "trainer/train.h"

namespace edlae::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// ---------------------------------------------------------------------------
// Helpers shared by the fixtures.

std::shared_ptr<grpc::Channel> ChannelTo(const RecommenderServer& server) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port()),
                             grpc::InsecureChannelCredentials());
}

// A server for the model file at `path` on a free loopback port.
absl::StatusOr<std::unique_ptr<RecommenderServer>> ServeOnLoopback(
    const std::string& path) {
  ServerOptions options;
  options.model_path = path;
  options.host = "127.0.0.1";
  options.port = 0;
  return RecommenderServer::BuildAndStart(options);
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
}

struct CallResult {
  grpc::Status status;
  v1::RecommendResponse response;
};

CallResult CallRecommend(v1::Recommender::Stub& stub,
                         const v1::RecommendRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context);
  CallResult result;
  result.status = stub.Recommend(&context, request, &result.response);
  return result;
}

// GetModelInfo of the server behind `stub` (the status on failure).
struct InfoResult {
  grpc::Status status;
  v1::ModelInfo info;
};
InfoResult ModelInfoOf(v1::Recommender::Stub& stub) {
  grpc::ClientContext context;
  SetDeadline(&context);
  InfoResult result;
  result.status =
      stub.GetModelInfo(&context, v1::GetModelInfoRequest(), &result.info);
  return result;
}

v1::RecommendRequest MakeRequest(const std::vector<std::string>& history,
                                 uint32_t top_n) {
  v1::RecommendRequest request;
  for (const std::string& id : history) request.add_history_item_ids(id);
  request.set_top_n(top_n);
  return request;
}

std::vector<std::string> Ids(const v1::RecommendResponse& response) {
  std::vector<std::string> ids;
  for (const v1::ScoredItem& item : response.items()) {
    ids.push_back(item.item_id());
  }
  return ids;
}

std::vector<std::pair<std::string, float>> IdsAndScores(
    const v1::RecommendResponse& response) {
  std::vector<std::pair<std::string, float>> out;
  for (const v1::ScoredItem& item : response.items()) {
    out.emplace_back(item.item_id(), item.score());
  }
  return out;
}

// Collects the bytes of a ByteBuffer.
std::string BufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::ByteBuffer StringToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// grpc.health.v1.Health/Check through a generic stub with the two tiny
// messages encoded by hand (the test does not depend on a health .proto):
// HealthCheckRequest{string service = 1}, HealthCheckResponse{enum status = 1}.
// Returns the status code of the call and the ServingStatus value.
std::pair<grpc::StatusCode, int> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  std::string request_bytes;
  if (!service.empty()) {
    request_bytes.push_back(0x0A);  // field 1, length-delimited
    request_bytes.push_back(static_cast<char>(service.size()));  // < 128
    request_bytes += service;
  }
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::ByteBuffer request = StringToBuffer(request_bytes);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response,
                 [&done](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return {status.error_code(), -1};
  const std::string bytes = BufferToString(response);
  if (bytes.empty()) return {grpc::StatusCode::OK, 0};  // UNKNOWN
  if (bytes.size() != 2 || bytes[0] != 0x08) return {grpc::StatusCode::OK, -2};
  return {grpc::StatusCode::OK, bytes[1]};
}

constexpr int kServing = 1;
constexpr int kNotServing = 2;

// Lists services through grpc.reflection.v1alpha (bidi stream, generic stub,
// hand-encoded ServerReflectionRequest{list_services = "*"}). Returns the raw
// response bytes, which hold the service names as strings.
std::string ReflectionListServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  SetDeadline(&context);
  auto call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  if (call == nullptr) return "";
  auto step = [&cq](int expected_tag) {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok &&
           tag == reinterpret_cast<void*>(static_cast<intptr_t>(expected_tag));
  };
  auto tag = [](int n) {
    return reinterpret_cast<void*>(static_cast<intptr_t>(n));
  };
  std::string out;
  call->StartCall(tag(1));
  if (step(1)) {
    call->Write(StringToBuffer(std::string("\x3a\x01*", 3)), tag(2));
    if (step(2)) {
      call->WritesDone(tag(3));
      if (step(3)) {
        grpc::ByteBuffer response;
        call->Read(&response, tag(4));
        if (step(4)) out = BufferToString(response);
      }
    }
  }
  grpc::Status status;
  call->Finish(&status, tag(5));
  void* got = nullptr;
  bool ok = false;
  while (cq.Next(&got, &ok)) {
    if (got == tag(5)) break;
  }
  cq.Shutdown();
  while (cq.Next(&got, &ok)) {
  }
  return out;
}

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

using ::edlae::testing::CommandResult;
using ::edlae::testing::RunClient;

// ---------------------------------------------------------------------------
// A hand-made 5-item model with known B, served with small request limits.

constexpr uint32_t kTinyMaxTopN = 10;
constexpr uint32_t kTinyMaxHistory = 8;
constexpr uint32_t kTinyMaxItemList = 6;

// Row i = contribution of history item i (a..e) to every item's score.
// clang-format off
constexpr float kTinyB[] = {
    /* a */ 0.0f, 0.5f, 0.25f, 0.0f, -1.0f,
    /* b */ 0.1f, 0.0f, 2.0f,  0.3f,  0.0f,
    /* c */ 1.0f, 0.0f, 0.0f,  0.5f,  0.2f,
    /* d */ 0.0f, 0.0f, 0.0f,  0.0f,  4.0f,
    /* e */ 0.3f, 0.6f, 0.0f,  1.0f,  0.0f,
};
// clang-format on
// Popularity order: b (5), e (4), c (3), d (2), a (1).
constexpr float kTinyPopularity[] = {1, 5, 3, 2, 4};
// A metadata value that JSON output must escape.
constexpr char kTinyNote[] =
    "say \"hi\" \\ back\nslash\ttab \x01 caf\xc3\xa9 =";

const std::vector<std::string>& TinyIds() {
  static const auto* const kIds =
      new std::vector<std::string>{"a", "b", "c", "d", "e"};
  return *kIds;
}

// The tiny model with B = kTinyB, or `b` when given (5 × 5 floats).
DenseModelData TinyModelData(absl::Span<const float> b = kTinyB) {
  DenseModelData data;
  data.b = b;
  data.item_ids = absl::MakeConstSpan(TinyIds());
  data.popularity = absl::MakeConstSpan(kTinyPopularity);
  data.metadata = {{"algorithm", "test"}, {"lambda", "1"}, {"note", kTinyNote}};
  return data;
}

class TinyModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    model_path_ = new std::string(dir_->File("tiny.edlae"));
    absl::Status written = WriteDenseModel(*model_path_, TinyModelData());
    ASSERT_TRUE(written.ok()) << written;

    ServerOptions options;
    options.model_path = *model_path_;
    options.host = "127.0.0.1";
    options.port = 0;
    options.service.limits.max_top_n = kTinyMaxTopN;
    options.service.limits.max_history = kTinyMaxHistory;
    options.service.limits.max_item_list = kTinyMaxItemList;
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    channel_ = new std::shared_ptr<grpc::Channel>(ChannelTo(*server_));
    stub_ = v1::Recommender::NewStub(*channel_).release();
  }

  static void TearDownTestSuite() {
    delete stub_;
    stub_ = nullptr;
    delete channel_;
    channel_ = nullptr;
    if (server_ != nullptr) server_->Shutdown(absl::Now() + absl::Seconds(1));
    delete server_;
    server_ = nullptr;
    delete model_path_;
    delete dir_;
  }

  void SetUp() override { ASSERT_NE(stub_, nullptr) << "suite set-up failed"; }

  static CallResult Call(const v1::RecommendRequest& request) {
    return CallRecommend(*stub_, request);
  }

  static testing::ScratchDir* dir_;
  static std::string* model_path_;
  static RecommenderServer* server_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static v1::Recommender::Stub* stub_;
};

testing::ScratchDir* TinyModelTest::dir_ = nullptr;
std::string* TinyModelTest::model_path_ = nullptr;
RecommenderServer* TinyModelTest::server_ = nullptr;
std::shared_ptr<grpc::Channel>* TinyModelTest::channel_ = nullptr;
v1::Recommender::Stub* TinyModelTest::stub_ = nullptr;

TEST_F(TinyModelTest, SingleItemHistoryReturnsItsRowSortedAndExcludesIt) {
  CallResult r = Call(MakeRequest({"a"}, 10));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("b", 0.5f), Pair("c", 0.25f), Pair("d", 0.0f),
                          Pair("e", -1.0f)));
  EXPECT_EQ(r.response.unknown_item_count(), 0u);
  EXPECT_FALSE(r.response.popularity_fallback());
  EXPECT_EQ(r.response.model_version(), 0u);
  EXPECT_EQ(r.response.model_fingerprint().size(), 16u);
}

TEST_F(TinyModelTest, TwoItemHistorySumsRows) {
  CallResult r = Call(MakeRequest({"a", "b"}, 10));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("c", 2.25f), Pair("d", 0.3f), Pair("e", -1.0f)));
}

TEST_F(TinyModelTest, TopNCutsTheList) {
  CallResult r = Call(MakeRequest({"a", "b"}, 2));
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(Ids(r.response), ElementsAre("c", "d"));
}

TEST_F(TinyModelTest,
       ExcludeHistoryFalseKeepsHistoryItemsAndBreaksTiesByIndex) {
  v1::RecommendRequest request = MakeRequest({"a"}, 10);
  request.set_exclude_history(false);
  CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok());
  // a and d both score 0: the lower model index (a) comes first.
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("b", 0.5f), Pair("c", 0.25f), Pair("a", 0.0f),
                          Pair("d", 0.0f), Pair("e", -1.0f)));
  request.set_exclude_history(true);
  r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(Ids(r.response), ElementsAre("b", "c", "d", "e"));
}

TEST_F(TinyModelTest, WeightsScaleRowsExactly) {
  v1::RecommendRequest request = MakeRequest({"a"}, 10);
  request.add_history_weights(2.0f);
  CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("b", 1.0f), Pair("c", 0.5f), Pair("d", 0.0f),
                          Pair("e", -2.0f)));
}

TEST_F(TinyModelTest, DuplicateHistoryIdsAddTheirWeights) {
  v1::RecommendRequest request = MakeRequest({"a", "a"}, 10);
  CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("b", 1.0f), Pair("c", 0.5f), Pair("d", 0.0f),
                          Pair("e", -2.0f)));
  request.add_history_weights(1.0f);
  request.add_history_weights(0.5f);
  r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("b", 0.75f), Pair("c", 0.375f), Pair("d", 0.0f),
                          Pair("e", -1.5f)));
}

TEST_F(TinyModelTest, ExcludeListIsHonoured) {
  v1::RecommendRequest request = MakeRequest({"a"}, 10);
  request.add_exclude_item_ids("b");
  request.add_exclude_item_ids("e");
  CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(Ids(r.response), ElementsAre("c", "d"));
}

TEST_F(TinyModelTest, CandidatesRestrictTheResult) {
  v1::RecommendRequest request = MakeRequest({"a"}, 10);
  request.add_candidate_item_ids("e");
  request.add_candidate_item_ids("c");
  request.add_candidate_item_ids("c");  // duplicates are returned once
  request.add_candidate_item_ids("nope");
  CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("c", 0.25f), Pair("e", -1.0f)));
  EXPECT_EQ(r.response.unknown_item_count(), 1u);
}

TEST_F(TinyModelTest, CandidatesThatAreAllUnknownGiveAnEmptyList) {
  v1::RecommendRequest request = MakeRequest({"a"}, 10);
  request.add_candidate_item_ids("x");
  request.add_candidate_item_ids("y");
  CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.response.items_size(), 0);
  EXPECT_EQ(r.response.unknown_item_count(), 2u);
  EXPECT_FALSE(r.response.popularity_fallback());
  EXPECT_FALSE(r.response.model_fingerprint().empty());
}

TEST_F(TinyModelTest, UnknownIdsInEveryListAreCounted) {
  v1::RecommendRequest request = MakeRequest({"a", "zz1", "zz2"}, 10);
  request.add_exclude_item_ids("zz3");
  request.add_exclude_item_ids("b");
  request.add_candidate_item_ids("zz4");
  request.add_candidate_item_ids("c");
  request.add_candidate_item_ids("b");
  CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.response.unknown_item_count(), 4u);
  EXPECT_THAT(Ids(r.response), ElementsAre("c"));
}

TEST_F(TinyModelTest, UnknownWeightedIdsAreSkippedWithTheirWeights) {
  v1::RecommendRequest request = MakeRequest({"zz", "a"}, 10);
  request.add_history_weights(100.0f);
  request.add_history_weights(2.0f);
  CallResult r = Call(request);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.response.unknown_item_count(), 1u);
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("b", 1.0f), Pair("c", 0.5f), Pair("d", 0.0f),
                          Pair("e", -2.0f)));
}

TEST_F(TinyModelTest, AllUnknownHistoryFallsBackToPopularity) {
  CallResult r = Call(MakeRequest({"x", "y"}, 3));
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.response.popularity_fallback());
  EXPECT_EQ(r.response.unknown_item_count(), 2u);
  EXPECT_THAT(IdsAndScores(r.response),
              ElementsAre(Pair("b", 5.0f), Pair("e", 4.0f), Pair("c", 3.0f)));
  // An empty history falls back too.
  r = Call(MakeRequest({}, 2));
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.response.popularity_fallback());
  EXPECT_THAT(Ids(r.response), ElementsAre("b", "e"));
}

TEST_F(TinyModelTest, TopNOutOfRangeIsInvalidArgument) {
  for (uint32_t top_n : {0u, kTinyMaxTopN + 1, 1000000u}) {
    CallResult r = Call(MakeRequest({"a"}, top_n));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << top_n;
    EXPECT_THAT(r.status.error_message(), HasSubstr("top_n"));
  }
  CallResult r = Call(MakeRequest({"a"}, kTinyMaxTopN));
  EXPECT_TRUE(r.status.ok());
}

TEST_F(TinyModelTest, WeightsOfTheWrongLengthAreInvalidArgument) {
  v1::RecommendRequest request = MakeRequest({"a", "b"}, 3);
  request.add_history_weights(1.0f);
  CallResult r = Call(request);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("history_weights"));
}

TEST_F(TinyModelTest, NonFiniteWeightsAreInvalidArgument) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    v1::RecommendRequest request = MakeRequest({"a", "b"}, 3);
    request.add_history_weights(1.0f);
    request.add_history_weights(bad);
    CallResult r = Call(request);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(r.status.error_message(), HasSubstr("history_weights[1]"));
  }
}

TEST_F(TinyModelTest, OversizeListsAreInvalidArgument) {
  std::vector<std::string> history(kTinyMaxHistory, "a");
  CallResult r = Call(MakeRequest(history, 3));
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  history.push_back("a");
  r = Call(MakeRequest(history, 3));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("history_item_ids"));

  const std::string b = "b";
  v1::RecommendRequest request = MakeRequest({"a"}, 3);
  for (uint32_t i = 0; i <= kTinyMaxItemList; ++i) {
    request.add_exclude_item_ids(b);
  }
  r = Call(request);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("exclude_item_ids"));

  request = MakeRequest({"a"}, 3);
  for (uint32_t i = 0; i <= kTinyMaxItemList; ++i) {
    request.add_candidate_item_ids(b);
  }
  r = Call(request);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("candidate_item_ids"));
}

TEST_F(TinyModelTest, GetModelInfoDescribesTheFile) {
  auto model = Model::Open(*model_path_);
  ASSERT_TRUE(model.ok()) << model.status();
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ModelInfo info;
  grpc::Status status =
      stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.kind(), "dense");
  EXPECT_EQ(info.dtype(), "float32");
  EXPECT_EQ(info.num_items(), 5u);
  EXPECT_EQ(info.rank(), 0u);
  EXPECT_EQ(info.fingerprint(), (*model)->fingerprint());
  EXPECT_EQ(info.format_version(), (*model)->format_version());
  EXPECT_EQ(info.file_size_bytes(), std::filesystem::file_size(*model_path_));
  EXPECT_EQ(info.model_version(), 0u);
  EXPECT_EQ(info.metadata().at("algorithm"), "test");
  EXPECT_EQ(info.metadata().at("lambda"), "1");

  CallResult r = Call(MakeRequest({"a"}, 1));
  EXPECT_EQ(r.response.model_fingerprint(), (*model)->fingerprint());
}

TEST_F(TinyModelTest, HealthIsServingForTheServerAndTheService) {
  EXPECT_EQ(CheckHealth(*channel_, ""),
            std::make_pair(grpc::StatusCode::OK, kServing));
  EXPECT_EQ(CheckHealth(*channel_, "edlae.v1.Recommender"),
            std::make_pair(grpc::StatusCode::OK, kServing));
  EXPECT_EQ(CheckHealth(*channel_, "no.such.Service").first,
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(TinyModelTest, ReflectionListsTheService) {
  const std::string services = ReflectionListServices(*channel_);
  EXPECT_THAT(services, HasSubstr("edlae.v1.Recommender"));
}

// --- The edlae-client binary against the tiny server. ---

TEST_F(TinyModelTest, ClientRecommendPrintsATable) {
  const std::string target =
      absl::StrCat("--target 127.0.0.1:", server_->port());
  CommandResult r = RunClient("recommend " + target + " --items a,zz -n 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("rank"));
  EXPECT_THAT(r.output, HasSubstr("item_id"));
  // b 0.5, c 0.25, d 0 in that order.
  const size_t b = r.output.find("  b ");
  const size_t c = r.output.find("  c ");
  const size_t d = r.output.find("  d ");
  ASSERT_NE(b, std::string::npos) << r.output;
  ASSERT_NE(c, std::string::npos) << r.output;
  ASSERT_NE(d, std::string::npos) << r.output;
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
  EXPECT_THAT(r.output, HasSubstr("0.5"));
  EXPECT_THAT(r.output, HasSubstr("unknown_items=1"));
  EXPECT_THAT(r.output, HasSubstr("popularity_fallback=false"));
  EXPECT_THAT(r.output, HasSubstr("fingerprint="));
}

TEST_F(TinyModelTest, ClientTopNFlagSpellings) {
  const std::string target =
      absl::StrCat("--target=127.0.0.1:", server_->port());
  for (const char* top_n : {"-n 2", "-n=2", "--top_n 2", "--top_n=2"}) {
    CommandResult r =
        RunClient("recommend " + target + " --items=a --json " + top_n);
    ASSERT_EQ(r.exit_code, 0) << top_n << ": " << r.output;
    v1::RecommendResponse parsed;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(r.output, &parsed).ok())
        << r.output;
    EXPECT_THAT(Ids(parsed), ElementsAre("b", "c")) << top_n;
  }
}

TEST_F(TinyModelTest, ClientJsonParsesIntoTheResponse) {
  const std::string target =
      absl::StrCat("--target 127.0.0.1:", server_->port());
  CommandResult r = RunClient(
      "recommend " + target +
      " --items a,b,zz --weights 1,0.5,3 -n 5 --exclude d --include_history "
      "--json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"items\""));
  v1::RecommendResponse parsed;
  auto status = google::protobuf::util::JsonStringToMessage(r.output, &parsed);
  ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << r.output;

  v1::RecommendRequest request = MakeRequest({"a", "b", "zz"}, 5);
  request.add_history_weights(1);
  request.add_history_weights(0.5f);
  request.add_history_weights(3);
  request.add_exclude_item_ids("d");
  request.set_exclude_history(false);
  CallResult direct = Call(request);
  ASSERT_TRUE(direct.status.ok());
  EXPECT_EQ(parsed.SerializeAsString(), direct.response.SerializeAsString())
      << r.output;
  EXPECT_EQ(parsed.unknown_item_count(), 1u);
}

TEST_F(TinyModelTest, ClientCandidatesAndPopularityFallback) {
  const std::string target =
      absl::StrCat("--target 127.0.0.1:", server_->port());
  CommandResult r = RunClient("recommend " + target +
                              " --items zz -n 2 --json --candidates a,c,d");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  v1::RecommendResponse parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(r.output, &parsed).ok());
  EXPECT_TRUE(parsed.popularity_fallback());
  EXPECT_THAT(Ids(parsed), ElementsAre("c", "d"));
}

TEST_F(TinyModelTest, ClientInfoAndHealth) {
  const std::string target =
      absl::StrCat("--target 127.0.0.1:", server_->port());
  CommandResult r = RunClient("info " + target + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  v1::ModelInfo info;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.output, &info).ok())
      << r.output;
  EXPECT_EQ(info.num_items(), 5u);
  EXPECT_EQ(info.kind(), "dense");
  EXPECT_EQ(info.metadata().at("algorithm"), "test");
  // Quotes, backslashes, control and non-ASCII characters survive the trip.
  EXPECT_EQ(info.metadata().at("note"), kTinyNote);

  r = RunClient("info " + target);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("num_items: 5"));
  EXPECT_THAT(r.output, HasSubstr("metadata.algorithm: test"));

  r = RunClient("health " + target);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("SERVING"));
  r = RunClient("health " + target + " --service edlae.v1.Recommender --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"status\":\"SERVING\""));
  r = RunClient("health " + target + " --service no.such.Service");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("edlae-client: NOT_FOUND"));
}

TEST_F(TinyModelTest, ClientReportsServerErrors) {
  const std::string target =
      absl::StrCat("--target 127.0.0.1:", server_->port());
  CommandResult r = RunClient("recommend " + target + " --items a -n 0");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("edlae-client: INVALID_ARGUMENT: top_n"));
  r = RunClient("recommend " + target + " --items a,b --weights 1,nan");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("INVALID_ARGUMENT"));
}

// bench's default histories are 1..num_items, none of which the tiny model
// (ids a..e) knows: the run succeeds on popularity fallbacks and says so;
// with the model's ids from --ids_file it does not.
TEST_F(TinyModelTest, ClientBenchWarnsWhenMostGeneratedIdsAreUnknown) {
  const std::string target =
      absl::StrCat("--target 127.0.0.1:", server_->port());
  const std::string load =
      " --requests 20 --concurrency 2 --history_len 3 --timeout_ms 5000";
  CommandResult r = RunClient("bench " + target + load);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("calls=20 ok_calls=20 "));
  EXPECT_THAT(r.output, HasSubstr("unknown_ids=60/60"));
  EXPECT_THAT(r.output, HasSubstr("edlae-client: warning: 60 of the 60"));
  EXPECT_THAT(r.output, HasSubstr("--ids_file"));

  const std::string ids = dir_->File("ids.txt");
  {
    FILE* f = std::fopen(ids.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("a\nb\r\n\n c \nd\ne\n", f);
    std::fclose(f);
  }
  r = RunClient("bench " + target + load + " --ids_file " + ids + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"ok_calls\":20,"));
  EXPECT_THAT(r.output, HasSubstr("\"unknown_history_ids\":0,"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("warning")));

  const std::string empty = dir_->File("empty-ids.txt");
  std::fclose(std::fopen(empty.c_str(), "w"));
  for (const std::string& bad :
       {" --ids_file " + dir_->File("no-such-file"), " --ids_file " + empty,
        " --ids_file " + ids + " --items a,b"}) {
    r = RunClient("bench " + target + load + bad);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
  }
}

// A server that stops mid-run: bench backs off on UNAVAILABLE instead of
// spinning, stops at --duration_s, and counts only OK calls in its QPS.
TEST(ClientBinaryTest, BenchAgainstAServerStoppedMidRunBacksOff) {
  testing::ScratchDir dir;
  ServerOptions options;
  options.model_path = dir.File("m.edlae");
  ASSERT_TRUE(WriteDenseModel(options.model_path, TinyModelData()).ok());
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = RecommenderServer::BuildAndStart(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const auto start = std::chrono::steady_clock::now();
  std::future<CommandResult> bench = std::async(std::launch::async, [&] {
    return RunClient(absl::StrCat(
        "bench --target 127.0.0.1:", (*server)->port(),
        " --items a,b,c,d,e --history_len 3 --concurrency 4 --requests "
        "100000000 --duration_s 4 --timeout_ms 1000"));
  });
  absl::SleepFor(absl::Seconds(1));
  (*server)->Shutdown(absl::Now() + absl::Milliseconds(200));
  server->reset();
  ASSERT_EQ(bench.wait_for(std::chrono::seconds(60)),
            std::future_status::ready);
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const CommandResult r = bench.get();
  EXPECT_EQ(r.exit_code, 1) << r.output;  // not every call was OK
  long long calls = 0, ok_calls = 0;
  double seconds = 0, qps = 0;
  const size_t report_at = r.output.find("calls=");
  ASSERT_NE(report_at, std::string::npos) << r.output;
  ASSERT_EQ(std::sscanf(r.output.c_str() + report_at,
                        "calls=%lld ok_calls=%lld seconds=%lf qps=%lf", &calls,
                        &ok_calls, &seconds, &qps),
            4)
      << r.output;
  EXPECT_GT(ok_calls, 0) << r.output;
  EXPECT_NEAR(qps, ok_calls / seconds, 0.01 * qps + 0.1) << r.output;
  long long unavailable = 0;
  const size_t at = r.output.find("UNAVAILABLE=");
  ASSERT_NE(at, std::string::npos) << r.output;
  unavailable = std::atoll(r.output.c_str() + at + 12);
  // ~3 s of a stopped server, 4 callers: with backoff (20 ms doubling to
  // 1 s, jittered) a few dozen attempts; without, tens of thousands.
  EXPECT_GT(unavailable, 0) << r.output;
  EXPECT_LT(unavailable, 400) << r.output;
  EXPECT_LT(elapsed_s, 15) << r.output;
  EXPECT_LT(seconds, 6) << r.output;
}

TEST(ClientBinaryTest, ClosedPortIsUnavailable) {
  const std::string target = absl::StrCat("--target 127.0.0.1:", ClosedPort());
  for (const std::string& command : {"recommend " + target + " --items a",
                                     "info " + target, "health " + target}) {
    CommandResult r = RunClient(command + " --timeout_ms 3000");
    EXPECT_EQ(r.exit_code, 1) << command << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("edlae-client: UNAVAILABLE: ")) << command;
  }
}

TEST(ClientBinaryTest, UsageErrorsExitWithTwo) {
  for (const std::string& args : std::vector<std::string>{
           "",                                         // no subcommand
           "frobnicate --target x:1",                  // unknown subcommand
           "recommend --items a",                      // no --target
           "recommend --target 127.0.0.1:1",           // no --items
           "recommend --target x:1 --items a --frob",  // unknown flag
           "recommend --target x:1 --items a -n",      // flag without value
           "recommend --target x:1 --items a -n abc",  // bad value
           "recommend --target x:1 --items a,b --weights 1",  // length
           "info --target x:1 --items a",  // flag of another command
           "health --target x:1 extra",    // stray argument
       }) {
    CommandResult r = RunClient(args);
    EXPECT_EQ(r.exit_code, 2) << "'" << args << "': " << r.output;
    EXPECT_THAT(r.output, HasSubstr("Usage:")) << args;
  }
  CommandResult help = RunClient("--help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_THAT(help.output, HasSubstr("edlae-client recommend"));
}

// ---------------------------------------------------------------------------
// Servers without a model, start-up errors, the model holder.

TEST(NoModelServerTest, CallsAreUnavailableUntilAModelIsSet) {
  auto servable = std::make_shared<ServableModel>();
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = RecommenderServer::BuildAndStart(options, servable);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = ChannelTo(**server);
  auto stub = v1::Recommender::NewStub(channel);

  CallResult r = CallRecommend(*stub, MakeRequest({"a"}, 3));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ModelInfo info;
    EXPECT_EQ(stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info)
                  .error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  // Request validation still comes first.
  r = CallRecommend(*stub, MakeRequest({"a"}, 0));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CheckHealth(channel, ""),
            std::make_pair(grpc::StatusCode::OK, kNotServing));
  EXPECT_EQ(CheckHealth(channel, "edlae.v1.Recommender"),
            std::make_pair(grpc::StatusCode::OK, kNotServing));

  // Swap a model in (what hot reload will do) and report SERVING.
  testing::ScratchDir dir;
  const DenseModelData data = TinyModelData();
  const std::string path = dir.File("m.edlae");
  ASSERT_TRUE(WriteDenseModel(path, data).ok());
  auto model = Model::Open(path);
  ASSERT_TRUE(model.ok()) << model.status();
  (*server)->servable().Set(*model, /*version=*/7);
  (*server)->SetServing(true);
  r = CallRecommend(*stub, MakeRequest({"a"}, 1));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_THAT(Ids(r.response), ElementsAre("b"));
  EXPECT_EQ(r.response.model_version(), 7u);
  EXPECT_EQ(CheckHealth(channel, "edlae.v1.Recommender"),
            std::make_pair(grpc::StatusCode::OK, kServing));

  (*server)->Shutdown(absl::Now() + absl::Seconds(1));
  (*server)->Wait();
  (*server)->Shutdown(absl::Now());  // idempotent
}

TEST(NoModelServerTest, ConcurrentCallsWhileModelsAreSwapped) {
  testing::ScratchDir dir;
  const DenseModelData data = TinyModelData();
  ASSERT_TRUE(WriteDenseModel(dir.File("a.edlae"), data).ok());
  std::vector<float> doubled(std::begin(kTinyB), std::end(kTinyB));
  for (float& v : doubled) v *= 2;
  ASSERT_TRUE(
      WriteDenseModel(dir.File("b.edlae"), TinyModelData(doubled)).ok());
  auto model_a = Model::Open(dir.File("a.edlae"));
  auto model_b = Model::Open(dir.File("b.edlae"));
  ASSERT_TRUE(model_a.ok() && model_b.ok());
  ASSERT_NE((*model_a)->fingerprint(), (*model_b)->fingerprint());

  auto servable = std::make_shared<ServableModel>(*model_a, 1);
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = RecommenderServer::BuildAndStart(options, servable);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = ChannelTo(**server);

  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<int> answered{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      auto stub = v1::Recommender::NewStub(channel);
      while (!stop.load()) {
        CallResult r = CallRecommend(*stub, MakeRequest({"a"}, 1));
        if (r.status.error_code() == grpc::StatusCode::UNAVAILABLE) continue;
        // Each answer is consistent with the model version that produced it.
        const bool ok =
            r.status.ok() && r.response.items_size() == 1 &&
            r.response.items(0).item_id() == "b" &&
            ((r.response.model_version() == 1 &&
              r.response.model_fingerprint() == (*model_a)->fingerprint() &&
              r.response.items(0).score() == 0.5f) ||
             (r.response.model_version() == 2 &&
              r.response.model_fingerprint() == (*model_b)->fingerprint() &&
              r.response.items(0).score() == 1.0f));
        if (!ok) bad.fetch_add(1);
        answered.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 300; ++i) {
    switch (i % 3) {
      case 0:
        servable->Set(*model_b, 2);
        break;
      case 1:
        servable->Set(nullptr);
        break;
      default:
        servable->Set(*model_a, 1);
    }
    absl::SleepFor(absl::Microseconds(200));
  }
  while (answered.load() < 100) absl::SleepFor(absl::Milliseconds(1));
  stop.store(true);
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ServerStartupTest, MissingOrCorruptModelIsAnError) {
  testing::ScratchDir dir;
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.port = 70000;
  auto bad_port = RecommenderServer::BuildAndStart(
      options, std::make_shared<ServableModel>());
  EXPECT_EQ(bad_port.status().code(), absl::StatusCode::kInvalidArgument);
  options.port = 0;
  options.model_path = dir.File("missing.edlae");
  auto server = RecommenderServer::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(server.status().message()),
              HasSubstr("missing.edlae"));

  options.model_path = dir.Write("corrupt.edlae", std::string(4096, 'x'));
  server = RecommenderServer::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()),
              HasSubstr("corrupt.edlae"));
}

TEST(ServerStartupTest, PortInUseIsUnavailable) {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  auto first = RecommenderServer::BuildAndStart(
      options, std::make_shared<ServableModel>());
  ASSERT_TRUE(first.ok()) << first.status();
  options.port = (*first)->port();
  auto second = RecommenderServer::BuildAndStart(
      options, std::make_shared<ServableModel>());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("127.0.0.1:", options.port)));
}

// A low-rank model served over loopback: GetModelInfo reports the kind and
// rank, and Recommend returns exactly (x·U)·Vᵀ (dyadic factors, so every
// score is exact in float) with exclusions and candidate lists applied.
// Every storage dtype: the factors below are multiples of 1/8 in [-1, 1],
// exact in f16 and bf16 too, so the reference is the same for all three.
class LowRankServerTest : public ::testing::TestWithParam<DType> {};

TEST_P(LowRankServerTest, ServesXUVtWithExclusionsAndCandidates) {
  constexpr size_t kItems = 40, kRank = 5;
  std::vector<float> u(kItems * kRank), v(kItems * kRank), popularity(kItems);
  std::vector<std::string> ids;
  for (size_t i = 0; i < kItems; ++i) {
    ids.push_back(absl::StrCat("item", i));
    popularity[i] = static_cast<float>(i % 7);
    for (size_t c = 0; c < kRank; ++c) {
      u[i * kRank + c] = static_cast<float>(static_cast<int>((i * 7 + c * 3) % 9) - 4) / 4;
      v[i * kRank + c] = static_cast<float>(static_cast<int>((i * 5 + c * 11) % 13) - 6) / 8;
    }
  }
  testing::ScratchDir dir;
  LowRankModelData data;
  data.rank = kRank;
  data.u = u;
  data.v = v;
  data.item_ids = ids;
  data.popularity = popularity;
  data.metadata = {{"algorithm", "edlae"}, {"rank", "5"}, {"method", "closed-form"}};
  data.dtype = GetParam();
  const std::string path = dir.File("lr.edlae");
  ASSERT_TRUE(WriteLowRankModel(path, data).ok());
  auto server = ServeOnLoopback(path);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Recommender::NewStub(ChannelTo(**server));

  {
    const auto [status, info] = ModelInfoOf(*stub);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(info.kind(), "low_rank");
    EXPECT_EQ(info.rank(), kRank);
    EXPECT_EQ(info.num_items(), kItems);
    EXPECT_EQ(info.metadata().at("method"), "closed-form");
    EXPECT_EQ(info.dtype(), DTypeName(GetParam()));
  }

  // Reference: z = Σ U[h, :], then V·z, exact in double.
  const std::vector<size_t> history = {3, 17, 29};
  std::vector<double> z(kRank, 0.0), scores(kItems, 0.0);
  for (size_t h : history) {
    for (size_t c = 0; c < kRank; ++c) z[c] += u[h * kRank + c];
  }
  for (size_t j = 0; j < kItems; ++j) {
    for (size_t c = 0; c < kRank; ++c) scores[j] += z[c] * v[j * kRank + c];
  }
  auto expected = [&](const std::vector<size_t>& allowed, size_t top_n) {
    std::vector<std::pair<double, size_t>> ranked;
    for (size_t j : allowed) ranked.push_back({-scores[j], j});
    std::sort(ranked.begin(), ranked.end());  // score desc, index asc
    std::vector<std::pair<std::string, float>> out;
    for (size_t r = 0; r < std::min(top_n, ranked.size()); ++r) {
      out.push_back({ids[ranked[r].second], static_cast<float>(-ranked[r].first)});
    }
    return out;
  };

  v1::RecommendRequest request = MakeRequest({"item3", "item17", "item29"}, 10);
  request.add_exclude_item_ids("item0");
  request.add_exclude_item_ids("item1");
  CallResult r = CallRecommend(*stub, request);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  std::vector<size_t> allowed;
  for (size_t j = 0; j < kItems; ++j) {
    if (j != 0 && j != 1 && j != 3 && j != 17 && j != 29) allowed.push_back(j);
  }
  EXPECT_EQ(IdsAndScores(r.response), expected(allowed, 10));
  EXPECT_FALSE(r.response.popularity_fallback());

  v1::RecommendRequest with_candidates = MakeRequest({"item3", "item17", "item29"}, 3);
  for (const char* id : {"item5", "item17", "item8", "item33", "item21", "nope"}) {
    with_candidates.add_candidate_item_ids(id);
  }
  r = CallRecommend(*stub, with_candidates);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(IdsAndScores(r.response), expected({5, 8, 21, 33}, 3));
  (*server)->Shutdown(absl::Now() + absl::Seconds(1));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LowRankServerTest,
                         ::testing::Values(DType::kFloat32, DType::kFloat16,
                                           DType::kBFloat16),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(DTypeName(info.param));
                         });

// A dense model stored as int8 with row scales, served over loopback gRPC: the
// weights are chosen so int8 holds them exactly (each row: a scale times
// integers in [−127, 127], ±127 present), so the answer is the float reference.
TEST(Int8DenseServerTest, ServesTheStoredWeightsAndReportsInt8) {
  constexpr size_t kItems = 40;
  std::vector<float> b(kItems * kItems), popularity(kItems);
  std::vector<std::string> ids;
  for (size_t i = 0; i < kItems; ++i) {
    ids.push_back(absl::StrCat("item", i));
    popularity[i] = static_cast<float>(i % 5);
    const float scale = 1.0f / static_cast<float>(1 << (i % 4));
    for (size_t j = 0; j < kItems; ++j) {
      const int q = j == i ? 127 : static_cast<int>((i * 31 + j * 17) % 255) - 127;
      b[i * kItems + j] = scale * static_cast<float>(q);
    }
  }
  testing::ScratchDir dir;
  DenseModelData data{b, ids, popularity, {{"algorithm", "ease"}}, DType::kInt8};
  const std::string path = dir.File("int8.edlae");
  ASSERT_TRUE(WriteDenseModel(path, data).ok());
  auto server = ServeOnLoopback(path);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Recommender::NewStub(ChannelTo(**server));
  {
    const auto [status, info] = ModelInfoOf(*stub);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(info.kind(), "dense");
    EXPECT_EQ(info.dtype(), "int8");
  }
  const std::vector<size_t> history = {3, 17, 29};
  std::vector<std::pair<double, size_t>> ranked;
  for (size_t j = 0; j < kItems; ++j) {
    if (j == 3 || j == 17 || j == 29) continue;
    double score = 0;
    for (size_t h : history) score += b[h * kItems + j];
    ranked.push_back({-score, j});
  }
  std::sort(ranked.begin(), ranked.end());
  CallResult r = CallRecommend(*stub, MakeRequest({"item3", "item17", "item29"}, 8));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.response.items_size(), 8);
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ(r.response.items(k).item_id(), ids[ranked[k].second]) << k;
    EXPECT_EQ(r.response.items(k).score(), static_cast<float>(-ranked[k].first)) << k;
  }
  (*server)->Shutdown(absl::Now() + absl::Seconds(1));
}

// A low-rank model stored as int8 (U and V with row scales), over loopback
// gRPC: GetModelInfo reports it, and every answer — whole catalog with
// exclusions, candidates, and calls sent at once (micro-batched into shared
// passes over V) — carries exactly the ids and scores of the library's
// Recommend on the same file (z quantized once per call: core/item_scorers.h).
TEST(Int8LowRankServerTest, AnswersAsTheLibraryScoresTheFile) {
  constexpr size_t kItems = 300, kRank = 24;
  std::vector<float> u(kItems * kRank), v(kItems * kRank), popularity(kItems);
  std::vector<std::string> ids;
  for (size_t i = 0; i < kItems; ++i) {
    ids.push_back(absl::StrCat("item", i));
    popularity[i] = static_cast<float>(i % 7);
    for (size_t c = 0; c < kRank; ++c) {
      u[i * kRank + c] = std::sin(0.37f * static_cast<float>(i * kRank + c));
      v[i * kRank + c] = std::cos(0.53f * static_cast<float>(i + 3 * c));
    }
  }
  testing::ScratchDir dir;
  LowRankModelData data;
  data.rank = kRank;
  data.u = u;
  data.v = v;
  data.item_ids = ids;
  data.popularity = popularity;
  data.metadata = {{"algorithm", "edlae"}, {"rank", "24"}};
  data.dtype = DType::kInt8;
  const std::string path = dir.File("lr8.edlae");
  ASSERT_TRUE(WriteLowRankModel(path, data).ok());
  auto model = Model::Open(path);
  ASSERT_TRUE(model.ok()) << model.status();
  auto server = ServeOnLoopback(path);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Recommender::NewStub(ChannelTo(**server));
  {
    const auto [status, info] = ModelInfoOf(*stub);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(info.kind(), "low_rank");
    EXPECT_EQ(info.dtype(), "int8");
    EXPECT_EQ(info.rank(), kRank);
  }
  auto library = [&](const std::vector<uint32_t>& history, size_t top_n,
                     const std::vector<uint32_t>& exclude,
                     const std::vector<uint32_t>& candidates) {
    std::vector<HistoryEntry> h;
    for (uint32_t i : history) h.push_back({i, 1.0f});
    RecommendOptions o;
    o.top_n = top_n;
    o.exclude_history = true;
    o.exclude = exclude;
    o.candidates = candidates;
    auto rec = Recommend(**model, h, o);
    EXPECT_TRUE(rec.ok()) << rec.status();
    std::vector<std::pair<std::string, float>> out;
    if (rec.ok()) {
      for (const ScoredItem& s : rec->items) out.push_back({ids[s.index], s.score});
    }
    return out;
  };
  const std::vector<uint32_t> exclude = {0, 1};
  v1::RecommendRequest request = MakeRequest({"item3", "item17", "item29"}, 20);
  request.add_exclude_item_ids("item0");
  request.add_exclude_item_ids("item1");
  CallResult r = CallRecommend(*stub, request);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(IdsAndScores(r.response), library({3, 17, 29}, 20, exclude, {}));

  const std::vector<uint32_t> candidates = {5, 17, 8, 33, 21};
  v1::RecommendRequest with_candidates = MakeRequest({"item3", "item17", "item29"}, 3);
  for (uint32_t c : candidates) with_candidates.add_candidate_item_ids(ids[c]);
  r = CallRecommend(*stub, with_candidates);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(IdsAndScores(r.response), library({3, 17, 29}, 3, {}, candidates));

  // Concurrent calls, each its own history: whatever batches form, each
  // answer is the library's for that history alone.
  std::vector<std::future<CallResult>> calls;
  for (uint32_t c = 0; c < 24; ++c) {
    calls.push_back(std::async(std::launch::async, [&, c] {
      return CallRecommend(*stub, MakeRequest({ids[c], ids[(c * 7 + 11) % kItems]}, 10));
    }));
  }
  for (uint32_t c = 0; c < 24; ++c) {
    CallResult one = calls[c].get();
    ASSERT_TRUE(one.status.ok()) << one.status.error_message();
    EXPECT_EQ(IdsAndScores(one.response), library({c, (c * 7 + 11) % kItems}, 10, {}, {})) << c;
  }
  (*server)->Shutdown(absl::Now() + absl::Seconds(1));
}

TEST(ServableModelTest, HandlesKeepTheirModelAcrossASwap) {
  testing::ScratchDir dir;
  const DenseModelData data = TinyModelData();
  const std::string path = dir.File("m.edlae");
  ASSERT_TRUE(WriteDenseModel(path, data).ok());
  auto servable = ServableModel::Load(path, 3);
  ASSERT_TRUE(servable.ok()) << servable.status();
  ServableHandle first = (*servable)->Get();
  ASSERT_TRUE(first);
  EXPECT_EQ(first.version, 3u);
  std::weak_ptr<const Model> weak = first.model;

  (*servable)->Set(nullptr);
  EXPECT_FALSE((*servable)->Get());
  // The old handle still works; the model dies with the last handle.
  ASSERT_FALSE(weak.expired());
  EXPECT_EQ(first.model->num_items(), 5u);
  first = ServableHandle();
  EXPECT_TRUE(weak.expired());
}

// ---------------------------------------------------------------------------
// A real EDLAE model trained on MovieLens-100K, served in-process.

class Ml100kTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string data_path =
        testing::SharedDataset("movielens-100k/u.data");
    if (data_path.empty()) return;  // each test skips in SetUp
    LoadOptions load;
    load.format = InputFormat::kMovieLensDat;
    load.min_rating = 3.5;
    auto x = LoadInteractions(data_path, load);
    ASSERT_TRUE(x.ok()) << x.status();
    x_ = new Interactions(*std::move(x));

    dir_ = new testing::ScratchDir();
    const std::string model_path = dir_->File("ml100k.edlae");
    TrainOptions train;
    train.spec.algorithm = Algorithm::kEdlae;
    train.spec.lambda = 100;
    train.spec.dropout = 0.25;
    train.source = data_path;
    train.num_threads = 0;
    train.out_path = model_path;
    auto report = TrainAndWrite(*x_, train);
    ASSERT_TRUE(report.ok()) << report.status();
    auto model = Model::Open(model_path);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new std::shared_ptr<const Model>(*model);

    ServerOptions options;
    options.model_path = model_path;
    options.host = "127.0.0.1";
    options.port = 0;
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    stub_ = v1::Recommender::NewStub(ChannelTo(*server_)).release();
  }

  static void TearDownTestSuite() {
    delete stub_;
    stub_ = nullptr;
    if (server_ != nullptr) server_->Shutdown(absl::Now() + absl::Seconds(1));
    delete server_;
    server_ = nullptr;
    delete model_;
    model_ = nullptr;
    delete dir_;
    dir_ = nullptr;
    delete x_;
    x_ = nullptr;
  }

  void SetUp() override {
    EDLAE_REQUIRE_DATASET(data_path, "movielens-100k/u.data");
    ASSERT_NE(stub_, nullptr) << "suite set-up failed";
  }

  static const Model& model() { return **model_; }

  // External item ids of user `u`'s history.
  static std::vector<std::string> History(size_t u) {
    std::vector<std::string> ids;
    for (uint64_t k = x_->row_offsets[u]; k < x_->row_offsets[u + 1]; ++k) {
      ids.push_back(x_->item_ids[x_->item_indices[k]]);
    }
    return ids;
  }

  // Reference scores x·B summed in double straight from the model's rows.
  static std::vector<double> ReferenceScores(
      const std::vector<std::string>& history,
      const std::vector<float>& weights = {}) {
    std::vector<double> scores(model().num_items(), 0.0);
    for (size_t h = 0; h < history.size(); ++h) {
      std::optional<uint32_t> index = model().FindItem(history[h]);
      if (!index.has_value()) continue;
      const double w = weights.empty() ? 1.0 : weights[h];
      const float* row = model().dense_row(*index);
      for (size_t j = 0; j < model().num_items(); ++j) scores[j] += w * row[j];
    }
    return scores;
  }

  // Checks that `response` is the best `top_n` of `reference` over the
  // allowed items, best first, with scores equal to the reference.
  static void ExpectTopN(const v1::RecommendResponse& response,
                         const std::vector<double>& reference,
                         const std::vector<bool>& allowed, size_t top_n) {
    std::vector<double> allowed_scores;
    for (size_t j = 0; j < reference.size(); ++j) {
      if (allowed[j]) allowed_scores.push_back(reference[j]);
    }
    std::sort(allowed_scores.rbegin(), allowed_scores.rend());
    const size_t expected_size = std::min(top_n, allowed_scores.size());
    ASSERT_EQ(static_cast<size_t>(response.items_size()), expected_size);
    const double tolerance = 1e-5;
    for (int r = 0; r < response.items_size(); ++r) {
      const v1::ScoredItem& item = response.items(r);
      std::optional<uint32_t> index = model().FindItem(item.item_id());
      ASSERT_TRUE(index.has_value()) << item.item_id();
      EXPECT_TRUE(allowed[*index]) << item.item_id() << " is not allowed";
      EXPECT_NEAR(item.score(), reference[*index], tolerance) << item.item_id();
      // Rank r holds (up to float rounding) the r-th best allowed score.
      EXPECT_NEAR(item.score(), allowed_scores[r], tolerance) << "rank " << r;
      if (r > 0) {
        EXPECT_LE(item.score(), response.items(r - 1).score());
      }
    }
  }

  static std::vector<bool> AllowedExcept(const std::vector<std::string>& ids) {
    std::vector<bool> allowed(model().num_items(), true);
    for (const std::string& id : ids) {
      if (auto index = model().FindItem(id)) allowed[*index] = false;
    }
    return allowed;
  }

  static Interactions* x_;
  static testing::ScratchDir* dir_;
  static std::shared_ptr<const Model>* model_;
  static RecommenderServer* server_;
  static v1::Recommender::Stub* stub_;
};

Interactions* Ml100kTest::x_ = nullptr;
testing::ScratchDir* Ml100kTest::dir_ = nullptr;
std::shared_ptr<const Model>* Ml100kTest::model_ = nullptr;
RecommenderServer* Ml100kTest::server_ = nullptr;
v1::Recommender::Stub* Ml100kTest::stub_ = nullptr;

constexpr size_t kSampleUsers[] = {0, 1, 17, 100, 404, 777};

TEST_F(Ml100kTest, ScoresEqualRowSumsForRealUsers) {
  for (size_t u : kSampleUsers) {
    if (u >= x_->num_users()) continue;
    const std::vector<std::string> history = History(u);
    CallResult r = CallRecommend(*stub_, MakeRequest(history, 50));
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_FALSE(r.response.popularity_fallback());
    EXPECT_EQ(r.response.unknown_item_count(), 0u);
    EXPECT_EQ(r.response.model_fingerprint(), model().fingerprint());
    SCOPED_TRACE(absl::StrCat("user index ", u, ", history ", history.size()));
    ExpectTopN(r.response, ReferenceScores(history), AllowedExcept(history),
               50);
  }
}

TEST_F(Ml100kTest, ScorerReferenceAgreesWithComputeScores) {
  const std::vector<std::string> history = History(1);
  std::vector<HistoryEntry> entries;
  for (const std::string& id : history) {
    entries.push_back(HistoryEntry{*model().FindItem(id), 1.0f});
  }
  std::vector<float> scores(model().num_items());
  ComputeScores(model(), entries, absl::MakeSpan(scores));
  const std::vector<double> reference = ReferenceScores(history);
  for (size_t j = 0; j < scores.size(); ++j) {
    ASSERT_NEAR(scores[j], reference[j], 1e-5) << j;
  }
}

TEST_F(Ml100kTest, IncludeHistoryRanksOverAllItems) {
  for (size_t u : kSampleUsers) {
    if (u >= x_->num_users()) continue;
    const std::vector<std::string> history = History(u);
    v1::RecommendRequest request = MakeRequest(history, 30);
    request.set_exclude_history(false);
    CallResult r = CallRecommend(*stub_, request);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ExpectTopN(r.response, ReferenceScores(history), AllowedExcept({}), 30);
  }
}

TEST_F(Ml100kTest, ExcludeListAndCandidates) {
  const std::vector<std::string> history = History(17);
  CallResult base = CallRecommend(*stub_, MakeRequest(history, 10));
  ASSERT_TRUE(base.status.ok());
  const std::vector<std::string> top = Ids(base.response);
  ASSERT_EQ(top.size(), 10u);

  // Excluding the current top 3 shifts the list; those never come back.
  v1::RecommendRequest request = MakeRequest(history, 10);
  std::vector<std::string> excluded(top.begin(), top.begin() + 3);
  for (const std::string& id : excluded) request.add_exclude_item_ids(id);
  CallResult r = CallRecommend(*stub_, request);
  ASSERT_TRUE(r.status.ok());
  std::vector<std::string> disallowed = history;
  disallowed.insert(disallowed.end(), excluded.begin(), excluded.end());
  ExpectTopN(r.response, ReferenceScores(history), AllowedExcept(disallowed),
             10);
  EXPECT_EQ(Ids(r.response)[0], top[3]);

  // Candidates: every other catalog item, plus one history item that stays
  // excluded and one unknown id.
  request = MakeRequest(history, 20);
  std::vector<bool> allowed(model().num_items(), false);
  for (size_t j = 0; j < model().num_items(); j += 2) {
    request.add_candidate_item_ids(std::string(model().item_id(j)));
    allowed[j] = true;
  }
  request.add_candidate_item_ids(history[0]);
  request.add_candidate_item_ids("no-such-movie");
  for (const std::string& id : history) {
    allowed[*model().FindItem(id)] = false;
  }
  r = CallRecommend(*stub_, request);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.response.unknown_item_count(), 1u);
  ExpectTopN(r.response, ReferenceScores(history), allowed, 20);
}

TEST_F(Ml100kTest, UnknownIdsAreCountedAndSkipped) {
  std::vector<std::string> history = History(100);
  const std::vector<double> reference = ReferenceScores(history);
  const std::vector<bool> allowed = AllowedExcept(history);
  history.insert(history.begin() + 1, "unknown-1");
  history.push_back("unknown-2");
  CallResult r = CallRecommend(*stub_, MakeRequest(history, 10));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.response.unknown_item_count(), 2u);
  ExpectTopN(r.response, reference, allowed, 10);
}

TEST_F(Ml100kTest, AllUnknownHistoryReturnsTheMostPopularItems) {
  CallResult r = CallRecommend(*stub_, MakeRequest({"nope", "nada"}, 10));
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.response.popularity_fallback());
  EXPECT_EQ(r.response.unknown_item_count(), 2u);
  ASSERT_EQ(r.response.items_size(), 10);
  for (int k = 0; k < 10; ++k) {
    const uint32_t index = model().items_by_popularity()[k];
    EXPECT_EQ(r.response.items(k).item_id(), model().item_id(index));
    EXPECT_EQ(r.response.items(k).score(), model().popularity()[index]);
  }
}

TEST_F(Ml100kTest, WeightsScaleScoresExactly) {
  const std::string id = History(0)[0];
  const uint32_t index = *model().FindItem(id);
  const float* row = model().dense_row(index);

  v1::RecommendRequest request = MakeRequest({id}, 20);
  CallResult once = CallRecommend(*stub_, request);
  request.add_history_weights(2.0f);
  CallResult twice = CallRecommend(*stub_, request);
  ASSERT_TRUE(once.status.ok());
  ASSERT_TRUE(twice.status.ok());
  ASSERT_EQ(once.response.items_size(), 20);
  ASSERT_EQ(twice.response.items_size(), 20);
  for (int k = 0; k < 20; ++k) {
    const std::string& item = once.response.items(k).item_id();
    EXPECT_EQ(twice.response.items(k).item_id(), item);
    EXPECT_EQ(once.response.items(k).score(), row[*model().FindItem(item)]);
    EXPECT_EQ(twice.response.items(k).score(),
              2.0f * once.response.items(k).score());
  }
}

TEST_F(Ml100kTest, ValidationErrors) {
  ServiceLimits defaults;
  EXPECT_EQ(CallRecommend(*stub_, MakeRequest({"50"}, 0)).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CallRecommend(*stub_, MakeRequest({"50"}, defaults.max_top_n + 1))
                .status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(CallRecommend(*stub_, MakeRequest({"50"}, defaults.max_top_n))
                  .status.ok());
  std::vector<std::string> huge(defaults.max_history + 1, "50");
  EXPECT_EQ(CallRecommend(*stub_, MakeRequest(huge, 10)).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::RecommendRequest request = MakeRequest({"50", "100"}, 10);
  request.add_history_weights(std::numeric_limits<float>::quiet_NaN());
  request.add_history_weights(1);
  EXPECT_EQ(CallRecommend(*stub_, request).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(Ml100kTest, GetModelInfo) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ModelInfo info;
  grpc::Status status =
      stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.kind(), "dense");
  EXPECT_EQ(info.dtype(), "float32");
  EXPECT_EQ(info.num_items(), x_->num_items());
  EXPECT_EQ(info.num_items(), model().num_items());
  EXPECT_EQ(info.fingerprint(), model().fingerprint());
  EXPECT_EQ(info.file_size_bytes(), model().file_size());
  EXPECT_EQ(info.metadata().at("algorithm"), "edlae");
  EXPECT_EQ(info.metadata().at("lambda"), "100");
  EXPECT_EQ(info.metadata().at("dropout"), "0.25");
  EXPECT_EQ(info.metadata().size(), model().metadata().size());
}

// Not a pass/fail check: prints the loopback latency of sequential calls.
TEST_F(Ml100kTest, SequentialRecommendLatency) {
  size_t user = 0;
  while (user < x_->num_users() && History(user).size() < 20) ++user;
  ASSERT_LT(user, x_->num_users());
  std::vector<std::string> history = History(user);
  history.resize(20);
  const v1::RecommendRequest request = MakeRequest(history, 10);
  for (int i = 0; i < 50; ++i) CallRecommend(*stub_, request);  // warm-up

  constexpr int kCalls = 1000;
  std::vector<double> micros;
  micros.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    const auto start = std::chrono::steady_clock::now();
    CallResult r = CallRecommend(*stub_, request);
    const auto end = std::chrono::steady_clock::now();
    ASSERT_TRUE(r.status.ok());
    micros.push_back(
        std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(micros.begin(), micros.end());
  const std::string summary = absl::StrCat(
      "ML-100K (", model().num_items(),
      " items) Recommend, history 20, top_n 10, ", kCalls,
      " sequential loopback calls: p50=", micros[kCalls / 2],
      "us p90=", micros[kCalls * 9 / 10], "us p99=", micros[kCalls * 99 / 100],
      "us max=", micros.back(), "us");
  std::printf("%s\n", summary.c_str());
  RecordProperty("latency", summary);
}

}  // namespace
}  // namespace edlae::server
