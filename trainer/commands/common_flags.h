// Flags shared by the commands that read interaction data and train models (train, evaluate, tune).
#ifndef EDLAE_TRAINER_COMMANDS_COMMON_FLAGS_H_
#define EDLAE_TRAINER_COMMANDS_COMMON_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "trainer/interactions.h"
#include "trainer/low_rank.h"
#include "trainer/full_rank_solver.h"

ABSL_DECLARE_FLAG(std::string, input);
ABSL_DECLARE_FLAG(std::string, format);
ABSL_DECLARE_FLAG(int, user_col);
ABSL_DECLARE_FLAG(int, item_col);
ABSL_DECLARE_FLAG(int, rating_col);
ABSL_DECLARE_FLAG(bool, header);
ABSL_DECLARE_FLAG(std::string, min_rating);
ABSL_DECLARE_FLAG(int, min_user_count);
ABSL_DECLARE_FLAG(int, min_item_count);
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, lambda);  // a number; tune: a list
ABSL_DECLARE_FLAG(std::string, dropout);  // a number; tune: a list
ABSL_DECLARE_FLAG(std::string, precision);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(std::string, seed);  // "" = the command's default
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, model_file);
ABSL_DECLARE_FLAG(std::string, dtype);
ABSL_DECLARE_FLAG(int, rank);
ABSL_DECLARE_FLAG(std::string, method);
ABSL_DECLARE_FLAG(int, epochs);
ABSL_DECLARE_FLAG(double, omega);
ABSL_DECLARE_FLAG(std::string, eigensolver);

namespace edlae::cli {

// LoadOptions from --format, --user-col, --item-col, --rating-col, --header,
// --min-rating, --min-user-count, --min-item-count. InvalidArgument on bad values.
absl::StatusOr<LoadOptions> LoadOptionsFromFlags();

// `text` as one number; InvalidArgument naming --`name` otherwise.
absl::StatusOr<double> ParseNumberFlag(const std::string& name,
                                       const std::string& text);
// --seed as an unsigned integer, or `default_seed` when it is not given.
absl::StatusOr<uint64_t> SeedFromFlag(uint64_t default_seed);
// `text` as comma-separated numbers ("1,10,100"); InvalidArgument otherwise.
absl::StatusOr<std::vector<double>> ParseNumberListFlag(const std::string& name,
                                                        const std::string& text);

// SolverOptions from --model, --lambda, --dropout, --precision, --threads.
// InvalidArgument on bad names; numeric ranges are checked by the solver.
absl::StatusOr<SolverOptions> SolverOptionsFromFlags();

// LowRankOptions from --rank (0: full rank, the default), --method, --epochs,
// --omega (0: ω = λ, or 1 when λ = 0) and --eigensolver. InvalidArgument on
// bad names or ranges; rank vs. items and model vs. method are checked by
// SolveLowRank.
absl::StatusOr<LowRankOptions> LowRankOptionsFromFlags();

}  // namespace edlae::cli

#endif  // EDLAE_TRAINER_COMMANDS_COMMON_FLAGS_H_
