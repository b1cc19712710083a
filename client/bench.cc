// Closed-loop load: each caller sends its next call when the previous one
// answers; stops at a count or a time bound.
#include "client/bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edlae::client {
namespace {

double Percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1,
                            static_cast<size_t>(q * (sorted.size() - 1) + 0.5));
  return sorted[i];
}

}  // namespace

absl::StatusOr<BenchReport> RunBench(const RecommenderClient& client,
                                     const BenchOptions& options) {
  if (options.concurrency < 1 || options.concurrency > 1024) {
    return absl::InvalidArgumentError("--concurrency must be in [1, 1024]");
  }
  if (options.requests < 1) {
    return absl::InvalidArgumentError("--requests must be at least 1");
  }
  if (options.item_ids.empty()) {
    return absl::InvalidArgumentError("no item ids to build histories from");
  }
  std::atomic<int64_t> issued{0};
  std::mutex mu;
  std::vector<double> latencies_us;  // OK calls only
  BenchReport report;
  const auto start = std::chrono::steady_clock::now();
  const auto stop_at = start + absl::ToChronoNanoseconds(options.max_duration);
  auto caller = [&](int id) {
    std::mt19937_64 rng(1000 + id);
    std::vector<double> mine;
    std::map<std::string, int64_t> my_counts;
    int64_t sent = 0, unknown = 0, backoffs = 0;
    int unavailable_streak = 0;
    while (issued.fetch_add(1) < options.requests &&
           std::chrono::steady_clock::now() < stop_at) {
      v1::RecommendRequest request;
      for (int k = 0; k < options.history_len; ++k) {
        request.add_history_item_ids(
            options.item_ids[rng() % options.item_ids.size()]);
      }
      request.set_top_n(options.top_n);
      options.model.ApplyTo(&request);
      const auto t0 = std::chrono::steady_clock::now();
      absl::StatusOr<v1::RecommendResponse> response =
          client.Recommend(request, options.timeout);
      const auto t1 = std::chrono::steady_clock::now();
      ++my_counts[absl::StatusCodeToString(response.status().code())];
      if (response.ok()) {
        mine.push_back(
            std::chrono::duration<double, std::micro>(t1 - t0).count());
        sent += request.history_item_ids_size();
        unknown += response->unknown_item_count();
      }
      if (!absl::IsUnavailable(response.status())) {
        unavailable_streak = 0;
        continue;
      }
      // Bounded exponential backoff with full jitter, cut at the time bound.
      ++unavailable_streak;
      absl::Duration cap = options.backoff_initial;
      for (int k = 1; k < unavailable_streak && cap < options.backoff_max;
           ++k) {
        cap *= 2;
      }
      cap = std::min(cap, options.backoff_max);
      std::uniform_real_distribution<double> jitter(0.0, 1.0);
      auto wake = t1 + absl::ToChronoNanoseconds(cap * jitter(rng));
      wake = std::min(wake, stop_at);
      ++backoffs;
      std::this_thread::sleep_until(wake);
    }
    std::lock_guard<std::mutex> lock(mu);
    latencies_us.insert(latencies_us.end(), mine.begin(), mine.end());
    for (const auto& [code, n] : my_counts) {
      report.status_counts[code] += n;
      report.calls += n;
    }
    report.history_ids_sent += sent;
    report.unknown_history_ids += unknown;
    report.backoffs += backoffs;
  };
  std::vector<std::thread> callers;
  for (int c = 0; c < options.concurrency; ++c) callers.emplace_back(caller, c);
  for (std::thread& t : callers) t.join();

  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  report.ok_calls = static_cast<int64_t>(latencies_us.size());
  report.qps = report.seconds > 0 ? report.ok_calls / report.seconds : 0;
  std::sort(latencies_us.begin(), latencies_us.end());
  report.p50_us = Percentile(latencies_us, 0.50);
  report.p95_us = Percentile(latencies_us, 0.95);
  report.p99_us = Percentile(latencies_us, 0.99);
  report.max_us = latencies_us.empty() ? 0 : latencies_us.back();
  return report;
}

bool MostIdsUnknown(const BenchReport& r) {
  return r.history_ids_sent > 0 &&
         2 * r.unknown_history_ids > r.history_ids_sent;
}

std::string FormatBenchReport(const BenchReport& r) {
  std::string out = absl::StrFormat(
      "calls=%d ok_calls=%d seconds=%.3f qps=%.1f p50_us=%.0f p95_us=%.0f "
      "p99_us=%.0f max_us=%.0f unknown_ids=%d/%d",
      r.calls, r.ok_calls, r.seconds, r.qps, r.p50_us, r.p95_us, r.p99_us,
      r.max_us, r.unknown_history_ids, r.history_ids_sent);
  for (const auto& [code, n] : r.status_counts)
    absl::StrAppend(&out, " ", code, "=", n);
  return out;
}

}  // namespace edlae::client
