// TLS, mutual TLS and bearer-token authentication over real loopback gRPC,
// with certificates made by openssl at test time (no key is committed).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/recommender_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/recommender_service.h"
#include "server/server.h"
#include "tests/testing/model_corpus.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

using ::edlae::client::ClientOptions;
using ::edlae::client::RecommenderClient;
using ::edlae::testing::ReadBytes;
using ::edlae::testing::ScratchDir;
using ::testing::HasSubstr;

constexpr char kToken[] = "s3cr3t-t0ken-0123456789abcdef";

// Runs `command` through the shell; true on exit status 0.
bool RunShell(const std::string& command) {
  return std::system(command.c_str()) == 0;
}

// A CA, a server certificate for localhost/127.0.0.1, a client certificate
// from the CA, and a second ("rogue") CA with its own client certificate.
class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    const std::string d = dir_->path().string();
    const std::string key =
        "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::string script = absl::StrCat("set -e; cd '", d, "'\n");
    for (const char* ca : {"ca", "rogue"}) {
      absl::StrAppend(&script, "openssl req -x509 ", key, " -keyout ", ca,
                      ".key -out ", ca, ".pem -days 2 -subj '/CN=edlae test ",
                      ca, "'\n");
    }
    absl::StrAppend(
        &script,
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext\n",
        "openssl req ", key,
        " -keyout server.key -out server.csr -subj '/CN=localhost'\n",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -days 2 -extfile server.ext -out server.pem\n");
    for (const char* ca : {"ca", "rogue"}) {
      absl::StrAppend(&script, "openssl req ", key, " -keyout client-", ca,
                      ".key -out client-", ca,
                      ".csr -subj '/CN=edlae client'\n",
                      "openssl x509 -req -in client-", ca, ".csr -CA ", ca,
                      ".pem -CAkey ", ca, ".key -CAcreateserial -days 2 -out ",
                      "client-", ca, ".pem\n");
    }
    absl::StrAppend(&script, "printf '  ", kToken, "\\n' > token\n",
                    "printf 'wrong-token\\n' > wrong-token\n");
    std::FILE* f = std::fopen((d + "/make.sh").c_str(), "w");
    std::fputs(script.c_str(), f);
    std::fclose(f);
    certs_ok_ = RunShell(absl::StrCat("bash '", d, "/make.sh' >'", d,
                                 "/openssl.log' 2>&1"));
    model_ok_ =
        testing::WriteVersionedModel(absl::StrCat(d, "/m.edlae"), 30, 1).ok();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(certs_ok_) << ReadBytes(File("openssl.log"));
    ASSERT_TRUE(model_ok_);
  }

  static std::string File(const std::string& name) { return dir_->File(name); }

  void StartServer(bool tls, bool mutual, bool token) {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.model_path = File("m.edlae");
    if (tls) {
      options.tls_cert_path = File("server.pem");
      options.tls_key_path = File("server.key");
    }
    if (mutual) options.tls_client_ca_path = File("ca.pem");
    if (token) options.auth_token_file = File("token");
    auto server = RecommenderServer::BuildAndStart(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // Recommend through a client configured by `options`.
  absl::Status Recommend(const ClientOptions& options) {
    auto client = RecommenderClient::Connect(
        absl::StrCat("127.0.0.1:", server_->port()), options);
    if (!client.ok()) return client.status();
    v1::RecommendRequest request;
    request.add_history_item_ids("i1");
    request.set_top_n(3);
    return (*client)->Recommend(request, absl::Seconds(5)).status();
  }

  static ScratchDir* dir_;
  static bool certs_ok_;
  static bool model_ok_;
  std::unique_ptr<RecommenderServer> server_;
};

ScratchDir* SecurityTest::dir_ = nullptr;
bool SecurityTest::certs_ok_ = false;
bool SecurityTest::model_ok_ = false;

TEST_F(SecurityTest, TlsServerAcceptsTrustingClientsOnly) {
  StartServer(/*tls=*/true, /*mutual=*/false, /*token=*/false);
  ClientOptions trusted;
  trusted.tls_ca_path = File("ca.pem");
  EXPECT_TRUE(Recommend(trusted).ok());

  ClientOptions plaintext;
  EXPECT_TRUE(absl::IsUnavailable(Recommend(plaintext)));
  ClientOptions rogue;
  rogue.tls_ca_path = File("rogue.pem");  // cannot verify the server
  EXPECT_TRUE(absl::IsUnavailable(Recommend(rogue)));
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  StartServer(/*tls=*/true, /*mutual=*/true, /*token=*/false);
  ClientOptions good;
  good.tls_ca_path = File("ca.pem");
  good.tls_cert_path = File("client-ca.pem");
  good.tls_key_path = File("client-ca.key");
  EXPECT_TRUE(Recommend(good).ok());

  ClientOptions no_cert;
  no_cert.tls_ca_path = File("ca.pem");
  EXPECT_FALSE(Recommend(no_cert).ok());
  ClientOptions rogue_cert = good;
  rogue_cert.tls_cert_path = File("client-rogue.pem");
  rogue_cert.tls_key_path = File("client-rogue.key");
  EXPECT_FALSE(Recommend(rogue_cert).ok());
  ClientOptions half = good;
  half.tls_key_path.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(Recommend(half)));
}

TEST_F(SecurityTest, BearerTokenIsRequiredExceptForHealth) {
  StartServer(/*tls=*/true, /*mutual=*/false, /*token=*/true);
  ClientOptions options;
  options.tls_ca_path = File("ca.pem");
  EXPECT_TRUE(absl::IsUnauthenticated(Recommend(options)));
  options.auth_token = "wrong";
  EXPECT_TRUE(absl::IsUnauthenticated(Recommend(options)));
  options.auth_token = absl::StrCat(kToken, "x");
  EXPECT_TRUE(absl::IsUnauthenticated(Recommend(options)));
  options.auth_token = std::string(kToken).substr(1);
  EXPECT_TRUE(absl::IsUnauthenticated(Recommend(options)));
  options.auth_token = kToken;  // the file's surrounding spaces are trimmed
  EXPECT_TRUE(Recommend(options).ok());

  ClientOptions anonymous_options;
  anonymous_options.tls_ca_path = File("ca.pem");
  auto anonymous = RecommenderClient::Connect(
      absl::StrCat("127.0.0.1:", server_->port()), anonymous_options);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(
      (*anonymous)->GetModelInfo(absl::Seconds(5)).status()));
  auto health = (*anonymous)->CheckHealth("", absl::Seconds(5));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(server_->metrics().RequestCount(
                RpcMethod::kRecommend, grpc::StatusCode::UNAUTHENTICATED),
            4);
}

TEST_F(SecurityTest, UnreadableOrEmptyCredentialFilesAreStartupErrors) {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.model_path = File("m.edlae");
  options.tls_cert_path = File("server.pem");
  EXPECT_TRUE(absl::IsInvalidArgument(
      RecommenderServer::BuildAndStart(options).status()));  // no key
  options.tls_key_path = File("missing.key");
  EXPECT_TRUE(absl::IsInvalidArgument(
      RecommenderServer::BuildAndStart(options).status()));
  options.tls_cert_path.clear();
  options.tls_key_path.clear();
  options.auth_token_file = dir_->Write("empty-token", " \n");
  auto server = RecommenderServer::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("no token"));
}

TEST(BearerTokenTest, ExactMatchOnlyWithCaseInsensitiveScheme) {
  EXPECT_TRUE(BearerTokenMatches("Bearer abc", "abc"));
  EXPECT_TRUE(BearerTokenMatches("bearer abc", "abc"));
  EXPECT_TRUE(BearerTokenMatches("BEARER abc", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearer abd", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearer ab", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearer abcd", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Basic abc", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearerabc", "abc"));
  EXPECT_FALSE(BearerTokenMatches("abc", "abc"));
  EXPECT_FALSE(BearerTokenMatches("", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearer ABC", "abc"));
}

// The binaries end to end: edlae-client with --tls_ca and --auth_token_file
// against edlae-server with TLS and a token; the token never reaches a log.
TEST_F(SecurityTest, BinariesTalkTlsWithTokenAndNeverLogIt) {
  const std::string bin = EDLAE_BINARY_DIR;
  const std::string port_file = File("port");
  std::remove(port_file.c_str());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen(File("server.log").c_str(), "w", stderr);
    const std::string server = bin + "/server/edlae-server";
    ::execl(server.c_str(), server.c_str(), "--model", File("m.edlae").c_str(),
            "--host", "127.0.0.1", "--port", "0", "--port_file",
            port_file.c_str(), "--metrics_address=", "--tls_cert",
            File("server.pem").c_str(), "--tls_key", File("server.key").c_str(),
            "--auth_token_file", File("token").c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int port = 0;
  for (int i = 0; i < 500 && port == 0; ++i) {
    if (std::FILE* f = std::fopen(port_file.c_str(), "r")) {
      if (std::fscanf(f, "%d", &port) != 1) port = 0;
      std::fclose(f);
    }
    if (port == 0) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_GT(port, 0) << ReadBytes(File("server.log"));
  const std::string client = absl::StrCat(
      bin, "/client/edlae-client recommend --target 127.0.0.1:", port,
      " --items i1,i2 -n 3 --tls_ca ", File("ca.pem"));
  EXPECT_TRUE(RunShell(absl::StrCat(client, " --auth_token_file ", File("token"),
                               " >", File("ok.out"), " 2>&1")))
      << ReadBytes(File("ok.out"));
  EXPECT_FALSE(RunShell(absl::StrCat(client, " --auth_token_file ",
                                File("wrong-token"), " >", File("bad.out"),
                                " 2>&1")));
  EXPECT_THAT(ReadBytes(File("bad.out")), HasSubstr("UNAUTHENTICATED"));
  EXPECT_FALSE(RunShell(absl::StrCat(client, " >", File("none.out"), " 2>&1")));
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const std::string log = ReadBytes(File("server.log"));
  EXPECT_THAT(log, HasSubstr("auth_token=on"));
  EXPECT_THAT(log, HasSubstr("tls=on"));
  EXPECT_EQ(log.find(kToken), std::string::npos);
  EXPECT_EQ(log.find("wrong-token"), std::string::npos);
}

}  // namespace
}  // namespace edlae::server
