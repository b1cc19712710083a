// Serializes a model to the edlae file format and publishes it atomically.
#ifndef EDLAE_CORE_MODEL_WRITER_H_
#define EDLAE_CORE_MODEL_WRITER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/model_format.h"

namespace edlae {

// What to write for a dense model. Nothing is owned; all spans must stay valid
// for the duration of WriteDenseModel.
struct DenseModelData {
  // B, num_items × num_items, compact row-major (row i at b[i * num_items]).
  absl::Span<const float> b;
  // External item ids, num_items entries, unique, non-empty.
  absl::Span<const std::string> item_ids;
  // Training interaction count per item, num_items entries.
  absl::Span<const float> popularity;
  // Training metadata; keys unique and non-empty.
  std::vector<std::pair<std::string, std::string>> metadata;
  // Storage type of B: float32, f16/bf16 rounded to nearest even, or int8
  // with a scale per row.
  DType dtype = DType::kFloat32;
};

// What to write for a low-rank model (B = U·Vᵀ). Nothing is owned; all spans
// must stay valid for the duration of WriteLowRankModel.
struct LowRankModelData {
  // Rank k >= 1: the columns of U and V.
  size_t rank = 0;
  // U and V, num_items × rank each, compact row-major (row i at u[i * rank]).
  absl::Span<const float> u;
  absl::Span<const float> v;
  // As in DenseModelData.
  absl::Span<const std::string> item_ids;
  absl::Span<const float> popularity;
  std::vector<std::pair<std::string, std::string>> metadata;
  // Storage type of U and V (as in DenseModelData).
  DType dtype = DType::kFloat32;
};

// What to write for a sparse model: B in CSR rows. Nothing is owned; all
// spans must stay valid for the duration of WriteSparseModel.
struct SparseModelData {
  // Row i's entries are [offsets[i], offsets[i + 1]): num_items + 1 offsets,
  // starting at 0, never decreasing, ending at indices.size().
  absl::Span<const uint64_t> offsets;
  // Column (item) of each entry: strictly ascending within a row, < num_items.
  absl::Span<const uint32_t> indices;
  // Weight of each entry (finite), stored as `dtype`.
  absl::Span<const float> weights;
  // As in DenseModelData.
  absl::Span<const std::string> item_ids;
  absl::Span<const float> popularity;
  std::vector<std::pair<std::string, std::string>> metadata;
  DType dtype = DType::kFloat32;
};

// Writes `data` to `path` atomically: a temporary file in the same directory,
// fsync, rename over `path`, fsync of the directory. On any error the temporary
// file is removed and `path` is untouched. Errors: InvalidArgument
// (inconsistent sizes, non-finite weights, duplicate or empty ids), and the I/O
// status of the failing call. Weights are given as float32 and stored as
// data.dtype; a weight that dtype cannot represent (beyond ±65504 for f16) is
// InvalidArgument, never a silent infinity. kInt8 (dense and low-rank models;
// InvalidArgument for sparse ones) rounds each row of B (or of U and of V) to
// int8 with its own scale, max |row| / 127, so every weight is within scale / 2
// of what is stored, and writes the scales as section kRowScales (B's, or U's
// then V's).
absl::Status WriteDenseModel(const std::string& path,
                             const DenseModelData& data);

// The same for a low-rank model: header kind kLowRank with `rank`, U and V
// sections with rows padded to a multiple of 64 bytes (docs/model-format.md).
absl::Status WriteLowRankModel(const std::string& path,
                               const LowRankModelData& data);

// The same for a sparse model: header kind kSparse (rank 0, row_stride 0),
// sections sparse offsets, indices and weights (docs/model-format.md).
// InvalidArgument also for malformed CSR (offsets, unsorted or out-of-range
// indices, sizes).
absl::Status WriteSparseModel(const std::string& path,
                              const SparseModelData& data);

}  // namespace edlae

#endif  // EDLAE_CORE_MODEL_WRITER_H_
