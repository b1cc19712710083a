// edlae-train split: the strong-generalization split of Liang et al. 2018, written as the standard split files.
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "evaluation/split.h"

ABSL_FLAG(std::string, heldout_users, "",
          "split: users in each of validation and test: a count N or a share "
          "of the eligible users such as 10%");

namespace edlae::cli {
namespace {

// "N" or "P%" of `eligible` (rounded down, at least 1).
absl::StatusOr<size_t> HeldOutCount(const std::string& text, size_t eligible) {
  if (!text.empty() && text.back() == '%') {
    double percent;
    if (!absl::SimpleAtod(text.substr(0, text.size() - 1), &percent) ||
        !(percent > 0 && percent < 50)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--heldout-users percentage must be in (0%, 50%), got '", text, "'"));
    }
    return std::max<size_t>(1, static_cast<size_t>(eligible * percent / 100));
  }
  size_t count;
  if (!absl::SimpleAtoi(text, &count) || count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--heldout-users must be a positive count or a percentage, got '", text,
        "'"));
  }
  return count;
}

}  // namespace

int RunSplit() {
  const auto start = std::chrono::steady_clock::now();
  const std::string input = absl::GetFlag(FLAGS_input);
  const std::string out = absl::GetFlag(FLAGS_out);
  const std::string heldout_text = absl::GetFlag(FLAGS_heldout_users);
  if (input.empty()) return UsageError("split needs --input");
  if (out.empty()) return UsageError("split needs --out (a directory)");
  if (heldout_text.empty()) return UsageError("split needs --heldout-users");
  // The protocol's defaults: ratings > 3.5 are positives, users need 5 items.
  // "--min-rating none" keeps every rated row.
  const std::string min_rating = absl::GetFlag(FLAGS_min_rating);
  if (min_rating.empty()) absl::SetFlag(&FLAGS_min_rating, "3.5");
  if (min_rating == "none") absl::SetFlag(&FLAGS_min_rating, "");
  absl::StatusOr<LoadOptions> load = LoadOptionsFromFlags();
  if (!load.ok()) return UsageError(std::string(load.status().message()));
  absl::StatusOr<uint64_t> seed = SeedFromFlag(98765);
  if (!seed.ok()) return UsageError(std::string(seed.status().message()));
  SplitOptions options;
  options.seed = *seed;
  options.min_user_items = load->min_user_count > 0 ? load->min_user_count : 5;
  load->min_user_count = 0;  // applied to the merged data by MakeStrongSplit

  const std::vector<std::string> paths = absl::StrSplit(input, ',');
  if (paths.size() > 1 && load->min_item_count > 0) {
    return UsageError("--min-item-count applies to a single --input only");
  }
  std::vector<Interactions> parts;
  for (const std::string& path : paths) {
    absl::StatusOr<Interactions> x = LoadInteractions(path, *load);
    if (!x.ok()) return Fail(x.status());
    std::cerr << absl::StrFormat(
        "[split] read %s: %d users, %d items, %d interactions\n", path,
        x->num_users(), x->num_items(), x->num_interactions());
    parts.push_back(*std::move(x));
  }
  Interactions x =
      parts.size() == 1 ? std::move(parts[0]) : MergeInteractions(parts);
  parts.clear();

  size_t eligible = 0;
  for (size_t u = 0; u < x.num_users(); ++u) {
    eligible +=
        x.row_offsets[u + 1] - x.row_offsets[u] >= options.min_user_items;
  }
  absl::StatusOr<size_t> heldout = HeldOutCount(heldout_text, eligible);
  if (!heldout.ok()) return UsageError(std::string(heldout.status().message()));
  options.heldout_users = *heldout;

  absl::StatusOr<StrongSplit> split = MakeStrongSplit(x, options);
  if (!split.ok()) return Fail(split.status());
  if (absl::Status s = WriteStrongSplit(*split, out); !s.ok()) return Fail(s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::cout << absl::StrFormat(
      "split of %s (seed %d, %.2f s)\n"
      "  input:      %d users (%d with >= %d items), %d items, %d "
      "interactions\n"
      "  train:      %d users, %d items, %d interactions\n"
      "  validation: %d users, %d fold-in + %d target interactions\n"
      "  test:       %d users, %d fold-in + %d target interactions\n"
      "  held-out interactions dropped (item not in training): %d\n"
      "  wrote %s/{train,validation_tr,validation_te,test_tr,test_te}.csv, "
      "unique_sid.txt\n",
      input, options.seed, seconds, x.num_users(), eligible,
      options.min_user_items, x.num_items(), x.num_interactions(),
      split->num_train_users, split->unique_sid.size(), split->train.size(),
      split->num_validation_users, split->validation_tr.size(),
      split->validation_te.size(), split->num_test_users, split->test_tr.size(),
      split->test_te.size(), split->dropped_heldout_interactions, out);
  return kExitOk;
}

}  // namespace edlae::cli
