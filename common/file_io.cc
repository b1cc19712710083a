// Atomic file writes (temporary file, fsync, rename, directory fsync), errno
// statuses, whole-file and token reads.
#include "common/file_io.h"

#include <fcntl.h>
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
#include "absl/strings/str_cat.h"

namespace edlae {

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
      return ErrnoError(errno, "write", path);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status Fsync(int fd, absl::string_view path) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return ErrnoError(errno, "fsync", path);
  }
  return absl::OkStatus();
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty() && !committed_) ::unlink(temp_path_.c_str());
}

absl::Status AtomicFile::Create(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string name =
      slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("path must name a file: \"", path, "\""));
  }
  path_ = path;
  dir_ = slash == std::string::npos ? std::string(".")
         : slash == 0               ? std::string("/")
                                    : path.substr(0, slash);
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
    if (errno != EEXIST) return ErrnoError(errno, "create", candidate);
  }
  return absl::AlreadyExistsError(
      absl::StrCat("could not create a unique temporary file in ", dir_));
}

absl::Status AtomicFile::Commit() {
  if (absl::Status s = Fsync(fd_, temp_path_); !s.ok()) return s;
  // Some file systems report write-back failures only at close.
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) {
    return ErrnoError(errno, "close", temp_path_);
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return ErrnoError(errno, absl::StrCat("rename ", temp_path_, " to"), path_);
  }
  committed_ = true;
  // Make the rename itself durable. The new file is already visible, so a
  // failure here is reported but the destination is not rolled back.
  int dfd;
  do {
    dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (dfd < 0 && errno == EINTR);
  if (dfd < 0) return ErrnoError(errno, "open directory", dir_);
  absl::Status status = Fsync(dfd, dir_);
  ::close(dfd);
  return status;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  AtomicFile file;
  if (absl::Status s = file.Create(path); !s.ok()) return s;
  if (absl::Status s = WriteAll(file.fd(), contents.data(), contents.size(),
                                file.temp_path());
      !s.ok()) {
    return s;
  }
  return file.Commit();
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
