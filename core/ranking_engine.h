// The one ranking engine: a blocked scan over items, a scorer per model kind,
// per-query top-N result handlers.
//
// Every whole-catalog ranking in edlae — a server request on a dense or
// low-rank model, a micro-batch of low-rank requests, offline evaluation —
// is ScanTopN over a block scorer (core/item_scorers.h): the scorer fills a
// tile of scores for a block of items and every query of its batch, the
// query's TopNHandler masks that query's exclusions and keeps its best
// items, then the next block is scored. No full score vector ever exists,
// and because offline evaluation calls the same scan with the same scorers,
// it ranks exactly as the server does by construction.
#ifndef EDLAE_CORE_RANKING_ENGINE_H_
#define EDLAE_CORE_RANKING_ENGINE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/exclusions.h"
#include "core/topn.h"

namespace edlae {

// Runs the shares of a split scan on threads the caller already has (a
// server's idle workers) instead of threads started per scan.
class ShareRunner {
 public:
  virtual ~ShareRunner() = default;
  // Calls share(t) exactly once for every t in [0, shares), some (possibly
  // all) on the calling thread, and returns when every call has returned.
  // Thread-safe.
  virtual void Run(size_t shares, const std::function<void(size_t)>& share) = 0;
};

// How a scan runs.
struct ScanOptions {
  // Shares that split the items among themselves, whole blocks each; the
  // per-share results are merged exactly (RanksBefore is a total order), so
  // the result does not depend on the count. Values below 1 mean 1.
  int num_threads = 1;
  // Runs the shares when num_threads > 1; null: one thread per share beyond
  // the first, started by the scan (the calling thread scans the first).
  // Borrowed.
  ShareRunner* runner = nullptr;
  // Cancellation hook, called before each block is scored; returning true
  // stops the scan with Cancelled. With num_threads > 1 it is called from
  // every scanning thread, so it must be thread-safe then.
  std::function<bool()> should_stop;
};

// The result handler of one query: its exclusions masked into each block of
// scores, then its best `top_n` kept (ties by lower index; NaN never kept).
// `excluded` is sorted ascending and unique (core/exclusions.h) and
// borrowed: it must outlive the handler. A scan that starts at item `first`
// (one thread's share) passes it so the exclusion cursor starts there.
// Not thread-safe; one per query and scanning thread.
class TopNHandler {
 public:
  TopNHandler(size_t top_n, absl::Span<const uint32_t> excluded,
              size_t first = 0)
      : top_(top_n), cursor_(excluded, first) {}

  // Offers scores[0..len) of items begin .. begin+len-1; excluded items'
  // entries are overwritten (the caller's tile is scratch).
  void AddBlock(size_t begin, float* scores, size_t len) {
    cursor_.Mark(begin, len, scores, std::numeric_limits<float>::quiet_NaN());
    top_.PushBlock(static_cast<uint32_t>(begin), scores, len);
  }
  // Kept items best first; empties the handler.
  std::vector<ScoredItem> TakeSorted() { return top_.TakeSorted(); }

 private:
  TopN top_;
  ExclusionCursor cursor_;
};

// The top-N size worth reserving: no query can get more items than exist, so
// no request allocates in proportion to a number its client chose.
inline size_t ClampTopN(size_t top_n, size_t num_items) {
  return std::min(top_n, num_items);
}

absl::Status ScanStoppedError();

// Scans items [begin, end) with `scorer` into one handler per query of the
// scorer's batch (handlers.size() == scorer.batch()).
//
// A block scorer provides:
//   size_t batch() const;         queries scored per block
//   size_t block_items() const;   items per block
//   Scratch NewScratch() const;   per-thread scratch, with float* tile()
//                                 holding batch() × block_items() floats
//   void ScoreBlock(size_t begin, size_t len, Scratch&) const;
//                                 tile()[q·len + j] = score of item begin+j
//                                 for query q; const and re-entrant
template <typename Scorer>
absl::Status ScanBlocks(const Scorer& scorer, size_t begin, size_t end,
                        absl::Span<TopNHandler> handlers,
                        const ScanOptions& options) {
  auto scratch = scorer.NewScratch();
  const size_t block = scorer.block_items();
  for (size_t j0 = begin; j0 < end; j0 += block) {
    if (options.should_stop && options.should_stop()) return ScanStoppedError();
    const size_t len = std::min(block, end - j0);
    scorer.ScoreBlock(j0, len, scratch);
    float* tile = scratch.tile();
    for (size_t q = 0; q < handlers.size(); ++q) {
      handlers[q].AddBlock(j0, tile + q * len, len);
    }
  }
  return absl::OkStatus();
}

// The full score vector of a single-query scorer (batch() == 1): out[j] =
// the score of item j for j in [0, out.size()), block by block with the same
// arithmetic as ScanBlocks, so scores agree bit for bit with the ranking.
// The reference path for tests and offline evaluation (ComputeScores).
template <typename Scorer>
void ScoreEveryItem(const Scorer& scorer, absl::Span<float> out) {
  auto scratch = scorer.NewScratch();
  const size_t block = scorer.block_items();
  for (size_t begin = 0; begin < out.size(); begin += block) {
    const size_t len = std::min(block, out.size() - begin);
    scorer.ScoreBlock(begin, len, scratch);
    std::copy_n(scratch.tile(), len, out.data() + begin);
  }
}

// The best `top_n` items of [0, num_items) for each query of the scorer's
// batch, best first, ties by lower index. exclude[q], when present, lists the
// items query q never gets, sorted and unique; an empty span excludes
// nothing. Splits the items over options.num_threads shares (whole blocks),
// run by options.runner or by threads of their own.
// Errors: Cancelled when options.should_stop says so.
template <typename Scorer>
absl::Status ScanTopN(const Scorer& scorer, size_t num_items, size_t top_n,
                      absl::Span<const std::vector<uint32_t>> exclude,
                      const ScanOptions& options,
                      std::vector<std::vector<ScoredItem>>* results) {
  const size_t batch = scorer.batch();
  const size_t keep = ClampTopN(top_n, num_items);
  results->assign(batch, {});
  if (batch == 0 || keep == 0) return absl::OkStatus();
  auto handlers_from = [&](size_t first) {
    std::vector<TopNHandler> handlers;
    handlers.reserve(batch);
    for (size_t q = 0; q < batch; ++q) {
      handlers.emplace_back(keep,
                            q < exclude.size()
                                ? absl::Span<const uint32_t>(exclude[q])
                                : absl::Span<const uint32_t>(),
                            first);
    }
    return handlers;
  };
  const size_t block = scorer.block_items();
  const size_t blocks = (num_items + block - 1) / block;
  const size_t threads =
      std::clamp<size_t>(static_cast<size_t>(std::max(options.num_threads, 1)),
                         1, std::max<size_t>(blocks, 1));
  if (threads == 1) {
    std::vector<TopNHandler> handlers = handlers_from(0);
    absl::Status s =
        ScanBlocks(scorer, 0, num_items, absl::MakeSpan(handlers), options);
    if (!s.ok()) return s;
    for (size_t q = 0; q < batch; ++q) (*results)[q] = handlers[q].TakeSorted();
    return absl::OkStatus();
  }
  std::vector<std::vector<TopNHandler>> partial(threads);
  std::vector<absl::Status> status(threads);
  auto scan_share = [&](size_t t) {
    const size_t begin = std::min(num_items, blocks * t / threads * block);
    const size_t end = std::min(num_items, blocks * (t + 1) / threads * block);
    status[t] =
        ScanBlocks(scorer, begin, end, absl::MakeSpan(partial[t]), options);
  };
  for (size_t t = 0; t < threads; ++t) {
    partial[t] = handlers_from(std::min(num_items, blocks * t / threads * block));
  }
  if (options.runner != nullptr) {
    options.runner->Run(threads, scan_share);
  } else {
    // The calling thread scans the first share while the others run.
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(scan_share, t);
    scan_share(0);
    for (std::thread& th : pool) th.join();
  }
  for (const absl::Status& s : status) {
    if (!s.ok()) return s;
  }
  for (size_t q = 0; q < batch; ++q) {
    TopN merged(keep);
    for (size_t t = 0; t < threads; ++t) {
      for (const ScoredItem& s : partial[t][q].TakeSorted()) {
        merged.Push(s.index, s.score);
      }
    }
    (*results)[q] = merged.TakeSorted();
  }
  return absl::OkStatus();
}

// The popularity fallback for a query with no signal: the best `top_n` items
// by `popularity` (ties by lower index), skipping `excluded` (sorted,
// unique), restricted to `candidates` when that is non-empty (duplicates
// count once). `by_popularity`, when non-empty, is every item ordered so
// (Model::items_by_popularity()), which makes the whole-catalog case
// O(top_n + excluded); empty, the items are selected by a scan.
std::vector<ScoredItem> PopularTopN(absl::Span<const float> popularity,
                                    absl::Span<const uint32_t> by_popularity,
                                    absl::Span<const uint32_t> excluded,
                                    absl::Span<const uint32_t> candidates,
                                    size_t top_n);

}  // namespace edlae

#endif  // EDLAE_CORE_RANKING_ENGINE_H_
