// Prometheus metrics for the process. A Metrics object owns the registry; the server records
// HTTP request metrics in it and other modules add their own families through registry().
//
// HTTP families (Prometheus naming, seconds as the unit):
//   http_server_requests_total{method,route,status}            counter
//   http_server_request_duration_seconds{method,route}         histogram
//   http_server_requests_in_flight                             gauge
// `route` is the router pattern ("/v1/customers/{id}") or "unmatched", never the raw path,
// so no customer id ever becomes a label value.
//
// Thread safety: all methods are safe for concurrent use.
#ifndef MERCATOR_HTTP_METRICS_H_
#define MERCATOR_HTTP_METRICS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "http/types.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace mercator::http {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The registry, for other modules' families (include "prometheus/counter.h" etc. there):
  //   auto& draws = prometheus::BuildCounter().Name("mercator_draws_total")
  //                     .Help("Draws decided").Register(metrics.registry());
  prometheus::Registry& registry();
  std::shared_ptr<prometheus::Registry> shared_registry();

  // Records one finished request. `route` must be a pattern or "unmatched".
  void ObserveRequest(std::string_view method, std::string_view route, int status,
                      double duration_seconds);
  void RequestStarted();
  void RequestFinished();

  // Every family in the registry in the Prometheus text exposition format (0.0.4).
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Gauge* in_flight_;

  // The series of each (route, method, status) seen, so that a request costs a lookup here
  // rather than the families' label maps (Family::Add builds and hashes a std::map of labels
  // under the family's lock). Series are never removed, so the pointers stay valid.
  struct Series {
    std::string method;
    int status = 0;
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* duration = nullptr;
  };
  absl::Mutex series_mu_;  // a leaf lock
  absl::flat_hash_map<std::string, std::vector<Series>> series_ ABSL_GUARDED_BY(series_mu_);
};

// A handler serving metrics.Render() as text/plain; version=0.0.4, for GET /metrics.
// `metrics` must outlive the router.
Handler MetricsHandler(const Metrics& metrics);

}  // namespace mercator::http

#endif  // MERCATOR_HTTP_METRICS_H_
