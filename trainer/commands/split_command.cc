// edlae-train split: the strong-generalization split of Liang et al. 2018,
// written as the standard split files.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "evaluation/split.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"

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

// The protocol's defaults: ratings > 3.5 are positives ("--min-rating none"
// keeps every rated row), users need 5 items.
DataFlags ProtocolDataFlags() {
  DataFlags flags;
  flags.min_rating = "3.5";
  flags.min_user_count = 5;
  return flags;
}

// split's flags; their values are the defaults.
struct SplitFlags {
  DataFlags data = ProtocolDataFlags();
  std::string heldout_users;
  std::string out;
  uint64_t seed = 98765;  // as in Liang et al.
  bool overwrite = false;
};

int RunSplit(const CLI::App& command, const SplitFlags& flags) {
  const auto start = std::chrono::steady_clock::now();
  const std::string& input = flags.data.input;
  const std::string& out = flags.out;
  const std::string& heldout_text = flags.heldout_users;
  LoadOptions load = ToLoadOptions(flags.data);  // "none": no rating filter
  SplitOptions options;
  options.seed = flags.seed;
  options.min_user_items = load.min_user_count;
  load.min_user_count = 0;  // applied to the merged data by MakeStrongSplit

  absl::StatusOr<std::vector<std::string>> paths = SplitInputList(input);
  if (!paths.ok()) return UsageError(command, paths.status().message());
  // Refuse an existing split (or an input as output) before reading anything.
  if (absl::Status s = CheckSplitOutputDir(out, flags.overwrite, *paths);
      !s.ok()) {
    return Fail(s);
  }
  std::vector<InputFileSummary> summaries;
  absl::StatusOr<Interactions> loaded =
      LoadInteractionFiles(*paths, load, &summaries);
  if (!loaded.ok()) return Fail(loaded.status());
  for (const InputFileSummary& f : summaries) {
    std::cerr << absl::StrFormat(
        "[split] read %s: %d users, %d items, %d interactions\n", f.path,
        f.users, f.items, f.interactions);
  }
  const Interactions x = *std::move(loaded);

  size_t eligible = 0;
  for (size_t u = 0; u < x.num_users(); ++u) {
    eligible +=
        x.row_offsets[u + 1] - x.row_offsets[u] >= options.min_user_items;
  }
  absl::StatusOr<size_t> heldout = HeldOutCount(heldout_text, eligible);
  if (!heldout.ok()) return UsageError(command, heldout.status().message());
  options.heldout_users = *heldout;

  absl::StatusOr<StrongSplit> split = MakeStrongSplit(x, options);
  if (!split.ok()) return Fail(split.status());
  SplitWriteOptions write;
  write.overwrite = flags.overwrite;
  if (absl::Status s = WriteStrongSplit(*split, out, write); !s.ok()) {
    return Fail(s);
  }
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

}  // namespace

Command AddSplitCommand(CLI::App& program) {
  auto flags = std::make_shared<SplitFlags>();
  CLI::App* command = program.add_subcommand(
      "split",
      "The strong-generalization split of Liang et al. 2018, written as "
      "DIR/{train,validation_tr,validation_te,test_tr,test_te}.csv and "
      "unique_sid.txt.");
  AddDataFlags(
      *command, flags->data,
      "interaction file(s) to read, comma-separated (united per user)");
  AddOption(*command, "heldout-users", flags->heldout_users,
            "users in each of validation and test: a count N or a share of "
            "the eligible users such as 10%")
      ->required()
      ->check(CLI::Validator(
          [](std::string& text) {
            absl::StatusOr<size_t> count = HeldOutCount(text, 1);
            return count.ok() ? std::string()
                              : std::string(count.status().message());
          },
          ""));
  AddOption(*command, "out", flags->out, "directory to write the split to")
      ->required();
  AddSeedFlag(*command, flags->seed, "seed of the held-out users' draw");
  AddFlag(*command, "overwrite", flags->overwrite,
          "replace a split already in --out (otherwise refused before any "
          "data is read)");
  return {command, [command, flags] { return RunSplit(*command, *flags); }};
}

}  // namespace edlae::cli
