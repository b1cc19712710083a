// Prometheus metrics of edlae-server (prometheus-cpp): the metric families, and
// the HTTP exposer that serves them on a separate port.
#ifndef EDLAE_SERVER_METRICS_H_
#define EDLAE_SERVER_METRICS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace edlae::server {

// The RPC methods metrics are labelled with.
enum class RpcMethod {
  kRecommend = 0,
  kGetModelInfo = 1,
  kRecommendBatch = 2,
  kSimilarItems = 3,
};
inline constexpr int kNumRpcMethods = 4;
const char* RpcMethodName(RpcMethod method);

// Every edlae metric, registered in one registry at construction (names are a
// contract with the dashboards in deploy/):
//   edlae_requests_total{method,code}         counter
//   edlae_request_latency_seconds{method}     histogram
//   edlae_inflight_requests                   gauge (admitted Recommend calls)
//   edlae_shed_requests_total{method}         counter
//   edlae_model_version                       gauge
//   edlae_model_info{fingerprint,kind}        gauge = 1 for the served model
//   edlae_model_load_seconds                  gauge (last successful load)
//   edlae_model_reloads_total{result}         counter, result = ok | failed
//   edlae_unknown_items_total                 counter
//   edlae_batch_size                          histogram (requests per batch)
//   edlae_inline_requests_total               counter (Recommend calls scored
//                                             on the gRPC thread)
// Thread-safe: prometheus-cpp metrics are atomics; SetModel is serialized
// internally. Label children are created up front, so recording a request
// takes no lock.
class ServerMetrics {
 public:
  ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

  // One finished call: its gRPC status code and wall time.
  void RecordRequest(RpcMethod method, grpc::StatusCode code, double seconds);
  // One call refused by load shedding (also recorded by RecordRequest).
  void RecordShed(RpcMethod method);
  void AddInflight(double delta) { inflight_->Increment(delta); }
  void RecordUnknownItems(uint64_t count);
  void RecordBatchSize(size_t size);
  // One Recommend call scored inline on the gRPC thread (no worker hand-off).
  void RecordInline();
  // The model now being served.
  void SetModel(uint64_t version, const std::string& fingerprint,
                const std::string& kind, double load_seconds);
  void RecordReload(bool ok);

  // Current values, for tests and logs.
  double RequestCount(RpcMethod method, grpc::StatusCode code) const;
  double ShedCount(RpcMethod method) const;
  // Batches recorded in edlae_batch_size so far, and the requests in them.
  std::pair<uint64_t, double> BatchSizeTotals() const;
  double ReloadCount(bool ok) const;
  double InlineCount() const;
  double UnknownItems() const { return unknown_items_->Value(); }
  double Inflight() const { return inflight_->Value(); }
  double ModelVersion() const { return model_version_->Value(); }

 private:
  static constexpr int kNumCodes =
      17;  // grpc::StatusCode OK .. UNAUTHENTICATED

  std::shared_ptr<prometheus::Registry> registry_;
  std::array<std::array<prometheus::Counter*, kNumCodes>, kNumRpcMethods>
      requests_{};
  std::array<prometheus::Histogram*, kNumRpcMethods> latency_{};
  std::array<prometheus::Counter*, kNumRpcMethods> shed_{};
  prometheus::Gauge* inflight_ = nullptr;
  prometheus::Gauge* model_version_ = nullptr;
  prometheus::Family<prometheus::Gauge>* model_info_family_ = nullptr;
  prometheus::Gauge* model_info_ = nullptr;  // guarded by model_mu_
  prometheus::Gauge* model_load_seconds_ = nullptr;
  prometheus::Counter* reloads_ok_ = nullptr;
  prometheus::Counter* reloads_failed_ = nullptr;
  prometheus::Counter* unknown_items_ = nullptr;
  prometheus::Histogram* batch_size_ = nullptr;
  prometheus::Counter* inline_requests_ = nullptr;
  std::mutex model_mu_;
};

// Serves `registry` at http://<address>/metrics ("host:port"; port 0 picks a
// free port). Errors: Unavailable when the address cannot be bound.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExposer(
    const std::string& address,
    const std::shared_ptr<prometheus::Registry>& registry);

// The port an exposer actually listens on (0 when unknown).
int MetricsPort(const prometheus::Exposer& exposer);

// Stops and destroys `exposer`, started on `address` and listening on `port`.
// CivetWeb's listener looks at its stop flag only between 2 s polls; a local
// connection to the port (every 20 ms while it stops, for at most 3 s) wakes
// it, so this takes milliseconds rather than up to 2 s.
void StopMetricsExposer(std::unique_ptr<prometheus::Exposer> exposer,
                        const std::string& address, int port);

}  // namespace edlae::server

#endif  // EDLAE_SERVER_METRICS_H_
