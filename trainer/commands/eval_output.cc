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

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace edlae::cli
