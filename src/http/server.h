// The HTTP/1.1 server: Boost.Beast on `io_threads` I/O threads, handlers on a separate
// worker pool so blocking work (storage, outbound calls) never stalls an I/O thread.
//
// Each request passes, in order: limits (header -> 431, body -> 413, malformed -> 400),
// X-Request-Id (the caller's if it is 1-128 characters of [A-Za-z0-9._:-], else a fresh
// one; echoed in the response), Router::Dispatch on a worker, then an access-log line (JSON,
// common/log.h) and Prometheus metrics (http/metrics.h). An exception escaping a handler is
// logged and answered with a 500 problem+json that does not contain its message.
// Asynchronous routes (Router::AddAsync) release the worker when their handler returns; the
// response is written when the Responder is called, from any thread, or, if that has not
// happened within `async_timeout` of the request's start (and the handler has returned: a
// handler still running gets another period), a 503 problem+json is written and a later
// answer is dropped. A Responder destroyed without being called answers 500. Streamed
// responses (Response::stream) are sent with chunked transfer encoding; the BodyWriter runs on
// a worker between chunk writes. Connections are kept alive as HTTP/1.1 allows.
//
// Lifecycle: construct, Start(), then either Drain()/Stop() from another thread or
// DrainOnSignals() + Wait(). Drain stops accepting (new connections are refused), closes idle
// keep-alive connections, lets in-flight requests finish, asynchronous ones included (their
// responses carry "Connection: close"), until the deadline, then stops everything; answers
// given after that are dropped. The destructor stops.
//
// Thread safety: Start, Drain, Stop and Wait may be called from any thread except the
// server's own I/O and worker threads (they join those threads). port() is safe anytime.
#ifndef MERCATOR_HTTP_SERVER_H_
#define MERCATOR_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "http/metrics.h"
#include "http/types.h"

namespace mercator::http {

enum class AccessLog { kOn, kOff };

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;                    // 0: an ephemeral port, see Server::port()
  int io_threads = 0;                   // 0: std::thread::hardware_concurrency()
  int worker_threads = 0;               // 0: std::thread::hardware_concurrency(), at least 2
  size_t max_header_bytes = 16 * 1024;  // request line + headers; more -> 431
  size_t max_body_bytes = 1024 * 1024;  // more -> 413
  // From a request's first byte to its last; a slower client is disconnected.
  std::chrono::milliseconds read_timeout{30'000};
  // How long a keep-alive connection may wait for its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  // Writing one response (or one chunk of a stream).
  std::chrono::milliseconds write_timeout{30'000};
  // How long an asynchronous handler may take to answer before the server answers 503.
  std::chrono::milliseconds async_timeout{10'000};
  // Default deadline for Drain() without an argument and for signal-triggered drains.
  std::chrono::milliseconds drain_timeout{10'000};
  AccessLog access_log = AccessLog::kOn;
};

class Server {
 public:
  // `router` and `metrics` must outlive the server; `metrics` may be null (no metrics).
  Server(ServerOptions options, const Router& router, Metrics* metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads. Errors: InvalidArgument for a bad address,
  // Unavailable if the port cannot be bound, FailedPrecondition if already started.
  absl::Status Start();

  // The bound port (the ephemeral one when options.port was 0); 0 before Start().
  uint16_t port() const;

  // Graceful shutdown as described above; blocks until stopped. Idempotent.
  void Drain(std::chrono::milliseconds deadline);
  void Drain();
  // Immediate stop: in-flight requests are cut off. Idempotent.
  void Stop();

  // On the first SIGTERM or SIGINT, starts Drain() on a background thread. Call after Start().
  void DrainOnSignals();

  // Blocks until the server has stopped (by Drain, Stop or a signal-triggered drain).
  void Wait();

  // Requests currently between their first byte read and their last byte written.
  int InFlight() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mercator::http

#endif  // MERCATOR_HTTP_SERVER_H_
