// edlae-train synth: write a synthetic interaction file (the demo's data, and
// benchmarks at scale).
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "evaluation/synth.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"

namespace edlae::cli {
namespace {

// synth's flags, bound to the generator's options (which hold the defaults).
struct SynthFlags {
  std::string out;
  SynthOptions options;
};

int RunSynth(const CLI::App& command, const SynthFlags& flags) {
  const std::string& out = flags.out;
  const SynthOptions& options = flags.options;
  if (options.num_topics > options.num_items) {
    return UsageError(command, absl::StrCat("--topics (", options.num_topics,
                                            ") must not exceed --items (",
                                            options.num_items, ")"));
  }
  if (std::optional<int> bad = PreflightOutput(command, out, "--out", {})) {
    return *bad;
  }
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = WriteSyntheticInteractions(out, options); !s.ok()) {
    return Fail(s);
  }
  std::cerr << absl::StrFormat(
      "[synth] %d users × %d items → %s in %.3f s\n", options.num_users,
      options.num_items, out,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  return kExitOk;
}

}  // namespace

Command AddSynthCommand(CLI::App& program) {
  auto flags = std::make_shared<SynthFlags>();
  SynthOptions& o = flags->options;
  CLI::App* command = program.add_subcommand(
      "synth",
      "Write a synthetic interaction file (MovieLens ratings.csv layout): the "
      "demo's data, and benchmarks at scale.");
  AddOption(*command, "users", o.num_users, "number of users")
      ->check(AtLeast(1));
  AddOption(*command, "items", o.num_items, "number of items")
      ->check(AtLeast(2));
  AddOption(*command, "mean-items", o.mean_items_per_user,
            "mean distinct items per user")
      ->check(GreaterThan(0));
  AddOption(*command, "topics", o.num_topics, "latent tastes")
      ->check(AtLeast(1));
  AddSeedFlag(*command, o.seed, "random seed");
  AddOption(*command, "out", flags->out, "file to write (atomically)")
      ->required();
  return {command, [command, flags] { return RunSynth(*command, *flags); }};
}

}  // namespace edlae::cli
