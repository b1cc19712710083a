// edlae-train convert: rewrite a model file with its weights stored as f32, f16 or bf16.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/model.h"
#include "core/model_convert.h"
#include "core/weight_rows.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"

namespace edlae::cli {

int RunConvert() {
  const std::string in = absl::GetFlag(FLAGS_model_file);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (in.empty()) return UsageError("convert needs --model-file");
  if (out.empty()) return UsageError("convert needs --out");
  absl::StatusOr<DType> dtype = ParseDType(absl::GetFlag(FLAGS_dtype));
  if (!dtype.ok()) {
    return UsageError(absl::StrCat("--dtype: ", dtype.status().message()));
  }
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

}  // namespace edlae::cli
