// The model a server is currently serving, swappable at run time (TF Serving
// servable-handle style).
#ifndef EDLAE_SERVER_SERVABLE_MODEL_H_
#define EDLAE_SERVER_SERVABLE_MODEL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "core/model.h"

namespace edlae::server {

// A counted reference to one loaded model version. A request takes a handle
// once and uses it until it finishes, so the model (and its mapping) stays
// alive even if a newer version is swapped in meanwhile. Cheap to copy.
struct ServableHandle {
  std::shared_ptr<const Model> model;  // null: no model loaded
  uint64_t version = 0;                // 0 when served from --model

  explicit operator bool() const { return model != nullptr; }
};

// Holds the current model. Get() and Set() are thread-safe: readers copy the
// shared_ptr under a mutex (held only for the copy), writers replace it. The
// previous model is released when the last in-flight request drops its handle.
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

  // The current model and its version; empty when none is loaded.
  ServableHandle Get() const;

  // Replaces the current model (null unloads it).
  void Set(std::shared_ptr<const Model> model, uint64_t version = 0);

 private:
  mutable std::mutex mu_;
  ServableHandle current_;  // guarded by mu_
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_SERVABLE_MODEL_H_
