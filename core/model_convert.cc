// Conversions: widen every weight to float32 and write it back in the new
// dtype; top-K magnitude pruning to CSR.
#include "core/model_convert.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model_writer.h"
#include "core/weight_rows.h"

namespace edlae {
namespace {

// The rows of `w` as a compact num_rows × dim float32 matrix.
std::vector<float> Compact(const WeightRows& w) {
  std::vector<float> out(w.num_rows * w.dim);
  for (size_t i = 0; i < w.num_rows; ++i) {
    ReadRow(w, i, w.dim, out.data() + i * w.dim);
  }
  return out;
}

std::vector<std::string> ItemIds(const Model& model) {
  std::vector<std::string> ids;
  ids.reserve(model.num_items());
  for (size_t i = 0; i < model.num_items(); ++i) {
    ids.emplace_back(model.item_id(i));
  }
  return ids;
}

// The model's metadata without the keys in `replaced`, which the caller
// appends anew (the direct source is what matters).
std::vector<std::pair<std::string, std::string>> MetadataWithout(
    const Model& model, std::initializer_list<std::string_view> replaced) {
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const auto& [key, value] : model.metadata()) {
    if (std::find(replaced.begin(), replaced.end(), key) != replaced.end()) {
      continue;
    }
    metadata.emplace_back(key, value);
  }
  return metadata;
}

// The stored CSR of a sparse model with its weights widened to float32.
std::vector<float> WidenedWeights(const CsrWeights& b) {
  std::vector<float> out(b.nnz);
  for (size_t e = 0; e < b.nnz; ++e) out[e] = b.weight(e);
  return out;
}

}  // namespace

absl::Status ConvertModel(const Model& model, DType dtype,
                          const std::string& out_path) {
  const std::vector<std::string> ids = ItemIds(model);
  std::vector<std::pair<std::string, std::string>> metadata = MetadataWithout(
      model, {"converted_from_fingerprint", "converted_from_dtype"});
  metadata.emplace_back("converted_from_fingerprint", model.fingerprint());
  metadata.emplace_back("converted_from_dtype", DTypeName(model.dtype()));

  if (model.kind() == ModelKind::kSparse) {
    const CsrWeights b = model.sparse_rows();
    const std::vector<float> weights = WidenedWeights(b);
    SparseModelData data;
    data.offsets = absl::MakeConstSpan(b.offsets, b.num_rows + 1);
    data.indices = absl::MakeConstSpan(b.indices, b.nnz);
    data.weights = weights;
    data.item_ids = ids;
    data.popularity = model.popularity();
    data.metadata = std::move(metadata);
    data.dtype = dtype;
    return WriteSparseModel(out_path, data);
  }

  if (model.kind() == ModelKind::kLowRank) {
    const std::vector<float> u = Compact(model.u_rows());
    const std::vector<float> v = Compact(model.v_rows());
    LowRankModelData data;
    data.rank = model.rank();
    data.u = u;
    data.v = v;
    data.item_ids = ids;
    data.popularity = model.popularity();
    data.metadata = std::move(metadata);
    data.dtype = dtype;
    return WriteLowRankModel(out_path, data);
  }
  const std::vector<float> b = Compact(model.dense_rows());
  DenseModelData data;
  data.b = b;
  data.item_ids = ids;
  data.popularity = model.popularity();
  data.metadata = std::move(metadata);
  data.dtype = dtype;
  return WriteDenseModel(out_path, data);
}

size_t KeepPerRowForDensity(double density, size_t num_items) {
  const double k = std::round(density * static_cast<double>(num_items));
  return static_cast<size_t>(
      std::clamp(k, 1.0, static_cast<double>(std::max<size_t>(num_items, 1))));
}

absl::Status PruneToSparse(const Model& model, size_t keep_per_row, DType dtype,
                           const std::string& out_path) {
  if (model.kind() != ModelKind::kDense) {
    return absl::InvalidArgumentError(
        "pruning needs a dense (full-rank) model");
  }
  if (keep_per_row == 0) {
    return absl::InvalidArgumentError("keep at least one entry per row");
  }
  const size_t n = model.num_items();
  const size_t keep = std::min(keep_per_row, n);
  const WeightRows b = model.dense_rows();
  std::vector<uint64_t> offsets{0};
  offsets.reserve(n + 1);
  std::vector<uint32_t> indices;
  std::vector<float> weights;
  indices.reserve(n * keep);
  weights.reserve(n * keep);
  std::vector<float> row(n);
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) {
    ReadRow(b, i, n, row.data());
    std::iota(order.begin(), order.end(), uint32_t{0});
    // Largest magnitude first, ties by lower index: a total order, so the
    // kept set is deterministic.
    auto larger = [&](uint32_t x, uint32_t y) {
      const float ax = std::fabs(row[x]), ay = std::fabs(row[y]);
      return ax > ay || (ax == ay && x < y);
    };
    std::nth_element(order.begin(), order.begin() + (keep - 1), order.end(),
                     larger);
    std::sort(order.begin(), order.begin() + keep);
    for (size_t k = 0; k < keep; ++k) {
      if (row[order[k]] == 0.0f) continue;
      indices.push_back(order[k]);
      weights.push_back(row[order[k]]);
    }
    offsets.push_back(indices.size());
  }
  const std::vector<std::string> ids = ItemIds(model);
  std::vector<std::pair<std::string, std::string>> metadata =
      MetadataWithout(model, {"pruned_from_fingerprint", "prune_topk"});
  metadata.emplace_back("pruned_from_fingerprint", model.fingerprint());
  metadata.emplace_back("prune_topk", std::to_string(keep));
  SparseModelData data;
  data.offsets = offsets;
  data.indices = indices;
  data.weights = weights;
  data.item_ids = ids;
  data.popularity = model.popularity();
  data.metadata = std::move(metadata);
  data.dtype = dtype;
  return WriteSparseModel(out_path, data);
}

}  // namespace edlae
