// File I/O every binary shares: errno → Status, atomic (temp + fsync + rename)
// writes, whole-file and token reads.
#ifndef EDLAE_COMMON_FILE_IO_H_
#define EDLAE_COMMON_FILE_IO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edlae {

// Status for a failed system call: the errno's code (NotFound,
// PermissionDenied, …) and the message "<op> <path>: <strerror>".
absl::Status ErrnoError(int err, absl::string_view op, absl::string_view path);

// A file that appears at `path` complete or not at all. Create() opens a new
// temporary file (mode 0644) beside `path` in the same directory; the caller
// writes through fd() (WriteAll helps); Commit() fsyncs, closes, renames it
// over `path` and fsyncs the directory. Until Commit() succeeds, `path` is
// untouched, and the destructor closes and removes the temporary file, so no
// error path (or exception, or early return) leaves a partial file behind.
// A crash leaves at most a ".<name>.tmp.*" file beside `path`.
// Not thread-safe; one writer per object.
class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // InvalidArgument when `path` names no file ("", "dir/", ".", ".."); the
  // errno's status when the directory does not allow a new file.
  absl::Status Create(const std::string& path);
  // REQUIRES: Create() succeeded and Commit() has not been called.
  absl::Status Commit();

  int fd() const { return fd_; }
  const std::string& temp_path() const { return temp_path_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;       // the destination
  std::string dir_;        // its directory ("." when the path has none)
  std::string temp_path_;  // the temporary file beside it
  bool committed_ = false;
};

// Writes all `size` bytes at the descriptor's position (EINTR and short
// writes handled); `path` names the file in the error.
absl::Status WriteAll(int fd, const void* data, size_t size,
                      absl::string_view path);
// fsync(2), retried on EINTR.
absl::Status Fsync(int fd, absl::string_view path);

// Replaces `path` with `contents` atomically (AtomicFile).
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

// The whole file. `what` names it in the error (a flag such as "--tls_cert"):
// InvalidArgument "cannot read <what> file '<path>'" when it cannot be read.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             absl::string_view what);

// A bearer token file: one printable-ASCII token, surrounding whitespace
// trimmed. InvalidArgument (naming `flag` and `path`) when unreadable, empty
// or holding anything else: gRPC metadata could never carry it.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          absl::string_view flag);

}  // namespace edlae

#endif  // EDLAE_COMMON_FILE_IO_H_
