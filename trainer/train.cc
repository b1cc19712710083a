// Train pipeline: Gram matrix, closed-form solve, atomic model write; phase timings go to the log stream.
#include "trainer/train.h"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_format.h"
#include "core/model_writer.h"
#include "core/utf8.h"
#include "core/weight_rows.h"
#include "trainer/gram.h"

namespace edlae {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string NowRfc3339() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// `text` with every byte that breaks UTF-8 replaced by '?', so a file name in
// another encoding cannot make the metadata unwritable.
std::string ToUtf8Lossy(const std::string& text) {
  if (IsValidUtf8(text)) return text;
  std::string out;
  for (char c : text) out.push_back(static_cast<unsigned char>(c) < 0x80 ? c : '?');
  return out;
}

// Shortest text that reads back as the same double.

}  // namespace

std::string MetadataNumber(double v) {
  // std::to_chars without a format: the shortest round-trip form, fixed or
  // scientific, whichever is shorter ("500", "0.2", "1e-300").
  char buf[64];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

size_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

namespace {

// The first whitespace-separated number in `path` (e.g. a cgroup file), or
// nullopt when it is absent, unreadable or "max".
std::optional<uint64_t> ReadNumberFile(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  uint64_t value = 0;
  if (!(in >> word) || !absl::SimpleAtoi(word, &value)) return std::nullopt;
  return value;
}

}  // namespace

bool UsesFloatGram(size_t num_users, const SolverOptions& options,
                   size_t rank) {
  return rank == 0 && options.precision == Precision::kFloat32 &&
         num_users < (size_t{1} << 24);
}

size_t EstimateTrainingBytes(size_t num_items, size_t interaction_bytes,
                             bool float_gram) {
  const double n = static_cast<double>(num_items);
  const double bytes = (float_gram ? 4.0 : 12.0) * n * n + 64.0 * (1 << 20) +
                       static_cast<double>(interaction_bytes);
  return bytes >= static_cast<double>(SIZE_MAX) ? SIZE_MAX
                                                : static_cast<size_t>(bytes);
}

absl::StatusOr<size_t> AvailableMemoryBytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::optional<uint64_t> available;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") {
      available = kib * 1024;
      break;
    }
    meminfo.ignore(256, '\n');
  }
  if (!available.has_value()) {
    return absl::UnavailableError("cannot read MemAvailable from /proc/meminfo");
  }
  // A container's limit is usually far below the host's free memory.
  auto cap = [&](std::optional<uint64_t> limit, std::optional<uint64_t> used) {
    if (limit.has_value() && used.has_value() && *limit < (uint64_t{1} << 60)) {
      available = std::min<uint64_t>(*available,
                                     *limit > *used ? *limit - *used : 0);
    }
  };
  cap(ReadNumberFile("/sys/fs/cgroup/memory.max"),
      ReadNumberFile("/sys/fs/cgroup/memory.current"));
  cap(ReadNumberFile("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
      ReadNumberFile("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
  return static_cast<size_t>(*available);
}

absl::StatusOr<TrainReport> TrainAndWrite(const Interactions& x,
                                          const SolverOptions& options,
                                          const std::string& source,
                                          int num_threads,
                                          const std::string& out_path,
                                          std::ostream* log) {
  return TrainAndWrite(x, options, LowRankOptions{}, source, num_threads,
                       out_path, log);
}

absl::StatusOr<TrainReport> TrainAndWrite(const Interactions& x,
                                          const SolverOptions& options,
                                          const LowRankOptions& low_rank,
                                          const std::string& source,
                                          int num_threads,
                                          const std::string& out_path,
                                          std::ostream* log, DType storage) {
  TrainReport report;
  report.num_users = x.num_users();
  report.num_items = x.num_items();
  report.num_interactions = x.num_interactions();
  const size_t n = x.num_items();
  if (n == 0) return absl::InvalidArgumentError("no items to train on");
  // Full rank in float32: G straight in float, no n² doubles at all.
  const bool float_gram = UsesFloatGram(x.num_users(), options, low_rank.rank);
  const double matrix_gib =
      static_cast<double>(n) * n * (float_gram ? 4 : 8) / (1 << 30);
  if (log) {
    *log << absl::StrFormat(
        "[train] %s on %d users × %d items (%d interactions); dense %d² matrix "
        "needs %.2f GiB in %s\n",
        AlgorithmName(options.algorithm), x.num_users(), n,
        x.num_interactions(), n, matrix_gib, float_gram ? "float32" : "float64");
  }

  auto start = std::chrono::steady_clock::now();
  std::vector<double> gram;
  std::vector<float> gram_f;
  std::vector<float> popularity;
  if (float_gram) {
    gram_f = ComputeGramFloat(x, num_threads);
    popularity = PopularityFromGram(gram_f, n);
  } else {
    gram = ComputeGram(x, num_threads);
    popularity = PopularityFromGram(gram, n);
  }
  report.gram_seconds = SecondsSince(start);
  if (log) *log << absl::StrFormat("[train] gram: %.3f s\n", report.gram_seconds);

  SolverOptions solver = options;
  solver.num_threads = num_threads;
  const double dropout =
      options.algorithm == Algorithm::kEase ? 0.0 : options.dropout;
  std::vector<std::pair<std::string, std::string>> metadata = {
      {"algorithm", AlgorithmName(options.algorithm)},
      {"lambda", MetadataNumber(options.lambda)},
      {"dropout", MetadataNumber(dropout)},
      {"precision", low_rank.rank > 0 ? "float64"
                                      : PrecisionName(options.precision)},
      {"num_users", absl::StrCat(x.num_users())},
      {"num_items", absl::StrCat(n)},
      {"num_interactions", absl::StrCat(x.num_interactions())},
      {"created_at", NowRfc3339()},
  };
  auto finish_metadata = [&] {
    metadata.push_back(
        {"train_seconds",
         absl::StrFormat("%.3f", report.gram_seconds + report.solve_seconds)});
    metadata.push_back({"source", ToUtf8Lossy(source)});
    metadata.push_back({"edlae_version", EDLAE_VERSION});
  };

  start = std::chrono::steady_clock::now();
  if (low_rank.rank > 0) {
    if (log && options.precision != Precision::kFloat64) {
      *log << "[train] note: low-rank solvers compute in float64\n";
    }
    absl::StatusOr<LowRankResult> lr =
        SolveLowRank(std::move(gram), n, solver, low_rank, log);
    if (!lr.ok()) return lr.status();
    report.solve_seconds = SecondsSince(start);
    report.rank = lr->k;
    report.eigen_relative_residual = lr->eigen_relative_residual;
    report.objectives = lr->objectives;
    report.dense_buffers = lr->dense_buffers;
    if (log) {
      *log << absl::StrFormat(
          "[train] low-rank %s (rank %d): %.3f s, %d dense %d² buffer(s) of "
          "float64\n",
          LowRankMethodName(low_rank.method), lr->k, report.solve_seconds,
          lr->dense_buffers, n);
    }
    metadata.push_back({"rank", absl::StrCat(lr->k)});
    metadata.push_back({"method", LowRankMethodName(low_rank.method)});
    if (low_rank.method == LowRankMethod::kClosedForm) {
      metadata.push_back({"eigensolver", EigenMethodName(lr->eigensolver)});
      metadata.push_back(
          {"eigen_residual", absl::StrFormat("%.6g", lr->eigen_relative_residual)});
    } else {
      metadata.push_back({"epochs", absl::StrCat(low_rank.epochs)});
      if (low_rank.method == LowRankMethod::kAdmm) {
        metadata.push_back({"omega", MetadataNumber(low_rank.omega)});
      }
      if (!lr->objectives.empty()) {
        metadata.push_back({"objective", MetadataNumber(lr->objectives.back())});
      }
    }
    finish_metadata();
    start = std::chrono::steady_clock::now();
    LowRankModelData data;
    data.rank = lr->k;
    data.u = lr->u;
    data.v = lr->v;
    data.item_ids = x.item_ids;
    data.popularity = popularity;
    data.metadata = std::move(metadata);
    data.dtype = storage;
    if (absl::Status s = WriteLowRankModel(out_path, data); !s.ok()) return s;
    report.write_seconds = SecondsSince(start);
    if (log) {
      *log << absl::StrFormat("[train] write (%s): %.3f s → %s\n",
                              DTypeName(storage), report.write_seconds,
                              out_path);
    }
    return report;
  }

  absl::StatusOr<std::vector<float>> b =
      float_gram ? SolveFullRank(std::move(gram_f), n, solver)
                 : SolveFullRank(std::move(gram), n, solver);
  if (!b.ok()) return b.status();
  report.solve_seconds = SecondsSince(start);
  if (log) {
    *log << absl::StrFormat("[train] factorize (potrf+potri, %s) and B: %.3f s\n",
                            PrecisionName(options.precision),
                            report.solve_seconds);
  }

  start = std::chrono::steady_clock::now();
  DenseModelData data;
  data.b = *b;
  data.item_ids = x.item_ids;
  data.popularity = popularity;
  finish_metadata();
  data.metadata = std::move(metadata);
  data.dtype = storage;
  if (absl::Status s = WriteDenseModel(out_path, data); !s.ok()) return s;
  report.write_seconds = SecondsSince(start);
  if (log) {
    *log << absl::StrFormat("[train] write (%s): %.3f s → %s\n",
                            DTypeName(storage), report.write_seconds, out_path);
  }
  return report;
}

}  // namespace edlae
