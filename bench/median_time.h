// MedianSeconds and PairedMedians: median wall times of repeated runs, for the
// CLI benchmarks.
#ifndef EDLAE_BENCH_MEDIAN_TIME_H_
#define EDLAE_BENCH_MEDIAN_TIME_H_

#include <algorithm>
#include <chrono>
#include <vector>

namespace edlae {

// The median of v (REQUIRES: not empty; reorders v).
inline double MedianOf(std::vector<double>& v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

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
  return MedianOf(t);
}

// What PairedMedians measured: each side's median seconds, and the median
// of the per-pair ratios a / b.
struct PairedTimes {
  double a_seconds = 0, b_seconds = 0, ratio = 0;
};

// Runs `repeats` (≥ 1) rounds of a then b. In each round each side runs
// once untimed and then three times timed, and the round keeps the median of
// the three, so every timed call finds its own data where its own previous
// calls left it (caches warm, as when a server answers call after call)
// rather than where the other side put its data: one untimed pass was not
// enough to bring a 20 MB V back into this VM's cache after FAISS streamed
// its 80 MB. A shared VM's speed drifts by tens of percent within seconds;
// a ratio taken within one round cancels that drift, where the ratio of two
// medians measured seconds apart does not.
template <typename FnA, typename FnB>
PairedTimes PairedMedians(int repeats, FnA a, FnB b) {
  constexpr int kTimedPerSide = 3;
  std::vector<double> ta, tb, ratio;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    ta.push_back(MedianSeconds(kTimedPerSide, a));
    tb.push_back(MedianSeconds(kTimedPerSide, b));
    ratio.push_back(ta.back() / tb.back());
  }
  return {MedianOf(ta), MedianOf(tb), MedianOf(ratio)};
}

}  // namespace edlae

#endif  // EDLAE_BENCH_MEDIAN_TIME_H_
