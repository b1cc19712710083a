// Model lifecycle of one model: finds the versions to serve (--model_dir
// DIR/<version>/model.edlae as TF Serving lays it out, picked by a version
// policy, or one --model file), loads, validates and warms them up off the
// request path, and swaps them in.
#ifndef EDLAE_SERVER_MODEL_MANAGER_H_
#define EDLAE_SERVER_MODEL_MANAGER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/servable_model.h"

namespace edlae::server {

// File name of a model inside a version folder.
inline constexpr char kVersionModelFile[] = "model.edlae";

// Which of a model's versions are served at once (TF Serving's
// ServableVersionPolicy). Versions that fail to load are skipped: latest
// serves the num_versions highest versions that load.
struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific };
  Kind kind = Kind::kLatest;
  uint32_t num_versions = 1;       // kLatest; 0 counts as 1
  std::vector<uint64_t> versions;  // kSpecific
  friend bool operator==(const VersionPolicy&, const VersionPolicy&) = default;

  // Whether `version` may be served (kSpecific: it is listed).
  bool Allows(uint64_t version) const;
  // Most versions served at once (kLatest: num_versions, at least 1).
  size_t Limit() const;
  // "latest 1", "all", "specific 2,3" (for logs).
  std::string ToString() const;
};

// The versions `policy` serves out of `available` (any order) when every one
// of them loads, highest first.
std::vector<uint64_t> SelectVersions(const VersionPolicy& policy,
                                     std::vector<uint64_t> available);

struct ModelSourceOptions {
  // Exactly one of the two is set.
  // One model file, served as version 0; reloaded when the file at the path is
  // replaced (new inode, size or mtime), e.g. by edlae-train's atomic rename.
  std::string model_path;
  // A folder of numbered version folders; the highest-numbered one holding a
  // model.edlae that loads is served. Names that are not plain decimal
  // numbers are ignored (so "5.tmp" can be filled and renamed to "5").
  std::string model_dir;
  // Map with MAP_POPULATE and answer a few recommendations before the version
  // takes traffic.
  bool warmup = true;
  // Load each version into private memory (ModelOpenOptions::snapshot)
  // instead of mapping the file: a file rewritten or truncated in place
  // (cp, truncate) while it is served cannot crash the server (SIGBUS) or
  // change its answers; the rewritten file is loaded once it is complete and
  // valid. Costs the model's size in anonymous memory per loaded version and
  // one read of the file at load (docs/operations.md). false: map the file
  // (shared page cache), safe only when files are replaced by rename.
  bool snapshot = true;
  // Versions of model_dir to serve (model_path: its one version 0).
  VersionPolicy policy;
  friend bool operator==(const ModelSourceOptions&,
                         const ModelSourceOptions&) = default;
};

// Identity of a file on disk; a different identity means new contents.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

// One model file that could be served.
struct VersionCandidate {
  uint64_t version = 0;
  std::string path;
  FileIdentity identity;
};

// Identity of the regular file at `path`, or nullopt when there is none.
std::optional<FileIdentity> StatRegularFile(const std::string& path);

// The version folders of `model_dir` that hold a regular model.edlae, highest
// version first. Errors: NotFound / InvalidArgument when `model_dir` is not a
// readable directory.
absl::StatusOr<std::vector<VersionCandidate>> ListVersions(
    const std::string& model_dir);

// Opens and validates `path` (a private snapshot with `snapshot`, else a
// mapping, populated with `warmup`) and, with `warmup`, runs a few
// recommendations (popular-item history, cold history) on it, so that a
// model that cannot answer never takes traffic.
absl::StatusOr<std::shared_ptr<const Model>> LoadServableModel(
    const std::string& path, bool warmup, bool snapshot = true);

// Drives one ServableModel: the set of versions options.policy selects.
// Check() decides and swaps; its owner (MultiModelManager) calls it every
// --poll_interval and on SIGHUP. A version that fails to load is
// logged and counted once (per file identity) and skipped; whatever was
// served keeps serving (a failed rewrite of a served version keeps the loaded
// copy; a scan that finds nothing servable never unloads everything). The
// version set is swapped with ServableModel::SetVersions, so in-flight
// requests finish on their version and an old mapping goes with its last
// handle. Each served version is held in memory (a snapshot by default).
// Thread-safe.
class ModelManager {
 public:
  // `metrics` may be null; otherwise loads are counted under `model_name`.
  ModelManager(ModelSourceOptions options,
               std::shared_ptr<ServableModel> servable,
               std::shared_ptr<ServerMetrics> metrics,
               std::string model_name = kDefaultModelName);

  // Called with true after the first model is in place (health SERVING).
  void SetOnServing(std::function<void(bool)> on_serving);

  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // The first load. --model: the file must load (its error otherwise).
  // --model_dir: the folder must be readable; when no version loads yet the
  // status is OK and nothing is served (health NOT_SERVING) until one does.
  absl::Status LoadInitial();

  // One scan: loads the best candidate that differs from what is served and
  // has not failed before; swaps it in when it loads. Returns true when the
  // served model changed.
  bool Check();

  uint64_t reloads_ok() const;
  uint64_t reloads_failed() const;
  const ModelSourceOptions& options() const { return options_; }
  const std::string& model_name() const { return model_name_; }

 private:
  // Candidates best first (the one --model file, or the version folders).
  absl::StatusOr<std::vector<VersionCandidate>> Candidates() const;
  bool CheckLocked();  // requires check_mu_

  // A loaded version.
  struct Served {
    VersionCandidate candidate;
    std::shared_ptr<const Model> model;
  };
  using ServedSet = std::map<uint64_t, Served, std::greater<uint64_t>>;
  // Makes `next` the served set (ServableModel, metrics, on_serving_).
  void PublishLocked(ServedSet next, double load_seconds);

  const ModelSourceOptions options_;
  const std::shared_ptr<ServableModel> servable_;
  const std::shared_ptr<ServerMetrics> metrics_;
  const std::string model_name_;
  ModelMetrics* const model_metrics_;  // null without metrics_
  mutable std::mutex check_mu_;  // one Check at a time; guards the state below
  std::function<void(bool)> on_serving_;
  ServedSet current_;                        // highest version first
  std::map<uint64_t, FileIdentity> failed_;  // version → file that failed
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  bool listing_failed_ = false;  // log a missing folder once, not every poll
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_MODEL_MANAGER_H_
