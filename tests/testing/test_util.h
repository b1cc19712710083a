// Shared test helpers: scratch directories and paths to the real datasets beside the checkout.
#ifndef EDLAE_TESTS_TESTING_TEST_UTIL_H_
#define EDLAE_TESTS_TESTING_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace edlae::testing {

// A fresh directory under the test temp dir, removed when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::filesystem::path root =
        base != nullptr ? base : std::filesystem::temp_directory_path();
    std::random_device rd;
    path_ = root / ("edlae_test_" + std::to_string(rd()) + "_" +
                    std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

  // Writes `contents` to `name` in this directory and returns its path.
  std::string Write(const std::string& name, const std::string& contents) const {
    std::string p = File(name);
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }

 private:
  std::filesystem::path path_;
};

// Path of `relative` under ../shared/datasets, or "" when it does not exist.
inline std::string SharedDataset(const std::string& relative) {
  std::filesystem::path p =
      std::filesystem::path(EDLAE_SHARED_DATASETS_DIR) / relative;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

}  // namespace edlae::testing

// Skips the current test when the shared dataset file is not present.
#define EDLAE_REQUIRE_DATASET(var, relative)                              \
  const std::string var = ::edlae::testing::SharedDataset(relative);      \
  if (var.empty()) GTEST_SKIP() << "dataset not found: " << (relative)

#endif  // EDLAE_TESTS_TESTING_TEST_UTIL_H_
