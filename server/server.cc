// RecommenderServer: builds the grpc::Server (health, reflection, keepalive),
// serves, shuts down.
#include "server/server.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_io.h"
#include "core/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "server/log.h"
#include "server/startup_checks.h"

namespace edlae::server {

namespace {

absl::Status ValidateOptions(const ServerOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port must be in [0, 65535], got ", options.port));
  }
  if (options.service.limits.max_top_n == 0) {
    return absl::InvalidArgumentError("max_top_n must be at least 1");
  }
  if (options.max_receive_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        "max_receive_message_bytes must be positive");
  }
  if (options.tls_cert_path.empty() != options.tls_key_path.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key must be given together");
  }
  if (!options.tls_client_ca_path.empty() && options.tls_cert_path.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca (mutual TLS) needs --tls_cert and --tls_key");
  }
  return absl::OkStatus();
}

// Drops the reflection plugin, which linking grpc++_reflection registers for
// every server at load time (so not calling its Init does not turn it off).
class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                         return p->name() == "proto_server_reflection";
                       }),
        plugins->end());
  }
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerOptions& options) {
  if (options.tls_cert_path.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain,
                   ReadFileToString(options.tls_cert_path, "--tls_cert"));
  ASSIGN_OR_RETURN(pair.private_key,
                   ReadFileToString(options.tls_key_path, "--tls_key"));
  // gRPC would only fail to listen ("cannot listen on ...") on a bad pair.
  RETURN_IF_ERROR(CheckTlsKeyMatchesCertificate(
      pair.cert_chain, pair.private_key, options.tls_cert_path,
      options.tls_key_path));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca_path.empty()) {
    ASSIGN_OR_RETURN(
        ssl.pem_root_certs,
        ReadFileToString(options.tls_client_ca_path, "--tls_client_ca"));
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    ssl.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

std::string JoinHostPort(const std::string& host, int port) {
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::unique_ptr<RecommenderServer>>
RecommenderServer::BuildAndStart(const ServerOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  const int sources = !options.model_path.empty() + !options.model_dir.empty() +
                      !options.model_config_path.empty();
  if (sources != 1) {
    return absl::InvalidArgumentError(
        "exactly one of --model, --model_dir and --model_config must be given");
  }
  auto registry = std::make_shared<ModelRegistry>();
  auto metrics = std::make_shared<ServerMetrics>();
  ModelSetSource source;
  source.defaults.warmup = options.warmup;
  source.defaults.snapshot = options.model_snapshot;
  const bool one_model = options.model_config_path.empty();
  if (one_model) {
    ModelSpec spec;
    spec.name = options.service.model_name;
    spec.source = source.defaults;
    spec.source.model_path = options.model_path;
    spec.source.model_dir = options.model_dir;
    source.fixed.push_back(std::move(spec));
    source.default_model = options.service.model_name;
  } else {
    source.config_path = options.model_config_path;
  }
  // The health callback is attached in Start, once the server exists.
  auto manager =
      std::make_unique<MultiModelManager>(std::move(source), registry, metrics);
  RETURN_IF_ERROR(manager->LoadInitial());
  const std::vector<std::string> names = manager->model_names();
  std::shared_ptr<ServableModel> servable =
      manager->servable(one_model ? options.service.model_name : names.front());
  ASSIGN_OR_RETURN(
      std::unique_ptr<RecommenderServer> server,
      Start(options, std::move(servable), std::move(registry),
            std::move(metrics), std::move(manager)));
  server->one_model_ = one_model;
  return server;
}

absl::StatusOr<std::unique_ptr<RecommenderServer>>
RecommenderServer::BuildAndStart(const ServerOptions& options,
                                 std::shared_ptr<ServableModel> servable) {
  if (servable == nullptr) {
    return absl::InvalidArgumentError("servable must not be null");
  }
  auto metrics = std::make_shared<ServerMetrics>();
  auto registry = std::make_shared<ModelRegistry>();
  RegisteredModel model;
  model.name = options.service.model_name;
  model.servable = servable;
  model.metrics = &metrics->ForModel(model.name);
  std::vector<RegisteredModel> models;
  models.push_back(std::move(model));
  registry->Set(std::move(models), options.service.model_name);
  return Start(options, std::move(servable), std::move(registry),
               std::move(metrics), nullptr);
}

ModelManager* RecommenderServer::model_manager() const {
  if (manager_ == nullptr || !one_model_) return nullptr;
  return manager_->manager(registry_->Names().front());
}

absl::StatusOr<std::unique_ptr<RecommenderServer>> RecommenderServer::Start(
    const ServerOptions& options, std::shared_ptr<ServableModel> servable,
    std::shared_ptr<ModelRegistry> registry,
    std::shared_ptr<ServerMetrics> metrics,
    std::unique_ptr<MultiModelManager> manager) {
  if (servable == nullptr) {
    return absl::InvalidArgumentError("servable must not be null");
  }
  RETURN_IF_ERROR(ValidateOptions(options));
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   MakeCredentials(options));
  ServiceOptions service_options = options.service;
  service_options.metrics = metrics;
  if (!options.auth_token_file.empty()) {
    ASSIGN_OR_RETURN(
        service_options.auth_token,
        ReadTokenFile(options.auth_token_file, "--auth_token_file"));
  }
  const bool auth_token = !service_options.auth_token.empty();
  const ServiceLimits& limits = options.service.limits;
  // Global gRPC switches; both must be set before the builder is created.
  grpc::EnableDefaultHealthCheckService(true);
  if (options.enable_reflection) {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  }

  std::unique_ptr<RecommenderServer> server(new RecommenderServer());
  server->servable_ = std::move(servable);
  server->registry_ = std::move(registry);
  server->metrics_ = std::move(metrics);
  server->manager_ = std::move(manager);
  const std::string metrics_address =
      options.metrics_address == kMetricsAddressAuto
          ? JoinHostPort(options.host, kDefaultMetricsPort)
          : options.metrics_address;
  // gRPC and CivetWeb report a port in use only vaguely (or as a raw error
  // dump): try the addresses first.
  RETURN_IF_ERROR(CheckCanListen("--host/--port", options.host, options.port));
  if (!metrics_address.empty()) {
    RETURN_IF_ERROR(CheckCanListenOn("--metrics_address", metrics_address));
    ASSIGN_OR_RETURN(
        server->exposer_,
        StartMetricsExposer(metrics_address, server->metrics_->registry()));
    server->metrics_port_ = MetricsPort(*server->exposer_);
    server->metrics_address_ = metrics_address;
  }
  server->service_ = std::make_unique<RecommenderService>(
      server->registry_, std::move(service_options));

  const std::string listen = JoinHostPort(options.host, options.port);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  if (!options.enable_reflection) {
    builder.SetOption(std::make_unique<WithoutReflection>());
  }
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // Far above the service's per-call metadata limit: past this one, gRPC 1.51
  // fails the whole connection, not just the call (see ServerOptions).
  const int64_t header_list_bytes = std::max<int64_t>(
      options.max_header_list_bytes,
      static_cast<int64_t>(options.service.max_metadata_bytes) + 64 * 1024);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_METADATA_SIZE,
      static_cast<int>(std::min<int64_t>(header_list_bytes, INT32_MAX)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             options.keepalive_time_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             options.keepalive_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Without this, gRPC sets SO_REUSEPORT and a second server on the same port
  // would start "successfully" and silently share the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      options.min_client_ping_interval_ms);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    // ~RecommenderServer shuts down a server that started without a port.
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen,
                     " (address in use, or not a local address?)"));
  }
  server->address_ = JoinHostPort(options.host, server->port_);

  const ServableHandle handle = server->servable_->Get();
  if (server->manager_ == nullptr) {
    server->SetServing(static_cast<bool>(handle));
    server->SetModelServing(options.service.model_name,
                            static_cast<bool>(handle));
  }
  // One line with everything an operator needs to know about the start.
  LogEvent(
      LogLevel::kInfo, "server_started",
      {{"address", server->address_},
       {"port", absl::StrCat(server->port_)},
       {"model", !options.model_config_path.empty()
                     ? options.model_config_path
                     : (options.model_path.empty() ? options.model_dir
                                                   : options.model_path)},
       {"models", absl::StrJoin(server->registry_->Names(), ",")},
       {"version", handle ? absl::StrCat(handle.version) : ""},
       {"model_loaded", handle ? "true" : "false"},
       {"items", handle ? absl::StrCat(handle.model->num_items()) : "0"},
       {"fingerprint", handle ? handle.model->fingerprint() : ""},
       {"model_bytes", handle ? absl::StrCat(handle.model->file_size()) : "0"},
       {"tls", options.tls_cert_path.empty()
                   ? "off"
                   : (options.tls_client_ca_path.empty() ? "on" : "mutual")},
       {"auth_token", auth_token ? "on" : "off"},
       {"metrics_address", metrics_address},
       {"metrics_port", absl::StrCat(server->metrics_port_)},
       {"reflection", options.enable_reflection ? "on" : "off"},
       {"max_concurrent_requests",
        absl::StrCat(limits.max_concurrent_requests)},
       {"max_top_n", absl::StrCat(limits.max_top_n)},
       {"max_history", absl::StrCat(limits.max_history)},
       {"max_item_list", absl::StrCat(limits.max_item_list)}});
  if (auth_token && options.tls_cert_path.empty()) {
    LogEvent(
        LogLevel::kWarning, "auth_token_without_tls",
        {{"detail", "the bearer token travels in plaintext; use --tls_cert"}});
  }
  if (server->manager_ != nullptr) {
    RecommenderServer* raw = server.get();
    // Replays every model's state at once.
    server->manager_->SetOnServing(
        [raw](const std::string& model, bool serving) {
          if (model.empty()) {
            raw->SetServing(serving);
          } else {
            raw->SetModelServing(model, serving);
          }
        });
    if (options.poll_interval > absl::ZeroDuration()) {
      server->manager_->StartPolling(options.poll_interval);
    }
  }
  return server;
}

RecommenderServer::~RecommenderServer() {
  Shutdown(absl::Now());
  if (exposer_stopper_.joinable()) exposer_stopper_.join();
  // The service (and its workers) must outlive the grpc::Server.
  server_.reset();
  service_.reset();
}

void RecommenderServer::TriggerModelCheck() {
  if (manager_ != nullptr) manager_->Trigger();
}

void RecommenderServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health =
      server_ == nullptr ? nullptr : server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  health->SetServingStatus(kServiceName, serving);
}

void RecommenderServer::SetModelServing(const std::string& model,
                                        bool serving) {
  grpc::HealthCheckServiceInterface* health =
      server_ == nullptr ? nullptr : server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(absl::StrCat(kServiceName, "/", model), serving);
}

void RecommenderServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

void RecommenderServer::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  // No version swap (and no SERVING from a late first load) while draining.
  if (manager_ != nullptr) manager_->StopPolling();
  // CivetWeb takes about a second to stop: in parallel with the drain, so
  // that the process exits within the grace (joined by the destructor).
  if (exposer_ != nullptr) {
    exposer_stopper_ = std::thread([this,
                                    exposer = std::move(exposer_)]() mutable {
      StopMetricsExposer(std::move(exposer), metrics_address_, metrics_port_);
    });
  }
  if (server_ == nullptr) return;
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(deadline));
}

}  // namespace edlae::server
