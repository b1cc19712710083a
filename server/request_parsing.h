// Request bytes → protobuf messages with an INVALID_ARGUMENT that says what is
// wrong, and without protobuf's log line per malformed request.
#ifndef EDLAE_SERVER_REQUEST_PARSING_H_
#define EDLAE_SERVER_REQUEST_PARSING_H_

#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"

namespace edlae::server {

// Checks that `bytes` is well-formed protobuf wire format for `message`'s
// type — every tag, varint and length in bounds, every string field
// (nested messages included) valid UTF-8, every packed fixed-width field a
// whole number of elements — then parses it into `message` (cleared first).
// Unknown fields are accepted and skipped, as protobuf does. Nothing is
// logged: protobuf's parser logs a line for invalid UTF-8, so it only ever
// sees bytes that passed the check.
// InvalidArgument: "request is not a valid <type>: <what, at which byte>",
// naming the field path (e.g. "requests[2].history_item_ids[0]").
absl::Status ParseRequest(std::string_view bytes,
                          google::protobuf::Message* message);

// ParseRequest over a received gRPC message (flattened when it spans
// several slices); InvalidArgument also when the call carried no message.
absl::Status ParseRequest(const grpc::ByteBuffer& buffer,
                          google::protobuf::Message* message);

}  // namespace edlae::server

#endif  // EDLAE_SERVER_REQUEST_PARSING_H_
