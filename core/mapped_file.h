// Read-only memory mapping of a whole file, owned RAII-style.
#ifndef EDLAE_CORE_MAPPED_FILE_H_
#define EDLAE_CORE_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace edlae {

// Maps exactly the file's size read-only (PROT_READ, MAP_PRIVATE) and unmaps on
// destruction. Move-only. An empty file maps to data() == nullptr, size() == 0.
// Thread-safety: immutable after Open; concurrent reads are safe.
class MappedFile {
 public:
  // Opens and maps `path`. With `populate`, the kernel reads the whole file
  // into the page cache and maps it before Open returns (MAP_POPULATE), so the
  // first reads never fault. Errors: NotFound, PermissionDenied, Internal
  // (mmap).
  static absl::StatusOr<MappedFile> Open(const std::string& path,
                                         bool populate = false);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Hint that the whole mapping will be read soon (MADV_WILLNEED).
  void AdviseWillNeed() const;

 private:
  MappedFile(const uint8_t* data, size_t size, std::string path)
      : data_(data), size_(size), path_(std::move(path)) {}
  void Reset();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace edlae

#endif  // EDLAE_CORE_MAPPED_FILE_H_
