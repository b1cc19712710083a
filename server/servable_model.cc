// ServableModel: a mutex-guarded shared_ptr to the model being served.
#include "server/servable_model.h"

#include <utility>

#include "core/status_macros.h"

namespace edlae::server {

ServableModel::ServableModel(std::shared_ptr<const Model> model,
                             uint64_t version) {
  current_.model = std::move(model);
  current_.version = version;
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
  return current_;
}

void ServableModel::Set(std::shared_ptr<const Model> model, uint64_t version) {
  ServableHandle old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::move(current_);
    current_.model = std::move(model);
    current_.version = version;
  }
  // `old` (possibly the last reference, which unmaps the file) is released
  // here, outside the lock.
}

}  // namespace edlae::server
