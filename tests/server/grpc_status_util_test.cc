// Tests for ToGrpcStatus: every absl code maps to the same gRPC code; long
// messages are truncated.
#include "server/grpc_status_util.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "gtest/gtest.h"

namespace edlae::server {
namespace {

TEST(GrpcStatusUtilTest, OkMapsToOk) {
  grpc::Status status = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(status.error_message(), "");
}

TEST(GrpcStatusUtilTest, EveryCodeMapsToTheSameGrpcCode) {
  struct Case {
    absl::StatusCode absl_code;
    grpc::StatusCode grpc_code;
  };
  const Case cases[] = {
      {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
      {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {absl::StatusCode::kDeadlineExceeded,
       grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {absl::StatusCode::kPermissionDenied,
       grpc::StatusCode::PERMISSION_DENIED},
      {absl::StatusCode::kResourceExhausted,
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::StatusCode::kFailedPrecondition,
       grpc::StatusCode::FAILED_PRECONDITION},
      {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
      {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
      {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
      {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
  };
  for (const Case& c : cases) {
    const std::string message =
        "message for " + absl::StatusCodeToString(c.absl_code);
    grpc::Status status = ToGrpcStatus(absl::Status(c.absl_code, message));
    EXPECT_EQ(status.error_code(), c.grpc_code) << message;
    EXPECT_EQ(status.error_message(), message);
    EXPECT_FALSE(status.ok());
  }
  // Every non-OK canonical code, by value.
  for (int code = 1; code <= 16; ++code) {
    grpc::Status status =
        ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(code), "x"));
    EXPECT_EQ(static_cast<int>(status.error_code()), code);
  }
}

TEST(GrpcStatusUtilTest, NonCanonicalCodeMapsToUnknown) {
  grpc::Status status =
      ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(42), "odd"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(status.error_message(), "odd");
}

TEST(GrpcStatusUtilTest, ShortAndLimitLengthMessagesAreKept) {
  const std::string exact(kMaxStatusMessageBytes, 'a');
  EXPECT_EQ(ToGrpcStatus(absl::InternalError(exact)).error_message(), exact);
}

TEST(GrpcStatusUtilTest, LongMessagesAreTruncated) {
  const std::string long_message(5000, 'b');
  grpc::Status status = ToGrpcStatus(absl::InvalidArgumentError(long_message));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_EQ(status.error_message().size(), kMaxStatusMessageBytes);
  EXPECT_EQ(status.error_message().substr(0, 100), long_message.substr(0, 100));
  EXPECT_EQ(status.error_message().substr(kMaxStatusMessageBytes - 3), "...");
}

TEST(GrpcStatusUtilTest, TruncationDoesNotSplitUtf8Characters) {
  // "é" is two bytes; an odd prefix length puts the cut inside a character.
  std::string message = "x";
  while (message.size() < 3 * kMaxStatusMessageBytes) message += "\xc3\xa9";
  const std::string out =
      ToGrpcStatus(absl::NotFoundError(message)).error_message();
  ASSERT_LE(out.size(), kMaxStatusMessageBytes);
  ASSERT_GE(out.size(), kMaxStatusMessageBytes - 4);
  const std::string body = out.substr(0, out.size() - 3);
  EXPECT_EQ(out.substr(out.size() - 3), "...");
  // The body is a prefix of the message that ends on a character boundary.
  EXPECT_EQ(message.compare(0, body.size(), body), 0);
  EXPECT_NE(static_cast<unsigned char>(message[body.size()]) & 0xC0, 0x80);
}

TEST(GrpcStatusUtilTest, PayloadsAreDropped) {
  absl::Status with_payload = absl::DataLossError("corrupt");
  with_payload.SetPayload("type.example/x", absl::Cord("secret"));
  grpc::Status status = ToGrpcStatus(with_payload);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(status.error_message(), "corrupt");
  EXPECT_TRUE(status.error_details().empty());
}

}  // namespace
}  // namespace edlae::server
