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

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/finite.h"
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
  }
  return "unknown";
}


uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
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
    if (!ok) continue;  // keep hashing: a checksum mismatch is reported first
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

}  // namespace

absl::StatusOr<std::shared_ptr<const Model>> Model::Open(
    const std::string& path, const ModelOpenOptions& options) {
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path, options.populate));
  // Validation reads every byte anyway; start readahead for all of it.
  file.AdviseWillNeed();
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
  const std::string where = m->path_.empty() ? "<memory>" : m->path_;
  auto corrupt = [&where](auto&&... parts) {
    return absl::DataLossError(absl::StrCat(where, ": ", parts...));
  };
  auto unsupported = [&where](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", parts...));
  };

  // --- Header, in the order that gives the most useful error. ---
  if (size < sizeof(FileHeader)) {
    return corrupt("truncated: file is ", size,
                   " bytes, smaller than the 128-byte header");
  }
  FileHeader h;
  std::memcpy(&h, data, sizeof(h));
  if (std::memcmp(h.magic, kModelMagic, sizeof(h.magic)) != 0) {
    return corrupt("bad magic: not an edlae model file");
  }
  // Checked before the checksum: another version may define it differently.
  if (h.format_version != kFormatVersion) {
    return unsupported("unsupported format version ", h.format_version,
                       " (this build reads version ", kFormatVersion, ")");
  }
  if (h.header_size != sizeof(FileHeader)) {
    return corrupt("header_size is ", h.header_size, ", want ",
                   sizeof(FileHeader));
  }
  if (h.section_count > kMaxSections) {
    return corrupt("section_count ", h.section_count, " exceeds the limit of ",
                   kMaxSections);
  }
  const uint64_t table_end =
      sizeof(FileHeader) + uint64_t{h.section_count} * sizeof(SectionEntry);
  if (table_end > size) {
    return corrupt("truncated: section table ends at byte ", table_end,
                   " but the file is ", size, " bytes");
  }
  std::vector<SectionEntry> table(h.section_count);
  if (!table.empty()) {
    std::memcpy(table.data(), data + sizeof(FileHeader),
                table.size() * sizeof(SectionEntry));
  }
  {
    FileHeader zeroed = h;
    zeroed.header_checksum = 0;
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    XXH3_64bits_update(state, &zeroed, sizeof(zeroed));
    XXH3_64bits_update(state, data + sizeof(FileHeader),
                       table_end - sizeof(FileHeader));
    const uint64_t sum = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    if (sum != h.header_checksum) {
      return corrupt("header checksum mismatch");
    }
  }
  // After the checksum, so a mismatch means truncation or appended bytes
  // rather than a damaged header.
  if (h.file_size > size) {
    return corrupt("truncated: header says ", h.file_size, " bytes, file has ",
                   size);
  }
  if (h.file_size < size) {
    return corrupt("trailing bytes: header says ", h.file_size,
                   " bytes, file has ", size);
  }
  if (h.flags != 0) {
    return unsupported("unsupported header flags 0x", absl::Hex(h.flags));
  }
  if (h.kind != static_cast<uint32_t>(ModelKind::kDense) &&
      h.kind != static_cast<uint32_t>(ModelKind::kLowRank)) {
    return unsupported("unknown model kind ", h.kind);
  }
  const bool low_rank = h.kind == static_cast<uint32_t>(ModelKind::kLowRank);
  const auto dtype = static_cast<DType>(h.dtype);
  const uint64_t element = DTypeSize(dtype);
  if (element == 0) {
    return unsupported("unsupported dtype ", h.dtype,
                       " (this build reads float32, float16 and bfloat16)");
  }
  const uint64_t n = h.num_items;
  const uint64_t stride = h.row_stride;
  if (n == 0) return corrupt("model has no items");
  // Item indices are uint32 throughout the library.
  if (n > UINT32_MAX) return corrupt("num_items ", n, " exceeds 2^32-1");
  if (!low_rank && h.rank != 0) {
    return corrupt("dense model with rank ", h.rank);
  }
  if (low_rank && h.rank == 0) return corrupt("low-rank model with rank 0");
  // Stored row length: n weights per row of B, rank per row of U and V.
  const uint64_t row_len = low_rank ? h.rank : n;
  if (stride < row_len || stride % RowAlignmentElements(dtype) != 0) {
    return corrupt("row_stride ", stride, " is not a multiple of ",
                   RowAlignmentElements(dtype), " that is >= ",
                   low_rank ? "rank " : "num_items ", row_len);
  }
  // Bytes of each weight section (B, or U and V): n rows of `stride` elements.
  uint64_t matrix_bytes;
  if (__builtin_mul_overflow(n, stride, &matrix_bytes) ||
      __builtin_mul_overflow(matrix_bytes, element, &matrix_bytes)) {
    return corrupt(low_rank ? "U/V" : "B", " size overflows: num_items ", n,
                   ", row_stride ", stride);
  }

  // --- Section table: bounds, alignment, uniqueness, no overlap. ---
  const SectionEntry* b_entry = nullptr;
  const SectionEntry* u_entry = nullptr;
  const SectionEntry* v_entry = nullptr;
  const SectionEntry* ids_entry = nullptr;
  const SectionEntry* pop_entry = nullptr;
  const SectionEntry* meta_entry = nullptr;
  absl::flat_hash_set<uint32_t> seen_ids;
  std::vector<std::pair<uint64_t, uint64_t>> extents;  // [offset, end)
  for (const SectionEntry& e : table) {
    const char* name = SectionName(e.id);
    if (e.offset % kSectionAlignment != 0) {
      return corrupt("section ", e.id, " (", name, ") offset ", e.offset,
                     " is not a multiple of ", kSectionAlignment);
    }
    uint64_t end;
    if (__builtin_add_overflow(e.offset, e.size, &end) ||
        e.offset < table_end || end > size) {
      return corrupt("section ", e.id, " (", name, ") at offset ", e.offset,
                     " with size ", e.size, " lies outside bytes [", table_end,
                     ", ", size, ")");
    }
    if (!seen_ids.insert(e.id).second) {
      return corrupt("duplicate section ", e.id, " (", name, ")");
    }
    extents.emplace_back(e.offset, end);
    switch (static_cast<SectionId>(e.id)) {
      case SectionId::kDenseB:
        if (low_rank) continue;  // not this kind's: checksummed, then ignored
        b_entry = &e;
        break;
      case SectionId::kFactorU:
        if (!low_rank) continue;
        u_entry = &e;
        break;
      case SectionId::kFactorV:
        if (!low_rank) continue;
        v_entry = &e;
        break;
      case SectionId::kItemIds:
        ids_entry = &e;
        break;
      case SectionId::kPopularity:
        pop_entry = &e;
        break;
      case SectionId::kMetadata:
        meta_entry = &e;
        break;
      default:
        continue;  // unknown or unused here: checksummed, then ignored
    }
    if (e.flags != 0) {
      return unsupported("unsupported flags 0x", absl::Hex(e.flags),
                         " on section ", e.id, " (", name, ")");
    }
  }
  std::sort(extents.begin(), extents.end());
  for (size_t i = 1; i < extents.size(); ++i) {
    if (extents[i].first < extents[i - 1].second) {
      return corrupt("sections overlap at byte ", extents[i].first);
    }
  }
  // The weight sections of this kind, each n × row_stride elements.
  std::vector<const SectionEntry*> weights;
  if (low_rank) {
    if (u_entry == nullptr) return corrupt("missing section 2 (U)");
    if (v_entry == nullptr) return corrupt("missing section 3 (V)");
    weights = {u_entry, v_entry};
  } else {
    if (b_entry == nullptr) return corrupt("missing section 1 (B)");
    weights = {b_entry};
  }
  if (ids_entry == nullptr) return corrupt("missing section 4 (item ids)");
  if (pop_entry == nullptr) return corrupt("missing section 5 (popularity)");
  if (meta_entry == nullptr) return corrupt("missing section 6 (metadata)");
  for (const SectionEntry* e : weights) {
    if (e->size != matrix_bytes) {
      return corrupt("section ", e->id, " (", SectionName(e->id), ") is ",
                     e->size, " bytes, want ", matrix_bytes);
    }
  }
  if (pop_entry->size != n * sizeof(float)) {
    return corrupt("section 5 (popularity) is ", pop_entry->size,
                   " bytes, want ", n * sizeof(float));
  }
  const uint64_t offsets_bytes = (n + 1) * sizeof(uint64_t);  // n < 2^32
  if (ids_entry->size < offsets_bytes) {
    return corrupt("section 4 (item ids) is ", ids_entry->size,
                   " bytes, too small for ", n + 1, " offsets");
  }

  // --- Checksums of every section, unknown ones included. ---
  for (const SectionEntry& e : table) {
    uint64_t sum;
    if (std::find(weights.begin(), weights.end(), &e) != weights.end()) {
      uint64_t bad_row = 0;
      const bool ok = HashAndCheckRows(data + e.offset, dtype, n, row_len,
                                       stride, &sum, &bad_row);
      if (sum == e.checksum && !ok) {
        return corrupt(SectionName(e.id), " row ", bad_row,
                       " holds a non-finite weight or non-zero padding");
      }
    } else {
      sum = XXH3_64bits(data + e.offset, e.size);
    }
    if (sum != e.checksum) {
      return corrupt("section ", e.id, " (", SectionName(e.id),
                     ") checksum mismatch");
    }
  }

  // --- Content of the known sections. ---
  m->format_version_ = h.format_version;
  m->kind_ = low_rank ? ModelKind::kLowRank : ModelKind::kDense;
  m->dtype_ = dtype;
  m->num_items_ = n;
  m->rank_ = low_rank ? h.rank : 0;
  m->row_stride_ = stride;
  // Sections are 64-byte aligned in a 64-byte-aligned buffer (page-aligned
  // mapping or owned_), so these typed pointers are aligned.
  if (low_rank) {
    m->u_ = data + u_entry->offset;
    m->v_ = data + v_entry->offset;
  } else {
    m->dense_ = data + b_entry->offset;
  }
  m->popularity_ = reinterpret_cast<const float*>(data + pop_entry->offset);

  for (uint64_t i = 0; i < n; ++i) {
    const float p = m->popularity_[i];
    if (!std::isfinite(p) || p < 0) {
      return corrupt("popularity of item ", i, " is ", p,
                     ", want finite and >= 0");
    }
  }

  const auto* offsets =
      reinterpret_cast<const uint64_t*>(data + ids_entry->offset);
  const uint64_t id_bytes_size = ids_entry->size - offsets_bytes;
  const char* id_bytes =
      reinterpret_cast<const char*>(data + ids_entry->offset + offsets_bytes);
  if (offsets[0] != 0) return corrupt("item id offsets[0] is not 0");
  if (offsets[n] != id_bytes_size) {
    return corrupt("item id offsets end at ", offsets[n], " but ",
                   id_bytes_size, " id bytes are stored");
  }
  m->id_offsets_ = offsets;
  m->id_bytes_ = id_bytes;
  m->index_by_id_.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    // Offsets must rise strictly (ids are non-empty) and stay within the id
    // bytes; checked before the string_view below is formed.
    if (offsets[i + 1] > id_bytes_size) {
      return corrupt("item id offset ", i + 1, " is ", offsets[i + 1],
                     ", past the ", id_bytes_size, " id bytes");
    }
    if (offsets[i + 1] <= offsets[i]) {
      return corrupt("item ", i, " has an empty id or a decreasing offset");
    }
    const std::string_view id(id_bytes + offsets[i],
                              offsets[i + 1] - offsets[i]);
    if (!IsValidUtf8(id)) {
      return corrupt("item ", i, " id is not valid UTF-8");
    }
    if (!m->index_by_id_.emplace(id, static_cast<uint32_t>(i)).second) {
      return corrupt("duplicate item id \"",
                     absl::string_view(id.data(), id.size()), "\" at index ",
                     i);
    }
  }

  {
    const uint8_t* p = data + meta_entry->offset;
    uint64_t left = meta_entry->size;
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
    if (!read_u32(&count)) return corrupt("metadata section is too small");
    // Every entry takes at least 8 bytes; bounds the reserve below.
    if (count > left / 8) {
      return corrupt("metadata count ", count, " does not fit in ",
                     meta_entry->size, " bytes");
    }
    m->metadata_.reserve(count);
    absl::flat_hash_set<std::string> keys;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t klen, vlen;
      std::string key, value;
      if (!read_u32(&klen) || !read_bytes(klen, &key) || !read_u32(&vlen) ||
          !read_bytes(vlen, &value)) {
        return corrupt("metadata entry ", i, " runs past the section end");
      }
      if (key.empty()) {
        return corrupt("metadata entry ", i, " has an empty key");
      }
      if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
        return corrupt("metadata entry ", i, " is not valid UTF-8");
      }
      if (!keys.insert(key).second) {
        return corrupt("duplicate metadata key \"", key, "\"");
      }
      m->metadata_.emplace_back(std::move(key), std::move(value));
    }
    if (left != 0) {
      return corrupt(left, " trailing bytes in the metadata section");
    }
  }

  m->by_popularity_.resize(n);
  std::iota(m->by_popularity_.begin(), m->by_popularity_.end(), uint32_t{0});
  const float* pop = m->popularity_;
  std::sort(m->by_popularity_.begin(), m->by_popularity_.end(),
            [pop](uint32_t a, uint32_t b) {
              return pop[a] > pop[b] || (pop[a] == pop[b] && a < b);
            });

  {
    // (id uint32 LE, checksum uint64 LE) per section, in table order.
    std::vector<uint8_t> pairs(table.size() * 12);
    for (size_t i = 0; i < table.size(); ++i) {
      std::memcpy(&pairs[i * 12], &table[i].id, 4);
      std::memcpy(&pairs[i * 12 + 4], &table[i].checksum, 8);
    }
    char hex[17];
    std::snprintf(
        hex, sizeof(hex), "%016" PRIx64,
        static_cast<uint64_t>(XXH3_64bits(pairs.data(), pairs.size())));
    m->fingerprint_ = hex;
  }

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
