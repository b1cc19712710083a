// Tests for common/huge_pages.h: zeroed vectors whose mapping carries the kernel's huge-page advice.
#include "common/huge_pages.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace edlae {
namespace {

// The VmFlags line of the /proc/self/smaps mapping that contains `address`
// ("" when not found).
std::string VmFlagsOfMappingAt(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t a = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= a && a < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

bool KernelHasTransparentHugePages() {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  return std::getline(enabled, modes) && modes.find("[never]") == std::string::npos;
}

TEST(HugePagesTest, ZeroedOnHugePagesIsZeroedAndSized) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{3} << 20}) {
    const std::vector<float> v = ZeroedOnHugePages<float>(n);
    ASSERT_EQ(v.size(), n);
    for (size_t i = 0; i < n; i += 4099) ASSERT_EQ(v[i], 0.0f) << i;
    if (n > 0) EXPECT_EQ(v.back(), 0.0f);
  }
}

TEST(HugePagesTest, LargeBuffersAreAdvisedSmallOnesAreNot) {
  if (!KernelHasTransparentHugePages()) {
    GTEST_SKIP() << "transparent huge pages are off in this kernel";
  }
  std::vector<double> large = ZeroedOnHugePages<double>(size_t{8} << 20);  // 64 MiB
  const std::string flags = VmFlagsOfMappingAt(large.data() + large.size() / 2);
  ASSERT_FALSE(flags.empty()) << "no smaps entry for the buffer";
  EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;

  // A plain vector of the same size is not advised: the advice is what
  // ZeroedOnHugePages adds.
  std::vector<double> plain(size_t{8} << 20);
  const std::string plain_flags =
      VmFlagsOfMappingAt(plain.data() + plain.size() / 2);
  EXPECT_EQ(plain_flags.find(" hg"), std::string::npos) << plain_flags;
}

}  // namespace
}  // namespace edlae
