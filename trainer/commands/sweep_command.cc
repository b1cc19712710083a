// edlae-train sweep: nDCG@100 against rank for the low-rank EDLAE family on a
// split, with Fig. 1-style SVGs.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/commands/eval_output.h"
#include "evaluation/split.h"
#include "evaluation/sweep.h"
#include "evaluation/sweep_plots.h"

ABSL_FLAG(std::string, ranks, "10,50,100,200,500,1000,full",
          "sweep: ranks k, comma-separated; 'full' adds the full-rank models");
ABSL_FLAG(std::string, methods, "closed-form,admm,als,dlae",
          "sweep: low-rank methods (closed-form, admm, als, dlae)");
ABSL_FLAG(std::string, out_dir, "",
          "sweep: directory for sweep.json, sweep.md and the SVG figures");

namespace edlae::cli {
namespace {

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

int RunSweep() {
  const std::string dir = absl::GetFlag(FLAGS_split);
  if (dir.empty()) return UsageError("sweep needs --split DIR");
  SweepOptions options;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_ranks), ',', absl::SkipEmpty())) {
    size_t k = 0;
    if (part == "full") {
      continue;
    } else if (!absl::SimpleAtoi(part, &k) || k == 0) {
      return UsageError(absl::StrCat("--ranks: '", std::string(part),
                                     "' is neither a rank >= 1 nor 'full'"));
    }
    options.ranks.push_back(k);
  }
  options.full_rank = false;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_ranks), ',', absl::SkipEmpty())) {
    if (part == "full") options.full_rank = true;
  }
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_methods), ',', absl::SkipEmpty())) {
    absl::StatusOr<ModelSpec> m = ParseSweepMethod(std::string(part));
    if (!m.ok()) return UsageError(std::string(m.status().message()));
    options.methods.push_back(*m);
  }
  if (options.methods.empty() ||
      (options.ranks.empty() && !options.full_rank)) {
    return UsageError("sweep needs --ranks and --methods");
  }
  absl::StatusOr<SolverOptions> solver = SolverOptionsFromFlags();
  if (!solver.ok()) return UsageError(std::string(solver.status().message()));
  absl::StatusOr<LowRankOptions> low_rank = LowRankOptionsFromFlags();
  if (!low_rank.ok()) {
    return UsageError(std::string(low_rank.status().message()));
  }
  options.lambda = solver->lambda;
  options.dropout = solver->dropout;
  options.low_rank = *low_rank;
  options.num_threads = solver->num_threads;
  options.progress = &std::cerr;

  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  std::error_code ec;
  if (!out_dir.empty()) {
    std::filesystem::create_directories(out_dir, ec);
    if (ec) {
      return Fail(absl::InternalError(
          absl::StrCat("cannot create ", out_dir, ": ", ec.message())));
    }
    options.scratch_dir = out_dir;
  } else {
    options.scratch_dir = std::filesystem::temp_directory_path(ec).string();
    if (ec) options.scratch_dir = ".";
  }

  absl::StatusOr<LoadedSplit> split = ReadSplit(dir);
  if (!split.ok()) return Fail(split.status());

  absl::StatusOr<SweepResult> result =
      edlae::RunSweep(split->train, split->validation, split->test, options);
  if (!result.ok()) return Fail(result.status());

  const std::string table = SweepTable(*result);
  const std::string json = SweepJson(*result);
  std::cout << (absl::GetFlag(FLAGS_json) ? json : table);
  if (!out_dir.empty()) {
    const std::pair<std::string, std::string> files[] = {
        {"sweep.md", table},
        {"sweep.json", json},
        {"ndcg_vs_rank.svg", NdcgRankSvg(*result)},
        {"cosine_u.svg", CosineHistogramSvg(*result, /*of_v=*/false)},
        {"cosine_v.svg", CosineHistogramSvg(*result, /*of_v=*/true)},
    };
    for (const auto& [name, text] : files) {
      if (name.starts_with("cosine") && result->cosines.empty()) continue;
      if (absl::Status s = WriteText(out_dir + "/" + name, text); !s.ok())
        return Fail(s);
    }
    std::cerr << "[sweep] wrote " << out_dir
              << "/{sweep.md,sweep.json,ndcg_vs_rank.svg,cosine_u.svg,"
                 "cosine_v.svg}\n";
  }
  return kExitOk;
}

}  // namespace edlae::cli
