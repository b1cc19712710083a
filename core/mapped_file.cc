// MappedFile: read-only mmap of a whole regular file; errno → absl::Status.
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

absl::Status ErrnoError(int err, const char* op, const std::string& path) {
  return absl::ErrnoToStatus(err, absl::StrCat(op, " ", path));
}

}  // namespace

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path,
                                           bool populate) {
  // O_NONBLOCK so that a FIFO at `path` is rejected below instead of blocking
  // open() until a writer appears; it has no effect on regular files.
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoError(errno, "open", path);
  FdCloser closer(fd);

  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "fstat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a regular file: ", path));
  }
  if (st.st_size == 0) return MappedFile(nullptr, 0, path);
  if (static_cast<uint64_t>(st.st_size) > SIZE_MAX) {
    return absl::OutOfRangeError(absl::StrCat("file too large to map: ", path));
  }
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
