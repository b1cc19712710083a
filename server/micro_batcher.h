// Groups concurrent calls into batches handed to one worker, so a low-rank model's V is streamed once per batch.
#ifndef EDLAE_SERVER_MICRO_BATCHER_H_
#define EDLAE_SERVER_MICRO_BATCHER_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "server/worker_pool.h"

namespace edlae::server {

// Calls added while the workers are busy wait in a queue; a worker that
// becomes free takes up to `max_batch` of them at once and processes them
// together. With `max_wait` > 0 a worker that finds fewer than max_batch calls
// waits up to max_wait after the oldest one's arrival for more (trading that
// much latency for larger batches); with 0 it takes what is there
// (opportunistic batching: no added latency when the server is idle).
// Every added call is processed exactly once, also while the pool stops.
// Thread-safe. The pool must outlive the batcher.
template <typename Call>
class MicroBatcher {
 public:
  using Process = std::function<void(std::vector<Call>&)>;

  MicroBatcher(WorkerPool* pool, size_t max_batch,
               std::chrono::microseconds max_wait, Process process)
      : pool_(pool),
        max_batch_(std::max<size_t>(max_batch, 1)),
        max_wait_(max_wait),
        process_(std::move(process)) {}

  MicroBatcher(const MicroBatcher&) = delete;
  MicroBatcher& operator=(const MicroBatcher&) = delete;

  // True when calls wait for a worker (a call added now would join them).
  bool HasPending() {
    std::lock_guard<std::mutex> lock(mu_);
    return !pending_.empty();
  }

  void Add(Call call) {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back({std::move(call), Clock::now()});
      // One drain per max_batch waiting calls, at least one.
      if (scheduled_ == 0 || pending_.size() > scheduled_ * max_batch_) {
        ++scheduled_;
        schedule = true;
      }
    }
    more_.notify_all();
    if (schedule) Schedule();
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Call call;
    Clock::time_point arrival;
  };

  void Schedule() {
    // A stopping pool runs no new task: drain on this thread instead, so no
    // call is left unanswered.
    if (!pool_->Submit([this] { Drain(); })) Drain();
  }

  void Drain() {
    std::vector<Call> batch;
    bool schedule = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      --scheduled_;
      if (pending_.empty()) return;
      if (pending_.size() < max_batch_ && max_wait_.count() > 0) {
        more_.wait_until(lock, pending_.front().arrival + max_wait_, [this] {
          return pending_.empty() || pending_.size() >= max_batch_;
        });
        if (pending_.empty()) return;  // another drain took them
      }
      const size_t take = std::min(max_batch_, pending_.size());
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(pending_.front().call));
        pending_.pop_front();
      }
      if (!pending_.empty() && scheduled_ == 0) {
        ++scheduled_;
        schedule = true;
      }
    }
    if (schedule) Schedule();
    process_(batch);
  }

  WorkerPool* const pool_;
  const size_t max_batch_;
  const std::chrono::microseconds max_wait_;
  const Process process_;

  std::mutex mu_;
  std::condition_variable more_;
  std::deque<Pending> pending_;  // guarded by mu_
  size_t scheduled_ = 0;         // drains submitted, not yet running; mu_
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_MICRO_BATCHER_H_
