// Python API inputs as the trainer's Interactions: CSR arrays (SciPy) and id
// lists, validated (no Python types here). Pure functions: the spans are
// borrowed for the call, the results own their data; safe to call
// concurrently.
#ifndef EDLAE_PYTHON_PY_INPUTS_H_
#define EDLAE_PYTHON_PY_INPUTS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "trainer/interactions.h"

namespace edlae::python {

// A users × items matrix in CSR form as scipy.sparse holds it (indptr,
// indices, data), widened to int64 / float64 by the caller.
struct CsrArrays {
  absl::Span<const int64_t> indptr;   // num_rows + 1
  absl::Span<const int64_t> indices;  // nnz
  absl::Span<const double> data;      // nnz
  size_t num_rows = 0;
  size_t num_cols = 0;
};

// "0", "1", …, "<count − 1>": the ids when none are given.
std::vector<std::string> DefaultIds(size_t count);

// InvalidArgument naming `what` ("item_ids") when an id is empty or repeated.
absl::Status CheckIds(const std::vector<std::string>& ids,
                      const std::string& what);

// X as binary interactions, the trainer's input: a stored value > 0 is an
// interaction (the trainer is binary, as `edlae-train train` is: weights are
// not used), an explicit 0 is none. Rows may hold their indices unsorted and
// repeated (repeats collapse into one interaction, as duplicate rows of an
// input file do). Every row and column is kept, empty or not. `item_ids`
// (one per column) and `user_ids` (one per row) empty: DefaultIds.
// InvalidArgument for inconsistent arrays (indptr length, start, order,
// end), a column index outside [0, num_cols), a negative or non-finite value,
// more than 2³² − 1 columns, ids of the wrong count, empty or repeated.
absl::StatusOr<Interactions> InteractionsFromCsr(
    const CsrArrays& csr, std::vector<std::string> item_ids,
    std::vector<std::string> user_ids);

// One history per user (item ids; repeats collapse). `item_ids` given: the
// items, in that order (a history naming another id is InvalidArgument);
// nullopt: the ids found, in order of first appearance. `user_ids` empty:
// DefaultIds. InvalidArgument also for ids of the wrong count, empty or
// repeated.
absl::StatusOr<Interactions> InteractionsFromHistories(
    const std::vector<std::vector<std::string>>& histories,
    std::optional<std::vector<std::string>> item_ids,
    std::vector<std::string> user_ids);

}  // namespace edlae::python

#endif  // EDLAE_PYTHON_PY_INPUTS_H_
