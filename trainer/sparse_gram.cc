// Sparse G = XᵀX: per-thread dense counters over the users of each item, rows
// emitted sorted, chunks concatenated.
#include "trainer/sparse_gram.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "trainer/gram.h"
#include "trainer/parallel.h"

namespace edlae {
namespace {

// The rows of G in [begin, end), in CSR form relative to the chunk.
struct RowChunk {
  std::vector<uint64_t> row_nnz;
  std::vector<uint32_t> indices;
  std::vector<double> values;
};

}  // namespace

SparseGram ComputeSparseGram(const Interactions& x,
                             const SparseGramOptions& options) {
  const size_t n = x.num_items();
  const int threads = ResolveThreadCount(options.num_threads);
  const uint32_t min_count = std::max<uint32_t>(options.min_cooccurrence, 1);

  const ItemUsers columns = TransposeToItems(x);
  const std::vector<uint64_t>& col_offsets = columns.offsets;
  const std::vector<uint32_t>& col_users = columns.users;

  // Chunks small enough to balance the skewed rows (popular items are slow).
  const size_t chunk =
      std::max<size_t>(1, std::min<size_t>(256, n / (64 * threads) + 1));
  const size_t num_chunks = (n + chunk - 1) / chunk;
  std::vector<RowChunk> chunks(num_chunks);
  std::atomic<size_t> next{0};
  // Per thread: Σ of the counts dropped from each row (both triangles).
  std::vector<std::vector<double>> dropped(threads);
  std::atomic<int> next_thread{0};
  auto worker = [&] {
    std::vector<uint32_t> count(n, 0);  // this thread's row accumulator
    std::vector<uint32_t> touched;
    std::vector<double>& my_dropped = dropped[next_thread.fetch_add(1)];
    if (min_count > 1) my_dropped.assign(n, 0.0);
    for (;;) {
      const size_t c = next.fetch_add(1);
      if (c >= num_chunks) return;
      RowChunk& out = chunks[c];
      const size_t begin = c * chunk, end = std::min(n, begin + chunk);
      out.row_nnz.resize(end - begin);
      for (size_t i = begin; i < end; ++i) {
        touched.clear();
        for (uint64_t k = col_offsets[i]; k < col_offsets[i + 1]; ++k) {
          const uint32_t u = col_users[k];
          const uint32_t* first = x.item_indices.data() + x.row_offsets[u];
          const uint32_t* last = x.item_indices.data() + x.row_offsets[u + 1];
          // A user's items are sorted: only those >= i belong to row i's upper
          // part.
          for (const uint32_t* p =
                   std::lower_bound(first, last, static_cast<uint32_t>(i));
               p != last; ++p) {
            if (count[*p]++ == 0) touched.push_back(*p);
          }
        }
        // Sorted columns: sort the touched list, or sweep the counter when
        // the row is dense enough that a sweep is cheaper.
        const size_t before = out.indices.size();
        const auto emit = [&](uint32_t j) {
          const uint32_t v = count[j];
          count[j] = 0;
          if (j == i || v >= min_count) {
            out.indices.push_back(j);
            out.values.push_back(static_cast<double>(v));
          } else {
            my_dropped[i] += v;
            my_dropped[j] += v;
          }
        };
        if (count[i] == 0) {  // an item without users still has its diagonal
          out.indices.push_back(static_cast<uint32_t>(i));
          out.values.push_back(0.0);
        }
        if (touched.size() * 16 > n - i) {
          for (size_t j = i; j < n; ++j) {
            if (count[j] != 0) emit(static_cast<uint32_t>(j));
          }
        } else {
          std::sort(touched.begin(), touched.end());
          for (uint32_t j : touched) emit(j);
        }
        out.row_nnz[i - begin] = out.indices.size() - before;
      }
    }
  };
  {
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (std::thread& th : pool) th.join();
  }

  SparseGram g;
  g.n = n;
  if (min_count > 1) {
    g.dropped_row_sums.assign(n, 0.0);
    for (const std::vector<double>& d : dropped) {
      for (size_t i = 0; i < d.size(); ++i) g.dropped_row_sums[i] += d[i];
    }
  }
  g.offsets.assign(n + 1, 0);
  std::vector<uint64_t> chunk_start(num_chunks + 1, 0);
  for (size_t c = 0; c < num_chunks; ++c) {
    const size_t begin = c * chunk;
    for (size_t r = 0; r < chunks[c].row_nnz.size(); ++r) {
      g.offsets[begin + r + 1] = g.offsets[begin + r] + chunks[c].row_nnz[r];
    }
    chunk_start[c + 1] = chunk_start[c] + chunks[c].indices.size();
  }
  g.indices.resize(g.offsets[n]);
  g.values.resize(g.offsets[n]);
  ParallelFor(num_chunks, 1, threads, [&](size_t begin, size_t end) {
    for (size_t c = begin; c < end; ++c) {
      RowChunk& ch = chunks[c];
      std::copy(ch.indices.begin(), ch.indices.end(),
                g.indices.begin() + chunk_start[c]);
      std::copy(ch.values.begin(), ch.values.end(),
                g.values.begin() + chunk_start[c]);
      ch = RowChunk();  // release as we go
    }
  });
  return g;
}

size_t SparsifyGram(double density, const std::vector<double>& shift,
                    SparseGram* g) {
  const size_t n = g->n;
  const size_t off_diagonal = g->nnz_upper() - n;
  const long double pairs = static_cast<long double>(n) * (n - 1) / 2;
  const long double wanted = std::max<long double>(0, density) * pairs;
  const size_t keep = wanted >= static_cast<long double>(off_diagonal)
                          ? off_diagonal
                          : static_cast<size_t>(wanted);
  if (keep >= off_diagonal) return 0;
  std::vector<double> inv_sqrt_diag(n);
  for (size_t i = 0; i < n; ++i) {
    const double d = g->diagonal(i) + (shift.empty() ? 0.0 : shift[i]);
    inv_sqrt_diag[i] = d > 0 ? 1.0 / std::sqrt(d) : 0.0;
  }
  // One expression for the weight, so selection and compaction agree.
  const auto weight = [&](size_t i, uint64_t k) {
    return static_cast<float>(std::abs(g->values[k]) * inv_sqrt_diag[i] *
                              inv_sqrt_diag[g->indices[k]]);
  };
  float threshold = std::numeric_limits<float>::infinity();
  if (keep > 0) {
    std::vector<float> weights;
    weights.reserve(off_diagonal);
    for (size_t i = 0; i < n; ++i) {
      for (uint64_t k = g->offsets[i] + 1; k < g->offsets[i + 1]; ++k) {
        weights.push_back(weight(i, k));
      }
    }
    std::nth_element(weights.begin(), weights.begin() + (keep - 1),
                     weights.end(), std::greater<float>());
    threshold = weights[keep - 1];
  }
  if (g->dropped_row_sums.empty()) g->dropped_row_sums.assign(n, 0.0);
  // Compact in place: row i's kept entries move forward, never past k.
  uint64_t out = 0;
  size_t dropped = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t begin = g->offsets[i], end = g->offsets[i + 1];
    g->offsets[i] = out;
    g->indices[out] = g->indices[begin];  // the diagonal, always first
    g->values[out++] = g->values[begin];
    for (uint64_t k = begin + 1; k < end; ++k) {
      if (weight(i, k) >= threshold) {
        g->indices[out] = g->indices[k];
        g->values[out++] = g->values[k];
      } else {
        g->dropped_row_sums[i] += g->values[k];
        g->dropped_row_sums[g->indices[k]] += g->values[k];
        ++dropped;
      }
    }
  }
  g->offsets[n] = out;
  g->indices.resize(out);
  g->values.resize(out);
  g->indices.shrink_to_fit();
  g->values.shrink_to_fit();
  return dropped;
}

std::vector<float> PopularityFromSparseGram(const SparseGram& g) {
  std::vector<float> popularity(g.n);
  for (size_t i = 0; i < g.n; ++i) {
    popularity[i] = static_cast<float>(g.diagonal(i));
  }
  return popularity;
}

}  // namespace edlae
