#include "http/test_client.h"

#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http.hpp"

namespace mercator::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string Lower(beast::string_view s) {
  std::string out(s.data(), s.size());
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

}  // namespace

std::string_view HttpResult::Header(std::string_view lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

struct TestClient::Impl {
  uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  int opened = 0;
  int exchanges = 0;  // on the current connection

  // Runs the io_context until the started operation completes.
  void Run() {
    ioc.restart();
    ioc.run();
  }

  beast::error_code Connect() {
    Close();
    stream.emplace(ioc);
    stream->expires_after(timeout);
    beast::error_code result;
    stream->async_connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port),
                          [&](beast::error_code ec) { result = ec; });
    Run();
    if (result) {
      stream.reset();
    } else {
      ++opened;
      exchanges = 0;
    }
    return result;
  }

  void Close() {
    if (stream) {
      beast::error_code ec;
      stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream->socket().close(ec);
    }
    stream.reset();
    buffer.consume(buffer.size());
  }

  // Writes `out` (already on an open connection) and reads one response.
  HttpResult Exchange(const std::string& out, bool head, bool* nothing_received) {
    HttpResult result;
    *nothing_received = false;
    beast::error_code ec;
    stream->expires_after(timeout);
    asio::async_write(*stream, asio::buffer(out), [&](beast::error_code e, size_t) { ec = e; });
    Run();
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    parser.header_limit(1024 * 1024);
    if (head) parser.skip(true);
    if (!ec) {
      stream->expires_after(timeout);
      bhttp::async_read(*stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
      Run();
    } else {
      // The server may have answered (413) and closed before taking the whole request.
      beast::error_code read_ec;
      stream->expires_after(timeout);
      bhttp::async_read(*stream, buffer, parser, [&](beast::error_code e, size_t) { read_ec = e; });
      Run();
      if (!read_ec) ec = {};
    }
    ++exchanges;
    if (ec) {
      *nothing_received = !parser.got_some();
      result.error = ec == beast::error::timeout ? "timeout" : ec.message();
      Close();
      return result;
    }
    const auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      std::string name = Lower(field.name_string());
      auto [it, inserted] = result.headers.emplace(std::move(name), std::string(field.value()));
      if (!inserted) {
        it->second += ", ";
        it->second += std::string_view(field.value());
      }
    }
    result.chunked = parser.chunked();
    result.keep_alive = res.keep_alive();
    result.body = res.body();
    if (!result.keep_alive) Close();
    return result;
  }
};

TestClient::TestClient(uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->timeout = timeout;
}

TestClient::~TestClient() { impl_->Close(); }

HttpResult TestClient::Fetch(std::string_view method, std::string_view target,
                             std::string_view body, const Headers& headers) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(impl_->port));
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.prepare_payload();
  }
  std::string out;
  {
    std::ostringstream os;
    os << req;
    out = os.str();
  }
  const bool head = method == "HEAD";
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->stream.has_value() && impl_->exchanges > 0;
    if (!impl_->stream) {
      if (beast::error_code ec = impl_->Connect()) {
        HttpResult r;
        r.error = ec.message();
        return r;
      }
    }
    bool nothing_received = false;
    HttpResult r = impl_->Exchange(out, head, &nothing_received);
    if (r.ok() || !reused || !nothing_received) return r;
  }
  HttpResult r;
  r.error = "connection closed";
  return r;
}

HttpResult TestClient::SendRaw(std::string_view bytes) {
  if (!impl_->stream) {
    if (beast::error_code ec = impl_->Connect()) {
      HttpResult r;
      r.error = ec.message();
      return r;
    }
  }
  bool nothing_received = false;
  return impl_->Exchange(std::string(bytes), /*head=*/false, &nothing_received);
}

void TestClient::Close() { impl_->Close(); }

bool TestClient::connected() const { return impl_->stream.has_value(); }

int TestClient::connections_opened() const { return impl_->opened; }

HttpResult Fetch(uint16_t port, std::string_view method, std::string_view target,
                 std::string_view body, const Headers& headers) {
  TestClient client(port);
  return client.Fetch(method, target, body, headers);
}

}  // namespace mercator::http
