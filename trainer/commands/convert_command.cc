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

// convert's flags, all required.
struct ConvertFlags {
  std::string model_file;
  std::string dtype;
  std::string out;
};

int RunConvert(const ConvertFlags& flags) {
  const std::string& in = flags.model_file;
  const std::string& out = flags.out;
  const absl::StatusOr<DType> dtype = ParseDType(flags.dtype);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Open(in);
  if (!model.ok()) return Fail(model.status());
  if (absl::Status s = ConvertModel(**model, *dtype, out); !s.ok()) {
    return Fail(s);
  }
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
      "Rewrite a model file with its weights stored as f32, f16 or bf16.");
  AddOption(*command, "model-file", flags->model_file, "model file to read")
      ->required();
  AddOption(*command, "dtype", flags->dtype,
            "storage type of the written weights: f32 | f16 | bf16")
      ->required()
      ->check(ParsedBy(
          [](const std::string& name) { return ParseDType(name).status(); }));
  AddOption(*command, "out", flags->out, "model file to write (atomically)")
      ->required();
  return {command, [flags] { return RunConvert(*flags); }};
}

}  // namespace edlae::cli
