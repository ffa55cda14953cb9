#include "http/metrics.h"

#include <string>
#include <vector>

#include "common/strings.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace mercator::http {
namespace {

const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  // Fine below 50 ms, where the draw's latency targets are (a p99 is read between two bounds).
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01,
      0.015,   0.02,   0.03,    0.05,  0.1,    0.25,  0.5,   1,     2.5,   5,      10};
  return kBuckets;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("http_server_requests_total")
                   .Help("HTTP requests answered, by method, route pattern and status code.")
                   .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("http_server_request_duration_seconds")
                   .Help(
                       "Time from a request's last byte read to its response's last byte "
                       "written, by method and route pattern.")
                   .Register(*registry_);
  in_flight_ = &prometheus::BuildGauge()
                    .Name("http_server_requests_in_flight")
                    .Help("HTTP requests being handled or written.")
                    .Register(*registry_)
                    .Add({});
}

Metrics::~Metrics() = default;

prometheus::Registry& Metrics::registry() { return *registry_; }

std::shared_ptr<prometheus::Registry> Metrics::shared_registry() { return registry_; }

void Metrics::ObserveRequest(std::string_view method, std::string_view route, int status,
                             double duration_seconds) {
  prometheus::Counter* requests = nullptr;
  prometheus::Histogram* duration = nullptr;
  {
    absl::MutexLock lock(&series_mu_);
    auto it = series_.find(ToAbsl(route));
    if (it != series_.end()) {
      for (const Series& s : it->second) {
        if (s.status == status && s.method == method) {
          requests = s.requests;
          duration = s.duration;
          break;
        }
      }
    }
  }
  if (requests == nullptr) {
    // First of its kind: the families find or make the series (two threads may both get here;
    // they get the same series).
    const std::string m(method);
    const std::string r(route);
    requests = &requests_->Add({{"method", m}, {"route", r}, {"status", std::to_string(status)}});
    duration = &duration_->Add({{"method", m}, {"route", r}}, DurationBuckets());
    absl::MutexLock lock(&series_mu_);
    series_[r].push_back(
        {.method = m, .status = status, .requests = requests, .duration = duration});
  }
  requests->Increment();
  duration->Observe(duration_seconds);
}

void Metrics::RequestStarted() { in_flight_->Increment(); }

void Metrics::RequestFinished() { in_flight_->Decrement(); }

std::string Metrics::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

Handler MetricsHandler(const Metrics& metrics) {
  return [&metrics](Request&) {
    return Response::Text(200, metrics.Render(), "text/plain; version=0.0.4; charset=utf-8");
  };
}

}  // namespace mercator::http
