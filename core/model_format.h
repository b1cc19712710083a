// On-disk layout of an edlae model file: header, section table, constants (see docs/model-format.md).
#ifndef EDLAE_CORE_MODEL_FORMAT_H_
#define EDLAE_CORE_MODEL_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace edlae {

// File layout (all integers little-endian; this code requires a little-endian host):
//
//   [FileHeader: 128 bytes]
//   [SectionEntry × header.section_count: 32 bytes each]
//   [sections, each starting at an offset that is a multiple of kSectionAlignment]
//
// The header checksum covers the header (with `header_checksum` zeroed) and the
// section table. Every section carries its own XXH3-64 checksum.

inline constexpr char kModelMagic[8] = {'E', 'D', 'L', 'A', 'E', 'M', 'D', 'L'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint64_t kSectionAlignment = 64;
// Rows of B, U and V are padded to a multiple of 64 bytes, so every row
// starts on a cache line: 16 float32 or 32 half-precision elements.
inline constexpr uint64_t kRowAlignmentBytes = 64;
inline constexpr uint64_t kRowAlignmentFloats = kRowAlignmentBytes / 4;
inline constexpr uint32_t kMaxSections = 64;

enum class ModelKind : uint32_t {
  kDense = 1,    // B: num_items × num_items.
  kLowRank = 2,  // U, V: num_items × rank each; scores = (x·U)·Vᵀ.
  kSparse = 3,   // B in CSR rows (offsets, indices, weights); rank = 0 and
                 // row_stride = 0; scores = x·B over the stored entries.
};

// "dense", "low_rank" or "sparse": the names GetModelInfo, metrics and
// `edlae-train inspect` use ("unknown" otherwise).
inline constexpr const char* ModelKindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kDense: return "dense";
    case ModelKind::kLowRank: return "low_rank";
    case ModelKind::kSparse: return "sparse";
  }
  return "unknown";
}

enum class DType : uint32_t {
  kFloat32 = 1,
  kFloat16 = 2,   // IEEE binary16 (core/half.h)
  kBFloat16 = 3,  // bfloat16: the top half of a float32
  // Signed 8-bit integers, each row with its own float32 scale (section
  // kRowScales): weight = scale_row · q, q in [−127, 127]. Dense B and
  // low-rank U, V; not sparse models.
  kInt8 = 4,
};

// Largest row stride of an int8 low-rank model: its scores are exact int32
// sums of stride products of at most 127² (core/kernels.h DotRowsBatchI8).
inline constexpr uint64_t kMaxInt8Rank = 131072;

// Bytes per stored element of `dtype` (0 for an unknown dtype).
inline constexpr size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kFloat16: return 2;
    case DType::kBFloat16: return 2;
    case DType::kInt8: return 1;
  }
  return 0;
}

// Elements per 64-byte row alignment unit for `dtype` (0 for an unknown dtype).
inline constexpr size_t RowAlignmentElements(DType dtype) {
  return DTypeSize(dtype) == 0 ? 0 : kRowAlignmentBytes / DTypeSize(dtype);
}

enum class SectionId : uint32_t {
  // Weight sections hold header.dtype elements: dtype[num_items][row_stride].
  kDenseB = 1,      // row i = the weights from item i to every item.
  kFactorU = 2,     // low-rank encoder: row i = item i's rank weights.
  kFactorV = 3,     // low-rank decoder: row j = item j's rank weights.
  kItemIds = 4,     // uint64 offsets[num_items + 1], then UTF-8 bytes.
  kPopularity = 5,  // float32[num_items]: training interaction count per item.
  kMetadata = 6,    // uint32 count, then count × (uint32 klen, key, uint32 vlen, value).
  // Sparse B in CSR form (kind kSparse); nnz = offsets[num_items].
  kSparseOffsets = 7,  // uint64[num_items + 1]: row i = entries offsets[i] .. offsets[i+1).
  kSparseIndices = 8,  // uint32[nnz]: column (item) of each entry, ascending within a row.
  kSparseWeights = 9,  // header.dtype[nnz]: the entries' weights (finite).
  // dtype kInt8 only: float32[num_items] per weight section, in section
  // order — dense: B's; low-rank: U's, then V's (2·num_items floats) — each
  // finite and >= 0: W[i][j] = scales[i] · int8 element j of row i of W.
  kRowScales = 10,
};

struct FileHeader {
  char magic[8];             // kModelMagic
  uint32_t format_version;   // kFormatVersion
  uint32_t header_size;      // sizeof(FileHeader)
  uint32_t kind;             // ModelKind
  uint32_t dtype;            // DType of the weight sections
  uint64_t num_items;
  uint64_t rank;             // 0 for dense models
  uint64_t row_stride;       // elements per stored row (>= row length; rows
                             // are a multiple of 64 bytes: 16 f32 / 32 halves
                             // / 64 int8)
  uint64_t file_size;        // total bytes, to detect truncation early
  uint32_t section_count;
  uint32_t flags;            // 0; reserved
  uint64_t header_checksum;  // XXH3-64 of header (this field zero) + section table
  uint8_t reserved[56];      // zero
};
static_assert(sizeof(FileHeader) == 128, "FileHeader must be exactly 128 bytes");

struct SectionEntry {
  uint32_t id;        // SectionId
  uint32_t flags;     // 0; reserved
  uint64_t offset;    // from file start; multiple of kSectionAlignment
  uint64_t size;      // bytes
  uint64_t checksum;  // XXH3-64 of the section's bytes
};
static_assert(sizeof(SectionEntry) == 32, "SectionEntry must be exactly 32 bytes");

}  // namespace edlae

#endif  // EDLAE_CORE_MODEL_FORMAT_H_
