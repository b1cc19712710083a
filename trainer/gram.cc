// G = XᵀX from CSR data: rows of G (whole, or upper part + mirror) are built in
// parallel from the item → users index, one thread per row, split by work.
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

// Work of row i in full: n (zeroing it) + its scatter-adds, Σ over users of i
// of their item counts.
uint64_t RowWork(const Interactions& x, const ItemUsers& columns, size_t i) {
  uint64_t w = x.num_items();
  for (uint64_t k = columns.offsets[i]; k < columns.offsets[i + 1]; ++k) {
    const uint32_t u = columns.users[k];
    w += x.row_offsets[u + 1] - x.row_offsets[u];
  }
  return w;
}

// Splits rows [0, n) into about `pieces` contiguous ranges of equal work
// (RowWork): popular items' rows cost more, so cutting by count would leave
// one thread with the heavy tail. Returns the range boundaries.
std::vector<size_t> RowRangesByWork(const Interactions& x,
                                    const ItemUsers& columns, size_t pieces) {
  const size_t n = x.num_items();
  std::vector<uint64_t> work(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    work[i + 1] = work[i] + RowWork(x, columns, i);
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

// kAuto's choice. Whole rows cost Σ_u d_u² scatter-adds (d_u = user u's item
// count), upper rows half that plus a strided n² mirror. Measured (2 threads,
// docs/performance.md "Gram matrix against SciPy"): whole rows 1.6× faster on
// Amazon-Book (Σ d² = 0.065·n²), upper + mirror faster on a synthetic set
// with Σ d² = 5.7·n²; the break-even is taken at Σ d² = 2·n² (a scatter-add
// and a mirrored element cost about the same).
bool WholeRowsAreCheaper(const Interactions& x) {
  const size_t n = x.num_items();
  uint64_t scatter = 0;
  for (size_t u = 0; u < x.num_users(); ++u) {
    const uint64_t d = x.row_offsets[u + 1] - x.row_offsets[u];
    scatter += d * d;
  }
  return scatter <= 2 * static_cast<uint64_t>(n) * n;
}

// Writes G into g (n² entries); zeroes each row first unless `zeroed` says
// the buffer already holds zeros.
template <typename T>
void BuildGram(const Interactions& x, int num_threads, GramRows rows,
               bool zeroed, T* g) {
  const size_t n = x.num_items();
  const int threads = ResolveThreadCount(num_threads);
  const bool upper = rows == GramRows::kUpperThenMirror ||
                     (rows == GramRows::kAuto && !WholeRowsAreCheaper(x));

  const ItemUsers columns = TransposeToItems(x);
  const std::vector<uint64_t>& col_offsets = columns.offsets;
  const std::vector<uint32_t>& col_users = columns.users;

  // Row i of G (all of it, or the upper part j ≥ i) = Σ over users of i of
  // their items (≥ i). Each row is zeroed (when not yet) and built by one
  // thread and stays cache-resident while built.
  auto build_row = [&](size_t i) {
    T* row = g + i * n;
    if (!zeroed) std::fill(row + (upper ? i : 0), row + n, T{0});
    for (uint64_t k = col_offsets[i]; k < col_offsets[i + 1]; ++k) {
      const uint32_t u = col_users[k];
      const uint32_t* first = x.item_indices.data() + x.row_offsets[u];
      const uint32_t* last = x.item_indices.data() + x.row_offsets[u + 1];
      // Items of a user are sorted: for the upper part skip those below i.
      for (const uint32_t* p = upper ? std::lower_bound(first, last, i) : first;
           p != last; ++p) {
        row[*p] += T{1};
      }
    }
  };
  if (upper) {
    // Chunks of 8 rows handed out dynamically (an exact work estimate would
    // need the lower_bound per (row, user) pair, i.e. a second pass).
    ParallelFor(n, 8, threads, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) build_row(i);
    });
  } else {
    const std::vector<size_t> ranges =
        RowRangesByWork(x, columns, 16 * static_cast<size_t>(threads));
    ParallelFor(ranges.size() - 1, 1, threads, [&](size_t begin, size_t end) {
      for (size_t i = ranges[begin]; i < ranges[end]; ++i) build_row(i);
    });
  }
  if (upper) MirrorUpperToLower(g, n, threads);
}

template <typename T>
std::vector<T> ComputeGramAs(const Interactions& x, int num_threads) {
  const size_t n = x.num_items();
  std::vector<T> g(n * n);  // zeroed: the rows need not be again
  BuildGram(x, num_threads, GramRows::kAuto, /*zeroed=*/true, g.data());
  return g;
}

}  // namespace

std::vector<double> ComputeGram(const Interactions& x, int num_threads) {
  return ComputeGramAs<double>(x, num_threads);
}

std::vector<float> ComputeGramFloat(const Interactions& x, int num_threads) {
  return ComputeGramAs<float>(x, num_threads);
}

void ComputeGramInto(const Interactions& x, int num_threads, double* gram,
                     GramRows rows) {
  BuildGram(x, num_threads, rows, /*zeroed=*/false, gram);
}

void ComputeGramInto(const Interactions& x, int num_threads, float* gram,
                     GramRows rows) {
  BuildGram(x, num_threads, rows, /*zeroed=*/false, gram);
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
