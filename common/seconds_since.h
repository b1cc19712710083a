// SecondsSince: wall-clock seconds elapsed since a steady_clock time point, the one timer of every phase log.
#ifndef EDLAE_COMMON_SECONDS_SINCE_H_
#define EDLAE_COMMON_SECONDS_SINCE_H_

#include <chrono>

namespace edlae {

// Seconds from `start` to now on the monotonic clock. Thread-safe.
inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace edlae

#endif  // EDLAE_COMMON_SECONDS_SINCE_H_
