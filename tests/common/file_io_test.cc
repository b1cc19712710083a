// common/file_io: atomic writes leave the old file or the new one (never a
// temporary), reads and token checks.
#include "common/file_io.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edlae {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace edlae
