// WriteDenseModel, WriteLowRankModel: validate, stream with checksums, publish atomically.
#include "core/model_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
// Routes XXH3 calls to libxxhash's AVX2/AVX-512 variants chosen at run time
// (same hash values; the default entry points are SSE2 only).
#include <xxh_x86dispatch.h>
#endif

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "core/finite.h"
#include "core/model_format.h"
#include "core/status_macros.h"
#include "core/utf8.h"
#include "core/weight_rows.h"

namespace edlae {

static_assert(std::endian::native == std::endian::little,
              "the edlae model format is little-endian; big-endian hosts "
              "would need byte swapping in the writer and reader");

namespace {

constexpr size_t kWriteBufferSize = size_t{1} << 20;  // 1 MiB

uint64_t RoundUp(uint64_t x, uint64_t multiple) {
  return (x + multiple - 1) / multiple * multiple;
}

// Writes sequentially through a 1 MiB buffer, feeding every byte of the
// current section into an XXH3 streaming state so B is never copied or
// re-read for its checksum. Handles EINTR and short writes.
class SectionStreamWriter {
 public:
  SectionStreamWriter(int fd, std::string path)
      : fd_(fd),
        path_(std::move(path)),
        buffer_(new uint8_t[kWriteBufferSize]),
        hash_(XXH3_createState()) {}
  ~SectionStreamWriter() { XXH3_freeState(hash_); }
  SectionStreamWriter(const SectionStreamWriter&) = delete;
  SectionStreamWriter& operator=(const SectionStreamWriter&) = delete;

  uint64_t position() const { return position_; }

  void BeginSection() { XXH3_64bits_reset(hash_); }
  uint64_t EndSection() { return XXH3_64bits_digest(hash_); }

  // Appends section bytes (hashed).
  absl::Status Append(const void* data, size_t size) {
    XXH3_64bits_update(hash_, data, size);
    return AppendRaw(data, size);
  }
  absl::Status AppendZeros(size_t size, bool hashed) {
    static constexpr uint8_t kZeros[256] = {};
    while (size > 0) {
      const size_t chunk = size < sizeof(kZeros) ? size : sizeof(kZeros);
      if (hashed) XXH3_64bits_update(hash_, kZeros, chunk);
      RETURN_IF_ERROR(AppendRaw(kZeros, chunk));
      size -= chunk;
    }
    return absl::OkStatus();
  }
  // Zero padding up to the next multiple of `alignment`; not part of any
  // section, so not hashed.
  absl::Status PadTo(uint64_t alignment) {
    return AppendZeros(RoundUp(position_, alignment) - position_,
                       /*hashed=*/false);
  }

  absl::Status Flush() {
    size_t done = 0;
    while (done < used_) {
      const ssize_t n = ::write(fd_, buffer_.get() + done, used_ - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(errno, "cannot write", path_);
      }
      done += static_cast<size_t>(n);
    }
    used_ = 0;
    return absl::OkStatus();
  }

 private:
  absl::Status AppendRaw(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    position_ += size;
    while (size > 0) {
      if (used_ == kWriteBufferSize) RETURN_IF_ERROR(Flush());
      const size_t room = kWriteBufferSize - used_;
      const size_t chunk = size < room ? size : room;
      std::memcpy(buffer_.get() + used_, p, chunk);
      used_ += chunk;
      p += chunk;
      size -= chunk;
    }
    return absl::OkStatus();
  }

  int fd_;
  std::string path_;
  std::unique_ptr<uint8_t[]> buffer_;
  size_t used_ = 0;
  uint64_t position_ = 0;
  XXH3_state_t* hash_;
};

absl::Status PWriteAll(int fd, const void* data, size_t size, off_t offset,
                       const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, p, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot write", path);
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return absl::OkStatus();
}

// One weight matrix section (B, U or V): num_items rows of `cols` floats,
// compact row-major in `values`; written as the payload's dtype with rows
// padded to the row stride.
struct WeightMatrix {
  SectionId id;
  const char* name;
  absl::Span<const float> values;
  uint64_t cols;
};

// What every model kind writes: the header fields that differ by kind, the
// weight sections, and the common sections.
struct Payload {
  ModelKind kind;
  uint64_t rank;     // header.rank: 0 for dense
  uint64_t row_len;  // elements per weight row before padding
  DType dtype;       // storage type of the weight sections
  std::vector<WeightMatrix> weights;
  absl::Span<const std::string> item_ids;
  absl::Span<const float> popularity;
  const std::vector<std::pair<std::string, std::string>>* metadata;
  const SparseModelData* sparse = nullptr;  // kSparse: the CSR sections
};

// Checks a sparse payload's CSR structure and weights.
absl::Status ValidateCsr(const SparseModelData& s, uint64_t n, DType dtype) {
  if (s.offsets.size() != n + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sparse offsets have ", s.offsets.size(), " entries, want ", n + 1));
  }
  if (s.offsets[0] != 0 || s.offsets[n] != s.indices.size()) {
    return absl::InvalidArgumentError(
        "sparse offsets must start at 0 and end at the number of entries");
  }
  if (s.weights.size() != s.indices.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparse weights have ", s.weights.size(),
                     " entries, indices ", s.indices.size()));
  }
  for (uint64_t i = 0; i < n; ++i) {
    if (s.offsets[i + 1] < s.offsets[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat("sparse offsets decrease at row ", i));
    }
    for (uint64_t e = s.offsets[i]; e < s.offsets[i + 1]; ++e) {
      if (s.indices[e] >= n ||
          (e > s.offsets[i] && s.indices[e] <= s.indices[e - 1])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "sparse row ", i,
            " must hold strictly ascending item indices below ", n));
      }
    }
  }
  float largest = 0.0f;
  for (size_t e = 0; e < s.weights.size(); ++e) {
    if (!std::isfinite(s.weights[e])) {
      return absl::InvalidArgumentError(
          absl::StrCat("sparse weight ", e, " is not finite: ", s.weights[e]));
    }
    largest = std::max(largest, std::fabs(s.weights[e]));
  }
  if (dtype != DType::kFloat32 &&
      !std::isfinite(WidenHalf(dtype, NarrowToHalf(dtype, largest)))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sparse weights hold a magnitude ", largest, " that ", DTypeName(dtype),
        " cannot represent; store them as float32",
        dtype == DType::kFloat16 ? " or bfloat16" : ""));
  }
  return absl::OkStatus();
}

absl::Status ValidatePayload(const Payload& data, uint64_t* n_out) {
  const uint64_t n = data.item_ids.size();
  if (n == 0) return absl::InvalidArgumentError("model has no items");
  if (DTypeSize(data.dtype) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported dtype ", static_cast<uint32_t>(data.dtype)));
  }
  if (data.dtype == DType::kInt8 && data.kind == ModelKind::kSparse) {
    return absl::InvalidArgumentError(absl::StrCat(
        "int8 storage is for dense and low-rank models; store a ",
        ModelKindName(data.kind), " model as float32, float16 or bfloat16"));
  }
  if (data.dtype == DType::kInt8 && data.kind == ModelKind::kLowRank &&
      data.row_len > kMaxInt8Rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "int8 storage holds ranks up to ", kMaxInt8Rank, "; this rank is ",
        data.row_len));
  }
  // Item indices are uint32 throughout the library.
  if (n > UINT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many items: ", n, " (limit ", UINT32_MAX, ")"));
  }
  for (const WeightMatrix& w : data.weights) {
    uint64_t size;
    if (w.cols == 0 || __builtin_mul_overflow(n, w.cols, &size) ||
        w.values.size() != size) {
      return absl::InvalidArgumentError(
          absl::StrCat(w.name, " has ", w.values.size(), " floats, want ", n,
                       " x ", w.cols));
    }
  }
  if (data.popularity.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "popularity has ", data.popularity.size(), " entries, want ", n));
  }
  absl::flat_hash_set<std::string_view> seen;
  seen.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    const std::string& id = data.item_ids[i];
    if (id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("item ", i, " has an empty id"));
    }
    if (!IsValidUtf8(id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "item ", i, " id \"", absl::CHexEscape(id), "\" is not valid UTF-8"));
    }
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate item id \"", id, "\" at index ", i));
    }
  }
  for (uint64_t i = 0; i < n; ++i) {
    const float p = data.popularity[i];
    if (!std::isfinite(p) || p < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "popularity of item ", i, " must be finite and >= 0, got ", p));
    }
  }
  // One vectorized pass over each matrix; the rare failure is located
  // afterwards.
  for (const WeightMatrix& w : data.weights) {
    if (AllFinite(w.values.data(), w.values.size())) continue;
    for (uint64_t i = 0; i < w.values.size(); ++i) {
      if (!std::isfinite(w.values[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat(w.name, "[", i / w.cols, ", ", i % w.cols,
                         "] is not finite: ", w.values[i]));
      }
    }
  }
  // Halves: every weight must round to a finite value (f16 overflows above
  // 65504); rounding is monotone, so the largest magnitude decides. (int8
  // rows scale to any finite magnitude.)
  if (data.dtype == DType::kFloat16 || data.dtype == DType::kBFloat16) {
    for (const WeightMatrix& w : data.weights) {
      float largest = 0.0f;
      for (float v : w.values) largest = std::max(largest, std::fabs(v));
      if (!std::isfinite(
              WidenHalf(data.dtype, NarrowToHalf(data.dtype, largest)))) {
        return absl::InvalidArgumentError(absl::StrCat(
            w.name, " holds a weight of magnitude ", largest, " that ",
            DTypeName(data.dtype), " cannot represent; store it as float32",
            data.dtype == DType::kFloat16 ? " or bfloat16" : ""));
      }
    }
  }
  absl::flat_hash_set<std::string_view> keys;
  for (const auto& [key, value] : *data.metadata) {
    if (key.empty()) return absl::InvalidArgumentError("empty metadata key");
    if (key.size() > UINT32_MAX || value.size() > UINT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata entry \"", key.substr(0, 64), "\" too long"));
    }
    if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata entry \"", absl::CHexEscape(key), "\" is not valid UTF-8"));
    }
    if (!keys.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate metadata key \"", key, "\""));
    }
  }
  if (data.metadata->size() > UINT32_MAX) {
    return absl::InvalidArgumentError("too many metadata entries");
  }
  if (data.sparse != nullptr) {
    RETURN_IF_ERROR(ValidateCsr(*data.sparse, n, data.dtype));
  }
  *n_out = n;
  return absl::OkStatus();
}

// Size of the file WriteBody produces, known before writing so the space can
// be reserved up front.
uint64_t PlannedFileSize(const Payload& data, uint64_t n, uint64_t row_stride,
                         uint64_t table_end) {
  uint64_t ids = (n + 1) * sizeof(uint64_t);
  for (const std::string& id : data.item_ids) ids += id.size();
  uint64_t meta = sizeof(uint32_t);
  for (const auto& [key, value] : *data.metadata) {
    meta += 2 * sizeof(uint32_t) + key.size() + value.size();
  }
  uint64_t pos = RoundUp(table_end, kSectionAlignment) + ids;
  pos = RoundUp(pos, kSectionAlignment) + n * sizeof(float);
  pos = RoundUp(pos, kSectionAlignment) + meta;
  for (size_t w = 0; w < data.weights.size(); ++w) {
    pos = RoundUp(pos, kSectionAlignment) +
          n * row_stride * DTypeSize(data.dtype);
  }
  if (data.dtype == DType::kInt8) {
    pos = RoundUp(pos, kSectionAlignment) +
          data.weights.size() * n * sizeof(float);  // row scales
  }
  if (data.sparse != nullptr) {
    const uint64_t nnz = data.sparse->indices.size();
    pos = RoundUp(pos, kSectionAlignment) + (n + 1) * sizeof(uint64_t);
    pos = RoundUp(pos, kSectionAlignment) + nnz * sizeof(uint32_t);
    pos = RoundUp(pos, kSectionAlignment) + nnz * DTypeSize(data.dtype);
  }
  return pos;
}

// Streams header placeholder, sections and padding into `out`; fills `table`.
absl::Status WriteBody(const Payload& data, uint64_t n, uint64_t row_stride,
                       SectionStreamWriter& out,
                       std::vector<SectionEntry>& table) {
  // Each section starts on the next kSectionAlignment boundary; the file ends
  // right after the last section.
  auto begin = [&](SectionId id) -> absl::Status {
    RETURN_IF_ERROR(out.PadTo(kSectionAlignment));
    SectionEntry& e = table.emplace_back();
    std::memset(&e, 0, sizeof(e));
    e.id = static_cast<uint32_t>(id);
    e.offset = out.position();
    out.BeginSection();
    return absl::OkStatus();
  };
  auto end = [&]() {
    SectionEntry& e = table.back();
    e.size = out.position() - e.offset;
    e.checksum = out.EndSection();
  };

  // Small sections first, so tools reading only ids and metadata touch the
  // front of the file; the weight matrices (B, or U then V) last.
  {
    RETURN_IF_ERROR(begin(SectionId::kItemIds));
    uint64_t offset = 0;
    RETURN_IF_ERROR(out.Append(&offset, sizeof(offset)));
    for (const std::string& id : data.item_ids) {
      offset += id.size();
      RETURN_IF_ERROR(out.Append(&offset, sizeof(offset)));
    }
    for (const std::string& id : data.item_ids) {
      RETURN_IF_ERROR(out.Append(id.data(), id.size()));
    }
    end();
  }
  {
    RETURN_IF_ERROR(begin(SectionId::kPopularity));
    RETURN_IF_ERROR(out.Append(data.popularity.data(), n * sizeof(float)));
    end();
  }
  {
    RETURN_IF_ERROR(begin(SectionId::kMetadata));
    const auto count = static_cast<uint32_t>(data.metadata->size());
    RETURN_IF_ERROR(out.Append(&count, sizeof(count)));
    for (const auto& [key, value] : *data.metadata) {
      const auto klen = static_cast<uint32_t>(key.size());
      const auto vlen = static_cast<uint32_t>(value.size());
      RETURN_IF_ERROR(out.Append(&klen, sizeof(klen)));
      RETURN_IF_ERROR(out.Append(key.data(), key.size()));
      RETURN_IF_ERROR(out.Append(&vlen, sizeof(vlen)));
      RETURN_IF_ERROR(out.Append(value.data(), value.size()));
    }
    end();
  }
  std::vector<uint16_t> halves;  // one narrowed row, padding included
  if (data.dtype == DType::kFloat16 || data.dtype == DType::kBFloat16) {
    halves.assign(row_stride, 0);
  }
  std::vector<int8_t> quantized;  // one int8 row, padding included
  std::vector<float> scales;      // int8: each row's scale, after the weights
  if (data.dtype == DType::kInt8) {
    quantized.assign(row_stride, 0);
    scales.reserve(data.weights.size() * n);
  }
  for (const WeightMatrix& w : data.weights) {
    RETURN_IF_ERROR(begin(w.id));
    for (uint64_t i = 0; i < n; ++i) {
      const float* row = w.values.data() + i * w.cols;
      if (data.dtype == DType::kFloat32) {
        RETURN_IF_ERROR(out.Append(row, w.cols * sizeof(float)));
        RETURN_IF_ERROR(out.AppendZeros((row_stride - w.cols) * sizeof(float),
                                        /*hashed=*/true));
      } else if (data.dtype == DType::kInt8) {
        scales.push_back(QuantizeToInt8(absl::MakeConstSpan(row, w.cols),
                                     quantized.data()));
        RETURN_IF_ERROR(out.Append(quantized.data(), row_stride));
      } else {
        for (uint64_t c = 0; c < w.cols; ++c) {
          halves[c] = NarrowToHalf(data.dtype, row[c]);
        }
        RETURN_IF_ERROR(
            out.Append(halves.data(), row_stride * sizeof(uint16_t)));
      }
    }
    end();
  }
  if (data.dtype == DType::kInt8) {
    RETURN_IF_ERROR(begin(SectionId::kRowScales));
    RETURN_IF_ERROR(out.Append(scales.data(), scales.size() * sizeof(float)));
    end();
  }
  if (data.sparse != nullptr) {
    const SparseModelData& csr = *data.sparse;
    RETURN_IF_ERROR(begin(SectionId::kSparseOffsets));
    RETURN_IF_ERROR(
        out.Append(csr.offsets.data(), csr.offsets.size() * sizeof(uint64_t)));
    end();
    RETURN_IF_ERROR(begin(SectionId::kSparseIndices));
    RETURN_IF_ERROR(
        out.Append(csr.indices.data(), csr.indices.size() * sizeof(uint32_t)));
    end();
    RETURN_IF_ERROR(begin(SectionId::kSparseWeights));
    if (data.dtype == DType::kFloat32) {
      RETURN_IF_ERROR(
          out.Append(csr.weights.data(), csr.weights.size() * sizeof(float)));
    } else {
      constexpr size_t kChunk = 4096;
      uint16_t halves[kChunk];
      for (size_t e0 = 0; e0 < csr.weights.size(); e0 += kChunk) {
        const size_t count = std::min(kChunk, csr.weights.size() - e0);
        for (size_t e = 0; e < count; ++e) {
          halves[e] = NarrowToHalf(data.dtype, csr.weights[e0 + e]);
        }
        RETURN_IF_ERROR(out.Append(halves, count * sizeof(uint16_t)));
      }
    }
    end();
  }
  return out.Flush();
}

absl::Status WriteModel(const std::string& path, const Payload& data) {
  // Validation reads the weights once before any file is created, so invalid
  // input never touches the file system; the write pass then reads them a
  // second and last time, hashing rows as they stream out through a 1 MiB
  // buffer (never copied as a whole). The header and table, whose checksums
  // are known only at the end, go last with pwrite over a zeroed placeholder.
  uint64_t n = 0;
  RETURN_IF_ERROR(ValidatePayload(data, &n));
  const uint64_t row_stride =
      RoundUp(data.row_len, RowAlignmentElements(data.dtype));

  AtomicFile tmp;
  RETURN_IF_ERROR(tmp.Create(path));

  const size_t kNumSections = 3 + data.weights.size() +
                             (data.sparse != nullptr ? 3 : 0) +
                             (data.dtype == DType::kInt8 ? 1 : 0);
  const uint64_t table_end =
      sizeof(FileHeader) + kNumSections * sizeof(SectionEntry);
  const uint64_t planned_size = PlannedFileSize(data, n, row_stride, table_end);
  // Reserve the space first: a full disk fails here rather than after
  // streaming gigabytes, and the blocks are allocated contiguously. File
  // systems without fallocate support just skip it.
  int err;
  do {
    err = ::fallocate(tmp.fd(), 0, 0, static_cast<off_t>(planned_size)) == 0
              ? 0
              : errno;
  } while (err == EINTR);
  if (err != 0 && err != EOPNOTSUPP && err != ENOSYS) {
    return ErrnoError(err, "cannot write", tmp.path());
  }

  std::vector<SectionEntry> table;
  table.reserve(kNumSections);
  {
    SectionStreamWriter out(tmp.fd(), tmp.path());
    RETURN_IF_ERROR(out.AppendZeros(table_end, /*hashed=*/false));
    RETURN_IF_ERROR(WriteBody(data, n, row_stride, out, table));
  }
  if (table.size() != kNumSections) {
    return absl::InternalError("section count mismatch");
  }
  const uint64_t file_size = table.back().offset + table.back().size;
  if (file_size != planned_size) {
    return absl::InternalError(
        absl::StrCat("wrote ", file_size, " bytes, planned ", planned_size));
  }

  FileHeader header;
  std::memset(&header, 0, sizeof(header));
  std::memcpy(header.magic, kModelMagic, sizeof(header.magic));
  header.format_version = kFormatVersion;
  header.header_size = sizeof(FileHeader);
  header.kind = static_cast<uint32_t>(data.kind);
  header.dtype = static_cast<uint32_t>(data.dtype);
  header.num_items = n;
  header.rank = data.rank;
  header.row_stride = row_stride;
  header.file_size = file_size;
  header.section_count = static_cast<uint32_t>(kNumSections);
  header.flags = 0;
  {
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    XXH3_64bits_update(state, &header, sizeof(header));  // checksum field is 0
    XXH3_64bits_update(state, table.data(),
                       table.size() * sizeof(SectionEntry));
    header.header_checksum = XXH3_64bits_digest(state);
    XXH3_freeState(state);
  }
  RETURN_IF_ERROR(PWriteAll(tmp.fd(), &header, sizeof(header), 0, tmp.path()));
  RETURN_IF_ERROR(PWriteAll(tmp.fd(), table.data(),
                            table.size() * sizeof(SectionEntry),
                            sizeof(FileHeader), tmp.path()));
  return tmp.Commit();
}

}  // namespace

absl::Status WriteDenseModel(const std::string& path,
                             const DenseModelData& data) {
  Payload payload{ModelKind::kDense,
                  0,
                  data.item_ids.size(),
                  data.dtype,
                  {{SectionId::kDenseB, "B", data.b, data.item_ids.size()}},
                  data.item_ids,
                  data.popularity,
                  &data.metadata};
  return WriteModel(path, payload);
}

absl::Status WriteLowRankModel(const std::string& path,
                               const LowRankModelData& data) {
  if (data.rank == 0) {
    return absl::InvalidArgumentError("low-rank model needs rank >= 1");
  }
  Payload payload{ModelKind::kLowRank,
                  data.rank,
                  data.rank,
                  data.dtype,
                  {{SectionId::kFactorU, "U", data.u, data.rank},
                   {SectionId::kFactorV, "V", data.v, data.rank}},
                  data.item_ids,
                  data.popularity,
                  &data.metadata};
  return WriteModel(path, payload);
}

absl::Status WriteSparseModel(const std::string& path,
                              const SparseModelData& data) {
  Payload payload{ModelKind::kSparse, 0,           0,
                  data.dtype,         {},          data.item_ids,
                  data.popularity,    &data.metadata, &data};
  return WriteModel(path, payload);
}

}  // namespace edlae
