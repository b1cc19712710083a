// ModelManager: version scan, load + validate + warm-up, atomic swap, polling
// thread; every outcome is logged and counted.
#include "server/model_manager.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/scorer.h"
#include "core/status_macros.h"
#include "server/log.h"

namespace edlae::server {
namespace {

// Identity of the regular file at `path`, or nullopt when there is none.
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
                           std::shared_ptr<ServerMetrics> metrics)
    : options_(std::move(options)),
      servable_(std::move(servable)),
      metrics_(std::move(metrics)) {}

void ModelManager::SetOnServing(std::function<void(bool)> on_serving) {
  std::lock_guard<std::mutex> lock(check_mu_);
  on_serving_ = std::move(on_serving);
}

ModelManager::~ModelManager() { StopPolling(); }

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
    if (!current_.has_value()) {
      LogEvent(LogLevel::kWarning, "no_model_yet",
               {{"model_dir", options_.model_dir}});
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
    if (metrics_) metrics_->RecordReload(false);
    return absl::Status(model.status().code(),
                        absl::StrCat("cannot load model '", options_.model_path,
                                     "': ", model.status().message()));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  ++reloads_ok_;
  if (metrics_) {
    metrics_->RecordReload(true);
    metrics_->SetModel(0, (*model)->fingerprint(), ModelKindName((*model)->kind()),
                       seconds);
  }
  LogEvent(LogLevel::kInfo, "model_loaded",
           {{"version", "0"},
            {"path", c.path},
            {"fingerprint", (*model)->fingerprint()},
            {"items", absl::StrCat((*model)->num_items())},
            {"load_ms", absl::StrFormat("%.1f", seconds * 1000)},
            {"warmup", options_.warmup ? "true" : "false"}});
  servable_->Set(std::move(*model), 0);
  current_ = std::move(c);
  if (on_serving_) on_serving_(true);
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
      LogEvent(LogLevel::kError, "model_scan_failed",
               {{"error", candidates.status().ToString()}});
    }
    listing_failed_ = true;
    return false;
  }
  listing_failed_ = false;
  for (const VersionCandidate& c : *candidates) {
    if (current_.has_value() && c.version == current_->version &&
        c.identity == current_->identity) {
      return false;  // the best loadable candidate is already served
    }
    const auto failed = failed_.find(c.version);
    if (failed != failed_.end() && failed->second == c.identity) continue;

    const absl::Time start = absl::Now();
    absl::StatusOr<std::shared_ptr<const Model>> model =
        LoadServableModel(c.path, options_.warmup, options_.snapshot);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (!model.ok()) {
      failed_[c.version] = c.identity;
      ++reloads_failed_;
      if (metrics_) metrics_->RecordReload(false);
      LogEvent(
          LogLevel::kError, "model_load_failed",
          {{"version", absl::StrCat(c.version)},
           {"path", c.path},
           {"error", model.status().ToString()},
           {"serving_version",
            current_.has_value() ? absl::StrCat(current_->version) : "none"}});
      // The served model keeps serving. A failed rewrite of the served
      // version never rolls back to an older one; a failed newer version
      // falls through to the next best (at worst, the served one).
      if (current_.has_value() && c.version == current_->version) return false;
      continue;
    }
    failed_.erase(c.version);
    ++reloads_ok_;
    const std::string previous =
        current_.has_value() ? absl::StrCat(current_->version) : "none";
    if (metrics_) {
      metrics_->RecordReload(true);
      metrics_->SetModel(c.version, (*model)->fingerprint(),
                         ModelKindName((*model)->kind()), seconds);
    }
    LogEvent(LogLevel::kInfo, "model_loaded",
             {{"version", absl::StrCat(c.version)},
              {"previous_version", previous},
              {"path", c.path},
              {"fingerprint", (*model)->fingerprint()},
              {"items", absl::StrCat((*model)->num_items())},
              {"load_ms", absl::StrFormat("%.1f", seconds * 1000)},
              {"warmup", options_.warmup ? "true" : "false"}});
    const bool first = !current_.has_value();
    servable_->Set(std::move(*model), c.version);
    current_ = c;
    if (first && on_serving_) on_serving_(true);
    return true;
  }
  return false;
}

void ModelManager::StartPolling(absl::Duration poll_interval) {
  if (poller_.joinable()) return;
  const auto interval = absl::ToChronoMilliseconds(
      std::max(poll_interval, absl::Milliseconds(1)));
  poller_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(poll_mu_);
    for (;;) {
      poll_cv_.wait_for(lock, interval,
                        [this] { return stopping_ || triggered_; });
      if (stopping_) return;
      triggered_ = false;
      lock.unlock();
      Check();
      lock.lock();
    }
  });
}

void ModelManager::Trigger() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    triggered_ = true;
  }
  poll_cv_.notify_all();
}

void ModelManager::StopPolling() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    stopping_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
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
