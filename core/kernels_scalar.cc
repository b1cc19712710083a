// Scalar references for the SIMD kernels: plain loops, same contracts.
#include <cstddef>
#include <cstdint>

#include "core/half.h"
#include "core/kernels_testing.h"

namespace edlae {

namespace {

template <typename T, typename Convert>
void AccumulateScalar(const T* const* rows, const float* weights,
                      size_t num_rows, size_t len, float* acc,
                      Convert to_float) {
  for (size_t r = 0; r < num_rows; ++r) {
    for (size_t j = 0; j < len; ++j)
      acc[j] += weights[r] * to_float(rows[r][j]);
  }
}

template <typename T, typename Convert>
void DotScalar(const T* v, size_t stride, size_t count, const float* z,
               size_t dim, float* out, Convert to_float) {
  for (size_t j = 0; j < count; ++j) {
    float t = 0;
    for (size_t k = 0; k < dim; ++k) t += to_float(v[j * stride + k]) * z[k];
    out[j] = t;
  }
}

float Identity(float f) { return f; }
float IntToFloat(int8_t q) { return static_cast<float>(q); }

}  // namespace

void AccumulateRowsScalar(const float* const* rows, const float* weights,
                          size_t num_rows, size_t len, float* acc) {
  AccumulateScalar(rows, weights, num_rows, len, acc, Identity);
}
void AccumulateRowsF16Scalar(const uint16_t* const* rows, const float* weights,
                             size_t num_rows, size_t len, float* acc) {
  AccumulateScalar(rows, weights, num_rows, len, acc, F16ToFloat);
}
void AccumulateRowsBF16Scalar(const uint16_t* const* rows, const float* weights,
                              size_t num_rows, size_t len, float* acc) {
  AccumulateScalar(rows, weights, num_rows, len, acc, Bf16ToFloat);
}
void AccumulateRowsI8Scalar(const int8_t* const* rows, const float* weights,
                            size_t num_rows, size_t len, float* acc) {
  AccumulateScalar(rows, weights, num_rows, len, acc, IntToFloat);
}

void DotRowsScalar(const float* v, size_t stride, size_t count, const float* z,
                   size_t dim, float* out) {
  DotScalar(v, stride, count, z, dim, out, Identity);
}
void DotRowsF16Scalar(const uint16_t* v, size_t stride, size_t count,
                      const float* z, size_t dim, float* out) {
  DotScalar(v, stride, count, z, dim, out, F16ToFloat);
}
void DotRowsBF16Scalar(const uint16_t* v, size_t stride, size_t count,
                       const float* z, size_t dim, float* out) {
  DotScalar(v, stride, count, z, dim, out, Bf16ToFloat);
}

void DotRowsBatchI8Scalar(const int8_t* v, size_t stride, size_t count,
                          const int8_t* z, size_t z_stride, size_t batch,
                          size_t dim, int32_t* out, size_t out_stride) {
  for (size_t b = 0; b < batch; ++b) {
    for (size_t j = 0; j < count; ++j) {
      int32_t sum = 0;
      for (size_t k = 0; k < dim; ++k) {
        sum += int32_t{v[j * stride + k]} * z[b * z_stride + k];
      }
      out[b * out_stride + j] = sum;
    }
  }
}

}  // namespace edlae
