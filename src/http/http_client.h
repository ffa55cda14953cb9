// Outbound HTTP/1.1 for calls to other systems (a bank's eligibility service). No Beast or
// Asio here: callers see only these types; the implementation lives in http_client.cc.
//
// One request per connection (Connection: close), whole bodies in memory (capped), no
// redirects. http:// and https:// (TLS 1.2 or later through OpenSSL: the peer's certificate
// chain is verified against the system's CA store and an optional extra CA bundle, its name
// against the URL's host, with SNI; optionally a client certificate for mutual TLS, as banks'
// internal gateways often require).
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
  // DeadlineExceeded when the timeout passes; Unavailable when the peer cannot be reached, its
  // certificate is not trusted or does not name the host, or the exchange breaks;
  // InvalidArgument for a URL this client cannot use. Any HTTP status is a response (callers
  // decide what a 5xx means).
  virtual absl::StatusOr<ClientResponse> Send(const ClientRequest& request) = 0;
};

struct HttpClientOptions {
  size_t max_response_bytes = 1024 * 1024;
  // https://: PEM CA certificates trusted besides the system's store (a bank's internal CA).
  std::string ca_file;
  // https://: a PEM client certificate (chain) and its private key, for mutual TLS; both or
  // neither.
  std::string client_cert_file;
  std::string client_key_file;
};

// InvalidArgument naming the option when a CA, certificate or key file cannot be used.
absl::StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(HttpClientOptions options = {});

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
