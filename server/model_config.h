// --model_config: reads TF Serving's model server config text format into
// the validated list of models to serve.
#ifndef EDLAE_SERVER_MODEL_CONFIG_H_
#define EDLAE_SERVER_MODEL_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/model_manager.h"

namespace edlae::server {

// One model to serve, as a --model_config entry (or --model / --model_dir)
// describes it.
struct ModelSpec {
  std::string name;
  // base_path as model_dir (or the --model file), the version policy, and
  // the server's --warmup / --model_snapshot.
  ModelSourceOptions source;
  // version_labels: label → version.
  std::map<std::string, uint64_t> version_labels;
  friend bool operator==(const ModelSpec&, const ModelSpec&) = default;
};

// Parses `text` (a tensorflow.serving.ModelServerConfig in text format, e.g.
// model_config_list { config { name: "books" base_path: "/models/books" } })
// into its models, in file order; `defaults` gives each model's warmup and
// snapshot. `origin` (the file name) prefixes every error. Errors, all
// InvalidArgument: text that does not parse (line:column and why, e.g. a
// field edlae does not support such as logging_config), no
// model_config_list, an empty list, an empty or duplicate name, an empty
// base_path, latest.num_versions > 1000, an empty specific list, a negative
// or repeated version, a label with an empty name, a negative version, or a
// version a specific policy does not list. A model_platform other than "",
// "edlae" or "tensorflow" is logged as a warning and otherwise ignored.
absl::StatusOr<std::vector<ModelSpec>> ParseModelServerConfig(
    absl::string_view text, absl::string_view origin,
    const ModelSourceOptions& defaults);

// Reads and parses the file at `path` (NotFound / InvalidArgument when it
// cannot be read, then ParseModelServerConfig's errors).
absl::StatusOr<std::vector<ModelSpec>> ReadModelServerConfig(
    const std::string& path, const ModelSourceOptions& defaults);

// InvalidArgument, naming the label, its version and the versions in
// `served`, when a label of `spec` names a version not in `served`.
absl::Status CheckVersionLabels(const ModelSpec& spec,
                                const std::vector<uint64_t>& served);

// The versions `spec`'s policy serves out of what its model_dir holds now
// (each assumed loadable). NotFound / InvalidArgument when the folder cannot
// be listed.
absl::StatusOr<std::vector<uint64_t>> VersionsToServe(const ModelSpec& spec);

}  // namespace edlae::server

#endif  // EDLAE_SERVER_MODEL_CONFIG_H_
