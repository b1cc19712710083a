// edlae-train convert: rewrite a model file with its weights stored as f32, f16
// or bf16.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/model.h"
#include "core/model_convert.h"
#include "core/weight_rows.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"

namespace edlae::cli {
namespace {

// convert's flags: the files, and --dtype and/or one pruning flag.
struct ConvertFlags {
  std::string model_file;
  std::string dtype;  // "": the source's (pruning only)
  size_t prune_topk = 0;
  double density = 0;
  std::string out;
};

int RunConvert(const CLI::App& command, const ConvertFlags& flags) {
  const std::string& in = flags.model_file;
  const std::string& out = flags.out;
  const bool prune = flags.prune_topk > 0 || flags.density > 0;
  if (flags.dtype.empty() && !prune) {
    return UsageError(command,
                      "convert needs --dtype, --prune-topk or --density");
  }
  // The model's own file is a valid --out (the write replaces it
  // atomically; the open model keeps the old contents).
  if (std::optional<int> bad = PreflightOutput(command, out, "--out", {})) {
    return *bad;
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Open(in);
  if (!model.ok()) return Fail(model.status());
  const DType dtype =
      flags.dtype.empty() ? (*model)->dtype() : *ParseDType(flags.dtype);
  if (dtype == DType::kInt8 && (prune || (*model)->kind() == ModelKind::kSparse)) {
    return UsageError(command,
                      absl::StrCat("--dtype int8 is for dense and low-rank models; ",
                                   prune ? "pruning writes a sparse model"
                                         : absl::StrCat("'", in, "' is a ",
                                                        ModelKindName(
                                                            (*model)->kind()),
                                                        " model")));
  }
  const absl::Status s =
      !prune ? ConvertModel(**model, dtype, out)
             : PruneToSparse(**model,
                             flags.prune_topk > 0
                                 ? flags.prune_topk
                                 : KeepPerRowForDensity(flags.density,
                                                        (*model)->num_items()),
                             dtype, out);
  if (!s.ok()) return Fail(s);
  absl::StatusOr<std::shared_ptr<const Model>> written = Model::Open(out);
  if (!written.ok()) return Fail(written.status());  // should not happen
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::cerr << absl::StrFormat(
      "[convert] %s (%s, %d bytes) → %s (%s, %d bytes, fingerprint %s) in "
      "%.3f s\n",
      in, DTypeName((*model)->dtype()), (*model)->file_size(), out,
      DTypeName((*written)->dtype()), (*written)->file_size(),
      (*written)->fingerprint(), seconds);
  return kExitOk;
}

}  // namespace

Command AddConvertCommand(CLI::App& program) {
  auto flags = std::make_shared<ConvertFlags>();
  CLI::App* command = program.add_subcommand(
      "convert",
      "Rewrite a model file with its weights stored as f32, f16, bf16 or "
      "int8 (dense, low-rank), "
      "or pruned to a sparse model.");
  AddOption(*command, "model-file", flags->model_file, "model file to read")
      ->required();
  AddOption(*command, "dtype", flags->dtype,
            "storage type of the written weights: f32 | f16 | bf16 | int8 "
            "(int8: dense and low-rank models, a scale per row; with pruning, default: "
            "the source's)")
      ->check(ParsedBy(
          [](const std::string& name) { return ParseDType(name).status(); }));
  CLI::Option* topk =
      AddOption(*command, "prune-topk", flags->prune_topk,
                "write a sparse model keeping each row's K largest |weights| "
                "(dense models)")
          ->check(AtLeast(1));
  AddOption(*command, "density", flags->density,
            "the same with K = D · items (D: the fraction of weights kept)")
      ->check(GreaterThan(0))
      ->check(Between(0, 1))
      ->excludes(topk);
  AddOption(*command, "out", flags->out, "model file to write (atomically)")
      ->required();
  return {command, [command, flags] { return RunConvert(*command, *flags); }};
}

}  // namespace edlae::cli
