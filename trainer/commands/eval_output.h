// Shared by evaluate and tune: the --scorer flag, and metrics as table rows or
// JSON.
#ifndef EDLAE_TRAINER_COMMANDS_EVAL_OUTPUT_H_
#define EDLAE_TRAINER_COMMANDS_EVAL_OUTPUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/cli.h"
#include "common/json.h"
#include "evaluation/batch_scorer.h"
#include "evaluation/evaluate.h"
#include "evaluation/weak_evaluate.h"

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
// Weak generalization (evaluate --fold-in): "  Recall@20  0.1720 ± 0.0012"
// and "  nDCG@20 …" lines for k = 20, 50, 100, each ending in "\n".
std::string WeakMetricLines(const WeakEvalResult& r);
// {"users":…,"users_with_targets":…,"recall@20":{"mean":…,"se":…},
//  "ndcg@20":{…},… (50, 100),"seconds":…}
std::string WeakMetricJson(const WeakEvalResult& r);
// "note: …" lines for the non-zero anomaly counts of `h` (unknown items,
// target users without fold-in, cold users, targets inside the fold-in);
// empty when there are none.
std::string WeakCountNotes(const WeakHeldOut& h);
// The counts as JSON members, without braces: "fold_in_users":…,
// "target_users":…,"unknown_fold_in":…,"unknown_targets":…,
// "targets_without_fold_in":…,"cold_users":…,"targets_in_fold_in":…
std::string WeakCountsJson(const WeakHeldOut& h);
// JSON string literals are common/json.h's (as the clients and JSONL files).
using ::edlae::JsonQuote;

}  // namespace edlae::cli

#endif  // EDLAE_TRAINER_COMMANDS_EVAL_OUTPUT_H_
