// The server must not crash: a model file rewritten or truncated in place
// while it is served, a huge top_n, requests that do not parse, oversized
// metadata on a shared connection — all over real loopback gRPC.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <future>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/recommender_client.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/request_parsing.h"
#include "server/server.h"
#include "tests/testing/model_corpus.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

using ::edlae::testing::ReadBytes;
using ::edlae::testing::ScratchDir;
using ::edlae::testing::WriteVersionedModel;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

ServerOptions LoopbackOptions() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  return options;
}

std::shared_ptr<grpc::Channel> ChannelTo(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

template <typename F>
bool WaitFor(F done, absl::Duration limit = absl::Seconds(20)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

// Rewrites `path` in place the way cp(1) does: open with O_TRUNC (same
// inode), then write the new bytes in chunks, pausing so that requests and
// reload polls land in the middle of the rewrite.
void RewriteInPlace(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  constexpr size_t kChunk = 16 * 1024;
  for (size_t done = 0; done < bytes.size(); done += kChunk) {
    const size_t n = std::min(kChunk, bytes.size() - done);
    ASSERT_EQ(::write(fd, bytes.data() + done, n), static_cast<ssize_t>(n));
    absl::SleepFor(absl::Microseconds(300));
  }
  ::close(fd);
}

// ---------------------------------------------------------------------------
// Item 1: a model file rewritten in place.

TEST(InPlaceRewriteTest, SnapshotModelSurvivesTruncationOfItsFile) {
  ScratchDir dir;
  const std::string path = dir.File("m.edlae");
  ASSERT_TRUE(WriteVersionedModel(path, 64, 1).ok());
  ModelOpenOptions open;
  open.snapshot = true;
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Open(path, open);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  // Every byte is still readable and unchanged (a mapping would SIGBUS).
  double sum = 0;
  for (size_t i = 0; i < (*model)->num_items(); ++i) {
    for (size_t j = 0; j < (*model)->num_items(); ++j) {
      sum += (*model)->dense_row(i)[j];
    }
  }
  EXPECT_TRUE(std::isfinite(sum));
  EXPECT_EQ((*model)->item_id(63), "i63");
  // And the truncated file is refused.
  EXPECT_FALSE(Model::Open(path, open).ok());
}

TEST(InPlaceRewriteTest, ServerKeepsAnsweringWhileItsModelFileIsOverwritten) {
  ScratchDir dir;
  const std::string path = dir.File("m.edlae");
  constexpr size_t kItems = 300;  // 360 KB: a rewrite spans many requests
  ASSERT_TRUE(WriteVersionedModel(path, kItems, 1).ok());
  const std::string first = ReadBytes(path);
  ASSERT_TRUE(WriteVersionedModel(dir.File("other.edlae"), kItems, 2).ok());
  const std::string other = ReadBytes(dir.File("other.edlae"));
  const std::string fp_first = Model::FromBytes(first).value()->fingerprint();
  const std::string fp_other = Model::FromBytes(other).value()->fingerprint();
  ASSERT_NE(fp_first, fp_other);

  ServerOptions options = LoopbackOptions();
  options.model_path = path;
  options.poll_interval = absl::Milliseconds(2);
  absl::StatusOr<std::unique_ptr<RecommenderServer>> server =
      RecommenderServer::BuildAndStart(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  // Request loops: bounded in count and time; every answer must be OK and
  // come from one of the two complete models.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, foreign{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      auto stub = v1::Recommender::NewStub(ChannelTo(port));
      v1::RecommendRequest request;
      for (int i = 0; i < 20; ++i) {
        // Items spread over the whole file: rows near its end too.
        request.add_history_item_ids(absl::StrCat("i", (i * 37 + t) % kItems));
      }
      request.set_top_n(10);
      const absl::Time end = absl::Now() + absl::Seconds(60);
      for (int n = 0; n < 200000 && !stop.load() && absl::Now() < end; ++n) {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        v1::RecommendResponse response;
        const grpc::Status status =
            stub->Recommend(&context, request, &response);
        if (!status.ok()) {
          ++failed;
          continue;
        }
        ++ok;
        if (response.model_fingerprint() != fp_first &&
            response.model_fingerprint() != fp_other) {
          ++foreign;
        }
      }
    });
  }
  const ServableModel& servable = (*server)->servable();
  auto serving = [&](const std::string& fp) {
    return [&servable, fp] {
      const ServableHandle h = servable.Get();
      return h && h.model->fingerprint() == fp;
    };
  };
  ModelManager* manager = (*server)->model_manager();
  ASSERT_NE(manager, nullptr);
  for (int round = 0; round < 3; ++round) {
    // cp other.edlae m.edlae: the complete new file is loaded.
    RewriteInPlace(path, other);
    EXPECT_TRUE(WaitFor(serving(fp_other))) << "round " << round;
    // truncate -s 100 m.edlae: refused, the loaded version keeps serving.
    const uint64_t failed_before = manager->reloads_failed();
    ASSERT_EQ(::truncate(path.c_str(), 100), 0);
    EXPECT_TRUE(
        WaitFor([&] { return manager->reloads_failed() > failed_before; }));
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_TRUE(serving(fp_other)());
    // cp back the first model.
    RewriteInPlace(path, first);
    EXPECT_TRUE(WaitFor(serving(fp_first))) << "round " << round;
  }
  stop = true;
  for (std::thread& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(foreign.load(), 0);
  EXPECT_GT(ok.load(), 100);
  (*server)->Shutdown(absl::Now() + absl::Seconds(5));
}

// ---------------------------------------------------------------------------
// Item 2: a huge top_n allocates nothing in proportion to it.

class HugeTopNTest : public ::testing::Test {
 protected:
  static constexpr size_t kItems = 40;
  static constexpr uint32_t kHuge = std::numeric_limits<uint32_t>::max();

  void StartWith(const std::string& path, bool batching) {
    ServerOptions options = LoopbackOptions();
    options.model_path = path;
    options.service.limits.max_top_n = kHuge;
    if (!batching) options.service.batch_max_size = 1;
    absl::StatusOr<std::unique_ptr<RecommenderServer>> server =
        RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::Recommender::NewStub(ChannelTo(server_->port()));
  }

  void WriteLowRank(const std::string& path) {
    constexpr size_t kRank = 4;
    std::vector<float> u(kItems * kRank), v(kItems * kRank);
    for (size_t i = 0; i < u.size(); ++i) {
      u[i] = static_cast<float>(i % 7) / 7.0f;
      v[i] = static_cast<float>(i % 5) / 5.0f;
    }
    std::vector<std::string> ids;
    std::vector<float> popularity;
    for (size_t i = 0; i < kItems; ++i) {
      ids.push_back(absl::StrCat("i", i));
      popularity.push_back(static_cast<float>(kItems - i));
    }
    LowRankModelData data;
    data.rank = kRank;
    data.u = u;
    data.v = v;
    data.item_ids = ids;
    data.popularity = popularity;
    ASSERT_TRUE(WriteLowRankModel(path, data).ok());
  }

  // Every shape of request the server ranks: with history, cold start
  // (popularity), restricted to candidates, with exclusions.
  std::vector<v1::RecommendRequest> Requests() const {
    std::vector<v1::RecommendRequest> out(4);
    for (v1::RecommendRequest& r : out) r.set_top_n(kHuge);
    out[0].add_history_item_ids("i1");
    out[0].add_history_item_ids("i2");
    out[2].add_history_item_ids("i3");
    out[2].add_candidate_item_ids("i4");
    out[2].add_candidate_item_ids("i5");
    out[3].add_history_item_ids("i6");
    out[3].add_exclude_item_ids("i7");
    out[3].set_exclude_history(false);
    return out;
  }

  void ExpectWholeCatalogAnswers() {
    const std::vector<v1::RecommendRequest> requests = Requests();
    const std::vector<size_t> expected = {kItems - 2, kItems, 2, kItems - 1};
    for (int round = 0; round < 3; ++round) {  // the server stays up
      for (size_t r = 0; r < requests.size(); ++r) {
        grpc::ClientContext context;
        v1::RecommendResponse response;
        const grpc::Status status =
            stub_->Recommend(&context, requests[r], &response);
        ASSERT_TRUE(status.ok()) << r << ": " << status.error_message();
        EXPECT_EQ(static_cast<size_t>(response.items_size()), expected[r]) << r;
      }
      v1::RecommendBatchRequest batch;
      for (const v1::RecommendRequest& r : requests) {
        *batch.add_requests() = r;
      }
      grpc::ClientContext context;
      v1::RecommendBatchResponse response;
      const grpc::Status status =
          stub_->RecommendBatch(&context, batch, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ASSERT_EQ(response.results_size(), static_cast<int>(requests.size()));
      for (size_t r = 0; r < requests.size(); ++r) {
        EXPECT_EQ(response.results(r).code(), 0)
            << response.results(r).message();
        EXPECT_EQ(
            static_cast<size_t>(response.results(r).response().items_size()),
            expected[r]);
      }
    }
  }

  ScratchDir dir_;
  std::unique_ptr<RecommenderServer> server_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

TEST_F(HugeTopNTest, DenseModelAnswersWithTheWholeCatalog) {
  const std::string path = dir_.File("dense.edlae");
  ASSERT_TRUE(WriteVersionedModel(path, kItems, 1).ok());
  StartWith(path, /*batching=*/true);
  ExpectWholeCatalogAnswers();
}

TEST_F(HugeTopNTest, LowRankModelMicroBatchedAndNot) {
  const std::string path = dir_.File("low_rank.edlae");
  WriteLowRank(path);
  StartWith(path, /*batching=*/true);
  ExpectWholeCatalogAnswers();
  server_->Shutdown(absl::Now());
  StartWith(path, /*batching=*/false);
  ExpectWholeCatalogAnswers();
}

// ---------------------------------------------------------------------------
// Item 3: requests that do not parse.

// Counts protobuf's log lines (the library logs one per string field with
// invalid UTF-8 that it parses) while alive.
class ProtobufLogCounter {
 public:
  ProtobufLogCounter() {
    count_ = 0;
    previous_ = google::protobuf::SetLogHandler(
        [](google::protobuf::LogLevel, const char*, int, const std::string&) {
          ++count_;
        });
  }
  ~ProtobufLogCounter() { google::protobuf::SetLogHandler(previous_); }
  int count() const { return count_.load(); }

 private:
  static inline std::atomic<int> count_{0};
  google::protobuf::LogHandler* previous_;
};

struct RawReply {
  grpc::Status status;
  std::string bytes;
};

// One unary call of `method` with `bytes` as the request, through a generic
// stub (no serialization on the client side).
RawReply CallRaw(grpc::GenericStub& stub, const std::string& method,
                 const std::string& bytes, const std::string& token = "") {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  grpc::Slice slice(bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Mutex mu;
  bool done = false;
  RawReply reply;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) {
                   absl::MutexLock lock(&mu);
                   reply.status = std::move(status);
                   done = true;
                 });
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(&done));
  if (reply.status.ok()) {
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    for (const grpc::Slice& s : slices) {
      reply.bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return reply;
}

constexpr char kRecommendMethod[] = "/edlae.v1.Recommender/Recommend";
constexpr char kBatchMethod[] = "/edlae.v1.Recommender/RecommendBatch";
constexpr char kInfoMethod[] = "/edlae.v1.Recommender/GetModelInfo";

struct HostileCase {
  const char* name;
  const char* method;
  std::string bytes;
  const char* message;  // a substring the INVALID_ARGUMENT message must hold
};

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// A RecommendRequest with top_n 5 and `tail` appended.
std::string TopN5(const std::string& tail) { return Bytes({0x18, 5}) + tail; }

std::vector<HostileCase> HostileTable() {
  const std::string bad_utf8_history = Bytes({0x0a, 2, 0xff, 0xfe});
  std::vector<HostileCase> cases = {
      {"invalid UTF-8 history id", kRecommendMethod, TopN5(bad_utf8_history),
       "history_item_ids[0] is not valid UTF-8"},
      {"invalid UTF-8 second history id", kRecommendMethod,
       TopN5(Bytes({0x0a, 1, 'a', 0x0a, 3, 0xe2, 0x82, 0x28})),
       "history_item_ids[1] is not valid UTF-8"},
      {"surrogate in exclude id", kRecommendMethod,
       TopN5(Bytes({0x2a, 3, 0xed, 0xa0, 0x80})),
       "exclude_item_ids[0] is not valid UTF-8"},
      {"overlong candidate id", kRecommendMethod,
       TopN5(Bytes({0x32, 2, 0xc0, 0xaf})),
       "candidate_item_ids[0] is not valid UTF-8"},
      {"truncated varint", kRecommendMethod, Bytes({0x18, 0xff, 0xff}),
       "malformed or truncated field 3"},
      {"truncated tag", kRecommendMethod, Bytes({0x80}),
       "malformed or truncated field tag"},
      {"packed weights of 7 bytes", kRecommendMethod,
       TopN5(Bytes({0x12, 7, 0, 0, 0x80, 0x3f, 0, 0, 0x80})),
       "packed history_weights holds 7 bytes, not a multiple of 4"},
      {"length past the end", kRecommendMethod,
       TopN5(Bytes({0x0a, 0x10, 'a', 'b'})), "history_item_ids[0] claims 16"},
      {"field number 0", kRecommendMethod, Bytes({0x00}),
       "malformed or truncated field tag"},
      {"lone end-group", kRecommendMethod, Bytes({0x0c}),
       "malformed or truncated field 1"},
      {"invalid UTF-8 nested in a batch", kBatchMethod,
       Bytes({0x0a, 2, 0x18, 1, 0x0a, 6, 0x18, 1, 0x0a, 2, 0xff, 0xfe}),
       "requests[1].history_item_ids[0] is not valid UTF-8"},
      {"truncated nested request", kBatchMethod, Bytes({0x0a, 9, 0x18, 1}),
       "requests[0] claims 9"},
      {"malformed model info request", kInfoMethod, Bytes({0x08}),
       "malformed or truncated field 1"},
      {"random bytes for model info", kInfoMethod, Bytes({0xff, 0xff, 0xff}),
       "GetModelInfoRequest"},
  };
  return cases;
}

// ParseRequest accepts exactly what protobuf's parser accepts, on random
// bytes and on single-byte mutations of valid requests.
TEST(RequestParsingTest, AgreesWithProtobufOnRandomAndMutatedBytes) {
  google::protobuf::LogHandler* previous =
      google::protobuf::SetLogHandler(nullptr);  // protobuf's UTF-8 lines
  v1::RecommendBatchRequest valid_batch;
  v1::RecommendRequest* valid = valid_batch.add_requests();
  valid->add_history_item_ids("i1");
  valid->add_history_item_ids("\xc3\xa9t\xc3\xa9");
  valid->add_history_weights(1.5f);
  valid->add_history_weights(-2.0f);
  valid->set_top_n(7);
  valid->set_exclude_history(true);
  valid->add_exclude_item_ids("x");
  valid->add_candidate_item_ids("y");
  *valid_batch.add_requests() = *valid;
  const std::string seeds[] = {valid->SerializeAsString(),
                               valid_batch.SerializeAsString()};
  std::mt19937 rng(7);
  int accepted = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes = seeds[(i / 2) % 2];
      const int mutations = 1 + static_cast<int>(rng() % 3);
      for (int m = 0; m < mutations; ++m) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
      if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    } else {
      bytes.resize(rng() % 48);
      for (char& b : bytes) b = static_cast<char>(rng());
    }
    v1::RecommendRequest ours, theirs;
    v1::RecommendBatchRequest ours_batch, theirs_batch;
    const absl::Status single = ParseRequest(bytes, &ours);
    EXPECT_EQ(single.ok(), theirs.ParseFromString(bytes)) << single;
    const absl::Status batch = ParseRequest(bytes, &ours_batch);
    EXPECT_EQ(batch.ok(), theirs_batch.ParseFromString(bytes)) << batch;
    if (single.ok()) {
      EXPECT_EQ(ours.SerializeAsString(), theirs.SerializeAsString());
      ++accepted;
    } else {
      EXPECT_FALSE(single.message().empty());
      ++refused;
    }
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(refused, 1000);
  google::protobuf::SetLogHandler(previous);
}

class MalformedRequestTest : public ::testing::Test {
 protected:
  void Start(const std::string& token) {
    const std::string path = dir_.File("m.edlae");
    ASSERT_TRUE(WriteVersionedModel(path, 30, 1).ok());
    ServerOptions options = LoopbackOptions();
    options.model_path = path;
    if (!token.empty()) {
      const std::string token_file = dir_.File("token");
      edlae::testing::WriteBytesTo(token_file, token);
      options.auth_token_file = token_file;
    }
    absl::StatusOr<std::unique_ptr<RecommenderServer>> server =
        RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = ChannelTo(server_->port());
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
  }

  ScratchDir dir_;
  std::unique_ptr<RecommenderServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

TEST_F(MalformedRequestTest,
       EveryHostileRequestGetsInvalidArgumentWithAMessage) {
  Start("");
  ProtobufLogCounter logs;
  for (const HostileCase& c : HostileTable()) {
    const RawReply reply = CallRaw(*stub_, c.method, c.bytes);
    EXPECT_EQ(reply.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.name << ": " << reply.status.error_message();
    EXPECT_THAT(reply.status.error_message(), HasSubstr(c.message)) << c.name;
  }
  // Random bytes: whatever happens to parse is answered normally; nothing
  // else may be UNIMPLEMENTED, empty, or crash the server.
  std::mt19937 rng(12);
  int invalid = 0;
  for (int i = 0; i < 300; ++i) {
    std::string bytes(1 + rng() % 64, '\0');
    for (char& b : bytes) b = static_cast<char>(rng());
    const char* method = i % 3 == 0   ? kRecommendMethod
                         : i % 3 == 1 ? kBatchMethod
                                      : kInfoMethod;
    const RawReply reply = CallRaw(*stub_, method, bytes);
    EXPECT_NE(reply.status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_NE(reply.status.error_code(), grpc::StatusCode::UNAVAILABLE);
    if (!reply.status.ok()) {
      EXPECT_FALSE(reply.status.error_message().empty());
    }
    if (reply.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      ++invalid;
    }
  }
  EXPECT_GT(invalid, 100);
  EXPECT_EQ(logs.count(), 0) << "protobuf logged while parsing requests";

  // A valid request through the same raw path still works.
  v1::RecommendRequest good;
  good.add_history_item_ids("i1");
  good.set_top_n(3);
  const RawReply reply =
      CallRaw(*stub_, kRecommendMethod, good.SerializeAsString());
  ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
  v1::RecommendResponse response;
  ASSERT_TRUE(response.ParseFromString(reply.bytes));
  EXPECT_EQ(response.items_size(), 3);
  const RawReply info = CallRaw(*stub_, kInfoMethod, "");
  ASSERT_TRUE(info.status.ok()) << info.status.error_message();
  v1::ModelInfo model_info;
  ASSERT_TRUE(model_info.ParseFromString(info.bytes));
  EXPECT_EQ(model_info.num_items(), 30u);
}

TEST_F(MalformedRequestTest, WithATokenUnauthenticatedComesFirst) {
  Start("s3cret-token");
  ProtobufLogCounter logs;
  for (const HostileCase& c : HostileTable()) {
    const RawReply without = CallRaw(*stub_, c.method, c.bytes);
    EXPECT_EQ(without.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << c.name;
    const RawReply with = CallRaw(*stub_, c.method, c.bytes, "s3cret-token");
    EXPECT_EQ(with.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.name << ": " << with.status.error_message();
    EXPECT_THAT(with.status.error_message(), HasSubstr(c.message)) << c.name;
  }
  EXPECT_EQ(logs.count(), 0);
}

TEST_F(MalformedRequestTest, ClientRefusesNonUtf8IdsItself) {
  Start("");
  ProtobufLogCounter logs;
  auto client = client::RecommenderClient::Connect(
      absl::StrCat("127.0.0.1:", server_->port()));
  for (int field = 0; field < 3; ++field) {
    v1::RecommendRequest request;
    request.set_top_n(3);
    request.add_history_item_ids("i1");
    const std::string bad = "i\xff";
    if (field == 0) request.add_history_item_ids(bad);
    if (field == 1) request.add_exclude_item_ids(bad);
    if (field == 2) request.add_candidate_item_ids(bad);
    const absl::StatusOr<v1::RecommendResponse> got =
        client->Recommend(request, absl::Seconds(5));
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr("is not valid UTF-8"));
  }
  EXPECT_EQ(server_->metrics().RequestCount(RpcMethod::kRecommend,
                                            grpc::StatusCode::INVALID_ARGUMENT),
            0)
      << "the client must refuse before calling";
  EXPECT_EQ(logs.count(), 0);
}

// ---------------------------------------------------------------------------
// Item 4: oversized metadata fails its own call only.

TEST(MetadataLimitTest, OversizedMetadataFailsOnlyItsOwnCall) {
  ScratchDir dir;
  const std::string path = dir.File("m.edlae");
  constexpr size_t kItems = 1500;
  ASSERT_TRUE(WriteVersionedModel(path, kItems, 1).ok());
  ServerOptions options = LoopbackOptions();
  options.model_path = path;
  absl::StatusOr<std::unique_ptr<RecommenderServer>> server =
      RecommenderServer::BuildAndStart(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = ChannelTo((*server)->port());
  auto stub = v1::Recommender::NewStub(channel);
  v1::RecommendRequest small;
  small.add_history_item_ids("i1");
  small.set_top_n(3);
  auto call = [&](const std::string& header_value) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!header_value.empty()) context.AddMetadata("x-padding", header_value);
    v1::RecommendResponse response;
    return stub->Recommend(&context, small, &response);
  };
  ASSERT_TRUE(call("").ok());  // connected, settings exchanged

  // A batch that takes a while to score, in flight on the same channel.
  v1::RecommendBatchRequest batch;
  for (int r = 0; r < 100; ++r) {
    v1::RecommendRequest* request = batch.add_requests();
    for (size_t i = 0; i < 500; ++i) {
      request->add_history_item_ids(absl::StrCat("i", (i * 3 + r) % kItems));
    }
    request->set_top_n(10);
  }
  for (int round = 0; round < 3; ++round) {
    grpc::ClientContext batch_context;
    batch_context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::RecommendBatchResponse batch_response;
    std::promise<grpc::Status> batch_done;
    stub->async()->RecommendBatch(
        &batch_context, &batch, &batch_response,
        [&batch_done](grpc::Status s) { batch_done.set_value(std::move(s)); });

    // 20 KiB: over the service's limit, refused by the server for this call.
    // The last round: 2 MiB, still refused for this call alone.
    const size_t size = round < 2 ? 20 * 1024 : 2 * 1024 * 1024;
    const grpc::Status oversized = call(std::string(size, 'a'));
    EXPECT_EQ(oversized.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << oversized.error_message();
    EXPECT_THAT(oversized.error_message(), HasSubstr("metadata"));
    if (round < 2) {
      EXPECT_THAT(oversized.error_message(),
                  HasSubstr("over this server's limit of 8192 bytes"));
    }

    const grpc::Status batch_status = batch_done.get_future().get();
    ASSERT_TRUE(batch_status.ok()) << round << ": " << batch_status.error_code()
                                   << " " << batch_status.error_message();
    ASSERT_EQ(batch_response.results_size(), 100);
    for (const v1::RecommendBatchResult& result : batch_response.results()) {
      EXPECT_EQ(result.code(), 0) << result.message();
    }
    // The next call on the same channel works, and so does one with
    // metadata just under the limit.
    const grpc::Status next = call("");
    EXPECT_TRUE(next.ok()) << next.error_code() << " " << next.error_message();
    const grpc::Status under = call(std::string(4 * 1024, 'b'));
    EXPECT_TRUE(under.ok())
        << under.error_code() << " " << under.error_message();
  }
  (*server)->Shutdown(absl::Now() + absl::Seconds(5));
}

}  // namespace
}  // namespace edlae::server
