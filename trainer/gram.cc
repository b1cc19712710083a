// G = XᵀX from CSR data: whole rows of G are built in parallel from the
// item → users index, one thread per row, rows split over threads by work.
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

// Splits rows [0, n) into about `pieces` contiguous ranges of equal work,
// work(i) = n (zeroing row i) + Σ over users of i of their item counts (its
// scatter-adds): popular items' rows cost more, so cutting by count would
// leave one thread with the heavy tail. Returns the range boundaries.
std::vector<size_t> RowRangesByWork(const Interactions& x,
                                    const ItemUsers& columns, size_t pieces) {
  const size_t n = x.num_items();
  std::vector<uint64_t> work(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    uint64_t w = n;
    for (uint64_t k = columns.offsets[i]; k < columns.offsets[i + 1]; ++k) {
      const uint32_t u = columns.users[k];
      w += x.row_offsets[u + 1] - x.row_offsets[u];
    }
    work[i + 1] = work[i] + w;
  }
  std::vector<size_t> bounds = {0};
  for (size_t p = 1; p < pieces; ++p) {
    const uint64_t target = work[n] / pieces * p;
    const size_t i = static_cast<size_t>(
        std::lower_bound(work.begin(), work.end(), target) - work.begin());
    if (i > bounds.back() && i < n) bounds.push_back(i);
  }
  bounds.push_back(n);
  return bounds;
}

// Writes G into g (n² entries); zeroes each row first unless `zeroed` says
// the buffer already holds zeros.
template <typename T>
void BuildGramRows(const Interactions& x, int num_threads, bool zeroed, T* g) {
  const size_t n = x.num_items();
  const int threads = ResolveThreadCount(num_threads);

  const ItemUsers columns = TransposeToItems(x);
  const std::vector<uint64_t>& col_offsets = columns.offsets;
  const std::vector<uint32_t>& col_users = columns.users;

  // Row i of G, all of it (j < i too, so no mirror pass over n² afterwards) =
  // Σ over users of i of all their items. Each row is zeroed (when not yet)
  // and built by one thread and stays cache-resident while built.
  const std::vector<size_t> ranges =
      RowRangesByWork(x, columns, 16 * static_cast<size_t>(threads));
  ParallelFor(ranges.size() - 1, 1, threads, [&](size_t begin, size_t end) {
    for (size_t i = ranges[begin]; i < ranges[end]; ++i) {
      T* row = g + i * n;
      if (!zeroed) std::fill(row, row + n, T{0});
      for (uint64_t k = col_offsets[i]; k < col_offsets[i + 1]; ++k) {
        const uint32_t u = col_users[k];
        const uint32_t* first = x.item_indices.data() + x.row_offsets[u];
        const uint32_t* last = x.item_indices.data() + x.row_offsets[u + 1];
        for (const uint32_t* p = first; p != last; ++p) row[*p] += T{1};
      }
    }
  });
}

template <typename T>
std::vector<T> ComputeGramAs(const Interactions& x, int num_threads) {
  const size_t n = x.num_items();
  std::vector<T> g(n * n);  // zeroed: the rows need not be again
  BuildGramRows(x, num_threads, /*zeroed=*/true, g.data());
  return g;
}

}  // namespace

std::vector<double> ComputeGram(const Interactions& x, int num_threads) {
  return ComputeGramAs<double>(x, num_threads);
}

std::vector<float> ComputeGramFloat(const Interactions& x, int num_threads) {
  return ComputeGramAs<float>(x, num_threads);
}

void ComputeGramInto(const Interactions& x, int num_threads, double* gram) {
  BuildGramRows(x, num_threads, /*zeroed=*/false, gram);
}

void ComputeGramInto(const Interactions& x, int num_threads, float* gram) {
  BuildGramRows(x, num_threads, /*zeroed=*/false, gram);
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
