#include "http/http_client.h"

#include <charconv>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http.hpp"

namespace mercator::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

bhttp::verb VerbOf(Method m) {
  switch (m) {
    case Method::kGet:
      return bhttp::verb::get;
    case Method::kHead:
      return bhttp::verb::head;
    case Method::kPost:
      return bhttp::verb::post;
    case Method::kPut:
      return bhttp::verb::put;
    case Method::kPatch:
      return bhttp::verb::patch;
    case Method::kDelete:
      return bhttp::verb::delete_;
    case Method::kOptions:
      return bhttp::verb::options;
    case Method::kOther:
      break;
  }
  return bhttp::verb::unknown;
}

class BeastHttpClient final : public HttpClient {
 public:
  explicit BeastHttpClient(HttpClientOptions options) : options_(options) {}

  absl::StatusOr<ClientResponse> Send(const ClientRequest& request) override {
    absl::StatusOr<ParsedUrl> url = ParseUrl(request.url);
    if (!url.ok()) return url.status();
    if (url->scheme == "https") {
      return absl::UnimplementedError("https:// is not supported by this build's HTTP client");
    }
    const bhttp::verb verb = VerbOf(request.method);
    if (verb == bhttp::verb::unknown) return absl::InvalidArgumentError("method: not supported");

    // A private io_context per call: the call blocks its thread, and every operation shares
    // one deadline, so a slow peer cannot hold the caller longer than the timeout.
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    const auto deadline = std::chrono::steady_clock::now() + request.timeout;
    bool timed_out = false;
    beast::error_code failure;
    const char* stage = "resolving";

    bhttp::request<bhttp::string_body> out(verb, url->target, 11);
    for (const auto& [name, value] : request.headers) out.set(name, value);
    out.set(bhttp::field::host,
            url->port == 80 ? url->host : url->host + ":" + std::to_string(url->port));
    out.set(bhttp::field::connection, "close");
    out.body() = request.body;
    out.prepare_payload();

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.header_limit(64 * 1024);

    tcp::resolver resolver(ioc);
    asio::steady_timer resolve_timer(ioc);
    resolve_timer.expires_at(deadline);
    resolve_timer.async_wait([&](beast::error_code ec) {
      if (!ec) {
        timed_out = true;
        resolver.cancel();
      }
    });
    resolver.async_resolve(
        url->host, std::to_string(url->port),
        [&](beast::error_code ec, tcp::resolver::results_type results) {
          resolve_timer.cancel();
          if (ec) {
            failure = ec;
            return;
          }
          stage = "connecting";
          stream.expires_at(deadline);
          stream.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
            if (ec2) {
              failure = ec2;
              return;
            }
            stage = "sending";
            bhttp::async_write(stream, out, [&](beast::error_code ec3, size_t) {
              if (ec3) {
                failure = ec3;
                return;
              }
              stage = "reading";
              bhttp::async_read(stream, buffer, parser, [&](beast::error_code ec4, size_t) {
                if (ec4) failure = ec4;
              });
            });
          });
        });
    ioc.run();
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);

    if (timed_out || failure == beast::error::timeout) {
      return absl::DeadlineExceededError(
          std::string("http client: no answer within the timeout (") + stage + ")");
    }
    if (failure) {
      return absl::UnavailableError(std::string("http client: ") + stage + ": " +
                                    failure.message());
    }
    ClientResponse response;
    const auto& in = parser.get();
    response.status = static_cast<int>(in.result_int());
    for (const auto& field : in) {
      std::string name(field.name_string());
      for (char& c : name) c = absl::ascii_tolower(static_cast<unsigned char>(c));
      response.headers[name] = std::string(field.value());
    }
    response.body = in.body();
    return response;
  }

 private:
  const HttpClientOptions options_;
};

}  // namespace

absl::StatusOr<ParsedUrl> ParseUrl(std::string_view url) {
  ParsedUrl p;
  std::string_view rest;
  if (url.starts_with("http://")) {
    p.scheme = "http";
    p.port = 80;
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    p.scheme = "https";
    p.port = 443;
    rest = url.substr(8);
  } else {
    return absl::InvalidArgumentError("url: must start with http:// or https://");
  }
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  p.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (p.target.front() == '?') p.target.insert(0, "/");
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("url: needs a host (and no user info)");
  }
  std::string_view port;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("url: bad IPv6 host");
    p.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return absl::InvalidArgumentError("url: bad port");
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    p.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (p.host.empty()) return absl::InvalidArgumentError("url: needs a host");
  if (!port.empty()) {
    int v = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || end != port.data() + port.size() || v < 1 || v > 65535) {
      return absl::InvalidArgumentError("url: bad port");
    }
    p.port = static_cast<uint16_t>(v);
  }
  return p;
}

std::unique_ptr<HttpClient> NewHttpClient(HttpClientOptions options) {
  return std::make_unique<BeastHttpClient>(options);
}

}  // namespace mercator::http
