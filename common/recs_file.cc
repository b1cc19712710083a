// CSV/JSONL rendering of batch recommendations and their atomic file writer.
#include "common/recs_file.h"

#include <unistd.h>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json.h"

namespace edlae {
namespace {

constexpr size_t kFlushBytes = size_t{1} << 20;

void AppendCsvField(std::string_view field, std::string* out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field.data(), field.size());
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace

absl::StatusOr<RecsFormat> ResolveRecsFormat(std::string_view name,
                                             std::string_view path) {
  const std::string name_text(name), path_text(path);
  if (name == "csv") return RecsFormat::kCsv;
  if (name == "jsonl") return RecsFormat::kJsonl;
  if (name != "auto") {
    return absl::InvalidArgumentError(absl::StrCat(
        "output format '", name_text, "': expected csv, jsonl or auto"));
  }
  if (path == "-") return RecsFormat::kJsonl;
  const std::string lower = absl::AsciiStrToLower(path_text);
  if (absl::EndsWith(lower, ".csv")) return RecsFormat::kCsv;
  for (const char* ext : {".jsonl", ".json", ".ndjson"}) {
    if (absl::EndsWith(lower, ext)) return RecsFormat::kJsonl;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot tell the output format from '", path_text,
      "': name it .csv or .jsonl, or give the format (csv | jsonl)"));
}

std::string FormatRecScore(float score, RecsFormat format) {
  if (!std::isfinite(score) && format == RecsFormat::kCsv) {
    return std::isnan(score) ? "nan" : (score > 0 ? "inf" : "-inf");
  }
  return JsonFloat(score);
}

std::string_view RecsHeader(RecsFormat format) {
  return format == RecsFormat::kCsv ? "user_id,rank,item_id,score\n" : "";
}

void AppendRecs(RecsFormat format, std::string_view user_id,
                absl::Span<const RecItem> items, std::string* out) {
  if (format == RecsFormat::kCsv) {
    for (size_t k = 0; k < items.size(); ++k) {
      AppendCsvField(user_id, out);
      absl::StrAppend(out, ",", k + 1, ",");
      AppendCsvField(items[k].item_id, out);
      absl::StrAppend(out, ",", FormatRecScore(items[k].score, format), "\n");
    }
    return;
  }
  out->append("{\"user_id\":");
  AppendJsonString(user_id, out);
  out->append(",\"items\":[");
  for (size_t k = 0; k < items.size(); ++k) {
    out->append(k == 0 ? "{\"item_id\":" : ",{\"item_id\":");
    AppendJsonString(items[k].item_id, out);
    absl::StrAppend(out, ",\"score\":", FormatRecScore(items[k].score, format),
                    "}");
  }
  out->append("]}\n");
}

void AppendRecsError(RecsFormat format, std::string_view user_id,
                     std::string_view error, std::string* out) {
  if (format == RecsFormat::kCsv) {
    AppendCsvField(user_id, out);
    out->append(",,");
    AppendCsvField(std::string("error: ").append(error), out);
    out->append(",\n");
    return;
  }
  out->append("{\"user_id\":");
  AppendJsonString(user_id, out);
  out->append(",\"items\":[],\"error\":");
  AppendJsonString(error, out);
  out->append("}\n");
}

absl::Status RecsFileWriter::AddError(std::string_view user_id,
                                      std::string_view error) {
  AppendRecsError(format_, user_id, error, &buffer_);
  ++users_;
  return buffer_.size() >= kFlushBytes ? Flush() : absl::OkStatus();
}

absl::Status RecsFileWriter::Open(const std::string& path, RecsFormat format) {
  path_ = path;
  format_ = format;
  to_stdout_ = path == "-";
  if (!to_stdout_) {
    if (absl::Status s = file_.Create(path); !s.ok()) return s;
  }
  buffer_ = std::string(RecsHeader(format));
  return absl::OkStatus();
}

absl::Status RecsFileWriter::Add(std::string_view user_id,
                                 absl::Span<const RecItem> items) {
  AppendRecs(format_, user_id, items, &buffer_);
  ++users_;
  return buffer_.size() >= kFlushBytes ? Flush() : absl::OkStatus();
}

absl::Status RecsFileWriter::Flush() {
  const int fd = to_stdout_ ? STDOUT_FILENO : file_.fd();
  absl::Status s = WriteAll(fd, buffer_.data(), buffer_.size(),
                            to_stdout_ ? "stdout" : path_);
  buffer_.clear();
  return s;
}

absl::Status RecsFileWriter::Commit() {
  if (absl::Status s = Flush(); !s.ok()) return s;
  return to_stdout_ ? absl::OkStatus() : file_.Commit();
}

}  // namespace edlae
