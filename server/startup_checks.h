// Start-up checks that name what is wrong before gRPC or CivetWeb fail with a
// vaguer message: a TLS key that is not the certificate's, an address that
// cannot be listened on.
#ifndef EDLAE_SERVER_STARTUP_CHECKS_H_
#define EDLAE_SERVER_STARTUP_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace edlae::server {

// OK when `key_pem` holds the private key of the first certificate in
// `cert_pem`. InvalidArgument naming `cert_path`/`key_path` when either does
// not parse as PEM, or "TLS key does not match certificate" when they are not
// a pair.
absl::Status CheckTlsKeyMatchesCertificate(const std::string& cert_pem,
                                           const std::string& key_pem,
                                           absl::string_view cert_path,
                                           absl::string_view key_path);

// Binds (and closes) a TCP socket on every address `host` resolves to at
// `port` (0: any port), with SO_REUSEADDR as gRPC and CivetWeb listen. When
// none binds: Unavailable "<what>: HOST:PORT is already in use" or
// "<what>: HOST is not an address of this machine"; InvalidArgument when
// `host` does not resolve. `what` names the flag(s), e.g. "--host/--port".
// `host` may be in brackets ("[::1]"); empty means every address.
absl::Status CheckCanListen(absl::string_view what, const std::string& host,
                            int port);

// The same for a CivetWeb listening address "HOST:PORT", "[V6]:PORT" or
// "PORT"; an address it cannot read (CivetWeb's own suffixes) passes, for
// CivetWeb to judge.
absl::Status CheckCanListenOn(absl::string_view what,
                              const std::string& address);

}  // namespace edlae::server

#endif  // EDLAE_SERVER_STARTUP_CHECKS_H_
