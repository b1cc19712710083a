// ProgressMeter: thread-safe progress of one long phase, with an ETA, on a log
// stream.
#ifndef EDLAE_COMMON_PROGRESS_H_
#define EDLAE_COMMON_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace edlae {

// When a phase reports its progress:
//  kAuto:   on a terminal (the log is std::cerr or std::clog and stderr is a
//           tty) one line rewritten in place (percent, elapsed, ETA);
//           otherwise nothing beyond the phase's own summary line.
//  kAlways: also when not a terminal: a full line every few seconds.
//  kNever:  nothing.
enum class ProgressMode { kAuto, kAlways, kNever };

// "auto" | "always" | "never"; nullopt for anything else.
std::optional<ProgressMode> ParseProgressMode(std::string_view name);

// Progress of `total` units of work, e.g. columns of a factor. Add() may be
// called from any thread, as often as per unit: it costs one atomic add, and
// the clock is read only every `total / 1000` units. Lines go to `log`
// (nothing when null) prefixed "[what] ", at most every `interval`
// (default: 0.5 s rewritten in place on a terminal, else 10 s). The
// destructor (or Finish) clears a rewritten line. Thread-safe; not copyable.
class ProgressMeter {
 public:
  ProgressMeter(std::ostream* log, std::string what, size_t total,
                ProgressMode mode = ProgressMode::kAuto,
                std::chrono::milliseconds interval = {});
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  void Add(size_t units);
  void Finish();

  // Whether anything will be printed (false: Add is just the counter).
  bool active() const { return log_ != nullptr; }

 private:
  void Print(size_t done);  // caller holds mu_

  std::ostream* log_;  // null when inactive
  std::string what_;
  size_t total_;
  bool in_place_ = false;  // rewrite one line with '\r'
  std::chrono::steady_clock::duration interval_{};
  size_t check_every_ = 1;
  std::chrono::steady_clock::time_point start_;
  std::atomic<size_t> done_{0};
  std::mutex mu_;  // guards last_print_, printed_ and the stream
  std::chrono::steady_clock::time_point last_print_;
  bool printed_ = false;
  bool finished_ = false;
};

}  // namespace edlae

#endif  // EDLAE_COMMON_PROGRESS_H_
