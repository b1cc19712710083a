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
#include "core/model.h"
#include "core/model_writer.h"
#include "core/status_macros.h"
#include "core/topn.h"
#include "trainer/full_rank_solver.h"
#include "trainer/gram.h"

namespace edlae {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kNeighbours = 10;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

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

// Trains one low-rank point, scores it through a model file and fills `p`.
absl::Status RunLowRankPoint(
    const std::vector<double>& gram, const std::vector<double>& lambda_diag,
    const Interactions& train, const std::vector<float>& popularity,
    const HeldOutUsers& validation, const HeldOutUsers& test,
    const SweepOptions& options, SweepPoint* p, LowRankResult* kept) {
  const size_t n = train.num_items();
  SolverOptions solver;
  solver.algorithm =
      p->method == SweepMethod::kDlae ? Algorithm::kDlae : Algorithm::kEdlae;
  solver.lambda = options.lambda;
  solver.dropout = options.dropout;
  solver.num_threads = options.num_threads;
  LowRankOptions lr = options.low_rank;
  lr.rank = p->rank;
  lr.observer = nullptr;
  switch (p->method) {
    case SweepMethod::kClosedForm:
    case SweepMethod::kDlae:
      lr.method = LowRankMethod::kClosedForm;
      break;
    case SweepMethod::kAdmm:
      lr.method = LowRankMethod::kAdmm;
      break;
    case SweepMethod::kAls:
      lr.method = LowRankMethod::kAls;
      solver.algorithm = Algorithm::kZeroDiag;
      break;
  }
  if (lr.method == LowRankMethod::kAdmm && lr.omega <= 0) {
    lr.omega = options.lambda > 0 ? options.lambda : 1.0;
  }
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(LowRankResult r,
                   SolveLowRank(gram, n, solver, lr, /*log=*/nullptr));
  p->train_seconds = SecondsSince(start);
  p->eq10_objective = kNaN;
  if (p->method != SweepMethod::kDlae) {
    std::vector<double> u(r.u.begin(), r.u.end()), v(r.v.begin(), r.v.end());
    p->eq10_objective = LowRankObjective(gram, lambda_diag, n, u, v, r.k,
                                         /*drop_diagonal=*/true);
  }

  const std::string path =
      absl::StrCat(options.scratch_dir, "/sweep-", getpid(), "-",
                   SweepMethodName(p->method), "-", p->rank, ".edlae");
  LowRankModelData data;
  data.rank = r.k;
  data.u = r.u;
  data.v = r.v;
  data.item_ids = train.item_ids;
  data.popularity = popularity;
  data.metadata = {{"algorithm", AlgorithmName(solver.algorithm)},
                   {"method", LowRankMethodName(lr.method)}};
  RETURN_IF_ERROR(WriteLowRankModel(path, data));
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Open(path);
  std::remove(path.c_str());  // the mapping stays valid
  if (!model.ok()) return model.status();
  EvalOptions eval;
  eval.num_threads = options.num_threads;
  ASSIGN_OR_RETURN(p->validation,
                   EvaluateHeldOutLowRank(**model, validation, eval));
  ASSIGN_OR_RETURN(p->test, EvaluateHeldOutLowRank(**model, test, eval));
  if (kept) *kept = std::move(r);
  return absl::OkStatus();
}

std::string Num(double x, int digits = 4) {
  return std::isfinite(x) ? absl::StrFormat("%.*f", digits, x) : "null";
}

}  // namespace

const char* SweepMethodLabel(SweepMethod m) {
  switch (m) {
    case SweepMethod::kClosedForm:
      return "EDLAE closed form (Alg. 1)";
    case SweepMethod::kAdmm:
      return "EDLAE ADMM";
    case SweepMethod::kAls:
      return "zero-diag ALS";
    case SweepMethod::kDlae:
      return "DLAE";
  }
  return "?";
}

absl::StatusOr<SweepMethod> ParseSweepMethod(const std::string& name) {
  for (SweepMethod m : {SweepMethod::kClosedForm, SweepMethod::kAdmm,
                        SweepMethod::kAls, SweepMethod::kDlae}) {
    if (name == SweepMethodName(m)) return m;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown sweep method '", name, "' (closed-form, admm, als, dlae)"));
}

const char* SweepMethodName(SweepMethod method) {
  switch (method) {
    case SweepMethod::kClosedForm:
      return "closed-form";
    case SweepMethod::kAdmm:
      return "admm";
    case SweepMethod::kAls:
      return "als";
    case SweepMethod::kDlae:
      return "dlae";
  }
  return "?";
}

absl::StatusOr<SweepResult> RunSweep(const Interactions& train,
                                     const HeldOutUsers& validation,
                                     const HeldOutUsers& test,
                                     const SweepOptions& options) {
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
  const size_t n = train.num_items();
  SweepResult result;
  result.num_items = n;
  result.num_users = train.num_users();
  result.lambda = options.lambda;
  result.dropout = options.dropout;
  std::vector<size_t> ranks;
  for (size_t k : options.ranks) {
    if (k == 0) return absl::InvalidArgumentError("ranks must be >= 1");
    (k > n ? result.skipped_ranks : ranks).push_back(k);
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());

  auto start = std::chrono::steady_clock::now();
  const std::vector<double> gram = ComputeGram(train, options.num_threads);
  result.gram_seconds = SecondsSince(start);
  const std::vector<float> popularity = PopularityFromGram(gram, n);
  std::vector<double> lambda_diag(n);
  const double ratio = options.dropout / (1 - options.dropout);
  for (size_t i = 0; i < n; ++i) {
    lambda_diag[i] = options.lambda + ratio * gram[i * n + i];
  }

  // The full-rank EDLAE: a point of its own and the neighbour lists of the
  // histograms.
  SolverOptions solver;
  solver.algorithm = Algorithm::kEdlae;
  solver.lambda = options.lambda;
  solver.dropout = options.dropout;
  solver.num_threads = options.num_threads;
  start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<float>> b_edlae = SolveFullRank(gram, n, solver);
  const double edlae_seconds = SecondsSince(start);
  if (!b_edlae.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("full-rank EDLAE: ", b_edlae.status().message()));
  }

  size_t hist_rank = 0;
  for (size_t k : ranks) {
    if (k <= options.histogram_rank) hist_rank = k;
  }
  result.histogram_rank = hist_rank;
  EvalOptions eval;
  eval.num_threads = options.num_threads;
  for (size_t k : ranks) {
    for (SweepMethod m : options.methods) {
      SweepPoint p;
      p.method = m;
      p.rank = k;
      const bool keep = k == hist_rank && (m == SweepMethod::kClosedForm ||
                                           m == SweepMethod::kDlae);
      LowRankResult kept;
      absl::Status s =
          RunLowRankPoint(gram, lambda_diag, train, popularity, validation,
                          test, options, &p, keep ? &kept : nullptr);
      if (!s.ok()) p.error = std::string(s.message());
      if (options.progress) {
        *options.progress << absl::StrFormat(
            "[sweep] %-11s k=%-5d %s\n", SweepMethodName(m), k,
            s.ok()
                ? absl::StrFormat("val nDCG@100 %.4f  test %.4f  train %.2f s",
                                  p.validation.ndcg100.mean,
                                  p.test.ndcg100.mean, p.train_seconds)
                : "failed: " + p.error);
      }
      if (keep && s.ok()) {
        CosineMedians c;
        c.label = m == SweepMethod::kDlae ? "DLAE" : "EDLAE";
        c.u = MedianNeighbourCosines(*b_edlae, n, kept.u, kept.k);
        c.v = MedianNeighbourCosines(*b_edlae, n, kept.v, kept.k);
        result.cosines.push_back(std::move(c));
      }
      result.points.push_back(std::move(p));
    }
  }
  std::sort(result.cosines.begin(), result.cosines.end(),
            [](const CosineMedians& a, const CosineMedians& b) {
              return a.label > b.label;  // EDLAE first
            });

  if (options.full_rank) {
    for (SweepMethod m : {SweepMethod::kClosedForm, SweepMethod::kDlae}) {
      SweepPoint p;
      p.method = m;
      p.rank = 0;
      p.eq10_objective = kNaN;
      std::vector<float> b;
      if (m == SweepMethod::kClosedForm) {
        p.train_seconds = edlae_seconds;
        b = *b_edlae;
      } else {
        solver.algorithm = Algorithm::kDlae;
        start = std::chrono::steady_clock::now();
        absl::StatusOr<std::vector<float>> d = SolveFullRank(gram, n, solver);
        p.train_seconds = SecondsSince(start);
        if (!d.ok()) {
          p.error = std::string(d.status().message());
          result.points.push_back(std::move(p));
          continue;
        }
        b = *std::move(d);
      }
      const WeightRows view{b.data(), DType::kFloat32, n, n, n};
      ASSIGN_OR_RETURN(p.validation,
                       EvaluateHeldOut(view, popularity, validation, eval));
      ASSIGN_OR_RETURN(p.test, EvaluateHeldOut(view, popularity, test, eval));
      if (options.progress) {
        *options.progress << absl::StrFormat(
            "[sweep] %-11s full    val nDCG@100 %.4f  test %.4f  train %.2f "
            "s\n",
            m == SweepMethod::kDlae ? "dlae" : "edlae",
            p.validation.ndcg100.mean, p.test.ndcg100.mean, p.train_seconds);
      }
      result.points.push_back(std::move(p));
    }
  }
  return result;
}

std::string SweepTable(const SweepResult& r) {
  std::vector<SweepMethod> methods;
  std::vector<size_t> ranks;
  for (const SweepPoint& p : r.points) {
    if (p.rank == 0) continue;
    if (std::find(methods.begin(), methods.end(), p.method) == methods.end())
      methods.push_back(p.method);
    if (std::find(ranks.begin(), ranks.end(), p.rank) == ranks.end())
      ranks.push_back(p.rank);
  }
  auto find = [&](SweepMethod m, size_t k) -> const SweepPoint* {
    for (const SweepPoint& p : r.points) {
      if (p.method == m && p.rank == k) return &p;
    }
    return nullptr;
  };
  std::string s = absl::StrFormat(
      "%d items, %d training users, λ=%g p=%g; Gram %.2f s\n\n"
      "nDCG@100, validation (test):\n\n| k |",
      r.num_items, r.num_users, r.lambda, r.dropout, r.gram_seconds);
  std::string rule = "|---|";
  for (SweepMethod m : methods) {
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
    for (SweepMethod m : methods)
      absl::StrAppend(&s, " ", cell(find(m, k)), " |");
    absl::StrAppend(&s, "\n");
  }
  const SweepPoint* full_edlae = find(SweepMethod::kClosedForm, 0);
  const SweepPoint* full_dlae = find(SweepMethod::kDlae, 0);
  if (full_edlae || full_dlae) {
    absl::StrAppend(&s, "| full (", r.num_items, ") |");
    for (SweepMethod m : methods) {
      const SweepPoint* p = m == SweepMethod::kDlae ? full_dlae : full_edlae;
      absl::StrAppend(&s, " ", cell(p),
                      m == SweepMethod::kDlae ? " DLAE" : " EDLAE", " |");
    }
    absl::StrAppend(&s, "\n");
  }
  absl::StrAppend(&s, "\nTraining seconds (solve only):\n\n| k |");
  for (SweepMethod m : methods)
    absl::StrAppend(&s, " ", SweepMethodLabel(m), " |");
  absl::StrAppend(&s, "\n", rule, "\n");
  auto seconds = [](const SweepPoint* p) -> std::string {
    return p && p->error.empty() ? absl::StrFormat("%.2f", p->train_seconds)
                                 : "—";
  };
  for (size_t k : ranks) {
    absl::StrAppend(&s, "| ", k, " |");
    for (SweepMethod m : methods)
      absl::StrAppend(&s, " ", seconds(find(m, k)), " |");
    absl::StrAppend(&s, "\n");
  }
  if (full_edlae || full_dlae) {
    absl::StrAppend(&s, "| full |");
    for (SweepMethod m : methods) {
      absl::StrAppend(&s, " ",
                      seconds(m == SweepMethod::kDlae ? full_dlae : full_edlae),
                      " |");
    }
    absl::StrAppend(&s, "\n");
  }
  absl::StrAppend(
      &s,
      "\nEq. 10 objective at the trained (U, V) (lower is better):\n\n| k |");
  std::string rule3 = "|---|";
  for (SweepMethod m : methods) {
    if (m == SweepMethod::kDlae) continue;
    absl::StrAppend(&s, " ", SweepMethodLabel(m), " |");
    absl::StrAppend(&rule3, "---|");
  }
  absl::StrAppend(&s, "\n", rule3, "\n");
  for (size_t k : ranks) {
    absl::StrAppend(&s, "| ", k, " |");
    for (SweepMethod m : methods) {
      if (m == SweepMethod::kDlae) continue;
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
      absl::StrAppend(&s, "\n", SweepMethodName(p.method), " k=", p.rank,
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
    absl::StrAppend(
        &s, first ? "" : ",", "{\"method\":\"",
        p.rank == 0
            ? (p.method == SweepMethod::kDlae ? "dlae-full" : "edlae-full")
            : SweepMethodName(p.method),
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
