// A vectorized all-finite check for weight rows (model writer and reader).
#ifndef EDLAE_CORE_FINITE_H_
#define EDLAE_CORE_FINITE_H_

#include <cstdint>

namespace edlae {

// True when all `n` floats at `p` are finite (no NaN, no ±inf).
bool AllFinite(const float* p, uint64_t n);

// True when none of the `n` half-precision bit patterns at `p` is inf or NaN,
// i.e. none has all of `exponent_mask` set: 0x7C00 for IEEE binary16,
// 0x7F80 for bfloat16.
bool AllFiniteHalves(const uint16_t* p, uint64_t n, uint16_t exponent_mask);

}  // namespace edlae

#endif  // EDLAE_CORE_FINITE_H_
