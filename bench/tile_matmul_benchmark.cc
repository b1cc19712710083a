// edlae's AMX tiles against oneDNN's matmul: the same Z·Vᵀ, scores only.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/median_time.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/kernels_x86.h"
#include "dnnl.hpp"

ABSL_FLAG(int64_t, items, 20000, "catalog size (ML-20M: 20,000)");
ABSL_FLAG(int64_t, rank, 1000, "latent dimension k");
ABSL_FLAG(int, repeats, 15,
          "timed repetitions per configuration (median reported)");

namespace edlae {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// One oneDNN matmul C[m×n] = A[m×k]·B[k×n] with B = Vᵀ given as V's rows
// (format "ba"), or, with `any`, reordered once (untimed) into the layout
// oneDNN prefers. Returns the median seconds and the implementation name.
struct OneDnnResult {
  double seconds;
  std::string impl;
};
OneDnnResult TimeOneDnn(dnnl::engine& engine, dnnl::stream& stream, dt in,
                        dt out, const void* a, const void* v, size_t m,
                        size_t n, size_t k, bool any, int repeats) {
  const dnnl::memory::dim M = m, N = n, K = k;
  const dnnl::memory::desc a_md({M, K}, in, tag::ab);
  const dnnl::memory::desc v_md({K, N}, in, tag::ba);
  const dnnl::memory::desc b_md({K, N}, in, any ? tag::any : tag::ba);
  const dnnl::memory::desc c_md({M, N}, out, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md),
                                        engine);
  dnnl::memory a_mem(a_md, engine, const_cast<void*>(a));
  dnnl::memory v_mem(v_md, engine, const_cast<void*>(v));
  dnnl::memory b_mem = v_mem;
  if (pd.weights_desc() != v_md) {
    b_mem = dnnl::memory(pd.weights_desc(), engine);
    dnnl::reorder(v_mem, b_mem).execute(stream, v_mem, b_mem);
    stream.wait();
  }
  dnnl::memory c_mem(c_md, engine);
  dnnl::matmul matmul(pd);
  const double s = MedianSeconds(repeats, [&] {
    matmul.execute(stream, {{DNNL_ARG_SRC, a_mem},
                            {DNNL_ARG_WEIGHTS, b_mem},
                            {DNNL_ARG_DST, c_mem}});
    stream.wait();
  });
  return {s, pd.impl_info_str()};
}

int Run() {
  const size_t n = absl::GetFlag(FLAGS_items), k = absl::GetFlag(FLAGS_rank);
  const int repeats = absl::GetFlag(FLAGS_repeats);
  const X86MatrixFeatures& f = DetectX86MatrixFeatures();
  std::printf(
      "items=%zu k=%zu threads=1 repeats=%d (median); cpu: avx512=%d "
      "amx_bf16=%d amx_int8=%d\n",
      n, k, repeats, f.avx512, f.amx_bf16, f.amx_int8);
  if (!f.amx_tile) {
    std::printf("no AMX tiles on this machine: nothing to compare\n");
    return 0;
  }
  omp_set_num_threads(1);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  std::vector<uint16_t> v16(n * k);
  std::vector<int8_t> v8(n * k);
  for (auto& x : v16) x = FloatToBf16(normal(rng) * 0.05f);
  for (auto& x : v8)
    x = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  std::printf("%-6s %-9s %11s %13s %13s %9s %9s  %s\n", "batch", "dtype",
              "edlae_ms", "onednn_ba_ms", "onednn_any_ms", "vs_ba", "vs_any",
              "oneDNN implementation (any)");
  for (size_t batch : {size_t{64}, size_t{16}, size_t{1}}) {
    std::vector<float> z(batch * k);
    std::vector<uint16_t> z16(batch * k);
    std::vector<int8_t> z8(batch * k);
    for (auto& x : z) x = normal(rng);
    for (size_t i = 0; i < z.size(); ++i) {
      z16[i] = FloatToBf16(z[i]);
      z8[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    }
    for (bool int8 : {false, true}) {
      const TileQueries q = int8 ? TileQueries::Int8(z8.data(), k, batch, k)
                                 : TileQueries::Bf16(z.data(), k, batch, k);
      std::vector<uint32_t> out(batch * n);
      const void* v = int8 ? static_cast<const void*>(v8.data())
                           : static_cast<const void*>(v16.data());
      // What edlae runs: the tiles, or Highway where TilesActiveFor declines
      // them (int8 single queries: the same integers, faster).
      const bool tiles = TilesActiveFor(int8, batch);
      const double ours = MedianSeconds(repeats, [&] {
        if (tiles) {
          DotRowsTiles(v, k, n, q, out.data(), n);
        } else {
          DotRowsBatchI8(v8.data(), k, n, z8.data(), k, batch, k,
                         reinterpret_cast<int32_t*>(out.data()), n);
        }
      });
      const dt in = int8 ? dt::s8 : dt::bf16;
      const dt acc = int8 ? dt::s32 : dt::f32;
      const void* a = int8 ? static_cast<const void*>(z8.data())
                           : static_cast<const void*>(z16.data());
      const OneDnnResult ba = TimeOneDnn(engine, stream, in, acc, a, v, batch,
                                         n, k, false, repeats);
      const OneDnnResult any =
          TimeOneDnn(engine, stream, in, acc, a, v, batch, n, k, true, repeats);
      std::printf("%-6zu %-9s %11.3f %13.3f %13.3f %9.2f %9.2f  %s\n", batch,
                  int8 ? (tiles ? "int8" : "int8-hwy") : "bf16", ours * 1e3,
                  ba.seconds * 1e3, any.seconds * 1e3, ba.seconds / ours,
                  any.seconds / ours, any.impl.c_str());
    }
  }
  std::printf(
      "vs_* = oneDNN time / edlae time (higher is better for edlae); "
      "ba = V as stored, any = V reordered by oneDNN beforehand "
      "(untimed)\n");
  return 0;
}

}  // namespace
}  // namespace edlae

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return edlae::Run();
}
