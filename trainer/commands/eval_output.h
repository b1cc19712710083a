// Shared by evaluate and tune: the --scorer flag, and metrics as table rows or
// JSON.
#ifndef EDLAE_TRAINER_COMMANDS_EVAL_OUTPUT_H_
#define EDLAE_TRAINER_COMMANDS_EVAL_OUTPUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/cli.h"
#include "evaluation/batch_scorer.h"
#include "evaluation/evaluate.h"

namespace edlae::cli {

// "exact" | "gemm".
absl::StatusOr<BatchMethod> ParseScorer(const std::string& name);
// --scorer (evaluate, tune), bound to `scorer` (its default).
CLI::Option* AddScorerFlag(CLI::App& command, std::string& scorer);

// "Recall@20  0.3512 ± 0.0041" lines, one per metric, each ending in "\n".
std::string MetricLines(const EvalResult& r);
// "0.3512±0.0041" cells for a table row: R@20, R@50, nDCG@100.
std::string MetricCells(const EvalResult& r);
// {"users":…,"users_with_targets":…,"recall@20":{"mean":…,"se":…},…,"seconds":…}
std::string MetricJson(const EvalResult& r);
// `text` as a JSON string literal (quotes, escapes).
std::string JsonString(const std::string& text);

}  // namespace edlae::cli

#endif  // EDLAE_TRAINER_COMMANDS_EVAL_OUTPUT_H_
