// The outbound client over https:// against a real TLS server (OpenSSL through Asio) with
// certificates made by the openssl command for this test: a private CA, a server certificate
// for localhost and 127.0.0.1, one for another name, and a client certificate for mutual TLS.
// The server records what it saw (SNI, the request, the client's certificate).
#include "http/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "openssl/ssl.h"
#include "openssl/x509.h"

namespace mercator::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

// Certificates for the test, made once per process in a temporary directory.
class Pki {
 public:
  static const Pki& Get() {
    static const Pki* pki = new Pki();
    return *pki;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  bool ok() const { return ok_; }

 private:
  Pki() {
    dir_ = std::filesystem::temp_directory_path() / ("mercator-pki-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    static std::filesystem::path to_remove;
    to_remove = dir_;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
    const std::string d = dir_.string();
    // A CA; leaves signed by it: localhost (DNS and IP names), other.example, and a client.
    const std::string script =
        "set -e; cd '" + d +
        "'; exec >/dev/null 2>&1;"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "  -subj '/CN=Mercator Test CA' -keyout ca.key -out ca.pem;"
        "leaf() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "  -subj \"/CN=$1\" -keyout $2.key -out $2.csr;"
        "  printf '%s\\n' \"$3\" > $2.ext;"
        "  openssl x509 -req -in $2.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "  -extfile $2.ext -out $2.pem; };"
        "leaf localhost server 'subjectAltName=DNS:localhost,IP:127.0.0.1';"
        "leaf other.example other 'subjectAltName=DNS:other.example';"
        "leaf mercator-client client 'extendedKeyUsage=clientAuth';";
    ok_ = std::system(("bash -c \"" + Escape(script) + "\"").c_str()) == 0;
  }
  static std::string Escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
      out += c;
    }
    return out;
  }
  std::filesystem::path dir_;
  bool ok_ = false;
};

// A TLS HTTP/1.1 server on 127.0.0.1, one connection at a time, on its own thread.
class TlsServer {
 public:
  struct Seen {
    std::string sni;
    std::string host;
    std::string target;
    std::string body;
    std::string client_cn;
  };

  TlsServer(const std::string& cert, const std::string& key, bool require_client_cert)
      : tls_(ssl::context::tls_server), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    tls_.use_certificate_chain_file(cert);
    tls_.use_private_key_file(key, ssl::context::pem);
    if (require_client_cert) {
      tls_.load_verify_file(Pki::Get().Path("ca.pem"));
      tls_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wakes accept()
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  Seen seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int handshakes_failed() const { return handshakes_failed_; }

 private:
  void Serve() {
    while (!stopping_) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) continue;
      ssl::stream<tcp::socket> stream(std::move(socket), tls_);
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) {
        ++handshakes_failed_;
        continue;
      }
      boost::beast::flat_buffer buffer;
      bhttp::request<bhttp::string_body> req;
      bhttp::read(stream, buffer, req, ec);
      if (ec) continue;
      Seen s;
      const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
      s.sni = sni != nullptr ? sni : "";
      s.host = std::string(req[bhttp::field::host]);
      s.target = std::string(req.target());
      s.body = req.body();
      if (X509* peer = SSL_get1_peer_certificate(stream.native_handle()); peer != nullptr) {
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
        s.client_cn = cn;
        X509_free(peer);
      }
      {
        std::lock_guard lock(mu_);
        seen_ = s;
      }
      bhttp::response<bhttp::string_body> res(bhttp::status::ok, 11);
      res.set(bhttp::field::content_type, "application/json");
      res.body() = R"({"eligible":true})";
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      stream.shutdown(ec);
    }
  }

  asio::io_context ioc_;
  ssl::context tls_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> handshakes_failed_{0};
  std::mutex mu_;
  Seen seen_;
  std::thread thread_;
};

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Pki::Get().ok()) << "the openssl command failed"; }
  static const Pki& pki() { return Pki::Get(); }

  static std::unique_ptr<HttpClient> Client(HttpClientOptions o) {
    absl::StatusOr<std::unique_ptr<HttpClient>> c = NewHttpClient(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static HttpClientOptions Trusting() {
    HttpClientOptions o;
    o.ca_file = pki().Path("ca.pem");
    return o;
  }
  static absl::StatusOr<ClientResponse> Post(HttpClient& client, const std::string& url) {
    ClientRequest req;
    req.method = Method::kPost;
    req.url = url;
    req.headers["content-type"] = "application/json";
    req.body = R"({"customer":"C001"})";
    req.timeout = std::chrono::milliseconds(3000);
    return client.Send(req);
  }
};

TEST_F(HttpsClientTest, TalksToAServerItsCaVouchesForWithSni) {
  TlsServer server(pki().Path("server.pem"), pki().Path("server.key"), false);
  auto client = Client(Trusting());
  ASSERT_NE(client, nullptr);
  const std::string url = "https://localhost:" + std::to_string(server.port()) + "/verify?a=1";
  absl::StatusOr<ClientResponse> r = Post(*client, url);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"eligible":true})");
  EXPECT_EQ(r->headers["content-type"], "application/json");
  const TlsServer::Seen seen = server.seen();
  EXPECT_EQ(seen.sni, "localhost");
  EXPECT_EQ(seen.host, "localhost:" + std::to_string(server.port()));
  EXPECT_EQ(seen.target, "/verify?a=1");
  EXPECT_EQ(seen.body, R"({"customer":"C001"})");

  // An IP literal is checked against the certificate's IP name and sends no SNI.
  r = Post(*client, "https://127.0.0.1:" + std::to_string(server.port()) + "/ip");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(server.seen().sni, "");
  EXPECT_EQ(server.seen().target, "/ip");
}

TEST_F(HttpsClientTest, RefusesAnUntrustedCertificate) {
  TlsServer server(pki().Path("server.pem"), pki().Path("server.key"), false);
  auto client = Client(HttpClientOptions{});  // the system's store only: not the test CA
  ASSERT_NE(client, nullptr);
  absl::StatusOr<ClientResponse> r =
      Post(*client, "https://localhost:" + std::to_string(server.port()) + "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("TLS handshake"), std::string::npos)
      << r.status();
  EXPECT_EQ(server.seen().target, "");  // no request reached it
}

TEST_F(HttpsClientTest, RefusesACertificateForAnotherName) {
  TlsServer server(pki().Path("other.pem"), pki().Path("other.key"), false);
  auto client = Client(Trusting());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<ClientResponse> r =
      Post(*client, "https://localhost:" + std::to_string(server.port()) + "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(server.seen().target, "");
}

TEST_F(HttpsClientTest, PresentsAClientCertificateForMutualTls) {
  TlsServer server(pki().Path("server.pem"), pki().Path("server.key"), true);
  const std::string url = "https://localhost:" + std::to_string(server.port()) + "/mtls";
  auto anonymous = Client(Trusting());
  ASSERT_NE(anonymous, nullptr);
  EXPECT_FALSE(Post(*anonymous, url).ok());
  HttpClientOptions o = Trusting();
  o.client_cert_file = pki().Path("client.pem");
  o.client_key_file = pki().Path("client.key");
  auto client = Client(o);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<ClientResponse> r = Post(*client, url);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(server.seen().client_cn, "mercator-client");
}

TEST_F(HttpsClientTest, ATlsPeerThatNeverAnswersTimesOut) {
  asio::io_context ioc;
  tcp::acceptor silent(ioc, {asio::ip::make_address("127.0.0.1"), 0});  // accepts, says nothing
  auto client = Client(Trusting());
  ASSERT_NE(client, nullptr);
  ClientRequest req;
  req.url = "https://localhost:" + std::to_string(silent.local_endpoint().port()) + "/";
  req.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ClientResponse> r = client->Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_NE(std::string(r.status().message()).find("TLS handshake"), std::string::npos)
      << r.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(HttpsClientTest, BadTlsOptionsNameTheOption) {
  HttpClientOptions o;
  o.ca_file = pki().Path("missing.pem");
  absl::StatusOr<std::unique_ptr<HttpClient>> c = NewHttpClient(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(c.status().message()).find("ca_file"), std::string::npos) << c.status();
  o = Trusting();
  o.client_cert_file = pki().Path("client.pem");
  c = NewHttpClient(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("both or neither"), std::string::npos);
  o.client_key_file = pki().Path("server.key");  // another certificate's key
  c = NewHttpClient(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("client_key_file"), std::string::npos)
      << c.status();
}

}  // namespace
}  // namespace mercator::http
