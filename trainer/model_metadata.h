// Model-file metadata (docs/model-format.md): keys, values, order; built once.
#ifndef EDLAE_TRAINER_MODEL_METADATA_H_
#define EDLAE_TRAINER_MODEL_METADATA_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "trainer/low_rank.h"
#include "trainer/model_spec.h"

namespace edlae {

// Key/value pairs in file order, as DenseModelData/LowRankModelData take them.
using ModelMetadata = std::vector<std::pair<std::string, std::string>>;

// What the data and the run contribute besides the model spec.
struct TrainingFacts {
  size_t num_users = 0;
  size_t num_items = 0;
  size_t num_interactions = 0;
  double train_seconds = 0;  // Gram matrix + solve
  // Where the data came from; bytes that are not UTF-8 become '?'.
  std::string source;
};

// The standard keys, in this order: algorithm, lambda, dropout (0 for EASE),
// precision (of the solve), num_users, num_items, num_interactions,
// created_at (now, RFC 3339 UTC); then, when `low_rank` is not null, rank,
// method and either eigensolver, eigen_residual (closed form) or epochs,
// omega (ADMM) and objective (when computed); then train_seconds, source and
// edlae_version. `spec.rank` > 0 exactly when `low_rank` is given.
ModelMetadata BuildModelMetadata(const ModelSpec& spec,
                                 const TrainingFacts& facts,
                                 const LowRankResult* low_rank = nullptr);

// `v` as the shortest decimal that reads back as exactly `v` ("0.2", not
// "0.20000000000000001"): how model metadata records λ, p and the like.
std::string MetadataNumber(double v);

}  // namespace edlae

#endif  // EDLAE_TRAINER_MODEL_METADATA_H_
