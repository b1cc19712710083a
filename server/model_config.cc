// ParseModelServerConfig: protobuf TextFormat into edlae.v1.ModelServerConfig,
// then every rule a served model set must satisfy.
#include "server/model_config.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_io.h"
#include "core/status_macros.h"
#include "edlae/v1/model_server_config.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/log.h"

namespace edlae::server {
namespace {

using Policy = v1::FileSystemStoragePathSourceConfig::ServableVersionPolicy;

// Most versions latest { num_versions } may ask for: each is held in memory.
constexpr uint32_t kMaxLatestVersions = 1000;

// Collects TextFormat's errors as "line:column: message" (1-based).
class ErrorList : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, message);
  }
  std::string Joined() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::vector<std::string> errors_;
};

absl::StatusOr<VersionPolicy> ToVersionPolicy(const Policy& policy,
                                              const std::string& where) {
  VersionPolicy out;
  switch (policy.policy_choice_case()) {
    case Policy::POLICY_CHOICE_NOT_SET:
      return out;  // latest 1
    case Policy::kLatest:
      if (policy.latest().num_versions() > kMaxLatestVersions) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": latest.num_versions ", policy.latest().num_versions(),
            " is over ", kMaxLatestVersions));
      }
      out.num_versions = std::max<uint32_t>(1, policy.latest().num_versions());
      return out;
    case Policy::kAll:
      out.kind = VersionPolicy::Kind::kAll;
      return out;
    case Policy::kSpecific: {
      out.kind = VersionPolicy::Kind::kSpecific;
      if (policy.specific().versions().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": specific lists no versions"));
      }
      std::set<uint64_t> seen;
      for (int64_t v : policy.specific().versions()) {
        if (v < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": specific version ", v, " is negative"));
        }
        if (!seen.insert(static_cast<uint64_t>(v)).second) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": specific version ", v, " is repeated"));
        }
      }
      out.versions.assign(seen.rbegin(), seen.rend());  // highest first
      return out;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": unknown model_version_policy"));
}

}  // namespace

absl::StatusOr<std::vector<ModelSpec>> ParseModelServerConfig(
    absl::string_view text, absl::string_view origin,
    const ModelSourceOptions& defaults) {
  v1::ModelServerConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorList errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ":", errors.Joined()));
  }
  if (!config.has_model_config_list()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": no model_config_list"));
  }
  if (config.model_config_list().config().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": model_config_list has no config (no model to serve)"));
  }
  std::vector<ModelSpec> out;
  std::set<std::string> names;
  int index = 0;
  for (const v1::ModelConfig& model : config.model_config_list().config()) {
    ++index;
    const std::string where =
        model.name().empty()
            ? absl::StrCat(origin, ": config #", index)
            : absl::StrCat(origin, ": model '", model.name(), "'");
    if (model.name().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has no name"));
    }
    if (!names.insert(model.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " is configured twice"));
    }
    if (model.base_path().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " has no base_path"));
    }
    const std::string& platform = model.model_platform();
    if (!platform.empty() && platform != "edlae" && platform != "tensorflow") {
      LogEvent(LogLevel::kWarning, "model_platform_ignored",
               {{"model", model.name()}, {"model_platform", platform}});
    }
    ModelSpec spec;
    spec.name = model.name();
    spec.source = defaults;
    spec.source.model_path.clear();
    spec.source.model_dir = model.base_path();
    ASSIGN_OR_RETURN(spec.source.policy,
                     ToVersionPolicy(model.model_version_policy(), where));
    for (const auto& [label, version] : model.version_labels()) {
      if (label.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": a version label has an empty name"));
      }
      if (version < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": label '", label, "' names negative version ", version));
      }
      if (!spec.source.policy.Allows(static_cast<uint64_t>(version))) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": label '", label, "' names version ", version,
            ", which its specific policy (",
            absl::StrJoin(spec.source.policy.versions, ", "),
            ") does not serve"));
      }
      spec.version_labels[label] = static_cast<uint64_t>(version);
    }
    out.push_back(std::move(spec));
  }
  return out;
}

absl::StatusOr<std::vector<ModelSpec>> ReadModelServerConfig(
    const std::string& path, const ModelSourceOptions& defaults) {
  ASSIGN_OR_RETURN(const std::string text,
                   ReadFileToString(path, "--model_config"));
  return ParseModelServerConfig(text, path, defaults);
}

absl::Status CheckVersionLabels(const ModelSpec& spec,
                                const std::vector<uint64_t>& served) {
  for (const auto& [label, version] : spec.version_labels) {
    if (std::find(served.begin(), served.end(), version) == served.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", spec.name, "': label '", label, "' names version ",
          version, ", which is not served (served: ",
          served.empty() ? "none" : absl::StrJoin(served, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> VersionsToServe(const ModelSpec& spec) {
  if (spec.source.model_dir.empty()) return std::vector<uint64_t>{0};
  ASSIGN_OR_RETURN(const std::vector<VersionCandidate> candidates,
                   ListVersions(spec.source.model_dir));
  std::vector<uint64_t> versions;
  for (const VersionCandidate& c : candidates) versions.push_back(c.version);
  return SelectVersions(spec.source.policy, std::move(versions));
}

}  // namespace edlae::server
