// Writes a model file of random weights and a given shape (dense or low-rank, any dtype) for serving benchmarks, and an
// ids file drawn by its power-law popularity for `edlae-client bench --ids_file`.
//
//   random_model --kind dense --items 41000 --dtype f16 --out m.edlae [--ids_out ids.txt --ids 200000]
//
// Scores of random weights mean nothing; what the benchmarks measure (bytes read, work per call, batching) depends only
// on the shape and the dtype. Item ids are "1" .. "N" (as `edlae-train synth` writes them); item i's popularity is
// ∝ 1 / (i + 10), so histories drawn by popularity repeat the head items as real ones do.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "core/model_format.h"
#include "core/model_writer.h"
#include "core/weight_rows.h"

ABSL_FLAG(std::string, kind, "dense", "dense or low_rank");
ABSL_FLAG(uint64_t, items, 20000, "number of items");
ABSL_FLAG(uint64_t, rank, 1000, "low_rank: k");
ABSL_FLAG(std::string, dtype, "float32", "float32, float16 or bfloat16");
ABSL_FLAG(std::string, out, "", "model file to write (required)");
ABSL_FLAG(std::string, ids_out, "", "also write this many popularity-drawn ids (--ids), one per line");
ABSL_FLAG(uint64_t, ids, 200000, "lines of --ids_out");
ABSL_FLAG(uint64_t, seed, 1, "random seed");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string kind = absl::GetFlag(FLAGS_kind);
  const size_t n = absl::GetFlag(FLAGS_items);
  const size_t rank = absl::GetFlag(FLAGS_rank);
  const std::string out = absl::GetFlag(FLAGS_out);
  absl::StatusOr<edlae::DType> dtype = edlae::ParseDType(absl::GetFlag(FLAGS_dtype));
  if (out.empty() || n < 2 || (kind != "dense" && kind != "low_rank") || !dtype.ok() ||
      (kind == "low_rank" && (rank < 1 || rank > n))) {
    std::fprintf(stderr,
                 "usage: random_model --kind dense|low_rank --items N [--rank K] [--dtype float32|float16|bfloat16] "
                 "--out FILE [--ids_out FILE --ids M]\n");
    return 2;
  }
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::uniform_real_distribution<float> weight(-0.01f, 0.01f);
  std::vector<std::string> ids(n);
  std::vector<float> popularity(n);
  for (size_t i = 0; i < n; ++i) {
    ids[i] = absl::StrCat(i + 1);
    popularity[i] = static_cast<float>(1e6 / (i + 10.0));
  }
  absl::Status written;
  if (kind == "dense") {
    std::vector<float> b(n * n);
    for (float& x : b) x = weight(rng);
    written = edlae::WriteDenseModel(out, {b, ids, popularity, {}, *dtype});
  } else {
    std::vector<float> u(n * rank), v(n * rank);
    for (float& x : u) x = weight(rng);
    for (float& x : v) x = weight(rng);
    edlae::LowRankModelData data{rank, u, v, ids, popularity, {}};
    data.dtype = *dtype;
    written = edlae::WriteLowRankModel(out, data);
  }
  if (!written.ok()) {
    std::fprintf(stderr, "%s\n", written.ToString().c_str());
    return 1;
  }
  const std::string ids_out = absl::GetFlag(FLAGS_ids_out);
  if (!ids_out.empty()) {
    std::discrete_distribution<size_t> pick(popularity.begin(), popularity.end());
    std::string text;
    for (uint64_t k = 0; k < absl::GetFlag(FLAGS_ids); ++k) absl::StrAppend(&text, pick(rng) + 1, "\n");
    if (absl::Status s = edlae::WriteFileAtomically(ids_out, text); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("%s: %s, %zu items, %s\n", out.c_str(), kind.c_str(), n, edlae::DTypeName(*dtype));
  return 0;
}
