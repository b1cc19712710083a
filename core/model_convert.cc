// ConvertModel: widen every weight row to float32, then write it back through the writer in the new dtype.
#include "core/model_convert.h"

#include <string>
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

}  // namespace

absl::Status ConvertModel(const Model& model, DType dtype,
                          const std::string& out_path) {
  std::vector<std::string> ids;
  ids.reserve(model.num_items());
  for (size_t i = 0; i < model.num_items(); ++i) {
    ids.emplace_back(model.item_id(i));
  }
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const auto& [key, value] : model.metadata()) {
    if (key == "converted_from_fingerprint" || key == "converted_from_dtype") {
      continue;  // replaced below: the direct source is what matters
    }
    metadata.emplace_back(key, value);
  }
  metadata.emplace_back("converted_from_fingerprint", model.fingerprint());
  metadata.emplace_back("converted_from_dtype", DTypeName(model.dtype()));

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

}  // namespace edlae
