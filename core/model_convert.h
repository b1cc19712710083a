// ConvertModel: rewrites a model file with its weights in another storage dtype (f32 ⇄ f16/bf16).
#ifndef EDLAE_CORE_MODEL_CONVERT_H_
#define EDLAE_CORE_MODEL_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "core/model.h"
#include "core/model_format.h"

namespace edlae {

// Writes `model` to `out_path` (atomically, core/model_writer.h) with its
// weights (B, or U and V) stored as `dtype`, rounded to nearest even; item
// ids, popularity and metadata are kept, plus the metadata keys
// `converted_from_fingerprint` and `converted_from_dtype` naming the source.
// Widening (f16/bf16 → f32) is exact; narrowing loses precision, which
// `edlae-train evaluate` measures. Memory: the weights as compact float32
// (num_items × row length floats per matrix). `out_path` may be the model's
// own file: the write goes to a temporary file renamed over it, and the
// mapping keeps the old contents. Errors: InvalidArgument when a weight does
// not fit `dtype` (|w| > 65504 for f16), and the I/O errors of the write.
absl::Status ConvertModel(const Model& model, DType dtype,
                          const std::string& out_path);

}  // namespace edlae

#endif  // EDLAE_CORE_MODEL_CONVERT_H_
