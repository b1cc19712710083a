// MultiModelManager: all-or-nothing application of a model set, config file
// re-reads, one polling thread for every model.
#include "server/multi_model_manager.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "server/log.h"

namespace edlae::server {

MultiModelManager::MultiModelManager(ModelSetSource source,
                                     std::shared_ptr<ModelRegistry> registry,
                                     std::shared_ptr<ServerMetrics> metrics)
    : source_(std::move(source)),
      registry_(std::move(registry)),
      metrics_(std::move(metrics)) {}

MultiModelManager::~MultiModelManager() { StopPolling(); }

void MultiModelManager::SetOnServing(
    std::function<void(const std::string&, bool)> on_serving) {
  std::lock_guard<std::mutex> lock(mu_);
  on_serving_ = std::move(on_serving);
  for (auto& [name, entry] : entries_) entry.reported_serving.reset();
  reported_all_.reset();
  ReportServingLocked();
}

absl::Status MultiModelManager::LoadInitial() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ModelSpec> specs = source_.fixed;
  if (!source_.config_path.empty()) {
    config_identity_ = StatRegularFile(source_.config_path);
    ASSIGN_OR_RETURN(
        specs, ReadModelServerConfig(source_.config_path, source_.defaults));
  }
  RETURN_IF_ERROR(ApplyLocked(specs));
  // A label must name a version that actually loaded.
  for (const ModelSpec& spec : specs) {
    RETURN_IF_ERROR(CheckVersionLabels(
        spec, entries_.find(spec.name)->second.servable->Versions()));
  }
  ReportServingLocked();
  return absl::OkStatus();
}

absl::Status MultiModelManager::ReloadConfig() {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Status status = ReloadConfigLocked();
  ReportServingLocked();
  return status;
}

absl::Status MultiModelManager::ReloadConfigLocked() {
  if (source_.config_path.empty()) return absl::OkStatus();
  config_identity_ = StatRegularFile(source_.config_path);
  absl::StatusOr<std::vector<ModelSpec>> specs =
      ReadModelServerConfig(source_.config_path, source_.defaults);
  absl::Status status = specs.status();
  if (status.ok()) status = ApplyLocked(*std::move(specs));
  if (!status.ok()) {
    ++config_reloads_failed_;
    metrics_->RecordConfigReload(false);
    LogEvent(LogLevel::kError, "model_config_rejected",
             {{"path", source_.config_path},
              {"error", status.ToString()},
              {"serving", absl::StrJoin(registry_->Names(), ",")}});
    return status;
  }
  ++config_reloads_ok_;
  metrics_->RecordConfigReload(true);
  LogEvent(LogLevel::kInfo, "model_config_applied",
           {{"path", source_.config_path},
            {"models", absl::StrJoin(registry_->Names(), ",")}});
  return absl::OkStatus();
}

absl::Status MultiModelManager::ApplyLocked(std::vector<ModelSpec> specs) {
  // Labels first: each must name a version the policy serves from what is
  // on disk now (a version that then fails to load answers NOT_FOUND).
  for (const ModelSpec& spec : specs) {
    if (spec.version_labels.empty()) continue;
    absl::StatusOr<std::vector<uint64_t>> versions = VersionsToServe(spec);
    if (!versions.ok()) {
      return absl::Status(versions.status().code(),
                          absl::StrCat("model '", spec.name,
                                       "': ", versions.status().message()));
    }
    RETURN_IF_ERROR(CheckVersionLabels(spec, *versions));
  }
  // Load every new or changed model before anything changes.
  std::map<std::string, Entry, std::less<>> fresh;
  for (const ModelSpec& spec : specs) {
    const auto it = entries_.find(spec.name);
    if (it != entries_.end() && it->second.spec.source == spec.source) {
      continue;
    }
    Entry entry;
    entry.spec = spec;
    entry.servable = std::make_shared<ServableModel>();
    entry.manager = std::make_unique<ModelManager>(spec.source, entry.servable,
                                                   metrics_, spec.name);
    if (absl::Status s = entry.manager->LoadInitial(); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("model '", spec.name, "': ", s.message()));
    }
    fresh.emplace(spec.name, std::move(entry));
  }
  // Commit.
  std::map<std::string, Entry, std::less<>> next;
  std::vector<RegisteredModel> registered;
  for (ModelSpec& spec : specs) {
    Entry entry;
    if (auto f = fresh.find(spec.name); f != fresh.end()) {
      entry = std::move(f->second);
      if (entries_.erase(spec.name) != 0) {
        // The old entry goes; requests that resolved it keep its servable.
        LogEvent(LogLevel::kInfo, "model_changed",
                 {{"model", spec.name},
                  {"base_path", spec.source.model_dir},
                  {"policy", spec.source.policy.ToString()}});
      } else {
        LogEvent(LogLevel::kInfo, "model_added",
                 {{"model", spec.name},
                  {"base_path", spec.source.model_dir.empty()
                                    ? spec.source.model_path
                                    : spec.source.model_dir},
                  {"policy", spec.source.policy.ToString()}});
      }
    } else {
      auto node = entries_.extract(spec.name);
      entry = std::move(node.mapped());
      entry.spec.version_labels = spec.version_labels;
    }
    RegisteredModel model;
    model.name = spec.name;
    model.servable = entry.servable;
    model.version_labels = spec.version_labels;
    model.metrics = &metrics_->ForModel(spec.name);
    registered.push_back(std::move(model));
    next.emplace(spec.name, std::move(entry));
  }
  std::string default_model = source_.default_model;
  if (!source_.config_path.empty()) {
    default_model = specs.size() == 1 ? specs.front().name : "";
  }
  registry_->Set(std::move(registered), std::move(default_model));
  // What is left in entries_ was removed: no new request reaches it now.
  std::swap(entries_, next);
  for (auto& [name, entry] : next) {
    LogEvent(LogLevel::kInfo, "model_removed", {{"model", name}});
    if (on_serving_) on_serving_(name, false);
  }
  return absl::OkStatus();
}

void MultiModelManager::ReportServingLocked() {
  bool all = !entries_.empty();
  for (auto& [name, entry] : entries_) {
    const bool serving = static_cast<bool>(entry.servable->Get());
    all = all && serving;
    if (on_serving_ && entry.reported_serving != serving) {
      on_serving_(name, serving);
      entry.reported_serving = serving;
    }
  }
  if (on_serving_ && reported_all_ != all) {
    on_serving_("", all);
    reported_all_ = all;
  }
}

bool MultiModelManager::Check(bool force_config) {
  std::lock_guard<std::mutex> lock(mu_);
  bool changed = false;
  if (!source_.config_path.empty() &&
      (force_config ||
       StatRegularFile(source_.config_path) != config_identity_)) {
    changed = ReloadConfigLocked().ok();
  }
  for (auto& [name, entry] : entries_) {
    changed = entry.manager->Check() || changed;
  }
  ReportServingLocked();
  return changed;
}

void MultiModelManager::StartPolling(absl::Duration poll_interval) {
  if (poller_.joinable()) return;
  const auto interval = absl::ToChronoMilliseconds(
      std::max(poll_interval, absl::Milliseconds(1)));
  poller_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(poll_mu_);
    for (;;) {
      poll_cv_.wait_for(lock, interval,
                        [this] { return stopping_ || triggered_; });
      if (stopping_) return;
      const bool force = triggered_;
      triggered_ = false;
      lock.unlock();
      Check(force);
      lock.lock();
    }
  });
}

void MultiModelManager::Trigger() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    triggered_ = true;
  }
  poll_cv_.notify_all();
}

void MultiModelManager::StopPolling() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    stopping_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

std::vector<std::string> MultiModelManager::model_names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

ModelManager* MultiModelManager::manager(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.manager.get();
}

std::shared_ptr<ServableModel> MultiModelManager::servable(
    std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.servable;
}

uint64_t MultiModelManager::config_reloads_ok() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_reloads_ok_;
}

uint64_t MultiModelManager::config_reloads_failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_reloads_failed_;
}

}  // namespace edlae::server
