// AllFinite, AllFiniteHalves: branch-free so that they vectorize, in its own translation unit because GCC 12 stops
// vectorizing it once inlined into a row loop.
#include "core/finite.h"

#include <cmath>
#include <limits>

namespace edlae {

bool AllFinite(const float* p, uint64_t n) {
  // NaN fails the comparison; ±inf exceeds the largest finite float.
  int ok = 1;
  for (uint64_t i = 0; i < n; ++i) {
    ok &= static_cast<int>(std::fabs(p[i]) <= std::numeric_limits<float>::max());
  }
  return ok != 0;
}

bool AllFiniteHalves(const uint16_t* p, uint64_t n, uint16_t exponent_mask) {
  // A half is inf or NaN exactly when all its exponent bits are set.
  int ok = 1;
  for (uint64_t i = 0; i < n; ++i) {
    ok &= static_cast<int>((p[i] & exponent_mask) != exponent_mask);
  }
  return ok != 0;
}

}  // namespace edlae
