#include "http/types.h"

#include <algorithm>
#include <future>
#include <iterator>
#include <memory>
#include <utility>

#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "common/log.h"
#include "common/retry_after.h"

namespace mercator::http {
namespace {

constexpr std::string_view kProblemContentType = "application/problem+json";

// Splits "/a/b/c" into {"a", "b", "c"}; "/" gives {""}. Empty segments are kept so that
// "/a//b" and "/a/b/" do not silently match "/a/b".
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      break;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

Problem MakeProblem(int status, std::string detail) {
  Problem p;
  p.status = status;
  p.detail = std::move(detail);
  return p;
}

std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }

bool IsPlaceholder(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

// "{name...}": the last segment of a pattern that takes the rest of the path.
bool IsRestPlaceholder(std::string_view segment) {
  return IsPlaceholder(segment) && segment.size() >= 6 &&
         segment.substr(segment.size() - 4) == "...}";
}

// The parameter a placeholder fills: "{id}" -> "id", "{path...}" -> "path".
std::string PlaceholderName(std::string_view segment) {
  segment = segment.substr(1, segment.size() - 2);
  if (segment.ends_with("...")) segment.remove_suffix(3);
  return std::string(segment);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

}  // namespace

std::string_view Request::Header(std::string_view lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return std::string_view(it->second);
}

Response Response::Json(int status, std::string json_body) {
  Response r;
  r.status = status;
  r.headers["content-type"] = "application/json";
  r.body = std::move(json_body);
  return r;
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers["content-type"] = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response ProblemResponse(const Problem& problem) {
  boost::json::object o;
  o["type"] = problem.type.empty() ? "about:blank" : problem.type;
  o["title"] = problem.title.empty() ? std::string(ReasonPhrase(problem.status)) : problem.title;
  o["status"] = problem.status;
  if (!problem.detail.empty()) o["detail"] = problem.detail;
  if (!problem.errors.empty()) {
    boost::json::array errors;
    errors.reserve(problem.errors.size());
    for (const FieldError& e : problem.errors) {
      errors.push_back(boost::json::object{{"field", e.field}, {"reason", e.reason}});
    }
    o["errors"] = std::move(errors);
  }
  Response r;
  r.status = problem.status;
  r.headers["content-type"] = std::string(kProblemContentType);
  r.body = boost::json::serialize(o);
  return r;
}

Response StatusResponse(const absl::Status& status, std::string_view field) {
  Problem p;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      p.status = 400;
      break;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      p.status = 409;
      break;
    case absl::StatusCode::kNotFound:
      p.status = 404;
      break;
    case absl::StatusCode::kUnauthenticated:
      p.status = 401;
      break;
    case absl::StatusCode::kPermissionDenied:
      p.status = 403;
      break;
    case absl::StatusCode::kResourceExhausted:
      p.status = 429;
      break;
    case absl::StatusCode::kUnavailable:
      p.status = 503;
      break;
    default:
      p.status = 500;
      break;
  }
  if (p.status >= 500) {
    // The message may name tables, files or internal state: log it, send a generic detail.
    Log(Severity::kError, "internal error",
        {{"error.type", absl::StatusCodeToString(status.code())},
         {"error.message", ToStd(status.message())}});
    p.detail = p.status == 503 ? "The service is temporarily unavailable; retry later."
                               : "An internal error occurred.";
    return ProblemResponse(p);
  }
  p.detail = std::string(ToStd(status.message()));
  if (!field.empty()) {
    // "rule: column 13: expected ..." names the field first; the reason is the rest.
    std::string_view reason = p.detail;
    const std::string prefix = std::string(field) + ": ";
    if (reason.substr(0, prefix.size()) == prefix) reason.remove_prefix(prefix.size());
    p.errors.push_back({std::string(field), std::string(reason)});
  }
  Response r = ProblemResponse(p);
  if (std::optional<int64_t> retry = RetryAfterOf(status)) {
    r.headers["retry-after"] = std::to_string(*retry);
  }
  return r;
}

Responder::Responder(std::function<void(Response)> complete) : complete_(std::move(complete)) {}

Responder::Responder(Responder&& other) noexcept : complete_(std::move(other.complete_)) {
  other.complete_ = nullptr;
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    // Overwriting a pending responder drops it: it answers 500 like a destroyed one.
    Responder dropped(std::move(*this));
    complete_ = std::move(other.complete_);
    other.complete_ = nullptr;
  }
  return *this;
}

Responder::~Responder() {
  if (!complete_) return;
  try {
    Log(Severity::kError, "a request's handler ended without answering it; answered 500", {});
    (*this)(ProblemResponse(MakeProblem(500, "An internal error occurred.")));
  } catch (...) {
    // A destructor must not throw; the server's timeout answers instead.
  }
}

void Responder::operator()(Response response) {
  if (!complete_) return;
  std::function<void(Response)> complete = std::move(complete_);
  complete_ = nullptr;
  complete(std::move(response));
}

void Router::Add(Method method, std::string pattern, Auth auth, Handler handler) {
  Route route;
  route.method = method;
  for (std::string_view s : SplitPath(pattern)) route.segments.emplace_back(s);
  route.pattern = std::move(pattern);
  route.auth = auth;
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
  Index(routes_.size() - 1);
}

void Router::AddAsync(Method method, std::string pattern, Auth auth, AsyncHandler handler) {
  Route route;
  route.method = method;
  for (std::string_view s : SplitPath(pattern)) route.segments.emplace_back(s);
  route.pattern = std::move(pattern);
  route.auth = auth;
  route.async_handler = std::move(handler);
  routes_.push_back(std::move(route));
  Index(routes_.size() - 1);
}

void Router::Index(size_t ix) {
  const Route& r = routes_[ix];
  if (!r.segments.empty() && IsRestPlaceholder(r.segments.back())) {
    with_rest_.push_back(static_cast<uint32_t>(ix));
    return;
  }
  if (by_count_.size() <= r.segments.size()) by_count_.resize(r.segments.size() + 1);
  by_count_[r.segments.size()].push_back(static_cast<uint32_t>(ix));
}

void Router::AddInline(Method method, std::string pattern, Auth auth, AsyncHandler handler) {
  AddAsync(method, std::move(pattern), auth, std::move(handler));
  routes_.back().on_io_thread = true;
}

void Router::SetAuthenticator(std::function<absl::Status(Request&)> authenticator) {
  authenticator_ = std::move(authenticator);
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const Route& r : routes_) out.push_back({r.method, r.pattern, r.auth});
  return out;
}

Response Router::Dispatch(Request& request) const {
  auto answer = std::make_shared<std::promise<Response>>();
  std::future<Response> future = answer->get_future();
  Dispatch(request, Responder([answer](Response res) { answer->set_value(std::move(res)); }));
  return future.get();
}

namespace {

// HEAD answered by a GET route: the headers of the GET answer, its length, no body.
Response StripForHead(Response res) {
  if (res.stream) {
    res.stream = nullptr;
  } else if (res.headers.find("content-length") == res.headers.end()) {
    res.headers["content-length"] = std::to_string(res.body.size());
  }
  res.body.clear();
  return res;
}

}  // namespace

void Router::Dispatch(Request& request, Responder respond) const {
  Dispatch(request, std::move(respond), nullptr);
}

bool Router::Dispatch(Request& request, Responder respond,
                      const std::function<void(std::function<void()>)>& to_worker) const {
  // Split the raw path, then decode each segment, so that an encoded "/" (%2F) stays inside
  // its segment. Requests built without a target (tests) use the decoded path as is.
  std::vector<std::string> decoded;
  std::string_view raw = request.target;
  raw = raw.substr(0, raw.find_first_of("?#"));
  if (raw.empty()) raw = request.path;
  for (std::string_view part : SplitPath(raw)) {
    std::string segment;
    if (!PercentDecode(part, /*plus_is_space=*/false, segment)) segment = std::string(part);
    decoded.push_back(std::move(segment));
  }
  const std::vector<std::string_view> parts(decoded.begin(), decoded.end());

  // Literal-segment mask of a route that matches the path, or nullopt: bit 63 for the first
  // segment, bit 62 for the second..., so a greater mask is more specific (a literal segment
  // earlier). Segments past the 64th do not take part in the choice.
  // A pattern ending in "{name...}" takes one or more remaining segments (the last may be
  // empty: "/console/" matches "/console/{path...}" with path "").
  auto match = [&](const Route& r) -> std::optional<uint64_t> {
    const bool rest = !r.segments.empty() && IsRestPlaceholder(r.segments.back());
    if (rest ? parts.size() < r.segments.size() : r.segments.size() != parts.size()) {
      return std::nullopt;
    }
    uint64_t mask = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (rest && i + 1 >= r.segments.size()) break;
      if (IsPlaceholder(r.segments[i])) {
        if (parts[i].empty()) return std::nullopt;
      } else if (r.segments[i] != parts[i]) {
        return std::nullopt;
      } else if (i < 64) {
        mask |= uint64_t{1} << (63 - i);
      }
    }
    return mask;
  };

  // The candidates in registration order (ties go to the first registered).
  static const std::vector<uint32_t> kNone;
  const std::vector<uint32_t>& exact =
      parts.size() < by_count_.size() ? by_count_[parts.size()] : kNone;
  std::vector<uint32_t> candidates;
  candidates.reserve(exact.size() + with_rest_.size());
  std::merge(exact.begin(), exact.end(), with_rest_.begin(), with_rest_.end(),
             std::back_inserter(candidates));

  const bool head = request.method == Method::kHead;
  const Route* best = nullptr;
  const Route* best_get = nullptr;  // for HEAD without its own route
  uint64_t best_mask = 0, best_get_mask = 0;
  std::vector<Method> allowed;
  for (uint32_t ix : candidates) {
    const Route& r = routes_[ix];
    std::optional<uint64_t> mask = match(r);
    if (!mask) continue;
    allowed.push_back(r.method);
    if (r.method == request.method && (best == nullptr || *mask > best_mask)) {
      best = &r;
      best_mask = *mask;
    } else if (head && r.method == Method::kGet && (best_get == nullptr || *mask > best_get_mask)) {
      best_get = &r;
      best_get_mask = *mask;
    }
  }

  bool head_via_get = false;
  if (best == nullptr && best_get != nullptr) {
    best = best_get;
    head_via_get = true;
  }

  if (best == nullptr) {
    if (allowed.empty()) {
      request.route.clear();
      respond(ProblemResponse(MakeProblem(404, "No resource at this path.")));
      return false;
    }
    if (std::find(allowed.begin(), allowed.end(), Method::kGet) != allowed.end()) {
      allowed.push_back(Method::kHead);
    }
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    std::string allow;
    for (Method m : allowed) {
      if (!allow.empty()) allow += ", ";
      allow += MethodName(m);
    }
    // Any matching pattern names the resource for metrics; pick the first registered.
    for (uint32_t ix : candidates) {
      if (match(routes_[ix])) {
        request.route = routes_[ix].pattern;
        break;
      }
    }
    Response res =
        ProblemResponse(MakeProblem(405, "This method is not allowed on this resource."));
    res.headers["allow"] = std::move(allow);
    respond(std::move(res));
    return false;
  }

  request.route = best->pattern;
  request.path_params.clear();
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& seg = best->segments[i];
    if (IsRestPlaceholder(seg)) {
      std::string rest(parts[i]);
      for (size_t j = i + 1; j < parts.size(); ++j) rest.append("/").append(parts[j]);
      request.path_params[PlaceholderName(seg)] = std::move(rest);
      break;
    }
    if (IsPlaceholder(seg)) request.path_params[PlaceholderName(seg)] = std::string(parts[i]);
  }

  if (to_worker && !best->on_io_thread) {
    // std::function needs a copyable target, hence the shared_ptr around the move-only one.
    auto moved = std::make_shared<Responder>(std::move(respond));
    to_worker([this, best, head_via_get, &request, moved] {
      Run(*best, head_via_get, request, std::move(*moved));
    });
    return true;
  }
  Run(*best, head_via_get, request, std::move(respond));
  return false;
}

void Router::Run(const Route& route, bool head_via_get, Request& request, Responder respond) const {
  if (route.auth == Auth::kRequired) {
    if (!authenticator_) {
      return respond(ProblemResponse(MakeProblem(401, "Authentication is required.")));
    }
    absl::Status auth = authenticator_(request);
    if (!auth.ok()) return respond(StatusResponse(auth));
  }

  if (route.async_handler) {
    if (head_via_get) {
      // std::function needs a copyable target, hence the shared_ptr around the move-only one.
      auto inner = std::make_shared<Responder>(std::move(respond));
      respond = Responder([inner](Response res) { (*inner)(StripForHead(std::move(res))); });
    }
    return route.async_handler(request, std::move(respond));
  }
  Response res = route.handler(request);
  respond(head_via_get ? StripForHead(std::move(res)) : std::move(res));
}

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      return "OTHER";
  }
  return "OTHER";
}

Method ParseMethod(std::string_view name) {
  static constexpr std::pair<std::string_view, Method> kMethods[] = {
      {"GET", Method::kGet},        {"HEAD", Method::kHead},   {"POST", Method::kPost},
      {"PUT", Method::kPut},        {"PATCH", Method::kPatch}, {"DELETE", Method::kDelete},
      {"OPTIONS", Method::kOptions}};
  for (const auto& [n, m] : kMethods) {
    if (n == name) return m;
  }
  return Method::kOther;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

absl::Status ParseTarget(Request& request) {
  std::string_view target = request.target;
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError("request target must start with '/'");
  }
  std::string_view raw_path = target;
  std::string_view raw_query;
  if (const size_t q = target.find('?'); q != std::string_view::npos) {
    raw_path = target.substr(0, q);
    raw_query = target.substr(q + 1);
  }
  if (const size_t hash = raw_query.find('#'); hash != std::string_view::npos) {
    raw_query = raw_query.substr(0, hash);
  }
  if (!PercentDecode(raw_path, /*plus_is_space=*/false, request.path)) {
    return absl::InvalidArgumentError("bad percent-encoding in path");
  }
  request.query.clear();
  std::string key, value;
  while (!raw_query.empty()) {
    const size_t amp = raw_query.find('&');
    std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string_view raw_key = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!PercentDecode(raw_key, true, key) || !PercentDecode(raw_value, true, value)) {
      return absl::InvalidArgumentError("bad percent-encoding in query");
    }
    request.query.emplace(std::move(key), std::move(value));
  }
  return absl::OkStatus();
}

}  // namespace mercator::http
