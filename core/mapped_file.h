// Read-only memory image of a whole file (a mapping of it, or a private
// snapshot), owned RAII-style.
#ifndef EDLAE_CORE_MAPPED_FILE_H_
#define EDLAE_CORE_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace edlae {

// Exactly the file's bytes, read-only, released on destruction: either a
// mapping of the file itself (Open) or a private snapshot of them (Snapshot).
// Move-only. An empty file gives data() == nullptr, size() == 0.
// Thread-safety: immutable after Open/Snapshot; concurrent reads are safe.
class MappedFile {
 public:
  // Opens and maps `path`. With `populate`, the kernel reads the whole file
  // into the page cache and maps it before Open returns (MAP_POPULATE), so the
  // first reads never fault. Errors: NotFound, PermissionDenied, Internal
  // (mmap).
  // A mapping of the file shares the page cache with the file: when someone
  // truncates or rewrites the file in place while it is mapped, reads see the
  // new bytes or fault with SIGBUS. Use Snapshot for files that may change.
  static absl::StatusOr<MappedFile> Open(const std::string& path,
                                         bool populate = false);

  // Reads the whole file into private anonymous memory (read-only after the
  // read), so later writes,
  // truncation or deletion of the file never change or fault data(). Costs
  // the file's size in anonymous (unreclaimable) memory and one sequential
  // read. The file's size and mtime are checked before and after the read:
  // a file that changes meanwhile is refused (Unavailable, "changed while
  // reading"), so a half-written file is never returned. Other errors as
  // for Open, plus DataLoss when the file shrinks during the read.
  static absl::StatusOr<MappedFile> Snapshot(const std::string& path);

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
