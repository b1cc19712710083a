// File I/O every binary shares: errno → Status, atomic (temp + fsync + rename)
// writes, output-path preflight, whole-file and token reads.
#ifndef EDLAE_COMMON_FILE_IO_H_
#define EDLAE_COMMON_FILE_IO_H_

#include <string>
#include <vector>

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
// A crash leaves at most a ".<name>.tmp.<pid>.<hex>" file beside `path`;
// Create() removes those of the same `path` whose <pid> no longer exists on
// this host (kill(pid, 0) fails with ESRCH), and never any other file.
// Errors name `path` as the caller gave it, never the temporary file
// ("cannot write m.edlae: No space left on device"); callers that write
// through fd() should name path() in theirs too.
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
  // The temporary file's name: for tests and diagnostics, not for messages.
  const std::string& temp_path() const { return temp_path_; }
  const std::string& path() const { return path_; }

  // The stale temporaries of `path` (see the class comment) removed by the
  // last Create(); 0 when none.
  size_t stale_removed() const { return stale_removed_; }

 private:
  int fd_ = -1;
  std::string path_;       // the destination
  std::string dir_;        // its directory ("." when the path has none)
  std::string temp_path_;  // the temporary file beside it
  bool committed_ = false;
  size_t stale_removed_ = 0;
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

// Preflight for an output file named by `flag` (e.g. "--out"), to run before
// any long work: the folder exists and this process can create a file in it
// (checked by creating and removing a temporary file there, as the real write
// will), and `path` is not a directory. InvalidArgument for "" or a path
// naming a directory, NotFound when the folder is missing, the errno's
// status otherwise; every message names `flag` and `path`.
absl::Status CheckWritableOutput(const std::string& path,
                                 absl::string_view flag);

// Preflight for an output folder named by `flag` (e.g. split's "--out"): an
// existing directory this process can create files in, or a path that does
// not exist yet whose nearest existing ancestor is such a directory (the
// writer creates the rest). InvalidArgument when `dir` is "" or an existing
// non-directory; the errno's status otherwise; messages name `flag` and `dir`.
absl::Status CheckWritableOutputDir(const std::string& dir,
                                    absl::string_view flag);

// Whether `a` and `b` name the same file (device and inode, symbolic links
// followed). False when either does not exist; the errno's status when one
// cannot be examined for another reason.
absl::StatusOr<bool> SameFile(const std::string& a, const std::string& b);

// InvalidArgument "<out_flag> '<out>' is the input file '<input>'; refusing
// to overwrite it" when `out` is the same file as one of `inputs` (SameFile;
// an output that does not exist yet is fine).
absl::Status CheckOutputIsNotInput(const std::string& out,
                                   absl::string_view out_flag,
                                   const std::vector<std::string>& inputs);

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
