// RecommendBatch: a chunk of users at a time, `concurrency` threads taking
// the next user each, the chunk written in order once all of it is answered.
#include "client/recommend_batch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"

namespace edlae::client {

absl::StatusOr<RecommendBatchReport> RecommendBatch(
    const RecommenderClient& client, const std::vector<BatchUser>& users,
    const std::string& out_path, const RecommendBatchOptions& options) {
  if (options.concurrency < 1 || options.concurrency > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "concurrency must be in [1, 1024], got ", options.concurrency));
  }
  const auto start = std::chrono::steady_clock::now();
  RecsFileWriter writer;
  if (absl::Status s = writer.Open(out_path, options.format); !s.ok()) {
    return s;
  }
  RecommendBatchReport report;
  const size_t chunk = std::max<size_t>(1, options.chunk_users);
  std::vector<absl::StatusOr<v1::RecommendResponse>> answers;
  std::vector<RecItem> items;
  for (size_t first = 0; first < users.size(); first += chunk) {
    const size_t last = std::min(users.size(), first + chunk);
    answers.assign(last - first, absl::UnknownError("not called"));
    std::atomic<size_t> next{first};
    auto caller = [&] {
      v1::RecommendRequest request = options.base;
      for (size_t u; (u = next.fetch_add(1)) < last;) {
        request.clear_history_item_ids();
        for (const std::string& id : users[u].item_ids) {
          request.add_history_item_ids(id);
        }
        answers[u - first] = client.Recommend(request, options.timeout);
      }
    };
    const size_t threads = std::min<size_t>(
        static_cast<size_t>(options.concurrency), last - first);
    std::vector<std::thread> workers;
    for (size_t t = 1; t < threads; ++t) workers.emplace_back(caller);
    caller();
    for (std::thread& w : workers) w.join();
    for (size_t u = first; u < last; ++u) {
      const absl::StatusOr<v1::RecommendResponse>& answer = answers[u - first];
      absl::Status written;
      if (!answer.ok()) {
        ++report.failed;
        written = writer.AddError(
            users[u].user_id,
            absl::StrCat(absl::StatusCodeToString(answer.status().code()), ": ",
                         answer.status().message()));
      } else {
        items.clear();
        for (const v1::ScoredItem& item : answer->items()) {
          items.push_back({item.item_id(), item.score()});
        }
        written = writer.Add(users[u].user_id, items);
      }
      if (!written.ok()) return written;
    }
  }
  if (absl::Status s = writer.Commit(); !s.ok()) return s;
  report.users = users.size();
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return report;
}

}  // namespace edlae::client
