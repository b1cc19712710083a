// The versions of one model a server is currently serving, swappable at run
// time (TF Serving servable-handle style).
#ifndef EDLAE_SERVER_SERVABLE_MODEL_H_
#define EDLAE_SERVER_SERVABLE_MODEL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"

namespace edlae::server {

// The name of the one model of --model / --model_dir unless --model_name
// says otherwise.
inline constexpr char kDefaultModelName[] = "default";

// A counted reference to one loaded model version. A request takes a handle
// once and uses it until it finishes, so the model (and its mapping) stays
// alive even if a newer version is swapped in meanwhile. Cheap to copy.
struct ServableHandle {
  std::shared_ptr<const Model> model;  // null: no model loaded
  uint64_t version = 0;                // 0 when served from --model

  explicit operator bool() const { return model != nullptr; }
};

// Holds the served versions of one model (usually one). Every method is
// thread-safe: readers copy a shared_ptr under a mutex (held only for the
// copy), writers replace the list. A replaced version is released when the
// last in-flight request drops its handle.
// std::mutex rather than absl::Mutex: Debian's abseil is built without
// ThreadSanitizer annotations, and the refcount stress test runs under TSan.
class ServableModel {
 public:
  // No model: Get() returns an empty handle until Set() is called.
  ServableModel() = default;
  explicit ServableModel(std::shared_ptr<const Model> model,
                         uint64_t version = 0);

  ServableModel(const ServableModel&) = delete;
  ServableModel& operator=(const ServableModel&) = delete;

  // Opens and validates the model file at `path` (Model::Open errors).
  static absl::StatusOr<std::unique_ptr<ServableModel>> Load(
      const std::string& path, uint64_t version = 0,
      const ModelOpenOptions& options = {});

  // The highest version served; empty when none is loaded.
  ServableHandle Get() const;
  // Exactly `version`; empty when it is not served.
  ServableHandle Get(uint64_t version) const;
  // The versions served, highest first.
  std::vector<uint64_t> Versions() const;

  // Serves only `model` as `version` (null unloads everything).
  void Set(std::shared_ptr<const Model> model, uint64_t version = 0);
  // Serves exactly `versions` (empty handles are dropped; versions unique).
  void SetVersions(std::vector<ServableHandle> versions);

 private:
  mutable std::mutex mu_;
  std::vector<ServableHandle> versions_;  // highest first; guarded by mu_
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_SERVABLE_MODEL_H_
