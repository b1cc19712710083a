// Formatting of held-out metrics for people (fixed-width) and machines (JSON).
#include "trainer/commands/eval_output.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edlae::cli {
namespace {

std::string Summary(const MetricSummary& s) {
  return absl::StrFormat("{\"mean\":%.6f,\"se\":%.6f}", s.mean, s.std_error);
}

}  // namespace

absl::StatusOr<BatchMethod> ParseScorer(const std::string& name) {
  if (name == "exact") return BatchMethod::kExact;
  if (name == "gemm") return BatchMethod::kGemm;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --scorer '", name, "' (exact or gemm)"));
}

CLI::Option* AddScorerFlag(CLI::App& command, std::string& scorer) {
  return AddOption(command, "scorer", scorer,
                   "exact (bit-identical to the server) | gemm (OpenBLAS "
                   "sgemm on dense user blocks)")
      ->check(CLI::Validator(
          [](std::string& name) {
            absl::StatusOr<BatchMethod> method = ParseScorer(name);
            return method.ok() ? std::string()
                               : std::string(method.status().message());
          },
          ""));
}

std::string MetricLines(const EvalResult& r) {
  return absl::StrFormat(
      "  Recall@20  %.4f ± %.4f\n  Recall@50  %.4f ± %.4f\n"
      "  nDCG@100   %.4f ± %.4f\n",
      r.recall20.mean, r.recall20.std_error, r.recall50.mean,
      r.recall50.std_error, r.ndcg100.mean, r.ndcg100.std_error);
}

std::string MetricCells(const EvalResult& r) {
  return absl::StrFormat("%.4f±%.4f  %.4f±%.4f  %.4f±%.4f", r.recall20.mean,
                         r.recall20.std_error, r.recall50.mean,
                         r.recall50.std_error, r.ndcg100.mean,
                         r.ndcg100.std_error);
}

std::string MetricJson(const EvalResult& r) {
  return absl::StrCat("{\"users\":", r.num_users,
                      ",\"users_with_targets\":", r.users_with_targets,
                      ",\"recall@20\":", Summary(r.recall20),
                      ",\"recall@50\":", Summary(r.recall50),
                      ",\"ndcg@100\":", Summary(r.ndcg100),
                      absl::StrFormat(",\"seconds\":%.3f}", r.seconds));
}

std::string WeakMetricLines(const WeakEvalResult& r) {
  std::string out;
  for (const WeakMetricsAtK& m : r.at) {
    absl::StrAppend(&out,
                    absl::StrFormat("  Recall@%-4d %.4f ± %.4f\n", m.k,
                                    m.recall.mean, m.recall.std_error),
                    absl::StrFormat("  nDCG@%-6d %.4f ± %.4f\n", m.k,
                                    m.ndcg.mean, m.ndcg.std_error));
  }
  return out;
}

std::string WeakMetricJson(const WeakEvalResult& r) {
  std::string out =
      absl::StrCat("{\"users\":", r.num_users,
                   ",\"users_with_targets\":", r.users_with_targets);
  for (const WeakMetricsAtK& m : r.at) {
    absl::StrAppend(&out, ",\"recall@", m.k, "\":", Summary(m.recall),
                    ",\"ndcg@", m.k, "\":", Summary(m.ndcg));
  }
  absl::StrAppend(&out, absl::StrFormat(",\"seconds\":%.3f}", r.seconds));
  return out;
}

std::string WeakCountNotes(const WeakHeldOut& h) {
  std::string out;
  const HeldOutUsers& u = h.users;
  if (u.unknown_fold_in > 0) {
    absl::StrAppend(&out, "note: ", u.unknown_fold_in,
                    " fold-in interactions name items the model lacks "
                    "(skipped)\n");
  }
  if (u.unknown_targets > 0) {
    absl::StrAppend(&out, "note: ", u.unknown_targets,
                    " target interactions name items the model lacks (counted "
                    "in |targets| as misses)\n");
  }
  if (h.targets_without_fold_in > 0) {
    absl::StrAppend(&out, "note: ", h.targets_without_fold_in,
                    " target users are missing from the fold-in file (scored "
                    "by the popularity fallback, averaged)\n");
  }
  if (h.cold_users > h.targets_without_fold_in) {
    absl::StrAppend(&out, "note: ", h.cold_users - h.targets_without_fold_in,
                    " fold-in users have no item the model knows (scored by "
                    "the popularity fallback)\n");
  }
  if (h.targets_in_fold_in > 0) {
    absl::StrAppend(&out, "note: ", h.targets_in_fold_in,
                    " target interactions are also in that user's fold-in "
                    "(excluded from the ranking: always misses)\n");
  }
  return out;
}

std::string WeakCountsJson(const WeakHeldOut& h) {
  return absl::StrCat(
      "\"fold_in_users\":", h.fold_in_users,
      ",\"target_users\":", h.target_users,
      ",\"unknown_fold_in\":", h.users.unknown_fold_in,
      ",\"unknown_targets\":", h.users.unknown_targets,
      ",\"targets_without_fold_in\":", h.targets_without_fold_in,
      ",\"cold_users\":", h.cold_users,
      ",\"targets_in_fold_in\":", h.targets_in_fold_in);
}

}  // namespace edlae::cli
