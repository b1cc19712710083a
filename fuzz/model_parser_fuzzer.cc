// libFuzzer target: the model-file parser (Model::FromBytes) on arbitrary
// bytes, then every accessor and the scorer (dense or low-rank, any dtype) on
// whatever it accepts.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "core/scorer.h"
#include "core/weight_rows.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = edlae::Model::FromBytes(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!model.ok()) return 0;
  const edlae::Model& m = **model;
  // An accepted file must be self-consistent: ids round-trip, popularity and
  // rows are readable, and scoring works.
  const size_t n = m.num_items();
  for (size_t i = 0; i < n && i < 64; ++i) {
    const std::string_view id = m.item_id(i);
    const auto found = m.FindItem(id);
    if (!found.has_value() || *found != i) __builtin_trap();
  }
  float sum = 0;
  for (float p : m.popularity()) sum += p;
  if (m.items_by_popularity().size() != n) __builtin_trap();
  for (const auto& [key, value] : m.metadata()) sum += key.size() + value.size();
  // Weights of any dtype widen to finite floats (the reader checked them).
  if (m.kind() == edlae::ModelKind::kSparse) {
    const edlae::CsrWeights b = m.sparse_rows();
    if (b.offsets[0] != 0 || b.offsets[n] != b.nnz) __builtin_trap();
    for (size_t i = 0; i < n; ++i) {
      for (uint64_t e = b.offsets[i]; e < b.offsets[i + 1]; ++e) {
        if (b.indices[e] >= n || !std::isfinite(b.weight(e))) __builtin_trap();
        if (e > b.offsets[i] && b.indices[e] <= b.indices[e - 1]) {
          __builtin_trap();
        }
        sum += b.weight(e);
      }
    }
  } else {
    const edlae::WeightRows rows = m.kind() == edlae::ModelKind::kDense
                                       ? m.dense_rows()
                                       : m.v_rows();
    std::vector<float> row(rows.dim);
    edlae::ReadRow(rows, n - 1, rows.dim, row.data());
    for (float w : row) {
      if (!std::isfinite(w)) __builtin_trap();
      sum += w;
    }
  }
  {
    std::vector<edlae::HistoryEntry> history = {
        {0, 1.0f}, {static_cast<uint32_t>(n - 1), 0.5f}};
    edlae::RecommendOptions options;
    options.top_n = 5;
    auto result = edlae::Recommend(m, history, options);
    if (!result.ok() || result->items.size() > 5) __builtin_trap();
    auto cold = edlae::Recommend(m, {}, options);
    if (!cold.ok() || !cold->popularity_fallback) __builtin_trap();
  }
  return sum == 12345.678f ? 1 : 0;  // keep `sum` observable
}
