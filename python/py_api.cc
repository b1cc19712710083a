// The Python API's C++ side: fit into a held model, save, recommend, similar
// items, evaluate.
#include "python/py_api.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_io.h"
#include "common/progress.h"
#include "core/exclusions.h"
#include "core/scorer.h"
#include "core/status_macros.h"
#include "core/weight_rows.h"
#include "trainer/low_rank.h"
#include "trainer/model_spec.h"
#include "trainer/sparse_factor.h"
#include "trainer/sparse_solver.h"

namespace edlae::python {
namespace {

int ThreadsOr(int threads) {
  if (threads > 0) return threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// PrepareRecommend's id mapping: known ids as indices, unknown ones counted.
uint32_t MapIds(const Model& model, const std::vector<std::string>& ids,
                std::vector<uint32_t>* out) {
  uint32_t unknown = 0;
  for (const std::string& id : ids) {
    if (std::optional<uint32_t> index = model.FindItem(id)) {
      out->push_back(*index);
    } else {
      ++unknown;
    }
  }
  return unknown;
}

// FillRecommendResponse's overflow check.
absl::Status CheckFinite(const Recommendation& r) {
  for (const ScoredItem& item : r.items) {
    if (!std::isfinite(item.score)) {
      return absl::InvalidArgumentError(
          "weights are too large: the scores overflow float");
    }
  }
  return absl::OkStatus();
}

absl::Status WithQuery(const absl::Status& s, size_t q) {
  return absl::Status(s.code(), absl::StrCat("query ", q, ": ", s.message()));
}

}  // namespace

absl::StatusOr<TrainOptions> TrainOptionsOf(const FitArgs& args,
                                            const Interactions& x) {
  TrainOptions train;
  ModelSpec& spec = train.spec;
  ASSIGN_OR_RETURN(spec.algorithm, ParseAlgorithm(args.model));
  if (!(args.lam >= 0) || !std::isfinite(args.lam)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lam must be finite and >= 0, not ", args.lam));
  }
  if (!(args.dropout >= 0 && args.dropout < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dropout must be in [0, 1), not ", args.dropout));
  }
  if (!(args.density >= 0 && args.density <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("density must be in (0, 1], not ", args.density));
  }
  if (args.min_cooccurrence < 0 || args.epochs < 1 || !(args.omega >= 0) ||
      args.threads < 0) {
    return absl::InvalidArgumentError(
        "min_cooccurrence, omega and threads must be >= 0, epochs >= 1");
  }
  spec.lambda = args.lam;
  spec.dropout = args.dropout;
  ASSIGN_OR_RETURN(spec.precision, ParsePrecision(args.precision));
  spec.rank = args.rank;
  spec.epochs = args.epochs;
  spec.omega =
      args.omega > 0 ? args.omega : DefaultOmega(args.lam);  // as --omega
  spec.seed = args.seed;
  ASSIGN_OR_RETURN(spec.eigensolver, ParseEigenMethod(args.eigensolver));
  if (spec.rank == 0 && !args.method.empty()) {
    return absl::InvalidArgumentError(
        "method is for low-rank training: give rank=K too");
  }
  if (spec.rank > x.num_items()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", spec.rank, " exceeds the ", x.num_items(), " items"));
  }
  if (!args.method.empty()) {
    ASSIGN_OR_RETURN(spec.method, ParseLowRankMethod(args.method));
  }
  RETURN_IF_ERROR(ResolveLowRankMethod(spec.algorithm, spec.rank,
                                       !args.method.empty(), spec.method));
  ASSIGN_OR_RETURN(train.storage, ParseDType(args.dtype));
  const std::optional<FactorizationMethod> factorization =
      ParseFactorizationMethod(args.factorization);
  if (!factorization.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "factorization must be auto, complete or incomplete, not '",
        args.factorization, "'"));
  }
  const std::optional<SparseMethod> sparse_method =
      ParseSparseMethod(args.sparse_method);
  if (!sparse_method.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sparse_method must be auto, neighborhoods or factor, not '",
        args.sparse_method, "'"));
  }
  RETURN_IF_ERROR(CheckSparseMethod(*sparse_method, *factorization,
                                    args.neighborhood_factor));
  if (!(args.incomplete_fill > 0) || args.incomplete_max_per_column < 0 ||
      args.memory_limit_mb < 0) {
    return absl::InvalidArgumentError(
        "incomplete_fill must be > 0, incomplete_max_per_column and "
        "memory_limit_mb >= 0");
  }
  train.num_threads = args.threads;
  train.source = args.source;
  train.progress = args.verbose ? ProgressMode::kAuto : ProgressMode::kNever;
  if (args.verbose) train.log = &std::cerr;

  // RunTrain (trainer/commands/train_command.cc): what trains sparse, its
  // options, and the memory check.
  const bool shaped =
      args.density > 0 || *factorization != FactorizationMethod::kAuto ||
      *sparse_method != SparseMethod::kAuto || args.neighborhood_factor > 0;
  const bool sparse = args.sparse || args.min_cooccurrence > 0 || shaped;
  RETURN_IF_ERROR(CheckStorage(train.storage, sparse));
  if (sparse) {
    RETURN_IF_ERROR(CheckSparseTraining(spec, shaped));
    SparseTrainOptions options;
    options.density =
        args.density > 0 ? args.density : DefaultSparseDensity(x.num_items());
    options.min_cooccurrence = static_cast<uint32_t>(args.min_cooccurrence);
    options.method = *sparse_method;
    options.neighborhood_factor = args.neighborhood_factor;
    options.factorization = *factorization;
    options.incomplete_fill = args.incomplete_fill;
    options.incomplete_max_per_column =
        static_cast<size_t>(args.incomplete_max_per_column);
    options.progress = train.progress;
    train.sparse = options;
  }
  const MemoryBudget budget = TrainingMemoryBudget(
      x, train, static_cast<size_t>(args.memory_limit_mb) << 20);
  if (absl::Status s = ApplyMemoryBudget(budget, args.skip_memory_check, train);
      !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat(s.message(),
                               "; drop rare items, use sparse=True, or pass "
                               "skip_memory_check=True to try anyway"));
  }
  return train;
}

absl::StatusOr<std::shared_ptr<const Model>> Fit(const Interactions& x,
                                                 const FitArgs& args) {
  ASSIGN_OR_RETURN(TrainOptions train, TrainOptionsOf(args, x));
  std::error_code ec;
  std::filesystem::path parent = args.temp_dir.empty()
                                     ? std::filesystem::temp_directory_path(ec)
                                     : std::filesystem::path(args.temp_dir);
  if (ec) parent = "/tmp";
  std::string pattern = (parent / "edlae-fit-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return ErrnoError(errno, "mkdtemp", pattern);
  }
  const std::filesystem::path dir = pattern;
  train.out_path = (dir / "model.edlae").string();
  absl::StatusOr<TrainReport> report = TrainAndWrite(x, train);
  absl::StatusOr<std::shared_ptr<const Model>> model =
      report.ok()
          ? Model::Open(train.out_path)
          : absl::StatusOr<std::shared_ptr<const Model>>(report.status());
  std::filesystem::remove_all(dir, ec);  // the mapping stays valid
  return model;
}

absl::Status SaveModel(const Model& model, const std::string& path) {
  const std::string_view bytes = model.bytes();
  return WriteFileAtomically(path,
                             absl::string_view(bytes.data(), bytes.size()));
}

absl::StatusOr<std::vector<Answer>> RecommendQueries(
    const Model& model, const std::vector<Query>& queries,
    const QueryOptions& options) {
  if (options.top_n == 0) {
    return absl::InvalidArgumentError("n must be at least 1");
  }
  std::vector<uint32_t> exclude, candidates;
  const uint32_t unknown_lists = MapIds(model, options.exclude, &exclude) +
                                 MapIds(model, options.candidates, &candidates);
  candidates = SortedUnique(std::move(candidates));
  const bool no_known_candidate =
      !options.candidates.empty() && candidates.empty();

  std::vector<std::vector<HistoryEntry>> histories(queries.size());
  std::vector<Answer> answers(queries.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    const Query& query = queries[q];
    if (!query.weights.empty() && query.weights.size() != query.ids.size()) {
      return WithQuery(
          absl::InvalidArgumentError(absl::StrCat(
              query.weights.size(), " weights for ", query.ids.size(),
              " items: give none or one per item")),
          q);
    }
    answers[q].unknown = unknown_lists;
    for (size_t i = 0; i < query.ids.size(); ++i) {
      const float weight = query.weights.empty() ? 1.0f : query.weights[i];
      if (!std::isfinite(weight)) {
        return WithQuery(absl::InvalidArgumentError(
                             absl::StrCat("weight ", i, " is not finite")),
                         q);
      }
      std::optional<uint32_t> index = model.FindItem(query.ids[i]);
      if (!index.has_value()) {
        ++answers[q].unknown;
        continue;
      }
      histories[q].push_back(HistoryEntry{*index, weight});
    }
  }
  if (no_known_candidate) {
    // The server's answer: no item, fallback when no history weight counts.
    for (size_t q = 0; q < queries.size(); ++q) {
      bool any_weight = false;
      for (const HistoryEntry& e : histories[q]) any_weight |= e.weight != 0;
      answers[q].popularity_fallback = !any_weight;
    }
    return answers;
  }
  std::vector<ScoringRequest> requests(queries.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    requests[q].history = histories[q];
    requests[q].options.top_n = options.top_n;
    requests[q].options.exclude_history = options.exclude_history;
    requests[q].options.exclude = exclude;
    requests[q].options.candidates = candidates;
  }
  std::vector<absl::StatusOr<Recommendation>> results = RecommendMany(
      model, requests, RecommendManyOptions{64, ThreadsOr(options.threads)});
  for (size_t q = 0; q < queries.size(); ++q) {
    if (!results[q].ok()) return WithQuery(results[q].status(), q);
    if (absl::Status s = CheckFinite(*results[q]); !s.ok()) {
      return WithQuery(s, q);
    }
    answers[q].items = std::move(results[q]->items);
    answers[q].popularity_fallback = results[q]->popularity_fallback;
  }
  return answers;
}

absl::StatusOr<Answer> SimilarTo(const Model& model,
                                 const std::vector<std::string>& ids,
                                 const QueryOptions& options) {
  if (options.top_n == 0) {
    return absl::InvalidArgumentError("n must be at least 1");
  }
  if (options.cosine && model.kind() != ModelKind::kLowRank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "similarity cosine needs a low-rank model (cosine with the rows of "
        "V); this model is ",
        ModelKindName(model.kind()), ": use similarity model"));
  }
  Answer answer;
  std::vector<uint32_t> query, exclude, candidates;
  answer.unknown = MapIds(model, ids, &query) +
                   MapIds(model, options.exclude, &exclude) +
                   MapIds(model, options.candidates, &candidates);
  candidates = SortedUnique(std::move(candidates));
  if (!options.candidates.empty() && candidates.empty()) {
    answer.popularity_fallback = query.empty();
    return answer;
  }
  RecommendOptions o;
  o.top_n = options.top_n;
  o.exclude = exclude;
  o.candidates = candidates;
  ASSIGN_OR_RETURN(
      Recommendation r,
      SimilarItems(model, query,
                   options.cosine ? Similarity::kCosine : Similarity::kModel,
                   o));
  RETURN_IF_ERROR(CheckFinite(r));
  answer.items = std::move(r.items);
  answer.popularity_fallback = r.popularity_fallback;
  return answer;
}

absl::StatusOr<WeakEvaluation> EvaluateWeakOf(const Model& model,
                                              const Interactions& fold_in,
                                              const Interactions& targets,
                                              int threads) {
  WeakEvaluation out;
  out.held_out = AlignWeakHeldOut(
      fold_in, targets,
      [&model](std::string_view id) { return model.FindItem(id); });
  if (out.held_out.users.target_items.empty()) {
    return absl::InvalidArgumentError("targets name no user with a target");
  }
  EvalOptions eval;
  eval.num_threads = threads;
  ASSIGN_OR_RETURN(out.result, EvaluateWeak(model, out.held_out.users, eval));
  return out;
}

absl::StatusOr<SplitEvaluation> EvaluateSplitOf(const Model& model,
                                                const std::string& dir,
                                                const std::string& part,
                                                int threads) {
  SplitEvaluation out;
  ASSIGN_OR_RETURN(out.users,
                   ReadHeldOutUsers(dir, part, [&model](std::string_view id) {
                     return model.FindItem(id);
                   }));
  RETURN_IF_ERROR(CheckSplitCoverage(out.users, "the model"));
  EvalOptions eval;
  eval.num_threads = threads;
  ASSIGN_OR_RETURN(out.result, EvaluateHeldOutOfModel(model, out.users, eval));
  return out;
}

}  // namespace edlae::python
