// Sparse B column by column: each item's ridge regression on its neighbors.
#include "trainer/sparse_neighborhood.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "trainer/lapack.h"
#include "trainer/parallel.h"

namespace edlae {
namespace {

// G with the items relabeled by ascending popularity (diag G, ties by
// index): row r of `up` lists the partners of rank > r, `down` those of rank
// < r, each ascending. A neighborhood's G_SS is gathered from the up-lists of
// its members, and the popular items that most neighborhoods hold have the
// shortest up-lists (only the few items more popular than they are).
struct RankedGram {
  std::vector<uint32_t> item_of;  // rank → item
  std::vector<uint32_t> rank_of;  // item → rank
  std::vector<uint64_t> up_offsets, down_offsets;
  struct Entry {
    uint32_t rank;
    float g;  // co-occurrence count (exact below 2²⁴)
  };
  std::vector<Entry> up, down;
};

// Consumes g: its arrays are released once both lists hold its entries.
RankedGram RankGram(SparseGram g, int threads) {
  const size_t n = g.n;
  RankedGram r;
  r.item_of.resize(n);
  for (size_t i = 0; i < n; ++i) r.item_of[i] = static_cast<uint32_t>(i);
  std::sort(r.item_of.begin(), r.item_of.end(), [&](uint32_t a, uint32_t b) {
    const double da = g.diagonal(a), db = g.diagonal(b);
    return da != db ? da < db : a < b;
  });
  r.rank_of.resize(n);
  for (size_t k = 0; k < n; ++k) {
    r.rank_of[r.item_of[k]] = static_cast<uint32_t>(k);
  }
  r.up_offsets.assign(n + 1, 0);
  r.down_offsets.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    for (uint64_t q = g.offsets[i] + 1; q < g.offsets[i + 1]; ++q) {
      const uint32_t a = r.rank_of[i], b = r.rank_of[g.indices[q]];
      ++r.up_offsets[std::min(a, b) + 1];
      ++r.down_offsets[std::max(a, b) + 1];
    }
  }
  for (size_t k = 0; k < n; ++k) {
    r.up_offsets[k + 1] += r.up_offsets[k];
    r.down_offsets[k + 1] += r.down_offsets[k];
  }
  r.up.resize(r.up_offsets[n]);
  r.down.resize(r.down_offsets[n]);
  std::vector<uint64_t> up_at(r.up_offsets.begin(), r.up_offsets.end() - 1);
  std::vector<uint64_t> down_at(r.down_offsets.begin(),
                                r.down_offsets.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    for (uint64_t q = g.offsets[i] + 1; q < g.offsets[i + 1]; ++q) {
      const uint32_t a = r.rank_of[i], b = r.rank_of[g.indices[q]];
      const float v = static_cast<float>(g.values[q]);
      const uint32_t lo = std::min(a, b), hi = std::max(a, b);
      r.up[up_at[lo]++] = {hi, v};
      r.down[down_at[hi]++] = {lo, v};
    }
  }
  g = SparseGram();
  ParallelFor(n, 256, threads, [&](size_t begin, size_t end) {
    auto by_rank = [](const RankedGram::Entry& x, const RankedGram::Entry& y) {
      return x.rank < y.rank;
    };
    for (size_t k = begin; k < end; ++k) {
      std::sort(r.up.begin() + r.up_offsets[k],
                r.up.begin() + r.up_offsets[k + 1], by_rank);
      std::sort(r.down.begin() + r.down_offsets[k],
                r.down.begin() + r.down_offsets[k + 1], by_rank);
    }
  });
  return r;
}

// One neighbor of the item being solved: its rank and G_ij.
using Candidate = RankedGram::Entry;

// A chunk of consecutive columns of B, each as (row item, weight) entries.
struct ColumnChunk {
  std::vector<uint32_t> column_nnz;
  std::vector<uint32_t> rows;
  std::vector<float> weights;
};

constexpr size_t kColumnsPerChunk = 32;
// An up-list longer than this many times the neighbors still to be found in
// it is binary-searched instead of scanned.
constexpr size_t kSearchRatio = 64;
// pos[] of a rank outside the neighborhood being gathered.
constexpr uint32_t kNotInSupport = std::numeric_limits<uint32_t>::max();

// Cuts every row of `m` longer than `cap` to its `cap` largest |weight|
// (ties to the smaller column), columns still ascending, in place.
void CapRows(size_t cap, int threads, NeighborhoodModel* m) {
  const size_t n = m->offsets.size() - 1;
  std::vector<uint64_t> kept(n, 0);
  ParallelFor(n, 1024, threads, [&](size_t begin, size_t end) {
    std::vector<std::pair<float, uint32_t>> row;  // (|w|, column)
    for (size_t i = begin; i < end; ++i) {
      const uint64_t first = m->offsets[i], last = m->offsets[i + 1];
      kept[i] = std::min<uint64_t>(last - first, cap);
      if (last - first <= cap) continue;
      row.clear();
      for (uint64_t q = first; q < last; ++q) {
        row.emplace_back(std::abs(m->weights[q]), m->indices[q]);
      }
      std::nth_element(row.begin(), row.begin() + cap, row.end(),
                       [](const auto& x, const auto& y) {
                         return x.first != y.first ? x.first > y.first
                                                   : x.second < y.second;
                       });
      row.resize(cap);
      std::sort(row.begin(), row.end(), [](const auto& x, const auto& y) {
        return x.second < y.second;
      });
      // The kept entries' weights, found again by column (ascending in both).
      uint64_t q = first, at = first;
      for (const auto& [unused, column] : row) {
        while (m->indices[q] != column) ++q;
        m->indices[at] = column;
        m->weights[at++] = m->weights[q];
      }
    }
  });
  uint64_t at = 0;
  size_t longest = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t first = m->offsets[i];
    m->offsets[i] = at;
    for (uint64_t q = first; q < first + kept[i]; ++q, ++at) {
      m->indices[at] = m->indices[q];
      m->weights[at] = m->weights[q];
    }
    longest = std::max<size_t>(longest, kept[i]);
  }
  m->offsets[n] = at;
  m->indices.resize(at);
  m->weights.resize(at);
  m->longest_row = longest;
}

}  // namespace

size_t NeighborhoodPeakBytes(const SparseGram& g,
                             const NeighborhoodOptions& options) {
  const double n = static_cast<double>(g.n);
  const double pairs = static_cast<double>(g.nnz_upper()) - n;
  const double lists = 2 * sizeof(RankedGram::Entry) * pairs + 24 * n;
  const double weights =
      n * static_cast<double>(std::min(options.keep, options.neighbors + 1));
  const double m = static_cast<double>(options.neighbors) + 1;
  const double per_thread =
      4 * n + sizeof(Candidate) * n + 8 * m * (m + 1) + 24 * m;
  const double ranking = static_cast<double>(g.bytes()) + lists;
  const double solving = lists + 16 * weights + 8 * n +
                         std::max(1, options.num_threads) * per_thread;
  return static_cast<size_t>(std::max(ranking, solving));
}

absl::StatusOr<NeighborhoodModel> SolveNeighborhoods(
    SparseGram g, const std::vector<double>& shift,
    const NeighborhoodOptions& options, std::ostream* log) {
  const size_t n = g.n;
  if (shift.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("shift has ", shift.size(), " entries for ", n, " items"));
  }
  if (options.neighbors == 0) {
    return absl::InvalidArgumentError("neighbors must be at least 1");
  }
  NeighborhoodModel model;
  model.offsets.assign(n + 1, 0);
  if (n == 0) return model;
  const bool all = options.neighbors + 1 >= n;
  const size_t keep = std::max<size_t>(1, options.keep);
  const int threads = std::max(1, options.num_threads);
  std::vector<double> diag_g(n), diag_a(n);  // by rank
  const RankedGram r = [&] {
    std::vector<double> by_item_g(n), by_item_a(n);
    for (size_t i = 0; i < n; ++i) {
      by_item_g[i] = g.diagonal(i);
      by_item_a[i] = g.diagonal(i) + shift[i];
    }
    RankedGram ranked = RankGram(std::move(g), threads);
    for (size_t k = 0; k < n; ++k) {
      diag_g[k] = by_item_g[ranked.item_of[k]];
      diag_a[k] = by_item_a[ranked.item_of[k]];
    }
    return ranked;
  }();

  std::vector<double> weight_scale(n);  // A_ii^−kNeighborExponent, by rank
  for (size_t k = 0; k < n; ++k) {
    weight_scale[k] =
        diag_a[k] > 0 ? std::pow(diag_a[k], -kNeighborExponent) : 0.0;
  }
  const size_t num_chunks = (n + kColumnsPerChunk - 1) / kColumnsPerChunk;
  std::vector<ColumnChunk> chunks(num_chunks);
  std::atomic<size_t> next{0};
  // The smallest failing item (deterministic whatever the thread count).
  std::atomic<size_t> failed_item{n};
  std::atomic<bool> failed_finite{false};
  ProgressMeter progress(log, "train: sparse neighborhoods", n,
                         options.progress);
  {
    ScopedSingleThreadedBlas single_threaded_blas;
    auto worker = [&] {
      std::vector<uint32_t> pos(n, kNotInSupport);  // by rank
      std::vector<Candidate> candidates;
      std::vector<uint32_t> support;  // ranks, ascending
      std::vector<double> m, b;
      std::vector<std::pair<double, uint32_t>> column;  // (weight, item)
      for (;;) {
        const size_t c = next.fetch_add(1);
        if (c >= num_chunks || failed_item.load() < n) return;
        ColumnChunk& out = chunks[c];
        const size_t begin = c * kColumnsPerChunk;
        const size_t end = std::min(n, begin + kColumnsPerChunk);
        out.column_nnz.assign(end - begin, 0);
        for (size_t j = begin; j < end; ++j) {
          const uint32_t rj = r.rank_of[j];
          // Row j of G without its diagonal, in ranks.
          candidates.assign(r.down.begin() + r.down_offsets[rj],
                            r.down.begin() + r.down_offsets[rj + 1]);
          candidates.insert(candidates.end(), r.up.begin() + r.up_offsets[rj],
                            r.up.begin() + r.up_offsets[rj + 1]);
          support.clear();
          if (all) {
            for (size_t k = 0; k < n; ++k) {
              if (k != rj) support.push_back(static_cast<uint32_t>(k));
            }
          } else {
            if (candidates.size() > options.neighbors) {
              // The largest G_ij / A_ii^kNeighborExponent, ties by rank.
              std::nth_element(candidates.begin(),
                               candidates.begin() + options.neighbors,
                               candidates.end(),
                               [&](const Candidate& x, const Candidate& y) {
                                 const double sx = x.g * weight_scale[x.rank];
                                 const double sy = y.g * weight_scale[y.rank];
                                 return sx != sy ? sx > sy : x.rank < y.rank;
                               });
              candidates.resize(options.neighbors);
            }
            for (const Candidate& cand : candidates) {
              support.push_back(cand.rank);
            }
          }
          if (!options.zero_diagonal) support.push_back(rj);
          std::sort(support.begin(), support.end());
          const size_t s = support.size();
          if (s == 0) continue;  // an item co-occurring with nothing: b = 0
          for (size_t a = 0; a < s; ++a) {
            pos[support[a]] = static_cast<uint32_t>(a);
          }
          // b starts as G_Sj; m as the upper triangle of G_SS + Λ_SS, rows
          // of s + 1: column s takes the writes of non-members (pos
          // kNotInSupport clamps to s), so the scan below has no branch.
          b.assign(s, 0.0);
          for (const Candidate& cand : candidates) {
            if (pos[cand.rank] != kNotInSupport) b[pos[cand.rank]] = cand.g;
          }
          if (!options.zero_diagonal) b[pos[rj]] = diag_g[rj];
          const size_t ld = s + 1;
          m.assign(s * ld, 0.0);
          for (size_t a = 0; a < s; ++a) {
            const uint32_t k = support[a];
            double* row = m.data() + a * ld;
            row[a] = diag_a[k];
            const Candidate* first = r.up.data() + r.up_offsets[k];
            const Candidate* last = r.up.data() + r.up_offsets[k + 1];
            if (static_cast<size_t>(last - first) > kSearchRatio * (s - a)) {
              for (size_t e = a + 1; e < s && first < last; ++e) {
                first = std::lower_bound(first, last, support[e],
                                         [](const Candidate& x, uint32_t rank) {
                                           return x.rank < rank;
                                         });
                if (first < last && first->rank == support[e]) {
                  row[e] = first->g;
                }
              }
            } else {
              const uint32_t clamp = static_cast<uint32_t>(s);
              for (const Candidate* q = first; q < last; ++q) {
                row[std::min(pos[q->rank], clamp)] = q->g;
              }
            }
          }
          for (uint32_t k : support) pos[k] = kNotInSupport;
          if (!SolveSpdUpper(m.data(), s, ld, b.data()).ok()) {
            size_t expected = failed_item.load();
            while (j < expected &&
                   !failed_item.compare_exchange_weak(expected, j)) {
            }
            return;
          }
          column.clear();
          for (size_t a = 0; a < s; ++a) {
            if (b[a] != 0) column.emplace_back(b[a], r.item_of[support[a]]);
          }
          if (column.size() > keep) {
            std::nth_element(column.begin(), column.begin() + keep,
                             column.end(), [](const auto& x, const auto& y) {
                               const double ax = std::abs(x.first);
                               const double ay = std::abs(y.first);
                               return ax != ay ? ax > ay : x.second < y.second;
                             });
            column.resize(keep);
          }
          out.column_nnz[j - begin] = static_cast<uint32_t>(column.size());
          for (const auto& [weight, item] : column) {
            const float v = static_cast<float>(weight);
            if (!std::isfinite(v)) failed_finite = true;
            out.rows.push_back(item);
            out.weights.push_back(v);
          }
        }
        progress.Add(end - begin);
      }
    };
    RunThreads(threads, worker);
  }
  progress.Finish();
  if (const size_t item = failed_item.load(); item < n) {
    return absl::FailedPreconditionError(absl::StrCat(
        "G + Λ is not positive definite on the neighborhood of item ", item,
        " (an item whose users are exactly another's, with lambda 0?); "
        "increase lambda"));
  }
  if (failed_finite) {
    return absl::FailedPreconditionError(
        "B has non-finite entries: G + Λ is too ill-conditioned; increase "
        "lambda");
  }

  // Columns → rows: count, prefix, fill in column order (rows come out with
  // their columns ascending).
  for (const ColumnChunk& chunk : chunks) {
    for (uint32_t item : chunk.rows) ++model.offsets[item + 1];
  }
  for (size_t i = 0; i < n; ++i) {
    model.longest_row =
        std::max<size_t>(model.longest_row, model.offsets[i + 1]);
    model.offsets[i + 1] += model.offsets[i];
  }
  model.indices.resize(model.offsets[n]);
  model.weights.resize(model.offsets[n]);
  std::vector<uint64_t> fill(model.offsets.begin(), model.offsets.end() - 1);
  for (size_t c = 0; c < num_chunks; ++c) {
    ColumnChunk& chunk = chunks[c];
    size_t at = 0;
    for (size_t r = 0; r < chunk.column_nnz.size(); ++r) {
      const uint32_t j = static_cast<uint32_t>(c * kColumnsPerChunk + r);
      for (uint32_t e = 0; e < chunk.column_nnz[r]; ++e, ++at) {
        const uint64_t to = fill[chunk.rows[at]]++;
        model.indices[to] = j;
        model.weights[to] = chunk.weights[at];
      }
    }
    chunk = ColumnChunk();
  }
  if (options.max_per_row > 0 && model.longest_row > options.max_per_row) {
    CapRows(options.max_per_row, threads, &model);
  }
  return model;
}

}  // namespace edlae
