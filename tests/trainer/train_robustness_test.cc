// edlae-train robustness, driving the binary: the memory estimate and its
// refusal, and kill -9 at any moment never leaving a partial model at --out.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "trainer/train.h"

namespace edlae {
namespace {

using ::testing::HasSubstr;

const std::string kTrain =
    absl::StrCat(EDLAE_BINARY_DIR, "/trainer/edlae-train");

std::string ReadAll(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  std::string out;
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// Starts edlae-train with `args` (stderr to `log`); returns its pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stderr);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kTrain.c_str()));
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(kTrain.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class TrainRobustnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.File("data.csv");
    ASSERT_EQ(WaitExit(Spawn({"synth", "--users", "4000", "--items", "1200",
                              "--out", data_},
                             dir_.File("synth.log"))),
              0)
        << ReadAll(dir_.File("synth.log"));
  }
  std::vector<std::string> TrainArgs(const std::string& out) const {
    return {"train",   "--input",   data_,      "--format", "movielens-csv",
            "--model", "edlae",     "--lambda", "20",       "--dropout",
            "0.25",    "--threads", "1",        "--out",    out};
  }

  // `args` is refused (exit 1, the log shows `estimate` and names the
  // override, nothing at `out`); with --skip-memory-check it trains `out`.
  // Logs: refused.log, forced.log.
  void ExpectRefusedUnlessForced(std::vector<std::string> args,
                                 const std::string& out,
                                 const std::string& estimate) {
    EXPECT_EQ(WaitExit(Spawn(args, dir_.File("refused.log"))), 1);
    const std::string log = ReadAll(dir_.File("refused.log"));
    EXPECT_THAT(log, HasSubstr(estimate));
    EXPECT_THAT(log, HasSubstr("--skip-memory-check"));
    EXPECT_FALSE(std::filesystem::exists(out));
    args.push_back("--skip-memory-check");
    EXPECT_EQ(WaitExit(Spawn(args, dir_.File("forced.log"))), 0)
        << ReadAll(dir_.File("forced.log"));
    EXPECT_TRUE(Model::Open(out).ok());
  }

  testing::ScratchDir dir_;
  std::string data_;
};

TEST(MetadataNumberTest, ShortestDecimalThatReadsBackExactly) {
  EXPECT_EQ(MetadataNumber(0.2), "0.2");
  EXPECT_EQ(MetadataNumber(500), "500");
  EXPECT_EQ(MetadataNumber(0.33), "0.33");
  EXPECT_EQ(MetadataNumber(0), "0");
  for (double v : {1.0 / 3, 2.0 / 3, 1e-300, 123456.789e10, -0.1}) {
    EXPECT_EQ(std::strtod(MetadataNumber(v).c_str(), nullptr), v) << v;
  }
}

TEST(MemoryEstimateTest, TwelveBytesPerMatrixEntryPlusOverhead) {
  EXPECT_EQ(EstimateTrainingBytes(0, 0), size_t{64} << 20);
  EXPECT_EQ(EstimateTrainingBytes(1000, 5), 12000000 + (size_t{64} << 20) + 5);
  EXPECT_EQ(EstimateTrainingBytes(20000, 0),
            size_t{4800000000} + (size_t{64} << 20));
  absl::StatusOr<size_t> available = AvailableMemoryBytes();
  ASSERT_TRUE(available.ok()) << available.status();
  EXPECT_GT(*available, 0u);
}

TEST_F(TrainRobustnessTest, RefusesAboveTheLimitUnlessOverridden) {
  const std::string out = dir_.File("m.edlae");
  std::vector<std::string> args = TrainArgs(out);
  args.push_back("--memory-limit-mb");
  args.push_back("40");  // 1200 items need ~16 MiB + 64 MiB
  ExpectRefusedUnlessForced(args, out, "memory estimate");
  EXPECT_THAT(ReadAll(dir_.File("forced.log")), HasSubstr("memory estimate"));
}

TEST_F(TrainRobustnessTest, SparseLowRankIsRefusedAboveTheLimitToo) {
  const std::string out = dir_.File("lr.edlae");
  std::vector<std::string> args = TrainArgs(out);
  for (const char* a : {"--sparse", "--rank", "16", "--memory-limit-mb", "8"}) {
    args.push_back(a);
  }
  ExpectRefusedUnlessForced(args, out, "sparse low-rank memory estimate");
}

TEST_F(TrainRobustnessTest, KillNineAtAnyMomentLeavesNoPartialModel) {
  // How long one full run takes here, then kills spread over that time.
  const std::string timed = dir_.File("timed.edlae");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(WaitExit(Spawn(TrainArgs(timed), dir_.File("timed.log"))), 0)
      << ReadAll(dir_.File("timed.log"));
  const auto full = std::chrono::steady_clock::now() - start;
  constexpr int kKills = 8;
  int killed = 0;
  for (int k = 0; k < kKills; ++k) {
    const std::string out = dir_.File(absl::StrCat("k", k, ".edlae"));
    const pid_t pid = Spawn(TrainArgs(out), dir_.File("k.log"));
    std::this_thread::sleep_for(full * (k + 1) / (kKills + 1));
    ::kill(pid, SIGKILL);
    if (WaitExit(pid) == 128 + SIGKILL) ++killed;
    // Either nothing at the destination, or a complete, valid model.
    if (std::filesystem::exists(out)) {
      auto model = Model::Open(out);
      EXPECT_TRUE(model.ok()) << "kill " << k << ": " << model.status();
    }
  }
  std::printf(
      "[ figures  ] kill -9: %d of %d runs killed mid-way, full run "
      "%.0f ms\n",
      killed, kKills, std::chrono::duration<double, std::milli>(full).count());
  // Timing on a loaded machine varies; some kills must land mid-run.
  EXPECT_GE(killed, 2);
}

}  // namespace
}  // namespace edlae
