// Plain request/response types and the router interface shared by http/ and api/.
// Nothing here includes Boost.Beast or Asio: api/ handlers see only these types.
#ifndef MERCATOR_HTTP_TYPES_H_
#define MERCATOR_HTTP_TYPES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/principal.h"

namespace mercator::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

// Case-insensitive header names are stored lower-cased.
using Headers = std::map<std::string, std::string, std::less<>>;

struct Request {
  Method method = Method::kGet;
  std::string target;                                           // as received: path and query
  std::string path;                                             // percent-decoded path
  std::map<std::string, std::string, std::less<>> query;        // decoded query parameters
  std::map<std::string, std::string, std::less<>> path_params;  // filled by the router
  Headers headers;
  std::string body;
  std::string request_id;  // X-Request-Id (given or generated)
  Principal principal;     // set by the auth middleware: who is calling
  std::string route;       // the matched pattern ("/v1/customers/{id}"), set by the router
  std::string peer;        // remote address ("127.0.0.1"), set by the server
  // Set by the server for handlers added with Router::AddInline, which run on the
  // connection's I/O thread: runs `work` on a worker thread, for a part of the request that
  // may block (a SQLite write, a call to another system). `work` must not use this Request
  // (the connection reuses it once the request is answered) and answers through the
  // Responder it captured. Empty elsewhere: the handler is already on a thread that may block.
  std::function<void(std::function<void()>)> offload;

  std::string_view Header(std::string_view lower_name) const;
  std::optional<std::string_view> Query(std::string_view name) const;
};

// Produces a streamed body piece by piece: returns false when done. Used for large exports;
// the server sends it with chunked transfer encoding. Runs on a worker thread.
using BodyWriter = std::function<bool(std::string& chunk)>;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  BodyWriter stream;  // if set, `body` is ignored and the body is streamed

  static Response Json(int status, std::string json_body);
  static Response Text(int status, std::string body, std::string content_type);
};

// RFC 9457 problem details. `errors` lists field-level problems: {pointer or name, reason}.
struct FieldError {
  std::string field;  // "/rules/2/value", "rule", "line 12 column province"
  std::string reason;
};
struct Problem {
  int status = 400;
  std::string type = "about:blank";
  std::string title;
  std::string detail;
  std::vector<FieldError> errors;
};
Response ProblemResponse(const Problem& problem);

// The one mapping from absl::Status to HTTP: InvalidArgument/OutOfRange/FailedPrecondition ->
// 400/400/409, NotFound -> 404, AlreadyExists -> 409, Unauthenticated -> 401,
// PermissionDenied -> 403, ResourceExhausted -> 429 (with Retry-After if the status carries
// one, common/retry_after.h), Unavailable -> 503, anything else -> 500
// (with a generic detail; the status message is logged, never sent).
// `field` names the input member the status is about, if known.
Response StatusResponse(const absl::Status& status, std::string_view field = {});

using Handler = std::function<Response(Request&)>;

// Completes an asynchronous request (Router::AddAsync): call it once, from any thread, with
// the response. Move-only. Destroying a Responder that was never called answers 500 (a
// handler that dropped its request must not hold the connection). Calls after the first, and
// calls after the server gave up on the request (its async timeout, a stop), are ignored.
class Responder {
 public:
  Responder() = default;
  // `complete` receives the one response; the server and Router::Dispatch make these.
  explicit Responder(std::function<void(Response)> complete);
  Responder(Responder&& other) noexcept;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void operator()(Response response);
  // False once called or moved from.
  explicit operator bool() const { return static_cast<bool>(complete_); }

 private:
  std::function<void(Response)> complete_;
};

// An asynchronous handler starts the work and returns; it (or whatever it hands the
// Responder to) answers later. The Request is valid only during the call: copy what the
// answer needs. The handler must not touch the Request after calling the Responder.
using AsyncHandler = std::function<void(Request&, Responder)>;

enum class Auth { kRequired, kPublic };

// Maps method + path pattern to a handler. Patterns are literal segments and `{name}`
// placeholders: "/v1/customers/{id}". Register all routes before the server starts;
// Dispatch is then safe for concurrent use.
class Router {
 public:
  void Add(Method method, std::string pattern, Auth auth, Handler handler);
  // A route whose handler answers later through its Responder, so a worker thread is not
  // held while it waits (a draw waiting for its group commit). Authentication, request ids,
  // the access log and metrics apply as for Add.
  void AddAsync(Method method, std::string pattern, Auth auth, AsyncHandler handler);
  // An asynchronous route whose authentication and handler run on the connection's I/O
  // thread, without the hand-off to a worker (a draw: a few microseconds of work, then a
  // wait for the group commit). The handler must not block: what may (a SQLite write, a call
  // to another system) goes to `request.offload`. Reads of memory and short SQLite reads
  // (a nonce, a session) are fine.
  void AddInline(Method method, std::string pattern, Auth auth, AsyncHandler handler);
  // Patterns are literal segments and "{name}" placeholders; a last segment "{name...}" takes
  // the rest of the path, slashes included (static files).
  // Unknown path -> 404 problem; known path, other method -> 405 problem with Allow header.
  // When several patterns match, the one with a literal segment earliest wins
  // ("/v1/a/count" over "/v1/a/{id}"). HEAD without its own route runs the GET handler and
  // drops the body, keeping its Content-Length. Routes with Auth::kRequired go through the
  // authenticator first; with no authenticator set they answer 401 (fail closed).
  // Sets request.route and request.path_params. Exceptions from handlers propagate (the
  // server turns them into 500).
  //
  // `respond` is called exactly once: before Dispatch returns for synchronous routes and
  // answers decided by the router (404, 405, 401), later for asynchronous ones. If a handler
  // throws, the exception propagates, and a Responder not called yet answers 500 as the
  // unwinding destroys it.
  void Dispatch(Request& request, Responder respond) const;
  // The server's form, called on an I/O thread: routes added with AddInline run here, the
  // others (authentication included) are handed to `to_worker`, which runs them later on a
  // worker thread; the request must stay valid until they finished. Answers decided by the
  // router (404, 405) are given here. Returns true if the request was handed over.
  bool Dispatch(Request& request, Responder respond,
                const std::function<void(std::function<void()>)>& to_worker) const;
  // The synchronous form (tests, tools): waits for an asynchronous route's answer.
  Response Dispatch(Request& request) const;
  // Called for Auth::kRequired routes; sets request.principal and returns OK, or returns the
  // status to answer with (Unauthenticated -> 401, PermissionDenied -> 403).
  void SetAuthenticator(std::function<absl::Status(Request&)> authenticator);

  struct RouteInfo {
    Method method;
    std::string pattern;
    Auth auth;
  };
  std::vector<RouteInfo> Routes() const;

 private:
  struct Route {
    Method method;
    std::vector<std::string> segments;
    std::string pattern;
    Auth auth;
    Handler handler;  // exactly one of handler and async_handler is set
    AsyncHandler async_handler;
    bool on_io_thread = false;  // AddInline
  };
  // Authentication, then the handler.
  void Run(const Route& route, bool head_via_get, Request& request, Responder respond) const;
  void Index(size_t ix);
  std::vector<Route> routes_;
  // The routes a path of n segments can match, as indexes into routes_ in registration order:
  // by_count_[n] (patterns of exactly n segments) merged with with_rest_ (patterns ending in
  // "{name...}", which match longer paths). A request looks at these, not at every route.
  std::vector<std::vector<uint32_t>> by_count_;
  std::vector<uint32_t> with_rest_;
  std::function<absl::Status(Request&)> authenticator_;
};

std::string_view MethodName(Method m);
// "GET" -> kGet; unknown or lower-case names -> kOther (methods are case-sensitive).
Method ParseMethod(std::string_view name);
// The standard reason phrase ("Not Found"), or "Unknown" for unregistered codes.
std::string_view ReasonPhrase(int status);

// Fills request.path and request.query from request.target (origin form: path and optional
// query; "+" in the query means space). Returns InvalidArgument for a target that does not
// start with "/" or has bad percent-encoding. Repeated query keys: the first one wins.
absl::Status ParseTarget(Request& request);

}  // namespace mercator::http

#endif  // MERCATOR_HTTP_TYPES_H_
