// edlae-train synth: write a synthetic interaction file (the demo's data, and benchmarks at scale).
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "evaluation/synth.h"

ABSL_FLAG(int64_t, users, 2000, "synth: number of users");
ABSL_FLAG(int64_t, items, 1000, "synth: number of items");
ABSL_FLAG(double, mean_items, 40, "synth: mean distinct items per user");
ABSL_FLAG(int64_t, topics, 20, "synth: latent tastes");

namespace edlae::cli {

int RunSynth() {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return UsageError("synth needs --out");
  if (absl::GetFlag(FLAGS_users) < 1 || absl::GetFlag(FLAGS_items) < 2 ||
      absl::GetFlag(FLAGS_topics) < 1) {
    return UsageError("synth needs --users >= 1, --items >= 2, --topics >= 1");
  }
  SynthOptions options;
  options.num_users = absl::GetFlag(FLAGS_users);
  options.num_items = absl::GetFlag(FLAGS_items);
  options.mean_items_per_user = absl::GetFlag(FLAGS_mean_items);
  options.num_topics = absl::GetFlag(FLAGS_topics);
  absl::StatusOr<uint64_t> seed = SeedFromFlag(42);
  if (!seed.ok()) return UsageError(std::string(seed.status().message()));
  options.seed = *seed;
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

}  // namespace edlae::cli
