// ParseRequest: a descriptor-driven check of the wire format (bounds, UTF-8,
// packed lengths) before protobuf parses, so failures are explained, not
// logged.
#include "server/request_parsing.h"

#include <climits>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/utf8.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace edlae::server {
namespace {

namespace pb = google::protobuf;
using pb::internal::WireFormatLite;

// Bytes per element of a packed fixed-width field; 0 for varint fields.
int PackedElementSize(pb::FieldDescriptor::Type type) {
  switch (type) {
    case pb::FieldDescriptor::TYPE_FIXED32:
    case pb::FieldDescriptor::TYPE_SFIXED32:
    case pb::FieldDescriptor::TYPE_FLOAT:
      return 4;
    case pb::FieldDescriptor::TYPE_FIXED64:
    case pb::FieldDescriptor::TYPE_SFIXED64:
    case pb::FieldDescriptor::TYPE_DOUBLE:
      return 8;
    default:
      return 0;
  }
}

// Walks one buffer of wire format against a message type.
class WireChecker {
 public:
  WireChecker(std::string_view bytes, const pb::Descriptor& type)
      : bytes_(bytes),
        type_(type),
        in_(reinterpret_cast<const uint8_t*>(bytes.data()),
            static_cast<int>(bytes.size())) {}

  absl::Status Check() { return CheckMessage(type_, "", 0); }

 private:
  static constexpr int kMaxDepth = 32;

  absl::Status Error(int at, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat("request is not a valid ",
                                                   type_.full_name(), ": ",
                                                   what, " at byte ", at));
  }

  // Bytes left in the current message (its limit, or the buffer).
  int Remaining() const {
    const int limit = in_.BytesUntilLimit();
    return limit >= 0 ? limit
                      : static_cast<int>(bytes_.size()) - in_.CurrentPosition();
  }

  absl::Status CheckMessage(const pb::Descriptor& type, const std::string& path,
                            int depth) {
    if (depth > kMaxDepth) {
      return Error(in_.CurrentPosition(), "messages nested too deeply");
    }
    absl::flat_hash_map<int, int> seen;  // field number → elements so far
    for (;;) {
      const int at = in_.CurrentPosition();
      const uint32_t tag = in_.ReadTag();
      if (tag == 0) {
        if (in_.ConsumedEntireMessage()) return absl::OkStatus();
        return Error(at, "malformed or truncated field tag");
      }
      const int number = WireFormatLite::GetTagFieldNumber(tag);
      const pb::FieldDescriptor* field = type.FindFieldByNumber(number);
      if (number == 0) return Error(at, "field number 0");
      // A known field in its expected length-delimited form is checked; any
      // other field (unknown, or a wire type protobuf keeps as unknown) is
      // skipped as protobuf would.
      const bool delimited = WireFormatLite::GetTagWireType(tag) ==
                             WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
      const bool checked =
          field != nullptr && delimited &&
          (field->type() == pb::FieldDescriptor::TYPE_STRING ||
           field->type() == pb::FieldDescriptor::TYPE_MESSAGE ||
           (field->is_repeated() && field->is_packable()));
      if (!checked) {
        if (!WireFormatLite::SkipField(&in_, tag)) {
          return Error(at,
                       absl::StrCat("malformed or truncated field ", number));
        }
        continue;
      }
      std::string name =
          path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
      if (field->is_repeated() &&
          field->type() != pb::FieldDescriptor::TYPE_MESSAGE &&
          field->type() != pb::FieldDescriptor::TYPE_STRING) {
        // Packed scalars: one length for all elements; no index.
      } else if (field->is_repeated()) {
        absl::StrAppend(&name, "[", seen[number]++, "]");
      }
      uint32_t length = 0;
      if (!in_.ReadVarint32(&length)) {
        return Error(at, absl::StrCat("truncated length of ", name));
      }
      const int start = in_.CurrentPosition();
      if (length > static_cast<uint32_t>(Remaining())) {
        return Error(at,
                     absl::StrCat(name, " claims ", length, " bytes but only ",
                                  Remaining(), " remain"));
      }
      const int size = static_cast<int>(length);
      switch (field->type()) {
        case pb::FieldDescriptor::TYPE_STRING:
          if (!IsValidUtf8(bytes_.substr(start, size))) {
            return Error(start, absl::StrCat(name,
                                             " is not valid UTF-8 (string "
                                             "fields such as item ids must be "
                                             "UTF-8 text)"));
          }
          in_.Skip(size);
          break;
        case pb::FieldDescriptor::TYPE_MESSAGE: {
          const auto limit = in_.PushLimit(size);
          if (absl::Status s =
                  CheckMessage(*field->message_type(), name, depth + 1);
              !s.ok()) {
            return s;
          }
          in_.PopLimit(limit);
          break;
        }
        default: {  // packed repeated scalars
          const int element = PackedElementSize(field->type());
          if (element > 0) {
            if (size % element != 0) {
              return Error(start,
                           absl::StrCat("packed ", name, " holds ", size,
                                        " bytes, not a multiple of ", element));
            }
            in_.Skip(size);
            break;
          }
          const auto limit = in_.PushLimit(size);
          while (in_.BytesUntilLimit() > 0) {
            uint64_t value;
            if (!in_.ReadVarint64(&value)) {
              in_.PopLimit(limit);
              return Error(in_.CurrentPosition(),
                           absl::StrCat("malformed varint in packed ", name));
            }
          }
          in_.PopLimit(limit);
          break;
        }
      }
    }
  }

  const std::string_view bytes_;
  const pb::Descriptor& type_;
  pb::io::CodedInputStream in_;
};

}  // namespace

absl::Status ParseRequest(std::string_view bytes, pb::Message* message) {
  const pb::Descriptor& type = *message->GetDescriptor();
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request of ", bytes.size(), " bytes is too large"));
  }
  if (absl::Status s = WireChecker(bytes, type).Check(); !s.ok()) return s;
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("request is not a valid ", type.full_name()));
  }
  return absl::OkStatus();
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer,
                          pb::Message* message) {
  if (!buffer.Valid()) {
    return absl::InvalidArgumentError("the call carried no request message");
  }
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("cannot read the request's bytes");
  }
  if (slices.empty()) return ParseRequest(std::string_view(), message);
  if (slices.size() == 1) {
    return ParseRequest(
        std::string_view(reinterpret_cast<const char*>(slices[0].begin()),
                         slices[0].size()),
        message);
  }
  std::string flat;
  flat.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    flat.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return ParseRequest(flat, message);
}

}  // namespace edlae::server
