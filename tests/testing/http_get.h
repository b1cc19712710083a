// A plain HTTP/1.0 GET over loopback, for tests that read /metrics.
#ifndef EDLAE_TESTS_TESTING_HTTP_GET_H_
#define EDLAE_TESTS_TESTING_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace edlae::testing {

// The whole response (status line, headers, body) of GET `path` from
// 127.0.0.1:`port`; "" when the connection fails.
inline std::string HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: x\r\n\r\n");
    if (::write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
    }
  }
  ::close(fd);
  return out;
}

}  // namespace edlae::testing

#endif  // EDLAE_TESTS_TESTING_HTTP_GET_H_
