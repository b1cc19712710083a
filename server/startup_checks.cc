// Start-up checks: TLS key/certificate pair (OpenSSL), listening addresses
// (a trial bind).
#include "server/startup_checks.h"

#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace edlae::server {

namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

absl::Status CheckTlsKeyMatchesCertificate(const std::string& cert_pem,
                                           const std::string& key_pem,
                                           absl::string_view cert_path,
                                           absl::string_view key_path) {
  auto cert_bio = MemoryBio(cert_pem);
  std::unique_ptr<X509, X509Free> cert(
      cert_bio == nullptr
          ? nullptr
          : PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  auto key_bio = MemoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      key_bio == nullptr
          ? nullptr
          : PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  const bool match = cert != nullptr && key != nullptr &&
                     X509_check_private_key(cert.get(), key.get());
  ERR_clear_error();  // OpenSSL's queue is per thread; leave it empty
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_cert ", cert_path, ": no PEM certificate in the file"));
  }
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key ", key_path,
                     ": no PEM private key in the file (or it is encrypted)"));
  }
  if (!match) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS key does not match certificate: --tls_key ", key_path,
                     " is not the private key of --tls_cert ", cert_path));
  }
  return absl::OkStatus();
}

absl::Status CheckCanListen(absl::string_view what, const std::string& host,
                            int port) {
  absl::string_view bare = host;
  if (absl::ConsumePrefix(&bare, "[")) absl::ConsumeSuffix(&bare, "]");
  const std::string name(bare);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* addresses = nullptr;
  const std::string service = absl::StrCat(port);
  if (const int error = getaddrinfo(name.empty() ? nullptr : name.c_str(),
                                    service.c_str(), &hints, &addresses);
      error != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": cannot resolve host '", host, "': ", gai_strerror(error)));
  }
  // gRPC listens when at least one of the addresses binds ("localhost" on a
  // machine without IPv6), so only all of them failing is an error.
  int bound = 0;
  int in_use = 0;
  int not_local = 0;
  int denied = 0;
  for (const addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;  // e.g. no IPv6 here: gRPC skips it too
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ++bound;
    } else if (errno == EADDRINUSE) {
      ++in_use;
    } else if (errno == EADDRNOTAVAIL) {
      ++not_local;
    } else if (errno == EACCES) {
      ++denied;
    }
    close(fd);
  }
  absl::Status status;
  if (bound == 0 && in_use > 0) {
    const bool v6 =
        absl::StrContains(host, ':') && !absl::StartsWith(host, "[");
    status = absl::UnavailableError(
        absl::StrCat(what, ": ", v6 ? "[" : "", host.empty() ? "*" : host,
                     v6 ? "]" : "", ":", port, " is already in use"));
  } else if (bound == 0 && not_local > 0) {
    status = absl::UnavailableError(
        absl::StrCat(what, ": ", host, " is not an address of this machine"));
  } else if (bound == 0 && denied > 0) {
    status = absl::UnavailableError(absl::StrCat(
        what, ": no permission to listen on port ", port, " of ", host));
  }
  freeaddrinfo(addresses);
  return status;
}

absl::Status CheckCanListenOn(absl::string_view what,
                              const std::string& address) {
  const size_t colon = address.rfind(':');
  const std::string host =
      colon == std::string::npos ? "" : address.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(
          colon == std::string::npos ? address : address.substr(colon + 1),
          &port) ||
      port < 0 || port > 65535) {
    return absl::OkStatus();
  }
  return CheckCanListen(what, host, port);
}

}  // namespace edlae::server
