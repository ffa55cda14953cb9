// Outbound HTTP/1.1 for calls to other systems (a bank's eligibility service). No Beast or
// Asio here: callers see only these types; the implementation lives in http_client.cc.
//
// One request per connection (Connection: close), whole bodies in memory (capped), no
// redirects. http:// is supported; https:// is not built yet and answers Unimplemented, which
// callers treat like any other failure.
//
// Thread safety: HttpClient implementations are safe for concurrent use; each call blocks the
// calling thread for at most its timeout.
#ifndef MERCATOR_HTTP_HTTP_CLIENT_H_
#define MERCATOR_HTTP_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "http/types.h"

namespace mercator::http {

struct ClientRequest {
  Method method = Method::kPost;
  std::string url;  // http://host[:port]/path[?query]
  Headers headers;  // lower-case names; Host, Content-Length and Connection are added
  std::string body;
  // The whole exchange (resolve, connect, write, read) must finish within this.
  std::chrono::milliseconds timeout{500};
};

struct ClientResponse {
  int status = 0;
  Headers headers;  // lower-case names
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // DeadlineExceeded when the timeout passes; Unavailable when the peer cannot be reached or
  // the exchange breaks; InvalidArgument for a URL this client cannot use; Unimplemented for
  // https://. Any HTTP status is a response (callers decide what a 5xx means).
  virtual absl::StatusOr<ClientResponse> Send(const ClientRequest& request) = 0;
};

struct HttpClientOptions {
  size_t max_response_bytes = 1024 * 1024;
};

std::unique_ptr<HttpClient> NewHttpClient(HttpClientOptions options = {});

// Splits an http:// or https:// URL. InvalidArgument for anything else.
struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  uint16_t port = 0;
  std::string target;  // path and query, "/" at least
};
absl::StatusOr<ParsedUrl> ParseUrl(std::string_view url);

}  // namespace mercator::http

#endif  // MERCATOR_HTTP_HTTP_CLIENT_H_
