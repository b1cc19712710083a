// Strong-generalization split of Liang et al. 2018 (held-out users, 80/20 fold-in/targets) and its standard files.
#ifndef EDLAE_EVALUATION_SPLIT_H_
#define EDLAE_EVALUATION_SPLIT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/interactions.h"

namespace edlae {

// Portable deterministic random numbers for the split: the same seed gives the
// same numbers on every platform and standard library (std::shuffle and the
// std distributions are not specified bit for bit, so they are not used).
// State advances by SplitMix64 (Steele, Lea & Flood 2014); Uniform(bound) is
// Lemire's multiply-shift with rejection (unbiased). Not thread-safe.
class SplitRng {
 public:
  explicit SplitRng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform integer in [0, bound). REQUIRES: bound >= 1.
  uint64_t Uniform(uint64_t bound);

 private:
  uint64_t state_;
};

struct SplitOptions {
  // Users in each of the validation and test sets.
  size_t heldout_users = 0;
  uint64_t seed = 98765;
  // Users with fewer distinct items (after the rating filter) are dropped
  // before anything else (Liang et al.: 5).
  size_t min_user_items = 5;
};

// One row of a split file: remapped user and item numbers.
struct UidSid {
  uint32_t uid;
  uint32_t sid;
};

struct StrongSplit {
  // unique_sid.txt: external item id of sid k, for k = 0 .. num_sids-1.
  std::vector<std::string> unique_sid;
  // External user id of uid k (not part of the standard files).
  std::vector<std::string> user_ids;
  // The five standard files, rows grouped by uid ascending, sid ascending
  // within a user.
  std::vector<UidSid> train, validation_tr, validation_te, test_tr, test_te;
  size_t num_train_users = 0;
  // Held-out users left with at least one item after the restriction to
  // training items (users left with none appear in no file).
  size_t num_validation_users = 0;
  size_t num_test_users = 0;
  // Held-out interactions dropped because their item never occurs in training.
  size_t dropped_heldout_interactions = 0;
};

// Makes the split from binary interactions `x` (already filtered by rating).
// The exact procedure, deterministic for a seed:
//  1. Drop users with fewer than min_user_items items. The remaining users keep
//     their order in `x` (order of first appearance in the input).
//  2. Permute them by Fisher–Yates with SplitRng(seed): for i = m-1 down to 1,
//     swap position i with position Uniform(i + 1). uid = position after the
//     shuffle. The first m − 2N uids are training users, the next N validation
//     users, the last N test users (N = heldout_users), as in the notebook.
//  3. sid numbers the items training users touched, in the order of `x`'s item
//     indices (first appearance in the input); unique_sid lists their ids.
//  4. Held-out users keep only items with a sid. For each of the validation and
//     test sets, a fresh SplitRng(seed ^ 0x9E3779B97F4A7C15 · part) (part 1 =
//     validation, 2 = test) visits its users in uid order: a user with n ≥ 5
//     items (in sid order) gets t = ⌊n / 5⌋ targets by a partial Fisher–Yates
//     (for j = 0 .. t−1, swap position j with j + Uniform(n − j); the first t
//     are the targets, i.e. `_te`); the rest are the fold-in (`_tr`). Users
//     with 1 ≤ n < 5 are fold-in only; users with n = 0 are dropped.
// Errors: InvalidArgument when heldout_users is 0 or fewer than one training
// user would remain.
absl::StatusOr<StrongSplit> MakeStrongSplit(const Interactions& x,
                                            const SplitOptions& options);

// The six standard files of a split, in the order WriteStrongSplit writes
// them: train.csv, validation_tr.csv, validation_te.csv, test_tr.csv,
// test_te.csv, unique_sid.txt.
extern const char* const kSplitFileNames[6];

struct SplitWriteOptions {
  // Replace a split already in the folder. When false, a folder holding any
  // of the standard files is refused (AlreadyExists) and nothing is written.
  bool overwrite = false;
};

// Preflight for split's --out, to run before loading any data: `dir` can be
// created or written (CheckWritableOutputDir); none of the standard files in
// it is one of `inputs` (InvalidArgument, even with `overwrite`: re-splitting
// DIR/train.csv into DIR would destroy the input); and, unless `overwrite`,
// it holds none of the standard files (AlreadyExists "--out 'DIR' already
// holds a split (train.csv, …); pass --overwrite to replace it").
absl::Status CheckSplitOutputDir(const std::string& dir, bool overwrite,
                                 const std::vector<std::string>& inputs = {});

// Writes train.csv, validation_tr.csv, validation_te.csv, test_tr.csv,
// test_te.csv (header "uid,sid", one "uid,sid" row per interaction) and
// unique_sid.txt (one external item id per line, sid order) into `dir`,
// creating it if needed. Each file is written atomically (temporary file,
// fsync, rename, fsync of the directory): a reader never sees a partial file,
// and on error the previous contents stay. Item ids containing a line break
// are rejected (InvalidArgument): unique_sid.txt could not be read back.
// A folder that already holds a split is refused as CheckSplitOutputDir says
// unless options.overwrite.
absl::Status WriteStrongSplit(const StrongSplit& split, const std::string& dir,
                              const SplitWriteOptions& options = {});

// MergeInteractions (the union of several inputs) is in trainer/interactions.h.

// One of the split's .csv files read back: X with user ids = uid strings and
// item ids = sid strings, exactly as in the file (so splits made by other
// tools, with any ids, are read as they are). The first line is the header.
// Errors as LoadInteractions.
absl::StatusOr<Interactions> ReadSplitFile(const std::string& path);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_SPLIT_H_
