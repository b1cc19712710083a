// MappedFile: read-only mmap or private snapshot of a whole regular file;
// errno → absl::Status.
#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "core/status_macros.h"

namespace edlae {
namespace {

// Closes the descriptor on every path out of Open; the mapping outlives it.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// Opens `path` read-only and checks that it is a regular file that fits in
// memory; fills `st`.
absl::StatusOr<int> OpenRegular(const std::string& path, struct stat* st) {
  // O_NONBLOCK so that a FIFO at `path` is rejected below instead of blocking
  // open() until a writer appears; it has no effect on regular files.
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoError(errno, "open", path);
  absl::Status error;
  if (::fstat(fd, st) != 0) {
    error = ErrnoError(errno, "fstat", path);
  } else if (!S_ISREG(st->st_mode)) {
    error =
        absl::InvalidArgumentError(absl::StrCat("not a regular file: ", path));
  } else if (static_cast<uint64_t>(st->st_size) > SIZE_MAX) {
    error =
        absl::OutOfRangeError(absl::StrCat("file too large to map: ", path));
  }
  if (!error.ok()) {
    ::close(fd);
    return error;
  }
  return fd;
}

bool SameSizeAndMtime(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path,
                                            bool populate) {
  struct stat st;
  ASSIGN_OR_RETURN(const int fd, OpenRegular(path, &st));
  FdCloser closer(fd);
  if (st.st_size == 0) return MappedFile(nullptr, 0, path);
  const size_t size = static_cast<size_t>(st.st_size);
  void* addr = ::mmap(nullptr, size, PROT_READ,
                      MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
  if (addr == MAP_FAILED) {
    const int err = errno;
    absl::Status s = ErrnoError(err, "mmap", path);
    // Keep NotFound/PermissionDenied meaning "could not open"; a failing mmap
    // (ENOMEM, ENODEV, ...) is an internal error of this process.
    return absl::InternalError(s.message());
  }
  return MappedFile(static_cast<const uint8_t*>(addr), size, path);
}

absl::StatusOr<MappedFile> MappedFile::Snapshot(const std::string& path) {
  struct stat before;
  ASSIGN_OR_RETURN(const int fd, OpenRegular(path, &before));
  FdCloser closer(fd);
  if (before.st_size == 0) return MappedFile(nullptr, 0, path);
  const size_t size = static_cast<size_t>(before.st_size);
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate ", size, " bytes to load ", path));
  }
  // Owns the memory until it is handed out; unmaps it on every error path.
  MappedFile image(static_cast<const uint8_t*>(addr), size, path);
  // No MADV_HUGEPAGE: with THP defrag "madvise" (a common default) the
  // faults of a multi-GB read stall in compaction (measured 5-20x slower).
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  uint8_t* out = static_cast<uint8_t*>(addr);
  size_t done = 0;
  while (done < size) {
    const ssize_t got =
        ::pread(fd, out + done, size - done, static_cast<off_t>(done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read", path);
    }
    if (got == 0) {
      return absl::DataLossError(
          absl::StrCat(path, " shrank while it was being read (", done, " of ",
                       size, " bytes): it is being rewritten"));
    }
    done += static_cast<size_t>(got);
  }
  struct stat after;
  if (::fstat(fd, &after) != 0) return ErrnoError(errno, "fstat", path);
  if (!SameSizeAndMtime(before, after)) {
    return absl::UnavailableError(absl::StrCat(
        path, " changed while it was being read: it is being rewritten"));
  }
  if (::mprotect(addr, size, PROT_READ) != 0) {
    return ErrnoError(errno, "mprotect", path);
  }
  return image;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() { Reset(); }

void MappedFile::Reset() {
  if (data_ != nullptr) {
    ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  data_ = nullptr;
  size_ = 0;
  path_.clear();
}

void MappedFile::AdviseWillNeed() const {
  if (data_ != nullptr) {
    // Advisory only: a failure changes nothing but speed.
    ::madvise(const_cast<uint8_t*>(data_), size_, MADV_WILLNEED);
  }
}

}  // namespace edlae
