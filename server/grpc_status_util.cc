// absl::Status → grpc::Status: same code, message truncated to a bounded
// length.
#include "server/grpc_status_util.h"

#include <string>

#include "absl/strings/string_view.h"

namespace edlae::server {
namespace {

constexpr absl::string_view kEllipsis = "...";

// Cuts `message` to at most kMaxStatusMessageBytes bytes without splitting a
// UTF-8 sequence.
std::string TruncateMessage(absl::string_view message) {
  if (message.size() <= kMaxStatusMessageBytes) return std::string(message);
  size_t cut = kMaxStatusMessageBytes - kEllipsis.size();
  // Back off over UTF-8 continuation bytes (10xxxxxx) so the cut lands on the
  // first byte of a character.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  std::string out(message.substr(0, cut));
  out.append(kEllipsis.data(), kEllipsis.size());
  return out;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int code = static_cast<int>(status.code());
  // absl::StatusCode and grpc::StatusCode share the canonical values 0..16.
  const grpc::StatusCode grpc_code =
      code >= static_cast<int>(grpc::StatusCode::CANCELLED) &&
              code <= static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)
          ? static_cast<grpc::StatusCode>(code)
          : grpc::StatusCode::UNKNOWN;
  return grpc::Status(grpc_code, TruncateMessage(status.message()));
}

}  // namespace edlae::server
