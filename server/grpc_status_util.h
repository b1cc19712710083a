// The one mapping from absl::Status to grpc::Status used by every edlae RPC
// handler.
#ifndef EDLAE_SERVER_GRPC_STATUS_UTIL_H_
#define EDLAE_SERVER_GRPC_STATUS_UTIL_H_

#include <cstddef>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace edlae::server {

// Longest error message sent to a client, in bytes. Longer messages are cut
// (at a UTF-8 character boundary) and end in "...".
inline constexpr size_t kMaxStatusMessageBytes = 1024;

// Maps `status` to the gRPC status with the same code (absl::StatusCode values
// are defined to equal the gRPC codes) and its message, truncated to
// kMaxStatusMessageBytes. Payloads are dropped. An OK status maps to
// grpc::Status::OK. Codes outside the canonical range map to UNKNOWN.
// Thread-safe (pure function).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace edlae::server

#endif  // EDLAE_SERVER_GRPC_STATUS_UTIL_H_
