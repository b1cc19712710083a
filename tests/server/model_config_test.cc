// Many models by name: --model_config parsing and its errors, version
// policies and labels, and two models served over loopback gRPC while one is
// reloaded and the other removed under load.
#include "server/model_config.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/model_manager.h"
#include "server/multi_model_manager.h"
#include "server/server.h"
#include "tests/testing/http_get.h"
#include "tests/testing/model_corpus.h"
#include "tests/testing/run_client.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

using ::edlae::testing::HttpGet;
using ::edlae::testing::RunClient;
using ::edlae::testing::ScratchDir;
using ::edlae::testing::WriteVersionedModel;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Parsing.

absl::StatusOr<std::vector<ModelSpec>> Parse(const std::string& text) {
  return ParseModelServerConfig(text, "models.config", ModelSourceOptions());
}

TEST(ParseModelServerConfigTest, TheIssuesTfServingExampleParses) {
  auto specs = Parse(R"pb(
    model_config_list {
      config {
        name: "books"
        base_path: "/models/books"
        model_platform: "tensorflow"
        model_version_policy { latest { num_versions: 1 } }
        version_labels { key: "stable" value: 2 }
      }
      config {
        name: "movies"
        base_path: "/models/movies"
        model_version_policy { specific { versions: 3 versions: 5 } }
        version_labels { key: "canary" value: 5 }
        version_labels { key: "stable" value: 3 }
      }
      config {
        name: "music"
        base_path: "/models/music"
        model_version_policy { all {} }
      }
    }
  )pb");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 3u);
  const ModelSpec& books = (*specs)[0];
  EXPECT_EQ(books.name, "books");
  EXPECT_EQ(books.source.model_dir, "/models/books");
  EXPECT_EQ(books.source.policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(books.source.policy.Limit(), 1u);
  EXPECT_EQ(books.version_labels.at("stable"), 2u);
  const ModelSpec& movies = (*specs)[1];
  EXPECT_EQ(movies.source.policy.kind, VersionPolicy::Kind::kSpecific);
  EXPECT_THAT(movies.source.policy.versions,
              ::testing::UnorderedElementsAre(3u, 5u));
  EXPECT_EQ(movies.version_labels.size(), 2u);
  EXPECT_EQ((*specs)[2].source.policy.kind, VersionPolicy::Kind::kAll);
}

TEST(ParseModelServerConfigTest, NoPolicyMeansLatestOneAndDefaultsCarryOver) {
  ModelSourceOptions defaults;
  defaults.warmup = false;
  defaults.snapshot = false;
  auto specs = ParseModelServerConfig(
      R"(model_config_list { config { name: "a" base_path: "/m/a" } })", "f",
      defaults);
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 1u);
  EXPECT_EQ((*specs)[0].source.policy, VersionPolicy());
  EXPECT_FALSE((*specs)[0].source.warmup);
  EXPECT_FALSE((*specs)[0].source.snapshot);
}

TEST(ParseModelServerConfigTest, EveryMistakeIsAnInvalidArgumentSayingWhat) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"model_config_list { config { name: \"a\" base_path: \"/m\" }",
       "models.config"},  // unbalanced: line:column from the parser
      {"model_config_list { config { name: \"a\" base_path: \"/m\" "
       "logging_config {} } }",
       "logging_config"},  // TF Serving field edlae does not support
      {"", "model_config_list"},
      {"model_config_list { }", "no model to serve"},
      {"model_config_list { config { base_path: \"/m\" } }", "no name"},
      {"model_config_list { config { name: \"a\" } }", "base_path"},
      {"model_config_list { config { name: \"a\" base_path: \"/m\" } "
       "config { name: \"a\" base_path: \"/n\" } }",
       "'a' is configured twice"},
      {"model_config_list { config { name: \"a\" base_path: \"/m\" "
       "model_version_policy { specific { } } } }",
       "specific"},
      {"model_config_list { config { name: \"a\" base_path: \"/m\" "
       "model_version_policy { specific { versions: -1 } } } }",
       "-1"},
      {"model_config_list { config { name: \"a\" base_path: \"/m\" "
       "model_version_policy { latest { num_versions: 5000 } } } }",
       "5000"},
      {"model_config_list { config { name: \"a\" base_path: \"/m\" "
       "version_labels { key: \"\" value: 1 } } }",
       "label"},
      {"model_config_list { config { name: \"a\" base_path: \"/m\" "
       "version_labels { key: \"stable\" value: -2 } } }",
       "-2"},
      {"model_config_list { config { name: \"a\" base_path: \"/m\" "
       "model_version_policy { specific { versions: 1 } } "
       "version_labels { key: \"stable\" value: 2 } } }",
       "stable"},  // a label naming a version the policy never serves
  };
  for (const auto& [text, expected] : cases) {
    auto specs = Parse(text);
    ASSERT_FALSE(specs.ok()) << text;
    EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_THAT(specs.status().message(), HasSubstr(expected)) << text;
    EXPECT_THAT(specs.status().message(), HasSubstr("models.config")) << text;
  }
}

TEST(ReadModelServerConfigTest, MissingFileIsNotFoundNamingIt) {
  auto specs =
      ReadModelServerConfig("/no/such/models.config", ModelSourceOptions());
  ASSERT_FALSE(specs.ok());
  EXPECT_THAT(specs.status().message(), HasSubstr("/no/such/models.config"));
}

// ---------------------------------------------------------------------------
// Version policies.

TEST(VersionPolicyTest, LatestAllAndSpecificSelectAsTfServing) {
  const std::vector<uint64_t> available = {1, 3, 2, 7};
  VersionPolicy latest;
  EXPECT_THAT(SelectVersions(latest, available), ElementsAre(7u));
  latest.num_versions = 0;  // 0 counts as 1
  EXPECT_THAT(SelectVersions(latest, available), ElementsAre(7u));
  latest.num_versions = 2;
  EXPECT_THAT(SelectVersions(latest, available), ElementsAre(7u, 3u));
  latest.num_versions = 10;
  EXPECT_THAT(SelectVersions(latest, available), ElementsAre(7u, 3u, 2u, 1u));
  VersionPolicy all;
  all.kind = VersionPolicy::Kind::kAll;
  EXPECT_THAT(SelectVersions(all, available), ElementsAre(7u, 3u, 2u, 1u));
  VersionPolicy specific;
  specific.kind = VersionPolicy::Kind::kSpecific;
  specific.versions = {2, 9, 1};  // 9 is not there
  EXPECT_THAT(SelectVersions(specific, available), ElementsAre(2u, 1u));
  EXPECT_TRUE(specific.Allows(9));
  EXPECT_FALSE(specific.Allows(7));
}

// ---------------------------------------------------------------------------
// Serving over loopback gRPC.

void PublishModel(const fs::path& dir, uint64_t version, size_t n) {
  const fs::path staging = dir / absl::StrCat(version, ".staging");
  fs::create_directories(staging);
  ASSERT_TRUE(
      WriteVersionedModel((staging / kVersionModelFile).string(), n, version)
          .ok());
  fs::rename(staging, dir / absl::StrCat(version));
}

// Replaces the config file by rename, as an operator's tooling would.
void WriteConfig(const fs::path& path, const std::string& text) {
  const fs::path staging = path.string() + ".tmp";
  ::edlae::testing::WriteBytesTo(staging.string(), text);
  fs::rename(staging, path);
}

std::string ConfigEntry(const std::string& name, const fs::path& base,
                        const std::string& extra = "") {
  return absl::StrCat("config { name: \"", name, "\" base_path: \"",
                      base.string(), "\" ", extra, " }\n");
}

std::string ConfigList(const std::string& entries) {
  return absl::StrCat("model_config_list {\n", entries, "}\n");
}

template <typename F>
bool WaitFor(F done, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

std::unique_ptr<v1::Recommender::Stub> StubTo(int port) {
  return v1::Recommender::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

v1::RecommendRequest RequestFor(const std::string& model, uint32_t top_n = 5) {
  v1::RecommendRequest request;
  request.set_model_name(model);
  for (int i = 0; i < 4; ++i) {
    request.add_history_item_ids(absl::StrCat("i", i));
  }
  request.set_top_n(top_n);
  return request;
}

grpc::Status Recommend(v1::Recommender::Stub& stub,
                       const v1::RecommendRequest& request,
                       v1::RecommendResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return stub.Recommend(&context, request, response);
}

grpc::Status Info(v1::Recommender::Stub& stub,
                  const v1::GetModelInfoRequest& request, v1::ModelInfo* info) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return stub.GetModelInfo(&context, request, info);
}

// Two models: "books" (60 items, versions 1 and 2, labels) and "movies"
// (90 items, version 7), from a config file polled every 20 ms.
class TwoModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    books_ = dir_.path() / "books";
    movies_ = dir_.path() / "movies";
    config_ = dir_.path() / "models.config";
    PublishModel(books_, 1, 60);
    PublishModel(books_, 2, 60);
    PublishModel(movies_, 7, 90);
    WriteConfig(config_, BothModels());
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.metrics_address = "127.0.0.1:0";
    options.model_config_path = config_.string();
    options.poll_interval = absl::Milliseconds(20);
    options.service.worker_threads = 2;
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = StubTo(server_->port());
  }

  std::string BothModels() const {
    return ConfigList(
        ConfigEntry("books", books_,
                    "model_version_policy { all {} } "
                    "version_labels { key: \"stable\" value: 1 } "
                    "version_labels { key: \"canary\" value: 2 }") +
        ConfigEntry("movies", movies_));
  }

  std::string Target() const {
    return absl::StrCat("--target 127.0.0.1:", server_->port());
  }

  ScratchDir dir_;
  fs::path books_, movies_, config_;
  std::unique_ptr<RecommenderServer> server_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

TEST_F(TwoModelTest, EachNameAnswersWithItsOwnModel) {
  for (const auto& [name, items, version] :
       std::vector<std::tuple<std::string, uint64_t, uint64_t>>{
           {"books", 60, 2}, {"movies", 90, 7}}) {
    v1::GetModelInfoRequest request;
    request.set_model_name(name);
    v1::ModelInfo info;
    ASSERT_TRUE(Info(*stub_, request, &info).ok()) << name;
    EXPECT_EQ(info.model_name(), name);
    EXPECT_EQ(info.num_items(), items);
    EXPECT_EQ(info.model_version(), version);
    v1::RecommendResponse response;
    ASSERT_TRUE(Recommend(*stub_, RequestFor(name), &response).ok()) << name;
    EXPECT_EQ(response.model_version(), version);
    EXPECT_EQ(response.items_size(), 5);
  }
  EXPECT_THAT(server_->models()->model_names(), ElementsAre("books", "movies"));
}

TEST_F(TwoModelTest, VersionsAndLabelsSelectTheVersion) {
  v1::GetModelInfoRequest info_request;
  info_request.set_model_name("books");
  v1::ModelInfo info;
  ASSERT_TRUE(Info(*stub_, info_request, &info).ok());
  EXPECT_THAT(info.served_versions(), ElementsAre(2u, 1u));
  EXPECT_EQ(info.version_labels().at("stable"), 1u);
  EXPECT_EQ(info.version_labels().at("canary"), 2u);

  v1::RecommendResponse response;
  v1::RecommendRequest request = RequestFor("books");
  request.set_model_version(1);
  ASSERT_TRUE(Recommend(*stub_, request, &response).ok());
  EXPECT_EQ(response.model_version(), 1u);
  request.clear_model_version();
  request.set_version_label("canary");
  ASSERT_TRUE(Recommend(*stub_, request, &response).ok());
  EXPECT_EQ(response.model_version(), 2u);
  request.set_version_label("stable");
  ASSERT_TRUE(Recommend(*stub_, request, &response).ok());
  EXPECT_EQ(response.model_version(), 1u);
  // Versions 1 and 2 differ (WriteVersionedModel mixes the version in).
  v1::RecommendResponse v2;
  request.set_version_label("canary");
  ASSERT_TRUE(Recommend(*stub_, request, &v2).ok());
  EXPECT_NE(response.model_fingerprint(), v2.model_fingerprint());

  // Errors, with what is available in the message.
  request.set_version_label("nightly");
  grpc::Status status = Recommend(*stub_, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("canary"));
  EXPECT_THAT(status.error_message(), HasSubstr("stable"));
  request.set_version_label("stable");
  request.set_model_version(1);
  status = Recommend(*stub_, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.clear_version_label();
  request.set_model_version(9);
  status = Recommend(*stub_, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("2"));
}

TEST_F(TwoModelTest, UnknownOrMissingNameSaysWhichModelsAreServed) {
  v1::RecommendResponse response;
  grpc::Status status = Recommend(*stub_, RequestFor("music"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("music"));
  EXPECT_THAT(status.error_message(), HasSubstr("books"));
  EXPECT_THAT(status.error_message(), HasSubstr("movies"));
  // Two models, no default: the name is required.
  status = Recommend(*stub_, RequestFor(""), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("model_name"));
  EXPECT_THAT(status.error_message(), HasSubstr("books"));
  // SimilarItems and GetModelInfo resolve the same way.
  v1::SimilarItemsRequest similar;
  similar.set_model_name("music");
  similar.add_item_ids("i1");
  similar.set_top_n(3);
  grpc::ClientContext context;
  status = stub_->SimilarItems(&context, similar, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  v1::GetModelInfoRequest info_request;
  info_request.set_model_name("music");
  v1::ModelInfo info;
  EXPECT_EQ(Info(*stub_, info_request, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(TwoModelTest, MetricsAreLabelledByModel) {
  v1::RecommendResponse response;
  ASSERT_TRUE(Recommend(*stub_, RequestFor("books"), &response).ok());
  ASSERT_TRUE(Recommend(*stub_, RequestFor("books"), &response).ok());
  ASSERT_TRUE(Recommend(*stub_, RequestFor("movies"), &response).ok());
  EXPECT_FALSE(Recommend(*stub_, RequestFor("music"), &response).ok());
  const std::string body = HttpGet(server_->metrics_port(), "/metrics");
  EXPECT_THAT(body, HasSubstr("edlae_requests_total{code=\"OK\",method="
                              "\"Recommend\",model=\"books\"} 2"));
  EXPECT_THAT(body, HasSubstr("edlae_requests_total{code=\"OK\",method="
                              "\"Recommend\",model=\"movies\"} 1"));
  // A name that resolves to nothing counts under model="".
  EXPECT_THAT(body, HasSubstr("edlae_requests_total{code=\"NOT_FOUND\",method="
                              "\"Recommend\",model=\"\"} 1"));
  EXPECT_THAT(body, HasSubstr("edlae_model_version{model=\"movies\"} 7"));
  EXPECT_THAT(body, HasSubstr("edlae_model_config_reloads_total"));
}

TEST_F(TwoModelTest, TheClientNamesModelsVersionsAndLabels) {
  auto r = RunClient("recommend " + Target() +
                     " --model_name movies --items i1,i2 -n 3 --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"model_version\":7"));
  r = RunClient("recommend " + Target() +
                " --model_name books --version_label stable --items i1 -n 3 "
                "--json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"model_version\":1"));
  r = RunClient("similar " + Target() +
                " --model_name books --model_version 2 --items i1 -n 3 --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"model_version\":2"));
  r = RunClient("info " + Target() + " --model_name movies --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"model_name\":\"movies\""));
  r = RunClient("recommend " + Target() + " --model_name music --items i1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(r.output, HasSubstr("books"));
  r = RunClient("health " + Target() +
                " --service edlae.v1.Recommender/books --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("SERVING"));
  // recommend-batch names the model for every call.
  const std::string users = dir_.Write("users.txt", "u1 i1 i2\nu2 i3\n");
  r = RunClient("recommend-batch " + Target() + " --input " + users +
                " --model_name movies -n 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"user_id\":\"u2\""));
  r = RunClient("recommend-batch " + Target() + " --input " + users + " -n 2");
  EXPECT_EQ(r.exit_code, 1) << r.output;  // two models: the name is required
  EXPECT_THAT(r.output, HasSubstr("model_name is required"));
}

TEST_F(TwoModelTest, ReloadOneRemoveTheOtherUnderLoadFailsNoCall) {
  constexpr int kClientsPerModel = 2;
  constexpr int kMaxCallsPerClient = 20000;  // bounds the loop in count
  std::atomic<bool> stop{false};
  std::atomic<bool> removal_written{false};
  std::atomic<int64_t> books_ok{0}, books_failed{0}, movies_ok{0},
      movies_not_found{0}, movies_failed{0}, early_not_found{0};
  std::mutex mu;
  std::map<uint64_t, int64_t> books_by_version;
  std::vector<std::thread> clients;
  for (int c = 0; c < 2 * kClientsPerModel; ++c) {
    const bool books = c % 2 == 0;
    clients.emplace_back([&, books] {
      auto stub = StubTo(server_->port());
      std::map<uint64_t, int64_t> mine;
      for (int i = 0; i < kMaxCallsPerClient && !stop.load(); ++i) {
        v1::RecommendResponse response;
        const bool removal_before = removal_written.load();
        const grpc::Status status =
            Recommend(*stub, RequestFor(books ? "books" : "movies"), &response);
        if (books) {
          if (status.ok() && response.items_size() == 5) {
            ++books_ok;
            ++mine[response.model_version()];
          } else {
            ++books_failed;
          }
        } else if (status.ok() && response.items_size() == 5) {
          ++movies_ok;
        } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          ++movies_not_found;
          if (!removal_before) ++early_not_found;
          absl::SleepFor(absl::Milliseconds(1));
        } else {
          ++movies_failed;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& [v, n] : mine) books_by_version[v] += n;
    });
  }
  auto books_serves = [&](uint64_t v) {
    return WaitFor([&] {
      auto s = server_->models()->servable("books");
      return s != nullptr && s->Get().version == v;
    });
  };
  absl::SleepFor(absl::Milliseconds(200));
  PublishModel(books_, 3, 60);  // books reloads (policy all: 3, 2, 1)
  EXPECT_TRUE(books_serves(3));
  absl::SleepFor(absl::Milliseconds(200));
  // A broken rewrite is refused; both models keep serving.
  WriteConfig(config_, "model_config_list { config { name: ");
  EXPECT_TRUE(
      WaitFor([&] { return server_->models()->config_reloads_failed() == 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  removal_written = true;
  WriteConfig(config_,
              ConfigList(ConfigEntry("books", books_,
                                     "model_version_policy { all {} } "
                                     "version_labels { key: \"stable\" "
                                     "value: 1 }")));
  EXPECT_TRUE(WaitFor([&] {
    return server_->models()->model_names() ==
           std::vector<std::string>{"books"};
  }));
  absl::SleepFor(absl::Milliseconds(200));
  stop = true;
  for (std::thread& t : clients) t.join();

  std::printf(
      "[ figures  ] two models under load: books ok=%lld failed=%lld, movies "
      "ok=%lld not_found_after_removal=%lld failed=%lld; books by version:",
      static_cast<long long>(books_ok.load()),
      static_cast<long long>(books_failed.load()),
      static_cast<long long>(movies_ok.load()),
      static_cast<long long>(movies_not_found.load()),
      static_cast<long long>(movies_failed.load()));
  for (const auto& [v, n] : books_by_version) {
    std::printf(" v%llu=%lld", static_cast<unsigned long long>(v),
                static_cast<long long>(n));
  }
  std::printf("\n");
  EXPECT_EQ(books_failed.load(), 0);
  EXPECT_EQ(movies_failed.load(), 0);
  EXPECT_EQ(early_not_found.load(), 0);  // NOT_FOUND only once removed
  EXPECT_GT(movies_ok.load(), 50);
  EXPECT_GT(movies_not_found.load(), 0);
  EXPECT_GT(books_by_version[2], 0);
  EXPECT_GT(books_by_version[3], 0);
  EXPECT_EQ(server_->models()->config_reloads_ok(), 1u);  // the removal
  EXPECT_EQ(server_->models()->config_reloads_failed(), 1u);

  // The removed model is gone from health; the other still serves.
  auto r = RunClient("health " + Target() +
                     " --service edlae.v1.Recommender/movies --json");
  EXPECT_THAT(r.output, HasSubstr("NOT_SERVING"));
  r = RunClient("health " + Target() +
                " --service edlae.v1.Recommender/books --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The one model left is now the default.
  v1::RecommendResponse response;
  EXPECT_TRUE(Recommend(*stub_, RequestFor(""), &response).ok());
  EXPECT_EQ(response.model_version(), 3u);
}

TEST_F(TwoModelTest, AddingAModelByRewritingTheConfigServesIt) {
  const fs::path music = dir_.path() / "music";
  PublishModel(music, 1, 40);
  WriteConfig(config_, BothModels() + ConfigList(ConfigEntry("music", music)));
  // Two model_config_list blocks are a parse error (one oneof), refused:
  EXPECT_TRUE(
      WaitFor([&] { return server_->models()->config_reloads_failed() == 1; }));
  WriteConfig(config_, ConfigList(ConfigEntry("books", books_) +
                                  ConfigEntry("movies", movies_) +
                                  ConfigEntry("music", music)));
  EXPECT_TRUE(
      WaitFor([&] { return server_->models()->model_names().size() == 3; }));
  v1::RecommendResponse response;
  ASSERT_TRUE(Recommend(*stub_, RequestFor("music"), &response).ok());
  EXPECT_EQ(response.model_version(), 1u);
  // books' policy went back to latest 1: only version 2 is served.
  v1::GetModelInfoRequest info_request;
  info_request.set_model_name("books");
  v1::ModelInfo info;
  ASSERT_TRUE(Info(*stub_, info_request, &info).ok());
  EXPECT_THAT(info.served_versions(), ElementsAre(2u));
}

TEST(ModelConfigStartTest, ABadConfigOrALabelOnAMissingVersionRefusesToStart) {
  ScratchDir dir;
  const fs::path books = dir.path() / "books";
  PublishModel(books, 1, 30);
  const fs::path config = dir.path() / "models.config";
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.metrics_address = "";
  options.model_config_path = config.string();
  // Missing file.
  auto server = RecommenderServer::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("models.config"));
  // A label naming a version that is not there.
  WriteConfig(config, ConfigList(ConfigEntry(
                          "books", books,
                          "version_labels { key: \"stable\" value: 4 }")));
  server = RecommenderServer::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("stable"));
  // A base_path that does not exist.
  WriteConfig(config, ConfigList(ConfigEntry("books", dir.path() / "nope")));
  server = RecommenderServer::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("nope"));
  // --model_config with --model is a usage error.
  WriteConfig(config, ConfigList(ConfigEntry("books", books)));
  options.model_path = (books / "1" / kVersionModelFile).string();
  server = RecommenderServer::BuildAndStart(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  // One model: it is the default, so an empty model_name works.
  options.model_path.clear();
  server = RecommenderServer::BuildAndStart(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = StubTo((*server)->port());
  v1::RecommendResponse response;
  EXPECT_TRUE(Recommend(*stub, RequestFor(""), &response).ok());
}

}  // namespace
}  // namespace edlae::server
