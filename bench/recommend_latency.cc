// In-process Recommend latency of any model file (dense, low-rank, sparse): histories drawn by popularity, p50/p99;
// for dense models also the time to read the same number of rows (a streaming read of the bytes a call needs).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "core/model.h"
#include "core/model_format.h"
#include "core/scorer.h"
#include "core/weight_rows.h"

ABSL_FLAG(std::string, model_file, "", "model file to open (required)");
ABSL_FLAG(int, history, 50, "items per history");
ABSL_FLAG(int, top_n, 100, "items returned");
ABSL_FLAG(int, calls, 1000, "timed calls (after 50 warm-up calls)");
ABSL_FLAG(bool, snapshot, false, "read the file into memory (as the server's default) instead of mmap");
ABSL_FLAG(uint64_t, seed, 1, "history seed");
ABSL_FLAG(int, batch, 0,
          "also time RecommendMany on this many histories at once (one shared "
          "pass) against as many Recommend calls on the same histories, "
          "interleaved (0: skip)");
ABSL_FLAG(bool, uniform, false,
          "draw history items uniformly instead of by popularity");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_model_file);
  if (path.empty()) {
    std::fprintf(stderr, "--model_file is required\n");
    return 2;
  }
  edlae::ModelOpenOptions open;
  open.snapshot = absl::GetFlag(FLAGS_snapshot);
  const auto open_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<const edlae::Model>> model =
      edlae::Model::Open(path, open);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  const double open_seconds = std::chrono::duration<double>(
                                  std::chrono::steady_clock::now() - open_start)
                                  .count();
  const edlae::Model& m = **model;
  const size_t n = m.num_items();
  // Histories as users have them: items drawn by training popularity.
  std::vector<double> weights(m.popularity().begin(), m.popularity().end());
  for (double& w : weights) w = absl::GetFlag(FLAGS_uniform) ? 1.0 : std::max(w, 1e-3);
  std::discrete_distribution<uint32_t> pick(weights.begin(), weights.end());
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  const int h = absl::GetFlag(FLAGS_history);
  const int calls = absl::GetFlag(FLAGS_calls);
  edlae::RecommendOptions options;
  options.top_n = static_cast<size_t>(absl::GetFlag(FLAGS_top_n));
  std::vector<double> micros;
  // Dense: per call, the time to read another history's rows (drawn alike, so
  // as often cache-resident as the scored ones): the memory-bandwidth bound.
  std::vector<double> read_micros;
  const bool dense = m.kind() == edlae::ModelKind::kDense;
  const edlae::WeightRows rows = dense ? m.dense_rows() : edlae::WeightRows{};
  const size_t row_words = dense ? n * edlae::DTypeSize(rows.dtype) / 8 : 0;
  uint64_t sink = 0;
  size_t returned = 0;
  for (int c = -50; c < calls; ++c) {
    std::vector<edlae::HistoryEntry> history;
    for (int k = 0; k < h; ++k) history.push_back({pick(rng), 1.0f});
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<edlae::Recommendation> r =
        edlae::Recommend(m, history, options);
    const double us = std::chrono::duration<double, std::micro>(
                          std::chrono::steady_clock::now() - start)
                          .count();
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
      return 1;
    }
    if (c >= 0) {
      micros.push_back(us);
      returned += r->items.size();
    }
    if (dense) {
      const auto read_start = std::chrono::steady_clock::now();
      for (int k = 0; k < h; ++k) {
        const uint64_t* words = static_cast<const uint64_t*>(rows.row(pick(rng)));
        uint64_t x = 0;
        for (size_t w = 0; w < row_words; ++w) x += words[w];
        sink += x;
      }
      const double read_us = std::chrono::duration<double, std::micro>(
                                 std::chrono::steady_clock::now() - read_start)
                                 .count();
      if (c >= 0) read_micros.push_back(read_us);
    }
  }
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) {
    return micros[std::min(micros.size() - 1,
                           static_cast<size_t>(q * micros.size()))];
  };
  double mean = 0;
  for (double us : micros) mean += us / micros.size();
  std::printf(
      "%s: %s, %zu items, %s open in %.2f s; history %d, top %d, %d calls: "
      "p50 %.0f µs, p90 %.0f µs, p99 %.0f µs, mean %.0f µs (%.1f items "
      "returned per call)\n",
      path.c_str(), std::string(edlae::ModelKindName(m.kind())).c_str(), n,
      open.snapshot ? "snapshot" : "mmap", open_seconds, h,
      absl::GetFlag(FLAGS_top_n), calls, at(0.5), at(0.9), at(0.99), mean,
      static_cast<double>(returned) / calls);
  if (dense) {
    std::sort(read_micros.begin(), read_micros.end());
    std::printf(
        "reading %d rows of %zu bytes (%.2f MB): p50 %.0f µs (%.1f GB/s); "
        "Recommend p50 / read p50 = %.2f%s\n",
        h, row_words * 8, h * row_words * 8 / 1e6,
        read_micros[read_micros.size() / 2],
        h * row_words * 8 / 1e3 / read_micros[read_micros.size() / 2],
        at(0.5) / read_micros[read_micros.size() / 2], sink == 42 ? " " : "");
  }
  const int batch = absl::GetFlag(FLAGS_batch);
  if (batch > 0) {
    // Per request: µs of a shared pass (RecommendMany) and of one call each.
    std::vector<double> shared_us, alone_us;
    double rows_per_distinct = 0;
    for (int round = -5; round < std::max(1, calls / batch); ++round) {
      std::vector<std::vector<edlae::HistoryEntry>> histories(batch);
      std::vector<edlae::ScoringRequest> requests(batch);
      for (int b = 0; b < batch; ++b) {
        for (int k = 0; k < h; ++k) histories[b].push_back({pick(rng), 1.0f});
        requests[b].history = histories[b];
        requests[b].options = options;
      }
      // Alternate which goes first, so neither always finds the other's
      // rows in cache.
      const auto run_alone = [&] {
        for (int b = 0; b < batch; ++b) {
          if (!edlae::Recommend(m, histories[b], options).ok()) return false;
        }
        return true;
      };
      const auto t0 = std::chrono::steady_clock::now();
      bool ok = round % 2 == 0 || run_alone();
      const auto t1 = std::chrono::steady_clock::now();
      const auto many = edlae::RecommendMany(m, requests, batch);
      const auto t2 = std::chrono::steady_clock::now();
      ok = ok && (round % 2 != 0 || run_alone());
      const auto t3 = std::chrono::steady_clock::now();
      for (const auto& r : many) ok = ok && r.ok();
      if (!ok) {
        std::fprintf(stderr, "scoring failed\n");
        return 1;
      }
      std::vector<uint32_t> distinct;
      for (const auto& hist : histories)
        for (const auto& e : hist) distinct.push_back(e.index);
      std::sort(distinct.begin(), distinct.end());
      rows_per_distinct +=
          static_cast<double>(distinct.size()) /
          (std::unique(distinct.begin(), distinct.end()) - distinct.begin());
      if (round < 0) continue;
      shared_us.push_back(
          std::chrono::duration<double, std::micro>(t2 - t1).count() / batch);
      alone_us.push_back(std::chrono::duration<double, std::micro>(
                             (t1 - t0) + (t3 - t2))
                             .count() /
                         batch);
    }
    std::sort(shared_us.begin(), shared_us.end());
    std::sort(alone_us.begin(), alone_us.end());
    const double shared = shared_us[shared_us.size() / 2];
    const double alone = alone_us[alone_us.size() / 2];
    std::printf(
        "batch %d (%zu rounds, %s histories, %.2f history rows per distinct "
        "row): %.0f µs per request in a shared pass, %.0f µs alone: %.2fx\n",
        batch, shared_us.size(),
        absl::GetFlag(FLAGS_uniform) ? "uniform" : "popularity-drawn",
        rows_per_distinct / (shared_us.size() + 5), shared, alone,
        alone / shared);
  }
  return 0;
}
