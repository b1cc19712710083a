// Train pipeline: Gram matrix, closed-form solve, atomic model write; phase
// timings go to the log stream.
#include "trainer/train.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/seconds_since.h"
#include "core/model_writer.h"
#include "core/status_macros.h"
#include "core/weight_rows.h"
#include "trainer/gram.h"
#include "trainer/sparse_low_rank.h"

namespace edlae {
namespace {

}  // namespace

size_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

size_t CurrentRssBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return static_cast<size_t>(resident) *
         static_cast<size_t>(sysconf(_SC_PAGESIZE));
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
    return absl::UnavailableError(
        "cannot read MemAvailable from /proc/meminfo");
  }
  // A container's limit is usually far below the host's free memory.
  auto cap = [&](std::optional<uint64_t> limit, std::optional<uint64_t> used) {
    if (limit.has_value() && used.has_value() && *limit < (uint64_t{1} << 60)) {
      available =
          std::min<uint64_t>(*available, *limit > *used ? *limit - *used : 0);
    }
  };
  cap(ReadNumberFile("/sys/fs/cgroup/memory.max"),
      ReadNumberFile("/sys/fs/cgroup/memory.current"));
  cap(ReadNumberFile("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
      ReadNumberFile("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
  return static_cast<size_t>(*available);
}

namespace {

// The Gram matrix in the precision the solve needs, and diag G.
struct GramData {
  std::vector<double> gram;   // float64 solves
  std::vector<float> gram_f;  // full rank in float32 (UsesFloatGram)
  std::vector<float> popularity;
};

GramData ComputeGramData(const Interactions& x, bool float_gram,
                         int num_threads) {
  GramData g;
  const size_t n = x.num_items();
  if (float_gram) {
    g.gram_f = ComputeGramFloat(x, num_threads);
    g.popularity = PopularityFromGram(g.gram_f, n);
  } else {
    g.gram = ComputeGram(x, num_threads);
    g.popularity = PopularityFromGram(g.gram, n);
  }
  return g;
}

void LogPlan(const Interactions& x, const ModelSpec& spec, bool float_gram,
             std::ostream* log) {
  if (!log) return;
  const size_t n = x.num_items();
  const double matrix_gib =
      static_cast<double>(n) * n * (float_gram ? 4 : 8) / (1 << 30);
  *log << absl::StrFormat(
      "[train] %s on %d users × %d items (%d interactions); dense %d² matrix "
      "needs %.2f GiB in %s\n",
      AlgorithmName(spec.algorithm), x.num_users(), n, x.num_interactions(), n,
      matrix_gib, float_gram ? "float32" : "float64");
}

TrainingFacts FactsOf(const Interactions& x, const TrainReport& report,
                      const std::string& source) {
  TrainingFacts facts;
  facts.num_users = x.num_users();
  facts.num_items = x.num_items();
  facts.num_interactions = x.num_interactions();
  facts.train_seconds = report.gram_seconds + report.solve_seconds;
  facts.source = source;
  return facts;
}

void LogWrite(const TrainOptions& options, double seconds) {
  if (!options.log) return;
  *options.log << absl::StrFormat("[train] write (%s): %.3f s → %s\n",
                                  DTypeName(options.storage), seconds,
                                  options.out_path);
}

// SolveLowRank on the float64 Gram matrix, then the low-rank file.
absl::Status SolveAndWriteLowRank(const Interactions& x,
                                  const TrainOptions& options, GramData g,
                                  TrainReport* report) {
  const ModelSpec& spec = options.spec;
  const size_t n = x.num_items();
  std::ostream* log = options.log;
  if (log && spec.precision != Precision::kFloat64) {
    *log << "[train] note: low-rank solvers compute in float64\n";
  }
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<LowRankResult> lr = SolveLowRank(
      std::move(g.gram), n, SolverOptionsFor(spec, options.num_threads),
      LowRankOptionsFor(spec), log);
  if (!lr.ok()) return lr.status();
  report->solve_seconds = SecondsSince(start);
  report->rank = lr->k;
  report->eigen_relative_residual = lr->eigen_relative_residual;
  report->objectives = lr->objectives;
  report->dense_buffers = lr->dense_buffers;
  if (log) {
    *log << absl::StrFormat(
        "[train] low-rank %s (rank %d): %.3f s, %d dense %d² buffer(s) of "
        "float64\n",
        LowRankMethodName(spec.method), lr->k, report->solve_seconds,
        lr->dense_buffers, n);
  }
  start = std::chrono::steady_clock::now();
  LowRankModelData data;
  data.rank = lr->k;
  data.u = lr->u;
  data.v = lr->v;
  data.item_ids = x.item_ids;
  data.popularity = std::move(g.popularity);
  data.metadata =
      BuildModelMetadata(spec, FactsOf(x, *report, options.source), &*lr);
  data.dtype = options.storage;
  if (absl::Status s = WriteLowRankModel(options.out_path, data); !s.ok()) {
    return s;
  }
  report->write_seconds = SecondsSince(start);
  LogWrite(options, report->write_seconds);
  return absl::OkStatus();
}

// SolveFullRank (float64, or float32 in place), then the dense file.
absl::Status SolveAndWriteFullRank(const Interactions& x,
                                   const TrainOptions& options, GramData g,
                                   TrainReport* report) {
  const ModelSpec& spec = options.spec;
  const size_t n = x.num_items();
  SolverOptions solver = SolverOptionsFor(spec, options.num_threads);
  solver.log = options.log;
  solver.progress = options.progress;
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<float>> b =
      g.gram.empty() ? SolveFullRank(std::move(g.gram_f), n, solver)
                     : SolveFullRank(std::move(g.gram), n, solver);
  if (!b.ok()) return b.status();
  report->solve_seconds = SecondsSince(start);
  if (options.log) {
    *options.log << absl::StrFormat(
        "[train] factorize, invert (blocked Cholesky, %s) and B: %.3f s\n",
        PrecisionName(spec.precision), report->solve_seconds);
  }
  start = std::chrono::steady_clock::now();
  DenseModelData data;
  data.b = *std::move(b);
  data.item_ids = x.item_ids;
  data.popularity = std::move(g.popularity);
  data.metadata = BuildModelMetadata(spec, FactsOf(x, *report, options.source));
  data.dtype = options.storage;
  if (absl::Status s = WriteDenseModel(options.out_path, data); !s.ok()) {
    return s;
  }
  report->write_seconds = SecondsSince(start);
  LogWrite(options, report->write_seconds);
  return absl::OkStatus();
}

// TrainSparseLowRank (Algorithm 1 / low-rank DLAE matrix-free on the sparse
// factor of G + Λ), then the low-rank file.
absl::Status TrainAndWriteSparseLowRank(const Interactions& x,
                                        const TrainOptions& options,
                                        TrainReport* report) {
  ModelSpec spec = options.spec;
  spec.precision = Precision::kFloat64;  // what the sparse solver computes in
  SparseLowRankOptions o;
  o.min_cooccurrence = options.sparse->min_cooccurrence;
  o.num_threads = options.sparse->num_threads > 0 ? options.sparse->num_threads
                                                  : options.num_threads;
  o.memory_limit_bytes = options.sparse->memory_limit_bytes;
  if (options.log) {
    *options.log << absl::StrFormat(
        "[train] %s rank %d closed form on the sparse factor (matrix-free), "
        "%d users × %d items (%d interactions), min co-occurrence %d\n",
        AlgorithmName(spec.algorithm), spec.rank, x.num_users(), x.num_items(),
        x.num_interactions(), o.min_cooccurrence);
  }
  absl::StatusOr<SparseLowRankResult> r =
      TrainSparseLowRank(x, spec, o, options.log);
  if (!r.ok()) return r.status();
  const SparseLowRankReport& rr = r->report;
  report->gram_seconds = rr.gram_seconds;
  report->solve_seconds =
      rr.factor_seconds + rr.diag_seconds + rr.eigen_seconds + rr.u_seconds;
  report->rank = r->low_rank.k;
  report->eigen_relative_residual = r->low_rank.eigen_relative_residual;
  report->dense_buffers = 0;
  const auto start = std::chrono::steady_clock::now();
  LowRankModelData data;
  data.rank = r->low_rank.k;
  data.u = r->low_rank.u;
  data.v = r->low_rank.v;
  data.item_ids = x.item_ids;
  data.popularity = r->popularity;
  data.metadata = BuildModelMetadata(spec, FactsOf(x, *report, options.source),
                                     &r->low_rank);
  for (auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"sparse_method", "cholmod-selected-inversion-krylov"},
           {"nnz_factor", absl::StrCat(rr.nnz_factor)},
           {"min_cooccurrence", absl::StrCat(o.min_cooccurrence)}}) {
    data.metadata.emplace_back(std::move(key), std::move(value));
  }
  data.dtype = options.storage;
  RETURN_IF_ERROR(WriteLowRankModel(options.out_path, data));
  report->write_seconds = SecondsSince(start);
  LogWrite(options, report->write_seconds);
  return absl::OkStatus();
}

// TrainSparse, then the sparse file.
absl::Status TrainAndWriteSparse(const Interactions& x,
                                 const TrainOptions& options,
                                 TrainReport* report) {
  ModelSpec spec = options.spec;
  if (spec.rank > 0) {
    return absl::InvalidArgumentError(
        "sparse training is full rank only (rank must be 0)");
  }
  spec.precision = Precision::kFloat64;  // what the sparse solver computes in
  SparseTrainOptions sparse = *options.sparse;
  if (sparse.num_threads == 0) sparse.num_threads = options.num_threads;
  if (options.log) {
    *options.log << absl::StrFormat(
        "[train] %s sparse on %d users × %d items (%d interactions), density "
        "%g, min co-occurrence %d, gram density %g\n",
        AlgorithmName(spec.algorithm), x.num_users(), x.num_items(),
        x.num_interactions(), sparse.density, sparse.min_cooccurrence,
        sparse.gram_density);
  }
  absl::StatusOr<SparseModel> model = TrainSparse(x, spec, sparse, options.log);
  if (!model.ok()) return model.status();
  const SparseTrainReport& r = model->report;
  report->gram_seconds = r.gram_seconds;
  report->solve_seconds = r.factor_seconds + r.inverse_seconds + r.b_seconds +
                          r.neighborhood_seconds;
  report->sparse = r;
  const auto start = std::chrono::steady_clock::now();
  SparseModelData data = model->View(x.item_ids);
  data.metadata = BuildModelMetadata(spec, FactsOf(x, *report, options.source));
  const bool neighborhoods = r.method == "neighborhoods";
  for (auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"sparse_method", neighborhoods ? "neighborhood-regressions"
                             : r.factorization == "incomplete"
                                 ? "incomplete-cholesky-pruned-inverse"
                                 : "cholmod-llt-pruned-inverse"},
           {"density", MetadataNumber(sparse.density)},
           // What shaped B: the neighborhoods' size and row cap, or the
           // inverse factor's width and drop tolerance.
           {neighborhoods ? "neighbors" : "inverse_keep",
            absl::StrCat(neighborhoods ? r.neighbors : r.inverse_keep)},
           {neighborhoods ? "max_per_row" : "drop_tolerance",
            neighborhoods ? absl::StrCat(r.max_per_row)
                          : MetadataNumber(r.drop_tolerance)},
           {"min_cooccurrence", absl::StrCat(sparse.min_cooccurrence)},
           {"gram_density", MetadataNumber(sparse.gram_density)},
           {"nnz", absl::StrCat(r.nnz_b)}}) {
    data.metadata.emplace_back(std::move(key), std::move(value));
  }
  data.dtype = options.storage;
  RETURN_IF_ERROR(WriteSparseModel(options.out_path, data));
  report->write_seconds = SecondsSince(start);
  LogWrite(options, report->write_seconds);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TrainReport> TrainAndWrite(const Interactions& x,
                                          const TrainOptions& options) {
  TrainReport report;
  report.num_users = x.num_users();
  report.num_items = x.num_items();
  report.num_interactions = x.num_interactions();
  if (x.num_items() == 0) {
    return absl::InvalidArgumentError("no items to train on");
  }
  if (options.sparse.has_value()) {
    RETURN_IF_ERROR(options.spec.rank > 0
                        ? TrainAndWriteSparseLowRank(x, options, &report)
                        : TrainAndWriteSparse(x, options, &report));
    return report;
  }
  const ModelSpec& spec = options.spec;
  // Full rank in float32: G straight in float, no n² doubles at all.
  const bool float_gram = UsesFloatGram(
      x.num_users(), SolverOptionsFor(spec, options.num_threads), spec.rank);
  LogPlan(x, spec, float_gram, options.log);

  const auto start = std::chrono::steady_clock::now();
  GramData g = ComputeGramData(x, float_gram, options.num_threads);
  report.gram_seconds = SecondsSince(start);
  if (options.log) {
    *options.log << absl::StrFormat("[train] gram: %.3f s\n",
                                    report.gram_seconds);
  }
  RETURN_IF_ERROR(
      spec.rank > 0 ? SolveAndWriteLowRank(x, options, std::move(g), &report)
                    : SolveAndWriteFullRank(x, options, std::move(g), &report));
  return report;
}

absl::Status CheckStorage(DType storage, bool sparse) {
  if (storage == DType::kInt8 && sparse) {
    return absl::InvalidArgumentError(
        "int8 storage is for dense and low-rank models; store sparse ones as "
        "f32, f16 or bf16");
  }
  return absl::OkStatus();
}

absl::Status CheckSparseTraining(const ModelSpec& spec, bool shaped) {
  if (spec.rank > 0) {
    if (shaped) {
      return absl::InvalidArgumentError(
          "--density, --gram-density, --sparse-method, "
          "--neighborhood-factor and --factorization shape a sparse "
          "full-rank B; with "
          "--rank, --sparse trains U and V on the exact sparse factor (and "
          "--min-cooccurrence may thin G)");
    }
    if (spec.method != LowRankMethod::kClosedForm ||
        (spec.algorithm != Algorithm::kEdlae &&
         spec.algorithm != Algorithm::kDlae)) {
      return absl::InvalidArgumentError(
          "--sparse --rank trains --model edlae or dlae with --method "
          "closed-form only");
    }
  }
  if (spec.algorithm == Algorithm::kZeroDiag) {
    return absl::InvalidArgumentError(
        "--model zero-diag has no sparse trainer (use ease, edlae or dlae)");
  }
  return absl::OkStatus();
}

MemoryBudget TrainingMemoryBudget(const Interactions& x,
                                  const TrainOptions& options,
                                  size_t limit_bytes) {
  MemoryBudget budget;
  budget.num_items = x.num_items();
  if (!options.sparse.has_value()) {
    budget.need = EstimateTrainingBytes(
        x.num_items(), x.num_interactions() * 2 * sizeof(uint32_t),
        UsesFloatGram(x.num_users(),
                      SolverOptionsFor(options.spec, options.num_threads),
                      options.spec.rank));
  }
  if (limit_bytes > 0) {
    budget.limit = limit_bytes;
    budget.limit_given = true;
  } else if (absl::StatusOr<size_t> available = AvailableMemoryBytes();
             available.ok()) {
    budget.limit = *available;
  }
  return budget;
}

absl::Status ApplyMemoryBudget(const MemoryBudget& budget, bool skip_check,
                               TrainOptions& options) {
  if (skip_check || !budget.limit.has_value()) return absl::OkStatus();
  if (options.sparse.has_value()) {
    options.sparse->memory_limit_bytes =
        budget.limit_given ? *budget.limit : *budget.limit + CurrentRssBytes();
    return absl::OkStatus();
  }
  if (budget.need > *budget.limit) {
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "training %d items needs about %.2f GiB but only %.2f GiB is %s",
        budget.num_items, budget.need / kGiB, *budget.limit / kGiB,
        budget.limit_given ? "allowed" : "available"));
  }
  return absl::OkStatus();
}

}  // namespace edlae
