// Server-side time of one Recommend call without gRPC: RecommendWithModel on
// the requests `edlae-client bench` sends (so end-to-end latency minus this is
// the RPC overhead), and the cost of handing a task to a WorkerPool thread.
//
//   service_benchmark [--model=PATH ...] [benchmark flags]
//
// Without --model it writes a random 2,000-item dense and a rank-64 low-rank
// model to the temp dir.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "edlae/v1/recommender.pb.h"
#include "server/recommender_service.h"
#include "server/servable_model.h"
#include "server/worker_pool.h"

namespace edlae::server {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / name).string();
}

std::string WriteRandomModel(bool low_rank) {
  const size_t n = 2000, rank = 64;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.01f, 0.01f);
  std::vector<std::string> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = absl::StrCat(i + 1);
  std::vector<float> popularity(n, 1.0f);
  const std::string path =
      TempPath(low_rank ? "edlae_service_bench_lr.edlae"
                        : "edlae_service_bench_dense.edlae");
  absl::Status status;
  if (low_rank) {
    std::vector<float> a(n * rank), b(n * rank);
    for (float& x : a) x = u(rng);
    for (float& x : b) x = u(rng);
    status = WriteLowRankModel(path, {rank, a, b, ids, popularity, {}});
  } else {
    std::vector<float> b(n * n);
    for (float& x : b) x = u(rng);
    status = WriteDenseModel(path, {b, ids, popularity, {}});
  }
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::abort();
  }
  return path;
}

// Requests as client/bench.cc builds them: history ids drawn uniformly from
// the catalog, top_n 10; many distinct ones so rows are not all cached.
std::vector<v1::RecommendRequest> BenchRequests(const Model& model,
                                                int history_len) {
  std::mt19937_64 rng(1000);
  std::vector<v1::RecommendRequest> requests(4096);
  for (v1::RecommendRequest& request : requests) {
    for (int k = 0; k < history_len; ++k) {
      request.add_history_item_ids(
          std::string(model.item_id(rng() % model.num_items())));
    }
    request.set_top_n(10);
  }
  return requests;
}

// args: none; the model and history length are bound at registration.
void BM_RecommendWithModel(benchmark::State& state,
                           std::shared_ptr<const Model> model,
                           int history_len) {
  const ServableHandle handle{model, 0};
  const std::vector<v1::RecommendRequest> requests =
      BenchRequests(*model, history_len);
  const ServiceLimits limits;
  size_t i = 0;
  for (auto _ : state) {
    v1::RecommendResponse response;
    const absl::Status status = RecommendWithModel(
        handle, requests[i++ % requests.size()], limits, &response);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    benchmark::DoNotOptimize(response);
  }
}

// One task through a WorkerPool and back: Submit, a worker wakes and runs it,
// the caller wakes on the result (what a hand-off costs besides gRPC).
void BM_WorkerPoolRoundTrip(benchmark::State& state) {
  WorkerPool pool(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::promise<void> done;
    pool.Submit([&done] { done.set_value(); });
    done.get_future().wait();
  }
}
BENCHMARK(BM_WorkerPoolRoundTrip)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace edlae::server

int main(int argc, char** argv) {
  std::vector<std::string> paths;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strncmp(argv[i], "--model=", 8) == 0) {
      paths.emplace_back(argv[i] + 8);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (paths.empty()) {
    paths = {edlae::server::WriteRandomModel(false),
             edlae::server::WriteRandomModel(true)};
  }
  for (const std::string& path : paths) {
    auto model = edlae::Model::Open(path);
    if (!model.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(),
                   model.status().ToString().c_str());
      return 1;
    }
    const std::string name =
        std::filesystem::path(path).filename().string();
    for (int history_len : {1, 10, 50}) {
      const std::string bench_name =
          absl::StrCat("BM_RecommendWithModel/", name, "/", history_len);
      benchmark::RegisterBenchmark(
          bench_name.c_str(),
          edlae::server::BM_RecommendWithModel, *model, history_len)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
