// edlae-client recommend-batch: one Recommend call per user of a list, a
// bounded number in flight, answers written as CSV or JSONL in list order.
#ifndef EDLAE_CLIENT_RECOMMEND_BATCH_H_
#define EDLAE_CLIENT_RECOMMEND_BATCH_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/recommender_client.h"
#include "common/recs_file.h"
#include "edlae/v1/recommender.pb.h"

namespace edlae::client {

// One user to ask for: its id (written as given) and its history item ids
// (sent in this order, weight 1 each).
struct BatchUser {
  std::string user_id;
  std::vector<std::string> item_ids;
};

struct RecommendBatchOptions {
  int concurrency = 8;  // calls in flight at most (1..1024)
  absl::Duration timeout = absl::Seconds(5);  // per call
  // Every call is this request with the user's history filled in (top_n,
  // exclude_history, exclude/candidate ids).
  v1::RecommendRequest base;
  RecsFormat format = RecsFormat::kJsonl;
  // Users asked for between two writes to the output.
  size_t chunk_users = 1024;
};

struct RecommendBatchReport {
  size_t users = 0;
  size_t failed = 0;  // users whose call did not return OK
  double seconds = 0;
};

// Calls Recommend for every user of `users` over `client` (thread-safe,
// shared by the callers) and writes the answers in `users`' order to
// `out_path` ("-": stdout; else atomically, RecsFileWriter): a failed call
// is written as the user's error (AppendRecsError, "CODE: message") and
// counted; it does not stop the batch. Errors: InvalidArgument (concurrency
// out of range), the writer's I/O errors.
absl::StatusOr<RecommendBatchReport> RecommendBatch(
    const RecommenderClient& client, const std::vector<BatchUser>& users,
    const std::string& out_path, const RecommendBatchOptions& options);

}  // namespace edlae::client

#endif  // EDLAE_CLIENT_RECOMMEND_BATCH_H_
