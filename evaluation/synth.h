// Synthetic interaction data with power-law popularity and latent user tastes (demo and benchmark input).
#ifndef EDLAE_EVALUATION_SYNTH_H_
#define EDLAE_EVALUATION_SYNTH_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace edlae {

struct SynthOptions {
  size_t num_users = 2000;
  size_t num_items = 1000;
  // Mean distinct items per user (user activity is itself heavy-tailed).
  double mean_items_per_user = 40;
  size_t num_topics = 20;         // latent tastes
  double popularity_exponent = 1.0;  // Zipf exponent of item popularity
  uint64_t seed = 42;
};

// Writes a MovieLens-style ratings.csv ("userId,movieId,rating,timestamp",
// ratings 1..5 correlated with taste) to `path`, atomically. Items follow a
// power law; each user draws mostly from one to three topics, so the data has
// item-item structure to learn. Deterministic for a given options value.
absl::Status WriteSyntheticInteractions(const std::string& path,
                                        const SynthOptions& options);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_SYNTH_H_
