// One training run (sparse, dense, or dense pruned to a density) with its time,
// peak memory, nnz and Recall@20.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "core/model_convert.h"
#include "trainer/full_rank_solver.h"
#include "trainer/gram.h"
#include "trainer/interactions.h"
#include "trainer/model_spec.h"
#include "trainer/sparse_solver.h"
#include "trainer/train.h"

ABSL_FLAG(std::string, train, "", "training interactions");
ABSL_FLAG(std::string, test, "",
          "held-out items of the same users (weak generalization); empty: no "
          "Recall@20");
ABSL_FLAG(std::string, format, "lines", "input format of both files");
ABSL_FLAG(std::string, mode, "sparse",
          "sparse | dense | pruned (dense B, top |B[i,j]| per row kept)");
ABSL_FLAG(std::string, model, "ease", "ease | edlae | dlae");
ABSL_FLAG(double, lambda, 500, "λ");
ABSL_FLAG(double, dropout, 0, "p (edlae, dlae)");
ABSL_FLAG(double, density, 0.01,
          "fraction of n² weights kept (sparse, pruned)");
ABSL_FLAG(double, inverse_density, 0,
          "SparseTrainOptions::inverse_density (0: default)");
ABSL_FLAG(double, drop_tolerance, -1,
          "SparseTrainOptions::drop_tolerance (< 0: default)");
ABSL_FLAG(uint32_t, min_cooccurrence, 0,
          "SparseTrainOptions::min_cooccurrence");
ABSL_FLAG(double, gram_density, 1.0,
          "SparseTrainOptions::gram_density (1: exact G)");
ABSL_FLAG(int, threads, 0, "threads (0: all cores)");

namespace edlae {
namespace {

struct Csr {
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> indices;
  std::vector<float> weights;
};

// Dense B as CSR, each row cut to its `keep` largest |B[i][j]| (exact zeros
// dropped).
Csr FromDense(const std::vector<float>& b, size_t n, size_t keep) {
  Csr out;
  out.offsets.push_back(0);
  std::vector<std::pair<float, uint32_t>> row;
  for (size_t i = 0; i < n; ++i) {
    row.clear();
    for (size_t j = 0; j < n; ++j) {
      if (b[i * n + j] != 0)
        row.emplace_back(b[i * n + j], static_cast<uint32_t>(j));
    }
    if (row.size() > keep) {
      std::nth_element(row.begin(), row.begin() + keep, row.end(),
                       [](const auto& a, const auto& c) {
                         return std::abs(a.first) > std::abs(c.first);
                       });
      row.resize(keep);
    }
    std::sort(row.begin(), row.end(),
              [](const auto& a, const auto& c) { return a.second < c.second; });
    for (const auto& [v, j] : row) {
      out.indices.push_back(j);
      out.weights.push_back(v);
    }
    out.offsets.push_back(out.indices.size());
  }
  return out;
}

// Mean over test users of |top-20 ∩ targets| / |targets|, training items
// excluded.
double RecallAt20(const Interactions& x, const Interactions& y, const Csr& b) {
  const size_t n = x.num_items();
  std::unordered_map<std::string, uint32_t> item_of, user_of;
  for (size_t i = 0; i < n; ++i)
    item_of[x.item_ids[i]] = static_cast<uint32_t>(i);
  for (size_t u = 0; u < x.num_users(); ++u)
    user_of[x.user_ids[u]] = static_cast<uint32_t>(u);
  double recall = 0;
  size_t users = 0;
  std::vector<double> score(n);
  std::vector<uint32_t> order(n), targets;
  for (size_t v = 0; v < y.num_users(); ++v) {
    const auto it = user_of.find(y.user_ids[v]);
    if (it == user_of.end()) continue;
    targets.clear();
    for (uint64_t k = y.row_offsets[v]; k < y.row_offsets[v + 1]; ++k) {
      const auto f = item_of.find(y.item_ids[y.item_indices[k]]);
      if (f != item_of.end()) targets.push_back(f->second);
    }
    if (targets.empty()) continue;
    const size_t u = it->second;
    std::fill(score.begin(), score.end(), 0.0);
    for (uint64_t k = x.row_offsets[u]; k < x.row_offsets[u + 1]; ++k) {
      const uint32_t h = x.item_indices[k];
      for (uint64_t q = b.offsets[h]; q < b.offsets[h + 1]; ++q)
        score[b.indices[q]] += b.weights[q];
    }
    for (uint64_t k = x.row_offsets[u]; k < x.row_offsets[u + 1]; ++k)
      score[x.item_indices[k]] = -1e300;
    for (size_t j = 0; j < n; ++j) order[j] = static_cast<uint32_t>(j);
    const size_t top = std::min<size_t>(20, n);
    std::partial_sort(
        order.begin(), order.begin() + top, order.end(),
        [&](uint32_t a, uint32_t c) { return score[a] > score[c]; });
    std::sort(targets.begin(), targets.end());
    size_t hits = 0;
    for (size_t r = 0; r < top; ++r)
      hits += std::binary_search(targets.begin(), targets.end(), order[r]);
    recall += static_cast<double>(hits) / targets.size();
    ++users;
  }
  return users > 0 ? recall / users : 0;
}

int Run() {
  LoadOptions lo;
  char delimiter = ',';
  absl::StatusOr<InputFormat> format =
      ParseInputFormat(absl::GetFlag(FLAGS_format), &delimiter);
  if (!format.ok()) {
    std::cerr << format.status() << "\n";
    return 1;
  }
  lo.format = *format;
  lo.delimiter = delimiter;
  absl::StatusOr<Interactions> x =
      LoadInteractions(absl::GetFlag(FLAGS_train), lo);
  if (!x.ok()) {
    std::cerr << x.status() << "\n";
    return 1;
  }
  const size_t n = x->num_items();
  ModelSpec spec;
  absl::StatusOr<Algorithm> algorithm =
      ParseAlgorithm(absl::GetFlag(FLAGS_model));
  if (!algorithm.ok()) {
    std::cerr << algorithm.status() << "\n";
    return 1;
  }
  spec.algorithm = *algorithm;
  spec.lambda = absl::GetFlag(FLAGS_lambda);
  spec.dropout = absl::GetFlag(FLAGS_dropout);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int threads = absl::GetFlag(FLAGS_threads);
  const size_t rss_loaded = PeakRssBytes();
  const auto start = std::chrono::steady_clock::now();
  Csr b;
  if (mode == "sparse") {
    SparseTrainOptions o;
    o.density = absl::GetFlag(FLAGS_density);
    o.inverse_density = absl::GetFlag(FLAGS_inverse_density);
    o.drop_tolerance = absl::GetFlag(FLAGS_drop_tolerance);
    o.min_cooccurrence = absl::GetFlag(FLAGS_min_cooccurrence);
    o.gram_density = absl::GetFlag(FLAGS_gram_density);
    o.num_threads = threads;
    absl::StatusOr<SparseModel> m = TrainSparse(*x, spec, o, &std::cerr);
    if (!m.ok()) {
      std::cerr << m.status() << "\n";
      return 1;
    }
    b.offsets = std::move(m->offsets);
    b.indices = std::move(m->indices);
    b.weights = std::move(m->weights);
  } else if (mode == "dense" || mode == "pruned") {
    absl::StatusOr<std::vector<float>> dense = SolveFullRank(
        ComputeGram(*x, threads), n, SolverOptionsFor(spec, threads));
    if (!dense.ok()) {
      std::cerr << dense.status() << "\n";
      return 1;
    }
    b = FromDense(*dense, n,
                  mode == "dense"
                      ? n
                      : KeepPerRowForDensity(absl::GetFlag(FLAGS_density), n));
  } else {
    std::cerr << "unknown --mode " << mode << "\n";
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const size_t rss = PeakRssBytes();
  double recall = -1;
  if (!absl::GetFlag(FLAGS_test).empty()) {
    absl::StatusOr<Interactions> y =
        LoadInteractions(absl::GetFlag(FLAGS_test), lo);
    if (!y.ok()) {
      std::cerr << y.status() << "\n";
      return 1;
    }
    recall = RecallAt20(*x, *y, b);
  }
  std::cout << absl::StrFormat(
      "mode=%s model=%s lambda=%g density=%g min_cooccurrence=%d items=%d "
      "nnz=%d realized_density=%.5f "
      "train_seconds=%.2f peak_rss_mib=%.0f (after loading %.0f) "
      "recall20=%.4f\n",
      mode, AlgorithmName(spec.algorithm), spec.lambda,
      absl::GetFlag(FLAGS_density), absl::GetFlag(FLAGS_min_cooccurrence), n,
      b.indices.size(), static_cast<double>(b.indices.size()) / n / n, seconds,
      rss / 1048576.0, rss_loaded / 1048576.0, recall);
  return 0;
}

}  // namespace
}  // namespace edlae

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return edlae::Run();
}
