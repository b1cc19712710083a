// Strong-generalization split: portable RNG, user permutation, 80/20 held-out split, atomic standard files.
#include "evaluation/split.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/file_io.h"
#include "core/status_macros.h"

namespace edlae {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

std::string PairsCsv(const std::vector<UidSid>& rows) {
  std::string out = "uid,sid\n";
  out.reserve(rows.size() * 12 + 8);
  for (const UidSid& r : rows) absl::StrAppend(&out, r.uid, ",", r.sid, "\n");
  return out;
}

// Splits one held-out set's rows (users in uid order, each with its sids in
// ascending order) into fold-in and targets. Returns the users kept.
size_t SplitHeldOut(const std::vector<std::vector<uint32_t>>& items_by_user,
                    uint32_t first_uid, uint64_t seed, std::vector<UidSid>* tr,
                    std::vector<UidSid>* te) {
  SplitRng rng(seed);
  size_t kept = 0;
  std::vector<uint32_t> items;
  std::vector<char> is_target;
  for (size_t k = 0; k < items_by_user.size(); ++k) {
    const uint32_t uid = first_uid + static_cast<uint32_t>(k);
    items = items_by_user[k];
    const size_t n = items.size();
    if (n == 0) continue;
    ++kept;
    if (n < 5) {
      for (uint32_t sid : items) tr->push_back({uid, sid});
      continue;
    }
    const size_t t = n / 5;  // ⌊0.2 n⌋ exactly
    for (size_t j = 0; j < t; ++j) {
      std::swap(items[j], items[j + rng.Uniform(n - j)]);
    }
    std::sort(items.begin(), items.begin() + t);
    std::sort(items.begin() + t, items.end());
    // Rows are written in sid order within each file.
    for (size_t j = t; j < n; ++j) tr->push_back({uid, items[j]});
    for (size_t j = 0; j < t; ++j) te->push_back({uid, items[j]});
  }
  return kept;
}

}  // namespace

uint64_t SplitRng::Next() {
  uint64_t z = (state_ += kGolden);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t SplitRng::Uniform(uint64_t bound) {
  // Lemire 2019, "Fast random integer generation in an interval".
  unsigned __int128 m = static_cast<unsigned __int128>(Next()) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(Next()) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

absl::StatusOr<StrongSplit> MakeStrongSplit(const Interactions& x,
                                            const SplitOptions& options) {
  const size_t heldout = options.heldout_users;
  if (heldout == 0) {
    return absl::InvalidArgumentError(
        "the number of held-out users must be >= 1");
  }
  // 1. Users with enough items, in input order.
  std::vector<uint32_t> users;
  for (size_t u = 0; u < x.num_users(); ++u) {
    if (x.row_offsets[u + 1] - x.row_offsets[u] >= options.min_user_items) {
      users.push_back(static_cast<uint32_t>(u));
    }
  }
  if (users.size() <= 2 * heldout) {
    return absl::InvalidArgumentError(absl::StrCat(
        users.size(), " users have at least ", options.min_user_items,
        " items; holding out 2 × ", heldout, " leaves no training user"));
  }
  // 2. Fisher–Yates permutation; uid = position.
  SplitRng rng(options.seed);
  for (size_t i = users.size() - 1; i > 0; --i) {
    std::swap(users[i], users[rng.Uniform(i + 1)]);
  }
  const size_t num_train = users.size() - 2 * heldout;

  StrongSplit split;
  split.num_train_users = num_train;
  split.user_ids.reserve(users.size());
  for (uint32_t u : users) split.user_ids.push_back(x.user_ids[u]);

  // 3. sid: training items in item-index order.
  constexpr uint32_t kNoSid = UINT32_MAX;
  std::vector<uint32_t> sid_of(x.num_items(), kNoSid);
  for (size_t k = 0; k < num_train; ++k) {
    const uint32_t u = users[k];
    for (uint64_t p = x.row_offsets[u]; p < x.row_offsets[u + 1]; ++p) {
      sid_of[x.item_indices[p]] = 0;
    }
  }
  uint32_t next_sid = 0;
  for (size_t i = 0; i < x.num_items(); ++i) {
    if (sid_of[i] == kNoSid) continue;
    sid_of[i] = next_sid++;
    split.unique_sid.push_back(x.item_ids[i]);
  }

  // Row u as sids, ascending (item indices ascending map to sids ascending),
  // skipping items without a sid.
  auto sids_of_user = [&](uint32_t u, size_t* dropped) {
    std::vector<uint32_t> out;
    for (uint64_t p = x.row_offsets[u]; p < x.row_offsets[u + 1]; ++p) {
      const uint32_t sid = sid_of[x.item_indices[p]];
      if (sid == kNoSid) {
        ++*dropped;
      } else {
        out.push_back(sid);
      }
    }
    return out;
  };
  size_t unused = 0;
  for (size_t k = 0; k < num_train; ++k) {
    for (uint32_t sid : sids_of_user(users[k], &unused)) {
      split.train.push_back({static_cast<uint32_t>(k), sid});
    }
  }

  // 4. Held-out sets.
  for (int part = 1; part <= 2; ++part) {
    const size_t first = num_train + (part - 1) * heldout;
    std::vector<std::vector<uint32_t>> rows(heldout);
    for (size_t k = 0; k < heldout; ++k) {
      rows[k] =
          sids_of_user(users[first + k], &split.dropped_heldout_interactions);
    }
    const uint64_t seed =
        options.seed ^ (kGolden * static_cast<uint64_t>(part));
    if (part == 1) {
      split.num_validation_users =
          SplitHeldOut(rows, static_cast<uint32_t>(first), seed,
                       &split.validation_tr, &split.validation_te);
    } else {
      split.num_test_users = SplitHeldOut(rows, static_cast<uint32_t>(first),
                                          seed, &split.test_tr, &split.test_te);
    }
  }
  return split;
}

const char* const kSplitFileNames[6] = {
    "train.csv",   "validation_tr.csv", "validation_te.csv",
    "test_tr.csv", "test_te.csv",       "unique_sid.txt"};

absl::Status CheckSplitOutputDir(const std::string& dir, bool overwrite,
                                 const std::vector<std::string>& inputs) {
  RETURN_IF_ERROR(CheckWritableOutputDir(dir, "--out"));
  for (const char* name : kSplitFileNames) {
    RETURN_IF_ERROR(
        CheckOutputIsNotInput(absl::StrCat(dir, "/", name), "--out", inputs));
  }
  if (overwrite) return absl::OkStatus();
  std::string found;
  for (const char* name : kSplitFileNames) {
    struct stat st;
    if (::lstat(absl::StrCat(dir, "/", name).c_str(), &st) == 0) {
      absl::StrAppend(&found, found.empty() ? "" : ", ", name);
    }
  }
  if (found.empty()) return absl::OkStatus();
  return absl::AlreadyExistsError(
      absl::StrCat("--out '", dir, "' already holds a split (", found,
                   "); pass --overwrite to replace it"));
}

absl::Status WriteStrongSplit(const StrongSplit& split, const std::string& dir,
                              const SplitWriteOptions& options) {
  std::string sids;
  for (const std::string& id : split.unique_sid) {
    if (id.find_first_of("\n\r") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("item id '", id, "' contains a line break"));
    }
    absl::StrAppend(&sids, id, "\n");
  }
  RETURN_IF_ERROR(CheckSplitOutputDir(dir, options.overwrite));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create directory ", dir, ": ", ec.message()));
  }
  const std::vector<UidSid>* rows[5] = {&split.train, &split.validation_tr,
                                        &split.validation_te, &split.test_tr,
                                        &split.test_te};
  for (int k = 0; k < 5; ++k) {
    RETURN_IF_ERROR(WriteFileAtomically(
        absl::StrCat(dir, "/", kSplitFileNames[k]), PairsCsv(*rows[k])));
  }
  return WriteFileAtomically(absl::StrCat(dir, "/", kSplitFileNames[5]), sids);
}

absl::StatusOr<Interactions> ReadSplitFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(errno, "cannot open", path);
  absl::flat_hash_map<std::string, uint32_t> user_index, item_index;
  Interactions x;
  std::vector<uint32_t> pair_users, pair_items;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_number == 1 || line.empty()) continue;  // header "uid,sid"
    const size_t comma = line.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == line.size() ||
        line.find(',', comma + 1) != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_number, ": expected 'uid,sid', got '", line, "'"));
    }
    std::string uid = line.substr(0, comma);
    std::string sid = line.substr(comma + 1);
    auto [u, new_user] = user_index.try_emplace(uid, x.user_ids.size());
    if (new_user) x.user_ids.push_back(std::move(uid));
    auto [i, new_item] = item_index.try_emplace(sid, x.item_ids.size());
    if (new_item) x.item_ids.push_back(std::move(sid));
    pair_users.push_back(u->second);
    pair_items.push_back(i->second);
  }
  if (in.bad()) return ErrnoError(errno, "cannot read", path);
  if (line_number == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": empty file (no header)"));
  }
  // CSR: counting sort by user, then sort and deduplicate each row.
  const size_t num_users = x.user_ids.size();
  std::vector<uint64_t> offsets(num_users + 1, 0);
  for (uint32_t u : pair_users) ++offsets[u + 1];
  for (size_t u = 0; u < num_users; ++u) offsets[u + 1] += offsets[u];
  std::vector<uint32_t> indices(pair_items.size());
  std::vector<uint64_t> cursor(offsets.begin(), offsets.end() - 1);
  for (size_t k = 0; k < pair_users.size(); ++k) {
    indices[cursor[pair_users[k]]++] = pair_items[k];
  }
  x.row_offsets.assign(num_users + 1, 0);
  uint64_t write = 0;
  for (size_t u = 0; u < num_users; ++u) {
    auto first = indices.begin() + offsets[u];
    auto last = indices.begin() + offsets[u + 1];
    std::sort(first, last);
    last = std::unique(first, last);
    for (auto it = first; it != last; ++it) indices[write++] = *it;
    x.row_offsets[u + 1] = write;
  }
  indices.resize(write);
  x.item_indices = std::move(indices);
  return x;
}

}  // namespace edlae
