// A fixed set of threads running submitted tasks in FIFO order; the Recommend
// handlers hand their scoring to it so gRPC's callback threads never block,
// and a call's scan shares run on its idle threads (ShareRunner).
#ifndef EDLAE_SERVER_WORKER_POOL_H_
#define EDLAE_SERVER_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/ranking_engine.h"

namespace edlae::server {

// The queue is unbounded: callers bound it (RecommenderService admits at most
// --max_concurrent_requests). Uses std::mutex so ThreadSanitizer sees the
// synchronization (Debian's abseil is built without TSan annotations).
// Thread-safe.
class WorkerPool : public ShareRunner {
 public:
  // Starts `num_threads` (at least 1) threads.
  explicit WorkerPool(int num_threads);
  // Runs every task already submitted, then joins the threads.
  ~WorkerPool() override;

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. Returns false (and drops it) once the pool is stopping.
  bool Submit(std::function<void()> task);

  int num_threads() const { return static_cast<int>(threads_.size()); }

  // ShareRunner: the calling thread and up to shares - 1 of the pool's
  // threads claim shares in turn until none is left, so a share never waits
  // for a thread: when every thread is busy (or still waking) the caller runs
  // them all, and a helper task that starts after the last share was claimed
  // does nothing. Helper tasks go to the front of the queue (a call is
  // waiting for them). Returns when every share has returned.
  void Run(size_t shares, const std::function<void(size_t)>& share) override;

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_WORKER_POOL_H_
