// Test models for the server's robustness tests and fuzz seeds: a writer of
// small dense models whose contents depend on a version number, a corpus of
// corrupt variants (truncations, bit flips, overflowing sizes), and
// re-signing of edited files.
#ifndef EDLAE_TESTS_TESTING_MODEL_CORPUS_H_
#define EDLAE_TESTS_TESTING_MODEL_CORPUS_H_

#include <xxhash.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/model_format.h"
#include "core/model_writer.h"

namespace edlae::testing {

// Writes a dense model of `n` items ("i0".."i<n-1>") to `path` atomically.
// B[i][j] = ((i * 7 + j * 13 + version) % 17 - 8) / 8, so different versions
// have different fingerprints and rankings. Popularity: n - i.
inline absl::Status WriteVersionedModel(const std::string& path, size_t n,
                                        uint64_t version) {
  std::vector<float> b(n * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      b[i * n + j] =
          static_cast<float>(static_cast<int>((i * 7 + j * 13 + version) % 17) -
                             8) /
          8.0f;
    }
  }
  std::vector<std::string> ids;
  std::vector<float> popularity;
  for (size_t i = 0; i < n; ++i) {
    ids.push_back(absl::StrCat("i", i));
    popularity.push_back(static_cast<float>(n - i));
  }
  DenseModelData data;
  data.b = b;
  data.item_ids = ids;
  data.popularity = popularity;
  data.metadata = {{"algorithm", "edlae"},
                   {"test_version", absl::StrCat(version)}};
  return WriteDenseModel(path, data);
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteBytesTo(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Recomputes the header checksum of `bytes` over the header and the table
// entries that fit in the file (a file may claim more than it holds).
inline void ResignHeader(std::string& bytes) {
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  h.header_checksum = 0;
  const size_t table = std::min<size_t>(
      static_cast<size_t>(h.section_count) * sizeof(SectionEntry),
      bytes.size() - sizeof(FileHeader));
  std::string buf(reinterpret_cast<const char*>(&h), sizeof(h));
  buf.append(bytes.data() + sizeof(FileHeader), table);
  h.header_checksum = XXH3_64bits(buf.data(), buf.size());
  std::memcpy(bytes.data(), &h, sizeof(h));
}

// Recomputes the checksum of every section that lies within the file, then
// the header checksum, so that edited contents reach the reader's content
// checks rather than its checksum checks. REQUIRES: bytes.size() >= 128.
inline void ResignAll(std::string& bytes) {
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  const uint64_t max_entries =
      (bytes.size() - sizeof(FileHeader)) / sizeof(SectionEntry);
  const uint64_t count = std::min<uint64_t>(h.section_count, max_entries);
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = sizeof(FileHeader) + i * sizeof(SectionEntry);
    SectionEntry e;
    std::memcpy(&e, bytes.data() + at, sizeof(e));
    if (e.offset <= bytes.size() && e.size <= bytes.size() - e.offset) {
      e.checksum = XXH3_64bits(bytes.data() + e.offset, e.size);
      std::memcpy(bytes.data() + at, &e, sizeof(e));
    }
  }
  ResignHeader(bytes);
}

// `bytes` with header field values patched and the header checksum
// recomputed, so the reader's size checks (not the checksum) must catch them.
inline std::string PatchHeaderField(std::string bytes, size_t offset,
                                    uint64_t value, size_t width) {
  std::memcpy(bytes.data() + offset, &value, width);
  ResignHeader(bytes);
  return bytes;
}

// Named corrupt variants of a valid model file's `bytes` (>= 1 KiB).
inline std::vector<std::pair<std::string, std::string>> CorruptVariants(
    const std::string& bytes) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t keep : {size_t{0}, size_t{7}, size_t{127}, size_t{128},
                      size_t{200}, bytes.size() / 2, bytes.size() - 1}) {
    out.emplace_back(absl::StrCat("truncated to ", keep), bytes.substr(0, keep));
  }
  out.emplace_back("one byte appended", bytes + "x");
  for (size_t at : {size_t{3}, size_t{20}, size_t{140}, bytes.size() / 2,
                    bytes.size() - 1}) {
    std::string b = bytes;
    b[at] = static_cast<char>(b[at] ^ 0x10);
    out.emplace_back(absl::StrCat("bit flip at ", at), std::move(b));
  }
  out.emplace_back("num_items 2^62",
                   PatchHeaderField(bytes, offsetof(FileHeader, num_items),
                                    uint64_t{1} << 62, 8));
  out.emplace_back("row_stride max",
                   PatchHeaderField(bytes, offsetof(FileHeader, row_stride),
                                    ~uint64_t{0} - 15, 8));
  out.emplace_back("section_count max",
                   PatchHeaderField(bytes, offsetof(FileHeader, section_count),
                                    0xFFFFFFFFu, 4));
  out.emplace_back("garbage", std::string(bytes.size(), '\xAB'));
  return out;
}

}  // namespace edlae::testing

#endif  // EDLAE_TESTS_TESTING_MODEL_CORPUS_H_
