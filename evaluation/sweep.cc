// Rank sweep: one Gram matrix, every (method, rank) solved and scored through a
// mapped model file; tables, JSON.
#include "evaluation/sweep.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/seconds_since.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/status_macros.h"
#include "core/topn.h"
#include "trainer/full_rank_solver.h"
#include "trainer/gram.h"
#include "trainer/model_metadata.h"

namespace edlae {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kNeighbours = 10;

// Per item: median over its kNeighbours most similar items (largest entries
// of its column of B, itself excluded) of the cosine of the rows of `f`.
std::vector<double> MedianNeighbourCosines(const std::vector<float>& b,
                                           size_t n,
                                           const std::vector<float>& f,
                                           size_t k) {
  std::vector<double> norm(n);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t c = 0; c < k; ++c) s += double(f[i * k + c]) * f[i * k + c];
    norm[i] = std::sqrt(s);
  }
  std::vector<double> out(n, kNaN);
  std::vector<float> column(n);
  std::vector<double> cos;
  TopN top(kNeighbours);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) column[j] = b[j * n + i];
    column[i] = std::numeric_limits<float>::quiet_NaN();
    top.PushBlock(0, column.data(), n);
    cos.clear();
    for (const ScoredItem& s : top.TakeSorted()) {
      const size_t j = s.index;
      if (norm[i] == 0 || norm[j] == 0) continue;
      double dot = 0;
      for (size_t c = 0; c < k; ++c) dot += double(f[i * k + c]) * f[j * k + c];
      cos.push_back(dot / (norm[i] * norm[j]));
    }
    if (cos.empty()) continue;
    std::sort(cos.begin(), cos.end());
    const size_t m = cos.size();
    out[i] = m % 2 ? cos[m / 2] : (cos[m / 2 - 1] + cos[m / 2]) / 2;
  }
  return out;
}

// The Gram matrix every point is solved from, with what is derived from it.
struct SharedGram {
  std::vector<double> gram;
  std::vector<float> popularity;    // diag G
  std::vector<double> lambda_diag;  // diag Λ = λ + p/(1−p)·diag G
};

absl::Status ValidateSweepOptions(const SweepOptions& options) {
  if (options.methods.empty()) {
    return absl::InvalidArgumentError("sweep needs at least one method");
  }
  if (options.ranks.empty() && !options.full_rank) {
    return absl::InvalidArgumentError("sweep needs at least one rank");
  }
  if (!std::isfinite(options.lambda) || options.lambda < 0 ||
      !std::isfinite(options.dropout) || options.dropout < 0 ||
      options.dropout >= 1) {
    return absl::InvalidArgumentError("lambda must be >= 0, dropout in [0, 1)");
  }
  for (size_t k : options.ranks) {
    if (k == 0) return absl::InvalidArgumentError("ranks must be >= 1");
  }
  return absl::OkStatus();
}

// The ranks to sweep, sorted and unique; those above `n` go to `skipped`.
std::vector<size_t> SweepRanks(const std::vector<size_t>& requested, size_t n,
                               std::vector<size_t>* skipped) {
  std::vector<size_t> ranks;
  for (size_t k : requested) (k > n ? *skipped : ranks).push_back(k);
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

SharedGram ComputeSharedGram(const Interactions& train,
                             const SweepOptions& options) {
  const size_t n = train.num_items();
  SharedGram g;
  g.gram = ComputeGram(train, options.num_threads);
  g.popularity = PopularityFromGram(g.gram, n);
  g.lambda_diag.resize(n);
  const double ratio = options.dropout / (1 - options.dropout);
  for (size_t i = 0; i < n; ++i) {
    g.lambda_diag[i] = options.lambda + ratio * g.gram[i * n + i];
  }
  return g;
}

// The full model of `method` at `rank` (0: full rank) under `options`.
ModelSpec PointModel(const ModelSpec& method, size_t rank,
                     const SweepOptions& options) {
  ModelSpec model = method;
  model.rank = rank;
  model.lambda = options.lambda;
  model.dropout = options.dropout;
  model.precision = Precision::kFloat64;
  model.eigensolver = options.low_rank.eigensolver;
  model.epochs = options.low_rank.epochs;
  // Unset (or negative) ω: the default.
  model.omega = options.low_rank.omega > 0 ? options.low_rank.omega : 0;
  model.seed = options.low_rank.seed;
  return model;
}

// Trains one low-rank point, scores it through a model file and fills `p`.
absl::Status RunLowRankPoint(const SharedGram& g, const Interactions& train,
                             const HeldOutUsers& validation,
                             const HeldOutUsers& test,
                             const SweepOptions& options, SweepPoint* p,
                             LowRankResult* kept) {
  const size_t n = train.num_items();
  const ModelSpec& model = p->model;
  LowRankOptions lr = LowRankOptionsFor(model);
  lr.krylov = options.low_rank.krylov;
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(
      LowRankResult r,
      SolveLowRank(g.gram, n, SolverOptionsFor(model, options.num_threads), lr,
                   /*log=*/nullptr));
  p->train_seconds = SecondsSince(start);
  p->eq10_objective = kNaN;
  if (model.algorithm != Algorithm::kDlae) {
    std::vector<double> u(r.u.begin(), r.u.end()), v(r.v.begin(), r.v.end());
    p->eq10_objective = LowRankObjective(g.gram, g.lambda_diag, n, u, v, r.k,
                                         /*drop_diagonal=*/true);
  }

  const std::string path =
      absl::StrCat(options.scratch_dir, "/sweep-", getpid(), "-",
                   SweepMethodName(model), "-", p->rank, ".edlae");
  TrainingFacts facts;
  facts.num_users = train.num_users();
  facts.num_items = n;
  facts.num_interactions = train.num_interactions();
  facts.train_seconds = p->train_seconds;
  facts.source = "sweep";
  LowRankModelData data;
  data.rank = r.k;
  data.u = r.u;
  data.v = r.v;
  data.item_ids = train.item_ids;
  data.popularity = g.popularity;
  data.metadata = BuildModelMetadata(model, facts, &r);
  RETURN_IF_ERROR(WriteLowRankModel(path, data));
  absl::StatusOr<std::shared_ptr<const Model>> file = Model::Open(path);
  std::remove(path.c_str());  // the mapping stays valid
  if (!file.ok()) return file.status();
  EvalOptions eval;
  eval.num_threads = options.num_threads;
  ASSIGN_OR_RETURN(p->validation,
                   EvaluateHeldOutLowRank(**file, validation, eval));
  ASSIGN_OR_RETURN(p->test, EvaluateHeldOutLowRank(**file, test, eval));
  if (kept) *kept = std::move(r);
  return absl::OkStatus();
}

void LogLowRankPoint(const SweepPoint& p, std::ostream* progress) {
  if (!progress) return;
  *progress << absl::StrFormat(
      "[sweep] %-11s k=%-5d %s\n", SweepMethodName(p.model), p.rank,
      p.error.empty()
          ? absl::StrFormat("val nDCG@100 %.4f  test %.4f  train %.2f s",
                            p.validation.ndcg100.mean, p.test.ndcg100.mean,
                            p.train_seconds)
          : "failed: " + p.error);
}

// Every (rank, method) low-rank point, in that order, into `result`; the
// closed-form EDLAE and DLAE at `result->histogram_rank` also give the cosine
// medians against the full-rank EDLAE `b_edlae`.
void RunLowRankPoints(const SharedGram& g, const std::vector<size_t>& ranks,
                      const std::vector<float>& b_edlae,
                      const Interactions& train, const HeldOutUsers& validation,
                      const HeldOutUsers& test, const SweepOptions& options,
                      SweepResult* result) {
  const size_t n = train.num_items();
  for (size_t k : ranks) {
    for (const ModelSpec& m : options.methods) {
      SweepPoint p;
      p.model = PointModel(m, k, options);
      p.rank = k;
      const bool keep =
          k == result->histogram_rank && m.method == LowRankMethod::kClosedForm;
      LowRankResult kept;
      absl::Status s = RunLowRankPoint(g, train, validation, test, options, &p,
                                       keep ? &kept : nullptr);
      if (!s.ok()) p.error = std::string(s.message());
      LogLowRankPoint(p, options.progress);
      if (keep && s.ok()) {
        CosineMedians c;
        c.label = m.algorithm == Algorithm::kDlae ? "DLAE" : "EDLAE";
        c.u = MedianNeighbourCosines(b_edlae, n, kept.u, kept.k);
        c.v = MedianNeighbourCosines(b_edlae, n, kept.v, kept.k);
        result->cosines.push_back(std::move(c));
      }
      result->points.push_back(std::move(p));
    }
  }
  std::sort(result->cosines.begin(), result->cosines.end(),
            [](const CosineMedians& a, const CosineMedians& b) {
              return a.label > b.label;  // EDLAE first
            });
}

// The full-rank EDLAE (already solved: `b_edlae`) and DLAE points.
absl::Status RunFullRankPoints(const SharedGram& g,
                               const std::vector<float>& b_edlae,
                               double edlae_seconds, size_t n,
                               const HeldOutUsers& validation,
                               const HeldOutUsers& test,
                               const SweepOptions& options,
                               SweepResult* result) {
  EvalOptions eval;
  eval.num_threads = options.num_threads;
  for (const char* name : {"closed-form", "dlae"}) {
    SweepPoint p;
    p.model = PointModel(*ParseSweepMethod(name), 0, options);
    p.rank = 0;
    p.eq10_objective = kNaN;
    const bool dlae = p.model.algorithm == Algorithm::kDlae;
    std::vector<float> b;
    if (!dlae) {
      p.train_seconds = edlae_seconds;
      b = b_edlae;
    } else {
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<std::vector<float>> d = SolveFullRank(
          g.gram, n, SolverOptionsFor(p.model, options.num_threads));
      p.train_seconds = SecondsSince(start);
      if (!d.ok()) {
        p.error = std::string(d.status().message());
        result->points.push_back(std::move(p));
        continue;
      }
      b = *std::move(d);
    }
    const WeightRows view{b.data(), DType::kFloat32, n, n, n};
    ASSIGN_OR_RETURN(p.validation,
                     EvaluateHeldOut(view, g.popularity, validation, eval));
    ASSIGN_OR_RETURN(p.test, EvaluateHeldOut(view, g.popularity, test, eval));
    if (options.progress) {
      *options.progress << absl::StrFormat(
          "[sweep] %-11s full    val nDCG@100 %.4f  test %.4f  train %.2f "
          "s\n",
          dlae ? "dlae" : "edlae", p.validation.ndcg100.mean,
          p.test.ndcg100.mean, p.train_seconds);
    }
    result->points.push_back(std::move(p));
  }
  return absl::OkStatus();
}

std::string Num(double x, int digits = 4) {
  return std::isfinite(x) ? absl::StrFormat("%.*f", digits, x) : "null";
}

struct SweepMethodInfo {
  const char* name;
  const char* label;
  Algorithm algorithm;
  LowRankMethod method;
};

constexpr SweepMethodInfo kSweepMethods[] = {
    {"closed-form", "EDLAE closed form (Alg. 1)", Algorithm::kEdlae,
     LowRankMethod::kClosedForm},
    {"admm", "EDLAE ADMM", Algorithm::kEdlae, LowRankMethod::kAdmm},
    {"als", "zero-diag ALS", Algorithm::kZeroDiag, LowRankMethod::kAls},
    {"dlae", "DLAE", Algorithm::kDlae, LowRankMethod::kClosedForm},
};

const SweepMethodInfo* FindSweepMethod(const ModelSpec& model) {
  for (const SweepMethodInfo& m : kSweepMethods) {
    if (m.algorithm == model.algorithm && m.method == model.method) return &m;
  }
  return nullptr;
}

}  // namespace

const char* SweepMethodLabel(const ModelSpec& model) {
  const SweepMethodInfo* m = FindSweepMethod(model);
  return m ? m->label : "?";
}

const char* SweepMethodName(const ModelSpec& model) {
  const SweepMethodInfo* m = FindSweepMethod(model);
  return m ? m->name : "?";
}

bool SameSweepMethod(const ModelSpec& a, const ModelSpec& b) {
  return a.algorithm == b.algorithm && a.method == b.method;
}

absl::StatusOr<ModelSpec> ParseSweepMethod(const std::string& name) {
  for (const SweepMethodInfo& m : kSweepMethods) {
    if (name == m.name) {
      ModelSpec model;
      model.algorithm = m.algorithm;
      model.method = m.method;
      return model;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown sweep method '", name, "' (closed-form, admm, als, dlae)"));
}

absl::StatusOr<SweepResult> RunSweep(const Interactions& train,
                                     const HeldOutUsers& validation,
                                     const HeldOutUsers& test,
                                     const SweepOptions& options) {
  RETURN_IF_ERROR(ValidateSweepOptions(options));
  const size_t n = train.num_items();
  SweepResult result;
  result.num_items = n;
  result.num_users = train.num_users();
  result.lambda = options.lambda;
  result.dropout = options.dropout;
  const std::vector<size_t> ranks =
      SweepRanks(options.ranks, n, &result.skipped_ranks);

  auto start = std::chrono::steady_clock::now();
  const SharedGram g = ComputeSharedGram(train, options);
  result.gram_seconds = SecondsSince(start);

  // The full-rank EDLAE: a point of its own and the neighbour lists of the
  // histograms.
  start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<float>> b_edlae = SolveFullRank(
      g.gram, n,
      SolverOptionsFor(PointModel(*ParseSweepMethod("closed-form"), 0, options),
                       options.num_threads));
  const double edlae_seconds = SecondsSince(start);
  if (!b_edlae.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("full-rank EDLAE: ", b_edlae.status().message()));
  }

  for (size_t k : ranks) {
    if (k <= options.histogram_rank) result.histogram_rank = k;
  }
  RunLowRankPoints(g, ranks, *b_edlae, train, validation, test, options,
                   &result);
  if (options.full_rank) {
    RETURN_IF_ERROR(RunFullRankPoints(g, *b_edlae, edlae_seconds, n, validation,
                                      test, options, &result));
  }
  return result;
}

std::string SweepTable(const SweepResult& r) {
  std::vector<ModelSpec> methods;
  std::vector<size_t> ranks;
  for (const SweepPoint& p : r.points) {
    if (p.rank == 0) continue;
    if (std::none_of(methods.begin(), methods.end(), [&](const ModelSpec& m) {
          return SameSweepMethod(m, p.model);
        })) {
      methods.push_back(p.model);
    }
    if (std::find(ranks.begin(), ranks.end(), p.rank) == ranks.end())
      ranks.push_back(p.rank);
  }
  auto find = [&](const ModelSpec& m, size_t k) -> const SweepPoint* {
    for (const SweepPoint& p : r.points) {
      if (SameSweepMethod(p.model, m) && p.rank == k) return &p;
    }
    return nullptr;
  };
  std::string s = absl::StrFormat(
      "%d items, %d training users, λ=%g p=%g; Gram %.2f s\n\n"
      "nDCG@100, validation (test):\n\n| k |",
      r.num_items, r.num_users, r.lambda, r.dropout, r.gram_seconds);
  std::string rule = "|---|";
  for (const ModelSpec& m : methods) {
    absl::StrAppend(&s, " ", SweepMethodLabel(m), " |");
    absl::StrAppend(&rule, "---|");
  }
  absl::StrAppend(&s, "\n", rule, "\n");
  auto cell = [](const SweepPoint* p) -> std::string {
    if (!p) return "—";
    if (!p->error.empty()) return "failed";
    return absl::StrFormat("%.4f (%.4f)", p->validation.ndcg100.mean,
                           p->test.ndcg100.mean);
  };
  for (size_t k : ranks) {
    absl::StrAppend(&s, "| ", k, " |");
    for (const ModelSpec& m : methods)
      absl::StrAppend(&s, " ", cell(find(m, k)), " |");
    absl::StrAppend(&s, "\n");
  }
  const SweepPoint* full_edlae = find(*ParseSweepMethod("closed-form"), 0);
  const SweepPoint* full_dlae = find(*ParseSweepMethod("dlae"), 0);
  if (full_edlae || full_dlae) {
    absl::StrAppend(&s, "| full (", r.num_items, ") |");
    for (const ModelSpec& m : methods) {
      const SweepPoint* p =
          m.algorithm == Algorithm::kDlae ? full_dlae : full_edlae;
      absl::StrAppend(&s, " ", cell(p),
                      m.algorithm == Algorithm::kDlae ? " DLAE" : " EDLAE",
                      " |");
    }
    absl::StrAppend(&s, "\n");
  }
  absl::StrAppend(&s, "\nTraining seconds (solve only):\n\n| k |");
  for (const ModelSpec& m : methods)
    absl::StrAppend(&s, " ", SweepMethodLabel(m), " |");
  absl::StrAppend(&s, "\n", rule, "\n");
  auto seconds = [](const SweepPoint* p) -> std::string {
    return p && p->error.empty() ? absl::StrFormat("%.2f", p->train_seconds)
                                 : "—";
  };
  for (size_t k : ranks) {
    absl::StrAppend(&s, "| ", k, " |");
    for (const ModelSpec& m : methods)
      absl::StrAppend(&s, " ", seconds(find(m, k)), " |");
    absl::StrAppend(&s, "\n");
  }
  if (full_edlae || full_dlae) {
    absl::StrAppend(&s, "| full |");
    for (const ModelSpec& m : methods) {
      absl::StrAppend(
          &s, " ",
          seconds(m.algorithm == Algorithm::kDlae ? full_dlae : full_edlae),
          " |");
    }
    absl::StrAppend(&s, "\n");
  }
  absl::StrAppend(
      &s,
      "\nEq. 10 objective at the trained (U, V) (lower is better):\n\n| k |");
  std::string rule3 = "|---|";
  for (const ModelSpec& m : methods) {
    if (m.algorithm == Algorithm::kDlae) continue;
    absl::StrAppend(&s, " ", SweepMethodLabel(m), " |");
    absl::StrAppend(&rule3, "---|");
  }
  absl::StrAppend(&s, "\n", rule3, "\n");
  for (size_t k : ranks) {
    absl::StrAppend(&s, "| ", k, " |");
    for (const ModelSpec& m : methods) {
      if (m.algorithm == Algorithm::kDlae) continue;
      const SweepPoint* p = find(m, k);
      absl::StrAppend(&s, " ",
                      p && p->error.empty()
                          ? absl::StrFormat("%.6g", p->eq10_objective)
                          : "—",
                      " |");
    }
    absl::StrAppend(&s, "\n");
  }
  for (const SweepPoint& p : r.points) {
    if (!p.error.empty()) {
      absl::StrAppend(&s, "\n", SweepMethodName(p.model), " k=", p.rank,
                      " failed: ", p.error, "\n");
    }
  }
  if (!r.skipped_ranks.empty()) {
    absl::StrAppend(&s, "\nskipped ranks above the catalog size:");
    for (size_t k : r.skipped_ranks) absl::StrAppend(&s, " ", k);
    absl::StrAppend(&s, "\n");
  }
  return s;
}

std::string SweepJson(const SweepResult& r) {
  std::string s = absl::StrFormat(
      "{\"num_items\":%d,\"num_users\":%d,\"lambda\":%g,\"dropout\":%g,"
      "\"gram_seconds\":%.3f,\"points\":[",
      r.num_items, r.num_users, r.lambda, r.dropout, r.gram_seconds);
  bool first = true;
  for (const SweepPoint& p : r.points) {
    absl::StrAppend(&s, first ? "" : ",", "{\"method\":\"",
                    p.rank == 0
                        ? (p.model.algorithm == Algorithm::kDlae ? "dlae-full"
                                                                 : "edlae-full")
                        : SweepMethodName(p.model),
                    "\",\"rank\":");
    first = false;
    if (p.rank == 0) {
      absl::StrAppend(&s, "\"full\"");
    } else {
      absl::StrAppend(&s, p.rank);
    }
    if (!p.error.empty()) {
      absl::StrAppend(&s, ",\"error\":\"failed\"}");
      continue;
    }
    absl::StrAppend(
        &s,
        absl::StrFormat(
            ",\"train_seconds\":%.3f,\"eq10_objective\":%s,"
            "\"validation_ndcg100\":%s,\"validation_ndcg100_se\":%s,"
            "\"test_ndcg100\":%s,\"test_ndcg100_se\":%s}",
            p.train_seconds, Num(p.eq10_objective, 6),
            Num(p.validation.ndcg100.mean), Num(p.validation.ndcg100.std_error),
            Num(p.test.ndcg100.mean), Num(p.test.ndcg100.std_error)));
  }
  absl::StrAppend(&s, "],\"skipped_ranks\":[");
  for (size_t i = 0; i < r.skipped_ranks.size(); ++i) {
    absl::StrAppend(&s, i ? "," : "", r.skipped_ranks[i]);
  }
  absl::StrAppend(&s, "],\"histogram_rank\":", r.histogram_rank,
                  ",\"cosine_medians\":[");
  for (size_t c = 0; c < r.cosines.size(); ++c) {
    auto median = [](std::vector<double> x) {
      x.erase(std::remove_if(x.begin(), x.end(),
                             [](double v) { return std::isnan(v); }),
              x.end());
      if (x.empty()) return kNaN;
      std::sort(x.begin(), x.end());
      return x[x.size() / 2];
    };
    absl::StrAppend(&s, c ? "," : "", "{\"model\":\"", r.cosines[c].label,
                    "\",\"median_u\":", Num(median(r.cosines[c].u)),
                    ",\"median_v\":", Num(median(r.cosines[c].v)), "}");
  }
  absl::StrAppend(&s, "]}\n");
  return s;
}

}  // namespace edlae
