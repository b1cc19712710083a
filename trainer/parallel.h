// Minimal fork-join helpers for the trainer's dense loops (no thread pool lives
// between calls).
#ifndef EDLAE_TRAINER_PARALLEL_H_
#define EDLAE_TRAINER_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "common/thread_count.h"

namespace edlae {

// Calls fn(begin, end) on chunks of [0, count) from `threads` threads, chunks
// handed out dynamically so uneven work balances. Returns when all are done.
template <typename Fn>
void ParallelFor(size_t count, size_t chunk, int threads, Fn fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (;;) {
      const size_t begin = next.fetch_add(chunk);
      if (begin >= count) return;
      fn(begin, std::min(count, begin + chunk));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
}

// Runs worker() on `threads` threads (the calling one among them) and
// returns when all have returned; each call makes its own state first (per
// thread buffers), then takes work from a shared counter of its own.
template <typename Worker>
void RunThreads(int threads, Worker worker) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
}

// fn(i, j, a[i·n + j] (lower, j < i), a[j·n + i] (upper)), both as lvalues,
// for every element strictly below the diagonal of the n × n row-major matrix
// `a`, tile by tile so both sides stay in cache; tiles run in parallel, and
// each (i, j) pair is visited by exactly one thread.
template <typename T, typename Fn>
void ForEachLowerWithUpper(T* a, size_t n, int threads, Fn fn) {
  constexpr size_t kTile = 64;
  const size_t tiles = (n + kTile - 1) / kTile;
  ParallelFor(tiles, 1, threads, [&](size_t begin, size_t end) {
    for (size_t ti = begin; ti < end; ++ti) {
      const size_t i0 = ti * kTile, i1 = std::min(n, i0 + kTile);
      for (size_t j0 = 0; j0 <= i0; j0 += kTile) {
        const size_t j1 = std::min(n, j0 + kTile);
        for (size_t i = i0; i < i1; ++i) {
          for (size_t j = j0; j < std::min(j1, i); ++j) {
            fn(i, j, a[i * n + j], a[j * n + i]);
          }
        }
      }
    }
  });
}

// Copies the upper triangle (j > i) of the n × n row-major matrix `a` into the
// lower triangle.
template <typename T>
void MirrorUpperToLower(T* a, size_t n, int threads) {
  ForEachLowerWithUpper(
      a, n, threads, [](size_t, size_t, T& lower, T upper) { lower = upper; });
}

}  // namespace edlae

#endif  // EDLAE_TRAINER_PARALLEL_H_
