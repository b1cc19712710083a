// Python API inputs as Interactions: CSR arrays and id lists, validated.
#include "python/py_inputs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace edlae::python {
namespace {

// Sorts and dedups each row's indices [offsets[u], offsets[u+1]) in place and
// compacts them, rewriting offsets.
void SortRows(Interactions& x) {
  uint64_t out = 0;
  uint64_t begin = 0;
  for (size_t u = 0; u + 1 < x.row_offsets.size(); ++u) {
    const uint64_t end = x.row_offsets[u + 1];
    auto first = x.item_indices.begin() + static_cast<ptrdiff_t>(begin);
    auto last = x.item_indices.begin() + static_cast<ptrdiff_t>(end);
    std::sort(first, last);
    last = std::unique(first, last);
    const uint64_t kept = static_cast<uint64_t>(last - first);
    std::copy(first, last,
              x.item_indices.begin() + static_cast<ptrdiff_t>(out));
    begin = end;
    out += kept;
    x.row_offsets[u + 1] = out;
  }
  x.item_indices.resize(out);
  x.item_indices.shrink_to_fit();
}

absl::Status CheckCount(const std::vector<std::string>& ids, size_t count,
                        const std::string& what, const std::string& of) {
  if (ids.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has ", ids.size(), " entries but there are ", count, " ", of));
  }
  return CheckIds(ids, what);
}

}  // namespace

std::vector<std::string> DefaultIds(size_t count) {
  std::vector<std::string> ids;
  ids.reserve(count);
  for (size_t i = 0; i < count; ++i) ids.push_back(absl::StrCat(i));
  return ids;
}

absl::Status CheckIds(const std::vector<std::string>& ids,
                      const std::string& what) {
  absl::flat_hash_set<std::string_view> seen;
  seen.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, "[", i, "] is empty"));
    }
    if (!seen.insert(ids[i]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, "[", i, "] '", ids[i], "' is repeated"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Interactions> InteractionsFromCsr(
    const CsrArrays& csr, std::vector<std::string> item_ids,
    std::vector<std::string> user_ids) {
  const size_t m = csr.num_rows;
  const size_t n = csr.num_cols;
  if (n > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("X has ", n, " columns; at most 2^32 - 1 items"));
  }
  if (csr.indptr.size() != m + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("X.indptr has ", csr.indptr.size(), " entries; ", m,
                     " rows need ", m + 1));
  }
  if (csr.indptr[0] != 0) {
    return absl::InvalidArgumentError("X.indptr must start at 0");
  }
  for (size_t u = 0; u < m; ++u) {
    if (csr.indptr[u + 1] < csr.indptr[u]) {
      return absl::InvalidArgumentError(
          absl::StrCat("X.indptr decreases at row ", u));
    }
  }
  const uint64_t nnz = static_cast<uint64_t>(csr.indptr[m]);
  if (nnz != csr.indices.size() || nnz != csr.data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "X.indptr ends at ", nnz, " but X has ", csr.indices.size(),
        " indices and ", csr.data.size(), " values"));
  }
  if (item_ids.empty()) item_ids = DefaultIds(n);
  if (user_ids.empty()) user_ids = DefaultIds(m);
  if (absl::Status s = CheckCount(item_ids, n, "item_ids", "columns");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCount(user_ids, m, "user_ids", "rows"); !s.ok()) {
    return s;
  }
  Interactions x;
  x.item_ids = std::move(item_ids);
  x.user_ids = std::move(user_ids);
  x.row_offsets.assign(m + 1, 0);
  x.item_indices.reserve(nnz);
  for (size_t u = 0; u < m; ++u) {
    for (int64_t e = csr.indptr[u]; e < csr.indptr[u + 1]; ++e) {
      const int64_t j = csr.indices[e];
      const double v = csr.data[e];
      if (j < 0 || static_cast<uint64_t>(j) >= n) {
        return absl::InvalidArgumentError(absl::StrCat(
            "X row ", u, " has column index ", j, " outside [0, ", n, ")"));
      }
      if (!std::isfinite(v) || v < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "X[", u, ", ", j, "] = ", v,
            ": values must be finite and >= 0 (> 0 is an interaction; the "
            "trainer is binary)"));
      }
      if (v > 0) x.item_indices.push_back(static_cast<uint32_t>(j));
    }
    x.row_offsets[u + 1] = x.item_indices.size();
  }
  SortRows(x);
  return x;
}

absl::StatusOr<Interactions> InteractionsFromHistories(
    const std::vector<std::vector<std::string>>& histories,
    std::optional<std::vector<std::string>> item_ids,
    std::vector<std::string> user_ids) {
  Interactions x;
  absl::flat_hash_map<std::string, uint32_t> index;
  const bool fixed = item_ids.has_value();
  if (fixed) {
    if (absl::Status s = CheckIds(*item_ids, "item_ids"); !s.ok()) return s;
    if (item_ids->size() > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError("at most 2^32 - 1 items");
    }
    x.item_ids = *std::move(item_ids);
    index.reserve(x.item_ids.size());
    for (size_t i = 0; i < x.item_ids.size(); ++i) {
      index.emplace(x.item_ids[i], static_cast<uint32_t>(i));
    }
  }
  if (user_ids.empty()) user_ids = DefaultIds(histories.size());
  if (absl::Status s =
          CheckCount(user_ids, histories.size(), "user_ids", "histories");
      !s.ok()) {
    return s;
  }
  x.user_ids = std::move(user_ids);
  x.row_offsets.assign(histories.size() + 1, 0);
  for (size_t u = 0; u < histories.size(); ++u) {
    for (const std::string& id : histories[u]) {
      auto it = index.find(id);
      if (it == index.end()) {
        if (fixed) {
          return absl::InvalidArgumentError(
              absl::StrCat("history ", u, " names item '", id,
                           "', which is not in item_ids"));
        }
        if (id.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("history ", u, " holds an empty item id"));
        }
        if (x.item_ids.size() >= std::numeric_limits<uint32_t>::max()) {
          return absl::InvalidArgumentError("at most 2^32 - 1 items");
        }
        it = index.emplace(id, static_cast<uint32_t>(x.item_ids.size())).first;
        x.item_ids.push_back(id);
      }
      x.item_indices.push_back(it->second);
    }
    x.row_offsets[u + 1] = x.item_indices.size();
  }
  SortRows(x);
  return x;
}

}  // namespace edlae::python
