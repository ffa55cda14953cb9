#include "http/http_client.h"

#include <charconv>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/strings/ascii.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/asio/ssl/host_name_verification.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl/ssl_stream.hpp"
#include "openssl/ssl.h"

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

// An IPv4 or IPv6 literal (no SNI for those: RFC 6066 allows host names only).
bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

// One exchange over `stream` (a TCP stream, or TLS over one: `tcp` is its lowest layer):
// resolve, connect, the TLS handshake, write, read, all under one deadline.
template <class Stream>
absl::StatusOr<ClientResponse> Exchange(asio::io_context& ioc, Stream& stream,
                                        beast::tcp_stream& tcp, const ParsedUrl& url,
                                        bhttp::request<bhttp::string_body>& out,
                                        size_t max_response_bytes,
                                        std::chrono::milliseconds timeout) {
  constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  beast::error_code failure;
  const char* stage = "resolving";

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(max_response_bytes);
  parser.header_limit(64 * 1024);

  auto read = [&] {
    stage = "reading";
    bhttp::async_read(stream, buffer, parser, [&](beast::error_code ec, size_t) {
      if (ec) failure = ec;
    });
  };
  auto write = [&] {
    stage = "sending";
    bhttp::async_write(stream, out, [&](beast::error_code ec, size_t) {
      if (ec) {
        failure = ec;
        return;
      }
      read();
    });
  };

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
      url.host, std::to_string(url.port),
      [&](beast::error_code ec, tcp::resolver::results_type results) {
        resolve_timer.cancel();
        if (ec) {
          failure = ec;
          return;
        }
        stage = "connecting";
        tcp.expires_at(deadline);
        tcp.async_connect(results, [&](beast::error_code ec2, const tcp::endpoint&) {
          if (ec2) {
            failure = ec2;
            return;
          }
          if constexpr (kTls) {
            stage = "TLS handshake";
            stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec3) {
              if (ec3) {
                failure = ec3;
                return;
              }
              write();
            });
          } else {
            write();
          }
        });
      });
  ioc.run();
  beast::error_code ignored;
  tcp.socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp.socket().close(ignored);

  if (timed_out || failure == beast::error::timeout) {
    return absl::DeadlineExceededError(std::string("http client: no answer within the timeout (") +
                                       stage + ")");
  }
  if (failure) {
    return absl::UnavailableError(std::string("http client: ") + stage + ": " + failure.message());
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

class BeastHttpClient final : public HttpClient {
 public:
  BeastHttpClient(HttpClientOptions options, std::unique_ptr<asio::ssl::context> tls)
      : options_(std::move(options)), tls_(std::move(tls)) {}

  absl::StatusOr<ClientResponse> Send(const ClientRequest& request) override {
    absl::StatusOr<ParsedUrl> url = ParseUrl(request.url);
    if (!url.ok()) return url.status();
    const bhttp::verb verb = VerbOf(request.method);
    if (verb == bhttp::verb::unknown) return absl::InvalidArgumentError("method: not supported");
    const bool https = url->scheme == "https";

    bhttp::request<bhttp::string_body> out(verb, url->target, 11);
    for (const auto& [name, value] : request.headers) out.set(name, value);
    const uint16_t default_port = https ? 443 : 80;
    const std::string host =
        url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
    out.set(bhttp::field::host,
            url->port == default_port ? host : host + ":" + std::to_string(url->port));
    out.set(bhttp::field::connection, "close");
    out.body() = request.body;
    out.prepare_payload();

    // A private io_context per call: the call blocks its thread, and every operation shares
    // one deadline, so a slow peer cannot hold the caller longer than the timeout.
    asio::io_context ioc;
    if (!https) {
      beast::tcp_stream stream(ioc);
      return Exchange(ioc, stream, stream, *url, out, options_.max_response_bytes, request.timeout);
    }
    beast::ssl_stream<beast::tcp_stream> stream(ioc, *tls_);
    if (!IsIpLiteral(url->host) &&
        SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str()) != 1) {
      return absl::InvalidArgumentError("url: host name not usable for TLS (SNI)");
    }
    // The chain is verified (verify_peer) and the leaf must name the URL's host (DNS or IP
    // subject alternative name).
    stream.set_verify_callback(asio::ssl::host_name_verification(url->host));
    return Exchange(ioc, stream, beast::get_lowest_layer(stream), *url, out,
                    options_.max_response_bytes, request.timeout);
  }

 private:
  const HttpClientOptions options_;
  const std::unique_ptr<asio::ssl::context> tls_;
};

absl::StatusOr<std::unique_ptr<asio::ssl::context>> NewTlsContext(const HttpClientOptions& o) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);  // the system's store; none is fine with a ca_file
  if (!o.ca_file.empty()) {
    ctx->load_verify_file(o.ca_file, ec);
    if (ec) {
      return absl::InvalidArgumentError("http client ca_file '" + o.ca_file +
                                        "': not a readable PEM CA bundle (" + ec.message() + ")");
    }
  }
  if (o.client_cert_file.empty() != o.client_key_file.empty()) {
    return absl::InvalidArgumentError(
        "http client client_cert_file/client_key_file: give both or neither");
  }
  if (!o.client_cert_file.empty()) {
    ctx->use_certificate_chain_file(o.client_cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError("http client client_cert_file '" + o.client_cert_file +
                                        "': " + ec.message());
    }
    ctx->use_private_key_file(o.client_key_file, asio::ssl::context::pem, ec);
    if (ec || SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return absl::InvalidArgumentError("http client client_key_file '" + o.client_key_file +
                                        "': not the private key of client_cert_file");
    }
  }
  return ctx;
}

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

absl::StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(HttpClientOptions options) {
  absl::StatusOr<std::unique_ptr<asio::ssl::context>> tls = NewTlsContext(options);
  if (!tls.ok()) return tls.status();
  return std::unique_ptr<HttpClient>(
      std::make_unique<BeastHttpClient>(std::move(options), std::move(*tls)));
}

}  // namespace mercator::http
