// edlae-train evaluate: held-out Recall@20/50 and nDCG@100 (± s.e.) of a model
// file, or of a model trained on the split; or weak-generalization Recall and
// nDCG at 20/50/100 of a model file over fold-in/targets files.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/model.h"
#include "evaluation/batch_scorer.h"
#include "evaluation/evaluate.h"
#include "evaluation/split.h"
#include "evaluation/tune.h"
#include "evaluation/weak_evaluate.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"
#include "trainer/commands/eval_output.h"
#include "trainer/train.h"

namespace edlae::cli {
namespace {

// Integer ids make a mismatch invisible to CheckSplitCoverage (a model trained
// on raw movie ids "knows" the sids "1".."n" too), so compare what the model
// recorded as training counts with the split's train.csv.
void WarnIfNotTrainedOnSplit(const Model& model, const std::string& dir) {
  absl::StatusOr<Interactions> train = ReadSplitFile(dir + "/train.csv");
  if (!train.ok()) {
    std::cerr
        << "[evaluate] warning: cannot check the model against the split: "
        << train.status().message() << "\n";
    return;
  }
  std::vector<float> counts(train->num_items(), 0);
  for (uint32_t i : train->item_indices) ++counts[i];
  size_t mismatched = 0;
  for (size_t i = 0; i < train->num_items(); ++i) {
    std::optional<uint32_t> m = model.FindItem(train->item_ids[i]);
    if (!m || model.popularity()[*m] != counts[i]) ++mismatched;
  }
  if (mismatched > 0) {
    std::cerr << absl::StrFormat(
        "[evaluate] warning: for %d of %d training items the model's training "
        "count differs from %s/train.csv: it was not trained on this split's "
        "training users, so the numbers may be meaningless (or leak held-out "
        "users)\n",
        mismatched, train->num_items(), dir);
  }
}

// Trains the low-rank model on DIR/train.csv and opens it (from a temporary
// file, removed at once: the mapping stays valid).
absl::StatusOr<std::shared_ptr<const Model>> TrainLowRankOnSplit(
    const std::string& dir, const SolverOptions& solver,
    const LowRankOptions& low_rank, double* train_seconds) {
  absl::StatusOr<Interactions> x = ReadSplitFile(dir + "/train.csv");
  if (!x.ok()) return x.status();
  std::error_code ec;
  const std::filesystem::path temp =
      std::filesystem::temp_directory_path(ec) /
      absl::StrCat("edlae-evaluate-", ::getpid(), ".edlae");
  TrainOptions train;
  train.spec = ModelSpecOf(solver, low_rank);
  train.num_threads = solver.num_threads;
  train.source = dir + "/train.csv";
  train.out_path = temp.string();
  train.log = &std::cerr;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<TrainReport> report = TrainAndWrite(*x, train);
  if (!report.ok()) return report.status();
  *train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  absl::StatusOr<std::shared_ptr<const Model>> model =
      Model::Open(train.out_path);
  std::filesystem::remove(temp, ec);
  return model;
}

// evaluate's flags; their values are the defaults.
struct EvaluateFlags {
  std::string split;
  std::string model_file;
  std::string fold_in;  // weak generalization: with targets, instead of split
  std::string targets;
  DataFlags data;      // how fold_in and targets are read (format flags only)
  SolverFlags solver;  // without --model-file: what to train on the split
  LowRankFlags low_rank;  // … and at which rank (0: full rank)
  std::string on = "test";
  bool json = false;
  std::string scorer = "exact";
};

// evaluate --fold-in F --targets T --model-file M: every user of F scored
// from its own F items (excluded) against its T items.
int RunWeakEvaluate(const CLI::App& command, const EvaluateFlags& flags) {
  absl::StatusOr<std::shared_ptr<const Model>> opened =
      Model::Open(flags.model_file);
  if (!opened.ok()) return Fail(opened.status());
  const Model& model = **opened;
  if (flags.scorer == "gemm" && model.kind() != ModelKind::kDense) {
    return UsageError(
        command,
        absl::StrCat("--scorer gemm needs a dense model; ", flags.model_file,
                     " is ", ModelKindName(model.kind())));
  }
  EvalOptions eval;
  eval.method = *ParseScorer(flags.scorer);
  eval.num_threads = flags.solver.threads;
  absl::StatusOr<WeakHeldOut> held_out = ReadWeakHeldOut(
      flags.fold_in, flags.targets, ToLoadOptions(flags.data),
      [&model](std::string_view id) { return model.FindItem(id); });
  if (!held_out.ok()) return Fail(held_out.status());
  const HeldOutUsers& users = held_out->users;
  const size_t unknown = users.unknown_fold_in + users.unknown_targets;
  if (unknown * 2 > users.fold_in_items.size() + users.target_items.size() +
                        users.unknown_fold_in) {
    std::cerr << absl::StrFormat(
        "[evaluate] warning: %d of the %d interactions name items %s does not "
        "know: was it trained on %s?\n",
        unknown,
        users.fold_in_items.size() + users.target_items.size() +
            users.unknown_fold_in,
        flags.model_file, flags.fold_in);
  }
  if (users.target_items.empty()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(flags.targets, " names no user with a target")));
  }
  absl::StatusOr<WeakEvalResult> result = EvaluateWeak(model, users, eval);
  if (!result.ok()) return Fail(result.status());

  std::string description = flags.model_file;
  for (const char* key :
       {"algorithm", "rank", "method", "lambda", "dropout", "density"}) {
    if (auto v = model.GetMetadata(key)) {
      absl::StrAppend(&description, " ", key, "=", std::string(*v));
    }
  }
  if (flags.json) {
    std::cout << absl::StrCat(
        "{\"protocol\":\"weak\",\"fold_in\":", JsonQuote(flags.fold_in),
        ",\"targets\":", JsonQuote(flags.targets),
        ",\"model\":", JsonQuote(description),
        ",\"model_kind\":", JsonQuote(ModelKindName(model.kind())),
        ",\"scorer\":", JsonQuote(flags.scorer), ",", WeakCountsJson(*held_out),
        ",\"metrics\":", WeakMetricJson(*result), "}\n");
  } else {
    std::cout << absl::StrFormat(
        "weak generalization: users of %s scored against %s: %d scored, %d "
        "with targets (%s, %.3f s)\nmodel: %s\n",
        flags.fold_in, flags.targets, result->num_users,
        result->users_with_targets, ModelKindName(model.kind()),
        result->seconds, description);
    std::cout << WeakCountNotes(*held_out);
    std::cout << "metric     mean ± standard error (population std / "
                 "sqrt(users)); Recall@k = hits / |targets|\n"
              << WeakMetricLines(*result);
  }
  return kExitOk;
}

int RunEvaluate(const CLI::App& command, const EvaluateFlags& flags) {
  if (!flags.fold_in.empty() || !flags.targets.empty()) {
    if (flags.fold_in.empty() || flags.targets.empty()) {
      return UsageError(command, "--fold-in and --targets go together");
    }
    return RunWeakEvaluate(command, flags);
  }
  if (flags.split.empty()) {
    return UsageError(command,
                      "--split DIR is required (or --fold-in F --targets T "
                      "--model-file M for weak generalization)");
  }
  const std::string& dir = flags.split;
  const std::string& model_file = flags.model_file;
  const std::string& part = flags.on;
  EvalOptions eval;
  eval.method = *ParseScorer(flags.scorer);
  eval.num_threads = flags.solver.threads;

  std::shared_ptr<const Model> file_model;
  TrainedModel trained;
  Interactions train;
  WeightRows view;
  absl::Span<const float> popularity;
  ItemLookup lookup;
  std::string description;
  double train_seconds = 0;
  // Scores through a model file: the one given, or a low-rank model trained
  // on the split (written to a temporary file, as train would).
  auto use_file = [&](std::shared_ptr<const Model> m, const std::string& name) {
    file_model = std::move(m);
    if (file_model->kind() == ModelKind::kDense) {
      view = file_model->dense_rows();
    }
    popularity = file_model->popularity();
    lookup = [&](std::string_view id) { return file_model->FindItem(id); };
    description = name;
    for (const char* key :
         {"algorithm", "rank", "method", "lambda", "dropout"}) {
      if (auto v = file_model->GetMetadata(key)) {
        absl::StrAppend(&description, " ", key, "=", std::string(*v));
      }
    }
  };
  const SolverOptions solver = ToSolverOptions(flags.solver);
  absl::StatusOr<LowRankOptions> low_rank =
      CheckedLowRankOptions(flags.low_rank, solver);
  if (!low_rank.ok()) return UsageError(command, low_rank.status().message());
  if (!model_file.empty()) {
    absl::StatusOr<std::shared_ptr<const Model>> m = Model::Open(model_file);
    if (!m.ok()) return Fail(m.status());
    WarnIfNotTrainedOnSplit(**m, dir);
    use_file(*std::move(m), model_file);
  } else if (low_rank->rank > 0) {
    absl::StatusOr<std::shared_ptr<const Model>> m =
        TrainLowRankOnSplit(dir, solver, *low_rank, &train_seconds);
    if (!m.ok()) return Fail(m.status());
    use_file(*std::move(m), "trained on the split:");
  } else {
    absl::StatusOr<Interactions> x = ReadSplitFile(dir + "/train.csv");
    if (!x.ok()) return Fail(x.status());
    train = *std::move(x);
    absl::StatusOr<TrainedModel> t = TrainInMemory(train, solver);
    if (!t.ok()) return Fail(t.status());
    trained = *std::move(t);
    train_seconds = trained.gram_seconds + trained.solve_seconds;
    std::cerr << absl::StrFormat(
        "[evaluate] trained %s on %s/train.csv (%d users × %d items): gram "
        "%.2f s, solve %.2f s\n",
        AlgorithmName(solver.algorithm), dir, train.num_users(),
        train.num_items(), trained.gram_seconds, trained.solve_seconds);
    view = trained.view();
    popularity = trained.popularity;
    absl::flat_hash_map<std::string_view, uint32_t> index;
    for (size_t i = 0; i < train.num_items(); ++i)
      index.emplace(train.item_ids[i], i);
    lookup = [index = std::move(index)](
                 std::string_view id) -> std::optional<uint32_t> {
      auto it = index.find(id);
      if (it == index.end()) return std::nullopt;
      return it->second;
    };
    description = absl::StrFormat(
        "%s λ=%g p=%g (%s, trained on the split)",
        AlgorithmName(solver.algorithm), solver.lambda,
        solver.algorithm == Algorithm::kEase ? 0.0 : solver.dropout,
        PrecisionName(solver.precision));
  }

  absl::StatusOr<HeldOutUsers> users = ReadHeldOutUsers(dir, part, lookup);
  if (!users.ok()) return Fail(users.status());
  if (absl::Status s = CheckSplitCoverage(*users, description); !s.ok())
    return Fail(s);
  absl::StatusOr<EvalResult> result =
      file_model ? EvaluateHeldOutOfModel(*file_model, *users, eval)
                 : EvaluateHeldOut(view, popularity, *users, eval);
  if (!result.ok()) return Fail(result.status());

  if (flags.json) {
    std::cout << absl::StrCat(
        "{\"split\":", JsonQuote(dir), ",\"on\":", JsonQuote(part),
        ",\"model\":", JsonQuote(description),
        ",\"scorer\":", JsonQuote(flags.scorer),
        absl::StrFormat(",\"train_seconds\":%.3f", train_seconds),
        ",\"unknown_fold_in\":", users->unknown_fold_in,
        ",\"unknown_targets\":", users->unknown_targets,
        ",\"metrics\":", MetricJson(*result), "}\n");
  } else {
    std::cout << absl::StrFormat(
        "%s users of %s: %d scored, %d with targets (%s scorer, %.3f s)\n"
        "model: %s\n",
        part, dir, result->num_users, result->users_with_targets, flags.scorer,
        result->seconds, description);
    if (users->unknown_fold_in + users->unknown_targets > 0) {
      std::cout << absl::StrFormat(
          "note: %d fold-in and %d target interactions name items the model "
          "lacks\n",
          users->unknown_fold_in, users->unknown_targets);
    }
    std::cout
        << "metric     mean ± standard error (population std / sqrt(users))\n"
        << MetricLines(*result);
  }
  return kExitOk;
}

}  // namespace

Command AddEvaluateCommand(CLI::App& program) {
  auto flags = std::make_shared<EvaluateFlags>();
  CLI::App* command = program.add_subcommand(
      "evaluate",
      "Held-out Recall@20/50 and nDCG@100 (± s.e.) of a model file, or of a "
      "model trained on the split's train.csv (full rank, or --rank K); or, "
      "with --fold-in/--targets, weak-generalization Recall and nDCG at "
      "20/50/100 of a model file.");
  CLI::Option* split = AddSplitDirFlag(*command, flags->split)->required(false);
  CLI::Option* model_file =
      AddOption(*command, "model-file", flags->model_file,
                "trained model file to evaluate (its item ids must be the "
                "split's sids, or those of --fold-in's items)");
  CLI::Option* fold_in = AddOption(
      *command, "fold-in", flags->fold_in,
      "weak generalization: interactions each user is scored from (the "
      "model's training file, e.g. train.txt; excluded from the ranking)");
  CLI::Option* targets = AddOption(
      *command, "targets", flags->targets,
      "weak generalization: each user's held-out items (e.g. test.txt), "
      "matched to --fold-in by user id");
  for (CLI::Option* weak : {fold_in, targets}) {
    weak->needs(model_file)->excludes(split);
  }
  // Fold-in/targets format; without them the flags would mean nothing.
  for (CLI::Option* format : AddFormatFlags(*command, flags->data)) {
    format->needs(fold_in);
  }
  const SolverFlagOptions solver = AddSolverFlags(*command, flags->solver);
  AddLowRankFlags(*command, flags->low_rank);
  std::vector<CLI::Option*> training = {solver.model, solver.lambda,
                                        solver.dropout, solver.precision,
                                        command->get_option("--rank")};
  training.insert(training.end(), flags->low_rank.needs_rank.begin(),
                  flags->low_rank.needs_rank.end());
  for (CLI::Option* option : training) model_file->excludes(option);
  CLI::Option* on =
      AddOption(*command, "on", flags->on, "held-out part: validation | test")
          ->check(CLI::IsMember({"validation", "test"}));
  on->excludes(fold_in)->excludes(targets);
  AddJsonFlag(*command, flags->json);
  AddScorerFlag(*command, flags->scorer);
  return {command, [command, flags] { return RunEvaluate(*command, *flags); }};
}

}  // namespace edlae::cli
