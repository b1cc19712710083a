// MedianSeconds: the median wall time of repeated runs, for the CLI benchmarks.
#ifndef EDLAE_BENCH_MEDIAN_TIME_H_
#define EDLAE_BENCH_MEDIAN_TIME_H_

#include <algorithm>
#include <chrono>
#include <vector>

namespace edlae {

// Runs fn once untimed (warming caches, JIT code and thread pools), then
// `repeats` times (≥ 1), and returns the median of those wall times in
// seconds: the benchmarks' figure on a shared, noisy machine.
template <typename Fn>
double MedianSeconds(int repeats, Fn fn) {
  fn();
  std::vector<double> t;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    t.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

}  // namespace edlae

#endif  // EDLAE_BENCH_MEDIAN_TIME_H_
