// ServableModel: a mutex-guarded list of the model versions being served.
#include "server/servable_model.h"

#include <algorithm>
#include <utility>

#include "core/status_macros.h"

namespace edlae::server {

ServableModel::ServableModel(std::shared_ptr<const Model> model,
                             uint64_t version) {
  if (model != nullptr) versions_.push_back({std::move(model), version});
}

absl::StatusOr<std::unique_ptr<ServableModel>> ServableModel::Load(
    const std::string& path, uint64_t version,
    const ModelOpenOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Model> model,
                   Model::Open(path, options));
  return std::make_unique<ServableModel>(std::move(model), version);
}

ServableHandle ServableModel::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return versions_.empty() ? ServableHandle{} : versions_.front();
}

ServableHandle ServableModel::Get(uint64_t version) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ServableHandle& h : versions_) {
    if (h.version == version) return h;
  }
  return ServableHandle{};
}

std::vector<uint64_t> ServableModel::Versions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  out.reserve(versions_.size());
  for (const ServableHandle& h : versions_) out.push_back(h.version);
  return out;
}

void ServableModel::Set(std::shared_ptr<const Model> model, uint64_t version) {
  std::vector<ServableHandle> next;
  if (model != nullptr) next.push_back({std::move(model), version});
  SetVersions(std::move(next));
}

void ServableModel::SetVersions(std::vector<ServableHandle> versions) {
  versions.erase(std::remove_if(versions.begin(), versions.end(),
                                [](const ServableHandle& h) { return !h; }),
                 versions.end());
  std::sort(versions.begin(), versions.end(),
            [](const ServableHandle& a, const ServableHandle& b) {
              return a.version > b.version;
            });
  {
    std::lock_guard<std::mutex> lock(mu_);
    versions_.swap(versions);
  }
  // The old list (possibly the last references, which unmap files) is
  // released here, outside the lock.
}

}  // namespace edlae::server
