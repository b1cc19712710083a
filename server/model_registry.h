// The models a server answers for, by name: what a request's model_name,
// model_version and version_label resolve to.
#ifndef EDLAE_SERVER_MODEL_REGISTRY_H_
#define EDLAE_SERVER_MODEL_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "server/metrics.h"
#include "server/servable_model.h"

namespace edlae::server {

// One model as requests see it.
struct RegisteredModel {
  std::string name;
  // Its served versions (never null).
  std::shared_ptr<const ServableModel> servable;
  // version_labels of its --model_config entry: label → version.
  std::map<std::string, uint64_t> version_labels;
  // Where its calls are counted; may be null.
  ModelMetrics* metrics = nullptr;
};

// What a request resolved to.
struct ResolvedModel {
  std::shared_ptr<const RegisteredModel> model;  // never null
  // The version to answer with; empty when the model has no version loaded
  // yet (the call then gets its validation error or UNAVAILABLE).
  ServableHandle handle;
};

// Names → models. Set() replaces the whole set at once; a request that has
// resolved keeps its ResolvedModel (and so its version) however the set
// changes afterwards. Thread-safe; Resolve takes a mutex only to copy one
// shared_ptr.
class ModelRegistry {
 public:
  ModelRegistry() = default;
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // Serves `models` (names unique) from now on; `default_model` (one of
  // them, or "" for none) answers requests with an empty model_name.
  void Set(std::vector<RegisteredModel> models, std::string default_model);

  // Resolves a request's naming (see edlae.v1.Recommender):
  //   InvalidArgument: both `version` and a non-empty `label`; an empty
  //     `name` when there is no default model ("model_name is required;
  //     served: ...").
  //   NotFound: `name` not served (naming those served), `version` not
  //     served (listing the versions served), `label` unknown (naming the
  //     labels) or naming a version not loaded.
  // Neither version nor label: the highest version served (possibly none).
  absl::StatusOr<ResolvedModel> Resolve(absl::string_view name,
                                        std::optional<uint64_t> version,
                                        absl::string_view label) const;

  // Resolve with the request's model_name, model_version and version_label.
  template <typename Request>
  absl::StatusOr<ResolvedModel> ResolveRequest(const Request& request) const {
    return Resolve(request.model_name(),
                   request.has_model_version()
                       ? std::optional<uint64_t>(request.model_version())
                       : std::nullopt,
                   request.version_label());
  }

  // The model named `name` ("": the default); null when not served.
  std::shared_ptr<const RegisteredModel> Find(absl::string_view name) const;
  // The names served, sorted.
  std::vector<std::string> Names() const;

 private:
  struct State {
    std::map<std::string, std::shared_ptr<const RegisteredModel>, std::less<>>
        models;
    std::string default_model;
  };
  std::shared_ptr<const State> Snapshot() const;

  mutable std::mutex mu_;
  std::shared_ptr<const State> state_ =
      std::make_shared<State>();  // guarded by mu_
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_MODEL_REGISTRY_H_
