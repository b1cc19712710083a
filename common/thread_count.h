// The one rule for "how many threads": a positive request as given, anything
// else all cores.
#ifndef EDLAE_COMMON_THREAD_COUNT_H_
#define EDLAE_COMMON_THREAD_COUNT_H_

#include <algorithm>
#include <thread>

namespace edlae {

// The number of hardware threads, at least 1.
inline int HardwareThreads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// `requested` when positive; 0 (or less) means "all cores". Callers that must
// refuse a negative count validate it before (flag parsing does).
inline int ResolveThreadCount(int requested) {
  return requested > 0 ? requested : HardwareThreads();
}

}  // namespace edlae

#endif  // EDLAE_COMMON_THREAD_COUNT_H_
