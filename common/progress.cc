// ProgressMeter: percent, elapsed time and ETA of a long phase, in place on a
// terminal.
#include "common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/str_format.h"

namespace edlae {

std::optional<ProgressMode> ParseProgressMode(std::string_view name) {
  if (name == "auto") return ProgressMode::kAuto;
  if (name == "always") return ProgressMode::kAlways;
  if (name == "never") return ProgressMode::kNever;
  return std::nullopt;
}

ProgressMeter::ProgressMeter(std::ostream* log, std::string what, size_t total,
                             ProgressMode mode,
                             std::chrono::milliseconds interval)
    : log_(log), what_(std::move(what)), total_(total) {
  using std::chrono::milliseconds;
  const bool terminal = log != nullptr &&
                        (log == &std::cerr || log == &std::clog) &&
                        isatty(STDERR_FILENO) == 1;
  if (mode == ProgressMode::kNever || total == 0 ||
      (mode == ProgressMode::kAuto && !terminal)) {
    log_ = nullptr;
  }
  in_place_ = terminal;
  interval_ = interval.count() > 0 ? interval
              : in_place_          ? milliseconds(500)
                                   : milliseconds(10000);
  check_every_ = std::max<size_t>(1, total / 1000);
  start_ = last_print_ = std::chrono::steady_clock::now();
}

ProgressMeter::~ProgressMeter() { Finish(); }

void ProgressMeter::Add(size_t units) {
  const size_t before = done_.fetch_add(units, std::memory_order_relaxed);
  if (log_ == nullptr) return;
  // Read the clock only when this call crossed a multiple of check_every_.
  if ((before + units) / check_every_ == before / check_every_) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || finished_ || now - last_print_ < interval_) {
    return;
  }
  last_print_ = now;
  Print(before + units);
}

void ProgressMeter::Finish() {
  if (log_ == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (in_place_ && printed_) *log_ << "\r\033[K" << std::flush;
}

void ProgressMeter::Print(size_t done) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  const double fraction =
      total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / total_);
  std::string eta = "?";
  if (fraction > 0) {
    eta = absl::StrFormat("%.0f s", elapsed / fraction - elapsed);
  }
  const std::string line =
      absl::StrFormat("[%s] %5.1f%% (%d of %d), %.0f s elapsed, ETA %s", what_,
                      100 * fraction, done, total_, elapsed, eta);
  if (in_place_) {
    *log_ << "\r\033[K" << line << std::flush;
  } else {
    *log_ << line << "\n" << std::flush;
  }
  printed_ = true;
}

}  // namespace edlae
