// Production robustness of the server over real loopback gRPC: hot reload
// under load, corrupt models at start and reload, load shedding, deadlines,
// metrics, SIGTERM drain of the edlae-server binary.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/recommender_client.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/recommender_service.h"
#include "server/servable_model.h"
#include "server/server.h"
#include "tests/testing/http_get.h"
#include "tests/testing/model_corpus.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

using ::edlae::testing::CorruptVariants;
using ::edlae::testing::HttpGet;
using ::edlae::testing::ReadBytes;
using ::edlae::testing::ScratchDir;
using ::edlae::testing::WriteBytesTo;
using ::edlae::testing::WriteVersionedModel;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

// Publishes `bytes` as version `version` the way an operator should: fill a
// folder that the server ignores, then rename it into place.
void PublishBytes(const fs::path& dir, uint64_t version,
                  const std::string& bytes) {
  const fs::path staging = dir / absl::StrCat(version, ".staging");
  fs::create_directories(staging);
  WriteBytesTo((staging / kVersionModelFile).string(), bytes);
  fs::rename(staging, dir / absl::StrCat(version));
}

void PublishModel(const fs::path& dir, uint64_t version, size_t n) {
  const fs::path staging = dir / absl::StrCat(version, ".staging");
  fs::create_directories(staging);
  ASSERT_TRUE(
      WriteVersionedModel((staging / kVersionModelFile).string(), n, version)
          .ok());
  fs::rename(staging, dir / absl::StrCat(version));
}

std::unique_ptr<v1::Recommender::Stub> StubTo(int port) {
  return v1::Recommender::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

v1::RecommendRequest Request(int history, uint32_t top_n) {
  v1::RecommendRequest request;
  for (int i = 0; i < history; ++i) {
    request.add_history_item_ids(absl::StrCat("i", i));
  }
  request.set_top_n(top_n);
  return request;
}

grpc::Status Call(v1::Recommender::Stub& stub,
                  const v1::RecommendRequest& request,
                  v1::RecommendResponse* response,
                  absl::Duration timeout = absl::Seconds(10)) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return stub.Recommend(&context, request, response);
}

// Polls `done` every 5 ms for up to `limit`.
template <typename F>
bool WaitFor(F done, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

ServerOptions LoopbackOptions() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  return options;
}

// ---------------------------------------------------------------------------
// ModelManager without gRPC.

TEST(ModelManagerTest, ServesHighestLoadableVersionAndSkipsCorruptOnce) {
  ScratchDir dir;
  PublishModel(dir.path(), 1, 20);
  PublishModel(dir.path(), 2, 20);
  fs::create_directories(dir.path() / "9");           // no model file yet
  fs::create_directories(dir.path() / "12.staging");  // not a version name
  WriteBytesTo((dir.path() / "12.staging" / kVersionModelFile).string(), "x");

  auto servable = std::make_shared<ServableModel>();
  auto metrics = std::make_shared<ServerMetrics>();
  ModelSourceOptions source;
  source.model_dir = dir.path().string();
  ModelManager manager(source, servable, metrics);
  ASSERT_TRUE(manager.LoadInitial().ok());
  EXPECT_EQ(servable->Get().version, 2u);
  EXPECT_FALSE(manager.Check());  // nothing new

  const std::string good =
      ReadBytes((dir.path() / "2" / kVersionModelFile).string());
  PublishBytes(dir.path(), 3, good.substr(0, good.size() / 2));  // truncated
  EXPECT_FALSE(manager.Check());
  EXPECT_FALSE(manager.Check());  // counted once, not once per poll
  EXPECT_EQ(servable->Get().version, 2u);
  EXPECT_EQ(manager.reloads_failed(), 1u);
  EXPECT_EQ(metrics->ReloadCount(false), 1);

  PublishModel(dir.path(), 4, 20);
  EXPECT_TRUE(manager.Check());
  EXPECT_EQ(servable->Get().version, 4u);
  EXPECT_EQ(metrics->ModelVersion(), 4);
  EXPECT_EQ(manager.reloads_ok(), 2u);

  // Removing the served version rolls back to the best remaining one that
  // loads (3 is still the known-bad file and is skipped).
  fs::remove_all(dir.path() / "4");
  EXPECT_TRUE(manager.Check());
  EXPECT_EQ(servable->Get().version, 2u);
  EXPECT_EQ(manager.reloads_failed(), 1u);
}

TEST(ModelManagerTest, ReplacedModelFileIsReloadedAndBadReplacementIgnored) {
  ScratchDir dir;
  const std::string path = dir.File("m.edlae");
  ASSERT_TRUE(WriteVersionedModel(path, 10, 1).ok());
  auto servable = std::make_shared<ServableModel>();
  ModelSourceOptions source;
  source.model_path = path;
  ModelManager manager(source, servable, nullptr);
  ASSERT_TRUE(manager.LoadInitial().ok());
  const std::string first = servable->Get().model->fingerprint();

  ASSERT_TRUE(WriteVersionedModel(path, 10, 2).ok());  // atomic rename
  EXPECT_TRUE(manager.Check());
  const ServableHandle second = servable->Get();
  EXPECT_NE(second.model->fingerprint(), first);
  EXPECT_EQ(second.version, 0u);

  WriteBytesTo(dir.File("bad"), "not a model");
  fs::rename(dir.File("bad"), path);
  EXPECT_FALSE(manager.Check());
  EXPECT_EQ(servable->Get().model, second.model);
  EXPECT_EQ(manager.reloads_failed(), 1u);
}

TEST(ModelManagerTest, MissingModelDirIsAnErrorButEmptyDirServesLater) {
  ScratchDir dir;
  ModelSourceOptions source;
  source.model_dir = dir.File("absent");
  ModelManager missing(source, std::make_shared<ServableModel>(), nullptr);
  EXPECT_TRUE(absl::IsNotFound(missing.LoadInitial()));

  source.model_dir = dir.path().string();
  auto servable = std::make_shared<ServableModel>();
  ModelManager manager(source, servable, nullptr);
  bool serving = false;
  manager.SetOnServing([&serving](bool s) { serving = s; });
  ASSERT_TRUE(manager.LoadInitial().ok());
  EXPECT_FALSE(servable->Get());
  PublishModel(dir.path(), 5, 8);
  EXPECT_TRUE(manager.Check());
  EXPECT_TRUE(serving);
  EXPECT_EQ(servable->Get().version, 5u);
}

TEST(ModelDirServerTest, HealthTurnsServingWhenTheFirstVersionArrives) {
  ScratchDir dir;
  ServerOptions options = LoopbackOptions();
  options.model_dir = dir.path().string();
  options.poll_interval = absl::Milliseconds(10);
  auto server = RecommenderServer::BuildAndStart(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = client::RecommenderClient::Connect(
      absl::StrCat("127.0.0.1:", (*server)->port()));
  auto health = [&] {
    auto status = client->CheckHealth("edlae.v1.Recommender", absl::Seconds(5));
    return status.ok() ? *status : client::ServingStatus{};
  };
  EXPECT_EQ(health(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  v1::RecommendResponse response;
  EXPECT_EQ(
      Call(*StubTo((*server)->port()), Request(2, 3), &response).error_code(),
      grpc::StatusCode::UNAVAILABLE);
  PublishModel(dir.path(), 7, 12);
  EXPECT_TRUE(WaitFor([&] {
    return health() == grpc::health::v1::HealthCheckResponse::SERVING;
  }));
  ASSERT_TRUE(Call(*StubTo((*server)->port()), Request(2, 3), &response).ok());
  EXPECT_EQ(response.model_version(), 7u);
}

// ---------------------------------------------------------------------------
// Corrupt models through the server path.

TEST(CorruptModelTest, EveryVariantIsRefusedAtStartAndSkippedOnReload) {
  ScratchDir dir;
  const std::string good_path = dir.File("good.edlae");
  ASSERT_TRUE(WriteVersionedModel(good_path, 40, 1).ok());
  const std::vector<std::pair<std::string, std::string>> variants =
      CorruptVariants(ReadBytes(good_path));

  // Start-up with --model: a clean error, never a server.
  for (const auto& [name, bytes] : variants) {
    const std::string path = dir.File("bad.edlae");
    WriteBytesTo(path, bytes);
    ServerOptions options = LoopbackOptions();
    options.model_path = path;
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_FALSE(server.ok()) << name;
    EXPECT_THAT(std::string(server.status().message()),
                HasSubstr("cannot load model"))
        << name;
  }

  // Reload: each variant published as a newer version is counted and
  // skipped; version 1 answers every request in between.
  const fs::path models = dir.path() / "models";
  PublishBytes(models, 1, ReadBytes(good_path));
  ServerOptions options = LoopbackOptions();
  options.model_dir = models.string();
  options.poll_interval = absl::ZeroDuration();  // checks driven by the test
  auto server = RecommenderServer::BuildAndStart(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = StubTo((*server)->port());
  uint64_t version = 1;
  for (const auto& [name, bytes] : variants) {
    PublishBytes(models, ++version, bytes);
    EXPECT_FALSE((*server)->model_manager()->Check()) << name;
    v1::RecommendResponse response;
    ASSERT_TRUE(Call(*stub, Request(3, 5), &response).ok()) << name;
    EXPECT_EQ(response.model_version(), 1u) << name;
  }
  EXPECT_EQ((*server)->model_manager()->reloads_failed(), variants.size());
  EXPECT_EQ((*server)->metrics().ReloadCount(false),
            static_cast<double>(variants.size()));
}

// ---------------------------------------------------------------------------
// Hot reload under load.

TEST(ReloadUnderLoadTest, NoRequestFailsWhileVersionsValidCorruptValidArrive) {
  ScratchDir dir;
  const fs::path models = dir.path() / "models";
  PublishModel(models, 1, 300);
  ServerOptions options = LoopbackOptions();
  options.model_dir = models.string();
  options.poll_interval = absl::Milliseconds(20);
  options.service.worker_threads = 2;
  auto server = RecommenderServer::BuildAndStart(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  constexpr int kClients = 4;
  constexpr int kMaxCallsPerClient = 20000;  // bounds the loop in count
  std::atomic<bool> stop{false};
  std::atomic<int64_t> sent{0}, failed{0}, regressions{0};
  std::mutex mu;
  std::map<uint64_t, int64_t> answered_by;  // version → calls
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = StubTo(port);
      uint64_t last = 0;
      std::map<uint64_t, int64_t> mine;
      for (int i = 0; i < kMaxCallsPerClient && !stop.load(); ++i) {
        v1::RecommendResponse response;
        const grpc::Status status = Call(*stub, Request(5 + c, 10), &response);
        ++sent;
        if (!status.ok() || response.items_size() != 10) {
          ++failed;
          continue;
        }
        // One client's calls are sequential: versions never go back.
        if (response.model_version() < last) ++regressions;
        last = response.model_version();
        ++mine[last];
      }
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [v, n] : mine) answered_by[v] += n;
    });
  }
  auto served = [&](uint64_t v) {
    return WaitFor([&] { return (*server)->servable().Get().version == v; });
  };
  absl::SleepFor(absl::Milliseconds(150));
  PublishModel(models, 2, 300);
  EXPECT_TRUE(served(2));
  absl::SleepFor(absl::Milliseconds(150));
  const std::string good =
      ReadBytes((models / "2" / kVersionModelFile).string());
  std::string corrupt = good;
  corrupt[corrupt.size() / 2] ^= 0x01;  // one bit in B: checksum mismatch
  PublishBytes(models, 3, corrupt);
  EXPECT_TRUE(WaitFor(
      [&] { return (*server)->model_manager()->reloads_failed() == 1; }));
  absl::SleepFor(absl::Milliseconds(150));
  PublishModel(models, 4, 300);
  EXPECT_TRUE(served(4));
  absl::SleepFor(absl::Milliseconds(150));
  stop = true;
  for (std::thread& t : clients) t.join();

  std::printf(
      "[ figures  ] reload under load: %lld requests, %lld failed, "
      "reloads ok=%llu failed=%llu, answered by version:",
      static_cast<long long>(sent.load()),
      static_cast<long long>(failed.load()),
      static_cast<unsigned long long>((*server)->model_manager()->reloads_ok()),
      static_cast<unsigned long long>(
          (*server)->model_manager()->reloads_failed()));
  for (const auto& [v, n] : answered_by) {
    std::printf(" v%llu=%lld", static_cast<unsigned long long>(v),
                static_cast<long long>(n));
  }
  std::printf("\n");
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(regressions.load(), 0);
  EXPECT_GT(sent.load(), 100);
  EXPECT_EQ(answered_by.count(3), 0u);  // the corrupt version never served
  EXPECT_GT(answered_by[1], 0);
  EXPECT_GT(answered_by[2], 0);
  EXPECT_GT(answered_by[4], 0);
  EXPECT_EQ((*server)->model_manager()->reloads_ok(), 3u);  // 1, 2, 4
  EXPECT_EQ((*server)->model_manager()->reloads_failed(), 1u);
  EXPECT_EQ((*server)->metrics().ModelVersion(), 4);
}

// ---------------------------------------------------------------------------
// Load shedding, deadlines, metrics.

// A server on a 1500-item model where a 600-item history costs ~1 ms.
class OverloadTest : public ::testing::Test {
 protected:
  void Start(uint32_t max_concurrent, int workers) {
    ServerOptions options = LoopbackOptions();
    options.model_path = dir_.File("m.edlae");
    ASSERT_TRUE(WriteVersionedModel(options.model_path, 1500, 1).ok());
    options.service.limits.max_concurrent_requests = max_concurrent;
    options.service.worker_threads = workers;
    options.metrics_address = "127.0.0.1:0";
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  ScratchDir dir_;
  std::unique_ptr<RecommenderServer> server_;
};

TEST_F(OverloadTest, ExcessCallsAreShedAndAdmittedLatencyStaysBounded) {
  Start(/*max_concurrent=*/4, /*workers=*/2);
  constexpr int kClients = 48;  // 12× the limit
  constexpr int kCallsPerClient = 60;
  std::atomic<int64_t> ok{0}, shed{0}, other{0};
  std::mutex mu;
  std::vector<double> admitted_ms;
  std::vector<std::thread> clients;
  const v1::RecommendRequest request = Request(600, 10);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto stub = StubTo(server_->port());
      std::vector<double> mine;
      for (int i = 0; i < kCallsPerClient; ++i) {
        v1::RecommendResponse response;
        const auto start = std::chrono::steady_clock::now();
        const grpc::Status status = Call(*stub, request, &response);
        const double ms = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start)
                              .count();
        if (status.ok()) {
          ++ok;
          mine.push_back(ms);
        } else if (status.error_code() ==
                   grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++shed;
          EXPECT_THAT(status.error_message(),
                      HasSubstr("--max_concurrent_requests"));
        } else {
          ++other;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      admitted_ms.insert(admitted_ms.end(), mine.begin(), mine.end());
    });
  }
  for (std::thread& t : clients) t.join();
  ASSERT_FALSE(admitted_ms.empty());
  std::sort(admitted_ms.begin(), admitted_ms.end());
  const double p99 = admitted_ms[admitted_ms.size() * 99 / 100];
  std::printf(
      "[ figures  ] overload: %d calls, ok=%lld shed=%lld other=%lld, "
      "admitted p50=%.2f ms p99=%.2f ms\n",
      kClients * kCallsPerClient, static_cast<long long>(ok.load()),
      static_cast<long long>(shed.load()), static_cast<long long>(other.load()),
      admitted_ms[admitted_ms.size() / 2], p99);
  EXPECT_GT(shed.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(other.load(), 0);
  // At most 4 admitted calls of ~1 ms each ahead of any call: generous bound
  // for a loaded 2-core CI machine.
  EXPECT_LT(p99, 1000.0);
  EXPECT_EQ(server_->metrics().ShedCount(RpcMethod::kRecommend),
            static_cast<double>(shed.load()));
  EXPECT_EQ(server_->metrics().RequestCount(RpcMethod::kRecommend,
                                            grpc::StatusCode::OK),
            static_cast<double>(ok.load()));
  EXPECT_EQ(server_->metrics().Inflight(), 0);
  // Still alive and healthy.
  auto stub = StubTo(server_->port());
  v1::RecommendResponse response;
  EXPECT_TRUE(Call(*stub, Request(3, 5), &response).ok());
}

TEST_F(OverloadTest, ExpiredCallsAreNotScoredAndGetDeadlineExceeded) {
  Start(/*max_concurrent=*/0, /*workers=*/1);
  // One connected channel for every call, so a short deadline is spent in
  // the server's queue, not in the TCP handshake.
  auto stub = StubTo(server_->port());
  v1::RecommendResponse warm;
  ASSERT_TRUE(Call(*stub, Request(3, 5), &warm).ok());
  // How long one slow call takes here (sanitizer builds are several times
  // slower; the minimum of three ignores preemption). The fast calls' deadline
  // is two of those, while about kSlowClients slow calls queue ahead of them.
  absl::Duration slow = absl::InfiniteDuration();
  for (int i = 0; i < 3; ++i) {
    const absl::Time t0 = absl::Now();
    ASSERT_TRUE(Call(*stub, Request(1500, 10), &warm).ok());
    slow = std::min(slow, absl::Now() - t0);
  }
  // The floor leaves a fast call time to reach the server on a loaded
  // machine (gRPC refuses, client-side, a call whose deadline passed before
  // it was sent); about kSlowClients slow calls ahead still outlast it.
  const absl::Duration fast_deadline_after =
      std::max(absl::Milliseconds(5), 4 * slow);
  // Fill the single worker's queue with slow calls, then send calls whose
  // deadline passes while they wait.
  constexpr int kSlowClients = 32, kSlowCalls = 5, kFast = 4;
  std::vector<std::thread> threads;
  std::atomic<int> slow_ok{0}, fast_deadline{0}, slow_started{0};
  for (int i = 0; i < kSlowClients; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kSlowCalls; ++k) {
        ++slow_started;
        v1::RecommendResponse response;
        if (Call(*stub, Request(1500, 10), &response).ok()) ++slow_ok;
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return slow_started.load() > 2 * kSlowClients; }));
  for (int i = 0; i < kFast; ++i) {
    threads.emplace_back([&] {
      v1::RecommendResponse response;
      const grpc::Status status =
          Call(*stub, Request(1500, 10), &response, fast_deadline_after);
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        ++fast_deadline;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(slow_ok.load(), kSlowClients * kSlowCalls);
  EXPECT_EQ(fast_deadline.load(), kFast);
  // The server saw the expiry itself: it answered those calls with
  // DEADLINE_EXCEEDED (or CANCELLED, when gRPC had already cancelled them)
  // instead of scoring responses nobody reads.
  auto stopped = [&] {
    return server_->metrics().RequestCount(
               RpcMethod::kRecommend, grpc::StatusCode::DEADLINE_EXCEEDED) +
           server_->metrics().RequestCount(RpcMethod::kRecommend,
                                           grpc::StatusCode::CANCELLED);
  };
  // A fast call whose deadline passed on the way may be refused by the
  // client library itself; those that reached the queue must be stopped there.
  EXPECT_TRUE(WaitFor([&] { return stopped() >= 1; })) << stopped();
  // No expired call was scored: OK answers are exactly the warm-up and slow
  // ones.
  EXPECT_EQ(server_->metrics().RequestCount(RpcMethod::kRecommend,
                                            grpc::StatusCode::OK),
            4 + kSlowClients * kSlowCalls);
}

TEST(RecommendWithModelTest, StopHookCancelsScoring) {
  ScratchDir dir;
  ASSERT_TRUE(WriteVersionedModel(dir.File("m"), 5000, 1).ok());
  auto model = Model::Open(dir.File("m"));
  ASSERT_TRUE(model.ok());
  ServableHandle handle{*model, 1};
  v1::RecommendResponse response;
  const absl::Status status = RecommendWithModel(
      handle, Request(3, 5), ServiceLimits(), &response, [] { return true; });
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
  EXPECT_TRUE(
      RecommendWithModel(handle, Request(3, 5), ServiceLimits(), &response, [] {
        return false;
      }).ok());
  EXPECT_EQ(response.items_size(), 5);
}

TEST(RecommendWithModelTest, FiniteWeightsThatOverflowScoresAreRefused) {
  ScratchDir dir;
  ASSERT_TRUE(WriteVersionedModel(dir.File("m"), 10, 1).ok());
  auto model = Model::Open(dir.File("m"));
  ASSERT_TRUE(model.ok());
  v1::RecommendRequest request = Request(10, 5);
  request.set_exclude_history(false);
  // Finite, but multiplied by B and summed over ten rows: inf.
  for (int i = 0; i < 10; ++i) request.add_history_weights(3.0e38f);
  v1::RecommendResponse response;
  const absl::Status status = RecommendWithModel(
      ServableHandle{*model, 1}, request, ServiceLimits(), &response);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(response.items_size(), 0);
}

// A raw HTTP/1.0 GET of http://127.0.0.1:port/path; "" on failure.

TEST_F(OverloadTest, MetricsEndpointServesEveryFamily) {
  Start(16, 1);
  ASSERT_GT(server_->metrics_port(), 0);
  auto stub = StubTo(server_->port());
  v1::RecommendRequest request = Request(2, 3);
  request.add_history_item_ids("no-such-item");
  v1::RecommendResponse response;
  ASSERT_TRUE(Call(*stub, request, &response).ok());
  ASSERT_FALSE(Call(*stub, Request(2, 0), &response).ok());  // top_n 0

  const std::string body = HttpGet(server_->metrics_port(), "/metrics");
  // Per-model series are labelled with the model's name (--model_name).
  EXPECT_THAT(body, HasSubstr("edlae_requests_total{code=\"OK\",method="
                              "\"Recommend\",model=\"default\"} 1"));
  EXPECT_THAT(body, HasSubstr("edlae_requests_total{code=\"INVALID_ARGUMENT\","
                              "method=\"Recommend\",model=\"default\"} 1"));
  EXPECT_THAT(body, HasSubstr("edlae_request_latency_seconds_bucket"));
  EXPECT_THAT(body, HasSubstr("edlae_inflight_requests 0"));
  EXPECT_THAT(body,
              HasSubstr("edlae_shed_requests_total{method=\"Recommend\"} 0"));
  EXPECT_THAT(body, HasSubstr("edlae_model_version{model=\"default\"} 0"));
  EXPECT_THAT(body, HasSubstr(absl::StrCat(
                        "edlae_model_info{fingerprint=\"",
                        server_->servable().Get().model->fingerprint(),
                        "\",kind=\"dense\",model=\"default\"} 1")));
  EXPECT_THAT(body, HasSubstr("edlae_model_load_seconds{model=\"default\"}"));
  EXPECT_THAT(
      body,
      HasSubstr(
          "edlae_model_reloads_total{model=\"default\",result=\"ok\"} 1"));
  EXPECT_THAT(
      body,
      HasSubstr(
          "edlae_model_reloads_total{model=\"default\",result=\"failed\"} 0"));
  EXPECT_THAT(body, HasSubstr("edlae_unknown_items_total 1"));
  EXPECT_THAT(body, HasSubstr("edlae_batch_size_bucket"));
  EXPECT_THAT(body, HasSubstr("edlae_inline_requests_total 2"));
}

// ---------------------------------------------------------------------------
// Inline scoring: small Recommend calls scored on the gRPC thread.

// A server on a 1500-item dense model: a 3-item history is ~6,000 units of
// work (inline by default), a 600-item one ~900,000 (handed to a worker).
class InlineTest : public ::testing::Test {
 protected:
  void Start(uint64_t inline_max_work, uint32_t max_concurrent = 256,
             int workers = 2, size_t items = 1500) {
    ServerOptions options = LoopbackOptions();
    options.model_path = dir_.File("m.edlae");
    ASSERT_TRUE(WriteVersionedModel(options.model_path, items, 1).ok());
    options.service.inline_max_work = inline_max_work;
    options.service.limits.max_concurrent_requests = max_concurrent;
    options.service.worker_threads = workers;
    // One scan per call, checked for its deadline between its blocks: a
    // split scan (SplitScanTest) would start both blocks of the deadline
    // tests' 4000-item model at once, leaving no check to stop at.
    options.service.split_min_work = 0;
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = StubTo(server_->port());
  }

  // The answer of core scoring, in-process on the served model.
  v1::RecommendResponse Direct(const v1::RecommendRequest& request) const {
    v1::RecommendResponse response;
    const absl::Status status = RecommendWithModel(
        server_->servable().Get(), request, ServiceLimits(), &response);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }

  static std::vector<std::string> IdsOf(const v1::RecommendResponse& r) {
    std::vector<std::string> ids;
    for (const v1::ScoredItem& item : r.items()) ids.push_back(item.item_id());
    return ids;
  }

  double Count(grpc::StatusCode code) const {
    return server_->metrics().RequestCount(RpcMethod::kRecommend, code);
  }

  ScratchDir dir_;
  std::unique_ptr<RecommenderServer> server_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

TEST(EstimatedScoringWorkTest, DenseAndLowRank) {
  ScratchDir dir;
  ASSERT_TRUE(WriteVersionedModel(dir.File("d"), 100, 1).ok());
  auto dense = Model::Open(dir.File("d"));
  ASSERT_TRUE(dense.ok());
  EXPECT_EQ(EstimatedScoringWork(**dense, Request(3, 5)), 4u * 100);
  EXPECT_EQ(EstimatedScoringWork(**dense, Request(0, 5)), 100u);

  const size_t n = 50, rank = 4;
  std::vector<float> u(n * rank, 0.5f), v(n * rank, 0.25f), popularity(n, 1);
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(absl::StrCat("i", i));
  ASSERT_TRUE(
      WriteLowRankModel(dir.File("lr"), {rank, u, v, ids, popularity, {}})
          .ok());
  auto low_rank = Model::Open(dir.File("lr"));
  ASSERT_TRUE(low_rank.ok());
  EXPECT_EQ(EstimatedScoringWork(**low_rank, Request(10, 5)),
            (10u + n) * rank + n);
}

TEST_F(InlineTest, SmallCallsAreScoredInlineExactlyAsCoreRecommend) {
  Start(/*inline_max_work=*/200000);
  std::vector<v1::RecommendRequest> requests;
  for (int k = 1; k <= 6; ++k) requests.push_back(Request(k, 3 + k));
  requests[1].add_exclude_item_ids("i7");
  requests[2].set_exclude_history(false);
  for (const char* id : {"i3", "i9", "i11", "i12", "nope"}) {
    requests[3].add_candidate_item_ids(id);
  }
  requests[4].add_history_item_ids("unknown-id");
  for (int i = 0; i < requests[5].history_item_ids_size(); ++i) {
    requests[5].add_history_weights(0.5f * static_cast<float>(i) - 1.0f);
  }
  for (size_t r = 0; r < requests.size(); ++r) {
    SCOPED_TRACE(r);
    v1::RecommendResponse got;
    ASSERT_TRUE(Call(*stub_, requests[r], &got).ok());
    const v1::RecommendResponse want = Direct(requests[r]);
    ASSERT_EQ(got.items_size(), want.items_size());
    for (int i = 0; i < want.items_size(); ++i) {
      EXPECT_EQ(got.items(i).item_id(), want.items(i).item_id()) << i;
      EXPECT_EQ(got.items(i).score(), want.items(i).score()) << i;
    }
    EXPECT_EQ(got.unknown_item_count(), want.unknown_item_count());
    EXPECT_EQ(got.popularity_fallback(), want.popularity_fallback());
    EXPECT_EQ(got.model_fingerprint(), want.model_fingerprint());
  }
  // Errors are answered inline too, and counted as before.
  v1::RecommendResponse response;
  EXPECT_EQ(Call(*stub_, Request(2, 0), &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const double n = static_cast<double>(requests.size());
  EXPECT_EQ(server_->metrics().InlineCount(), n + 1);
  EXPECT_EQ(Count(grpc::StatusCode::OK), n);
  EXPECT_EQ(Count(grpc::StatusCode::INVALID_ARGUMENT), 1);
  const auto [batches, batched] = server_->metrics().BatchSizeTotals();
  EXPECT_EQ(batches, requests.size() + 1);
  EXPECT_EQ(batched, n + 1);
  EXPECT_EQ(server_->metrics().UnknownItems(), 2);  // "nope", "unknown-id"
  EXPECT_EQ(server_->metrics().Inflight(), 0);
}

TEST_F(InlineTest, LargeCallsAndDisabledInlineGoToTheWorkers) {
  Start(/*inline_max_work=*/200000);
  v1::RecommendResponse response;
  ASSERT_TRUE(Call(*stub_, Request(600, 10), &response).ok());
  EXPECT_EQ(IdsOf(response), IdsOf(Direct(Request(600, 10))));
  EXPECT_EQ(server_->metrics().InlineCount(), 0);

  server_.reset();
  Start(/*inline_max_work=*/0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Call(*stub_, Request(2, 5), &response).ok());
  }
  EXPECT_EQ(server_->metrics().InlineCount(), 0);
  EXPECT_EQ(Count(grpc::StatusCode::OK), 3);
}

TEST_F(InlineTest, DeadlineStopsAnInlineCall) {
  // Everything inline, on a 4000-item model where a 4000-item history reads
  // 64 MB: milliseconds even on a fast machine, far more than the deadline.
  Start(/*inline_max_work=*/uint64_t{1} << 40, 256, 2, /*items=*/4000);
  v1::RecommendResponse response;
  ASSERT_TRUE(Call(*stub_, Request(3, 5), &response).ok());
  auto stopped = [&] {
    return Count(grpc::StatusCode::DEADLINE_EXCEEDED) +
           Count(grpc::StatusCode::CANCELLED);
  };
  // A call may expire before it reaches the server (loaded machine); the
  // first one that reaches it must be stopped there, not scored to the end.
  for (int i = 0; i < 20 && stopped() < 1; ++i) {
    EXPECT_EQ(Call(*stub_, Request(4000, 10), &response, absl::Milliseconds(1))
                  .error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
    WaitFor([&] { return stopped() >= 1; }, absl::Milliseconds(200));
  }
  EXPECT_GE(stopped(), 1);
  EXPECT_TRUE(WaitFor([&] { return server_->metrics().Inflight() == 0; }));
  EXPECT_EQ(Count(grpc::StatusCode::OK), 1);  // the warm-up call only
  // Each stopped call was inline, except one that arrived while the previous
  // was still being stopped (one inline slot on a small machine).
  EXPECT_GE(server_->metrics().InlineCount(), 1 + 1);
  EXPECT_LE(server_->metrics().InlineCount(), 1 + stopped());
}

TEST_F(InlineTest, ClientCancellationOfAnInlineCallIsAnsweredAndReleased) {
  Start(/*inline_max_work=*/uint64_t{1} << 40, 256, 2, /*items=*/3000);
  v1::RecommendResponse response;
  absl::Duration full = absl::InfiniteDuration();
  for (int i = 0; i < 3; ++i) {
    const absl::Time t0 = absl::Now();
    ASSERT_TRUE(Call(*stub_, Request(3000, 10), &response).ok());
    full = std::min(full, absl::Now() - t0);
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  std::promise<grpc::Status> done;
  const v1::RecommendRequest request = Request(3000, 10);
  stub_->async()->Recommend(&context, &request, &response,
                            [&done](grpc::Status s) { done.set_value(s); });
  absl::SleepFor(full / 10);
  context.TryCancel();
  const grpc::Status status = done.get_future().get();
  // OK only when the call was answered before the cancellation.
  EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::CANCELLED)
      << status.error_code();
  // The server answers the call (when gRPC handed it over before the
  // cancellation) — CANCELLED when IsCancelled() turned true in time; gRPC
  // 1.51 often reports it only after a few ms, on the worker path too, so the
  // call may be scored to the end — and always releases its admission.
  EXPECT_TRUE(WaitFor([&] { return server_->metrics().Inflight() == 0; }));
  absl::SleepFor(absl::Milliseconds(50));
  const double answered =
      Count(grpc::StatusCode::CANCELLED) + Count(grpc::StatusCode::OK);
  EXPECT_GE(answered, 3);
  EXPECT_LE(answered, 4);
  if (status.ok()) {
    EXPECT_EQ(Count(grpc::StatusCode::OK), 4);
  }
  EXPECT_EQ(server_->metrics().InlineCount(), answered);
  EXPECT_EQ(server_->metrics().Inflight(), 0);
}

TEST_F(InlineTest, SheddingStillCountsWithInlineCalls) {
  // Two admitted calls at most, one worker: large calls hold admissions on
  // the worker while small ones are scored inline or shed.
  Start(/*inline_max_work=*/200000, /*max_concurrent=*/2, /*workers=*/1);
  constexpr int kClients = 8, kCalls = 40;
  std::atomic<int> ok{0}, shed{0}, other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = StubTo(server_->port());
      const v1::RecommendRequest request =
          c % 2 == 0 ? Request(600, 10) : Request(3, 10);
      for (int i = 0; i < kCalls; ++i) {
        v1::RecommendResponse response;
        const grpc::Status status = Call(*stub, request, &response);
        if (status.ok()) {
          ++ok;
        } else if (status.error_code() ==
                   grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++shed;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(shed.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(server_->metrics().ShedCount(RpcMethod::kRecommend), shed.load());
  EXPECT_EQ(Count(grpc::StatusCode::RESOURCE_EXHAUSTED), shed.load());
  EXPECT_EQ(Count(grpc::StatusCode::OK), ok.load());
  // Small admitted calls ran inline (unless the inline slots were taken);
  // shed calls never reached scoring.
  EXPECT_GT(server_->metrics().InlineCount(), 0);
  EXPECT_LT(server_->metrics().InlineCount(), ok.load());
  const auto [batches, batched] = server_->metrics().BatchSizeTotals();
  EXPECT_EQ(batched, ok.load());
  EXPECT_EQ(server_->metrics().Inflight(), 0);
}

// ---------------------------------------------------------------------------
// SIGTERM while calls are in flight, against the real binary.

// Runs edlae-server with `inline_max_work`, sends slow calls from many
// clients, SIGTERMs it and checks the drain.
void ExpectSigtermDrainsInFlightCalls(const char* inline_max_work) {
  ScratchDir dir;
  const std::string model = dir.File("m.edlae");
  ASSERT_TRUE(WriteVersionedModel(model, 2500, 1).ok());
  const std::string port_file = dir.File("port");
  const std::string binary =
      absl::StrCat(EDLAE_BINARY_DIR, "/server/edlae-server");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string log = dir.File("server.log");
    std::freopen(log.c_str(), "w", stderr);
    ::execl(binary.c_str(), binary.c_str(), "--model", model.c_str(), "--host",
            "127.0.0.1", "--port", "0", "--port_file", port_file.c_str(),
            "--metrics_address=", "--worker_threads", "1",
            "--max_concurrent_requests", "0", "--shutdown_grace", "20s",
            "--inline_max_work", inline_max_work, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int port = 0;
  ASSERT_TRUE(WaitFor([&] {
    std::FILE* f = std::fopen(port_file.c_str(), "r");
    if (f == nullptr) return false;
    const bool read = std::fscanf(f, "%d", &port) == 1;
    std::fclose(f);
    return read;
  }));

  // One worker, many slow calls: at SIGTERM most are queued or scoring.
  // A call that starts within kRace of the signal may meet the server's
  // GOAWAY before its handler runs (gRPC then refuses or cancels it, which a
  // client retries); every call started earlier has reached the handler and
  // must complete OK.
  using Clock = std::chrono::steady_clock;
  constexpr auto kRace = std::chrono::milliseconds(10);
  constexpr int kClients = 24;
  std::atomic<bool> signalled{false};
  std::atomic<Clock::rep> signal_time{0};
  std::atomic<int> in_flight_ok{0}, in_flight_failed{0}, racing{0};
  std::atomic<int> started{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto stub = StubTo(port);
      for (int i = 0; i < 200 && !signalled.load(); ++i) {
        ++started;
        const Clock::time_point start = Clock::now();
        v1::RecommendResponse response;
        const grpc::Status status = Call(*stub, Request(2000, 10), &response);
        if (!signalled.load()) {
          if (!status.ok()) ++in_flight_failed;  // failed with no signal
          continue;
        }
        const Clock::time_point signal_at(Clock::duration(signal_time.load()));
        if (start + kRace > signal_at) {
          ++racing;
        } else if (status.ok()) {
          ++in_flight_ok;
        } else {
          ++in_flight_failed;
          std::printf("in-flight call failed: %d %s\n",
                      static_cast<int>(status.error_code()),
                      status.error_message().c_str());
        }
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return started.load() > 3 * kClients; }));
  signal_time = Clock::now().time_since_epoch().count();
  signalled = true;
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  for (std::thread& t : clients) t.join();
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::printf(
      "[ figures  ] SIGTERM: %d calls in flight completed OK, %d failed, %d "
      "sent within %lld ms of the signal\n",
      in_flight_ok.load(), in_flight_failed.load(), racing.load(),
      static_cast<long long>(kRace.count()));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GT(in_flight_ok.load(), 0);
  EXPECT_EQ(in_flight_failed.load(), 0);
  const std::string log = ReadBytes(dir.File("server.log"));
  EXPECT_THAT(log, HasSubstr("event=shutdown signal=SIGTERM"));
  EXPECT_THAT(log, HasSubstr("event=stopped"));
}

TEST(SigtermTest, InFlightCallsCompleteAndTheServerExitsZero) {
  ExpectSigtermDrainsInFlightCalls("0");  // every call on the worker
}

TEST(SigtermTest, InFlightInlineCallsCompleteToo) {
  // Every call small enough to run inline: one at a time on a gRPC thread,
  // the others on the worker.
  ExpectSigtermDrainsInFlightCalls("1000000000000");
}

// SIGHUP makes the binary look for a new version at once (the poll interval
// here is an hour).
TEST(SighupTest, NewVersionIsServedRightAfterSighup) {
  ScratchDir dir;
  const fs::path models = dir.path() / "models";
  PublishModel(models, 1, 20);
  const std::string port_file = dir.File("port");
  const std::string binary =
      absl::StrCat(EDLAE_BINARY_DIR, "/server/edlae-server");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen(dir.File("server.log").c_str(), "w", stderr);
    ::execl(binary.c_str(), binary.c_str(), "--model_dir",
            models.string().c_str(), "--poll_interval", "1h", "--host",
            "127.0.0.1", "--port", "0", "--port_file", port_file.c_str(),
            "--metrics_address=", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int port = 0;
  ASSERT_TRUE(WaitFor([&] {
    std::FILE* f = std::fopen(port_file.c_str(), "r");
    if (f == nullptr) return false;
    const bool read = std::fscanf(f, "%d", &port) == 1;
    std::fclose(f);
    return read;
  }));
  auto stub = StubTo(port);
  auto version = [&] {
    v1::RecommendResponse response;
    return Call(*stub, Request(2, 3), &response).ok() ? response.model_version()
                                                      : uint64_t{999};
  };
  EXPECT_EQ(version(), 1u);
  PublishModel(models, 2, 20);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(version(), 1u);  // no poll for an hour
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] { return version() == 2u; }));
  stub.reset();  // an idle open connection would hold up gRPC's shutdown
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_THAT(ReadBytes(dir.File("server.log")),
              HasSubstr("event=model_check_requested signal=SIGHUP"));
}

}  // namespace
}  // namespace edlae::server
