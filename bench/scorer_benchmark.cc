// Dense top-N scoring time against a streaming read of the same rows (the memory-bandwidth bound).
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/scorer.h"

namespace edlae {
namespace {

// One random dense model per catalog size, written once to the temp dir.
const Model& ModelOfSize(size_t n) {
  static std::map<size_t, std::shared_ptr<const Model>> models;
  auto it = models.find(n);
  if (it != models.end()) return *it->second;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.01f, 0.01f);
  std::vector<float> b(n * n);
  for (float& v : b) v = u(rng);
  std::vector<std::string> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = absl::StrCat(i);
  std::vector<float> popularity(n, 1.0f);
  DenseModelData data{b, ids, popularity, {{"algorithm", "edlae"}}};
  const std::string path =
      (std::filesystem::temp_directory_path() / absl::StrCat("edlae_bench_", n, ".edlae")).string();
  if (!WriteDenseModel(path, data).ok()) std::abort();
  auto model = Model::Open(path);
  if (!model.ok()) std::abort();
  std::filesystem::remove(path);  // the mapping stays valid
  return *(models[n] = *model);
}

std::vector<HistoryEntry> History(size_t n, size_t len) {
  std::mt19937 rng(2);
  std::vector<HistoryEntry> h;
  for (size_t k = 0; k < len; ++k) h.push_back({static_cast<uint32_t>(rng() % n), 1.0f});
  return h;
}

// args: items, history length; top-100 over the whole catalog.
void BM_DenseRecommend(benchmark::State& state) {
  const Model& model = ModelOfSize(state.range(0));
  const std::vector<HistoryEntry> history = History(model.num_items(), state.range(1));
  RecommendOptions options;
  options.top_n = 100;
  for (auto _ : state) {
    auto result = Recommend(model, history, options);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(state.iterations() * history.size() * model.num_items() * 4);
}

// The bound: sum the same rows with no selection, exclusions or blocking.
void BM_StreamSameRows(benchmark::State& state) {
  const Model& model = ModelOfSize(state.range(0));
  const std::vector<HistoryEntry> history = History(model.num_items(), state.range(1));
  const size_t n = model.num_items();
  const size_t stride = model.row_stride();  // padded, a multiple of 16
  for (auto _ : state) {
    // 16 independent lanes: vectorizes without reassociating a reduction.
    alignas(64) float lanes[16] = {};
    for (const HistoryEntry& e : history) {
      const float* row = model.dense_row(e.index);
      for (size_t j = 0; j < stride; j += 16) {
        for (size_t k = 0; k < 16; ++k) lanes[k] += row[j + k];
      }
    }
    benchmark::DoNotOptimize(lanes);
  }
  state.SetBytesProcessed(state.iterations() * history.size() * n * 4);
}

BENCHMARK(BM_DenseRecommend)->ArgsProduct({{2000, 20000}, {10, 50}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StreamSameRows)->ArgsProduct({{2000, 20000}, {10, 50}})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace edlae

BENCHMARK_MAIN();
