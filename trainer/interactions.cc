// Streaming interaction-file parsers and the filtered CSR build.
#include "trainer/interactions.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "core/utf8.h"

namespace edlae {
namespace {

constexpr char kValidFormats[] =
    "auto, movielens-csv, movielens-dat, csv, tsv, lines, count-lines";

// Ids are stored as uint32_t; the largest value is kept free as a sentinel.
constexpr size_t kMaxIds = std::numeric_limits<uint32_t>::max();

// Reads a file in large chunks and hands out lines without copying them.
// Returned views stay valid until the next call to Next().
class LineReader {
 public:
  LineReader() = default;
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  ~LineReader() {
    if (fd_ >= 0) close(fd_);
  }

  absl::Status Open(const std::string& path) {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      return absl::ErrnoToStatus(err, absl::StrCat("cannot open ", path));
    }
    struct stat st;
    if (fstat(fd_, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, " is a directory, not an interaction file"));
      }
      file_size_ = static_cast<size_t>(st.st_size);
    }
    posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    // Small files get a buffer of their own size; a longer line grows it.
    capacity_ = file_size_ > 0
                    ? std::clamp<size_t>(file_size_ + 1, 1 << 16, kChunk)
                    : kChunk;
    buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
    path_ = path;
    return absl::OkStatus();
  }

  size_t file_size() const { return file_size_; }
  // 1-based number of the line last returned by Next().
  size_t line_number() const { return line_number_; }
  const absl::Status& status() const { return status_; }

  // Sets *line to the next line without its '\n'. Returns false at end of
  // file or on a read error (then status() is not OK).
  bool Next(absl::string_view* line) {
    for (;;) {
      const char* begin = buffer_.get() + begin_;
      const size_t available = end_ - begin_;
      const void* nl =
          available > 0 ? std::memchr(begin, '\n', available) : nullptr;
      if (nl != nullptr) {
        const size_t length = static_cast<const char*>(nl) - begin;
        *line = absl::string_view(begin, length);
        begin_ += length + 1;
        ++line_number_;
        return true;
      }
      if (eof_) {
        if (available == 0) return false;
        // Last line without a trailing newline.
        *line = absl::string_view(begin, available);
        begin_ = end_;
        ++line_number_;
        return true;
      }
      if (!Refill()) return false;
    }
  }

 private:
  static constexpr size_t kChunk = size_t{8} << 20;

  // Moves the partial line to the front and reads more after it.
  bool Refill() {
    const size_t pending = end_ - begin_;
    if (pending > 0 && begin_ > 0) {
      std::memmove(buffer_.get(), buffer_.get() + begin_, pending);
    }
    begin_ = 0;
    end_ = pending;
    if (end_ == capacity_) {  // One line longer than the buffer: grow.
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity_ * 2);
      std::memcpy(bigger.get(), buffer_.get(), end_);
      buffer_ = std::move(bigger);
      capacity_ *= 2;
    }
    for (;;) {
      const ssize_t n = read(fd_, buffer_.get() + end_, capacity_ - end_);
      if (n > 0) {
        end_ += static_cast<size_t>(n);
        return true;
      }
      if (n == 0) {
        eof_ = true;
        return true;
      }
      if (errno == EINTR) continue;
      const int err = errno;
      status_ = absl::ErrnoToStatus(err, absl::StrCat("cannot read ", path_));
      return false;
    }
  }

  int fd_ = -1;
  std::string path_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  size_t line_number_ = 0;
  size_t file_size_ = 0;
  absl::Status status_;
};

enum class InternResult { kOk, kTooMany, kNotUtf8 };

// Maps id strings to dense indices in order of first appearance.
class Interner {
 public:
  // `require_utf8`: new ids must be UTF-8 (item ids travel in protobuf
  // strings).
  explicit Interner(bool require_utf8) : require_utf8_(require_utf8) {}

  InternResult Intern(absl::string_view id, uint32_t* index) {
    auto it = map_.find(id);  // Heterogeneous: no allocation for known ids.
    if (it != map_.end()) {
      *index = it->second;
      return InternResult::kOk;
    }
    if (ids_.size() >= kMaxIds) return InternResult::kTooMany;
    if (require_utf8_ && !IsValidUtf8(std::string_view(id.data(), id.size()))) {
      return InternResult::kNotUtf8;
    }
    *index = static_cast<uint32_t>(ids_.size());
    map_.emplace(std::string(id), *index);
    ids_.emplace_back(id);
    return InternResult::kOk;
  }

  size_t size() const { return ids_.size(); }
  std::vector<std::string> TakeIds() { return std::move(ids_); }

 private:
  bool require_utf8_;
  absl::flat_hash_map<std::string, uint32_t> map_;
  std::vector<std::string> ids_;
};

// How a resolved format is laid out on each line.
struct Layout {
  enum class Kind { kFields, kUserLines, kCountLines };
  Kind kind = Kind::kFields;
  std::string delimiter;  // kFields: "," "\t" "::" or any single character.
  int user_column = 0;
  int item_column = 1;
  int rating_column = -1;
  bool skip_first_line = false;  // The first non-blank line is a header.
  // RFC 4180 quoting on a single-character delimiter: a field that starts
  // with '"' ends at the next lone '"', and "" inside it is one '"'.
  bool quoted = false;
};

bool IsBlank(absl::string_view line) {
  for (char c : line) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsNumber(absl::string_view s) {
  double value;
  return absl::SimpleAtod(s, &value);
}

// Parses a rating as a finite double. Plain decimals of at most 15 digits
// ("4", "3.5") take an exact fast path: the mantissa is below 2^53 and 10^k
// with k <= 15 is exact, so one IEEE division rounds correctly (Clinger).
// Everything else (exponents, long digit strings) goes to absl::SimpleAtod.
bool ParseRating(absl::string_view s, double* out) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3, 1e4,  1e5,
                                      1e6,  1e7,  1e8,  1e9, 1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15};
  size_t i = 0;
  const bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) i = 1;
  uint64_t mantissa = 0;
  int digits = 0;
  int fraction_digits = 0;
  bool dot = false;
  bool simple = true;
  for (; i < s.size() && simple; ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      mantissa = mantissa * 10 + static_cast<uint64_t>(c - '0');
      fraction_digits += dot;
      simple = ++digits <= 15;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      simple = false;
    }
  }
  if (simple && digits > 0) {
    const double value =
        static_cast<double>(mantissa) / kPow10[fraction_digits];
    *out = negative ? -value : value;
    return true;
  }
  return absl::SimpleAtod(s, out) && std::isfinite(*out);
}

// Splits `line` on `delimiter` until `want` fields are found. Returns the
// number of fields stored in `out` (fewer than `want` when the line is short;
// then it is the total number of fields on the line).
int SplitFields(absl::string_view line, absl::string_view delimiter, int want,
                absl::string_view* out) {
  int found = 0;
  size_t pos = 0;
  while (found < want) {
    size_t next;
    if (delimiter.size() == 1) {
      const void* hit =
          std::memchr(line.data() + pos, delimiter[0], line.size() - pos);
      next = hit == nullptr ? absl::string_view::npos
                            : static_cast<size_t>(
                                  static_cast<const char*>(hit) - line.data());
    } else {
      next = line.find(delimiter, pos);
    }
    if (next == absl::string_view::npos) {
      out[found++] = absl::StripAsciiWhitespace(line.substr(pos));
      break;
    }
    out[found++] = absl::StripAsciiWhitespace(line.substr(pos, next - pos));
    pos = next + delimiter.size();
  }
  return found;
}

// SplitFields for a line holding a '"', with RFC 4180 quoting: a field whose
// first non-blank character is '"' runs to the next '"' not doubled, "" in
// it stands for '"', blanks around it are dropped and the delimiter (or the
// end of the line) must follow. Quoted text is kept as it is (not stripped);
// a field with a doubled quote is unescaped into (*unescaped)[k], which must
// hold `want` strings. Unquoted fields are as in SplitFields (a '"' inside
// one is an ordinary character). Returns -1 with *error set for a quoted
// field that does not end on the line (fields never span lines) or is
// followed by other text.
int SplitQuotedFields(absl::string_view line, char delimiter, int want,
                      absl::string_view* out,
                      std::vector<std::string>* unescaped, const char** error) {
  const size_t n = line.size();
  const char* data = line.data();
  auto blank = [&](char c) {
    return c != delimiter && absl::ascii_isspace(static_cast<unsigned char>(c));
  };
  int found = 0;
  size_t pos = 0;
  while (found < want) {
    size_t i = pos;
    while (i < n && blank(data[i])) ++i;
    if (i < n && data[i] == '"') {
      size_t segment = i + 1;  // start of the text not yet copied
      size_t j = segment;
      bool escaped = false;
      std::string& buffer = (*unescaped)[found];
      for (;;) {
        const void* q = std::memchr(data + j, '"', n - j);
        if (q == nullptr) {
          *error =
              "unterminated quoted field (quoted fields cannot span lines)";
          return -1;
        }
        const size_t k = static_cast<const char*>(q) - data;
        if (k + 1 < n && data[k + 1] == '"') {  // "" → "
          if (!escaped) buffer.clear();
          escaped = true;
          buffer.append(data + segment, k + 1 - segment);
          j = segment = k + 2;
          continue;
        }
        if (escaped) {
          buffer.append(data + segment, k - segment);
          out[found++] = buffer;
        } else {
          out[found++] = line.substr(i + 1, k - i - 1);
        }
        j = k + 1;
        break;
      }
      while (j < n && blank(data[j])) ++j;
      if (j == n) return found;
      if (data[j] != delimiter) {
        *error = "unexpected text after a closing quote";
        return -1;
      }
      pos = j + 1;
      continue;
    }
    const void* hit = std::memchr(data + pos, delimiter, n - pos);
    if (hit == nullptr) {
      out[found++] = absl::StripAsciiWhitespace(line.substr(pos));
      break;
    }
    const size_t next = static_cast<const char*>(hit) - data;
    out[found++] = absl::StripAsciiWhitespace(line.substr(pos, next - pos));
    pos = next + 1;
  }
  return found;
}

// Next whitespace-separated token at or after *pos; empty at end of line.
absl::string_view NextToken(absl::string_view line, size_t* pos) {
  size_t i = *pos;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  const size_t start = i;
  while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
  *pos = i;
  return line.substr(start, i - start);
}

absl::string_view BaseName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

// Whether the base name ends in `suffix`, ignoring ASCII case.
bool HasSuffix(absl::string_view base, absl::string_view suffix) {
  return absl::EndsWithIgnoreCase(base, suffix);
}

// The first `want` fields of `line` as ParseFieldsLine would split them
// (quotes understood when layout.quoted); fewer on a short line, and none
// when the quoting is malformed. The views may point into `unescaped`.
int SplitHeaderFields(absl::string_view line, const Layout& layout, int want,
                      absl::string_view* out,
                      std::vector<std::string>* unescaped) {
  if (layout.quoted && line.find('"') != absl::string_view::npos) {
    unescaped->resize(want);
    const char* error = nullptr;
    return std::max(0, SplitQuotedFields(line, layout.delimiter[0], want, out,
                                         unescaped, &error));
  }
  return SplitFields(line, layout.delimiter, want, out);
}

// Whether `field` is a usual name for a user or item column ("userId",
// "user_id", "Item", "sid", "movieId", ...): letters and digits only,
// compared without case.
bool IsColumnName(absl::string_view field) {
  std::string key;
  for (char c : field) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      key.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    }
  }
  static constexpr absl::string_view kNames[] = {
      "user",       "userid",   "uid",      "users",   "username",  "customer",
      "customerid", "client",   "clientid", "visitor", "visitorid", "session",
      "sessionid",  "member",   "memberid", "item",    "itemid",    "iid",
      "sid",        "items",    "movie",    "movieid", "product",   "productid",
      "artist",     "artistid", "track",    "trackid", "song",      "songid",
      "book",       "bookid",   "isbn",     "asin",    "article",   "articleid",
      "video",      "videoid",  "doc",      "docid"};
  for (absl::string_view name : kNames) {
    if (key == name) return true;
  }
  return false;
}

Layout MovieLensCsvLayout(absl::string_view first_line) {
  Layout layout;
  layout.delimiter.assign(1, ',');
  layout.rating_column = 2;
  layout.quoted = true;
  // The official file starts with "userId,movieId,rating,timestamp"; a first
  // line whose rating field is not a number is taken as that header, which
  // also accepts header-less exports.
  absl::string_view fields[3];
  std::vector<std::string> unescaped;
  layout.skip_first_line =
      SplitHeaderFields(first_line, layout, 3, fields, &unescaped) < 3 ||
      !IsNumber(fields[2]);
  return layout;
}

// Any *.csv / *.tsv: user column 0, item column 1, no rating column, RFC 4180
// quoting. The first line is a header when its user or item field is a
// usual column name (IsColumnName).
Layout GenericDelimitedLayout(char delimiter, absl::string_view first_line) {
  Layout layout;
  layout.delimiter.assign(1, delimiter);
  layout.quoted = true;
  absl::string_view fields[2];
  std::vector<std::string> unescaped;
  const int got = SplitHeaderFields(first_line, layout, 2, fields, &unescaped);
  layout.skip_first_line =
      got == 2 && (IsColumnName(fields[0]) || IsColumnName(fields[1]));
  return layout;
}

// ratings.dat ("::") or u.data (tab): user, item, rating, timestamp.
Layout MovieLensDatLayout(absl::string_view delimiter) {
  Layout layout;
  layout.delimiter.assign(delimiter.data(), delimiter.size());
  layout.rating_column = 2;
  return layout;
}

Layout TsvWithHeaderLayout() {
  Layout layout;
  layout.delimiter.assign(1, '\t');
  layout.skip_first_line = true;
  return layout;
}

// kAuto: picks a layout from the file name and its first non-blank line.
// Names are compared without ASCII case. Rules, in order; anything else is
// ambiguous and asks for --format:
//   1. File named ratings.csv, or first line starting "userId,movieId"
//      → movielens-csv.
//   2. File named *.dat or *.data (ratings.dat, u.data):
//      a. first line contains "::" → movielens-dat ("::", ratings.dat);
//      b. first line has tabs and a numeric first field → movielens-dat (tab,
//         u.data);
//      c. first line has tabs otherwise: it is a header (e.g. Last.fm
//         user_artists.dat "userID\tartistID\tweight") → TSV with header,
//         user column 0, item column 1, no rating column.
//   3. File named *.csv (*.tsv) whose first line holds a comma (a tab)
//      → csv (tsv): user column 0, item column 1, no rating column, quoting;
//      the first line is a header when its user or item field is a usual
//      column name (user, userId, user_id, uid, item, itemId, sid, movieId,
//      ...; see IsColumnName).
// One-line-per-user files (LightGCN train.txt, CiteULike users.dat) cannot be
// told apart reliably, so they always need an explicit format.
absl::StatusOr<Layout> DetectFormat(const std::string& path,
                                    absl::string_view first_line) {
  const absl::string_view base = BaseName(path);
  if (absl::EqualsIgnoreCase(base, "ratings.csv") ||
      absl::StartsWith(first_line, "userId,movieId")) {
    return MovieLensCsvLayout(first_line);
  }
  if (HasSuffix(base, ".dat") || HasSuffix(base, ".data")) {
    if (absl::StrContains(first_line, "::")) return MovieLensDatLayout("::");
    if (absl::StrContains(first_line, '\t')) {
      absl::string_view first_field;
      SplitFields(first_line, "\t", 1, &first_field);
      if (IsNumber(first_field)) return MovieLensDatLayout("\t");
      return TsvWithHeaderLayout();
    }
  }
  if (HasSuffix(base, ".csv") && absl::StrContains(first_line, ',')) {
    return GenericDelimitedLayout(',', first_line);
  }
  if (HasSuffix(base, ".tsv") && absl::StrContains(first_line, '\t')) {
    return GenericDelimitedLayout('\t', first_line);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot detect the format of ", path,
                   " from its name and first line; pass --format (one of ",
                   kValidFormats, ")"));
}

absl::Status ValidateOptions(const LoadOptions& options) {
  if (options.min_rating.has_value() && std::isnan(*options.min_rating)) {
    return absl::InvalidArgumentError("min_rating is NaN");
  }
  if (options.format != InputFormat::kDelimited) return absl::OkStatus();
  if (options.delimiter == '\n' || options.delimiter == '\r' ||
      options.delimiter == '\0') {
    return absl::InvalidArgumentError("invalid delimiter for delimited input");
  }
  if (options.user_column < 0 || options.item_column < 0 ||
      options.rating_column < -1 ||
      options.user_column == options.item_column ||
      options.rating_column == options.user_column ||
      options.rating_column == options.item_column) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid columns for delimited input: user ", options.user_column,
        ", item ", options.item_column, ", rating ", options.rating_column));
  }
  return absl::OkStatus();
}

// Resolves options.format (with the file's first non-blank line, which is at
// `line_number`) to a Layout.
absl::StatusOr<Layout> ResolveLayout(const std::string& path,
                                     const LoadOptions& options,
                                     absl::string_view first_line,
                                     size_t line_number) {
  switch (options.format) {
    case InputFormat::kMovieLensCsv:
      return MovieLensCsvLayout(first_line);
    case InputFormat::kMovieLensDat:
      // The separator is fixed per file by its first line.
      if (absl::StrContains(first_line, "::")) return MovieLensDatLayout("::");
      if (absl::StrContains(first_line, '\t')) return MovieLensDatLayout("\t");
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number,
                       ": movielens-dat expects '::' or tab separated fields"));
    case InputFormat::kDelimited: {
      Layout layout;
      layout.delimiter.assign(1, options.delimiter);
      layout.user_column = options.user_column;
      layout.item_column = options.item_column;
      layout.rating_column = options.rating_column;
      layout.skip_first_line = options.has_header;
      layout.quoted = options.delimiter != '"';
      return layout;
    }
    case InputFormat::kUserLines: {
      Layout layout;
      layout.kind = Layout::Kind::kUserLines;
      return layout;
    }
    case InputFormat::kCountLines: {
      Layout layout;
      layout.kind = Layout::Kind::kCountLines;
      return layout;
    }
    case InputFormat::kAuto:
      return DetectFormat(path, first_line);
  }
  return absl::InvalidArgumentError("unknown input format");
}

// Collects (user, item) pairs in file order, interning ids on the way.
class PairCollector {
 public:
  explicit PairCollector(size_t expected_pairs) {
    users_.reserve(expected_pairs);
    items_.reserve(expected_pairs);
  }

  // Returns the user's index, reusing the previous line's when the id repeats
  // (files are usually grouped by user, which saves most hash lookups).
  InternResult User(absl::string_view id, uint32_t* index) {
    if (have_last_user_ && absl::string_view(last_user_) == id) {
      *index = last_user_index_;
      return InternResult::kOk;
    }
    const InternResult r = users_interner_.Intern(id, index);
    if (r != InternResult::kOk) return r;
    last_user_.assign(id.data(), id.size());
    last_user_index_ = *index;
    have_last_user_ = true;
    return InternResult::kOk;
  }

  InternResult Item(absl::string_view id, uint32_t* index) {
    return items_interner_.Intern(id, index);
  }

  void Add(uint32_t user, uint32_t item) {
    users_.push_back(user);
    items_.push_back(item);
  }

  Interner& user_ids() { return users_interner_; }
  Interner& item_ids() { return items_interner_; }
  std::vector<uint32_t>& pair_users() { return users_; }
  std::vector<uint32_t>& pair_items() { return items_; }

 private:
  Interner users_interner_{/*require_utf8=*/false};
  Interner items_interner_{/*require_utf8=*/true};
  std::vector<uint32_t> users_;
  std::vector<uint32_t> items_;
  std::string last_user_;
  uint32_t last_user_index_ = 0;
  bool have_last_user_ = false;
};

absl::Status LineError(const std::string& path, size_t line_number,
                       absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ":", line_number, ": ", message));
}

// The error for a failed Intern, or OK.
absl::Status IdError(InternResult result, const std::string& path,
                     size_t line_number) {
  switch (result) {
    case InternResult::kOk:
      return absl::OkStatus();
    case InternResult::kTooMany:
      return absl::ResourceExhaustedError(absl::StrCat(
          path, ":", line_number, ": more than ", kMaxIds, " distinct ids"));
    case InternResult::kNotUtf8:
      return LineError(path, line_number, "item id is not valid UTF-8");
  }
  return absl::InternalError("unreachable");
}

// Per-line buffers reused across lines.
struct FieldScratch {
  std::vector<absl::string_view> fields;
  std::vector<std::string> unescaped;  // quoted fields holding ""
};

// Parses one non-blank line of a field-per-column file.
absl::Status ParseFieldsLine(const std::string& path, size_t line_number,
                             absl::string_view line, const Layout& layout,
                             const LoadOptions& options, FieldScratch* scratch,
                             PairCollector* out) {
  const int want =
      std::max({layout.user_column, layout.item_column, layout.rating_column}) +
      1;
  if (scratch->fields.size() < static_cast<size_t>(want)) {
    scratch->fields.resize(want);
    scratch->unescaped.resize(want);
  }
  absl::string_view* f = scratch->fields.data();
  // Quotes are parsed only on lines that hold one (one memchr), so plain
  // files keep the fast split.
  int got;
  if (layout.quoted && std::memchr(line.data(), '"', line.size()) != nullptr) {
    const char* error = nullptr;
    got = SplitQuotedFields(line, layout.delimiter[0], want, f,
                            &scratch->unescaped, &error);
    if (got < 0) return LineError(path, line_number, error);
  } else {
    got = SplitFields(line, layout.delimiter, want, f);
  }
  if (got < want) {
    return LineError(
        path, line_number,
        absl::StrCat("expected at least ", want, " fields, got ", got));
  }
  const absl::string_view user = f[layout.user_column];
  const absl::string_view item = f[layout.item_column];
  if (user.empty()) return LineError(path, line_number, "empty user id");
  if (item.empty()) return LineError(path, line_number, "empty item id");
  if (layout.rating_column >= 0) {
    const absl::string_view text = f[layout.rating_column];
    double rating;
    if (!ParseRating(text, &rating)) {
      return LineError(path, line_number,
                       absl::StrCat("invalid rating '", text, "'"));
    }
    if (options.min_rating.has_value() && !(rating > *options.min_rating)) {
      return absl::OkStatus();
    }
  }
  uint32_t u, i;
  RETURN_IF_ERROR(IdError(out->User(user, &u), path, line_number));
  RETURN_IF_ERROR(IdError(out->Item(item, &i), path, line_number));
  out->Add(u, i);
  return absl::OkStatus();
}

// Parses "user item item ..." or "count item item ..." (user = line - 1).
absl::Status ParseUserLine(const std::string& path, size_t line_number,
                           absl::string_view line, const Layout& layout,
                           PairCollector* out) {
  size_t pos = 0;
  const absl::string_view head = NextToken(line, &pos);
  uint32_t u;
  if (layout.kind == Layout::Kind::kCountLines) {
    uint64_t count;
    if (!absl::SimpleAtoi(head, &count)) {
      return LineError(path, line_number,
                       absl::StrCat("invalid item count '", head, "'"));
    }
    const size_t first_item = out->pair_items().size();
    RETURN_IF_ERROR(IdError(out->User(absl::StrCat(line_number - 1), &u), path,
                            line_number));
    for (absl::string_view item = NextToken(line, &pos); !item.empty();
         item = NextToken(line, &pos)) {
      uint32_t i;
      RETURN_IF_ERROR(IdError(out->Item(item, &i), path, line_number));
      out->Add(u, i);
    }
    const size_t found = out->pair_items().size() - first_item;
    if (found != count) {
      return LineError(
          path, line_number,
          absl::StrCat("count says ", count, " items, found ", found));
    }
    return absl::OkStatus();
  }
  // A user with no items is allowed; it is dropped with the empty rows.
  RETURN_IF_ERROR(IdError(out->User(head, &u), path, line_number));
  for (absl::string_view item = NextToken(line, &pos); !item.empty();
       item = NextToken(line, &pos)) {
    uint32_t i;
    RETURN_IF_ERROR(IdError(out->Item(item, &i), path, line_number));
    out->Add(u, i);
  }
  return absl::OkStatus();
}

// Groups pairs by user (counting sort), sorts each row and drops duplicates.
void BuildCsr(size_t num_users, std::vector<uint32_t>* pair_users,
              std::vector<uint32_t>* pair_items, std::vector<uint64_t>* offsets,
              std::vector<uint32_t>* indices) {
  offsets->assign(num_users + 1, 0);
  for (uint32_t u : *pair_users) ++(*offsets)[u + 1];
  for (size_t u = 0; u < num_users; ++u) (*offsets)[u + 1] += (*offsets)[u];
  // Files grouped by user (the common case) are already in row order: user
  // indices follow first appearance, so they never decrease.
  if (std::is_sorted(pair_users->begin(), pair_users->end())) {
    *indices = std::move(*pair_items);
  } else {
    indices->resize(pair_items->size());
    std::vector<uint64_t> cursor(offsets->begin(), offsets->end() - 1);
    const size_t n = pair_users->size();
    for (size_t k = 0; k < n; ++k) {
      (*indices)[cursor[(*pair_users)[k]]++] = (*pair_items)[k];
    }
  }
  std::vector<uint32_t>().swap(*pair_users);
  std::vector<uint32_t>().swap(*pair_items);

  uint64_t write = 0;
  uint64_t row_begin = 0;
  for (size_t u = 0; u < num_users; ++u) {
    const uint64_t row_end = (*offsets)[u + 1];
    auto first = indices->begin() + row_begin;
    auto last = indices->begin() + row_end;
    if (!std::is_sorted(first, last)) std::sort(first, last);
    last = std::unique(first, last);
    const uint64_t size = last - first;
    if (write != row_begin) std::copy(first, last, indices->begin() + write);
    (*offsets)[u] = write;
    write += size;
    row_begin = row_end;
  }
  (*offsets)[num_users] = write;
  indices->resize(write);
}

// Applies min_item_count then min_user_count (one pass each), then drops
// users and items left without interactions and reindexes both compactly.
// Indices were assigned in order of first appearance, so keeping survivors in
// index order keeps that order, and rows stay sorted under the remap.
void FilterAndCompact(const LoadOptions& options, Interactions* x) {
  const size_t num_users = x->user_ids.size();
  const size_t num_items = x->item_ids.size();
  std::vector<uint64_t>& offsets = x->row_offsets;
  std::vector<uint32_t>& indices = x->item_indices;

  std::vector<uint64_t> item_count(num_items, 0);
  for (uint32_t i : indices) ++item_count[i];
  std::vector<char> item_ok(num_items);
  for (size_t i = 0; i < num_items; ++i) {
    item_ok[i] = item_count[i] > 0 && item_count[i] >= options.min_item_count;
  }

  // Keep each surviving user's surviving items; count items in kept rows.
  const size_t min_user = std::max<size_t>(options.min_user_count, 1);
  std::fill(item_count.begin(), item_count.end(), 0);
  std::vector<char> user_ok(num_users, 0);
  uint64_t write = 0;
  uint64_t row_begin = 0;
  for (size_t u = 0; u < num_users; ++u) {
    const uint64_t row_end = offsets[u + 1];
    uint64_t kept = 0;
    for (uint64_t k = row_begin; k < row_end; ++k) kept += item_ok[indices[k]];
    offsets[u] = write;
    if (kept >= min_user) {
      user_ok[u] = 1;
      for (uint64_t k = row_begin; k < row_end; ++k) {
        const uint32_t i = indices[k];
        if (item_ok[i]) {
          indices[write++] = i;
          ++item_count[i];
        }
      }
    }
    row_begin = row_end;
  }
  offsets[num_users] = write;
  indices.resize(write);

  std::vector<uint32_t> item_remap(num_items, 0);
  size_t new_items = 0;
  for (size_t i = 0; i < num_items; ++i) {
    if (item_count[i] == 0) continue;
    item_remap[i] = static_cast<uint32_t>(new_items);
    if (new_items != i) x->item_ids[new_items] = std::move(x->item_ids[i]);
    ++new_items;
  }
  x->item_ids.resize(new_items);
  if (new_items != num_items) {
    for (uint32_t& i : indices) i = item_remap[i];
  }

  size_t new_users = 0;
  for (size_t u = 0; u < num_users; ++u) {
    if (!user_ok[u]) continue;
    if (new_users != u) {
      x->user_ids[new_users] = std::move(x->user_ids[u]);
      offsets[new_users] = offsets[u];
    }
    ++new_users;
  }
  offsets[new_users] = write;
  x->user_ids.resize(new_users);
  offsets.resize(new_users + 1);
}

}  // namespace

absl::StatusOr<InputFormat> ParseInputFormat(const std::string& name,
                                             char* delimiter) {
  if (name == "auto") return InputFormat::kAuto;
  if (name == "movielens-csv") return InputFormat::kMovieLensCsv;
  if (name == "movielens-dat") return InputFormat::kMovieLensDat;
  if (name == "lines") return InputFormat::kUserLines;
  if (name == "count-lines") return InputFormat::kCountLines;
  if (name == "csv" || name == "tsv") {
    if (delimiter != nullptr) *delimiter = name == "csv" ? ',' : '\t';
    return InputFormat::kDelimited;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown input format '", name, "'; valid formats: ", kValidFormats));
}

namespace {

// LoadInteractions without the final "no interactions left" check.
absl::StatusOr<Interactions> LoadFile(const std::string& path,
                                      const LoadOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  LineReader reader;
  if (absl::Status s = reader.Open(path); !s.ok()) return s;

  // Reserving only reserves address space, so a generous guess is cheap:
  // about 16 bytes per row for field files, 4 per item for user lines.
  const bool one_line_per_user = options.format == InputFormat::kUserLines ||
                                 options.format == InputFormat::kCountLines;
  const size_t guess = reader.file_size() / (one_line_per_user ? 4 : 16) + 16;
  PairCollector pairs(std::min<size_t>(guess, size_t{1} << 26));

  Layout layout;
  bool have_layout = false;
  FieldScratch fields;  // Reused across lines.
  absl::string_view line;
  while (reader.Next(&line)) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // A UTF-8 byte order mark (spreadsheet exports) is not part of the data.
    if (reader.line_number() == 1 && absl::StartsWith(line, "\xEF\xBB\xBF")) {
      line.remove_prefix(3);
    }
    if (IsBlank(line)) continue;
    const size_t line_number = reader.line_number();
    if (!have_layout) {
      absl::StatusOr<Layout> resolved =
          ResolveLayout(path, options, line, line_number);
      if (!resolved.ok()) return resolved.status();
      layout = *std::move(resolved);
      have_layout = true;
      if (layout.skip_first_line) continue;
    }
    absl::Status s =
        layout.kind == Layout::Kind::kFields
            ? ParseFieldsLine(path, line_number, line, layout, options, &fields,
                              &pairs)
            : ParseUserLine(path, line_number, line, layout, &pairs);
    if (!s.ok()) return s;
  }
  if (!reader.status().ok()) return reader.status();

  Interactions x;
  BuildCsr(pairs.user_ids().size(), &pairs.pair_users(), &pairs.pair_items(),
           &x.row_offsets, &x.item_indices);
  x.user_ids = pairs.user_ids().TakeIds();
  x.item_ids = pairs.item_ids().TakeIds();
  FilterAndCompact(options, &x);
  return x;
}

absl::Status NothingLeft(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": no interactions left after parsing and filtering"));
}

}  // namespace

absl::StatusOr<Interactions> LoadInteractions(const std::string& path,
                                              const LoadOptions& options) {
  absl::StatusOr<Interactions> x = LoadFile(path, options);
  if (x.ok() && x->num_interactions() == 0) return NothingLeft(path);
  return x;
}

absl::StatusOr<std::vector<std::string>> SplitInputList(
    const std::string& input) {
  if (input.empty()) return absl::InvalidArgumentError("--input is empty");
  struct stat st;
  if (input.find(',') == std::string::npos || ::stat(input.c_str(), &st) == 0) {
    return std::vector<std::string>{input};
  }
  std::vector<std::string> paths = absl::StrSplit(input, ',');
  for (const std::string& p : paths) {
    if (p.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--input '", input, "' has an empty file name in its list"));
    }
  }
  return paths;
}

absl::StatusOr<Interactions> LoadInteractionFiles(
    const std::vector<std::string>& paths, const LoadOptions& options,
    std::vector<InputFileSummary>* summaries) {
  if (paths.empty()) return absl::InvalidArgumentError("no input file");
  if (paths.size() == 1) {
    absl::StatusOr<Interactions> x = LoadInteractions(paths[0], options);
    if (x.ok() && summaries != nullptr) {
      summaries->push_back(
          {paths[0], x->num_users(), x->num_items(), x->num_interactions()});
    }
    return x;
  }
  // Each file with the rating filter only; the count filters see the union.
  LoadOptions per_file = options;
  per_file.min_item_count = 0;
  per_file.min_user_count = 0;
  std::vector<Interactions> parts;
  parts.reserve(paths.size());
  for (const std::string& path : paths) {
    absl::StatusOr<Interactions> x = LoadFile(path, per_file);
    if (!x.ok()) return x.status();
    if (summaries != nullptr) {
      summaries->push_back(
          {path, x->num_users(), x->num_items(), x->num_interactions()});
    }
    parts.push_back(*std::move(x));
  }
  Interactions merged = MergeInteractions(parts);
  parts.clear();
  FilterAndCompact(options, &merged);
  if (merged.num_interactions() == 0) {
    return NothingLeft(absl::StrJoin(paths, ","));
  }
  return merged;
}

absl::StatusOr<Interactions> LoadInteractionList(const std::string& input,
                                                 const LoadOptions& options) {
  absl::StatusOr<std::vector<std::string>> paths = SplitInputList(input);
  if (!paths.ok()) return paths.status();
  return LoadInteractionFiles(*paths, options);
}

Interactions MergeInteractions(const std::vector<Interactions>& parts) {
  absl::flat_hash_map<std::string, uint32_t> user_index, item_index;
  Interactions out;
  std::vector<std::vector<uint32_t>> rows;
  for (const Interactions& x : parts) {
    std::vector<uint32_t> item_map(x.num_items());
    for (size_t i = 0; i < x.num_items(); ++i) {
      auto [it, added] =
          item_index.try_emplace(x.item_ids[i], out.item_ids.size());
      if (added) out.item_ids.push_back(x.item_ids[i]);
      item_map[i] = it->second;
    }
    for (size_t u = 0; u < x.num_users(); ++u) {
      auto [it, added] =
          user_index.try_emplace(x.user_ids[u], out.user_ids.size());
      if (added) {
        out.user_ids.push_back(x.user_ids[u]);
        rows.emplace_back();
      }
      std::vector<uint32_t>& row = rows[it->second];
      for (uint64_t p = x.row_offsets[u]; p < x.row_offsets[u + 1]; ++p) {
        row.push_back(item_map[x.item_indices[p]]);
      }
    }
  }
  out.row_offsets.assign(1, 0);
  for (std::vector<uint32_t>& row : rows) {
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    out.item_indices.insert(out.item_indices.end(), row.begin(), row.end());
    out.row_offsets.push_back(out.item_indices.size());
  }
  return out;
}

}  // namespace edlae
