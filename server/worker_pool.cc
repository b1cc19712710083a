// WorkerPool: a mutex + condition variable FIFO of std::function tasks.
#include "server/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

namespace edlae::server {

WorkerPool::WorkerPool(int num_threads) {
  const int n = std::max(1, num_threads);
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool WorkerPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    tasks_.push_back(std::move(task));
  }
  ready_.notify_one();
  return true;
}

void WorkerPool::Run(size_t shares, const std::function<void(size_t)>& share) {
  if (shares == 0) return;
  // Helpers may start after Run has returned: they hold the job, and touch
  // `share` only for a share they claimed, which Run waits for.
  struct Job {
    const std::function<void(size_t)>* share;
    size_t shares;
    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
  };
  auto job = std::make_shared<Job>();
  job->share = &share;
  job->shares = shares;
  auto claim = [](Job& j) {
    for (size_t t;
         (t = j.next.fetch_add(1, std::memory_order_relaxed)) < j.shares;) {
      (*j.share)(t);
      if (j.done.fetch_add(1, std::memory_order_acq_rel) + 1 == j.shares) {
        j.done.notify_all();
      }
    }
  };
  const size_t helpers = std::min(shares - 1, threads_.size());
  if (helpers > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      for (size_t h = 0; h < helpers; ++h) {
        tasks_.push_front([job, claim] { claim(*job); });
      }
    }
  }
  if (helpers == 1) {
    ready_.notify_one();
  } else if (helpers > 1) {
    ready_.notify_all();
  }
  claim(*job);
  for (size_t d; (d = job->done.load(std::memory_order_acquire)) < shares;) {
    job->done.wait(d, std::memory_order_acquire);
  }
}

void WorkerPool::Loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace edlae::server
