// Model: maps a model file and validates all of it before exposing pointers.
#include "core/model.h"

#include <xxhash.h>
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
// Routes XXH3 calls to libxxhash's AVX2/AVX-512 variants chosen at run time
// (same hash values; the default entry points are SSE2 only).
#include <xxh_x86dispatch.h>
#endif

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "core/finite.h"
#include "core/status_macros.h"
#include "core/utf8.h"

namespace edlae {

static_assert(std::endian::native == std::endian::little,
              "the edlae model format is little-endian; big-endian hosts "
              "would need byte swapping in the reader");

namespace {

const char* SectionName(uint32_t id) {
  switch (static_cast<SectionId>(id)) {
    case SectionId::kDenseB:
      return "B";
    case SectionId::kFactorU:
      return "U";
    case SectionId::kFactorV:
      return "V";
    case SectionId::kItemIds:
      return "item ids";
    case SectionId::kPopularity:
      return "popularity";
    case SectionId::kMetadata:
      return "metadata";
    case SectionId::kSparseOffsets:
      return "sparse offsets";
    case SectionId::kSparseIndices:
      return "sparse indices";
    case SectionId::kSparseWeights:
      return "sparse weights";
    case SectionId::kRowScales:
      return "row scales";
  }
  return "unknown";
}

uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Bytes of the num_items + 1 uint64 offsets that open the item ids section
// (no overflow: num_items < 2^32).
constexpr uint64_t ItemIdOffsetsBytes(uint64_t num_items) {
  return (num_items + 1) * sizeof(uint64_t);
}

// Hashes a weight matrix (B, U or V: `rows` rows of `stride` elements of
// `dtype`, the first `len` of them weights) row by row and, while each row is
// still in cache, checks that the weights are finite and the row padding is
// zero. One pass over the mapping.
bool HashAndCheckRows(const uint8_t* base, DType dtype, uint64_t rows,
                      uint64_t len, uint64_t stride, uint64_t* checksum,
                      uint64_t* bad_row) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  const uint64_t element = DTypeSize(dtype);
  const uint64_t row_bytes = stride * element;
  bool ok = true;
  for (uint64_t r = 0; r < rows; ++r) {
    const uint8_t* row = base + r * row_bytes;
    XXH3_64bits_update(state, row, row_bytes);
    if (!ok) continue;    // keep hashing: a checksum mismatch is reported first
    uint8_t padding = 0;  // bit patterns, so -0.0 is caught too
    for (uint64_t c = len * element; c < row_bytes; ++c) padding |= row[c];
    bool finite = false;
    switch (dtype) {
      case DType::kFloat32:
        finite = AllFinite(reinterpret_cast<const float*>(row), len);
        break;
      case DType::kFloat16:
        finite = AllFiniteHalves(reinterpret_cast<const uint16_t*>(row), len,
                                 0x7C00);
        break;
      case DType::kBFloat16:
        finite = AllFiniteHalves(reinterpret_cast<const uint16_t*>(row), len,
                                 0x7F80);
        break;
      case DType::kInt8:  // every integer is a weight (times the row's scale)
        finite = true;
        break;
    }
    if (!finite || padding != 0) {
      ok = false;
      *bad_row = r;
    }
  }
  *checksum = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return ok;
}

// The errors Parse returns, each prefixed with the model's path ("<memory>"
// for FromBytes).
class ParseErrors {
 public:
  explicit ParseErrors(std::string where) : where_(std::move(where)) {}

  // DataLoss: the bytes are damaged, truncated or inconsistent.
  template <typename... Parts>
  absl::Status Corrupt(const Parts&... parts) const {
    return absl::DataLossError(absl::StrCat(where_, ": ", parts...));
  }
  // InvalidArgument: a version, flag, kind or dtype this build does not read.
  template <typename... Parts>
  absl::Status Unsupported(const Parts&... parts) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": ", parts...));
  }

 private:
  std::string where_;
};

// What the header says about the weight matrices, once validated.
struct WeightLayout {
  ModelKind kind = ModelKind::kDense;
  bool low_rank = false;
  DType dtype = DType::kFloat32;
  uint64_t num_items = 0;
  uint64_t rank = 0;  // 0 for dense models
  // Stored row length: num_items weights per row of B, rank per row of U, V.
  uint64_t row_len = 0;
  uint64_t stride = 0;
  uint64_t matrix_bytes = 0;  // bytes of B, or of U and of V each (not sparse)
};

// The known sections of the model's kind, pointing into the section table.
struct KnownSections {
  const SectionEntry* b = nullptr;
  const SectionEntry* u = nullptr;
  const SectionEntry* v = nullptr;
  const SectionEntry* ids = nullptr;
  const SectionEntry* pop = nullptr;
  const SectionEntry* meta = nullptr;
  const SectionEntry* sparse_offsets = nullptr;
  const SectionEntry* sparse_indices = nullptr;
  const SectionEntry* sparse_weights = nullptr;
  const SectionEntry* row_scales = nullptr;
};

// Copies the header out of `data` and checks what needs neither the checksum
// nor the rest of the header: size, magic, version, header size, section
// count, and that the section table (ending at *table_end) fits the file.
// The order gives the most useful error.
absl::Status ReadHeader(const uint8_t* data, uint64_t size,
                        const ParseErrors& err, FileHeader* h,
                        uint64_t* table_end) {
  if (size < sizeof(FileHeader)) {
    return err.Corrupt("truncated: file is ", size,
                       " bytes, smaller than the 128-byte header");
  }
  std::memcpy(h, data, sizeof(*h));
  if (std::memcmp(h->magic, kModelMagic, sizeof(h->magic)) != 0) {
    return err.Corrupt("bad magic: not an edlae model file");
  }
  // Checked before the checksum: another version may define it differently.
  if (h->format_version != kFormatVersion) {
    return err.Unsupported("unsupported format version ", h->format_version,
                           " (this build reads version ", kFormatVersion, ")");
  }
  if (h->header_size != sizeof(FileHeader)) {
    return err.Corrupt("header_size is ", h->header_size, ", want ",
                       sizeof(FileHeader));
  }
  if (h->section_count > kMaxSections) {
    return err.Corrupt("section_count ", h->section_count,
                       " exceeds the limit of ", kMaxSections);
  }
  *table_end =
      sizeof(FileHeader) + uint64_t{h->section_count} * sizeof(SectionEntry);
  if (*table_end > size) {
    return err.Corrupt("truncated: section table ends at byte ", *table_end,
                       " but the file is ", size, " bytes");
  }
  return absl::OkStatus();
}

// Checks the header checksum: XXH3-64 of the header with `header_checksum`
// zeroed, then of the section table (bytes [128, table_end) of `data`).
absl::Status VerifyHeaderChecksum(const FileHeader& h, const uint8_t* data,
                                  uint64_t table_end, const ParseErrors& err) {
  FileHeader zeroed = h;
  zeroed.header_checksum = 0;
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, &zeroed, sizeof(zeroed));
  XXH3_64bits_update(state, data + sizeof(FileHeader),
                     table_end - sizeof(FileHeader));
  const uint64_t sum = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  if (sum != h.header_checksum) return err.Corrupt("header checksum mismatch");
  return absl::OkStatus();
}

// Checks the rest of a checksummed header against the file size and this
// build: file size, flags, kind, dtype, item count, rank and row stride, and
// that the weight sections' size does not overflow.
absl::StatusOr<WeightLayout> ValidateHeader(const FileHeader& h, uint64_t size,
                                            const ParseErrors& err) {
  // After the checksum, so a mismatch means truncation or appended bytes
  // rather than a damaged header.
  if (h.file_size > size) {
    return err.Corrupt("truncated: header says ", h.file_size,
                       " bytes, file has ", size);
  }
  if (h.file_size < size) {
    return err.Corrupt("trailing bytes: header says ", h.file_size,
                       " bytes, file has ", size);
  }
  if (h.flags != 0) {
    return err.Unsupported("unsupported header flags 0x", absl::Hex(h.flags));
  }
  if (h.kind != static_cast<uint32_t>(ModelKind::kDense) &&
      h.kind != static_cast<uint32_t>(ModelKind::kLowRank) &&
      h.kind != static_cast<uint32_t>(ModelKind::kSparse)) {
    return err.Unsupported("unknown model kind ", h.kind);
  }
  WeightLayout w;
  w.kind = static_cast<ModelKind>(h.kind);
  w.low_rank = w.kind == ModelKind::kLowRank;
  w.dtype = static_cast<DType>(h.dtype);
  const uint64_t element = DTypeSize(w.dtype);
  if (element == 0) {
    return err.Unsupported(
        "unsupported dtype ", h.dtype,
        " (this build reads float32, float16, bfloat16 and int8)");
  }
  if (w.dtype == DType::kInt8 && w.kind == ModelKind::kSparse) {
    return err.Unsupported(
        "int8 storage is for dense and low-rank models; this is a ",
        ModelKindName(w.kind), " model");
  }
  const uint64_t n = h.num_items;
  const uint64_t stride = h.row_stride;
  if (n == 0) return err.Corrupt("model has no items");
  // int8 V is scored by exact int32 sums of up to 127² per element.
  if (w.dtype == DType::kInt8 && w.low_rank && stride > kMaxInt8Rank) {
    return err.Unsupported("an int8 low-rank model's row stride is ", stride,
                           "; this build scores at most ", kMaxInt8Rank);
  }
  // Item indices are uint32 throughout the library.
  if (n > UINT32_MAX) return err.Corrupt("num_items ", n, " exceeds 2^32-1");
  if (w.kind == ModelKind::kSparse) {
    // CSR rows have no stride; their sizes come from the offsets section.
    if (h.rank != 0) return err.Corrupt("sparse model with rank ", h.rank);
    if (stride != 0) {
      return err.Corrupt("sparse model with row_stride ", stride, ", want 0");
    }
    w.num_items = n;
    return w;
  }
  if (!w.low_rank && h.rank != 0) {
    return err.Corrupt("dense model with rank ", h.rank);
  }
  if (w.low_rank && h.rank == 0) {
    return err.Corrupt("low-rank model with rank 0");
  }
  const uint64_t row_len = w.low_rank ? h.rank : n;
  if (stride < row_len || stride % RowAlignmentElements(w.dtype) != 0) {
    return err.Corrupt("row_stride ", stride, " is not a multiple of ",
                       RowAlignmentElements(w.dtype),
                       " that is >= ", w.low_rank ? "rank " : "num_items ",
                       row_len);
  }
  // Bytes of each weight section (B, or U and V): n rows of `stride` elements.
  uint64_t matrix_bytes;
  if (__builtin_mul_overflow(n, stride, &matrix_bytes) ||
      __builtin_mul_overflow(matrix_bytes, element, &matrix_bytes)) {
    return err.Corrupt(w.low_rank ? "U/V" : "B", " size overflows: num_items ",
                       n, ", row_stride ", stride);
  }
  w.num_items = n;
  w.rank = w.low_rank ? h.rank : 0;
  w.row_len = row_len;
  w.stride = stride;
  w.matrix_bytes = matrix_bytes;
  return w;
}

// The section table (`count` entries after the header), copied out of `data`.
// REQUIRES: ReadHeader checked that it fits.
std::vector<SectionEntry> ReadSectionTable(const uint8_t* data,
                                           uint32_t count) {
  std::vector<SectionEntry> table(count);
  if (!table.empty()) {
    std::memcpy(table.data(), data + sizeof(FileHeader),
                table.size() * sizeof(SectionEntry));
  }
  return table;
}

// Checks every entry of the section table — alignment, bounds within
// [table_end, size), unique ids, no overlap, zero flags on the sections this
// kind uses — and finds the known sections of the kind. Entries of the other
// kind and unknown ones are only checked for placement (their checksums are
// verified later; their content is ignored).
absl::StatusOr<KnownSections> IndexSections(
    absl::Span<const SectionEntry> table, uint64_t table_end, uint64_t size,
    ModelKind kind, const ParseErrors& err) {
  const bool low_rank = kind == ModelKind::kLowRank;
  const bool sparse = kind == ModelKind::kSparse;
  KnownSections known;
  absl::flat_hash_set<uint32_t> seen_ids;
  std::vector<std::pair<uint64_t, uint64_t>> extents;  // [offset, end)
  for (const SectionEntry& e : table) {
    const char* name = SectionName(e.id);
    if (e.offset % kSectionAlignment != 0) {
      return err.Corrupt("section ", e.id, " (", name, ") offset ", e.offset,
                         " is not a multiple of ", kSectionAlignment);
    }
    uint64_t end;
    if (__builtin_add_overflow(e.offset, e.size, &end) ||
        e.offset < table_end || end > size) {
      return err.Corrupt("section ", e.id, " (", name, ") at offset ", e.offset,
                         " with size ", e.size, " lies outside bytes [",
                         table_end, ", ", size, ")");
    }
    if (!seen_ids.insert(e.id).second) {
      return err.Corrupt("duplicate section ", e.id, " (", name, ")");
    }
    extents.emplace_back(e.offset, end);
    switch (static_cast<SectionId>(e.id)) {
      case SectionId::kDenseB:
        if (kind != ModelKind::kDense) continue;  // checksummed, then ignored
        known.b = &e;
        break;
      case SectionId::kSparseOffsets:
        if (!sparse) continue;
        known.sparse_offsets = &e;
        break;
      case SectionId::kSparseIndices:
        if (!sparse) continue;
        known.sparse_indices = &e;
        break;
      case SectionId::kSparseWeights:
        if (!sparse) continue;
        known.sparse_weights = &e;
        break;
      case SectionId::kRowScales:
        if (kind == ModelKind::kSparse) continue;
        known.row_scales = &e;
        break;
      case SectionId::kFactorU:
        if (!low_rank) continue;
        known.u = &e;
        break;
      case SectionId::kFactorV:
        if (!low_rank) continue;
        known.v = &e;
        break;
      case SectionId::kItemIds:
        known.ids = &e;
        break;
      case SectionId::kPopularity:
        known.pop = &e;
        break;
      case SectionId::kMetadata:
        known.meta = &e;
        break;
      default:
        continue;  // unknown or unused here: checksummed, then ignored
    }
    if (e.flags != 0) {
      return err.Unsupported("unsupported flags 0x", absl::Hex(e.flags),
                             " on section ", e.id, " (", name, ")");
    }
  }
  std::sort(extents.begin(), extents.end());
  for (size_t i = 1; i < extents.size(); ++i) {
    if (extents[i].first < extents[i - 1].second) {
      return err.Corrupt("sections overlap at byte ", extents[i].first);
    }
  }
  return known;
}

// Checks that every section the kind needs is present and has the size the
// header implies (item ids: at least its offsets). Returns the weight
// sections of the kind (B, or U and V), each num_items × row_stride elements.
absl::StatusOr<std::vector<const SectionEntry*>> RequireSections(
    const KnownSections& known, const WeightLayout& w, const ParseErrors& err) {
  std::vector<const SectionEntry*> weights;
  if (w.kind == ModelKind::kSparse) {
    if (known.sparse_offsets == nullptr) {
      return err.Corrupt("missing section 7 (sparse offsets)");
    }
    if (known.sparse_indices == nullptr) {
      return err.Corrupt("missing section 8 (sparse indices)");
    }
    if (known.sparse_weights == nullptr) {
      return err.Corrupt("missing section 9 (sparse weights)");
    }
    if (known.sparse_offsets->size != (w.num_items + 1) * sizeof(uint64_t)) {
      return err.Corrupt("section 7 (sparse offsets) is ",
                         known.sparse_offsets->size, " bytes, want ",
                         (w.num_items + 1) * sizeof(uint64_t));
    }
  } else if (w.low_rank) {
    if (known.u == nullptr) return err.Corrupt("missing section 2 (U)");
    if (known.v == nullptr) return err.Corrupt("missing section 3 (V)");
    weights = {known.u, known.v};
  } else {
    if (known.b == nullptr) return err.Corrupt("missing section 1 (B)");
    weights = {known.b};
  }
  if (w.dtype == DType::kInt8) {
    // One scale per row of each weight section: B's, or U's then V's.
    const uint64_t want = weights.size() * w.num_items * sizeof(float);
    if (known.row_scales == nullptr) {
      return err.Corrupt("missing section 10 (row scales) of an int8 model");
    }
    if (known.row_scales->size != want) {
      return err.Corrupt("section 10 (row scales) is ", known.row_scales->size,
                         " bytes, want ", want);
    }
  }
  if (known.ids == nullptr) return err.Corrupt("missing section 4 (item ids)");
  if (known.pop == nullptr) {
    return err.Corrupt("missing section 5 (popularity)");
  }
  if (known.meta == nullptr) {
    return err.Corrupt("missing section 6 (metadata)");
  }
  for (const SectionEntry* e : weights) {
    if (e->size != w.matrix_bytes) {
      return err.Corrupt("section ", e->id, " (", SectionName(e->id), ") is ",
                         e->size, " bytes, want ", w.matrix_bytes);
    }
  }
  const uint64_t n = w.num_items;
  if (known.pop->size != n * sizeof(float)) {
    return err.Corrupt("section 5 (popularity) is ", known.pop->size,
                       " bytes, want ", n * sizeof(float));
  }
  if (known.ids->size < ItemIdOffsetsBytes(n)) {
    return err.Corrupt("section 4 (item ids) is ", known.ids->size,
                       " bytes, too small for ", n + 1, " offsets");
  }
  return weights;
}

// Verifies the checksum of every section in `table`, unknown ones included.
// The weight sections are hashed row by row while their weights are checked
// (finite, zero padding) in the same pass; a checksum mismatch is reported
// before a bad row.
absl::Status VerifySectionChecksums(
    const uint8_t* data, absl::Span<const SectionEntry> table,
    absl::Span<const SectionEntry* const> weights, const WeightLayout& w,
    const ParseErrors& err) {
  for (const SectionEntry& e : table) {
    uint64_t sum;
    if (std::find(weights.begin(), weights.end(), &e) != weights.end()) {
      uint64_t bad_row = 0;
      const bool ok = HashAndCheckRows(data + e.offset, w.dtype, w.num_items,
                                       w.row_len, w.stride, &sum, &bad_row);
      if (sum == e.checksum && !ok) {
        return err.Corrupt(SectionName(e.id), " row ", bad_row,
                           " holds a non-finite weight or non-zero padding");
      }
    } else {
      sum = XXH3_64bits(data + e.offset, e.size);
    }
    if (sum != e.checksum) {
      return err.Corrupt("section ", e.id, " (", SectionName(e.id),
                         ") checksum mismatch");
    }
  }
  return absl::OkStatus();
}

// Checks that each of the `count` row scales of an int8 model (num_items per
// weight section: B's, or U's then V's) is finite and >= 0.
absl::Status CheckRowScales(const float* scales, uint64_t count,
                            uint64_t num_items, const ParseErrors& err) {
  for (uint64_t i = 0; i < count; ++i) {
    if (!std::isfinite(scales[i]) || scales[i] < 0) {
      const char* matrix =
          count == num_items ? "" : (i < num_items ? " of U" : " of V");
      return err.Corrupt("row scale of item ", i % num_items, matrix, " is ",
                         scales[i], ", want finite and >= 0");
    }
  }
  return absl::OkStatus();
}

// Checks that each of the n popularity counts is finite and >= 0.
absl::Status CheckPopularity(const float* popularity, uint64_t n,
                             const ParseErrors& err) {
  for (uint64_t i = 0; i < n; ++i) {
    const float p = popularity[i];
    if (!std::isfinite(p) || p < 0) {
      return err.Corrupt("popularity of item ", i, " is ", p,
                         ", want finite and >= 0");
    }
  }
  return absl::OkStatus();
}

// Validates the item ids section at `data` (`size` bytes: n + 1 offsets, then
// the UTF-8 id bytes) and indexes it: *offsets and *id_bytes point into the
// section, *index_by_id maps each id (a view of the section) to its index.
// Ids are non-empty, valid UTF-8 and unique. REQUIRES: RequireSections checked
// that the offsets fit.
absl::Status IndexItemIds(
    const uint8_t* data, uint64_t size, uint64_t n, const ParseErrors& err,
    const uint64_t** offsets_out, const char** id_bytes_out,
    absl::flat_hash_map<std::string_view, uint32_t>* index_by_id) {
  const uint64_t offsets_bytes = ItemIdOffsetsBytes(n);
  const auto* offsets = reinterpret_cast<const uint64_t*>(data);
  const uint64_t id_bytes_size = size - offsets_bytes;
  const char* id_bytes = reinterpret_cast<const char*>(data + offsets_bytes);
  if (offsets[0] != 0) return err.Corrupt("item id offsets[0] is not 0");
  if (offsets[n] != id_bytes_size) {
    return err.Corrupt("item id offsets end at ", offsets[n], " but ",
                       id_bytes_size, " id bytes are stored");
  }
  *offsets_out = offsets;
  *id_bytes_out = id_bytes;
  index_by_id->reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    // Offsets must rise strictly (ids are non-empty) and stay within the id
    // bytes; checked before the string_view below is formed.
    if (offsets[i + 1] > id_bytes_size) {
      return err.Corrupt("item id offset ", i + 1, " is ", offsets[i + 1],
                         ", past the ", id_bytes_size, " id bytes");
    }
    if (offsets[i + 1] <= offsets[i]) {
      return err.Corrupt("item ", i, " has an empty id or a decreasing offset");
    }
    const std::string_view id(id_bytes + offsets[i],
                              offsets[i + 1] - offsets[i]);
    if (!IsValidUtf8(id)) {
      return err.Corrupt("item ", i, " id is not valid UTF-8");
    }
    if (!index_by_id->emplace(id, static_cast<uint32_t>(i)).second) {
      return err.Corrupt("duplicate item id \"",
                         absl::string_view(id.data(), id.size()),
                         "\" at index ", i);
    }
  }
  return absl::OkStatus();
}

// Parses the metadata section at `data` (`size` bytes: uint32 count, then
// count × (uint32 klen, key, uint32 vlen, value)) into *metadata, in file
// order. Keys are non-empty and unique, keys and values valid UTF-8, and no
// bytes may follow the last entry.
absl::Status ParseMetadata(
    const uint8_t* data, uint64_t size, const ParseErrors& err,
    std::vector<std::pair<std::string, std::string>>* metadata) {
  const uint8_t* p = data;
  uint64_t left = size;
  auto read_u32 = [&](uint32_t* v) {
    if (left < 4) return false;
    *v = LoadU32(p);
    p += 4;
    left -= 4;
    return true;
  };
  auto read_bytes = [&](uint32_t len, std::string* out) {
    if (left < len) return false;
    out->assign(reinterpret_cast<const char*>(p), len);
    p += len;
    left -= len;
    return true;
  };
  uint32_t count;
  if (!read_u32(&count)) return err.Corrupt("metadata section is too small");
  // Every entry takes at least 8 bytes; bounds the reserve below.
  if (count > left / 8) {
    return err.Corrupt("metadata count ", count, " does not fit in ", size,
                       " bytes");
  }
  metadata->reserve(count);
  absl::flat_hash_set<std::string> keys;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t klen, vlen;
    std::string key, value;
    if (!read_u32(&klen) || !read_bytes(klen, &key) || !read_u32(&vlen) ||
        !read_bytes(vlen, &value)) {
      return err.Corrupt("metadata entry ", i, " runs past the section end");
    }
    if (key.empty()) {
      return err.Corrupt("metadata entry ", i, " has an empty key");
    }
    if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
      return err.Corrupt("metadata entry ", i, " is not valid UTF-8");
    }
    if (!keys.insert(key).second) {
      return err.Corrupt("duplicate metadata key \"", key, "\"");
    }
    metadata->emplace_back(std::move(key), std::move(value));
  }
  if (left != 0) {
    return err.Corrupt(left, " trailing bytes in the metadata section");
  }
  return absl::OkStatus();
}

// 1 / ‖row i‖ of `rows` (widened to float32, summed in double) per row; 0
// for a zero row. Weights are finite (validated), so the norms are too.
std::vector<float> InverseRowNorms(const WeightRows& rows) {
  std::vector<float> inverse(rows.num_rows, 0.0f);
  std::vector<float> row(rows.dim);
  for (size_t i = 0; i < rows.num_rows; ++i) {
    ReadRow(rows, i, rows.dim, row.data());
    double sum = 0;
    for (float x : row) sum += static_cast<double>(x) * x;
    if (sum > 0) inverse[i] = static_cast<float>(1.0 / std::sqrt(sum));
  }
  return inverse;
}

// Item indices [0, n) sorted by descending popularity, ties by index.
std::vector<uint32_t> SortByPopularity(const float* pop, uint64_t n) {
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), uint32_t{0});
  std::sort(order.begin(), order.end(), [pop](uint32_t a, uint32_t b) {
    return pop[a] > pop[b] || (pop[a] == pop[b] && a < b);
  });
  return order;
}

// 16 hex digits: XXH3-64 of (id uint32 LE, checksum uint64 LE) per section,
// in table order.
std::string Fingerprint(absl::Span<const SectionEntry> table) {
  std::vector<uint8_t> pairs(table.size() * 12);
  for (size_t i = 0; i < table.size(); ++i) {
    std::memcpy(&pairs[i * 12], &table[i].id, 4);
    std::memcpy(&pairs[i * 12 + 4], &table[i].checksum, 8);
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016" PRIx64,
                static_cast<uint64_t>(XXH3_64bits(pairs.data(), pairs.size())));
  return hex;
}

// Validates the CSR sections of a sparse model (their checksums already
// verified) and returns the view over them: offsets start at 0, never decrease
// and end at nnz; the indices and weights sections hold exactly nnz entries;
// each row's indices rise strictly and stay below num_items; every weight is
// finite.
absl::StatusOr<CsrWeights> ValidateSparse(const uint8_t* data,
                                          const KnownSections& known,
                                          const WeightLayout& w,
                                          const ParseErrors& err) {
  const uint64_t n = w.num_items;
  const auto* offsets =
      reinterpret_cast<const uint64_t*>(data + known.sparse_offsets->offset);
  if (offsets[0] != 0) return err.Corrupt("sparse offsets[0] is not 0");
  for (uint64_t i = 0; i < n; ++i) {
    if (offsets[i + 1] < offsets[i]) {
      return err.Corrupt("sparse offsets decrease at row ", i);
    }
  }
  const uint64_t nnz = offsets[n];
  const uint64_t element = DTypeSize(w.dtype);
  if (nnz > UINT64_MAX / 4 || known.sparse_indices->size != nnz * 4) {
    return err.Corrupt("section 8 (sparse indices) is ",
                       known.sparse_indices->size, " bytes, want ", nnz,
                       " entries of 4");
  }
  if (known.sparse_weights->size != nnz * element) {
    return err.Corrupt("section 9 (sparse weights) is ",
                       known.sparse_weights->size, " bytes, want ", nnz,
                       " entries of ", element);
  }
  const auto* indices =
      reinterpret_cast<const uint32_t*>(data + known.sparse_indices->offset);
  for (uint64_t i = 0; i < n; ++i) {
    for (uint64_t e = offsets[i]; e < offsets[i + 1]; ++e) {
      if (indices[e] >= n) {
        return err.Corrupt("sparse row ", i, " holds item index ", indices[e],
                           " >= num_items ", n);
      }
      if (e > offsets[i] && indices[e] <= indices[e - 1]) {
        return err.Corrupt("sparse row ", i,
                           " indices are not strictly ascending");
      }
    }
  }
  const uint8_t* weights = data + known.sparse_weights->offset;
  const bool finite =
      w.dtype == DType::kFloat32
          ? AllFinite(reinterpret_cast<const float*>(weights), nnz)
          : AllFiniteHalves(reinterpret_cast<const uint16_t*>(weights), nnz,
                            w.dtype == DType::kFloat16 ? 0x7C00 : 0x7F80);
  if (!finite) return err.Corrupt("sparse weights hold a non-finite value");
  return CsrWeights{offsets, indices, weights, w.dtype, n, nnz};
}

}  // namespace

size_t Model::nnz() const {
  switch (kind_) {
    case ModelKind::kSparse:
      return nnz_;
    case ModelKind::kLowRank:
      return 2 * num_items_ * rank_;
    case ModelKind::kDense:
      break;
  }
  return num_items_ * num_items_;
}

absl::StatusOr<std::shared_ptr<const Model>> Model::Open(
    const std::string& path, const ModelOpenOptions& options) {
  ASSIGN_OR_RETURN(MappedFile file,
                   options.snapshot ? MappedFile::Snapshot(path)
                                    : MappedFile::Open(path, options.populate));
  // Validation reads every byte anyway; start readahead for all of it.
  if (!options.snapshot) file.AdviseWillNeed();
  std::unique_ptr<Model> model(new Model());
  model->file_ = std::move(file);
  model->data_ = model->file_.data();
  model->size_ = model->file_.size();
  model->path_ = path;
  return Parse(std::move(model));
}

absl::StatusOr<std::shared_ptr<const Model>> Model::FromBytes(
    std::string_view bytes) {
  // Copy into a buffer aligned like the mapping would be, so rows keep their
  // 64-byte alignment and typed loads from the sections are aligned.
  constexpr std::align_val_t kAlign{64};
  // Exact size (so sanitizers see any over-read); at least 1 byte so the
  // pointer is never null.
  const size_t alloc = std::max<size_t>(1, bytes.size());
  auto* buf =
      static_cast<uint8_t*>(::operator new[](alloc, kAlign, std::nothrow));
  if (buf == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate ", alloc, " bytes for a model"));
  }
  if (!bytes.empty()) std::memcpy(buf, bytes.data(), bytes.size());
  std::unique_ptr<Model> model(new Model());
  model->owned_ = std::unique_ptr<uint8_t[], void (*)(uint8_t*)>(
      buf, [](uint8_t* p) { ::operator delete[](p, std::align_val_t{64}); });
  model->data_ = buf;
  model->size_ = bytes.size();
  return Parse(std::move(model));
}

absl::StatusOr<std::shared_ptr<const Model>> Model::Parse(
    std::unique_ptr<Model> m) {
  const uint8_t* const data = m->data_;
  const uint64_t size = m->size_;
  const ParseErrors err(m->path_.empty() ? "<memory>" : m->path_);

  FileHeader h;
  uint64_t table_end = 0;
  RETURN_IF_ERROR(ReadHeader(data, size, err, &h, &table_end));
  const std::vector<SectionEntry> table =
      ReadSectionTable(data, h.section_count);
  RETURN_IF_ERROR(VerifyHeaderChecksum(h, data, table_end, err));
  ASSIGN_OR_RETURN(const WeightLayout w, ValidateHeader(h, size, err));
  ASSIGN_OR_RETURN(const KnownSections known,
                   IndexSections(table, table_end, size, w.kind, err));
  ASSIGN_OR_RETURN(const std::vector<const SectionEntry*> weights,
                   RequireSections(known, w, err));
  RETURN_IF_ERROR(VerifySectionChecksums(data, table, weights, w, err));

  if (w.kind == ModelKind::kSparse) {
    ASSIGN_OR_RETURN(const CsrWeights csr, ValidateSparse(data, known, w, err));
    m->sparse_offsets_ = csr.offsets;
    m->sparse_indices_ = csr.indices;
    m->sparse_weights_ = csr.weights;
    m->nnz_ = csr.nnz;
  }

  // Every byte checked: bind the known sections.
  m->format_version_ = h.format_version;
  m->kind_ = w.kind;
  m->dtype_ = w.dtype;
  m->num_items_ = w.num_items;
  m->rank_ = w.rank;
  m->row_stride_ = w.stride;
  // Sections are 64-byte aligned in a 64-byte-aligned buffer (page-aligned
  // mapping or owned_), so these typed pointers are aligned.
  if (w.low_rank) {
    m->u_ = data + known.u->offset;
    m->v_ = data + known.v->offset;
  } else if (w.kind == ModelKind::kDense) {
    m->dense_ = data + known.b->offset;
  }
  if (w.dtype == DType::kInt8) {
    m->row_scales_ =
        reinterpret_cast<const float*>(data + known.row_scales->offset);
    RETURN_IF_ERROR(CheckRowScales(
        m->row_scales_, (w.low_rank ? 2 : 1) * w.num_items, w.num_items, err));
  }
  m->popularity_ = reinterpret_cast<const float*>(data + known.pop->offset);
  RETURN_IF_ERROR(CheckPopularity(m->popularity_, w.num_items, err));
  RETURN_IF_ERROR(IndexItemIds(data + known.ids->offset, known.ids->size,
                               w.num_items, err, &m->id_offsets_, &m->id_bytes_,
                               &m->index_by_id_));
  RETURN_IF_ERROR(ParseMetadata(data + known.meta->offset, known.meta->size,
                                err, &m->metadata_));
  m->by_popularity_ = SortByPopularity(m->popularity_, w.num_items);
  if (w.low_rank) m->v_inverse_norms_ = InverseRowNorms(m->v_rows());
  m->fingerprint_ = Fingerprint(table);
  return std::shared_ptr<const Model>(std::move(m));
}

std::string_view Model::item_id(size_t index) const {
  return std::string_view(id_bytes_ + id_offsets_[index],
                          id_offsets_[index + 1] - id_offsets_[index]);
}

std::optional<uint32_t> Model::FindItem(std::string_view id) const {
  auto it = index_by_id_.find(id);
  if (it == index_by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string_view> Model::GetMetadata(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

}  // namespace edlae
