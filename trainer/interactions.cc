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
  // `require_utf8`: new ids must be UTF-8 (item ids travel in protobuf strings).
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

Layout MovieLensCsvLayout(absl::string_view first_line) {
  Layout layout;
  layout.delimiter.assign(1, ',');
  layout.rating_column = 2;
  // The official file starts with "userId,movieId,rating,timestamp"; a first
  // line whose rating field is not a number is taken as that header, which
  // also accepts header-less exports.
  absl::string_view fields[3];
  layout.skip_first_line =
      SplitFields(first_line, ",", 3, fields) < 3 || !IsNumber(fields[2]);
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
// Rules, in order; anything else is ambiguous and asks for --format:
//   1. File named ratings.csv, or first line starting "userId,movieId"
//      → movielens-csv.
//   2. File named *.dat or *.data (ratings.dat, u.data):
//      a. first line contains "::" → movielens-dat ("::", ratings.dat);
//      b. first line has tabs and a numeric first field → movielens-dat (tab,
//         u.data);
//      c. first line has tabs otherwise: it is a header (e.g. Last.fm
//         user_artists.dat "userID\tartistID\tweight") → TSV with header,
//         user column 0, item column 1, no rating column.
// One-line-per-user files (LightGCN train.txt, CiteULike users.dat) cannot be
// told apart reliably, so they always need an explicit format.
absl::StatusOr<Layout> DetectFormat(const std::string& path,
                                    absl::string_view first_line) {
  const absl::string_view base = BaseName(path);
  if (base == "ratings.csv" || absl::StartsWith(first_line, "userId,movieId")) {
    return MovieLensCsvLayout(first_line);
  }
  if (absl::EndsWith(base, ".dat") || absl::EndsWith(base, ".data")) {
    if (absl::StrContains(first_line, "::")) return MovieLensDatLayout("::");
    if (absl::StrContains(first_line, '\t')) {
      absl::string_view first_field;
      SplitFields(first_line, "\t", 1, &first_field);
      if (IsNumber(first_field)) return MovieLensDatLayout("\t");
      return TsvWithHeaderLayout();
    }
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

// Parses one non-blank line of a field-per-column file.
absl::Status ParseFieldsLine(const std::string& path, size_t line_number,
                             absl::string_view line, const Layout& layout,
                             const LoadOptions& options,
                             std::vector<absl::string_view>* scratch,
                             PairCollector* out) {
  const int want =
      std::max({layout.user_column, layout.item_column, layout.rating_column}) +
      1;
  if (scratch->size() < static_cast<size_t>(want)) scratch->resize(want);
  absl::string_view* f = scratch->data();
  const int got = SplitFields(line, layout.delimiter, want, f);
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
    RETURN_IF_ERROR(
        IdError(out->User(absl::StrCat(line_number - 1), &u), path, line_number));
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

absl::StatusOr<Interactions> LoadInteractions(const std::string& path,
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
  std::vector<absl::string_view> fields;  // Reused across lines.
  absl::string_view line;
  while (reader.Next(&line)) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
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
  if (x.num_interactions() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no interactions left after parsing and filtering"));
  }
  return x;
}

}  // namespace edlae
