// edlae-client bench: a bounded closed-loop load generator over real gRPC that
// reports QPS and latency percentiles.
#ifndef EDLAE_CLIENT_BENCH_H_
#define EDLAE_CLIENT_BENCH_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/recommender_client.h"

namespace edlae::client {

struct BenchOptions {
  int concurrency = 4;      // callers, each with one call in flight
  int64_t requests = 1000;  // total calls (the loop stops at either bound)
  absl::Duration max_duration = absl::Seconds(60);
  int history_len = 10;  // history items per call
  uint32_t top_n = 10;
  // The model every call asks (default: the server's default model).
  ModelSelector model;
  absl::Duration timeout = absl::Seconds(5);  // per call
  // History ids are drawn uniformly from these (with a fixed seed per caller).
  std::vector<std::string> item_ids;
  // After an UNAVAILABLE answer a caller sleeps a random time in
  // [0, min(backoff_max, backoff_initial · 2^(k-1))] before its next call
  // (k: consecutive UNAVAILABLE answers; "full jitter"), never past
  // max_duration; any other answer resets k.
  absl::Duration backoff_initial = absl::Milliseconds(20);
  absl::Duration backoff_max = absl::Seconds(1);
};

struct BenchReport {
  int64_t calls = 0;     // calls made, whatever their status
  int64_t ok_calls = 0;  // calls answered OK
  double seconds = 0;
  double qps = 0;  // OK calls per second: failed calls are not throughput
  // Latency percentiles of the OK calls (0 when there were none).
  double p50_us = 0, p95_us = 0, p99_us = 0, max_us = 0;
  std::map<std::string, int64_t> status_counts;  // "OK", "UNAVAILABLE", ...
  // Over the OK calls: history ids sent, and how many of them the model did
  // not know (RecommendResponse.unknown_item_count).
  int64_t history_ids_sent = 0;
  int64_t unknown_history_ids = 0;
  int64_t backoffs = 0;  // sleeps after UNAVAILABLE
};

// Runs the load against `client` (thread-safe: shared by all callers) and
// measures each call's latency on the client. InvalidArgument for options out
// of range (concurrency 1..1024, requests >= 1, no item ids).
absl::StatusOr<BenchReport> RunBench(const RecommenderClient& client,
                                     const BenchOptions& options);

// "calls=… ok_calls=… seconds=… qps=… p50_us=… p95_us=… p99_us=… max_us=…
// unknown_ids=…/… OK=… …" (qps and the percentiles of OK calls only).
std::string FormatBenchReport(const BenchReport& report);

// True when more than half of the history ids sent in OK calls were unknown
// to the model: the histories were mostly noise (popularity fallbacks).
bool MostIdsUnknown(const BenchReport& report);

}  // namespace edlae::client

#endif  // EDLAE_CLIENT_BENCH_H_
