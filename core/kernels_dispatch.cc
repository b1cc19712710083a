// SIMD target selection for every kernel family (EDLAE_SIMD_TARGET, tests).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels_dispatch.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace edlae {
namespace HWY_NAMESPACE {

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/kernels.h"
#include "core/kernels_testing.h"
#include "core/kernels_x86.h"

namespace edlae {

HWY_EXPORT(TargetNameImpl);

std::string ActiveSimdTarget() {
  return HWY_DYNAMIC_DISPATCH(TargetNameImpl)();
}

std::vector<int64_t> AvailableSimdTargets() {
  return hwy::SupportedAndGeneratedTargets();
}

// Highway keeps one process-wide chosen target that every HWY_EXPORT table
// (one per kernel file) dispatches through, so this restricts all families.
// A forced Highway target runs the Highway kernels alone (no AMX tiles), so
// that every target can be tested against the scalar reference.
void ForceSimdTargetForTest(int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
  if (target == 0) {
    ResetX86MatrixPath();
  } else {
    ForceX86MatrixPathForTest(X86MatrixPath::kNone);
  }
}

std::string ActiveMatrixPath() {
  return X86MatrixPathName(ActiveX86MatrixPath());
}

absl::Status ApplySimdTargetFromEnv() {
  const char* value = std::getenv("EDLAE_SIMD_TARGET");
  if (value == nullptr || *value == '\0') return absl::OkStatus();
  const std::string wanted = absl::AsciiStrToUpper(value);
  // AMX (the tiles, where the dtype has one) or VNNI (int8 on AVX-512 VNNI,
  // no tiles): the best Highway target plus that matrix path.
  constexpr X86MatrixPath kMatrixPaths[] = {X86MatrixPath::kAmx,
                                            X86MatrixPath::kVnni};
  for (X86MatrixPath path : kMatrixPaths) {
    if (wanted != X86MatrixPathName(path)) continue;
    if (!X86MatrixPathAvailable(path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EDLAE_SIMD_TARGET=", value, ": this CPU or kernel has no usable ",
          X86MatrixPathName(path),
          " (CPUID, XCR0, or for AMX the arch_prctl tile permission)"));
    }
    ForceSimdTargetForTest(0);
    ForceX86MatrixPathForTest(path);
    return absl::OkStatus();
  }
  // The portable fallback is "SCALAR" or "EMU128" depending on the Highway
  // version; accept either name for it.
  const bool wants_fallback = wanted == "SCALAR" || wanted == "EMU128";
  std::string available;
  for (int64_t target : AvailableSimdTargets()) {
    const std::string name = hwy::TargetName(target);
    if (name == wanted ||
        (wants_fallback && (name == "SCALAR" || name == "EMU128"))) {
      ForceSimdTargetForTest(target);
      return absl::OkStatus();
    }
    absl::StrAppend(&available, available.empty() ? "" : ", ", name);
  }
  for (X86MatrixPath path : kMatrixPaths) {
    if (X86MatrixPathAvailable(path)) {
      absl::StrAppend(&available, ", ", X86MatrixPathName(path));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("EDLAE_SIMD_TARGET=", value,
                   " is not available here (available: ", available, ")"));
}

}  // namespace edlae
#endif  // HWY_ONCE
