// A running edlae gRPC server: options, start-up (model, health, reflection,
// keepalive), wait, shutdown.
#ifndef EDLAE_SERVER_SERVER_H_
#define EDLAE_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/exposer.h"
#include "server/metrics.h"
#include "server/model_manager.h"
#include "server/model_registry.h"
#include "server/multi_model_manager.h"
#include "server/recommender_service.h"
#include "server/servable_model.h"

namespace edlae::server {

// ServerOptions::metrics_address that means "the serving host, this port".
inline constexpr char kMetricsAddressAuto[] = "auto";
inline constexpr int kDefaultMetricsPort = 9464;

// Everything edlae-server's flags configure (TF Serving style).
struct ServerOptions {
  // What to serve (BuildAndStart(options) loads it): exactly one of a model
  // file (--model, version 0), a folder of numbered versions (--model_dir)
  // — either one model named service.model_name — or a --model_config file
  // of named models (TF Serving's text format; see MultiModelManager).
  std::string model_path;
  std::string model_dir;
  std::string model_config_path;
  // How often to look for a new version (also on TriggerModelCheck / SIGHUP);
  // zero or negative: never poll.
  absl::Duration poll_interval = absl::Seconds(5);
  // Populate the mapping and answer a few requests before a version serves.
  bool warmup = true;
  // Load each version into private memory rather than mapping the file, so
  // a model file rewritten or truncated in place cannot crash the server
  // (see ModelSourceOptions::snapshot; flag --model_snapshot).
  bool model_snapshot = true;
  // Address to listen on; port 0 picks a free port (see
  // RecommenderServer::port).
  std::string host = "0.0.0.0";
  int port = 8500;
  // The Recommender service's limits, workers, micro-batching and inline
  // scoring (each default lives in ServiceOptions). service.metrics is
  // ignored: the service counts into the server's metrics(). When
  // auth_token_file is set, its token replaces service.auth_token.
  ServiceOptions service;
  // Largest request accepted, in bytes.
  int max_receive_message_bytes = 16 * 1024 * 1024;
  // The transport's limit on a call's header list, in bytes
  // (GRPC_ARG_MAX_METADATA_SIZE, advertised to clients as HTTP/2
  // SETTINGS_MAX_HEADER_LIST_SIZE). gRPC 1.51 fails every call on the
  // connection when one header block exceeds it (and its C++ client sends
  // such a block anyway), so it is set far above service.max_metadata_bytes,
  // which refuses an oversized call alone (RESOURCE_EXHAUSTED): as large as
  // the largest request message, so headers cost no more memory than a
  // body may. Raised to service.max_metadata_bytes + 64 KiB when smaller.
  int max_header_list_bytes = 16 * 1024 * 1024;
  // HTTP/2 keepalive: ping idle clients every keepalive_time_ms, drop them when
  // a ping is not answered within keepalive_timeout_ms; accept client pings no
  // more often than every min_client_ping_interval_ms.
  int keepalive_time_ms = 60 * 1000;
  int keepalive_timeout_ms = 20 * 1000;
  int min_client_ping_interval_ms = 10 * 1000;
  // Register the gRPC server reflection service (grpcurl, grpc_cli). It is
  // not behind the bearer token: edlae-server's --reflection defaults to off
  // when --auth_token_file is set.
  bool enable_reflection = true;
  // Prometheus /metrics on this "host:port" (port 0: any free port);
  // kMetricsAddressAuto: `host`, port kDefaultMetricsPort (edlae-server's
  // default); empty: no metrics endpoint.
  std::string metrics_address;
  // TLS: PEM certificate chain and private key of the server; with
  // tls_client_ca, clients must present a certificate signed by that CA
  // (mutual TLS). All empty: plaintext.
  std::string tls_cert_path;
  std::string tls_key_path;
  std::string tls_client_ca_path;
  // File holding the bearer token every Recommender call must present
  // (surrounding whitespace trimmed); empty: no token required.
  std::string auth_token_file;
};

// Owns a started grpc::Server with the Recommender service, the default
// health service, (optionally) reflection and /metrics, and the model
// managers that hot-swap versions and models. Health reports SERVING for ""
// and "edlae.v1.Recommender" once every configured model has a version
// loaded, and for "edlae.v1.Recommender/<model>" once that model has;
// NOT_SERVING before, for a removed model, and after Shutdown. All methods are thread-safe; Shutdown may be called from any
// thread (e.g. a signal-handling thread) while another thread is in Wait().
class RecommenderServer {
 public:
  // Name under which health status is reported for the service.
  static constexpr const char* kServiceName = "edlae.v1.Recommender";

  // Loads options.model_path, the best version in options.model_dir or the
  // models of options.model_config_path, starts serving them and polls for
  // new versions (and config changes). Errors: the Model::Open status
  // (prefixed with the path) when --model cannot be loaded; NotFound when
  // --model_dir (or a base_path) cannot be listed; InvalidArgument for
  // inconsistent options, a bad --model_config (ParseModelServerConfig, a
  // label naming a version not served) or unreadable TLS/token files;
  // Unavailable when an address cannot be bound.
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

  // The versions of the one model (--model, --model_dir, the given
  // ServableModel) or, with --model_config, of its first model at start-up.
  ServableModel& servable() const { return *servable_; }
  // The names → models the service answers for.
  ModelRegistry& registry() const { return *registry_; }
  ServerMetrics& metrics() const { return *metrics_; }
  // The port /metrics is served on; 0 without a metrics endpoint.
  int metrics_port() const { return metrics_port_; }
  // The one model's manager (--model, --model_dir); null with --model_config
  // or when the server was given a ServableModel instead of a source.
  ModelManager* model_manager() const;
  // Every model's manager; null when the server was given a ServableModel.
  MultiModelManager* models() const { return manager_.get(); }

  // Re-reads --model_config and looks for new model versions now (SIGHUP);
  // no-op without a manager.
  void TriggerModelCheck();

  // Sets the health status of "" and kServiceName.
  void SetServing(bool serving);
  // Sets the health status of kServiceName + "/" + model.
  void SetModelServing(const std::string& model, bool serving);

  // Blocks until the server has shut down.
  void Wait();

  // Reports NOT_SERVING, stops /metrics (in the background), stops accepting
  // calls and waits for in-flight calls until `deadline`, after which they
  // are cancelled. Idempotent.
  void Shutdown(absl::Time deadline);

 private:
  RecommenderServer() = default;

  // Shared by both BuildAndStart overloads; `manager` may be null.
  static absl::StatusOr<std::unique_ptr<RecommenderServer>> Start(
      const ServerOptions& options, std::shared_ptr<ServableModel> servable,
      std::shared_ptr<ModelRegistry> registry,
      std::shared_ptr<ServerMetrics> metrics,
      std::unique_ptr<MultiModelManager> manager);

  std::shared_ptr<ServableModel> servable_;
  std::shared_ptr<ModelRegistry> registry_;
  std::shared_ptr<ServerMetrics> metrics_;
  std::unique_ptr<MultiModelManager> manager_;
  bool one_model_ = false;  // --model / --model_dir
  std::unique_ptr<prometheus::Exposer> exposer_;  // moved out by Shutdown
  std::thread exposer_stopper_;                   // destroys it meanwhile
  int metrics_port_ = 0;
  std::string metrics_address_;  // as given to the exposer
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
