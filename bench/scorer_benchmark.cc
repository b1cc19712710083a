// Single-request top-N scoring time (dense and low-rank, f32/f16/bf16) against streaming the same bytes (the memory-bandwidth bound).
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "core/model.h"
#include "core/model_convert.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "core/weight_rows.h"

namespace edlae {
namespace {

constexpr DType kDTypes[] = {DType::kFloat32, DType::kFloat16,
                             DType::kBFloat16};

// One random model per (items, rank, dtype) — rank 0: dense — written once
// to the temp dir and mapped; every dtype holds the same weights, rounded.
const Model& ModelOf(size_t n, size_t rank, int dtype_arg) {
  static std::map<std::tuple<size_t, size_t, int>,
                  std::shared_ptr<const Model>>
      models;
  const DType dtype = kDTypes[dtype_arg];
  const auto key = std::make_tuple(n, rank, dtype_arg);
  auto it = models.find(key);
  if (it != models.end()) return *it->second;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.01f, 0.01f);
  std::vector<std::string> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = absl::StrCat(i);
  std::vector<float> popularity(n, 1.0f);
  const std::string path =
      (std::filesystem::temp_directory_path() /
       absl::StrCat("edlae_bench_", n, "_", rank, "_", dtype_arg, ".edlae"))
          .string();
  absl::Status written;
  if (rank == 0) {
    std::vector<float> b(n * n);
    for (float& v : b) v = u(rng);
    DenseModelData data{b, ids, popularity, {{"algorithm", "edlae"}}, dtype};
    written = WriteDenseModel(path, data);
  } else {
    std::vector<float> f(n * rank), g(n * rank);
    for (float& v : f) v = u(rng);
    for (float& v : g) v = u(rng);
    LowRankModelData data;
    data.rank = rank;
    data.u = f;
    data.v = g;
    data.item_ids = ids;
    data.popularity = popularity;
    data.dtype = dtype;
    written = WriteLowRankModel(path, data);
  }
  if (!written.ok()) std::abort();
  auto model = Model::Open(path);
  if (!model.ok()) std::abort();
  std::filesystem::remove(path);  // the mapping stays valid
  return *(models[key] = *model);
}

// Sums `bytes` at `data` as uint32 words in 16 lanes (vectorizes; integer
// adds, so half bit patterns cannot hit float denormal slow paths): the
// streaming bound for reading them.
// Local lanes, so the compiler keeps them in registers (an out-parameter
// might alias `data`).
void Stream(const void* data, size_t bytes, uint32_t* out) {
  const auto* w = static_cast<const uint32_t*>(data);
  alignas(64) uint32_t lanes[16] = {};
  for (size_t j = 0; j + 16 <= bytes / 4; j += 16) {
    for (size_t k = 0; k < 16; ++k) lanes[k] += w[j + k];
  }
  for (size_t k = 0; k < 16; ++k) out[k] += lanes[k];
}

std::vector<HistoryEntry> History(size_t n, size_t len) {
  std::mt19937 rng(2);
  std::vector<HistoryEntry> h;
  for (size_t k = 0; k < len; ++k) h.push_back({static_cast<uint32_t>(rng() % n), 1.0f});
  return h;
}

// args: items, history length, dtype (0 f32, 1 f16, 2 bf16); top-100 over
// the whole catalog.
void BM_DenseRecommend(benchmark::State& state) {
  const Model& model = ModelOf(state.range(0), 0, state.range(2));
  const std::vector<HistoryEntry> history = History(model.num_items(), state.range(1));
  RecommendOptions options;
  options.top_n = 100;
  for (auto _ : state) {
    auto result = Recommend(model, history, options);
    benchmark::DoNotOptimize(result);
  }
  state.SetLabel(DTypeName(model.dtype()));
  state.SetBytesProcessed(state.iterations() * history.size() *
                          model.num_items() * DTypeSize(model.dtype()));
}

// The bound for BM_DenseRecommend: stream the same rows' bytes, no
// selection, exclusions or blocking.
void BM_StreamSameRows(benchmark::State& state) {
  const Model& model = ModelOf(state.range(0), 0, state.range(2));
  const std::vector<HistoryEntry> history = History(model.num_items(), state.range(1));
  const WeightRows b = model.dense_rows();
  const size_t row_bytes = b.stride * DTypeSize(b.dtype);
  for (auto _ : state) {
    alignas(64) uint32_t lanes[16] = {};
    for (const HistoryEntry& e : history) Stream(b.row(e.index), row_bytes, lanes);
    benchmark::DoNotOptimize(lanes);
  }
  state.SetLabel(DTypeName(model.dtype()));
  state.SetBytesProcessed(state.iterations() * history.size() * row_bytes);
}

// args: items, rank, dtype; one request (history 50), top-100 over the whole
// catalog: z = Σ U rows, then V·z with the selection fused in.
void BM_LowRankRecommend(benchmark::State& state) {
  const Model& model = ModelOf(state.range(0), state.range(1), state.range(2));
  const std::vector<HistoryEntry> history = History(model.num_items(), 50);
  RecommendOptions options;
  options.top_n = 100;
  for (auto _ : state) {
    auto result = Recommend(model, history, options);
    benchmark::DoNotOptimize(result);
  }
  const WeightRows v = model.v_rows();
  state.SetLabel(DTypeName(model.dtype()));
  state.SetBytesProcessed(state.iterations() * v.num_rows * v.stride *
                          DTypeSize(v.dtype));
}

// The bound for BM_LowRankRecommend: stream all of V (the U rows are 50 of
// 20,000, negligible).
void BM_StreamV(benchmark::State& state) {
  const Model& model = ModelOf(state.range(0), state.range(1), state.range(2));
  const WeightRows v = model.v_rows();
  const size_t bytes = v.num_rows * v.stride * DTypeSize(v.dtype);
  for (auto _ : state) {
    alignas(64) uint32_t lanes[16] = {};
    Stream(v.data, bytes, lanes);
    benchmark::DoNotOptimize(lanes);
  }
  state.SetLabel(DTypeName(model.dtype()));
  state.SetBytesProcessed(state.iterations() * bytes);
}

// args: items, dtype. Model::Open of a dense file already in the page cache:
// the validation pass (every checksum, finiteness, padding) a hot reload pays
// before a version is served.
void BM_OpenModel(benchmark::State& state) {
  const Model& model = ModelOf(state.range(0), 0, state.range(1));
  const std::string path =
      (std::filesystem::temp_directory_path() /
       absl::StrCat("edlae_bench_open_", state.range(0), "_", state.range(1),
                    ".edlae"))
          .string();
  if (!ConvertModel(model, model.dtype(), path).ok()) std::abort();
  for (auto _ : state) {
    auto opened = Model::Open(path);
    if (!opened.ok()) std::abort();
    benchmark::DoNotOptimize(opened);
  }
  std::filesystem::remove(path);
  state.SetLabel(DTypeName(model.dtype()));
  state.SetBytesProcessed(state.iterations() * model.file_size());
}

BENCHMARK(BM_DenseRecommend)
    ->ArgsProduct({{2000, 20000}, {10, 50}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StreamSameRows)
    ->ArgsProduct({{2000, 20000}, {10, 50}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_OpenModel)
    ->ArgsProduct({{20000}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LowRankRecommend)
    ->ArgsProduct({{20000}, {1000}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StreamV)
    ->ArgsProduct({{20000}, {1000}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace edlae

BENCHMARK_MAIN();
