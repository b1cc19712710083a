// edlae-server's safe defaults and start-up errors, through the real binary:
// the shutdown grace holds with metrics on, reflection is off with a token,
// /metrics stays on the serving host, and a bad TLS pair or a port in use
// is named in one clear line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/recommender_client.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/model_corpus.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

using ::edlae::client::ClientOptions;
using ::edlae::client::RecommenderClient;
using ::edlae::testing::ReadBytes;
using ::edlae::testing::ScratchDir;
using ::edlae::testing::WriteVersionedModel;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "defaults-t0ken-0123456789";

// edlae-server started with `args` (after the binary's name), its stderr in
// DIR/server.log; killed at destruction if still running.
class ServerProcess {
 public:
  ServerProcess(const ScratchDir& dir, std::vector<std::string> args)
      : log_(dir.File("server.log")), port_file_(dir.File("port")) {
    std::remove(port_file_.c_str());
    const std::string binary =
        absl::StrCat(EDLAE_BINARY_DIR, "/server/edlae-server");
    args.insert(args.begin(), binary);
    pid_ = ::fork();
    if (pid_ == 0) {
      std::freopen(log_.c_str(), "w", stderr);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  const std::string& port_file() const { return port_file_; }
  std::string Log() const { return ReadBytes(log_); }

  // The port from --port_file once written (0 if the process exits first or
  // 10 s pass).
  int WaitForPort() {
    for (int i = 0; i < 1000; ++i) {
      if (std::FILE* f = std::fopen(port_file_.c_str(), "r")) {
        int port = 0;
        const bool read = std::fscanf(f, "%d", &port) == 1;
        std::fclose(f);
        if (read) return port;
      }
      if (Exited(absl::ZeroDuration())) return 0;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return 0;
  }

  // True once the process has exited (waiting up to `limit`); its exit
  // status in exit_code() (-1: killed by a signal).
  bool Exited(absl::Duration limit) {
    const absl::Time end = absl::Now() + limit;
    while (!exited_) {
      int status = 0;
      const pid_t got = ::waitpid(pid_, &status, WNOHANG);
      if (got == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        break;
      }
      if (got < 0 || absl::Now() >= end) break;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return exited_;
  }
  int exit_code() const { return exit_code_; }
  void Signal(int signal_number) { ::kill(pid_, signal_number); }

 private:
  std::string log_;
  std::string port_file_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// A socket listening on 127.0.0.1 at a free port, closed at destruction.
class HeldPort {
 public:
  HeldPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ >= 0 &&
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::listen(fd_, 1) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~HeldPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// True when a plain bind of `ip`:`port` (no SO_REUSEADDR) succeeds.
bool CanBind(const char* ip, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip, &addr.sin_addr);
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr),
                                    sizeof(addr)) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

// The lines of `log` that start with "edlae-server: " (the one-line error).
std::vector<std::string> ErrorLines(const std::string& log) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StartsWith(line, "edlae-server: ")) lines.emplace_back(line);
  }
  return lines;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// grpc.reflection.v1alpha ServerReflectionInfo{list_services: "*"} through a
// generic stub, with `token` as bearer token when not empty. The call's
// status and the raw response bytes (which hold the service names).
std::pair<grpc::Status, std::string> ReflectionList(int port,
                                                    const std::string& token) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  if (!token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  auto call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto tag = [](intptr_t n) { return reinterpret_cast<void*>(n); };
  auto step = [&](intptr_t expected) {
    void* got = nullptr;
    bool ok = false;
    return cq.Next(&got, &ok) && ok && got == tag(expected);
  };
  std::string out;
  call->StartCall(tag(1));
  if (step(1)) {
    call->Write(ToBuffer(std::string("\x3a\x01*", 3)), tag(2));
    if (step(2)) {
      call->WritesDone(tag(3));
      if (step(3)) {
        grpc::ByteBuffer response;
        call->Read(&response, tag(4));
        if (step(4)) out = FromBuffer(response);
      }
    }
  }
  grpc::Status status;
  call->Finish(&status, tag(5));
  void* got = nullptr;
  bool ok = false;
  while (cq.Next(&got, &ok) && got != tag(5)) {
  }
  cq.Shutdown();
  while (cq.Next(&got, &ok)) {
  }
  return {status, out};
}

class ServerDefaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.File("m.edlae");
    ASSERT_TRUE(WriteVersionedModel(model_, 30, 1).ok());
    token_file_ = dir_.Write("token", absl::StrCat(kToken, "\n"));
  }

  // --model, loopback, port 0 and --port_file, then `extra`.
  std::vector<std::string> Args(std::vector<std::string> extra) const {
    std::vector<std::string> args = {"--model",     model_,           "--host",
                                     "127.0.0.1",   "--port",         "0",
                                     "--port_file", dir_.File("port")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  ScratchDir dir_;
  std::string model_;
  std::string token_file_;
};

// Metrics on, a 1 s grace and an idle client connection (which makes gRPC
// wait out the grace): the exit comes within the grace plus a margin, since
// /metrics stops while the calls drain.
TEST_F(ServerDefaultsTest, ShutdownWithMetricsKeepsTheGrace) {
  ServerProcess server(dir_, Args({"--metrics_address", "127.0.0.1:0",
                                   "--shutdown_grace", "1s"}));
  const int port = server.WaitForPort();
  ASSERT_GT(port, 0) << server.Log();
  EXPECT_THAT(server.Log(), Not(HasSubstr("metrics_port=0 ")));
  auto client = RecommenderClient::Connect(absl::StrCat("127.0.0.1:", port),
                                           ClientOptions());
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->GetModelInfo(absl::Seconds(5)).ok());

  const absl::Time signalled = absl::Now();
  server.Signal(SIGTERM);
  ASSERT_TRUE(server.Exited(absl::Seconds(10))) << server.Log();
  const absl::Duration took = absl::Now() - signalled;
  std::printf("[ figures  ] exit %s after SIGTERM (grace 1s, metrics on)\n",
              absl::FormatDuration(took).c_str());
  EXPECT_EQ(server.exit_code(), 0) << server.Log();
  EXPECT_LT(took, absl::Milliseconds(1600)) << server.Log();
  EXPECT_THAT(server.Log(), HasSubstr("event=stopped"));
}

// Nothing to drain: /metrics itself stops at once (CivetWeb alone takes up
// to 2 s), so the exit is quick.
TEST_F(ServerDefaultsTest, IdleShutdownWithMetricsIsQuick) {
  ServerProcess server(dir_, Args({"--metrics_address", "127.0.0.1:0",
                                   "--shutdown_grace", "10s"}));
  ASSERT_GT(server.WaitForPort(), 0) << server.Log();
  const absl::Time signalled = absl::Now();
  server.Signal(SIGTERM);
  ASSERT_TRUE(server.Exited(absl::Seconds(10))) << server.Log();
  const absl::Duration took = absl::Now() - signalled;
  std::printf("[ figures  ] idle exit %s after SIGTERM (metrics on)\n",
              absl::FormatDuration(took).c_str());
  EXPECT_EQ(server.exit_code(), 0) << server.Log();
  EXPECT_LT(took, absl::Milliseconds(600)) << server.Log();
}

// With --auth_token_file, reflection (which cannot check the token) is off
// unless --reflection asks for it; health needs no token either way.
TEST_F(ServerDefaultsTest, ReflectionIsOffByDefaultWithAToken) {
  {
    ServerProcess server(
        dir_, Args({"--metrics_address=", "--auth_token_file", token_file_}));
    const int port = server.WaitForPort();
    ASSERT_GT(port, 0) << server.Log();
    EXPECT_THAT(server.Log(), HasSubstr("reflection=off"));
    for (const std::string& token : {std::string(), std::string(kToken)}) {
      const auto [status, listed] = ReflectionList(port, token);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
          << status.error_message();
      EXPECT_THAT(listed, Not(HasSubstr("edlae.v1.Recommender")));
    }
    auto anonymous = RecommenderClient::Connect(
        absl::StrCat("127.0.0.1:", port), ClientOptions());
    ASSERT_TRUE(anonymous.ok());
    EXPECT_TRUE(absl::IsUnauthenticated(
        (*anonymous)->GetModelInfo(absl::Seconds(5)).status()));
    auto health = (*anonymous)->CheckHealth("", absl::Seconds(5));
    ASSERT_TRUE(health.ok()) << health.status();
    EXPECT_EQ(*health, grpc::health::v1::HealthCheckResponse::SERVING);
    ClientOptions with_token;
    with_token.auth_token = kToken;
    auto authorized = RecommenderClient::Connect(
        absl::StrCat("127.0.0.1:", port), with_token);
    ASSERT_TRUE(authorized.ok());
    EXPECT_TRUE((*authorized)->GetModelInfo(absl::Seconds(5)).ok());
  }
  {
    ServerProcess server(dir_, Args({"--metrics_address=", "--auth_token_file",
                                     token_file_, "--reflection"}));
    const int port = server.WaitForPort();
    ASSERT_GT(port, 0) << server.Log();
    EXPECT_THAT(server.Log(), HasSubstr("reflection=on"));
    const auto [status, listed] = ReflectionList(port, "");
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(listed, HasSubstr("edlae.v1.Recommender"));
  }
  {
    ServerProcess server(dir_, Args({"--metrics_address="}));  // no token
    const int port = server.WaitForPort();
    ASSERT_GT(port, 0) << server.Log();
    const auto [status, listed] = ReflectionList(port, "");
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(listed, HasSubstr("edlae.v1.Recommender"));
  }
}

// A key that is not the certificate's is named as such (gRPC alone would
// report "cannot listen"), and so is a file with no key in it.
TEST_F(ServerDefaultsTest, MismatchedTlsKeyIsNamed) {
  const std::string d = dir_.path().string();
  const std::string script = absl::StrCat(
      "set -e; cd '", d, "'; for n in a b; do openssl req -x509 -newkey ec ",
      "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key -out ",
      "$n.pem -days 2 -subj /CN=localhost; done >openssl.log 2>&1");
  ASSERT_EQ(std::system(script.c_str()), 0)
      << ReadBytes(dir_.File("openssl.log"));
  {
    ServerProcess server(
        dir_, Args({"--metrics_address=", "--tls_cert", dir_.File("a.pem"),
                    "--tls_key", dir_.File("b.key")}));
    ASSERT_TRUE(server.Exited(absl::Seconds(10)));
    EXPECT_EQ(server.exit_code(), 1);
    const std::string log = server.Log();
    EXPECT_THAT(log, HasSubstr("TLS key does not match certificate"));
    EXPECT_THAT(log, Not(HasSubstr("cannot listen")));
    EXPECT_EQ(ErrorLines(log).size(), 1u) << log;
  }
  {
    ServerProcess server(
        dir_, Args({"--metrics_address=", "--tls_cert", dir_.File("a.pem"),
                    "--tls_key", dir_.File("a.pem")}));
    ASSERT_TRUE(server.Exited(absl::Seconds(10)));
    EXPECT_EQ(server.exit_code(), 1);
    EXPECT_THAT(server.Log(), HasSubstr("no PEM private key"));
  }
  {  // the matching pair still serves
    ServerProcess server(
        dir_, Args({"--metrics_address=", "--tls_cert", dir_.File("a.pem"),
                    "--tls_key", dir_.File("a.key")}));
    EXPECT_GT(server.WaitForPort(), 0) << server.Log();
  }
}

// A gRPC or metrics port that another socket holds: exit 1 with one line
// that says so, not gRPC's error dump or CivetWeb's "null context".
TEST_F(ServerDefaultsTest, PortInUseIsOneClearLine) {
  HeldPort held;
  ASSERT_GT(held.port(), 0);
  const std::string port = absl::StrCat(held.port());
  {
    std::vector<std::string> args = Args({"--metrics_address="});
    args[5] = port;  // --port
    ServerProcess server(dir_, args);
    ASSERT_TRUE(server.Exited(absl::Seconds(10)));
    EXPECT_EQ(server.exit_code(), 1);
    const std::string log = server.Log();
    EXPECT_THAT(ErrorLines(log), ::testing::ElementsAre(absl::StrCat(
                                     "edlae-server: --host/--port: 127.0.0.1:",
                                     port, " is already in use")))
        << log;
    EXPECT_THAT(log, Not(HasSubstr("chttp2")));
  }
  {
    const std::string address = absl::StrCat("127.0.0.1:", port);
    ServerProcess server(dir_, Args({"--metrics_address", address}));
    ASSERT_TRUE(server.Exited(absl::Seconds(10)));
    EXPECT_EQ(server.exit_code(), 1);
    const std::string log = server.Log();
    EXPECT_THAT(ErrorLines(log), ::testing::ElementsAre(absl::StrCat(
                                     "edlae-server: --metrics_address: ",
                                     address, " is already in use")))
        << log;
    EXPECT_THAT(log, Not(HasSubstr("null context")));
    EXPECT_THAT(log, Not(HasSubstr("civet")));
  }
}

// Without --metrics_address, /metrics listens on --host (port 9464), so
// --host 127.0.0.1 keeps everything on loopback: 127.0.0.2:9464 stays free.
TEST_F(ServerDefaultsTest, MetricsDefaultToTheServingHost) {
  if (!CanBind("127.0.0.1", 9464)) {
    GTEST_SKIP() << "127.0.0.1:9464 is taken on this machine";
  }
  ServerProcess server(dir_, Args({}));
  const int port = server.WaitForPort();
  ASSERT_GT(port, 0) << server.Log();
  const std::string log = server.Log();
  EXPECT_THAT(log,
              HasSubstr("metrics_address=127.0.0.1:9464 metrics_port=9464"));
  EXPECT_FALSE(CanBind("127.0.0.1", 9464));
  EXPECT_TRUE(CanBind("127.0.0.2", 9464));  // not 0.0.0.0
}

}  // namespace
}  // namespace edlae::server
