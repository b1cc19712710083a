// Serializes a model to the edlae file format and publishes it atomically.
#ifndef EDLAE_CORE_MODEL_WRITER_H_
#define EDLAE_CORE_MODEL_WRITER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/model_format.h"

namespace edlae {

// What to write for a dense model. Nothing is owned; all spans must stay valid
// for the duration of WriteDenseModel.
struct DenseModelData {
  // B, num_items × num_items, compact row-major (row i at b[i * num_items]).
  absl::Span<const float> b;
  // External item ids, num_items entries, unique, non-empty.
  absl::Span<const std::string> item_ids;
  // Training interaction count per item, num_items entries.
  absl::Span<const float> popularity;
  // Training metadata; keys unique and non-empty.
  std::vector<std::pair<std::string, std::string>> metadata;
};

// Writes `data` to `path` atomically: a temporary file in the same directory,
// fsync, rename over `path`, fsync of the directory. On any error the temporary
// file is removed and `path` is untouched. Errors: InvalidArgument (inconsistent
// sizes, duplicate or empty ids), and the I/O status of the failing call.
absl::Status WriteDenseModel(const std::string& path,
                             const DenseModelData& data);

}  // namespace edlae

#endif  // EDLAE_CORE_MODEL_WRITER_H_
