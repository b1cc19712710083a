// Model conversions: another storage dtype (f32 ⇄ f16/bf16), and pruning a
// dense model to a sparse one.
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

// Writes a sparse model (kind kSparse) holding, for every row i of the dense
// model's B, its `keep_per_row` entries of largest |B[i, j]| (ties by lower
// j; exact zeros are never stored), as `dtype`. Scores of the result are
// those of B with every other entry set to 0. Item ids, popularity and
// metadata are kept, plus `pruned_from_fingerprint` and `prune_topk`.
// Memory: one widened row plus the kept entries (num_items × keep_per_row).
// Errors: InvalidArgument (not a dense model, keep_per_row == 0, a weight
// `dtype` cannot hold), and the I/O errors of the write.
absl::Status PruneToSparse(const Model& model, size_t keep_per_row, DType dtype,
                           const std::string& out_path);

// keep_per_row for a target density D (the fraction of num_items² weights
// kept): max(1, round(D · num_items)), at most num_items.
size_t KeepPerRowForDensity(double density, size_t num_items);

}  // namespace edlae

#endif  // EDLAE_CORE_MODEL_CONVERT_H_
