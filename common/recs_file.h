// Batch recommendation files: CSV "user_id,rank,item_id,score" rows or JSONL
// objects, one user at a time, written atomically.
#ifndef EDLAE_COMMON_RECS_FILE_H_
#define EDLAE_COMMON_RECS_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/file_io.h"

namespace edlae {

enum class RecsFormat {
  // A header line "user_id,rank,item_id,score", then one row per returned
  // item, rank 1 first; ids quoted as RFC 4180 when they hold a comma, a
  // quote or a line break. A user with no item has no row.
  kCsv,
  // One object per user and line:
  //   {"user_id":"…","items":[{"item_id":"…","score":…},…]}
  // best first; a user with no item has "items":[].
  kJsonl,
};

// "csv" or "jsonl"; "auto" chooses by `path`'s extension: .csv → csv,
// .jsonl/.json/.ndjson → jsonl. InvalidArgument otherwise (naming the
// extension and the choices). `path` "-" (stdout) with "auto" is jsonl.
absl::StatusOr<RecsFormat> ResolveRecsFormat(std::string_view name,
                                             std::string_view path);

// One recommended item; the id is borrowed.
struct RecItem {
  std::string_view item_id;
  float score = 0;
};

// A score as written: the shortest decimal that reads back as the same float
// ("0.25", "1.5e-07"); JSON has no NaN or infinity, so those are written as
// null in JSONL (the CSV has "nan", "inf", "-inf").
std::string FormatRecScore(float score, RecsFormat format);

// Appends user `user_id`'s rows (CSV) or line (JSONL) to `out`.
void AppendRecs(RecsFormat format, std::string_view user_id,
                absl::Span<const RecItem> items, std::string* out);

// Appends a user whose recommendations could not be had (`error`, e.g. a
// gRPC status "UNAVAILABLE: connection refused"): JSONL
// {"user_id":"…","items":[],"error":"…"}; CSV one row "user_id,,error: …,"
// (empty rank and score, the error in the item_id column).
void AppendRecsError(RecsFormat format, std::string_view user_id,
                     std::string_view error, std::string* out);

// The header of a file: "user_id,rank,item_id,score\n" for CSV, "" for JSONL.
std::string_view RecsHeader(RecsFormat format);

// Writes a recommendations file user by user: to a temporary file beside
// `path` renamed over it by Commit() (AtomicFile: an error, a crash or a
// writer destroyed before Commit leaves any earlier file at `path` as it
// was), or to stdout when `path` is "-". Output is buffered and written in
// large pieces. Not thread-safe.
class RecsFileWriter {
 public:
  // Errors: those of AtomicFile::Create (naming `path`).
  absl::Status Open(const std::string& path, RecsFormat format);
  // REQUIRES: Open() succeeded. Errors: a failed write (naming the path).
  absl::Status Add(std::string_view user_id, absl::Span<const RecItem> items);
  // A failed user (AppendRecsError). Errors as Add.
  absl::Status AddError(std::string_view user_id, std::string_view error);
  // Flushes and renames the file into place (stdout: flushes).
  absl::Status Commit();

  size_t users() const { return users_; }

 private:
  absl::Status Flush();

  AtomicFile file_;
  std::string path_;
  bool to_stdout_ = false;
  RecsFormat format_ = RecsFormat::kCsv;
  std::string buffer_;
  size_t users_ = 0;
};

}  // namespace edlae

#endif  // EDLAE_COMMON_RECS_FILE_H_
