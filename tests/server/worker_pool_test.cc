// WorkerPool as a ShareRunner: every share once, never waiting for a busy
// worker, safe when helpers start late.
#include "server/worker_pool.h"

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace edlae::server {
namespace {

TEST(WorkerPoolRunTest, CallsEveryShareExactlyOnce) {
  WorkerPool pool(3);
  for (size_t shares : {1u, 2u, 4u, 17u}) {
    for (int round = 0; round < 50; ++round) {
      std::vector<std::atomic<int>> calls(shares);
      pool.Run(shares, [&](size_t t) { calls[t].fetch_add(1); });
      for (size_t t = 0; t < shares; ++t) {
        ASSERT_EQ(calls[t].load(), 1) << "share " << t << " of " << shares;
      }
    }
  }
  pool.Run(0, [](size_t) { FAIL() << "no share to run"; });
}

TEST(WorkerPoolRunTest, HelpersShareTheWorkWhenIdle) {
  WorkerPool pool(2);
  std::mutex mu;
  std::set<std::thread::id> threads;
  // Shares slow enough that an idle worker wakes and claims some.
  for (int round = 0; round < 20 && threads.size() < 2; ++round) {
    pool.Run(8, [&](size_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
    });
  }
  EXPECT_GE(threads.size(), 2u);
}

TEST(WorkerPoolRunTest, NeverWaitsForABusyWorker) {
  WorkerPool pool(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(pool.Submit([&started, released] {
    started.set_value();
    released.wait();  // the only worker is busy until the end of the test
  }));
  started.get_future().wait();
  std::vector<std::thread::id> ran;
  pool.Run(6, [&](size_t) { ran.push_back(std::this_thread::get_id()); });
  ASSERT_EQ(ran.size(), 6u);
  for (const std::thread::id& id : ran)
    EXPECT_EQ(id, std::this_thread::get_id());
  // The helper task queued for this Run starts only now, after Run
  // returned, and must find nothing left to do.
  release.set_value();
}

TEST(WorkerPoolRunTest, ConcurrentRunsFromManyThreads) {
  WorkerPool pool(2);
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        std::atomic<int> mine{0};
        pool.Run(5, [&](size_t t) {
          mine.fetch_add(static_cast<int>(t) + 1);
          total.fetch_add(1);
        });
        ASSERT_EQ(mine.load(), 15);  // 1 + 2 + 3 + 4 + 5: each share once
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total.load(), 4 * 200 * 5);
}

}  // namespace
}  // namespace edlae::server
