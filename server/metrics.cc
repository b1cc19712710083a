// ServerMetrics: prometheus-cpp families with their label children created up
// front; the civetweb-based exposer behind absl::Status.
#include "server/metrics.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

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

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  static_assert(sizeof(kCodeNames) / sizeof(kCodeNames[0]) == kNumCodes);
  auto& requests = prometheus::BuildCounter()
                       .Name("edlae_requests_total")
                       .Help("Finished RPCs by method and gRPC status code.")
                       .Register(*registry_);
  auto& latency = prometheus::BuildHistogram()
                      .Name("edlae_request_latency_seconds")
                      .Help("RPC wall time in the server, admission to "
                            "response, by method.")
                      .Register(*registry_);
  auto& shed = prometheus::BuildCounter()
                   .Name("edlae_shed_requests_total")
                   .Help("RPCs refused with RESOURCE_EXHAUSTED because "
                         "--max_concurrent_requests were in flight.")
                   .Register(*registry_);
  // 100 µs .. ~6.5 s, factor 2.
  prometheus::Histogram::BucketBoundaries latency_buckets;
  for (double b = 1e-4; b < 7; b *= 2) latency_buckets.push_back(b);
  for (int m = 0; m < kNumRpcMethods; ++m) {
    const std::string method = RpcMethodName(static_cast<RpcMethod>(m));
    for (int c = 0; c < kNumCodes; ++c) {
      requests_[m][c] =
          &requests.Add({{"method", method}, {"code", kCodeNames[c]}});
    }
    latency_[m] = &latency.Add({{"method", method}}, latency_buckets);
    shed_[m] = &shed.Add({{"method", method}});
  }
  inflight_ = &prometheus::BuildGauge()
                   .Name("edlae_inflight_requests")
                   .Help("Recommend calls admitted and not yet answered "
                         "(queued or scoring).")
                   .Register(*registry_)
                   .Add({});
  model_version_ = &prometheus::BuildGauge()
                        .Name("edlae_model_version")
                        .Help("Version of the model being served (0: --model "
                              "file, or none loaded).")
                        .Register(*registry_)
                        .Add({});
  model_info_family_ = &prometheus::BuildGauge()
                            .Name("edlae_model_info")
                            .Help("1, labelled with the served model's "
                                  "fingerprint and kind.")
                            .Register(*registry_);
  model_load_seconds_ = &prometheus::BuildGauge()
                             .Name("edlae_model_load_seconds")
                             .Help("Time to open, validate and warm up the "
                                   "served model.")
                             .Register(*registry_)
                             .Add({});
  auto& reloads = prometheus::BuildCounter()
                      .Name("edlae_model_reloads_total")
                      .Help("Model load attempts (the first one included) "
                            "by result.")
                      .Register(*registry_);
  reloads_ok_ = &reloads.Add({{"result", "ok"}});
  reloads_failed_ = &reloads.Add({{"result", "failed"}});
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
}

void ServerMetrics::RecordRequest(RpcMethod method, grpc::StatusCode code,
                                  double seconds) {
  const int m = static_cast<int>(method);
  requests_[m][CodeIndex(code)]->Increment();
  latency_[m]->Observe(seconds);
}

void ServerMetrics::RecordShed(RpcMethod method) {
  shed_[static_cast<int>(method)]->Increment();
}

void ServerMetrics::RecordUnknownItems(uint64_t count) {
  if (count > 0) unknown_items_->Increment(static_cast<double>(count));
}

void ServerMetrics::RecordInline() { inline_requests_->Increment(); }

double ServerMetrics::InlineCount() const { return inline_requests_->Value(); }

void ServerMetrics::RecordBatchSize(size_t size) {
  batch_size_->Observe(static_cast<double>(size));
}

std::pair<uint64_t, double> ServerMetrics::BatchSizeTotals() const {
  const prometheus::ClientMetric m = batch_size_->Collect();
  return {m.histogram.sample_count, m.histogram.sample_sum};
}

void ServerMetrics::SetModel(uint64_t version, const std::string& fingerprint,
                             const std::string& kind, double load_seconds) {
  std::lock_guard<std::mutex> lock(model_mu_);
  model_version_->Set(static_cast<double>(version));
  model_load_seconds_->Set(load_seconds);
  if (model_info_ != nullptr) model_info_family_->Remove(model_info_);
  model_info_ =
      &model_info_family_->Add({{"fingerprint", fingerprint}, {"kind", kind}});
  model_info_->Set(1);
}

void ServerMetrics::RecordReload(bool ok) {
  (ok ? reloads_ok_ : reloads_failed_)->Increment();
}

double ServerMetrics::RequestCount(RpcMethod method,
                                   grpc::StatusCode code) const {
  return requests_[static_cast<int>(method)][CodeIndex(code)]->Value();
}

double ServerMetrics::ShedCount(RpcMethod method) const {
  return shed_[static_cast<int>(method)]->Value();
}

double ServerMetrics::ReloadCount(bool ok) const {
  return (ok ? reloads_ok_ : reloads_failed_)->Value();
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
