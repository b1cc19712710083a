// RETURN_IF_ERROR / ASSIGN_OR_RETURN over absl::Status (Debian's abseil 20220623 has neither).
#ifndef EDLAE_CORE_STATUS_MACROS_H_
#define EDLAE_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define EDLAE_STATUS_CONCAT_INNER_(a, b) a##b
#define EDLAE_STATUS_CONCAT_(a, b) EDLAE_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status edlae_status_ = (expr);   \
    if (!edlae_status_.ok()) return edlae_status_; \
  } while (0)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its status.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL_(EDLAE_STATUS_CONCAT_(edlae_statusor_, __LINE__), lhs, rexpr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                           \
  if (!statusor.ok()) return statusor.status();      \
  lhs = std::move(statusor).value()

#endif  // EDLAE_CORE_STATUS_MACROS_H_
