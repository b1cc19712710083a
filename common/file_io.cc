// Atomic file writes (temporary file, fsync, rename, directory fsync; stale
// temporaries of dead writers removed), output preflight, errno statuses,
// whole-file and token reads.
#include "common/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace edlae {
namespace {

// The final component of `path` ("" for "dir/").
std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The directory holding `path`: "." when it names none, "/" for "/x".
std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

bool IsHex(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The writer pid of `entry` when it is one of AtomicFile's temporaries for
// the file `name`, i.e. exactly ".<name>.tmp.<pid>.<hex>"; 0 otherwise.
pid_t TemporaryWriterPid(absl::string_view entry, absl::string_view name) {
  const std::string prefix = absl::StrCat(".", name, ".tmp.");
  if (!absl::StartsWith(entry, prefix)) return 0;
  entry.remove_prefix(prefix.size());
  const size_t dot = entry.find('.');
  if (dot == absl::string_view::npos || !IsHex(entry.substr(dot + 1))) {
    return 0;
  }
  const absl::string_view digits = entry.substr(0, dot);
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return 0;
  }
  int32_t pid;
  if (!absl::SimpleAtoi(digits, &pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

// Removes the regular files ".<name>.tmp.<pid>.<hex>" in `dir` whose writer
// process no longer exists; returns how many. Best effort: a directory that
// cannot be listed or a file that cannot be removed is left as it is.
size_t RemoveStaleTemporaries(const std::string& dir, absl::string_view name) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  const pid_t self = ::getpid();
  size_t removed = 0;
  while (const struct dirent* e = ::readdir(d)) {
    const pid_t pid = TemporaryWriterPid(e->d_name, name);
    if (pid == 0 || pid == self) continue;
    // ESRCH: no such process. EPERM means it exists (another user's).
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
      continue;
    }
    if (::unlinkat(::dirfd(d), e->d_name, 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

// 0 when fsync(2) succeeds, else its errno (EINTR retried).
int FsyncErrno(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

// 0 when this process can create a file in `dir` (checked by creating and
// removing one, as a write would), else the errno.
int ProbeCreate(const std::string& dir) {
  std::random_device rd;
  const std::string probe =
      absl::StrCat(dir, "/.edlae-probe.", ::getpid(), ".", absl::Hex(rd()));
  int fd;
  do {
    fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno;
  ::close(fd);
  ::unlink(probe.c_str());
  return 0;
}

}  // namespace

absl::Status ErrnoError(int err, absl::string_view op, absl::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(op, " ", path));
}

absl::Status WriteAll(int fd, const void* data, size_t size,
                      absl::string_view path) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot write", path);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status Fsync(int fd, absl::string_view path) {
  const int err = FsyncErrno(fd);
  return err == 0 ? absl::OkStatus() : ErrnoError(err, "fsync", path);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty() && !committed_) ::unlink(temp_path_.c_str());
}

absl::Status AtomicFile::Create(const std::string& path) {
  const std::string name = BaseName(path);
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("path must name a file: \"", path, "\""));
  }
  path_ = path;
  dir_ = DirName(path);
  stale_removed_ = RemoveStaleTemporaries(dir_, name);
  const size_t slash = path.rfind('/');
  const std::string prefix =
      slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const uint64_t r = (uint64_t{rd()} << 32) | rd();
    std::string candidate =
        absl::StrCat(prefix, ".", name, ".tmp.", ::getpid(), ".", absl::Hex(r));
    int fd;
    do {
      fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  0644);
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0) {
      fd_ = fd;
      temp_path_ = std::move(candidate);
      return absl::OkStatus();
    }
    if (errno != EEXIST) return ErrnoError(errno, "cannot create", path_);
  }
  return absl::AlreadyExistsError(
      absl::StrCat("cannot create ", path_,
                   ": no unique temporary file name free in ", dir_));
}

absl::Status AtomicFile::Commit() {
  // Write-back errors (ENOSPC, EIO) surface here: they are write failures.
  if (const int err = FsyncErrno(fd_); err != 0) {
    return ErrnoError(err, "cannot write", path_);
  }
  // Some file systems report write-back failures only at close.
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) {
    return ErrnoError(errno, "cannot write", path_);
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return ErrnoError(errno, "cannot rename the new file onto", path_);
  }
  committed_ = true;
  // Make the rename itself durable. The new file is already visible, so a
  // failure here is reported but the destination is not rolled back.
  int dfd;
  do {
    dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (dfd < 0 && errno == EINTR);
  if (dfd < 0) return ErrnoError(errno, "cannot open the directory of", path_);
  absl::Status status = Fsync(dfd, dir_);
  ::close(dfd);
  return status;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  AtomicFile file;
  if (absl::Status s = file.Create(path); !s.ok()) return s;
  if (absl::Status s =
          WriteAll(file.fd(), contents.data(), contents.size(), file.path());
      !s.ok()) {
    return s;
  }
  return file.Commit();
}

absl::Status CheckWritableOutput(const std::string& path,
                                 absl::string_view flag) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " is empty"));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " '", path, "' is a directory; it must name a file"));
  }
  const std::string name = BaseName(path);
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " '", path, "' must name a file"));
  }
  const std::string dir = DirName(path);
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat(
          flag, " '", path, "': the folder '", dir, "' does not exist"));
    }
    return ErrnoError(err, absl::StrCat(flag, ": cannot examine the folder of"),
                      path);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat(flag, " '", path, "': '", dir, "' is not a folder"));
  }
  // The real test: create and remove a file there, as the write will.
  // Catches permissions, ACLs and read-only mounts that stat cannot show.
  if (const int err = ProbeCreate(dir); err != 0) {
    return ErrnoError(err, absl::StrCat(flag, ": cannot create"), path);
  }
  return absl::OkStatus();
}

absl::Status CheckWritableOutputDir(const std::string& dir,
                                    absl::string_view flag) {
  if (dir.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " is empty"));
  }
  // The nearest existing ancestor (the folder itself when it exists).
  std::string existing = dir;
  while (existing.size() > 1 && existing.back() == '/') existing.pop_back();
  struct stat st;
  while (::stat(existing.c_str(), &st) != 0) {
    const int err = errno;
    const std::string parent = DirName(existing);
    // ENOTDIR: a file where a folder should be; its stat says so below.
    if ((err != ENOENT && err != ENOTDIR) || parent == existing) {
      return ErrnoError(err, absl::StrCat(flag, " '", dir, "': cannot examine"),
                        existing);
    }
    existing = parent;
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        existing == dir ? absl::StrCat(flag, " '", dir, "' is not a folder")
                        : absl::StrCat(flag, " '", dir, "': '", existing,
                                       "' is not a folder"));
  }
  if (const int err = ProbeCreate(existing); err != 0) {
    return ErrnoError(
        err, absl::StrCat(flag, " '", dir, "': cannot create files in"),
        existing);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return ErrnoError(errno, "cannot examine", a);
  }
  if (::stat(b.c_str(), &sb) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return ErrnoError(errno, "cannot examine", b);
  }
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

absl::Status CheckOutputIsNotInput(const std::string& out,
                                   absl::string_view out_flag,
                                   const std::vector<std::string>& inputs) {
  for (const std::string& input : inputs) {
    absl::StatusOr<bool> same = SameFile(out, input);
    if (!same.ok()) return same.status();
    if (*same) {
      return absl::InvalidArgumentError(
          absl::StrCat(out_flag, " '", out, "' is the input file '", input,
                       "'; refusing to overwrite it"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  if (!in || !(contents << in.rdbuf())) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " file '", path, "'"));
  }
  return contents.str();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          absl::string_view flag) {
  absl::StatusOr<std::string> token = ReadFileToString(path, flag);
  if (!token.ok()) return token.status();
  const std::string trimmed(absl::StripAsciiWhitespace(*token));
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " '", path, "' holds no token"));
  }
  for (char c : trimmed) {
    // gRPC metadata values are printable ASCII; anything else could never
    // be sent.
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " '", path, "' must hold one printable ASCII token"));
    }
  }
  return trimmed;
}

}  // namespace edlae
