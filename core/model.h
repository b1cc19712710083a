// A validated, read-only model (mapped or snapshot): dense B, low-rank U, V or
// sparse CSR B, plus item ids.
#ifndef EDLAE_CORE_MODEL_H_
#define EDLAE_CORE_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/mapped_file.h"
#include "core/model_format.h"
#include "core/weight_rows.h"

namespace edlae {

struct ModelOpenOptions {
  // Map with MAP_POPULATE: every page is resident before Open returns, so the
  // first requests on a new version pay no page faults (serving warm-up).
  bool populate = false;
  // Read the file into private memory instead of mapping it
  // (MappedFile::Snapshot): the model then never changes or faults (SIGBUS)
  // when the file is rewritten or truncated in place after Open, at the cost
  // of file_size() bytes of anonymous memory that are not shared with the
  // page cache or other processes. `populate` is implied.
  bool snapshot = false;
};

// Matrix convention for the whole library: matrices are row-major with rows
// padded to `row_stride()` elements of `dtype()` (float32, or f16/bf16 halves
// widened to float32 when scored, or — dense B only — int8 with a float32
// scale per row; a row is a multiple of 64 bytes, so every row starts on a
// cache line). For a dense model, B is num_items × num_items
// and row i of B holds the contribution of history item i to every item's
// score:
//   scores = Σ_{i ∈ history} weight_i · B[i, :].
// For a low-rank model, U and V are num_items × rank each (B = U·Vᵀ, never
// formed) and row i of each is item i's embedding in the encoder (U) and the
// decoder (V):
//   z = Σ_{i ∈ history} weight_i · U[i, :]   (rank floats),
//   score of item j = V[j, :] · z.
// For a sparse model, B is stored in CSR rows (sparse_rows()) and scores are
// Σ_{i ∈ history} weight_i · B[i, :] over the stored entries (others are 0).
//
// A Model is immutable after Open/FromBytes and safe to share between threads;
// hold it through std::shared_ptr<const Model> so a request keeps the mapping
// alive while a newer version is swapped in.
class Model {
 public:
  // Maps and fully validates `path`: magic, version, every size and offset
  // against the file size (overflow-checked), and every checksum, before any
  // pointer is handed out. Errors: NotFound/PermissionDenied (open),
  // DataLoss (corrupt or truncated file), InvalidArgument (unsupported
  // version, kind or dtype).
  static absl::StatusOr<std::shared_ptr<const Model>> Open(
      const std::string& path, const ModelOpenOptions& options = {});

  // Validates a model held in memory (tests, fuzzing). The bytes are copied
  // into an aligned buffer the Model owns.
  static absl::StatusOr<std::shared_ptr<const Model>> FromBytes(
      std::string_view bytes);

  ModelKind kind() const { return kind_; }
  DType dtype() const { return dtype_; }
  size_t num_items() const { return num_items_; }
  size_t rank() const { return rank_; }  // 0 for dense models
  // Elements per stored row of B (>= num_items) or of U and V (>= rank): a
  // multiple of 16 for float32, of 32 for halves.
  size_t row_stride() const { return row_stride_; }
  size_t file_size() const { return size_; }
  uint32_t format_version() const { return format_version_; }

  // The weight matrices as typed views (any dtype): B for dense models
  // (num_items × num_items), U and V for low-rank ones (num_items × rank).
  // Rows are 64-byte aligned and their padding is zero. REQUIRES: the kind
  // that has the matrix.
  WeightRows dense_rows() const {
    return {dense_, dtype_, num_items_, num_items_, row_stride_, row_scales_};
  }
  WeightRows u_rows() const {
    return {u_, dtype_, num_items_, rank_, row_stride_, row_scales_};
  }
  WeightRows v_rows() const {
    return {v_,          dtype_,     num_items_, rank_, row_stride_,
            row_scales_ == nullptr ? nullptr : row_scales_ + num_items_};
  }
  // B of a sparse model in CSR form (num_items rows; indices ascending and in
  // range, weights finite: all validated at Open). REQUIRES: kind() ==
  // kSparse.
  CsrWeights sparse_rows() const {
    return {sparse_offsets_, sparse_indices_, sparse_weights_,
            dtype_,          num_items_,      nnz_};
  }
  // Stored weights: nnz of B for sparse models; num_items² for dense ones,
  // 2·num_items·rank for low-rank ones.
  size_t nnz() const;

  // Row i as float32, for float32 models. REQUIRES: dtype() == kFloat32, the
  // kind that has the matrix, i < num_items(). Returns the row's valid floats
  // (num_items() for B, rank() for U and V) followed by zero padding up to
  // row_stride(). Code that handles every dtype uses the views above.
  const float* dense_row(size_t i) const { return Float32Row(dense_, i); }
  const float* u_row(size_t i) const { return Float32Row(u_, i); }
  const float* v_row(size_t i) const { return Float32Row(v_, i); }

  // External id of item `index`. REQUIRES: index < num_items().
  std::string_view item_id(size_t index) const;
  // Index of external id `id`, or nullopt when the model does not know it.
  std::optional<uint32_t> FindItem(std::string_view id) const;

  // Training interaction count per item (num_items() floats).
  absl::Span<const float> popularity() const {
    return absl::MakeConstSpan(popularity_, num_items_);
  }
  // Item indices sorted by descending popularity, ties by index.
  absl::Span<const uint32_t> items_by_popularity() const {
    return by_popularity_;
  }
  // Low-rank models: 1 / ‖V[j, :]‖ per item (num_items() floats; 0 for a
  // zero row), computed once at load (O(num_items·rank), 4 bytes per item)
  // for cosine similarity (SimilarItems). Empty for other kinds.
  absl::Span<const float> v_inverse_norms() const { return v_inverse_norms_; }

  // Training metadata as key/value pairs, in file order (see
  // docs/model-format.md for the standard keys: algorithm, lambda, dropout,
  // num_users, ...).
  const std::vector<std::pair<std::string, std::string>>& metadata() const {
    return metadata_;
  }
  // Value of metadata `key`, or nullopt.
  std::optional<std::string_view> GetMetadata(std::string_view key) const;

  // 16 hex digits identifying the model's contents (hash of section checksums).
  const std::string& fingerprint() const { return fingerprint_; }
  // File path the model came from ("" for FromBytes).
  const std::string& path() const { return path_; }
  // The whole validated file (the mapping, or the copy Snapshot/FromBytes
  // owns), valid as long as the Model: written out, it is the same model
  // file byte for byte (the Python API's Model.save).
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }

 private:
  Model() = default;
  static absl::StatusOr<std::shared_ptr<const Model>> Parse(
      std::unique_ptr<Model> model);

  const float* Float32Row(const uint8_t* matrix, size_t i) const {
    return reinterpret_cast<const float*>(matrix) + i * row_stride_;
  }

  MappedFile file_;  // owns the mapping (Open)
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> owned_{nullptr, nullptr};
  const uint8_t* data_ = nullptr;  // file bytes (mapping or owned_)
  size_t size_ = 0;
  std::string path_;

  uint32_t format_version_ = 0;
  ModelKind kind_ = ModelKind::kDense;
  DType dtype_ = DType::kFloat32;
  size_t num_items_ = 0;
  size_t rank_ = 0;
  size_t row_stride_ = 0;
  const uint8_t* dense_ = nullptr;  // section starts, 64-byte aligned
  const float* row_scales_ = nullptr;  // int8: B's, or U's then V's scales
  const uint8_t* u_ = nullptr;
  const uint8_t* v_ = nullptr;
  const uint64_t* sparse_offsets_ = nullptr;  // kSparse only
  const uint32_t* sparse_indices_ = nullptr;
  const void* sparse_weights_ = nullptr;
  size_t nnz_ = 0;
  const float* popularity_ = nullptr;
  const uint64_t* id_offsets_ = nullptr;
  const char* id_bytes_ = nullptr;
  std::vector<uint32_t> by_popularity_;
  std::vector<float> v_inverse_norms_;  // low-rank only
  absl::flat_hash_map<std::string_view, uint32_t> index_by_id_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::string fingerprint_;
};

}  // namespace edlae

#endif  // EDLAE_CORE_MODEL_H_
