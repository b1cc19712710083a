// Batch recommendations for every user of an interactions file: the batched
// scorer over blocks of users, written as CSV or JSONL with progress.
#ifndef EDLAE_EVALUATION_BATCH_RECOMMEND_H_
#define EDLAE_EVALUATION_BATCH_RECOMMEND_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/progress.h"
#include "common/recs_file.h"
#include "core/model.h"
#include "evaluation/batch_scorer.h"
#include "trainer/interactions.h"

namespace edlae {

// The users of an interactions file as histories in the model's item
// indices: row u = the model's indices of user u's items, in the file's row
// order (Interactions rows are sorted by first appearance of the item in the
// file), items the model does not know left out.
struct ModelHistories {
  std::vector<uint64_t> offsets;  // num_users + 1
  std::vector<uint32_t> items;
  size_t unknown_items = 0;  // interactions whose item the model lacks
  size_t cold_users = 0;     // users left with no known item
};
ModelHistories ToModelHistories(const Model& model, const Interactions& users);

struct BatchRecommendOptions {
  size_t top_n = 100;
  // Leave each user's own items out of its list (the server's default; the
  // edlae-train recommend default is false: --exclude-history sets it).
  bool exclude_history = false;
  // Dense models: kExact (bit-identical to the server) or kGemm (BLAS, equal
  // up to float rounding). Ignored for sparse and low-rank models.
  BatchMethod method = BatchMethod::kExact;
  int num_threads = 0;  // 0: all cores
  // Users scored per block (kGemm / low-rank: also the users sharing one
  // pass over B or V).
  size_t block_users = 256;
  // Users scored between two writes to the output and progress updates.
  size_t chunk_users = 4096;
  RecsFormat format = RecsFormat::kCsv;
  ProgressMode progress = ProgressMode::kAuto;
  std::ostream* log = nullptr;  // progress lines; null: none
};

struct BatchRecommendReport {
  size_t users = 0;
  size_t cold_users = 0;     // got the popularity fallback
  size_t unknown_items = 0;  // history interactions the model does not know
  double seconds = 0;        // scoring and writing
};

// For every user of `users`, in file order, the top_n items `model` ranks
// for it exactly as the server's Recommend does for a request listing the
// user's item ids in row order with weight 1 (same items, same order, same
// scores; ties by item index; unknown ids skipped; no known item: the
// popularity fallback, scored by training counts), written to `out_path`
// ("-": stdout) in options.format under the file's user ids. The file
// appears complete or not at all (RecsFileWriter).
// Errors: InvalidArgument (top_n == 0), the writer's I/O errors.
absl::StatusOr<BatchRecommendReport> WriteBatchRecommendations(
    const Model& model, const Interactions& users, const std::string& out_path,
    const BatchRecommendOptions& options);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_BATCH_RECOMMEND_H_
