// Low-rank top-100 (z·Vᵀ over all items) against FAISS IndexFlatIP::search on the same V and z, in one run.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/median_time.h"
#include "absl/strings/str_format.h"
#include "core/factor_topn.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/kernels_x86.h"
#include "core/model_format.h"
#include "faiss/IndexFlat.h"

extern "C" void openblas_set_num_threads(int);

ABSL_FLAG(int64_t, items, 20000, "catalog size (ML-20M: 20,000)");
ABSL_FLAG(int64_t, rank, 1000, "latent dimension k");
ABSL_FLAG(int64_t, top_n, 100, "items per query");
ABSL_FLAG(std::string, only, "",
          "run only the edlae rows of this dtype label (f32, f16, bf16, bf16-amx, int8, int8-vnni, int8-amx)");
ABSL_FLAG(int, repeats, 15, "timed repetitions per configuration (median reported)");
ABSL_FLAG(std::string, dump_dir, "",
          "if set, write V.f32 and Z.f32 there for bench/numpy_topn.py");

namespace edlae {
namespace {

// Fraction of our top-N ids that FAISS also returns (1.0 = identical sets).
double Agreement(const std::vector<std::vector<ScoredItem>>& ours,
                 const std::vector<faiss::Index::idx_t>& labels, size_t top_n) {
  size_t same = 0, total = 0;
  for (size_t b = 0; b < ours.size(); ++b) {
    std::vector<faiss::Index::idx_t> theirs(labels.begin() + b * top_n,
                                     labels.begin() + (b + 1) * top_n);
    std::sort(theirs.begin(), theirs.end());
    for (const ScoredItem& s : ours[b]) {
      same += std::binary_search(theirs.begin(), theirs.end(), s.index);
      ++total;
    }
  }
  return total ? static_cast<double>(same) / total : 1.0;
}

int Run() {
  const size_t n = absl::GetFlag(FLAGS_items), k = absl::GetFlag(FLAGS_rank);
  const size_t top_n = absl::GetFlag(FLAGS_top_n);
  const int repeats = absl::GetFlag(FLAGS_repeats);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> v(n * k), z(64 * k);
  for (float& x : v) x = normal(rng) * 0.05f;
  for (float& x : z) x = normal(rng);
  // Our copies of V are laid out as model files store them: each row padded
  // to a multiple of 64 bytes (kRowAlignmentBytes), so the stride depends on
  // the dtype (k = 1000: 1008 floats, 1024 halves, 1024 bytes).
  auto stride_of = [&](size_t element) {
    return (k * element + kRowAlignmentBytes - 1) / kRowAlignmentBytes *
           kRowAlignmentBytes / element;
  };
  const size_t s32 = stride_of(4), s16 = stride_of(2), s8 = stride_of(1);
  std::vector<float> v_f32(n * s32, 0.0f);
  std::vector<uint16_t> v_bf16(n * s16, 0), v_f16(n * s16, 0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t d = 0; d < k; ++d) {
      v_f32[i * s32 + d] = v[i * k + d];
      v_bf16[i * s16 + d] = FloatToBf16(v[i * k + d]);
      v_f16[i * s16 + d] = FloatToF16(v[i * k + d]);
    }
  }
  // int8 storage as the model writer makes it: a scale per row of V.
  std::vector<int8_t> v_i8(n * s8, 0);
  std::vector<float> v_scales(n);
  for (size_t i = 0; i < n; ++i) {
    v_scales[i] = QuantizeToInt8(absl::MakeConstSpan(v.data() + i * k, k),
                                 v_i8.data() + i * s8);
  }
  if (const std::string dir = absl::GetFlag(FLAGS_dump_dir); !dir.empty()) {
    std::ofstream(dir + "/V.f32", std::ios::binary)
        .write(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    std::ofstream(dir + "/Z.f32", std::ios::binary)
        .write(reinterpret_cast<const char*>(z.data()), z.size() * 4);
  }
  std::ofstream tsv;  // machine-readable copy for bench/numpy_topn.py
  if (const std::string dir = absl::GetFlag(FLAGS_dump_dir); !dir.empty()) {
    tsv.open(dir + "/edlae_times.tsv");
    tsv << "batch\tthreads\tdtype\tedlae_ms\tfaiss_ms\n";
  }
  faiss::IndexFlatIP index(static_cast<int>(k));
  index.add(static_cast<faiss::Index::idx_t>(n), v.data());

  const X86MatrixFeatures& features = DetectX86MatrixFeatures();
  std::printf("items=%zu k=%zu top_n=%zu simd=%s repeats=%d (median)\n", n, k,
              top_n, ActiveSimdTarget().c_str(), repeats);
  std::printf("cpu: avx512=%d avx512_vnni=%d amx_tile=%d amx_bf16=%d amx_int8=%d "
              "(-amx rows: AMX tiles; -vnni: AVX-512 VNNI; the others: Highway %s alone)\n",
              features.avx512, features.avx512_vnni, features.amx_tile,
              features.amx_bf16, features.amx_int8, ActiveSimdTarget().c_str());
  std::printf("%-8s %-7s %-9s %12s %12s %8s %9s %12s\n", "batch", "threads",
              "dtype", "edlae_ms", "faiss_ms", "ratio", "same_ids",
              "faiss_alone");
  for (size_t batch : {size_t{64}, size_t{1}}) {
    for (int threads : {1, 2}) {
      std::vector<float> distances(batch * top_n);
      std::vector<faiss::Index::idx_t> labels(batch * top_n);
      // FAISS: OpenMP over queries, OpenBLAS inside; both get `threads`, and
      // OpenBLAS goes back to one thread for ours (our threads split items).
      auto faiss_search = [&] {
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
        index.search(static_cast<faiss::Index::idx_t>(batch), z.data(),
                     static_cast<faiss::Index::idx_t>(top_n), distances.data(), labels.data());
        openblas_set_num_threads(1);
      };
      const double faiss_s = MedianSeconds(repeats, faiss_search);
      // bf16 and int8 run twice where the CPU has AMX: Highway alone, then tiles.
      struct Row {
        DType dtype;
        X86MatrixPath path;
      };
      std::vector<Row> plan;
      for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kInt8}) {
        plan.push_back({dtype, X86MatrixPath::kNone});
        if (dtype == DType::kInt8 && features.avx512_vnni) {
          plan.push_back({dtype, X86MatrixPath::kVnni});
        }
        if ((dtype == DType::kBFloat16 && features.amx_bf16) ||
            (dtype == DType::kInt8 && features.amx_int8)) {
          plan.push_back({dtype, X86MatrixPath::kAmx});
        }
      }
      for (const auto [dtype, path] : plan) {
        const char* name = dtype == DType::kFloat32   ? "f32"
                           : dtype == DType::kFloat16 ? "f16"
                           : dtype == DType::kInt8    ? "int8"
                                                      : "bf16";
        const std::string label =
            path == X86MatrixPath::kAmx    ? std::string(name) + "-amx"
            : path == X86MatrixPath::kVnni ? std::string(name) + "-vnni"
                                           : name;
        if (const std::string only = absl::GetFlag(FLAGS_only);
            !only.empty() && only != label) {
          continue;
        }
        ForceX86MatrixPathForTest(path);
        const void* data = dtype == DType::kFloat32   ? static_cast<const void*>(v_f32.data())
                           : dtype == DType::kFloat16 ? static_cast<const void*>(v_f16.data())
                           : dtype == DType::kInt8    ? static_cast<const void*>(v_i8.data())
                                                      : static_cast<const void*>(v_bf16.data());
        const size_t stride = dtype == DType::kFloat32 ? s32 : dtype == DType::kInt8 ? s8 : s16;
        WeightRows rows{data, dtype, n, k, stride,
                        dtype == DType::kInt8 ? v_scales.data() : nullptr};
        FactorTopNOptions options;
        options.top_n = top_n;
        options.num_threads = threads;
        std::vector<std::vector<ScoredItem>> result;
        // FAISS again, in rounds with ours (bench/median_time.h): the ratio is
        // the median of the rounds', which the VM's drift cannot skew.
        const PairedTimes paired = PairedMedians(repeats, faiss_search, [&] {
          result = FactorTopN(rows, z.data(), k, batch, options);
        });
        const double ours_s = paired.b_seconds;
        std::printf("%-8zu %-7d %-9s %12.3f %12.3f %8.2f %9.4f %12.3f\n", batch,
                    threads, label.c_str(), ours_s * 1e3,
                    paired.a_seconds * 1e3, paired.ratio,
                    Agreement(result, labels, top_n), faiss_s * 1e3);
        if (tsv.is_open()) {
          tsv << batch << "\t" << threads << "\t" << label << "\t"
              << ours_s * 1e3 << "\t" << paired.a_seconds * 1e3 << "\n";
        }
      }
    }
  }
  ResetX86MatrixPath();
  std::printf(
      "ratio = FAISS f32 time / edlae time (higher is better for edlae): the "
      "median of\n"
      "per-round ratios, each round timing a FAISS call and one of ours, each "
      "after an\n"
      "untimed call of its own; faiss_ms the median of those FAISS calls, "
      "faiss_alone\n"
      "FAISS's median timed before the rows\n");
  return 0;
}

}  // namespace
}  // namespace edlae

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return edlae::Run();
}
