// ModelRegistry: an immutable name → model map swapped as a whole, and the
// request naming rules over it.
#include "server/model_registry.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace edlae::server {
namespace {

// "'a', 'b'" (or "none").
template <typename Map>
std::string QuotedKeys(const Map& map) {
  if (map.empty()) return "none";
  std::vector<std::string> quoted;
  for (const auto& entry : map) quoted.push_back(absl::StrCat("'", entry.first, "'"));
  return absl::StrJoin(quoted, ", ");
}

std::string VersionList(const std::vector<uint64_t>& versions) {
  return versions.empty() ? "none" : absl::StrJoin(versions, ", ");
}

}  // namespace

void ModelRegistry::Set(std::vector<RegisteredModel> models,
                        std::string default_model) {
  auto state = std::make_shared<State>();
  for (RegisteredModel& m : models) {
    std::string name = m.name;
    state->models[name] = std::make_shared<const RegisteredModel>(std::move(m));
  }
  state->default_model = std::move(default_model);
  std::shared_ptr<const State> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::move(state_);
    state_ = std::move(state);
  }
  // `old` is released outside the lock.
}

std::shared_ptr<const ModelRegistry::State> ModelRegistry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

std::shared_ptr<const RegisteredModel> ModelRegistry::Find(
    absl::string_view name) const {
  const std::shared_ptr<const State> state = Snapshot();
  const auto it = state->models.find(name.empty() ? absl::string_view(
                                                        state->default_model)
                                                  : name);
  return it == state->models.end() ? nullptr : it->second;
}

std::vector<std::string> ModelRegistry::Names() const {
  const std::shared_ptr<const State> state = Snapshot();
  std::vector<std::string> names;
  for (const auto& [name, model] : state->models) names.push_back(name);
  return names;
}

absl::StatusOr<ResolvedModel> ModelRegistry::Resolve(
    absl::string_view name, std::optional<uint64_t> version,
    absl::string_view label) const {
  if (version.has_value() && !label.empty()) {
    return absl::InvalidArgumentError(
        "set model_version or version_label, not both");
  }
  const std::shared_ptr<const State> state = Snapshot();
  if (name.empty()) {
    if (state->default_model.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model_name is required; served: ",
                       QuotedKeys(state->models)));
    }
    name = state->default_model;
  }
  const auto it = state->models.find(name);
  if (it == state->models.end()) {
    return absl::NotFoundError(absl::StrCat("model '", name,
                                            "' is not served; served: ",
                                            QuotedKeys(state->models)));
  }
  ResolvedModel out;
  out.model = it->second;
  const ServableModel& servable = *out.model->servable;
  if (!label.empty()) {
    const auto labelled = out.model->version_labels.find(std::string(label));
    if (labelled == out.model->version_labels.end()) {
      return absl::NotFoundError(absl::StrCat(
          "model '", name, "' has no version label '", label,
          "'; labels: ", QuotedKeys(out.model->version_labels)));
    }
    version = labelled->second;
  }
  if (!version.has_value()) {
    out.handle = servable.Get();
    return out;
  }
  out.handle = servable.Get(*version);
  if (!out.handle) {
    return absl::NotFoundError(absl::StrCat(
        "model '", name, "' version ", *version,
        label.empty() ? "" : absl::StrCat(" (label '", label, "')"),
        " is not served; served versions: ", VersionList(servable.Versions())));
  }
  return out;
}

}  // namespace edlae::server
