// x86 matrix-extension detection and kernels (AMX, VNNI); none are compiled yet, so every entry point declines.
#include "core/kernels_x86.h"

namespace edlae {

const X86MatrixFeatures& DetectX86MatrixFeatures() {
  static const X86MatrixFeatures features;
  return features;
}

bool DotRowsBatchI8X86(const int8_t*, size_t, size_t, const int8_t*, size_t,
                       size_t, size_t, int32_t*, size_t) {
  return false;
}

}  // namespace edlae
