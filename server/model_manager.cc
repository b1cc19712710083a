// ModelManager: version scan, load + validate + warm-up, atomic swap, polling
// thread; every outcome is logged and counted.
#include "server/model_manager.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/scorer.h"
#include "core/status_macros.h"
#include "server/log.h"

namespace edlae::server {

std::optional<FileIdentity> StatRegularFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  FileIdentity id;
  id.device = st.st_dev;
  id.inode = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return id;
}

namespace {

// A version folder name: 1 to 19 decimal digits, nothing else.
std::optional<uint64_t> ParseVersion(const char* name) {
  const std::string_view text(name);
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  uint64_t version = 0;
  if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()),
                        &version)) {
    return std::nullopt;
  }
  return version;
}

absl::Status Warmup(const Model& model) {
  // The most popular items as a history: rows that real traffic reads first.
  const absl::Span<const uint32_t> popular = model.items_by_popularity();
  std::vector<HistoryEntry> history;
  for (size_t i = 0; i < std::min<size_t>(10, popular.size()); ++i) {
    history.push_back({popular[i], 1.0f});
  }
  RecommendOptions options;
  options.top_n = std::min<size_t>(10, std::max<size_t>(1, model.num_items()));
  for (int round = 0; round < 2; ++round) {
    RETURN_IF_ERROR(Recommend(model, history, options).status());
  }
  RETURN_IF_ERROR(Recommend(model, {}, options).status());  // cold start path
  return absl::OkStatus();
}

}  // namespace

bool VersionPolicy::Allows(uint64_t version) const {
  return kind != Kind::kSpecific ||
         std::find(versions.begin(), versions.end(), version) != versions.end();
}

size_t VersionPolicy::Limit() const {
  if (kind == Kind::kLatest) return std::max<uint32_t>(1, num_versions);
  return std::numeric_limits<size_t>::max();
}

std::string VersionPolicy::ToString() const {
  switch (kind) {
    case Kind::kLatest:
      return absl::StrCat("latest ", Limit());
    case Kind::kAll:
      return "all";
    case Kind::kSpecific:
      return absl::StrCat("specific ", absl::StrJoin(versions, ","));
  }
  return "unknown";
}

std::vector<uint64_t> SelectVersions(const VersionPolicy& policy,
                                     std::vector<uint64_t> available) {
  std::sort(available.begin(), available.end(), std::greater<uint64_t>());
  available.erase(std::unique(available.begin(), available.end()),
                  available.end());
  std::vector<uint64_t> out;
  for (uint64_t v : available) {
    if (out.size() >= policy.Limit()) break;
    if (policy.Allows(v)) out.push_back(v);
  }
  return out;
}

absl::StatusOr<std::vector<VersionCandidate>> ListVersions(
    const std::string& model_dir) {
  DIR* dir = ::opendir(model_dir.c_str());
  if (dir == nullptr) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot list --model_dir ", model_dir));
  }
  std::vector<VersionCandidate> out;
  while (const dirent* entry = ::readdir(dir)) {
    const std::optional<uint64_t> version = ParseVersion(entry->d_name);
    if (!version.has_value()) continue;
    VersionCandidate c;
    c.version = *version;
    c.path =
        absl::StrCat(model_dir, "/", entry->d_name, "/", kVersionModelFile);
    const std::optional<FileIdentity> id = StatRegularFile(c.path);
    if (!id.has_value()) continue;  // folder still being filled
    c.identity = *id;
    out.push_back(std::move(c));
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end(),
            [](const VersionCandidate& a, const VersionCandidate& b) {
              return a.version > b.version;
            });
  return out;
}

absl::StatusOr<std::shared_ptr<const Model>> LoadServableModel(
    const std::string& path, bool warmup, bool snapshot) {
  ModelOpenOptions open;
  open.populate = warmup;
  open.snapshot = snapshot;
  ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, Model::Open(path, open));
  if (warmup) {
    if (absl::Status s = Warmup(*model); !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("warm-up failed: ", s.message()));
    }
  }
  return model;
}

ModelManager::ModelManager(ModelSourceOptions options,
                           std::shared_ptr<ServableModel> servable,
                           std::shared_ptr<ServerMetrics> metrics,
                           std::string model_name)
    : options_(std::move(options)),
      servable_(std::move(servable)),
      metrics_(std::move(metrics)),
      model_name_(std::move(model_name)),
      model_metrics_(metrics_ ? &metrics_->ForModel(model_name_) : nullptr) {}

void ModelManager::SetOnServing(std::function<void(bool)> on_serving) {
  std::lock_guard<std::mutex> lock(check_mu_);
  on_serving_ = std::move(on_serving);
}

absl::StatusOr<std::vector<VersionCandidate>> ModelManager::Candidates() const {
  if (!options_.model_dir.empty()) return ListVersions(options_.model_dir);
  std::vector<VersionCandidate> out;
  if (std::optional<FileIdentity> id = StatRegularFile(options_.model_path)) {
    out.push_back({0, options_.model_path, *id});
  }
  return out;
}

absl::Status ModelManager::LoadInitial() {
  std::lock_guard<std::mutex> lock(check_mu_);
  if (!options_.model_dir.empty()) {
    RETURN_IF_ERROR(ListVersions(options_.model_dir).status());
    CheckLocked();
    if (current_.empty()) {
      LogEvent(LogLevel::kWarning, "no_model_yet",
               {{"model", model_name_}, {"model_dir", options_.model_dir}});
    }
    return absl::OkStatus();
  }
  // --model: the one file must load, with its own error when it does not.
  // Its identity is taken before the load: a file rewritten during the load
  // then differs from it and is loaded again by the next Check.
  VersionCandidate c{0, options_.model_path, {}};
  if (std::optional<FileIdentity> id = StatRegularFile(c.path)) {
    c.identity = *id;
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<const Model>> model = LoadServableModel(
      options_.model_path, options_.warmup, options_.snapshot);
  if (!model.ok()) {
    ++reloads_failed_;
    if (model_metrics_) model_metrics_->RecordReload(false);
    return absl::Status(model.status().code(),
                        absl::StrCat("cannot load model '", options_.model_path,
                                     "': ", model.status().message()));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  ++reloads_ok_;
  if (model_metrics_) model_metrics_->RecordReload(true);
  LogEvent(LogLevel::kInfo, "model_loaded",
           {{"model", model_name_},
            {"version", "0"},
            {"path", c.path},
            {"fingerprint", (*model)->fingerprint()},
            {"items", absl::StrCat((*model)->num_items())},
            {"load_ms", absl::StrFormat("%.1f", seconds * 1000)},
            {"warmup", options_.warmup ? "true" : "false"}});
  ServedSet next;
  next.emplace(0, Served{std::move(c), *std::move(model)});
  PublishLocked(std::move(next), seconds);
  return absl::OkStatus();
}

bool ModelManager::Check() {
  std::lock_guard<std::mutex> lock(check_mu_);
  return CheckLocked();
}

bool ModelManager::CheckLocked() {
  absl::StatusOr<std::vector<VersionCandidate>> candidates = Candidates();
  if (!candidates.ok()) {
    if (!listing_failed_) {
      LogEvent(
          LogLevel::kError, "model_scan_failed",
          {{"model", model_name_}, {"error", candidates.status().ToString()}});
    }
    listing_failed_ = true;
    return false;
  }
  listing_failed_ = false;
  const std::string serving =
      current_.empty() ? "none" : absl::StrCat(current_.begin()->first);
  ServedSet next;
  bool loaded = false;
  double load_seconds = 0;
  for (const VersionCandidate& c : *candidates) {
    if (next.size() >= options_.policy.Limit()) break;
    if (!options_.policy.Allows(c.version)) continue;
    const auto served = current_.find(c.version);
    const bool is_served = served != current_.end();
    if (is_served && served->second.candidate.identity == c.identity) {
      next.emplace(c.version, served->second);  // already served
      continue;
    }
    const auto failed = failed_.find(c.version);
    if (failed != failed_.end() && failed->second == c.identity) {
      if (is_served) next.emplace(c.version, served->second);
      continue;
    }

    const absl::Time start = absl::Now();
    absl::StatusOr<std::shared_ptr<const Model>> model =
        LoadServableModel(c.path, options_.warmup, options_.snapshot);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (!model.ok()) {
      failed_[c.version] = c.identity;
      ++reloads_failed_;
      if (model_metrics_) model_metrics_->RecordReload(false);
      LogEvent(LogLevel::kError, "model_load_failed",
               {{"model", model_name_},
                {"version", absl::StrCat(c.version)},
                {"path", c.path},
                {"error", model.status().ToString()},
                {"serving_version", serving}});
      // The served model keeps serving. A failed rewrite of a served
      // version keeps the loaded copy (never a roll-back to an older one);
      // a failed newer version falls through to the next best.
      if (is_served) next.emplace(c.version, served->second);
      continue;
    }
    failed_.erase(c.version);
    ++reloads_ok_;
    if (model_metrics_) model_metrics_->RecordReload(true);
    LogEvent(LogLevel::kInfo, "model_loaded",
             {{"model", model_name_},
              {"version", absl::StrCat(c.version)},
              {"previous_version", serving},
              {"path", c.path},
              {"fingerprint", (*model)->fingerprint()},
              {"items", absl::StrCat((*model)->num_items())},
              {"load_ms", absl::StrFormat("%.1f", seconds * 1000)},
              {"warmup", options_.warmup ? "true" : "false"}});
    next.emplace(c.version, Served{c, *std::move(model)});
    loaded = true;
    load_seconds = seconds;
  }
  // Nothing servable found (folders removed, every file failing): keep what
  // is served rather than serve nothing.
  if (next.empty()) return false;
  bool unloaded = false;
  for (const auto& [version, old] : current_) {
    if (next.count(version) == 0) {
      unloaded = true;
      LogEvent(LogLevel::kInfo, "model_unloaded",
               {{"model", model_name_}, {"version", absl::StrCat(version)}});
    }
  }
  if (!loaded && !unloaded) return false;
  PublishLocked(std::move(next), load_seconds);
  return true;
}

void ModelManager::PublishLocked(ServedSet next, double load_seconds) {
  const bool first = current_.empty();
  std::vector<ServableHandle> handles;
  handles.reserve(next.size());
  for (const auto& [version, served] : next) {
    handles.push_back({served.model, version});
  }
  const Served& best = next.begin()->second;
  if (model_metrics_) {
    model_metrics_->SetModel(best.candidate.version, best.model->fingerprint(),
                             ModelKindName(best.model->kind()), load_seconds);
  }
  servable_->SetVersions(std::move(handles));
  current_ = std::move(next);
  if (first && on_serving_) on_serving_(true);
}

uint64_t ModelManager::reloads_ok() const {
  std::lock_guard<std::mutex> lock(check_mu_);
  return reloads_ok_;
}

uint64_t ModelManager::reloads_failed() const {
  std::lock_guard<std::mutex> lock(check_mu_);
  return reloads_failed_;
}

}  // namespace edlae::server
