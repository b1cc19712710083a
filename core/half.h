// IEEE binary16 (f16) and bfloat16 conversions for reduced-precision model storage.
#ifndef EDLAE_CORE_HALF_H_
#define EDLAE_CORE_HALF_H_

#include <cstdint>
#include <cstring>

namespace edlae {

// bfloat16 = the top 16 bits of a float32; rounding to nearest, ties to even.
// NaN stays NaN (quiet); overflow rounds to ±inf as IEEE rounding does.
inline uint16_t FloatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

inline float Bf16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// binary16: 1 sign, 5 exponent, 10 mantissa bits; round to nearest even,
// subnormals kept, overflow to ±inf, NaN stays NaN.
inline uint16_t FloatToF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u;                 // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00u;                // rounds to inf
  if (abs < 0x38800000u) {                                     // f16 subnormal or 0
    if (abs < 0x33000000u) return sign;                        // below half the min
    const uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
    const int shift = 126 - static_cast<int>(abs >> 23);       // 14..24
    const uint32_t rounded = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    const uint32_t up = (rest > half || (rest == half && (rounded & 1u))) ? 1u : 0u;
    return sign | static_cast<uint16_t>(rounded + up);
  }
  // Normal: rebias the exponent (127 → 15) and round the mantissa to 10 bits.
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rest = abs & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;   // may carry into inf
  return sign | static_cast<uint16_t>(h);
}

inline float F16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1Fu) {
    bits = sign | 0x7F800000u | (mantissa << 13);             // inf / NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;                                                // ±0
  } else {                                                      // subnormal
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    bits = sign | ((112u - e) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace edlae

#endif  // EDLAE_CORE_HALF_H_
