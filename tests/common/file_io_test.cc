// common/file_io: atomic writes leave the old file or the new one (never a
// temporary), errors name the user's path, stale temporaries of dead writers
// go, output preflight, reads and token checks.
#include "common/file_io.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edlae {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The pid of a child that has exited and been reaped: no process has it
// (until the kernel reuses it, which takes a full cycle of the pid space).
pid_t DeadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("edlae_file_io_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string File(const std::string& name) const {
    return (dir_ / name).string();
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  size_t EntryCount() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator(dir_))
      ++n;
    return n;
  }
  std::filesystem::path dir_;
};

TEST_F(FileIoTest, WriteFileAtomicallyReplacesAndLeavesNoTemporary) {
  ASSERT_TRUE(WriteFileAtomically(File("a.txt"), "first").ok());
  ASSERT_TRUE(WriteFileAtomically(File("a.txt"), "second").ok());
  EXPECT_EQ(Read(File("a.txt")), "second");
  EXPECT_EQ(EntryCount(), 1u);
  EXPECT_EQ(std::filesystem::status(File("a.txt")).permissions() &
                std::filesystem::perms::owner_read,
            std::filesystem::perms::owner_read);
}

TEST_F(FileIoTest, UncommittedFileLeavesTheOldContents) {
  ASSERT_TRUE(WriteFileAtomically(File("a.txt"), "old").ok());
  {
    AtomicFile file;
    ASSERT_TRUE(file.Create(File("a.txt")).ok());
    EXPECT_THAT(file.temp_path(), HasSubstr(".a.txt.tmp."));
    ASSERT_TRUE(WriteAll(file.fd(), "new", 3, file.temp_path()).ok());
    EXPECT_EQ(EntryCount(), 2u);  // the temporary is beside the target
  }  // destroyed without Commit: the temporary goes, the old file stays
  EXPECT_EQ(Read(File("a.txt")), "old");
  EXPECT_EQ(EntryCount(), 1u);
}

TEST_F(FileIoTest, FailedRenameKeepsTheDestinationAndRemovesTheTemporary) {
  std::filesystem::create_directories(dir_ / "taken" / "child");
  absl::Status s = WriteFileAtomically(File("taken"), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("rename"));
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "taken" / "child"));
  EXPECT_EQ(EntryCount(), 1u);
}

TEST_F(FileIoTest, BadPathsAreClearErrors) {
  EXPECT_TRUE(absl::IsInvalidArgument(WriteFileAtomically("", "x")));
  EXPECT_TRUE(absl::IsInvalidArgument(WriteFileAtomically(File("sub/"), "x")));
  absl::Status s = WriteFileAtomically(File("missing/a.txt"), "x");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("missing"));
}

TEST_F(FileIoTest, ReadFileToStringNamesTheFlag) {
  ASSERT_TRUE(WriteFileAtomically(File("c.pem"), "PEM\n").ok());
  absl::StatusOr<std::string> pem = ReadFileToString(File("c.pem"), "--tls_ca");
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(*pem, "PEM\n");
  pem = ReadFileToString(File("none.pem"), "--tls_ca");
  EXPECT_TRUE(absl::IsInvalidArgument(pem.status()));
  EXPECT_THAT(pem.status().message(), HasSubstr("cannot read --tls_ca file"));
}

TEST_F(FileIoTest, ReadTokenFileTrimsAndRefusesWhatMetadataCannotCarry) {
  ASSERT_TRUE(WriteFileAtomically(File("t"), "  s3cret\n").ok());
  absl::StatusOr<std::string> token =
      ReadTokenFile(File("t"), "--auth_token_file");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "s3cret");
  ASSERT_TRUE(WriteFileAtomically(File("empty"), " \n").ok());
  token = ReadTokenFile(File("empty"), "--auth_token_file");
  EXPECT_THAT(token.status().message(), HasSubstr("holds no token"));
  ASSERT_TRUE(WriteFileAtomically(File("bin"), "a\x01b").ok());
  token = ReadTokenFile(File("bin"), "--auth_token_file");
  EXPECT_THAT(token.status().message(), HasSubstr("printable ASCII"));
  EXPECT_THAT(token.status().message(), ::testing::Not(HasSubstr("a\x01b")));
}

TEST_F(FileIoTest, ErrorsNameTheUsersPathNotTheTemporary) {
  // A write that fails midway (file size limit → EFBIG; works even as root).
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  absl::Status s = WriteFileAtomically(File("m.edlae"), std::string(4096, 'x'));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("cannot write " + File("m.edlae") + ":"));
  EXPECT_THAT(s.message(), Not(HasSubstr(".tmp.")));
  EXPECT_EQ(EntryCount(), 0u);

  // A failed rename and a missing folder name the destination too.
  std::filesystem::create_directories(dir_ / "taken" / "child");
  s = WriteFileAtomically(File("taken"), "x");
  EXPECT_THAT(s.message(), HasSubstr(File("taken")));
  EXPECT_THAT(s.message(), Not(HasSubstr(".tmp.")));
  s = WriteFileAtomically(File("missing/a.txt"), "x");
  EXPECT_THAT(s.message(), HasSubstr("cannot create " + File("missing/a.txt")));
  EXPECT_THAT(s.message(), Not(HasSubstr(".tmp.")));
}

TEST_F(FileIoTest, CreateRemovesStaleTemporariesOfDeadWritersOnly) {
  const pid_t dead = DeadPid();
  const pid_t alive = ::getppid();  // exists for as long as this test runs
  auto touch = [&](const std::string& name) {
    std::ofstream(File(name)) << "partial";
    return File(name);
  };
  const std::string stale =
      touch(".m.edlae.tmp." + std::to_string(dead) + ".1f2e3d");
  const std::string stale2 =
      touch(".m.edlae.tmp." + std::to_string(dead) + ".a");
  // Kept: a live writer, this process, another output's temporary, names
  // that only look alike, and a directory of the temporary's shape.
  const std::string live =
      touch(".m.edlae.tmp." + std::to_string(alive) + ".1f2e3d");
  const std::string own =
      touch(".m.edlae.tmp." + std::to_string(::getpid()) + ".abc");
  const std::string other =
      touch(".other.edlae.tmp." + std::to_string(dead) + ".1f2e3d");
  const std::string not_hex =
      touch(".m.edlae.tmp." + std::to_string(dead) + ".xyz");
  const std::string suffix =
      touch(".m.edlae.tmp." + std::to_string(dead) + ".1f.bak");
  const std::string user_file = touch("m.edlae.tmp." + std::to_string(dead) +
                                      ".1f2e3d");  // no leading dot
  std::filesystem::create_directory(
      File(".m.edlae.tmp." + std::to_string(dead) + ".dd"));

  AtomicFile file;
  ASSERT_TRUE(file.Create(File("m.edlae")).ok());
  EXPECT_EQ(file.stale_removed(), 2u);
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_FALSE(std::filesystem::exists(stale2));
  for (const std::string& kept :
       {live, own, other, not_hex, suffix, user_file}) {
    EXPECT_TRUE(std::filesystem::exists(kept)) << kept;
  }
  EXPECT_TRUE(std::filesystem::is_directory(
      File(".m.edlae.tmp." + std::to_string(dead) + ".dd")));
  ASSERT_TRUE(WriteAll(file.fd(), "ok", 2, file.path()).ok());
  ASSERT_TRUE(file.Commit().ok());
  EXPECT_EQ(Read(File("m.edlae")), "ok");

  // WriteFileAtomically (every model, split and synth file) cleans up too.
  const std::string stale3 =
      touch(".a.csv.tmp." + std::to_string(dead) + ".beef");
  ASSERT_TRUE(WriteFileAtomically(File("a.csv"), "x").ok());
  EXPECT_FALSE(std::filesystem::exists(stale3));
}

TEST_F(FileIoTest, CheckWritableOutputRefusesWhatTheWriteWouldFail) {
  EXPECT_TRUE(CheckWritableOutput(File("best.edlae"), "--out").ok());
  EXPECT_EQ(EntryCount(), 0u);  // the probe leaves nothing behind
  ASSERT_TRUE(WriteFileAtomically(File("old.edlae"), "x").ok());
  EXPECT_TRUE(CheckWritableOutput(File("old.edlae"), "--out").ok());
  EXPECT_EQ(Read(File("old.edlae")), "x");  // existing file untouched

  absl::Status s = CheckWritableOutput(File("nodir/best.edlae"), "--out");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("--out '" + File("nodir/best.edlae")));
  EXPECT_THAT(s.message(), HasSubstr("does not exist"));

  std::filesystem::create_directory(dir_ / "sub");
  s = CheckWritableOutput(File("sub"), "--out");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("is a directory"));
  s = CheckWritableOutput(File("sub/"), "--out");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("--out"));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckWritableOutput("", "--out")));

  // A regular file used as a folder.
  s = CheckWritableOutput(File("old.edlae/m.edlae"), "--out");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("--out"));

  if (::geteuid() != 0) {  // root writes anywhere
    std::filesystem::create_directory(dir_ / "ro");
    ASSERT_EQ(::chmod(File("ro").c_str(), 0555), 0);
    s = CheckWritableOutput(File("ro/m.edlae"), "--out");
    EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
    EXPECT_THAT(s.message(),
                HasSubstr("--out: cannot create " + File("ro/m.edlae")));
    EXPECT_THAT(s.message(), Not(HasSubstr("probe")));
    s = CheckWritableOutputDir(File("ro/split"), "--out");
    EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
    ASSERT_EQ(::chmod(File("ro").c_str(), 0755), 0);
  }
}

TEST_F(FileIoTest,
       CheckWritableOutputDirAcceptsMissingFoldersUnderOneWeCanWrite) {
  EXPECT_TRUE(CheckWritableOutputDir(dir_.string(), "--out").ok());
  EXPECT_TRUE(CheckWritableOutputDir(File("a/b/c"), "--out").ok());
  EXPECT_FALSE(std::filesystem::exists(File("a")));  // creates nothing
  EXPECT_EQ(EntryCount(), 0u);
  ASSERT_TRUE(WriteFileAtomically(File("f"), "x").ok());
  absl::Status s = CheckWritableOutputDir(File("f"), "--out");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(),
              HasSubstr("--out '" + File("f") + "' is not a folder"));
  s = CheckWritableOutputDir(File("f/sub"), "--out");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(absl::IsInvalidArgument(CheckWritableOutputDir("", "--out")));
}

TEST_F(FileIoTest, SameFileFollowsLinksAndRefusesOverwritingAnInput) {
  ASSERT_TRUE(WriteFileAtomically(File("plays.csv"), "u1,i1\n").ok());
  ASSERT_TRUE(WriteFileAtomically(File("other.csv"), "u1,i1\n").ok());
  std::filesystem::create_symlink(File("plays.csv"), File("link.csv"));
  std::filesystem::create_hard_link(File("plays.csv"), File("hard.csv"));
  std::filesystem::create_directory(dir_ / "sub");

  EXPECT_TRUE(*SameFile(File("plays.csv"), File("plays.csv")));
  EXPECT_TRUE(*SameFile(File("plays.csv"), File("link.csv")));
  EXPECT_TRUE(*SameFile(File("hard.csv"), File("plays.csv")));
  EXPECT_TRUE(*SameFile(File("sub/../plays.csv"), File("plays.csv")));
  EXPECT_FALSE(*SameFile(File("plays.csv"), File("other.csv")));  // same bytes
  EXPECT_FALSE(*SameFile(File("new.edlae"), File("plays.csv")));  // missing

  absl::Status s = CheckOutputIsNotInput(
      File("link.csv"), "--out", {File("other.csv"), File("plays.csv")});
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(),
              HasSubstr("--out '" + File("link.csv") + "' is the input file '" +
                        File("plays.csv") + "'"));
  EXPECT_TRUE(
      CheckOutputIsNotInput(File("m.edlae"), "--out", {File("plays.csv")})
          .ok());
  EXPECT_TRUE(
      CheckOutputIsNotInput(File("other.csv"), "--out", {File("plays.csv")})
          .ok());
  EXPECT_TRUE(CheckOutputIsNotInput(File("m.edlae"), "--out", {}).ok());
  EXPECT_EQ(Read(File("plays.csv")), "u1,i1\n");
}

}  // namespace
}  // namespace edlae
