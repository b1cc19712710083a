// A vectorized all-finite check for weight rows (model writer and reader).
#ifndef EDLAE_CORE_FINITE_H_
#define EDLAE_CORE_FINITE_H_

#include <cstdint>

namespace edlae {

// True when all `n` floats at `p` are finite (no NaN, no ±inf).
bool AllFinite(const float* p, uint64_t n);

}  // namespace edlae

#endif  // EDLAE_CORE_FINITE_H_
