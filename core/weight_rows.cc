// WeightRows element access, widening and dtype names.
#include "core/weight_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/half.h"
#include "core/kernels.h"

namespace edlae {

uint16_t NarrowToHalf(DType dtype, float v) {
  return dtype == DType::kFloat16 ? FloatToF16(v) : FloatToBf16(v);
}

float WidenHalf(DType dtype, uint16_t h) {
  return dtype == DType::kFloat16 ? F16ToFloat(h) : Bf16ToFloat(h);
}

float ElementAt(const WeightRows& rows, size_t i, size_t j) {
  const void* row = rows.row(i);
  if (rows.dtype == DType::kFloat32) return static_cast<const float*>(row)[j];
  if (rows.dtype == DType::kInt8) {
    return static_cast<float>(static_cast<const int8_t*>(row)[j]);
  }
  return WidenHalf(rows.dtype, static_cast<const uint16_t*>(row)[j]);
}

float WeightAt(const WeightRows& rows, size_t i, size_t j) {
  const float element = ElementAt(rows, i, j);
  return rows.dtype == DType::kInt8 ? rows.scales[i] * element : element;
}

float CsrWeights::weight(size_t e) const {
  if (dtype == DType::kFloat32) return static_cast<const float*>(weights)[e];
  return WidenHalf(dtype, static_cast<const uint16_t*>(weights)[e]);
}

void ReadRow(const WeightRows& rows, size_t i, size_t count, float* out) {
  const void* row = rows.row(i);
  switch (rows.dtype) {
    case DType::kFloat32:
      std::memcpy(out, row, count * sizeof(float));
      return;
    case DType::kFloat16:
      WidenF16(static_cast<const uint16_t*>(row), count, out);
      return;
    case DType::kBFloat16:
      WidenBF16(static_cast<const uint16_t*>(row), count, out);
      return;
    case DType::kInt8: {
      WidenI8(static_cast<const int8_t*>(row), count, rows.scales[i], out);
      return;
    }
  }
}

float QuantizeToInt8(absl::Span<const float> values, int8_t* q) {
  float largest = 0.0f;
  for (float v : values) largest = std::max(largest, std::fabs(v));
  const float scale = largest / 127.0f;
  for (size_t c = 0; c < values.size(); ++c) {
    const float r = scale > 0 ? std::nearbyint(values[c] / scale) : 0.0f;
    q[c] = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
  }
  return scale;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kInt8:
      return "int8";
  }
  return "unknown";
}

absl::StatusOr<DType> ParseDType(std::string_view name) {
  if (name == "f32" || name == "float32") return DType::kFloat32;
  if (name == "f16" || name == "float16") return DType::kFloat16;
  if (name == "bf16" || name == "bfloat16") return DType::kBFloat16;
  if (name == "i8" || name == "int8") return DType::kInt8;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype '", absl::string_view(name.data(), name.size()),
                   "' (expected f32, f16, bf16 or int8)"));
}

}  // namespace edlae
