#include "http/server.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/signal_set.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/thread_pool.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http.hpp"
#include "common/log.h"
#include "common/random.h"

namespace mercator::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// After a server-initiated close we read and discard what the client still sends, so that
// unread request bytes do not turn our FIN into an RST that destroys the response
// (a 413 answered before the body arrived). Bounded in time and bytes.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr size_t kMaxLingerBytes = 16 * 1024 * 1024;
// Bytes of an answer's body a connection keeps allocated for the next one.
constexpr size_t kKeptBodyBytes = 64 * 1024;

constexpr std::string_view kUnmatchedRoute = "unmatched";

// A caller's request id is reused if it cannot smuggle anything into logs or headers.
bool SaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
           c == '-';
  });
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

Response SimpleProblem(int status, std::string detail) {
  Problem p;
  p.status = status;
  p.detail = std::move(detail);
  return ProblemResponse(p);
}

Response InternalErrorResponse() { return SimpleProblem(500, "An internal error occurred."); }

Response AsyncTimeoutResponse() {
  Response res = SimpleProblem(503,
                               "The request did not complete in time. It may still take effect: "
                               "retry later, with the same Idempotency-Key if it had one.");
  res.headers["retry-after"] = "1";
  return res;
}

// Lets answers from other threads reach connections only while the server runs: Deliver
// holds `mu` while it touches a connection, and StopThreads closes the gate before the
// io_context and the connections go away.
struct Gate {
  std::mutex mu;
  bool open = true;  // guarded by mu
};

// A request id: 16 random bytes in hex, cut from a pool of this thread's that one getrandom
// call refills every 128 ids, rather than a system call per request.
std::string NewRequestId() {
  constexpr size_t kHexDigits = 32;
  thread_local std::string pool;
  thread_local size_t used = 0;
  if (used + kHexDigits > pool.size()) {
    pool = SecureRandom::HexToken(kHexDigits / 2 * 128);
    used = 0;
  }
  std::string id = pool.substr(used, kHexDigits);
  used += kHexDigits;
  return id;
}

LogContext RequestLogContext(const std::string& request_id) {
  LogContext c;
  c.request_id = request_id;
  return c;
}

std::string Lower(beast::string_view s) {
  std::string out(s.data(), s.size());
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

}  // namespace

class Server::Impl {
 public:
  class Session;
  struct Exchange;

  Impl(ServerOptions options, const Router& router, Metrics* metrics)
      : options_(Normalize(std::move(options))),
        router_(router),
        metrics_(metrics),
        gate_(std::make_shared<Gate>()),
        workers_(static_cast<size_t>(options_.worker_threads)) {
    // One io_context per I/O thread (nginx's model, one event loop a thread), each run by its
    // thread alone: a connection's handlers run on one thread, in order, without a strand, and
    // a ready socket never costs a wake-up of another thread. With one io_context shared by
    // all I/O threads, every completion went through its scheduler's mutex and could wake a
    // second thread.
    for (int i = 0; i < options_.io_threads; ++i) {
      iocs_.push_back(std::make_unique<asio::io_context>(1));
    }
  }

  ~Impl() {
    Stop();
    std::thread drain_thread;
    {
      std::lock_guard<std::mutex> lock(mu_);
      drain_thread = std::move(drain_thread_);
    }
    if (drain_thread.joinable()) drain_thread.join();
  }

  absl::Status Start();
  void Drain(std::chrono::milliseconds deadline);
  void Stop();
  void DrainOnSignals();
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return state_ == State::kStopped; });
  }

  uint16_t port() const { return port_.load(); }
  std::chrono::milliseconds drain_timeout() const { return options_.drain_timeout; }
  int in_flight() const { return in_flight_.load(); }

 private:
  enum class State { kNew, kRunning, kStopping, kStopped };

  static ServerOptions Normalize(ServerOptions o) {
    const int hw = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    if (o.io_threads <= 0) o.io_threads = hw;
    if (o.worker_threads <= 0) o.worker_threads = std::max(2, hw);
    return o;
  }

  void Accept();
  // Returns false if the server is draining: the connection is then dropped.
  bool Register(Session* session, std::weak_ptr<Session> weak);
  void Unregister(Session* session);
  void CloseAcceptor();
  // Moves kStopping -> kStopped: stops the I/O threads and the worker pool.
  void StopThreads();
  // Claims the transition kRunning -> kStopping; false if someone else did (then waits for
  // them to finish) or the server never ran.
  bool BeginStopping();

  const ServerOptions options_;
  const Router& router_;
  Metrics* const metrics_;

  const std::shared_ptr<Gate> gate_;  // shared with pending exchanges, which may outlive us
  std::atomic<uint16_t> port_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};

  // Lock order: Exchange::mu, then Gate::mu, then mu_ (a Session's destructor takes mu_);
  // no callbacks run while mu_ is held.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kNew;                                      // guarded by mu_
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;  // guarded by mu_
  std::thread drain_thread_;                                       // guarded by mu_
  std::vector<std::thread> io_threads_;  // touched only by the thread that starts/stops

  // Destruction order matters: pending handlers in workers_ and iocs_ own Sessions, whose
  // destructors use mu_ and sessions_ above and their socket's io_context (a Session's
  // handlers are only ever queued on its own socket's io_context). So workers_ goes first,
  // then the acceptor and signal set, then iocs_, then the members above.
  std::vector<std::unique_ptr<asio::io_context>> iocs_;  // [i] is run by io_threads_[i] alone
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  size_t next_ioc_ = 0;  // the io_context of the next accepted connection; on iocs_[0]
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> accept_retry_;
  std::optional<asio::signal_set> signals_;
  asio::thread_pool workers_;
};

// One request's answer. The worker's return from Dispatch and the handler's answer may come
// in either order, from different threads; the connection writes only once both happened, so
// it never reuses request_ while the worker still reads it. The first answer wins: the
// handler's, the async timeout's 503, or a 500 for a handler that threw.
struct Server::Impl::Exchange {
  std::shared_ptr<Gate> gate;
  std::weak_ptr<Session> session;
  std::mutex mu;
  bool returned = false;             // guarded by mu: the worker left Dispatch
  bool answered = false;             // guarded by mu
  std::optional<Response> response;  // guarded by mu: answered before the worker returned

  // Records an answer; false if one was already given.
  static bool Answer(const std::shared_ptr<Exchange>& ex, Response res);
  // The worker is done with the request.
  static void Returned(const std::shared_ptr<Exchange>& ex);
  static void Deliver(const std::shared_ptr<Exchange>& ex, Response res);
};

// One connection. Lives as long as an asynchronous operation or a worker task holds it
// (shared_ptr: its lifetime is that of the last pending callback). All members are used
// on the connection's I/O thread, except request_/writer_, which a worker uses while that
// thread has nothing pending for this connection (phase kHandling or streaming a chunk).
class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl& server)
      : stream_(std::move(socket)), server_(server), timer_(stream_.get_executor()) {}

  ~Session() { server_.Unregister(this); }

  friend struct Exchange;  // posts the answer to the connection's thread

  void Start() {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    // Write sends small answers at once and WaitForRequest reads what a readable socket holds,
    // so the socket must not block. One that cannot be made so is closed (and this session
    // ends with its last reference, the caller's).
    stream_.socket().non_blocking(true, ec);
    if (ec) return ForceClose();
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string();
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->WaitForRequest(); });
  }

  // After the I/O threads stopped: nothing else touches the socket any more.
  void ForceClose() {
    beast::error_code ec;
    stream_.socket().close(ec);
  }

  // Drain: a connection waiting for its next request is closed; busy ones finish first.
  void CloseIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->phase_ == Phase::kIdle) {
        self->phase_ = Phase::kClosed;
        self->stream_.close();
      }
    });
  }

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kClosed };

  void WaitForRequest() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kIdle;
    if (server_.draining_.load()) return CloseGracefully();
    if (buffer_.size() > 0) return ReadHeader();  // pipelined bytes already here
    // Waits for the socket to be readable, then reads what is there. Either way costs one system
    // call a request beyond the read: an asynchronous read first tries a receive at once, which
    // just after an answer went out nearly always finds nothing; a wait has Asio re-arm the
    // descriptor in epoll (epoll_ctl). Measured under bench/draw, the two cost the same.
    // (The idle timeout: Tick.)
    SetDeadline(server_.options_.idle_timeout);
    stream_.socket().async_wait(
        tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
          self->deadline_ = Clock::time_point::max();
          if (ec || self->phase_ == Phase::kClosed) return self->Abandon();
          beast::error_code read_ec;
          const size_t n = self->stream_.socket().read_some(self->buffer_.prepare(4096), read_ec);
          if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) {
            return self->WaitForRequest();  // woken without data after all
          }
          if (read_ec) return self->Abandon();  // the peer closed, or the connection broke
          self->buffer_.commit(n);
          self->ReadHeader();
        });
  }

  void ReadHeader() {
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(server_.options_.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(server_.options_.max_body_bytes);
    if (ParseBuffered()) return;
    if (parser_->is_header_done()) return OnHeader({});
    stream_.expires_after(server_.options_.read_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // Parses what is already in buffer_ (a small request usually arrives whole, in the read that
  // woke WaitForRequest) and, if that is a whole request or an error, takes it from here: true.
  // Otherwise the parser keeps its state and the rest is read asynchronously. This spares a
  // request the asynchronous header and body reads (each a posted completion and a timer armed
  // and cancelled) when there is nothing left to wait for.
  bool ParseBuffered() {
    parser_->eager(true);
    while (buffer_.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      const size_t n = parser_->put(buffer_.data(), ec);
      buffer_.consume(n);
      if (ec == bhttp::error::need_more) break;
      if (ec) {
        OnReadError(ec);
        return true;
      }
      if (n == 0) break;
    }
    if (!parser_->is_done()) return false;
    OnRequest();
    return true;
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (beast::iequals(req[bhttp::field::expect], "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       req.version());
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                           if (ec) return self->Abandon();
                           self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->OnRequest();
                      });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::header_limit)
      return RejectMalformed(431, "Request headers are too large.");
    if (ec == bhttp::error::body_limit) return RejectMalformed(413, "Request body is too large.");
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        !IsHttpParseError(ec)) {
      return Abandon();  // the peer went away, timed out, or we closed it
    }
    RejectMalformed(400, "The request is not valid HTTP/1.1.");
  }

  // Answers a request that could not be read, then closes the connection.
  void RejectMalformed(int status, std::string detail) {
    request_ = Request{};
    request_.request_id = NewRequestId();
    request_.peer = peer_;
    if (parser_ && parser_->is_header_done()) {
      request_.method = ParseMethod(std::string_view(parser_->get().method_string()));
    } else {
      request_.method = Method::kOther;
    }
    version_ = 11;
    keep_alive_ = false;
    head_ = false;
    BeginRequest();
    Write(SimpleProblem(status, std::move(detail)));
  }

  void OnRequest() {
    bhttp::request<bhttp::string_body> req = parser_->release();
    parser_.reset();
    // The previous request's header nodes hold the next one's: a keep-alive connection's
    // requests carry the same headers, so their strings need no new memory.
    Headers spare;
    spare.swap(request_.headers);
    request_ = Request{};
    request_.method = ParseMethod(std::string_view(req.method_string()));
    request_.target = std::string(req.target());
    for (const auto& field : req) {
      const std::string_view value = field.value();
      if (spare.empty()) {
        auto [it, inserted] = request_.headers.emplace(Lower(field.name_string()), value);
        if (!inserted) it->second.append(", ").append(value);
        continue;
      }
      auto node = spare.extract(spare.begin());
      node.key().assign(std::string_view(field.name_string()));
      for (char& c : node.key()) c = absl::ascii_tolower(static_cast<unsigned char>(c));
      node.mapped().assign(value);
      auto placed = request_.headers.insert(std::move(node));
      if (!placed.inserted) placed.position->second.append(", ").append(value);
    }
    request_.body = std::move(req.body());
    request_.peer = peer_;
    const std::string_view given_id = request_.Header("x-request-id");
    request_.request_id = SaneRequestId(given_id) ? std::string(given_id) : NewRequestId();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    head_ = request_.method == Method::kHead;
    BeginRequest();
    phase_ = Phase::kHandling;
    auto exchange = std::make_shared<Exchange>();
    exchange->gate = server_.gate_;
    exchange->session = weak_from_this();
    // Set here, on the connection's thread, rather than by the worker when the handler returns
    // without an answer: one hop to that thread fewer per request.
    exchange_ = exchange;
    SetDeadline(server_.options_.async_timeout);
    Handle(exchange);
  }

  void BeginRequest() {
    started_ = Clock::now();
    body_bytes_ = 0;
    server_.in_flight_.fetch_add(1);
    if (server_.metrics_) server_.metrics_->RequestStarted();
  }

  // On the connection's thread: routes the request. The router hands most routes (authentication
  // and handler) to a worker; routes added with AddInline run here, to spare the hand-off, and give
  // what may block to a worker through request_.offload.
  void Handle(const std::shared_ptr<Exchange>& exchange) {
    bool handed_over = false;
    Guarded(request_.request_id, request_.route, exchange, [&] {
      if (absl::Status parsed = ParseTarget(request_); !parsed.ok()) {
        Exchange::Answer(exchange, StatusResponse(parsed));
        return;
      }
      // Called by the handler, on this thread (the session is alive); the work runs when
      // request_ may be another request, so it takes the log fields along. Not a shared_ptr:
      // request_ would own its own session.
      request_.offload = [this](std::function<void()> work) {
        asio::post(server_.workers_,
                   [id = request_.request_id, route = request_.route, work = std::move(work)] {
                     Guarded(id, route, nullptr, work);
                   });
      };
      Responder respond([exchange](Response res) { Exchange::Answer(exchange, std::move(res)); });
      handed_over = server_.router_.Dispatch(
          request_, std::move(respond), [this, &exchange](std::function<void()> work) {
            asio::post(
                server_.workers_, [self = shared_from_this(), exchange, work = std::move(work)] {
                  self->Guarded(self->request_.request_id, self->request_.route, exchange, work);
                  Exchange::Returned(exchange);
                });
          });
    });
    if (!handed_over) Exchange::Returned(exchange);
  }

  // Runs `work` with a request's log context; an exception is logged and, with an exchange,
  // answered 500 (a Responder that `work` dropped unanswered answers 500 itself).
  template <typename Work>
  static void Guarded(const std::string& request_id, const std::string& route,
                      const std::shared_ptr<Exchange>& exchange, const Work& work) {
    ScopedLogContext context(RequestLogContext(request_id));
    try {
      work();
    } catch (const std::exception& e) {
      Log(Severity::kError, "handler threw an exception",
          {{"http.route", route}, {"exception.message", e.what()}});
      if (exchange) Exchange::Answer(exchange, InternalErrorResponse());
    } catch (...) {
      Log(Severity::kError, "handler threw a non-standard exception", {{"http.route", route}});
      if (exchange) Exchange::Answer(exchange, InternalErrorResponse());
    }
  }

  // The session's one timer serves the idle timeout (waiting for a request) and the async
  // timeout (a request handled): a phase sets deadline_, and the timer, once started, fires at
  // least every min(idle, async timeout) and acts when the deadline has passed. A request's
  // deadlines arm and cancel no timer (each was a queue insert, a removal and a cancelled
  // completion). Every later deadline is at least that period away, so the timer is never armed
  // past it. It holds the session while it runs and stops on close (Abandon).
  void SetDeadline(std::chrono::milliseconds after) {
    deadline_ = Clock::now() + after;
    if (!ticking_) StartTicking();
  }

  void StartTicking() {
    const auto period = std::min(server_.options_.idle_timeout, server_.options_.async_timeout);
    ticking_ = true;
    timer_.expires_at(std::min(deadline_, Clock::now() + period));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      self->ticking_ = false;
      if (!ec) self->Tick();
    });
  }

  void Tick() {
    if (phase_ == Phase::kClosed || deadline_ == Clock::time_point::max()) return;  // stops
    const Clock::time_point now = Clock::now();
    if (now < deadline_) return StartTicking();
    deadline_ = Clock::time_point::max();
    if (phase_ == Phase::kIdle) {
      beast::error_code ignored;
      stream_.socket().cancel(ignored);  // the wait for a request ends: the connection closes
      return;
    }
    if (phase_ == Phase::kHandling && exchange_) OnAsyncTimeout();
  }

  // An asynchronous handler that has not answered async_timeout after its return is answered
  // 503: the deadline runs from the request's start and, while the worker is still in the
  // handler (a synchronous one that takes long), starts again, so the 503 comes between one and
  // two periods after the handler returned.
  void OnAsyncTimeout() {
    {
      std::lock_guard<std::mutex> lock(exchange_->mu);
      if (exchange_->answered) return;  // its Write is already queued
      if (!exchange_->returned) return SetDeadline(server_.options_.async_timeout);
      exchange_->answered = true;
    }
    exchange_.reset();
    Log(Severity::kWarn, "asynchronous handler did not answer in time; answered 503",
        {{"http.route", request_.route}, {"request_id", request_.request_id}});
    Write(AsyncTimeoutResponse());
  }

  // On the connection's thread: the exchange's answer.
  void WriteAnswer(Response res) {
    exchange_.reset();
    deadline_ = Clock::time_point::max();
    Write(std::move(res));
  }

  template <typename Message>
  void SetHeaders(Message& msg, const Response& res, bool keep) {
    for (const auto& [name, value] : res.headers) {
      if (name == "content-length" || name == "transfer-encoding" || name == "connection") {
        continue;  // framing is the server's job
      }
      if (value.find_first_of("\r\n") != std::string::npos) {
        Log(Severity::kError, "dropped a response header containing CR or LF",
            {{"http.route", request_.route}, {"header", name}});
        continue;
      }
      msg.set(name, value);
    }
    msg.set("x-request-id", request_.request_id);
    msg.keep_alive(keep);
  }

  void Write(Response res) {
    phase_ = Phase::kWriting;
    status_ = res.status;
    const bool keep = keep_alive_ && !server_.draining_.load();
    if (res.stream && !head_) return WriteStream(std::move(res), keep);

    // The head is written by hand into a buffer the connection keeps (Beast's serializer and
    // its header container cost more than the rest of a small answer's path), then head and
    // body go out in one gathered write. Same framing as Beast's: Content-Length for a body,
    // none for 1xx/204/304, a HEAD answer's from the handler if it gave one.
    head_buffer_.clear();
    head_buffer_ += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head_buffer_ += std::to_string(res.status);
    head_buffer_ += ' ';
    head_buffer_ +=
        std::string_view(bhttp::obsolete_reason(static_cast<bhttp::status>(res.status)));
    head_buffer_ += "\r\n";
    std::string_view head_length;
    for (const auto& [name, value] : res.headers) {
      if (name == "content-length") {
        head_length = value;
        continue;  // framing is the server's job
      }
      if (name == "transfer-encoding" || name == "connection") continue;
      if (value.find_first_of("\r\n") != std::string::npos ||
          name.find_first_of("\r\n:") != std::string::npos) {
        Log(Severity::kError, "dropped a response header containing CR or LF",
            {{"http.route", request_.route}, {"header", name}});
        continue;
      }
      AppendHeader(name, value);
    }
    AppendHeader("x-request-id", request_.request_id);
    if (version_ == 10 && keep) AppendHeader("connection", "keep-alive");
    if (version_ != 10 && !keep) AppendHeader("connection", "close");
    body_.clear();
    if (head_) {
      if (!head_length.empty()) AppendHeader("content-length", head_length);
    } else if (res.status == 204 || res.status == 304 || res.status < 200) {
      // These never carry a body or a Content-Length of one.
    } else {
      body_bytes_ = res.body.size();
      body_ = std::move(res.body);
      AppendHeader("content-length", std::to_string(body_.size()));
    }
    head_buffer_ += "\r\n";
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head_buffer_),
                                                       asio::buffer(body_)};
    // A small answer fits the socket's send buffer: it is sent here (the socket does not
    // block), without an asynchronous write (a posted completion and a timer armed and
    // cancelled). What does not fit goes out asynchronously, under the write timeout.
    beast::error_code ec;
    const size_t sent = stream_.socket().send(buffers, 0, ec);
    if (!ec && sent == asio::buffer_size(buffers)) return FinishRequest(ec, keep);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      return FinishRequest(ec, keep);
    }
    auto rest = std::make_shared<beast::buffers_suffix<std::array<asio::const_buffer, 2>>>(buffers);
    rest->consume(ec ? 0 : sent);
    stream_.expires_after(server_.options_.write_timeout);
    asio::async_write(stream_, *rest,
                      [self = shared_from_this(), keep, rest](beast::error_code ec, size_t) {
                        self->FinishRequest(ec, keep);
                      });
  }

  void AppendHeader(std::string_view name, std::string_view value) {
    head_buffer_ += name;
    head_buffer_ += ": ";
    head_buffer_ += value;
    head_buffer_ += "\r\n";
  }

  void WriteStream(Response res, bool keep) {
    writer_ = std::move(res.stream);
    stream_header_ = std::make_shared<bhttp::response<bhttp::empty_body>>(
        static_cast<bhttp::status>(res.status), version_);
    SetHeaders(*stream_header_, res, keep);
    stream_header_->chunked(true);
    stream_serializer_ =
        std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*stream_header_);
    stream_.expires_after(server_.options_.write_timeout);
    bhttp::async_write_header(stream_, *stream_serializer_,
                              [self = shared_from_this(), keep](beast::error_code ec, size_t) {
                                if (ec) return self->FinishRequest(ec, keep);
                                asio::post(self->server_.workers_,
                                           [self, keep] { self->NextChunk(keep); });
                              });
  }

  // On a worker thread: asks the BodyWriter for the next piece.
  void NextChunk(bool keep) {
    std::string chunk;
    bool more = false;
    bool failed = false;
    {
      ScopedLogContext context(RequestLogContext(request_.request_id));
      try {
        more = writer_(chunk);
      } catch (const std::exception& e) {
        Log(Severity::kError, "stream writer threw an exception",
            {{"http.route", request_.route}, {"exception.message", e.what()}});
        failed = true;
      } catch (...) {
        Log(Severity::kError, "stream writer threw a non-standard exception",
            {{"http.route", request_.route}});
        failed = true;
      }
    }
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), chunk = std::move(chunk), more, failed, keep]() mutable {
                 self->WriteChunk(std::move(chunk), more, failed, keep);
               });
  }

  void WriteChunk(std::string chunk, bool more, bool failed, bool keep) {
    if (failed) {
      // The status line is gone; ending without the last chunk tells the client the body is
      // incomplete.
      writer_ = nullptr;
      status_ = 500;
      return FinishRequest(asio::error::operation_aborted, false);
    }
    if (chunk.empty()) {
      if (more) {
        asio::post(server_.workers_, [self = shared_from_this(), keep] { self->NextChunk(keep); });
        return;
      }
      return WriteLastChunk(keep);
    }
    chunk_ = std::move(chunk);
    body_bytes_ += chunk_.size();
    stream_.expires_after(server_.options_.write_timeout);
    asio::async_write(stream_, bhttp::make_chunk(asio::buffer(chunk_)),
                      [self = shared_from_this(), more, keep](beast::error_code ec, size_t) {
                        if (ec) return self->FinishRequest(ec, keep);
                        if (more) {
                          asio::post(self->server_.workers_,
                                     [self, keep] { self->NextChunk(keep); });
                        } else {
                          self->WriteLastChunk(keep);
                        }
                      });
  }

  void WriteLastChunk(bool keep) {
    writer_ = nullptr;
    stream_.expires_after(server_.options_.write_timeout);
    asio::async_write(stream_, bhttp::make_chunk_last(),
                      [self = shared_from_this(), keep](beast::error_code ec, size_t) {
                        self->FinishRequest(ec, keep);
                      });
  }

  void FinishRequest(beast::error_code ec, bool keep) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    const std::string_view route =
        request_.route.empty() ? kUnmatchedRoute : std::string_view(request_.route);
    const std::string_view method = MethodName(request_.method);
    if (server_.metrics_) {
      server_.metrics_->ObserveRequest(method, route, status_, seconds);
      server_.metrics_->RequestFinished();
    }
    if (server_.options_.access_log == AccessLog::kOn && LogEnabled(Severity::kInfo)) {
      ScopedLogContext context(RequestLogContext(request_.request_id));
      const std::string status = std::to_string(status_);
      const std::string duration = std::to_string(seconds);
      const std::string req_bytes = std::to_string(request_.body.size());
      const std::string res_bytes = std::to_string(body_bytes_);
      // The raw path is not logged: it may hold customer ids. The route pattern is enough.
      std::vector<LogAttribute> attrs = {
          {"http.request.method", method},       {"http.route", route},
          {"http.response.status_code", status}, {"http.server.request.duration", duration},
          {"http.request.body.size", req_bytes}, {"http.response.body.size", res_bytes},
          {"client.address", request_.peer}};
      // LogAttribute holds views: the actor string must outlive the Log call.
      const std::string actor = request_.principal.Actor();
      if (!actor.empty()) attrs.push_back({"enduser.id", actor});
      if (ec) attrs.push_back({"error.type", "response_write_failed"});
      Log(Severity::kInfo, "http request", attrs);
    }
    server_.in_flight_.fetch_sub(1);
    stream_header_.reset();
    stream_serializer_.reset();
    chunk_.clear();
    // A large answer's memory is not kept for the next requests of an idle connection.
    if (body_.capacity() > kKeptBodyBytes) std::string().swap(body_);
    body_.clear();
    if (ec == bhttp::error::end_of_stream) return CloseGracefully();
    if (ec) return Abandon();
    if (!keep) return CloseGracefully();
    WaitForRequest();
  }

  void CloseGracefully() {
    phase_ = Phase::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Abandon();
    stream_.expires_after(kLingerTimeout);
    Linger();
  }

  void Linger() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > kMaxLingerBytes) return self->Abandon();
                              self->Linger();
                            });
  }

  void Abandon() {
    phase_ = Phase::kClosed;
    beast::error_code ec;
    stream_.socket().close(ec);
    timer_.cancel();  // it holds the session
  }

  beast::tcp_stream stream_;
  Impl& server_;
  // The idle and async timeouts: SetDeadline.
  asio::steady_timer timer_;
  Clock::time_point deadline_ = Clock::time_point::max();  // none
  bool ticking_ = false;                                   // timer_ has a wait pending
  std::shared_ptr<Exchange> exchange_;                     // the request being handled
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string peer_;
  Phase phase_ = Phase::kIdle;

  // The request being served.
  Request request_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  int status_ = 0;
  Clock::time_point started_;
  size_t body_bytes_ = 0;
  size_t lingered_ = 0;

  // The answer being written (kept between requests for their capacity).
  std::string head_buffer_;
  std::string body_;

  // Streaming state.
  BodyWriter writer_;
  std::shared_ptr<bhttp::response<bhttp::empty_body>> stream_header_;
  std::shared_ptr<bhttp::response_serializer<bhttp::empty_body>> stream_serializer_;
  std::string chunk_;
};

bool Server::Impl::Exchange::Answer(const std::shared_ptr<Exchange>& ex, Response res) {
  {
    std::lock_guard<std::mutex> lock(ex->mu);
    if (ex->answered) return false;
    ex->answered = true;
    if (!ex->returned) {
      ex->response = std::move(res);
      return true;
    }
  }
  Deliver(ex, std::move(res));
  return true;
}

void Server::Impl::Exchange::Returned(const std::shared_ptr<Exchange>& ex) {
  std::optional<Response> ready;
  {
    std::lock_guard<std::mutex> lock(ex->mu);
    ex->returned = true;
    if (!ex->answered) return;  // the async timeout, armed at the start, is running
    ready = std::move(ex->response);
    ex->response.reset();
  }
  if (ready) Deliver(ex, std::move(*ready));
}

void Server::Impl::Exchange::Deliver(const std::shared_ptr<Exchange>& ex, Response res) {
  std::lock_guard<std::mutex> gate(ex->gate->mu);
  if (!ex->gate->open) return;  // the server stopped: nobody is listening any more
  std::shared_ptr<Session> session = ex->session.lock();
  if (!session) return;
  Session* raw = session.get();
  asio::post(raw->stream_.get_executor(),
             [session = std::move(session), res = std::move(res)]() mutable {
               session->WriteAnswer(std::move(res));
             });
}

absl::Status Server::Impl::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kNew) return absl::FailedPreconditionError("server already started");
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options_.address, ec);
  if (ec) return absl::InvalidArgumentError("bad bind address: " + options_.address);
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.emplace(*iocs_[0]);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.reset();
    return absl::UnavailableError("cannot listen on " + options_.address + ":" +
                                  std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
  accept_retry_.emplace(acceptor_->get_executor());
  Accept();
  for (const auto& ioc : iocs_) {
    work_.push_back(asio::make_work_guard(*ioc));
    io_threads_.emplace_back([ioc = ioc.get()] {
      pthread_setname_np(pthread_self(), "mct-http-io");  // in top, perf and /proc
      ioc->run();
    });
  }
  state_ = State::kRunning;
  Log(Severity::kInfo, "http server started",
      {{"server.address", options_.address},
       {"server.port", std::to_string(port_.load())},
       {"io_threads", std::to_string(options_.io_threads)},
       {"worker_threads", std::to_string(options_.worker_threads)}});
  return absl::OkStatus();
}

void Server::Impl::Accept() {
  // Connections go to the I/O threads' io_contexts in turn.
  asio::io_context& ioc = *iocs_[next_ioc_++ % iocs_.size()];
  acceptor_->async_accept(ioc.get_executor(), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (ec) {
      // Typically out of file descriptors: back off instead of spinning.
      Log(Severity::kWarn, "accept failed", {{"error.message", ec.message()}});
      accept_retry_->expires_after(std::chrono::milliseconds(100));
      accept_retry_->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor_->is_open()) Accept();
      });
      return;
    }
    auto session = std::make_shared<Session>(std::move(socket), *this);
    if (Register(session.get(), session)) session->Start();
    Accept();
  });
}

bool Server::Impl::Register(Session* session, std::weak_ptr<Session> weak) {
  std::lock_guard<std::mutex> lock(mu_);
  if (draining_.load()) return false;
  sessions_.emplace(session, std::move(weak));
  return true;
}

void Server::Impl::Unregister(Session* session) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(session);
  if (sessions_.empty()) cv_.notify_all();
}

void Server::Impl::CloseAcceptor() {
  if (!acceptor_) return;
  std::promise<void> done;
  asio::post(acceptor_->get_executor(), [this, &done] {
    beast::error_code ec;
    acceptor_->close(ec);
    accept_retry_->cancel();
    done.set_value();
  });
  // The I/O threads are running (state kStopping is set only from kRunning), so this returns.
  done.get_future().wait();
}

bool Server::Impl::BeginStopping() {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == State::kNew) {
    state_ = State::kStopped;
    cv_.notify_all();
    return false;
  }
  if (state_ != State::kRunning) {
    cv_.wait(lock, [&] { return state_ == State::kStopped; });
    return false;
  }
  state_ = State::kStopping;
  draining_.store(true);
  return true;
}

void Server::Impl::StopThreads() {
  {
    // Answers still to come (handlers past the deadline) are dropped from now on.
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->open = false;
  }
  work_.clear();
  for (const auto& ioc : iocs_) ioc->stop();
  for (std::thread& t : io_threads_) t.join();
  io_threads_.clear();
  // Connections still open (past the drain deadline, or on Stop) are cut now rather than
  // when the io_context is destroyed, so their clients see the close promptly.
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  for (auto& s : open) s->ForceClose();
  open.clear();
  // A handler still running past the deadline is waited for: threads cannot be killed.
  workers_.stop();
  workers_.join();
  std::lock_guard<std::mutex> lock(mu_);
  state_ = State::kStopped;
  cv_.notify_all();
}

void Server::Impl::Drain(std::chrono::milliseconds deadline) {
  if (!BeginStopping()) return;
  const auto until = Clock::now() + deadline;
  Log(Severity::kInfo, "http server draining", {{"in_flight", std::to_string(in_flight_.load())}});
  CloseAcceptor();
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& s : sessions) s->CloseIfIdle();
  sessions.clear();  // do not keep them alive ourselves
  bool drained;
  {
    std::unique_lock<std::mutex> lock(mu_);
    drained = cv_.wait_until(lock, until, [&] { return sessions_.empty(); });
  }
  if (!drained) {
    Log(Severity::kWarn, "http server drain deadline passed; cutting connections",
        {{"in_flight", std::to_string(in_flight_.load())}});
  }
  StopThreads();
  Log(Severity::kInfo, "http server stopped", {});
}

void Server::Impl::Stop() {
  if (!BeginStopping()) return;
  CloseAcceptor();
  StopThreads();
  Log(Severity::kInfo, "http server stopped", {});
}

void Server::Impl::DrainOnSignals() {
  signals_.emplace(*iocs_[0], SIGINT, SIGTERM);
  signals_->async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;
    Log(Severity::kInfo, "signal received; draining", {{"signal", std::to_string(signal)}});
    std::lock_guard<std::mutex> lock(mu_);
    if (!drain_thread_.joinable()) {
      // Drain joins the I/O threads, so it cannot run on this one.
      drain_thread_ = std::thread([this] { Drain(options_.drain_timeout); });
    }
  });
}

Server::Server(ServerOptions options, const Router& router, Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics)) {}

Server::~Server() = default;

absl::Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Drain(std::chrono::milliseconds deadline) { impl_->Drain(deadline); }
void Server::Drain() { impl_->Drain(impl_->drain_timeout()); }
void Server::Stop() { impl_->Stop(); }
void Server::DrainOnSignals() { impl_->DrainOnSignals(); }
void Server::Wait() { impl_->Wait(); }
int Server::InFlight() const { return impl_->in_flight(); }

}  // namespace mercator::http
