// The models a server serves by name: the one of --model / --model_dir, or
// those of a --model_config file, re-read while serving (models added,
// removed, changed) without dropping a request; each model's versions are
// driven by its own ModelManager.
#ifndef EDLAE_SERVER_MULTI_MODEL_MANAGER_H_
#define EDLAE_SERVER_MULTI_MODEL_MANAGER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/model_config.h"
#include "server/model_manager.h"
#include "server/model_registry.h"
#include "server/servable_model.h"

namespace edlae::server {

// Where the models come from: exactly one of the two.
struct ModelSetSource {
  // A --model_config file (TF Serving text format), re-read on Trigger()
  // and whenever the file changes (new inode, size or mtime). Requests with
  // an empty model_name get its model when it lists exactly one.
  std::string config_path;
  // ...or a fixed list (the one model of --model / --model_dir), never
  // re-read; `default_model` names the model an empty model_name gets.
  std::vector<ModelSpec> fixed;
  std::string default_model;
  // warmup and snapshot of every --model_config model.
  ModelSourceOptions defaults;
};

// Applies a model set to a ModelRegistry and keeps it current. Applying a
// set is all or nothing: every new or changed model (a changed base_path or
// policy) is loaded first (ModelManager::LoadInitial), every version label
// must name a version its policy serves, and only then is the registry
// swapped; on any error the previous set keeps serving, the error is logged
// (event model_config_rejected) and counted
// (edlae_model_config_reloads_total{result="failed"}). A removed model
// stops taking new requests at the swap; requests that resolved it before
// finish on their version. Thread-safe; one apply or check at a time.
class MultiModelManager {
 public:
  // `registry` (shared with the service) and `metrics` must be non-null.
  MultiModelManager(ModelSetSource source,
                    std::shared_ptr<ModelRegistry> registry,
                    std::shared_ptr<ServerMetrics> metrics);
  // Stops polling.
  ~MultiModelManager();

  MultiModelManager(const MultiModelManager&) = delete;
  MultiModelManager& operator=(const MultiModelManager&) = delete;

  // `on_serving(model, serving)` is called whenever a model starts or stops
  // serving (has at least one version loaded, or is removed), and with model
  // "" when the server as a whole does (every configured model serving); at
  // once with the current states.
  void SetOnServing(
      std::function<void(const std::string& model, bool serving)> on_serving);

  // The first load: the config file must read and parse, every model load
  // as ModelManager::LoadInitial requires (a --model file must load; a
  // model_dir must be listable), and every version label name a version
  // that is served. The error says which model and why.
  absl::Status LoadInitial();

  // Re-reads the --model_config file now and applies it (OK and nothing done
  // without a config file). An error leaves the previous set serving.
  absl::Status ReloadConfig();

  // One poll: re-reads the config file when it changed (or `force_config`),
  // then looks for new versions of every model (ModelManager::Check).
  // Returns true when anything served changed.
  bool Check(bool force_config = false);

  // Check every `poll_interval`, and at once (config re-read included) on
  // Trigger() (SIGHUP; call it from a normal thread).
  void StartPolling(absl::Duration poll_interval);
  void Trigger();
  void StopPolling();

  // The names served, sorted.
  std::vector<std::string> model_names() const;
  // Model `name`'s manager / versions; null when it is not served. The
  // manager is owned here and lives until its model is removed.
  ModelManager* manager(std::string_view name) const;
  std::shared_ptr<ServableModel> servable(std::string_view name) const;
  uint64_t config_reloads_ok() const;
  uint64_t config_reloads_failed() const;

 private:
  struct Entry {
    ModelSpec spec;
    std::shared_ptr<ServableModel> servable;
    std::unique_ptr<ModelManager> manager;
    std::optional<bool> reported_serving;  // last state told on_serving_
  };

  // Loads what is new in `specs` and swaps the registry (see the class
  // comment). Requires mu_.
  absl::Status ApplyLocked(std::vector<ModelSpec> specs);
  absl::Status ReloadConfigLocked();
  // Tells on_serving_ about every state that changed. Requires mu_.
  void ReportServingLocked();

  const ModelSetSource source_;
  const std::shared_ptr<ModelRegistry> registry_;
  const std::shared_ptr<ServerMetrics> metrics_;

  mutable std::mutex mu_;  // one apply or check at a time; guards below
  std::map<std::string, Entry, std::less<>> entries_;
  std::optional<FileIdentity> config_identity_;  // of the last read
  std::function<void(const std::string&, bool)> on_serving_;
  std::optional<bool> reported_all_;
  uint64_t config_reloads_ok_ = 0;
  uint64_t config_reloads_failed_ = 0;

  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool triggered_ = false;  // guarded by poll_mu_
  bool stopping_ = false;   // guarded by poll_mu_
  std::thread poller_;
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_MULTI_MODEL_MANAGER_H_
