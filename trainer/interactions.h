// Loading user–item interaction files (MovieLens, generic CSV/TSV, per-user
// lines) into a binary sparse matrix.
#ifndef EDLAE_TRAINER_INTERACTIONS_H_
#define EDLAE_TRAINER_INTERACTIONS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace edlae {

// Binary user × item matrix X in CSR form. Row u lists the distinct items user
// u interacted with, sorted ascending. Ids are the strings found in the file.
struct Interactions {
  std::vector<std::string> user_ids;  // num_users
  std::vector<std::string> item_ids;  // num_items
  std::vector<uint64_t>
      row_offsets;  // num_users + 1; row u = [offsets[u], offsets[u+1])
  std::vector<uint32_t> item_indices;  // num_interactions

  size_t num_users() const { return user_ids.size(); }
  size_t num_items() const { return item_ids.size(); }
  size_t num_interactions() const { return item_indices.size(); }
};

enum class InputFormat {
  kAuto,          // from the file name and first line (rules in interactions.cc
                  // DetectFormat: ratings.csv, *.dat/*.data, *.csv, *.tsv)
  kMovieLensCsv,  // ratings.csv: header "userId,movieId,rating,timestamp"
  kMovieLensDat,  // ratings.dat ("::") or u.data (tab): user, item, rating,
                  // timestamp
  kDelimited,     // generic CSV/TSV with column selection (LoadOptions)
  kUserLines,     // "user item item ..." one user per line (LightGCN style)
  kCountLines,    // "count item item ..." one user per line, user id = line
                  // number (CiteULike)
};

// Parses "auto", "movielens-csv", "movielens-dat", "csv", "tsv", "lines",
// "count-lines". For "csv"/"tsv" also sets the delimiter in `delimiter`.
absl::StatusOr<InputFormat> ParseInputFormat(const std::string& name,
                                             char* delimiter);

struct LoadOptions {
  InputFormat format = InputFormat::kAuto;
  // kDelimited: field separator, zero-based columns, and whether line 1 is a
  // header.
  char delimiter = ',';
  int user_column = 0;
  int item_column = 1;
  int rating_column = -1;  // -1: no rating column (every row is an interaction)
  bool has_header = false;
  // Keep only rows with rating > min_rating (Liang et al. 2018 keep > 3.5).
  // Ignored when the format has no rating.
  std::optional<double> min_rating;
  // After the rating filter: drop items with fewer than min_item_count distinct
  // users, then users with fewer than min_user_count distinct items (one pass
  // each, in that order, as the published preprocessing does).
  size_t min_item_count = 0;
  size_t min_user_count = 0;
};

// Reads `path` into X. Duplicate (user, item) rows collapse into one
// interaction. A UTF-8 byte order mark at the start is skipped. CSV/TSV
// (movielens-csv, csv, tsv and auto-detected *.csv/*.tsv) follow RFC 4180
// quoting within a line: `u1,"a,b"` is item `a,b`, and "" inside quotes is
// one quote; a quoted field must end on its line and be followed by the
// delimiter (else InvalidArgument file:line). "::" files and user lines
// take quotes literally. Malformed lines → InvalidArgument naming file and line
// number; unreadable file → NotFound/PermissionDenied; no interaction left
// after filtering → InvalidArgument. Thread-compatible.
absl::StatusOr<Interactions> LoadInteractions(const std::string& path,
                                              const LoadOptions& options);

// The files of an --input value: a comma-separated list ("a.csv,b.csv"),
// or the value itself when it names an existing file or holds no comma (so a
// file name with a comma still works). InvalidArgument for "" or an empty
// name in the list ("a.csv,,b.csv").
absl::StatusOr<std::vector<std::string>> SplitInputList(
    const std::string& input);

// What one input file contributed (before the count filters of a list).
struct InputFileSummary {
  std::string path;
  size_t users = 0;
  size_t items = 0;
  size_t interactions = 0;
};

// Reads several interaction files as one: each with `options`' format and
// rating filter (the format is resolved per file, so lists may mix formats),
// united by MergeInteractions, then min_item_count / min_user_count applied
// to the union and empty users and items dropped. One file: exactly
// LoadInteractions. Errors as LoadInteractions for the first file that
// fails; InvalidArgument when `paths` is empty or nothing is left (naming
// the list). `summaries`, when given, gets one entry per file, in order.
absl::StatusOr<Interactions> LoadInteractionFiles(
    const std::vector<std::string>& paths, const LoadOptions& options,
    std::vector<InputFileSummary>* summaries = nullptr);

// LoadInteractionFiles(SplitInputList(input), options): what every command
// that reads --input calls.
absl::StatusOr<Interactions> LoadInteractionList(const std::string& input,
                                                 const LoadOptions& options);

// The union of several inputs' interactions (e.g. the train/valid/test files
// of an interaction-level split, re-split by users): users and items are
// matched by id string and numbered in order of first appearance across the
// inputs in the order given; each row is the union of that user's rows,
// sorted, without duplicates.
Interactions MergeInteractions(const std::vector<Interactions>& parts);

}  // namespace edlae

#endif  // EDLAE_TRAINER_INTERACTIONS_H_
