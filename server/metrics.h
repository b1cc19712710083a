// Prometheus metrics of edlae-server (prometheus-cpp): the metric families, and
// the HTTP exposer that serves them on a separate port.
#ifndef EDLAE_SERVER_METRICS_H_
#define EDLAE_SERVER_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
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

inline constexpr int kNumStatusCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED

class ServerMetrics;

// The series of one served model (label model="<name>"): its calls, its
// loads and the version it serves. Made by ServerMetrics::ForModel; lives as
// long as that ServerMetrics (a model removed from the configuration keeps
// its counters). Thread-safe.
class ModelMetrics {
 public:
  ModelMetrics(const ModelMetrics&) = delete;
  ModelMetrics& operator=(const ModelMetrics&) = delete;

  const std::string& name() const { return name_; }
  // One load attempt (the first one included).
  void RecordReload(bool ok);
  // The highest version now served and how long its load took.
  void SetModel(uint64_t version, const std::string& fingerprint,
                const std::string& kind, double load_seconds);
  double RequestCount(RpcMethod method, grpc::StatusCode code) const;
  double ReloadCount(bool ok) const;
  double ModelVersion() const;

 private:
  friend class ServerMetrics;
  ModelMetrics(ServerMetrics& families, std::string name, bool model_series);

  const std::string name_;
  std::array<std::array<prometheus::Counter*, kNumStatusCodes>, kNumRpcMethods>
      requests_{};
  std::array<prometheus::Histogram*, kNumRpcMethods> latency_{};
  // Null for the unresolved-calls series (model="").
  prometheus::Counter* reloads_ok_ = nullptr;
  prometheus::Counter* reloads_failed_ = nullptr;
  prometheus::Gauge* model_version_ = nullptr;
  prometheus::Gauge* model_load_seconds_ = nullptr;
  prometheus::Family<prometheus::Gauge>* model_info_family_ = nullptr;
  std::mutex model_mu_;
  prometheus::Gauge* model_info_ = nullptr;  // guarded by model_mu_
};

// Every edlae metric, registered in one registry at construction (names are a
// contract with the dashboards in deploy/):
//   edlae_requests_total{method,code,model}   counter
//   edlae_request_latency_seconds{method,model} histogram
//   edlae_inflight_requests                   gauge (admitted Recommend calls)
//   edlae_shed_requests_total{method}         counter
//   edlae_model_version{model}                gauge (highest version served)
//   edlae_model_info{fingerprint,kind,model}  gauge = 1 for the served model
//   edlae_model_load_seconds{model}           gauge (last successful load)
//   edlae_model_reloads_total{result,model}   counter, result = ok | failed
//   edlae_unknown_items_total                 counter
//   edlae_batch_size                          histogram (requests per batch)
//   edlae_inline_requests_total               counter (Recommend calls scored
//                                             on the gRPC thread)
//   edlae_split_scans_total                   counter (calls whose scan was
//                                             split over idle workers)
//   edlae_model_config_reloads_total{result}  counter (--model_config
//                                             re-reads, ok | failed)
// model is the served model's name (--model_name, or its --model_config
// name); calls that name no served model (unknown name, unparsable request,
// no token) count under model="". A RecommendBatch call whose entries name
// several models counts under model="" too.
// Thread-safe: prometheus-cpp metrics are atomics; ForModel and SetModel are
// serialized internally. Label children are created when a model is first
// named, so recording a request takes no lock.
class ServerMetrics {
 public:
  ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

  // The series of model `name` (created on first use; the reference stays
  // valid as long as this object).
  ModelMetrics& ForModel(const std::string& name);

  // One finished call: its gRPC status code and wall time, under `model`
  // (null: model="").
  void RecordRequest(RpcMethod method, grpc::StatusCode code, double seconds,
                     ModelMetrics* model = nullptr);
  // One call refused by load shedding (also recorded by RecordRequest).
  void RecordShed(RpcMethod method);
  void AddInflight(double delta) { inflight_->Increment(delta); }
  void RecordUnknownItems(uint64_t count);
  void RecordBatchSize(size_t size);
  // One Recommend call scored inline on the gRPC thread (no worker hand-off).
  void RecordInline();
  // One call whose scan was split over idle workers (--split_min_work).
  void RecordSplitScan();
  // One --model_config re-read: applied (ok) or rejected.
  void RecordConfigReload(bool ok);
  double ConfigReloadCount(bool ok) const;

  // Current values, for tests and logs; summed over every model.
  double RequestCount(RpcMethod method, grpc::StatusCode code) const;
  double ShedCount(RpcMethod method) const;
  // Batches recorded in edlae_batch_size so far, and the requests in them.
  std::pair<uint64_t, double> BatchSizeTotals() const;
  double ReloadCount(bool ok) const;
  double InlineCount() const;
  double SplitScanCount() const;
  double UnknownItems() const { return unknown_items_->Value(); }
  double Inflight() const { return inflight_->Value(); }
  // The highest edlae_model_version of any model (a one-model server: its
  // version; 0 when none is loaded).
  double ModelVersion() const;

 private:
  friend class ModelMetrics;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_family_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* model_version_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* model_info_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* model_load_seconds_family_ = nullptr;
  prometheus::Family<prometheus::Counter>* reloads_family_ = nullptr;
  std::array<prometheus::Counter*, kNumRpcMethods> shed_{};
  prometheus::Gauge* inflight_ = nullptr;
  prometheus::Counter* unknown_items_ = nullptr;
  prometheus::Histogram* batch_size_ = nullptr;
  prometheus::Counter* inline_requests_ = nullptr;
  prometheus::Counter* split_scans_ = nullptr;
  prometheus::Counter* config_reloads_ok_ = nullptr;
  prometheus::Counter* config_reloads_failed_ = nullptr;
  mutable std::mutex models_mu_;
  std::map<std::string, std::unique_ptr<ModelMetrics>> models_;  // by name
  std::unique_ptr<ModelMetrics> unresolved_;                     // model=""
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
