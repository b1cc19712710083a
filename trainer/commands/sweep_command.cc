// edlae-train sweep: nDCG@100 against rank for the low-rank EDLAE family on a
// split, with Fig. 1-style SVGs.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "evaluation/split.h"
#include "evaluation/sweep.h"
#include "evaluation/sweep_plots.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/commands/eval_output.h"

namespace edlae::cli {
namespace {

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// "4,16,full": positive ranks and "full".
absl::Status CheckRank(const std::string& part) {
  size_t k = 0;
  if (part == "full" || (absl::SimpleAtoi(part, &k) && k > 0)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", part, "' is neither a rank >= 1 nor 'full'"));
}

// sweep's flags; their values are the defaults.
struct SweepFlags {
  std::string split;
  std::string ranks = "10,50,100,200,500,1000,full";
  std::string methods = "closed-form,admm,als,dlae";
  double lambda = 0;
  double dropout = 0;
  LowRankFlags low_rank;  // epochs, omega, eigensolver, seed
  int threads = 0;
  std::string out_dir;
  bool json = false;
};

int RunSweep(const SweepFlags& flags) {
  const std::string& dir = flags.split;
  SweepOptions options;
  options.full_rank = false;
  for (const std::string& part : SplitList(flags.ranks)) {
    size_t k = 0;
    if (part == "full") {
      options.full_rank = true;
    } else if (absl::SimpleAtoi(part, &k)) {
      options.ranks.push_back(k);
    }
  }
  for (const std::string& part : SplitList(flags.methods)) {
    options.methods.push_back(*ParseSweepMethod(part));
  }
  options.lambda = flags.lambda;
  options.dropout = flags.dropout;
  options.low_rank = ToLowRankOptions(flags.low_rank, flags.lambda);
  options.num_threads = flags.threads;
  options.progress = &std::cerr;

  const std::string& out_dir = flags.out_dir;
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
  std::cout << (flags.json ? json : table);
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

}  // namespace

Command AddSweepCommand(CLI::App& program) {
  auto flags = std::make_shared<SweepFlags>();
  CLI::App* command = program.add_subcommand(
      "sweep",
      "nDCG@100 against rank for the low-rank EDLAE family on a split, with "
      "Fig. 1-style SVGs.");
  AddSplitDirFlag(*command, flags->split);
  AddOption(*command, "ranks", flags->ranks,
            "ranks k, comma-separated; 'full' adds the full-rank models")
      ->check(ParsedBy(CheckRank, /*list=*/true));
  AddOption(*command, "methods", flags->methods,
            "low-rank methods, comma-separated: closed-form, admm, als, dlae")
      ->check(ParsedBy(
          [](const std::string& name) {
            return ParseSweepMethod(name).status();
          },
          /*list=*/true));
  // Required: no single default suits every dataset, and a λ too small for
  // the data fails only after the split is read and the Gram built.
  AddOption(*command, "lambda", flags->lambda, "L2 regularization λ")
      ->required()
      ->check(AtLeast(0));
  AddOption(*command, "dropout", flags->dropout, "dropout probability p")
      ->check(AtLeastBelow(0, 1));
  AddLowRankSolverFlags(*command, flags->low_rank);
  AddThreadsFlag(*command, flags->threads);
  AddOption(*command, "out-dir", flags->out_dir,
            "directory for sweep.json, sweep.md and the SVG figures");
  AddJsonFlag(*command, flags->json);
  return {command, [flags] { return RunSweep(*flags); }};
}

}  // namespace edlae::cli
