// ServerMetrics: prometheus-cpp families with their label children created up
// front; the civetweb-based exposer behind absl::Status.
#include "server/metrics.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "prometheus/histogram.h"

namespace edlae::server {
namespace {

const char* const kCodeNames[] = {
    "OK",           "CANCELLED",          "UNKNOWN",
    "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED",     "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",          "UNAVAILABLE",
    "DATA_LOSS",    "UNAUTHENTICATED"};

int CodeIndex(grpc::StatusCode code) {
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? i : static_cast<int>(grpc::StatusCode::UNKNOWN);
}

}  // namespace

const char* RpcMethodName(RpcMethod method) {
  switch (method) {
    case RpcMethod::kRecommend:
      return "Recommend";
    case RpcMethod::kRecommendBatch:
      return "RecommendBatch";
    case RpcMethod::kGetModelInfo:
      return "GetModelInfo";
    case RpcMethod::kSimilarItems:
      return "SimilarItems";
  }
  return "unknown";
}

namespace {

// 100 µs .. ~6.5 s, factor 2.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double b = 1e-4; b < 7; b *= 2) buckets.push_back(b);
  return buckets;
}

}  // namespace

ModelMetrics::ModelMetrics(ServerMetrics& families, std::string name,
                           bool model_series)
    : name_(std::move(name)) {
  const prometheus::Histogram::BucketBoundaries buckets = LatencyBuckets();
  for (int m = 0; m < kNumRpcMethods; ++m) {
    const std::string method = RpcMethodName(static_cast<RpcMethod>(m));
    for (int c = 0; c < kNumStatusCodes; ++c) {
      requests_[m][c] = &families.requests_family_->Add(
          {{"method", method}, {"code", kCodeNames[c]}, {"model", name_}});
    }
    latency_[m] = &families.latency_family_->Add(
        {{"method", method}, {"model", name_}}, buckets);
  }
  if (!model_series) return;
  reloads_ok_ =
      &families.reloads_family_->Add({{"result", "ok"}, {"model", name_}});
  reloads_failed_ =
      &families.reloads_family_->Add({{"result", "failed"}, {"model", name_}});
  model_version_ = &families.model_version_family_->Add({{"model", name_}});
  model_load_seconds_ =
      &families.model_load_seconds_family_->Add({{"model", name_}});
  model_info_family_ = families.model_info_family_;
}

void ModelMetrics::RecordReload(bool ok) {
  prometheus::Counter* counter = ok ? reloads_ok_ : reloads_failed_;
  if (counter != nullptr) counter->Increment();
}

void ModelMetrics::SetModel(uint64_t version, const std::string& fingerprint,
                            const std::string& kind, double load_seconds) {
  if (model_version_ == nullptr) return;
  std::lock_guard<std::mutex> lock(model_mu_);
  model_version_->Set(static_cast<double>(version));
  model_load_seconds_->Set(load_seconds);
  if (model_info_ != nullptr) model_info_family_->Remove(model_info_);
  model_info_ = &model_info_family_->Add(
      {{"fingerprint", fingerprint}, {"kind", kind}, {"model", name_}});
  model_info_->Set(1);
}

double ModelMetrics::RequestCount(RpcMethod method,
                                  grpc::StatusCode code) const {
  return requests_[static_cast<int>(method)][CodeIndex(code)]->Value();
}

double ModelMetrics::ReloadCount(bool ok) const {
  const prometheus::Counter* counter = ok ? reloads_ok_ : reloads_failed_;
  return counter == nullptr ? 0 : counter->Value();
}

double ModelMetrics::ModelVersion() const {
  return model_version_ == nullptr ? 0 : model_version_->Value();
}

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  static_assert(sizeof(kCodeNames) / sizeof(kCodeNames[0]) == kNumStatusCodes);
  requests_family_ =
      &prometheus::BuildCounter()
           .Name("edlae_requests_total")
           .Help("Finished RPCs by method, gRPC status code and model.")
           .Register(*registry_);
  latency_family_ = &prometheus::BuildHistogram()
                         .Name("edlae_request_latency_seconds")
                         .Help("RPC wall time in the server, admission to "
                               "response, by method and model.")
                         .Register(*registry_);
  auto& shed = prometheus::BuildCounter()
                   .Name("edlae_shed_requests_total")
                   .Help("RPCs refused with RESOURCE_EXHAUSTED because "
                         "--max_concurrent_requests were in flight.")
                   .Register(*registry_);
  for (int m = 0; m < kNumRpcMethods; ++m) {
    shed_[m] = &shed.Add({{"method", RpcMethodName(static_cast<RpcMethod>(m))}});
  }
  inflight_ = &prometheus::BuildGauge()
                   .Name("edlae_inflight_requests")
                   .Help("Recommend calls admitted and not yet answered "
                         "(queued or scoring).")
                   .Register(*registry_)
                   .Add({});
  model_version_family_ =
      &prometheus::BuildGauge()
           .Name("edlae_model_version")
           .Help("Highest version of the model being served (0: --model "
                 "file, or none loaded).")
           .Register(*registry_);
  model_info_family_ = &prometheus::BuildGauge()
                            .Name("edlae_model_info")
                            .Help("1, labelled with the served model's "
                                  "fingerprint and kind.")
                            .Register(*registry_);
  model_load_seconds_family_ =
      &prometheus::BuildGauge()
           .Name("edlae_model_load_seconds")
           .Help("Time to open, validate and warm up the served model.")
           .Register(*registry_);
  reloads_family_ = &prometheus::BuildCounter()
                         .Name("edlae_model_reloads_total")
                         .Help("Model load attempts (the first one included) "
                               "by result.")
                         .Register(*registry_);
  unknown_items_ = &prometheus::BuildCounter()
                        .Name("edlae_unknown_items_total")
                        .Help("Request item ids the served model did not "
                              "know (skipped).")
                        .Register(*registry_)
                        .Add({});
  batch_size_ = &prometheus::BuildHistogram()
                     .Name("edlae_batch_size")
                     .Help("Requests scored together in one batch.")
                     .Register(*registry_)
                     .Add({}, prometheus::Histogram::BucketBoundaries{
                                  1, 2, 4, 8, 16, 32, 64, 128, 256});
  inline_requests_ = &prometheus::BuildCounter()
                          .Name("edlae_inline_requests_total")
                          .Help("Recommend calls scored on the gRPC thread "
                                "that received them (--inline_max_work) "
                                "instead of a worker.")
                          .Register(*registry_)
                          .Add({});
  split_scans_ = &prometheus::BuildCounter()
                      .Name("edlae_split_scans_total")
                      .Help(
                          "Calls whose scan of the catalog was split over "
                          "idle workers (--split_min_work).")
                      .Register(*registry_)
                      .Add({});
  auto& config_reloads =
      prometheus::BuildCounter()
          .Name("edlae_model_config_reloads_total")
          .Help("Re-reads of the --model_config file by result: ok (applied) "
                "or failed (rejected; the previous models keep serving).")
          .Register(*registry_);
  config_reloads_ok_ = &config_reloads.Add({{"result", "ok"}});
  config_reloads_failed_ = &config_reloads.Add({{"result", "failed"}});
  unresolved_.reset(new ModelMetrics(*this, "", /*model_series=*/false));
}

void ServerMetrics::RecordConfigReload(bool ok) {
  (ok ? config_reloads_ok_ : config_reloads_failed_)->Increment();
}

double ServerMetrics::ConfigReloadCount(bool ok) const {
  return (ok ? config_reloads_ok_ : config_reloads_failed_)->Value();
}

ModelMetrics& ServerMetrics::ForModel(const std::string& name) {
  std::lock_guard<std::mutex> lock(models_mu_);
  std::unique_ptr<ModelMetrics>& slot = models_[name];
  if (slot == nullptr) {
    slot.reset(new ModelMetrics(*this, name, /*model_series=*/true));
  }
  return *slot;
}

void ServerMetrics::RecordRequest(RpcMethod method, grpc::StatusCode code,
                                  double seconds, ModelMetrics* model) {
  ModelMetrics* m = model != nullptr ? model : unresolved_.get();
  const int i = static_cast<int>(method);
  m->requests_[i][CodeIndex(code)]->Increment();
  m->latency_[i]->Observe(seconds);
}

void ServerMetrics::RecordShed(RpcMethod method) {
  shed_[static_cast<int>(method)]->Increment();
}

void ServerMetrics::RecordUnknownItems(uint64_t count) {
  if (count > 0) unknown_items_->Increment(static_cast<double>(count));
}

void ServerMetrics::RecordInline() { inline_requests_->Increment(); }

double ServerMetrics::InlineCount() const { return inline_requests_->Value(); }

void ServerMetrics::RecordSplitScan() { split_scans_->Increment(); }

double ServerMetrics::SplitScanCount() const { return split_scans_->Value(); }

void ServerMetrics::RecordBatchSize(size_t size) {
  batch_size_->Observe(static_cast<double>(size));
}

std::pair<uint64_t, double> ServerMetrics::BatchSizeTotals() const {
  const prometheus::ClientMetric m = batch_size_->Collect();
  return {m.histogram.sample_count, m.histogram.sample_sum};
}

double ServerMetrics::RequestCount(RpcMethod method,
                                   grpc::StatusCode code) const {
  std::lock_guard<std::mutex> lock(models_mu_);
  double total = unresolved_->RequestCount(method, code);
  for (const auto& [name, m] : models_) total += m->RequestCount(method, code);
  return total;
}

double ServerMetrics::ShedCount(RpcMethod method) const {
  return shed_[static_cast<int>(method)]->Value();
}

double ServerMetrics::ReloadCount(bool ok) const {
  std::lock_guard<std::mutex> lock(models_mu_);
  double total = 0;
  for (const auto& [name, m] : models_) total += m->ReloadCount(ok);
  return total;
}

double ServerMetrics::ModelVersion() const {
  std::lock_guard<std::mutex> lock(models_mu_);
  double version = 0;
  for (const auto& [name, m] : models_) {
    version = std::max(version, m->ModelVersion());
  }
  return version;
}

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExposer(
    const std::string& address,
    const std::shared_ptr<prometheus::Registry>& registry) {
  // prometheus-cpp (civetweb) reports a failed bind by throwing; nothing else
  // in edlae throws, so the exception stops here.
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(address, 1);
    exposer->RegisterCollectable(registry);
    return exposer;
  } catch (const std::exception&) {
    // CivetWeb's message ("null context when constructing CivetServer") says
    // nothing more.
    return absl::UnavailableError(
        absl::StrCat("--metrics_address ", address,
                     ": cannot listen (not HOST:PORT, or an address in use "
                     "or not of this machine)"));
  }
}

int MetricsPort(const prometheus::Exposer& exposer) {
  const std::vector<int> ports = exposer.GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

namespace {

// Opens and closes one TCP connection to `host`:`port` (a wildcard host: the
// loopback address of its family); errors are ignored.
void TouchListener(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const std::string service = absl::StrCat(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &addresses) != 0) {
    return;
  }
  for (const addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const bool connected = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
    if (connected) break;
  }
  freeaddrinfo(addresses);
}

}  // namespace

void StopMetricsExposer(std::unique_ptr<prometheus::Exposer> exposer,
                        const std::string& address, int port) {
  if (exposer == nullptr) return;
  const size_t colon = address.rfind(':');
  absl::string_view host = colon == std::string::npos
                               ? ""
                               : absl::string_view(address).substr(0, colon);
  const bool v6 = absl::ConsumePrefix(&host, "[");
  if (v6) absl::ConsumeSuffix(&host, "]");
  std::string connect_host(host);
  if (connect_host.empty() || connect_host == "0.0.0.0") {
    connect_host = "127.0.0.1";
  } else if (connect_host == "::") {
    connect_host = "::1";
  }
  std::atomic<bool> stopped{false};
  std::thread waker([&stopped, connect_host, port] {
    for (int i = 0; i < 150 && !stopped.load(); ++i) {
      TouchListener(connect_host, port);
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  exposer.reset();
  stopped = true;
  waker.join();
}

}  // namespace edlae::server
