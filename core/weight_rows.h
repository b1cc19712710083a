// WeightRows: a typed, non-owning view of row-major weight rows (B, U or V)
// stored as float32, f16, bf16 or int8 with per-row scales.
#ifndef EDLAE_CORE_WEIGHT_ROWS_H_
#define EDLAE_CORE_WEIGHT_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/model_format.h"

namespace edlae {

// Row i holds `dim` elements of `dtype` starting at element i·stride of
// `data`; elements [dim, stride) are padding. Halves are IEEE binary16 or
// bfloat16 bit patterns (core/half.h); kInt8 elements are int8_t, row i's
// weights being scales[i] · element. Nothing is owned: the memory (a mapped
// model file, a trainer's buffer) must outlive the view. Read-only, so a view
// may be shared between threads.
struct WeightRows {
  const void* data = nullptr;
  DType dtype = DType::kFloat32;
  size_t num_rows = 0;
  size_t dim = 0;
  size_t stride = 0;  // elements; >= dim
  // kInt8: num_rows scales (finite, >= 0); null for the other dtypes.
  const float* scales = nullptr;

  // First element of row i. REQUIRES: i < num_rows.
  const void* row(size_t i) const {
    return static_cast<const uint8_t*>(data) + i * stride * DTypeSize(dtype);
  }
  // The factor row i's stored elements are multiplied by: scales[i] for
  // kInt8, 1 otherwise. REQUIRES: i < num_rows.
  float scale(size_t i) const { return scales != nullptr ? scales[i] : 1.0f; }
};

// A sparse matrix in CSR form as stored in a kSparse model file: row i's
// entries are [offsets[i], offsets[i + 1]), each with a column index
// (ascending within the row, < num_rows) and a weight of `dtype` (float32, or
// f16/bf16 bit patterns). Borrowed; the model owns the memory.
struct CsrWeights {
  const uint64_t* offsets = nullptr;  // num_rows + 1
  const uint32_t* indices = nullptr;  // nnz
  const void* weights = nullptr;      // nnz elements of dtype
  DType dtype = DType::kFloat32;
  size_t num_rows = 0;
  size_t nnz = 0;

  // Weight of entry e widened to float32. REQUIRES: e < nnz.
  float weight(size_t e) const;
};

// A float32 rounded to the nearest half of `dtype` (kFloat16 or kBFloat16),
// ties to even, as the model writer stores it; and a half widened back
// (exact). Bit patterns as core/half.h.
uint16_t NarrowToHalf(DType dtype, float v);
float WidenHalf(DType dtype, uint16_t h);

// Element (i, j) as stored, widened to float32 (kInt8: the integer, without
// the row's scale; what the kernels multiply). REQUIRES: i < num_rows,
// j < stride.
float ElementAt(const WeightRows& rows, size_t i, size_t j);

// Weight (i, j) as float32: ElementAt, times row i's scale for kInt8.
// REQUIRES: i < num_rows, j < stride.
float WeightAt(const WeightRows& rows, size_t i, size_t j);

// out[0, count) = weights [0, count) of row i as float32: widened (exact:
// every f16 and bf16 value is a float32), or for kInt8 scale · q (as WeightAt).
// REQUIRES: i < num_rows, count <= stride, out holds count floats.
void ReadRow(const WeightRows& rows, size_t i, size_t count, float* out);

// Rounds `values` to int8 with one scale, max |values| / 127 (0 when all are
// zero): q[c] = values[c] / scale rounded to nearest (ties to even) in
// [−127, 127], so every value is within scale / 2 of scale · q[c]. Writes
// values.size() elements of `q` and returns the scale. The one quantization of
// int8 storage (the model writer's rows) and of int8 scoring (a low-rank
// query's z).
float QuantizeToInt8(absl::Span<const float> values, int8_t* q);

// "float32", "float16", "bfloat16" or "int8" ("unknown" otherwise): the names the
// server's GetModelInfo and `edlae-train inspect` print.
const char* DTypeName(DType dtype);

// Parses a storage type as flags spell it: f32/float32, f16/float16,
// bf16/bfloat16, i8/int8 (dense and low-rank models: the writer checks). InvalidArgument
// otherwise.
absl::StatusOr<DType> ParseDType(std::string_view name);

}  // namespace edlae

#endif  // EDLAE_CORE_WEIGHT_ROWS_H_
