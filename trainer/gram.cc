// G = XᵀX from CSR data: rows of G are built in parallel from the item → users
// index, one thread per row.
#include "trainer/gram.h"

#include <algorithm>

#include "trainer/parallel.h"

namespace edlae {

ItemUsers TransposeToItems(const Interactions& x) {
  const size_t n = x.num_items();
  const size_t users = x.num_users();
  ItemUsers t;
  t.offsets.assign(n + 1, 0);
  for (uint32_t item : x.item_indices) ++t.offsets[item + 1];
  for (size_t i = 0; i < n; ++i) t.offsets[i + 1] += t.offsets[i];
  t.users.resize(x.num_interactions());
  std::vector<uint64_t> fill(t.offsets.begin(), t.offsets.end() - 1);
  for (size_t u = 0; u < users; ++u) {
    for (uint64_t k = x.row_offsets[u]; k < x.row_offsets[u + 1]; ++k) {
      t.users[fill[x.item_indices[k]]++] = static_cast<uint32_t>(u);
    }
  }
  return t;
}

namespace {

template <typename T>
std::vector<T> ComputeGramAs(const Interactions& x, int num_threads) {
  const size_t n = x.num_items();
  const int threads = ResolveThreadCount(num_threads);

  const ItemUsers columns = TransposeToItems(x);
  const std::vector<uint64_t>& col_offsets = columns.offsets;
  const std::vector<uint32_t>& col_users = columns.users;

  // Row i of G (upper part, j >= i) = Σ over users of i of their items >= i.
  // Each row is written by one thread and stays cache-resident while built.
  std::vector<T> g(n * n, T{0});
  ParallelFor(n, 8, threads, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      T* row = g.data() + i * n;
      for (uint64_t k = col_offsets[i]; k < col_offsets[i + 1]; ++k) {
        const uint32_t u = col_users[k];
        const uint32_t* first = x.item_indices.data() + x.row_offsets[u];
        const uint32_t* last = x.item_indices.data() + x.row_offsets[u + 1];
        // Items of a user are sorted: skip those below the diagonal.
        for (const uint32_t* p = std::lower_bound(first, last, i); p != last;
             ++p) {
          row[*p] += T{1};
        }
      }
    }
  });

  MirrorUpperToLower(g.data(), n, threads);
  return g;
}

}  // namespace

std::vector<double> ComputeGram(const Interactions& x, int num_threads) {
  return ComputeGramAs<double>(x, num_threads);
}

std::vector<float> ComputeGramFloat(const Interactions& x, int num_threads) {
  return ComputeGramAs<float>(x, num_threads);
}

namespace {

template <typename T>
std::vector<float> DiagonalAsFloat(const std::vector<T>& gram, size_t n) {
  std::vector<float> popularity(n);
  for (size_t i = 0; i < n; ++i) {
    popularity[i] = static_cast<float>(gram[i * n + i]);
  }
  return popularity;
}

}  // namespace

std::vector<float> PopularityFromGram(const std::vector<double>& gram,
                                      size_t n) {
  return DiagonalAsFloat(gram, n);
}

std::vector<float> PopularityFromGram(const std::vector<float>& gram,
                                      size_t n) {
  return DiagonalAsFloat(gram, n);
}

}  // namespace edlae
