// The flag layer of edlae-train, edlae-server and edlae-client, through the
// built binaries: every (sub)command refuses unknown and inapplicable flags
// (exit 2, naming them and listing its own), --help lists its flags with
// defaults, and value checks win before any file is read.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace edlae {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTrain =
    absl::StrCat(EDLAE_BINARY_DIR, "/trainer/edlae-train");
const std::string kServer =
    absl::StrCat(EDLAE_BINARY_DIR, "/server/edlae-server");
const std::string kClient =
    absl::StrCat(EDLAE_BINARY_DIR, "/client/edlae-client");

struct Result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string ReadAll(const std::string& path) {
  std::string text;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) {
      text.append(buffer, n);
    }
    std::fclose(f);
  }
  return text;
}

// Runs `binary args...` (no shell) and collects its exit status and output.
Result RunBinary(const std::string& binary,
                 const std::vector<std::string>& args) {
  testing::ScratchDir dir;
  const std::string out = dir.File("stdout"), err = dir.File("stderr");
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    std::vector<char*> argv{const_cast<char*>(binary.c_str())};
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Result result;
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadAll(out);
  result.err = ReadAll(err);
  return result;
}

std::vector<std::string> Concat(std::vector<std::string> a,
                                const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct CommandCase {
  std::string binary;
  std::vector<std::string> command;  // the subcommand ({} for the server)
  // Enough to pass the command's required flags: the flag under test is
  // then the only thing wrong.
  std::vector<std::string> required;
  std::string inapplicable;      // a flag of another command of the family
  std::vector<std::string> own;  // flags its --help and its errors list
};

std::string Name(const CommandCase& c) {
  return absl::StrCat(std::filesystem::path(c.binary).filename().string(),
                      c.command.empty() ? "" : " " + c.command[0]);
}

std::vector<CommandCase> Cases() {
  const std::string none = "/nonexistent/edlae";
  return {
      {kTrain,
       {"train"},
       {"--input", none, "--out", none},
       "--split",
       {"--input", "--out", "--lambda", "--rank", "--method", "--seed",
        "--dtype"}},
      {kTrain,
       {"synth"},
       {"--out", none},
       "--input",
       {"--users", "--items", "--seed", "--out"}},
      {kTrain,
       {"split"},
       {"--input", none, "--out", none, "--heldout-users", "10"},
       "--lambda",
       {"--input", "--heldout-users", "--seed", "--min-rating"}},
      {kTrain,
       {"evaluate"},
       {"--split", none},
       "--dtype",
       {"--split", "--model-file", "--on", "--scorer", "--lambda", "--rank"}},
      {kTrain,
       {"tune"},
       {"--split", none},
       "--dtype",
       {"--split", "--model", "--lambda", "--out"}},
      {kTrain,
       {"sweep"},
       {"--split", none},
       "--precision",
       {"--ranks", "--methods", "--out-dir"}},
      {kTrain,
       {"convert"},
       {"--model-file", none, "--dtype", "f16", "--out", none},
       "--lambda",
       {"--model-file", "--dtype", "--out"}},
      {kTrain, {"inspect"}, {none}, "--json", {"--model-file"}},
      {kTrain,
       {"recommend"},
       {"--model-file", none, "--input", none, "--out", none},
       "--lambda",
       {"--model-file", "--input", "--out", "--out-format", "--exclude-history",
        "--progress", "--format"}},
      {kClient,
       {"recommend"},
       {"--target", "127.0.0.1:1", "--items", "a"},
       "--concurrency",
       {"--target", "--items", "--top_n", "--exclude"}},
      {kClient,
       {"recommend-batch"},
       {"--target", "127.0.0.1:1", "--input", none},
       "--items",
       {"--target", "--input", "--format", "--out", "--out_format",
        "--concurrency", "--top_n", "--include_history"}},
      {kClient,
       {"info"},
       {"--target", "127.0.0.1:1"},
       "--items",
       {"--target", "--timeout_ms"}},
      {kClient,
       {"health"},
       {"--target", "127.0.0.1:1"},
       "--top_n",
       {"--service", "--target"}},
      {kClient,
       {"bench"},
       {"--target", "127.0.0.1:1"},
       "--service",
       {"--concurrency", "--requests", "--history_len"}},
      {kServer,
       {},
       {"--model", none},
       "--items",
       {"--model", "--model_dir", "--max_history", "--shutdown_grace",
        "--port"}},
  };
}

TEST(FlagLayerTest, EveryCommandRefusesUnknownAndInapplicableFlagsAndHasHelp) {
  for (const CommandCase& c : Cases()) {
    SCOPED_TRACE(Name(c));
    for (const std::string& bad :
         {std::string("--frobnicate"), c.inapplicable}) {
      const Result r = RunBinary(
          c.binary, Concat(Concat(c.command, c.required), {bad, "1"}));
      EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
      EXPECT_THAT(r.err, HasSubstr("unknown flag " + bad)) << bad;
      for (const std::string& own : c.own)
        EXPECT_THAT(r.err, HasSubstr(own)) << bad;
      EXPECT_EQ(r.out, "") << bad;
    }
    // The other spelling of the same flag is refused too.
    const Result underscore = RunBinary(
        c.binary, Concat(Concat(c.command, c.required), {"--frob_nicate"}));
    EXPECT_EQ(underscore.exit_code, 2) << underscore.err;

    const Result help = RunBinary(c.binary, Concat(c.command, {"--help"}));
    EXPECT_EQ(help.exit_code, 0) << help.err;
    EXPECT_THAT(help.out, HasSubstr("Usage: " + Name(c)));
    for (const std::string& own : c.own) EXPECT_THAT(help.out, HasSubstr(own));
    if (c.command.empty() ||
        (c.command[0] != "convert" && c.command[0] != "inspect")) {
      EXPECT_THAT(help.out, HasSubstr("[default: "));  // (those two have none)
    }
    EXPECT_THAT(help.out, Not(HasSubstr(c.inapplicable + " ")));
    EXPECT_THAT(help.out, Not(HasSubstr("No flags matched")));
  }
}

TEST(FlagLayerTest, HelpShowsDefaults) {
  EXPECT_THAT(RunBinary(kTrain, {"train", "--help"}).out,
              HasSubstr("--dtype TEXT [default: f32]"));
  EXPECT_THAT(RunBinary(kTrain, {"split", "--help"}).out,
              HasSubstr("[default: 98765]"));
  EXPECT_THAT(RunBinary(kTrain, {"synth", "--help"}).out,
              HasSubstr("[default: 42]"));
  const Result server = RunBinary(kServer, {"--help"});
  EXPECT_THAT(server.out, HasSubstr("[default: 10s]"));    // --shutdown_grace
  EXPECT_THAT(server.out, HasSubstr("[default: 10000]"));  // --max_history
  EXPECT_THAT(server.out, HasSubstr("--reflection [default: true]"));
  EXPECT_THAT(RunBinary(kClient, {"recommend", "--help"}).out,
              HasSubstr("-n,--top_n UINT [default: 10]"));
  // The program's own help lists its commands.
  const Result train = RunBinary(kTrain, {"--help"});
  EXPECT_EQ(train.exit_code, 0);
  for (const char* command : {"train", "synth", "split", "evaluate", "tune",
                              "sweep", "convert", "inspect"}) {
    EXPECT_THAT(train.out, HasSubstr(absl::StrCat("  ", command, " ")));
  }
}

struct ValueCase {
  std::string binary;
  std::vector<std::string> args;
  std::string named;  // what stderr must name
};

// Bad values exit 2 before any work: every case names an input that does
// not exist, whose reading would fail with exit 1, and an output that must
// not appear.
TEST(FlagLayerTest, ValueChecksComeBeforeAnyWork) {
  testing::ScratchDir dir;
  const std::string none = dir.File("missing.csv");
  const std::string out = dir.File("out");
  const std::vector<ValueCase> cases = {
      {kTrain,
       {"train", "--input", none, "--out", out, "--threads", "-3"},
       "--threads"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--lambda", "-1"},
       "--lambda"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--lambda", "nan"},
       "--lambda"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--dropout", "1"},
       "--dropout"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--rank", "-2"},
       "--rank"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--method", "admm"},
       "--rank"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--epochs", "3"},
       "--rank"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--rank", "5", "--model",
        "dlae", "--method", "admm"},
       "--method admm"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--model", "zero-diag"},
       "--rank"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--min-rating", "high"},
       "--min-rating"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--min_user_count", "-1"},
       "--min-user-count"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--format", "parquet"},
       "--format"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--dtype", "int8", "--sparse"},
       "int8 storage is for dense"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--gram-density", "1.5"},
       "--gram-density"},
      {kTrain,
       {"train", "--input", none, "--out", out, "--gram-density", "0.01",
        "--rank", "5"},
       "--gram-density"},
      {kTrain, {"synth", "--users", "-5", "--out", out}, "--users"},
      {kTrain, {"synth", "--items", "1", "--out", out}, "--items"},
      {kTrain, {"synth", "--mean-items", "0", "--out", out}, "--mean-items"},
      {kTrain,
       {"synth", "--items", "10", "--topics", "20", "--out", out},
       "--topics"},
      {kTrain, {"convert", "--model-file", none, "--out", out}, "--dtype"},
      {kTrain,
       {"evaluate", "--split", none, "--model-file", none, "--rank", "5"},
       "--rank"},
      {kTrain, {"evaluate", "--split", none, "--method", "admm"}, "--rank"},
      {kTrain,
       {"evaluate", "--split", none, "--rank", "5", "--model", "dlae",
        "--method", "als"},
       "--method als"},
      {kTrain,
       {"evaluate", "--split", none, "--dtype", "f16", "--out", out,
        "--min-rating", "4.5"},
       "--dtype"},
      {kTrain,
       {"evaluate", "--split", none, "--model-file", none, "--lambda", "3"},
       "--lambda"},
      {kTrain, {"evaluate", "--split", none, "--threads", "-1"}, "--threads"},
      {kTrain,
       {"evaluate", "--fold-in", none, "--model-file", none},
       "--targets"},
      {kTrain,
       {"evaluate", "--fold-in", none, "--targets", none},
       "--model-file"},
      {kTrain,
       {"evaluate", "--fold-in", none, "--targets", none, "--model-file", none,
        "--split", none},
       "--split"},
      {kTrain,
       {"evaluate", "--split", none, "--model-file", none, "--format", "lines"},
       "--fold-in"},
      {kTrain, {"evaluate", "--model-file", none}, "--split"},
      {kTrain,
       {"evaluate", "--split", none, "--model", "zero-diag"},
       "zero-diag"},
      {kTrain, {"tune", "--split", none, "--lambda", "1,-1"}, "--lambda"},
      {kTrain, {"tune", "--split", none, "--dropout", "0.5,1"}, "--dropout"},
      {kTrain,
       {"tune", "--split", none, "--model", "ease,zero-diag"},
       "--model"},
      {kTrain,
       {"tune", "--split", none, "--rank", "10", "--method", "admm"},
       "--rank"},
      {kTrain, {"sweep", "--split", none, "--ranks", "0,10"}, "--ranks"},
      {kTrain,
       {"sweep", "--split", none, "--precision", "float32", "--scorer", "gemm"},
       "--precision"},
      {kTrain, {"sweep", "--split", none, "--omega", "-1"}, "--omega"},
      {kTrain, {"sweep", "--split", none, "--ranks", "10"}, "--lambda"},
      {kTrain,
       {"split", "--input", none, "--out", out, "--heldout-users", "60%"},
       "--heldout-users"},
      {kTrain,
       {"split", "--input", none, "--out", out, "--heldout-users", "10",
        "--lambda", "1"},
       "--lambda"},
      {kTrain, {"inspect", "--json", none}, "--json"},
      {kTrain, {"inspect", none, none}, "unexpected argument"},
      {kServer,
       {"--model", none, "--shutdown_grace", "-1s"},
       "--shutdown_grace"},
      {kServer,
       {"--model", none, "--poll_interval", "soon"},
       "--poll_interval"},
      {kServer,
       {"--model", none, "--worker_threads", "-3"},
       "--worker_threads"},
      {kServer, {"--model", none, "--max_history", "0"}, "--max_history"},
      {kServer, {"--model", none, "--max_top_n", "-1"}, "--max_top_n"},
      {kServer, {"--model", none, "--port", "70000"}, "--port"},
      {kServer,
       {"--model", none, "--batch_max_wait_us", "-5"},
       "--batch_max_wait_us"},
      {kServer, {"--model", none, "serve"}, "unexpected argument 'serve'"},
      {kServer,
       {"--model", none, "--model_dir", dir.path().string()},
       "--model_dir"},
      {kClient,
       {"recommend", "--target", "127.0.0.1:1", "--items", "a", "--timeout_ms",
        "0"},
       "--timeout_ms"},
      {kClient,
       {"bench", "--target", "127.0.0.1:1", "--concurrency", "0"},
       "--concurrency"},
      {kClient,
       {"health", "--target", "127.0.0.1:1", "extra"},
       "unexpected argument 'extra'"},
  };
  for (const ValueCase& c : cases) {
    std::string line;
    for (const std::string& a : c.args) absl::StrAppend(&line, " ", a);
    SCOPED_TRACE(line);
    const Result r = RunBinary(c.binary, c.args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.named));
    EXPECT_THAT(r.err, HasSubstr("Usage: "));  // and the command's flags
    EXPECT_FALSE(std::filesystem::exists(out));
  }
}

// --a-b and --a_b are one flag; --name=value, --name value and --noflag work.
TEST(FlagLayerTest, BothSpellingsAndValueForms) {
  testing::ScratchDir dir;
  for (const std::vector<std::string>& spelling :
       std::vector<std::vector<std::string>>{{"--mean-items", "5"},
                                             {"--mean_items=5"}}) {
    const std::string out = dir.File("synth.csv");
    std::filesystem::remove(out);
    const Result r = RunBinary(kTrain, Concat({"synth", "--users", "20",
                                               "--items", "30", "--out", out},
                                              spelling));
    EXPECT_EQ(r.exit_code, 0) << spelling[0] << ": " << r.err;
    EXPECT_TRUE(std::filesystem::exists(out)) << spelling[0];
  }
}

// train --seed is the ADMM/ALS start (it was fixed): the same seed trains the
// same factors, another seed other ones.
TEST(FlagLayerTest, SeedReachesTheIterativeLowRankMethods) {
  testing::ScratchDir dir;
  const std::string data = dir.File("data.csv");
  ASSERT_EQ(RunBinary(kTrain, {"synth", "--users", "300", "--items", "60",
                               "--out", data})
                .exit_code,
            0);
  for (const char* spec : {"edlae admm", "zero-diag als"}) {
    const std::vector<std::string> words = absl::StrSplit(spec, ' ');
    SCOPED_TRACE(spec);
    // diag(UVᵀ) and cos(Uᵢ, Vᵢ) summaries of the model trained with `seed`.
    auto factors = [&](const std::string& seed, const std::string& name) {
      const std::string model = dir.File(name);
      const Result train = RunBinary(
          kTrain,
          {"train",     "--input",  data,       "--format", "movielens-csv",
           "--model",   words[0],   "--method", words[1],   "--rank",
           "4",         "--epochs", "2",        "--lambda", "5",
           "--threads", "1",        "--seed",   seed,       "--out",
           model});
      EXPECT_EQ(train.exit_code, 0) << train.err;
      const Result inspect = RunBinary(kTrain, {"inspect", model});
      EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
      return inspect.out.substr(inspect.out.find("diag(UV"));
    };
    const std::string a = factors("7", "a.edlae");
    EXPECT_EQ(factors("7", "b.edlae"), a);
    EXPECT_NE(factors("8", "c.edlae"), a);
  }
}

// evaluate --rank K trains the low-rank model on the split and scores it as
// evaluate --model-file scores the same model trained by train.
TEST(FlagLayerTest, EvaluateWithRankEvaluatesTheLowRankModel) {
  testing::ScratchDir dir;
  const std::string data = dir.File("data.csv"), split = dir.File("split");
  ASSERT_EQ(RunBinary(kTrain, {"synth", "--users", "600", "--items", "120",
                               "--out", data})
                .exit_code,
            0);
  ASSERT_EQ(RunBinary(kTrain, {"split", "--input", data, "--heldout-users",
                               "60", "--out", split})
                .exit_code,
            0);
  const std::vector<std::string> model = {
      "--model", "edlae",     "--rank", "6",         "--lambda",
      "10",      "--dropout", "0.2",    "--threads", "1"};
  const std::string file = dir.File("lr.edlae");
  const Result train =
      RunBinary(kTrain, Concat({"train", "--input", split + "/train.csv",
                                "--format", "csv", "--header", "--out", file},
                               model));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const Result from_file = RunBinary(
      kTrain, {"evaluate", "--split", split, "--model-file", file, "--json"});
  const Result trained = RunBinary(
      kTrain, Concat({"evaluate", "--split", split, "--json"}, model));
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_THAT(trained.out, HasSubstr("rank=6"));
  // The metrics up to their timing are the same.
  auto metrics = [](const std::string& json) {
    const size_t begin = json.find("\"metrics\"");
    return json.substr(begin, json.find("\"seconds\"", begin) - begin);
  };
  EXPECT_EQ(metrics(trained.out), metrics(from_file.out)) << trained.out;
}

// split --out refuses an existing split before reading the input, unless
// --overwrite.
TEST(FlagLayerTest, SplitOverwriteFlag) {
  testing::ScratchDir dir;
  const std::string data = dir.File("data.csv"), split = dir.File("split");
  ASSERT_EQ(RunBinary(kTrain, {"synth", "--users", "300", "--items", "60",
                               "--out", data})
                .exit_code,
            0);
  const std::vector<std::string> args = {
      "split", "--input", data, "--heldout-users", "30", "--out", split};
  ASSERT_EQ(RunBinary(kTrain, args).exit_code, 0);
  const Result again = RunBinary(kTrain, args);
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_THAT(again.err, HasSubstr("--overwrite"));
  EXPECT_THAT(again.err, Not(HasSubstr("[split] read")));  // nothing read
  EXPECT_EQ(RunBinary(kTrain, Concat(args, {"--overwrite"})).exit_code, 0);
}

// Output paths are checked before any work: a missing folder, a folder given
// as the file, or the training data itself as --out exit 2 naming --out,
// and the input is left as it was.
TEST(FlagLayerTest, OutputPathsAreCheckedBeforeAnyWork) {
  testing::ScratchDir dir;
  const std::string data = dir.File("data.csv"), split = dir.File("split");
  ASSERT_EQ(RunBinary(kTrain, {"synth", "--users", "300", "--items", "60",
                               "--out", data})
                .exit_code,
            0);
  const std::string before = ReadAll(data);
  const std::string missing = dir.File("no/such/dir/m.edlae");
  struct Case {
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {{"train", "--input", data, "--model", "ease", "--out", missing}},
      {{"train", "--input", data, "--model", "ease", "--out", data}},
      {{"train", "--input", data, "--model", "ease", "--out", dir.path()}},
      {{"synth", "--users", "10", "--items", "20", "--out", missing}},
      {{"convert", "--model-file", data, "--dtype", "f16", "--out", missing}},
  };
  for (const Case& c : cases) {
    const Result r = RunBinary(kTrain, c.args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(c.args, " ") << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("--out")) << absl::StrJoin(c.args, " ");
    EXPECT_THAT(r.err, Not(HasSubstr("[train] load")));
  }
  EXPECT_EQ(ReadAll(data), before);

  // tune: refused before the grid runs; with a good --out the results are
  // printed before the model is written.
  ASSERT_EQ(RunBinary(kTrain, {"split", "--input", data, "--heldout-users",
                               "30", "--out", split})
                .exit_code,
            0);
  const std::vector<std::string> tune = {"tune", "--split",  split, "--model",
                                         "ease", "--lambda", "10",  "--out"};
  Result r = RunBinary(kTrain, Concat(tune, {missing}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--out"));
  EXPECT_EQ(r.out, "");  // no grid ran
  r = RunBinary(kTrain, Concat(tune, {split + "/train.csv"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;  // a split file is an input
  r = RunBinary(kTrain, Concat(tune, {dir.File("best.edlae")}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("best overall"));
  EXPECT_TRUE(std::filesystem::exists(dir.File("best.edlae")));
}

// Sparse models from the command line: train --density and convert
// --prune-topk write kind sparse; --sparse does not combine with --rank.
TEST(FlagLayerTest, SparseTrainingAndPruning) {
  testing::ScratchDir dir;
  const std::string data = dir.File("data.csv");
  ASSERT_EQ(RunBinary(kTrain, {"synth", "--users", "400", "--items", "120",
                               "--out", data})
                .exit_code,
            0);
  Result r =
      RunBinary(kTrain, {"train", "--input", data, "--model", "edlae",
                         "--lambda", "20", "--dropout", "0.25", "--density",
                         "0.05", "--out", dir.File("s.edlae")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunBinary(kTrain, {"inspect", dir.File("s.edlae")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("sparse"));
  r = RunBinary(kTrain, {"train", "--input", data, "--model", "ease",
                         "--lambda", "20", "--out", dir.File("d.edlae")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunBinary(kTrain,
                {"convert", "--model-file", dir.File("d.edlae"), "--prune-topk",
                 "10", "--dtype", "f16", "--out", dir.File("p.edlae")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunBinary(kTrain, {"inspect", dir.File("p.edlae")});
  EXPECT_THAT(r.out, HasSubstr("sparse"));
  EXPECT_THAT(r.out, HasSubstr("prune_topk"));
  // Each method by name is recorded in the file; contradicting knobs are
  // usage errors before any data is read, and nothing is written.
  for (const auto& [method, recorded] :
       std::vector<std::pair<std::string, std::string>>{
           {"neighborhoods", "neighborhood-regressions"},
           {"factor", "cholmod-llt-pruned-inverse"}}) {
    r = RunBinary(
        kTrain, {"train", "--input", data, "--model", "ease", "--lambda", "20",
                 "--sparse-method", method, "--out", dir.File("m.edlae")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunBinary(kTrain, {"inspect", dir.File("m.edlae")});
    EXPECT_THAT(r.out, HasSubstr(recorded));
  }
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--sparse-method", "cholmod"},
        std::vector<std::string>{"--neighborhood-factor", "0.5"},
        std::vector<std::string>{"--sparse-method", "neighborhoods",
                                 "--factorization", "complete"},
        std::vector<std::string>{"--sparse-method", "factor",
                                 "--neighborhood-factor", "2"}}) {
    std::vector<std::string> args = {"train", "--input", data, "--out",
                                     dir.File("bad.edlae")};
    args.insert(args.end(), bad.begin(), bad.end());
    r = RunBinary(kTrain, args);
    EXPECT_EQ(r.exit_code, 2) << bad[0] << " " << bad[1] << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.File("bad.edlae")));
  }
  // --sparse --rank: Algorithm 1 matrix-free on the sparse factor.
  r = RunBinary(kTrain, {"train", "--input", data, "--model", "edlae", "--rank",
                         "4", "--sparse", "--out", dir.File("r.edlae")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunBinary(kTrain, {"inspect", dir.File("r.edlae")});
  EXPECT_THAT(r.out, HasSubstr("kind:         low_rank"));
  EXPECT_THAT(r.out, HasSubstr("cholmod-selected-inversion-krylov"));
  // What shapes a sparse B has no meaning with a rank; nor has ease.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--model", "edlae", "--density", "0.1"},
        std::vector<std::string>{"--model", "edlae", "--sparse",
                                 "--factorization", "incomplete"},
        std::vector<std::string>{"--model", "edlae", "--sparse-method",
                                 "neighborhoods"},
        std::vector<std::string>{"--model", "ease", "--sparse"},
        std::vector<std::string>{"--model", "edlae", "--sparse", "--method",
                                 "admm"}}) {
    std::vector<std::string> args = {
        "train", "--input", data, "--rank", "4", "--out", dir.File("x.edlae")};
    args.insert(args.end(), extra.begin(), extra.end());
    r = RunBinary(kTrain, args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("--rank")) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.File("x.edlae")));
  }
}

// EDLAE_SIMD_TARGET is applied by both binaries before any work: a name this
// machine lacks is a usage error naming what it has; one it has is accepted
// (the run then fails only on the missing model, exit 1).
TEST(SimdTargetEnvironmentTest, UnavailableIsAUsageErrorAvailableIsAccepted) {
  const std::string none = "/nonexistent/m.edlae";
  ::setenv("EDLAE_SIMD_TARGET", "NOSUCHTARGET", 1);
  const Result train = RunBinary(kTrain, {"inspect", none});
  const Result server = RunBinary(
      kServer, {"--model", none, "--host", "127.0.0.1", "--port", "0"});
  ::setenv("EDLAE_SIMD_TARGET", "scalar", 1);  // the portable fallback
  const Result scalar = RunBinary(kTrain, {"inspect", none});
  ::unsetenv("EDLAE_SIMD_TARGET");
  for (const Result* r : {&train, &server}) {
    EXPECT_EQ(r->exit_code, 2) << r->err;
    EXPECT_THAT(r->err, HasSubstr("EDLAE_SIMD_TARGET=NOSUCHTARGET"));
    EXPECT_THAT(r->err, HasSubstr("available: "));
  }
  EXPECT_EQ(scalar.exit_code, 1) << scalar.err;
  EXPECT_THAT(scalar.err, Not(HasSubstr("EDLAE_SIMD_TARGET")));
}

}  // namespace
}  // namespace edlae
