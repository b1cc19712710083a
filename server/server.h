// A running edlae gRPC server: options, start-up (model, health, reflection,
// keepalive), wait, shutdown.
#ifndef EDLAE_SERVER_SERVER_H_
#define EDLAE_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "server/recommender_service.h"
#include "server/servable_model.h"

namespace edlae::server {

// Everything edlae-server's flags configure (TF Serving style).
struct ServerOptions {
  // Model file to serve (BuildAndStart(options) loads it).
  std::string model_path;
  // Address to listen on; port 0 picks a free port (see
  // RecommenderServer::port).
  std::string host = "0.0.0.0";
  int port = 8500;
  // Request limits enforced by the Recommender service.
  ServiceLimits limits;
  // Largest request accepted, in bytes.
  int max_receive_message_bytes = 16 * 1024 * 1024;
  // HTTP/2 keepalive: ping idle clients every keepalive_time_ms, drop them when
  // a ping is not answered within keepalive_timeout_ms; accept client pings no
  // more often than every min_client_ping_interval_ms.
  int keepalive_time_ms = 60 * 1000;
  int keepalive_timeout_ms = 20 * 1000;
  int min_client_ping_interval_ms = 10 * 1000;
  // Register the gRPC server reflection service (grpcurl, grpc_cli).
  bool enable_reflection = true;
};

// Owns a started grpc::Server with the Recommender service, the default
// health service and (optionally) reflection. Health reports SERVING for ""
// and "edlae.v1.Recommender" while a model is loaded at start, NOT_SERVING
// otherwise. All methods are thread-safe; Shutdown may be called from any
// thread (e.g. a signal-handling thread) while another thread is in Wait().
class RecommenderServer {
 public:
  // Name under which health status is reported for the service.
  static constexpr const char* kServiceName = "edlae.v1.Recommender";

  // Loads options.model_path, then starts serving it. Errors: the
  // Model::Open status (prefixed with the path) when the model cannot be
  // loaded; Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RecommenderServer>> BuildAndStart(
      const ServerOptions& options);

  // Starts serving whatever `servable` holds (it may hold no model: Recommend
  // and GetModelInfo then return UNAVAILABLE). options.model_path is ignored.
  static absl::StatusOr<std::unique_ptr<RecommenderServer>> BuildAndStart(
      const ServerOptions& options, std::shared_ptr<ServableModel> servable);

  RecommenderServer(const RecommenderServer&) = delete;
  RecommenderServer& operator=(const RecommenderServer&) = delete;

  // Shuts down immediately if Shutdown was not called.
  ~RecommenderServer();

  // The port actually bound (the chosen one when options.port was 0).
  int port() const { return port_; }
  // "host:port" of the bound address (IPv6 hosts in brackets).
  const std::string& address() const { return address_; }

  // The model holder shared with the service (for future hot reload).
  ServableModel& servable() const { return *servable_; }

  // Sets the health status of "" and kServiceName.
  void SetServing(bool serving);

  // Blocks until the server has shut down.
  void Wait();

  // Reports NOT_SERVING, stops accepting calls and waits for in-flight calls
  // until `deadline`, after which they are cancelled. Idempotent.
  void Shutdown(absl::Time deadline);

 private:
  RecommenderServer() = default;

  // Shared by both BuildAndStart overloads; `model_path` and `load_ms` (< 0:
  // unknown) only feed the start-up log line.
  static absl::StatusOr<std::unique_ptr<RecommenderServer>> Start(
      const ServerOptions& options, std::shared_ptr<ServableModel> servable,
      const std::string& model_path, double load_ms);

  std::shared_ptr<ServableModel> servable_;
  std::unique_ptr<RecommenderService> service_;
  std::unique_ptr<grpc::Server> server_;  // declared last: destroyed first
  int port_ = 0;
  std::string address_;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

// "host:port", with IPv6 literal hosts in brackets.
std::string JoinHostPort(const std::string& host, int port);

}  // namespace edlae::server

#endif  // EDLAE_SERVER_SERVER_H_
