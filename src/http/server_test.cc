#include "http/server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <future>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "common/log.h"
#include "http/metrics.h"
#include "http/test_client.h"

namespace mercator::http {
namespace {

using std::chrono::milliseconds;

// Collects log lines while alive.
class LogCapture {
 public:
  LogCapture() {
    SetLogObserverForTest([this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { SetLogObserverForTest(nullptr); }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  bool Contains(std::string_view needle) {
    for (const std::string& l : Lines()) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.SetAuthenticator([](Request& r) -> absl::Status {
      if (r.Header("authorization") != "Bearer good") {
        return absl::UnauthenticatedError("a valid bearer token is required");
      }
      r.principal.kind = Principal::Kind::kStaff;
      r.principal.id = "tester";
      return absl::OkStatus();
    });
    router_.Add(Method::kGet, "/hello", Auth::kPublic,
                [](Request&) { return Response::Text(200, "hi", "text/plain"); });
    router_.Add(Method::kPost, "/echo", Auth::kPublic,
                [](Request& r) { return Response::Text(200, r.body, "text/plain"); });
    router_.Add(Method::kGet, "/v1/customers/{id}", Auth::kPublic, [](Request& r) {
      return Response::Json(200, "{\"id\":\"" + r.path_params["id"] + "\"}");
    });
    router_.Add(Method::kGet, "/private", Auth::kRequired,
                [](Request& r) { return Response::Text(200, r.principal.id, "text/plain"); });
    router_.Add(Method::kGet, "/boom", Auth::kPublic, [](Request&) -> Response {
      throw std::runtime_error("secret table customer_pii is corrupt");
    });
    router_.Add(Method::kGet, "/request-id", Auth::kPublic,
                [](Request& r) { return Response::Text(200, r.request_id, "text/plain"); });
    router_.Add(Method::kGet, "/slow", Auth::kPublic, [this](Request&) {
      slow_started_.store(true);
      std::this_thread::sleep_for(milliseconds(800));
      return Response::Text(200, "slow done", "text/plain");
    });
    router_.Add(Method::kGet, "/stream", Auth::kPublic, [](Request&) {
      Response res;
      res.headers["content-type"] = "text/csv";
      auto n = std::make_shared<int>(0);
      res.stream = [n](std::string& chunk) {
        chunk = "row" + std::to_string(*n) + "\n";
        return ++*n < 5;
      };
      return res;
    });
    router_.Add(Method::kGet, "/metrics", Auth::kPublic, MetricsHandler(metrics_));
  }

  void StartServer(ServerOptions options = {}) {
    options.io_threads = 2;
    options.worker_threads = 2;
    if (options.max_body_bytes == ServerOptions{}.max_body_bytes) options.max_body_bytes = 1024;
    if (options.max_header_bytes == ServerOptions{}.max_header_bytes) {
      options.max_header_bytes = 2048;
    }
    server_ = std::make_unique<Server>(options, router_, &metrics_);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  uint16_t port() const { return server_->port(); }

  Router router_;
  Metrics metrics_;
  std::unique_ptr<Server> server_;
  std::atomic<bool> slow_started_{false};
};

boost::json::object ParseProblem(const HttpResult& r) {
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  return v.is_object() ? v.as_object() : boost::json::object{};
}

TEST_F(ServerTest, ServesRegisteredRoute) {
  StartServer();
  HttpResult r = Fetch(port(), "GET", "/hello");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi");
  EXPECT_EQ(r.Header("content-type"), "text/plain");
}

TEST_F(ServerTest, UnknownPathIs404Problem) {
  StartServer();
  HttpResult r = Fetch(port(), "GET", "/nowhere");
  EXPECT_EQ(r.status, 404);
  boost::json::object o = ParseProblem(r);
  EXPECT_EQ(o["status"].as_int64(), 404);
  EXPECT_EQ(o["title"].as_string(), "Not Found");
  EXPECT_TRUE(o.contains("type"));
}

TEST_F(ServerTest, OtherMethodIs405WithAllow) {
  StartServer();
  HttpResult r = Fetch(port(), "DELETE", "/hello");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "GET, HEAD");
  EXPECT_EQ(ParseProblem(r)["status"].as_int64(), 405);
  HttpResult unknown = Fetch(port(), "BREW", "/hello");
  EXPECT_EQ(unknown.status, 405);
}

TEST_F(ServerTest, HeadHasLengthButNoBody) {
  StartServer();
  TestClient client(port());
  HttpResult r = client.Fetch("HEAD", "/hello");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), "2");
  EXPECT_TRUE(r.body.empty());
  // The connection is still in step: the next response is not confused with a body.
  EXPECT_EQ(client.Fetch("GET", "/hello").body, "hi");
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_F(ServerTest, EchoesBodyWithinLimit) {
  StartServer();
  const std::string body(1000, 'x');
  HttpResult r = Fetch(port(), "POST", "/echo", body);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body);
}

TEST_F(ServerTest, OversizedBodyIs413) {
  StartServer();
  HttpResult r = Fetch(port(), "POST", "/echo", std::string(200 * 1024, 'x'));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ParseProblem(r)["status"].as_int64(), 413);
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  StartServer();
  TestClient client(port());
  std::string raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) raw += "200\r\n" + std::string(512, 'y') + "\r\n";
  raw += "0\r\n\r\n";
  HttpResult r = client.SendRaw(raw);
  EXPECT_EQ(r.status, 413);
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  StartServer();
  HttpResult r = Fetch(port(), "GET", "/hello", {}, {{"x-big", std::string(4096, 'h')}});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(ParseProblem(r)["status"].as_int64(), 431);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  StartServer();
  for (const char* raw :
       {"THIS IS NOT HTTP\r\n\r\n", "GET /hello HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET /hello HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    TestClient client(port());
    HttpResult r = client.SendRaw(raw);
    EXPECT_EQ(r.status, 400) << raw << " " << r.error;
    EXPECT_FALSE(r.keep_alive);
  }
}

TEST_F(ServerTest, BadPercentEncodingIs400) {
  StartServer();
  HttpResult r = Fetch(port(), "GET", "/v1/customers/%zz");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ParseProblem(r)["status"].as_int64(), 400);
}

TEST_F(ServerTest, RequiredAuthIs401ProblemAndPublicRouteIsOpen) {
  StartServer();
  HttpResult anonymous = Fetch(port(), "GET", "/private");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(ParseProblem(anonymous)["status"].as_int64(), 401);
  HttpResult wrong = Fetch(port(), "GET", "/private", {}, {{"authorization", "Bearer bad"}});
  EXPECT_EQ(wrong.status, 401);
  HttpResult good = Fetch(port(), "GET", "/private", {}, {{"authorization", "Bearer good"}});
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.body, "tester");
  EXPECT_EQ(Fetch(port(), "GET", "/hello").status, 200);
}

TEST_F(ServerTest, HandlerExceptionIs500WithoutLeak) {
  LogCapture logs;
  StartServer();
  HttpResult r = Fetch(port(), "GET", "/boom", {}, {{"x-request-id", "boom-1"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(ParseProblem(r)["status"].as_int64(), 500);
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
  EXPECT_EQ(r.body.find("customer_pii"), std::string::npos);
  // Logged with the request id, and the server keeps serving.
  bool logged = false;
  for (const std::string& line : logs.Lines()) {
    if (line.find("\"severity_text\":\"ERROR\"") != std::string::npos &&
        line.find("customer_pii") != std::string::npos &&
        line.find("\"request_id\":\"boom-1\"") != std::string::npos) {
      logged = true;
    }
  }
  EXPECT_TRUE(logged);
  EXPECT_EQ(Fetch(port(), "GET", "/hello").status, 200);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  TestClient client(port());
  for (int i = 0; i < 5; ++i) {
    HttpResult r = client.Fetch("GET", "/v1/customers/c" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body, "{\"id\":\"c" + std::to_string(i) + "\"}");
    EXPECT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(client.Fetch("POST", "/echo", "abc").body, "abc");
  EXPECT_EQ(client.Fetch("GET", "/nowhere").status, 404);
  EXPECT_EQ(client.Fetch("GET", "/hello").status, 200);
  EXPECT_EQ(client.connections_opened(), 1);
}

// Each request on a kept-alive connection sees its own headers only (the server reuses the
// previous request's header memory), names lower-cased.
TEST_F(ServerTest, KeptAliveRequestsSeeOnlyTheirOwnHeaders) {
  router_.Add(Method::kGet, "/headers", Auth::kPublic, [](Request& r) {
    std::string out;
    for (const auto& [name, value] : r.headers) {
      if (name.starts_with("x-")) out += name + "=" + value + ";";
    }
    return Response::Text(200, out, "text/plain");
  });
  StartServer();
  TestClient client(port());
  const std::string long_value(300, 'v');
  HttpResult first =
      client.Fetch("GET", "/headers", {}, {{"X-Alpha", "1"}, {"X-Long", long_value}});
  EXPECT_EQ(first.body, "x-alpha=1;x-long=" + long_value + ";");
  HttpResult second = client.Fetch("GET", "/headers", {}, {{"X-Beta", "2"}});
  EXPECT_EQ(second.body, "x-beta=2;");
  HttpResult third =
      client.Fetch("GET", "/headers", {}, {{"X-Alpha", "3"}, {"X-Beta", "4"}, {"X-Gamma", "5"}});
  EXPECT_EQ(third.body, "x-alpha=3;x-beta=4;x-gamma=5;");
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  TestClient client(port());
  HttpResult r = client.Fetch("GET", "/hello", {}, {{"connection", "close"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_FALSE(client.connected());
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestClient client(port());
  HttpResult first = client.SendRaw(
      "GET /v1/customers/a HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/customers/b HTTP/1.1\r\nHost: "
      "x\r\n\r\n");
  EXPECT_EQ(first.body, "{\"id\":\"a\"}");
  // The second response is already on its way; read it with an empty write.
  HttpResult second = client.SendRaw("");
  EXPECT_EQ(second.body, "{\"id\":\"b\"}");
}

// How long `f` takes.
template <typename F>
std::chrono::steady_clock::duration TimeOf(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::steady_clock::now() - start;
}

// A raw connection that writes exactly what it is given, when it is given: for requests that
// arrive in pieces.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads until `needle` has been received `count` times past what earlier calls returned
  // (or the peer closes, or 10 s pass); returns what arrived.
  std::string ReadUntil(std::string_view needle, int count = 1) {
    std::string got;
    for (;;) {
      int seen = 0;
      for (size_t at = got.find(needle); at != std::string::npos;
           at = got.find(needle, at + needle.size())) {
        ++seen;
      }
      if (seen >= count) return got;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return got;
      got.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The server parses what a read brought and waits for the rest only if something is missing:
// a request cut anywhere (in the request line, a header, between header and body, inside the
// body) is answered as if it had come whole.
TEST_F(ServerTest, RequestsArrivingInPiecesAreAnsweredAsIfWhole) {
  StartServer();
  const std::string body = "hello, pieces";
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t cut = 1; cut < request.size(); cut += 3) {
    RawConnection conn(port());
    ASSERT_TRUE(conn.connected());
    conn.Send(request.substr(0, cut));
    std::this_thread::sleep_for(milliseconds(2));
    conn.Send(request.substr(cut));
    const std::string got = conn.ReadUntil(body);
    EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << "cut at " << cut << ": " << got;
    EXPECT_NE(got.find("\r\n\r\n" + body), std::string::npos) << "cut at " << cut;
  }

  // Three requests with bodies in one write, the last cut short and finished later: answered
  // in order on the one connection.
  RawConnection conn(port());
  const auto post = [](std::string_view b) {
    return "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(b.size()) +
           "\r\n\r\n" + std::string(b);
  };
  const std::string three = post("one") + post("two") + post("three");
  conn.Send(three.substr(0, three.size() - 2));
  std::this_thread::sleep_for(milliseconds(2));
  conn.Send(three.substr(three.size() - 2));
  const std::string got = conn.ReadUntil("\r\n\r\nthree");  // answers come in order
  const size_t one = got.find("\r\n\r\none"), two = got.find("\r\n\r\ntwo"),
               three_at = got.find("\r\n\r\nthree");
  ASSERT_NE(one, std::string::npos) << got;
  ASSERT_NE(two, std::string::npos) << got;
  ASSERT_NE(three_at, std::string::npos) << got;
  EXPECT_LT(one, two);
  EXPECT_LT(two, three_at);
}

// What a connection is answered must not depend on how its bytes arrive: random streams of
// pipelined requests (plain, with bodies, chunked), ending in one that closes the connection
// or in a bad one, sent whole and cut at random places, get the answers the requests call for
// (the oracle: 200 and the body for each good one, the bad one's status), in order, both ways.
TEST_F(ServerTest, AnswersDoNotDependOnHowTheBytesArrive) {
  StartServer();  // bodies up to 1024 bytes, headers up to 2048
  std::mt19937 rng(20261125);
  const auto body_of = [&](size_t n) {
    std::string b(n, ' ');
    for (char& c : b) c = static_cast<char>('a' + rng() % 26);
    return b;
  };
  // The answers in a stream of bytes: "status" or, for a 200, "200:body".
  const auto answers = [](const std::string& raw) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < raw.size()) {
      const size_t end = raw.find("\r\n\r\n", at);
      if (end == std::string::npos || raw.compare(at, 9, "HTTP/1.1 ") != 0) {
        out.push_back("unparsable: " + raw.substr(at, 40));
        break;
      }
      const std::string status = raw.substr(at + 9, 3);
      std::string head = raw.substr(at, end - at);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t length = 0;
      if (const size_t cl = head.find("\r\ncontent-length: "); cl != std::string::npos) {
        length = std::stoul(head.substr(cl + 18));
      }
      const std::string body = raw.substr(end + 4, length);
      out.push_back(status == "200" ? status + ":" + body : status);
      at = end + 4 + length;
    }
    return out;
  };
  const auto exchange = [&](const std::string& stream, bool cut) {
    RawConnection conn(port());
    if (!cut) {
      conn.Send(stream);
    } else {
      size_t at = 0;
      while (at < stream.size()) {
        const size_t n = std::min(stream.size() - at, 1 + static_cast<size_t>(rng() % 300));
        conn.Send(stream.substr(at, n));
        at += n;
        std::this_thread::sleep_for(std::chrono::microseconds(300));
      }
    }
    return answers(conn.ReadUntil("\x01never\x01"));  // until the server closes
  };
  for (int round = 0; round < 40; ++round) {
    std::string stream;
    std::vector<std::string> expected;
    const int good = static_cast<int>(rng() % 4);
    for (int i = 0; i < good; ++i) {
      switch (rng() % 3) {
        case 0:
          stream += "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
          expected.push_back("200:hi");
          break;
        case 1: {
          const std::string b = body_of(rng() % 1025);
          stream +=
              "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(b.size()) +
              "\r\n\r\n" + b;
          expected.push_back("200:" + b);
          break;
        }
        default: {
          stream += "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
          std::string all;
          for (int c = static_cast<int>(rng() % 4); c > 0; --c) {
            const std::string chunk = body_of(1 + rng() % 200);
            stream += fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk);
            all += chunk;
          }
          stream += "0\r\n\r\n";
          expected.push_back("200:" + all);
        }
      }
    }
    switch (rng() % 4) {
      case 0:
        stream += "THIS IS NOT HTTP\r\n\r\n";
        expected.push_back("400");
        break;
      case 1:
        stream += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1500\r\n\r\n" + body_of(1500);
        expected.push_back("413");
        break;
      case 2:
        stream += "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + body_of(3000) + "\r\n\r\n";
        expected.push_back("431");
        break;
      default:
        stream += "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        expected.push_back("200:hi");
    }
    EXPECT_EQ(exchange(stream, false), expected) << "round " << round << ", sent whole";
    EXPECT_EQ(exchange(stream, true), expected) << "round " << round << ", sent in pieces";
  }
}

// Expect: 100-continue gets the interim answer when the body is still to come, and none is
// needed when the body came with the header (RFC 9110 10.1.1).
TEST_F(ServerTest, ExpectContinueIsAnsweredOnlyWhileTheBodyIsAwaited) {
  StartServer();
  const std::string head =
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  {
    RawConnection conn(port());
    conn.Send(head);
    EXPECT_EQ(conn.ReadUntil("\r\n\r\n").rfind("HTTP/1.1 100 Continue\r\n", 0), 0u);
    conn.Send("ping");
    const std::string got = conn.ReadUntil("ping");
    EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  }
  {
    RawConnection conn(port());
    conn.Send(head + "pong");
    const std::string got = conn.ReadUntil("pong");
    EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  }
  // Oversized ones are refused whole or cut: 413 either way.
  for (size_t cut : {size_t{0}, size_t{20}}) {
    RawConnection conn(port());
    const std::string big =
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x');
    if (cut > 0) {
      conn.Send(big.substr(0, cut));
      std::this_thread::sleep_for(milliseconds(2));
    }
    conn.Send(big.substr(cut, 2000));
    EXPECT_EQ(conn.ReadUntil("\r\n").rfind("HTTP/1.1 413 ", 0), 0u) << "cut at " << cut;
  }
}

// An answer larger than the socket's send buffer is sent partly at once and the rest
// asynchronously, to a client that starts reading late: it arrives whole and in order, and
// the connection serves the next request.
TEST_F(ServerTest, AnswerLargerThanTheSendBufferArrivesWhole) {
  std::string big(16 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  big.replace(big.size() - 5, 5, "#END#");  // nowhere else in it
  router_.Add(Method::kGet, "/big", Auth::kPublic,
              [&big](Request&) { return Response::Text(200, big, "text/plain"); });
  StartServer();
  RawConnection conn(port());
  conn.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(milliseconds(200));  // the server's send buffer fills meanwhile
  const std::string head = conn.ReadUntil("\r\n\r\n");
  ASSERT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head.substr(0, 200);
  std::string got = head.substr(head.find("\r\n\r\n") + 4);
  if (got.find("#END#") == std::string::npos) got += conn.ReadUntil("#END#");
  ASSERT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big);
  conn.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string next = conn.ReadUntil("hi");
  EXPECT_EQ(next.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << next;
}

// A connection waiting for its next request is closed after the idle timeout, and only then:
// one that speaks within it is served on the same connection.
TEST_F(ServerTest, IdleConnectionsCloseAfterTheIdleTimeoutOnly) {
  ServerOptions options;
  options.idle_timeout = milliseconds(300);
  StartServer(options);
  {
    RawConnection silent(port());
    const auto waited = TimeOf([&] { EXPECT_EQ(silent.ReadUntil("never"), ""); });  // closed
    EXPECT_GE(waited, milliseconds(250));
    EXPECT_LT(waited, milliseconds(5000));
  }
  TestClient client(port());
  EXPECT_EQ(client.Fetch("GET", "/hello").status, 200);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(client.Fetch("GET", "/hello").status, 200);
  EXPECT_EQ(client.connections_opened(), 1);
  std::this_thread::sleep_for(milliseconds(700));
  EXPECT_EQ(client.Fetch("GET", "/hello").status, 200);  // on a new connection
  EXPECT_EQ(client.connections_opened(), 2);
}

TEST_F(ServerTest, StreamsWithChunkedEncoding) {
  StartServer();
  TestClient client(port());
  HttpResult r = client.Fetch("GET", "/stream");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(r.Header("content-type"), "text/csv");
  EXPECT_EQ(r.body, "row0\nrow1\nrow2\nrow3\nrow4\n");
  EXPECT_FALSE(r.Header("x-request-id").empty());
  EXPECT_EQ(client.Fetch("GET", "/hello").body, "hi");
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_F(ServerTest, StreamWriterExceptionTruncatesBody) {
  router_.Add(Method::kGet, "/bad-stream", Auth::kPublic, [](Request&) {
    Response res;
    auto n = std::make_shared<int>(0);
    res.stream = [n](std::string& chunk) -> bool {
      if (++*n > 2) throw std::runtime_error("export cursor lost");
      chunk = "part\n";
      return true;
    };
    return res;
  });
  StartServer();
  HttpResult r = Fetch(port(), "GET", "/bad-stream");
  EXPECT_FALSE(r.ok());  // no terminating chunk: the client sees an incomplete body
  EXPECT_EQ(Fetch(port(), "GET", "/hello").status, 200);
}

TEST_F(ServerTest, EchoesSaneRequestIdAndReplacesOthers) {
  StartServer();
  HttpResult given = Fetch(port(), "GET", "/request-id", {}, {{"x-request-id", "abc-123.X_y:z"}});
  EXPECT_EQ(given.Header("x-request-id"), "abc-123.X_y:z");
  EXPECT_EQ(given.body, "abc-123.X_y:z");

  HttpResult insane = Fetch(port(), "GET", "/request-id", {}, {{"x-request-id", "bad id\"{}"}});
  EXPECT_NE(insane.Header("x-request-id"), "bad id\"{}");
  EXPECT_EQ(insane.Header("x-request-id").size(), 32u);
  EXPECT_EQ(insane.body, insane.Header("x-request-id"));

  HttpResult none = Fetch(port(), "GET", "/request-id");
  EXPECT_EQ(none.Header("x-request-id").size(), 32u);
  EXPECT_NE(none.Header("x-request-id"), insane.Header("x-request-id"));

  HttpResult problem = Fetch(port(), "GET", "/nowhere", {}, {{"x-request-id", "r-404"}});
  EXPECT_EQ(problem.Header("x-request-id"), "r-404");
}

TEST_F(ServerTest, AccessLogIsOneJsonLinePerRequestWithRouteNotPath) {
  LogCapture logs;
  StartServer();
  ASSERT_EQ(
      Fetch(port(), "GET", "/v1/customers/C123456789", {}, {{"x-request-id", "acc-1"}}).status,
      200);
  std::string access;
  // The line is written after the response, so allow the server a moment.
  for (int i = 0; i < 100 && access.empty(); ++i) {
    for (const std::string& line : logs.Lines()) {
      if (line.find("\"body\":\"http request\"") != std::string::npos &&
          line.find("acc-1") != std::string::npos) {
        access = line;
      }
    }
    if (access.empty()) std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_FALSE(access.empty());
  boost::json::object o = boost::json::parse(access).as_object();
  EXPECT_EQ(o["request_id"].as_string(), "acc-1");
  boost::json::object& a = o["attributes"].as_object();
  EXPECT_EQ(a["http.route"].as_string(), "/v1/customers/{id}");
  EXPECT_EQ(a["http.request.method"].as_string(), "GET");
  EXPECT_EQ(a["http.response.status_code"].as_string(), "200");
  EXPECT_TRUE(a.contains("http.server.request.duration"));
  EXPECT_EQ(access.find("C123456789"), std::string::npos);
}

TEST_F(ServerTest, MetricsCountRequestsByRoutePattern) {
  StartServer();
  TestClient client(port());
  for (int i = 0; i < 3; ++i) client.Fetch("GET", "/v1/customers/C99" + std::to_string(i));
  client.Fetch("GET", "/nowhere/C777");
  client.Fetch("GET", "/boom");
  // The counters are updated after the response is written.
  std::string text;
  const std::string ok_line =
      "http_server_requests_total{method=\"GET\",route=\"/v1/customers/{id}\",status=\"200\"} 3";
  for (int i = 0; i < 100; ++i) {
    text = metrics_.Render();
    if (text.find(ok_line) != std::string::npos &&
        text.find("route=\"/boom\",status=\"500\"} 1") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_NE(text.find(ok_line), std::string::npos) << text;
  EXPECT_NE(
      text.find("http_server_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("route=\"/boom\",status=\"500\"} 1"), std::string::npos);
  EXPECT_NE(text.find("http_server_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/"
                      "customers/{id}\",le=\"+Inf\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("http_server_requests_in_flight"), std::string::npos);
  EXPECT_EQ(text.find("C99"), std::string::npos);
  EXPECT_EQ(text.find("C777"), std::string::npos);

  HttpResult scraped = client.Fetch("GET", "/metrics");
  EXPECT_EQ(scraped.status, 200);
  EXPECT_NE(scraped.body.find("http_server_requests_total"), std::string::npos);
}

TEST(Metrics, RegistryAcceptsOtherModulesFamilies) {
  Metrics metrics;
  EXPECT_NE(metrics.shared_registry(), nullptr);
  EXPECT_EQ(&metrics.registry(), metrics.shared_registry().get());
  metrics.ObserveRequest("POST", "/v1/draws", 201, 0.003);
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("# TYPE http_server_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE http_server_request_duration_seconds histogram"), std::string::npos);
}

TEST_F(ServerTest, DrainFinishesInFlightRequestAndRefusesNewConnections) {
  StartServer();
  const uint16_t p = port();
  TestClient idle(p);
  ASSERT_EQ(idle.Fetch("GET", "/hello").status, 200);  // an idle keep-alive connection

  auto slow = std::async(std::launch::async, [p] { return Fetch(p, "GET", "/slow"); });
  for (int i = 0; i < 500 && !slow_started_.load(); ++i)
    std::this_thread::sleep_for(milliseconds(2));
  ASSERT_TRUE(slow_started_.load());
  EXPECT_EQ(server_->InFlight(), 1);

  auto drained = std::async(std::launch::async, [this] { server_->Drain(milliseconds(5000)); });
  // New connections are refused once the listener is closed.
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    HttpResult r = Fetch(p, "GET", "/hello");
    refused = !r.ok();
    if (!refused) std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(refused);

  HttpResult done = slow.get();
  EXPECT_EQ(done.status, 200) << done.error;
  EXPECT_EQ(done.body, "slow done");
  EXPECT_FALSE(done.keep_alive);  // drain answers with Connection: close
  EXPECT_EQ(drained.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  // The idle keep-alive connection was closed by the drain.
  EXPECT_FALSE(idle.Fetch("GET", "/hello").ok());
  EXPECT_EQ(server_->InFlight(), 0);
}

TEST_F(ServerTest, DrainDeadlineCutsSlowRequest) {
  StartServer();
  const uint16_t p = port();
  auto slow = std::async(std::launch::async, [p] { return Fetch(p, "GET", "/slow"); });
  for (int i = 0; i < 500 && !slow_started_.load(); ++i)
    std::this_thread::sleep_for(milliseconds(2));
  server_->Drain(milliseconds(50));
  HttpResult r = slow.get();
  EXPECT_FALSE(r.ok());  // cut off at the deadline
}

// Asynchronous routes: the handler keeps its Responder; the test answers from its own thread.
class AsyncServerTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    router_.AddAsync(Method::kPost, "/async", Auth::kPublic, [this](Request& r, Responder respond) {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back({r.body, std::move(respond)});
    });
    router_.AddAsync(Method::kGet, "/async-private", Auth::kRequired,
                     [](Request& r, Responder respond) {
                       // Answered from another thread, after the handler returned.
                       std::thread([who = r.principal.id, respond = std::move(respond)]() mutable {
                         std::this_thread::sleep_for(milliseconds(20));
                         respond(Response::Text(200, "async " + who, "text/plain"));
                       }).detach();
                     });
    router_.AddAsync(Method::kGet, "/async-dropped", Auth::kPublic, [](Request&, Responder) {});
    router_.AddAsync(Method::kGet, "/async-throws", Auth::kPublic,
                     [](Request&, Responder) { throw std::runtime_error("engine exploded"); });
  }

  // InFlight() drops after the response's last byte is written, which may be after the client
  // read it.
  bool InFlightBecomes(int n) {
    for (int i = 0; i < 500; ++i) {
      if (server_->InFlight() == n) return true;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return false;
  }

  // Waits until `n` requests are pending, then returns them.
  std::vector<std::pair<std::string, Responder>> TakePending(size_t n) {
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (pending_.size() >= n) return std::move(pending_);
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    ADD_FAILURE() << "requests did not reach the handler";
    return {};
  }

  std::mutex mu_;
  std::vector<std::pair<std::string, Responder>> pending_;
};

TEST_F(AsyncServerTest, AnswersLaterFromAnotherThreadOnAKeptAliveConnection) {
  LogCapture logs;
  StartServer();
  TestClient client(port());
  auto first = std::async(std::launch::async, [&] {
    return client.Fetch("POST", "/async", "ping", {{"x-request-id", "async-1"}});
  });
  auto pending = TakePending(1);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].first, "ping");
  std::thread([respond = std::move(pending[0].second)]() mutable {
    respond(Response::Json(201, R"({"pong":true})"));
  }).join();
  HttpResult r = first.get();
  EXPECT_EQ(r.status, 201) << r.error;
  EXPECT_EQ(r.body, R"({"pong":true})");
  EXPECT_EQ(r.Header("x-request-id"), "async-1");
  EXPECT_TRUE(r.keep_alive);
  // The same connection serves the next request.
  EXPECT_EQ(client.Fetch("GET", "/hello").body, "hi");
  EXPECT_EQ(client.connections_opened(), 1);

  // Access log and metrics apply as for synchronous routes.
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    for (const std::string& line : logs.Lines()) {
      if (line.find("\"body\":\"http request\"") != std::string::npos &&
          line.find("async-1") != std::string::npos &&
          line.find("\"http.response.status_code\":\"201\"") != std::string::npos &&
          line.find("\"http.route\":\"/async\"") != std::string::npos) {
        logged = true;
      }
    }
    if (!logged) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(logged);
  EXPECT_NE(metrics_.Render().find(
                "http_server_requests_total{method=\"POST\",route=\"/async\",status=\"201\"} 1"),
            std::string::npos);
}

TEST_F(AsyncServerTest, AuthenticationAppliesBeforeTheHandler) {
  StartServer();
  HttpResult anonymous = Fetch(port(), "GET", "/async-private");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(ParseProblem(anonymous)["status"].as_int64(), 401);
  HttpResult good = Fetch(port(), "GET", "/async-private", {}, {{"authorization", "Bearer good"}});
  EXPECT_EQ(good.status, 200) << good.error;
  EXPECT_EQ(good.body, "async tester");
  // HEAD through the GET route: the length of the answer, no body.
  HttpResult head = Fetch(port(), "HEAD", "/async-private", {}, {{"authorization", "Bearer good"}});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"), "12");
  EXPECT_TRUE(head.body.empty());
}

TEST_F(AsyncServerTest, PendingRequestsDoNotHoldWorkers) {
  StartServer();  // 2 worker threads
  const uint16_t p = port();
  constexpr int kPending = 8;
  std::vector<std::future<HttpResult>> waiting;
  for (int i = 0; i < kPending; ++i) {
    waiting.push_back(std::async(std::launch::async, [p, i] {
      return Fetch(p, "POST", "/async", "n" + std::to_string(i));
    }));
  }
  auto pending = TakePending(kPending);
  ASSERT_EQ(pending.size(), static_cast<size_t>(kPending));
  // Four times more pending requests than workers, and a synchronous route still answers.
  EXPECT_EQ(Fetch(p, "GET", "/hello").body, "hi");
  EXPECT_TRUE(InFlightBecomes(kPending)) << server_->InFlight();
  for (auto& [body, respond] : pending) respond(Response::Text(200, "done " + body, "text/plain"));
  std::vector<std::string> bodies;
  for (auto& f : waiting) bodies.push_back(f.get().body);
  std::sort(bodies.begin(), bodies.end());
  for (int i = 0; i < kPending; ++i) EXPECT_EQ(bodies[i], "done n" + std::to_string(i));
}

TEST_F(AsyncServerTest, UnansweredRequestTimesOutWith503AndALateAnswerIsDropped) {
  ServerOptions options;
  options.async_timeout = milliseconds(200);
  StartServer(options);
  TestClient client(port());
  auto waiting = std::async(std::launch::async, [&] { return client.Fetch("POST", "/async"); });
  auto pending = TakePending(1);
  HttpResult r = waiting.get();
  EXPECT_EQ(r.status, 503) << r.error;
  EXPECT_EQ(ParseProblem(r)["status"].as_int64(), 503);
  EXPECT_EQ(r.Header("retry-after"), "1");
  EXPECT_TRUE(r.keep_alive);
  // The late answer goes nowhere: the connection's next request gets its own.
  ASSERT_EQ(pending.size(), 1u);
  pending[0].second(Response::Text(200, "too late", "text/plain"));
  HttpResult next = client.Fetch("GET", "/hello");
  EXPECT_EQ(next.body, "hi");
  EXPECT_EQ(client.connections_opened(), 1);
  EXPECT_TRUE(InFlightBecomes(0)) << server_->InFlight();
}

// The async timeout counts from the request's start, and again while a worker is still inside
// the handler: an unanswered asynchronous request gets its 503 after one to two periods, and a
// synchronous handler that takes longer than a period is answered by itself, never 503.
TEST_F(AsyncServerTest, The503ComesAfterOneToTwoPeriodsAndNeverCutsARunningHandler) {
  ServerOptions options;
  options.async_timeout = milliseconds(300);
  StartServer(options);
  TestClient client(port());
  std::vector<std::pair<std::string, Responder>> pending;
  const auto waited = TimeOf([&] {
    auto waiting = std::async(std::launch::async, [&] { return client.Fetch("POST", "/async"); });
    pending = TakePending(1);
    EXPECT_EQ(waiting.get().status, 503);
  });
  EXPECT_GE(waited, milliseconds(300));
  EXPECT_LT(waited, milliseconds(1500));
  // /slow sleeps 800 ms in the handler, more than two periods.
  HttpResult slow = client.Fetch("GET", "/slow");
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.body, "slow done");
  // Kept alive through it all, and answering at once.
  EXPECT_EQ(client.Fetch("GET", "/hello").body, "hi");
  EXPECT_EQ(client.connections_opened(), 1);
  ASSERT_EQ(pending.size(), 1u);
  pending[0].second(Response::Text(200, "too late", "text/plain"));
}

TEST_F(AsyncServerTest, DroppedResponderOrThrowingHandlerIs500) {
  StartServer();
  TestClient client(port());
  HttpResult dropped = client.Fetch("GET", "/async-dropped");
  EXPECT_EQ(dropped.status, 500);
  EXPECT_EQ(ParseProblem(dropped)["status"].as_int64(), 500);
  HttpResult threw = client.Fetch("GET", "/async-throws");
  EXPECT_EQ(threw.status, 500);
  EXPECT_EQ(threw.body.find("exploded"), std::string::npos);
  EXPECT_EQ(client.Fetch("GET", "/hello").body, "hi");
}

TEST_F(AsyncServerTest, DrainWaitsForPendingAsyncAnswers) {
  StartServer();
  const uint16_t p = port();
  auto waiting = std::async(std::launch::async, [p] { return Fetch(p, "POST", "/async", "x"); });
  auto pending = TakePending(1);
  ASSERT_EQ(pending.size(), 1u);
  auto drained = std::async(std::launch::async, [this] { server_->Drain(milliseconds(5000)); });
  // The drain waits for the answer.
  EXPECT_EQ(drained.wait_for(milliseconds(300)), std::future_status::timeout);
  pending[0].second(Response::Text(200, "answered during drain", "text/plain"));
  HttpResult r = waiting.get();
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "answered during drain");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(drained.wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

TEST_F(AsyncServerTest, AnswerAfterStopIsIgnored) {
  StartServer();
  const uint16_t p = port();
  auto waiting = std::async(std::launch::async, [p] { return Fetch(p, "POST", "/async"); });
  auto pending = TakePending(1);
  ASSERT_EQ(pending.size(), 1u);
  server_->Stop();
  EXPECT_FALSE(waiting.get().ok());
  pending[0].second(Response::Text(200, "nobody listens", "text/plain"));
  server_.reset();
}

// Routes added with AddInline run on the connection's I/O thread: they answer while every
// worker is busy, and what they hand to request.offload runs on a worker.
TEST_F(ServerTest, InlineRoutesAnswerWhileEveryWorkerIsBusyAndOffloadToAWorker) {
  std::mutex mu;
  std::condition_variable cv;
  int blocked = 0;
  bool release = false;
  router_.Add(Method::kGet, "/block", Auth::kPublic, [&](Request&) {
    std::unique_lock<std::mutex> lock(mu);
    ++blocked;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return Response::Text(200, "released", "text/plain");
  });
  router_.AddInline(Method::kPost, "/inline", Auth::kRequired, [](Request& r, Responder respond) {
    respond(Response::Text(200, "inline " + r.principal.id + " " + r.body, "text/plain"));
  });
  std::atomic<bool> offloaded_ran{false};
  std::thread::id handler_thread;
  std::thread::id work_thread;
  router_.AddInline(Method::kPost, "/offload", Auth::kPublic, [&](Request& r, Responder respond) {
    handler_thread = std::this_thread::get_id();
    auto moved = std::make_shared<Responder>(std::move(respond));
    r.offload([&, moved, body = r.body] {
      work_thread = std::this_thread::get_id();
      offloaded_ran = true;
      (*moved)(Response::Text(200, "offloaded " + body, "text/plain"));
    });
  });
  StartServer();  // 2 worker threads
  const uint16_t p = port();
  auto first = std::async(std::launch::async, [p] { return Fetch(p, "GET", "/block"); });
  auto second = std::async(std::launch::async, [p] { return Fetch(p, "GET", "/block"); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return blocked == 2; }));
  }
  // Both workers wait in /block: an inline route still authenticates and answers.
  HttpResult anonymous = Fetch(p, "POST", "/inline", "x");
  EXPECT_EQ(anonymous.status, 401);
  HttpResult inline_answer = Fetch(p, "POST", "/inline", "x", {{"authorization", "Bearer good"}});
  EXPECT_EQ(inline_answer.status, 200) << inline_answer.error;
  EXPECT_EQ(inline_answer.body, "inline tester x");
  // Its offloaded work needs a worker: it runs once one is free.
  auto offload = std::async(std::launch::async, [p] { return Fetch(p, "POST", "/offload", "y"); });
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(first.get().body, "released");
  EXPECT_EQ(second.get().body, "released");
  HttpResult offloaded = offload.get();
  EXPECT_EQ(offloaded.status, 200) << offloaded.error;
  EXPECT_EQ(offloaded.body, "offloaded y");
  EXPECT_TRUE(offloaded_ran);
  EXPECT_NE(handler_thread, work_thread);
}

TEST(Server, AccessLogNamesTheSignedClient) {
  // A client's actor ("client:" + a 19-character key id) is longer than the small-string
  // buffer: the access log once kept a view of a freed temporary and wrote garbage.
  Router router;
  router.SetAuthenticator([](Request& r) -> absl::Status {
    r.principal.kind = Principal::Kind::kClient;
    r.principal.id = "ck_0123456789abcdef";
    return absl::OkStatus();
  });
  router.Add(Method::kGet, "/whoami", Auth::kRequired,
             [](Request& r) { return Response::Text(200, r.principal.Actor(), "text/plain"); });
  LogCapture logs;
  Server server(ServerOptions{}, router, nullptr);
  ASSERT_TRUE(server.Start().ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        Fetch(server.port(), "GET", "/whoami", {}, {{"x-request-id", "who-" + std::to_string(i)}})
            .status,
        200);
  }
  server.Stop();
  int seen = 0;
  for (const std::string& line : logs.Lines()) {
    if (line.find("\"body\":\"http request\"") == std::string::npos) continue;
    boost::json::object o = boost::json::parse(line).as_object();
    EXPECT_EQ(o["attributes"].as_object()["enduser.id"].as_string(), "client:ck_0123456789abcdef")
        << line;
    ++seen;
  }
  EXPECT_EQ(seen, 3);
}

TEST(Server, StartFailsOnBadAddressAndBusyPort) {
  Router router;
  ServerOptions bad;
  bad.address = "not-an-address";
  Server s1(bad, router, nullptr);
  EXPECT_EQ(s1.Start().code(), absl::StatusCode::kInvalidArgument);

  Server s2(ServerOptions{}, router, nullptr);
  ASSERT_TRUE(s2.Start().ok());
  EXPECT_EQ(s2.Start().code(), absl::StatusCode::kFailedPrecondition);
  ServerOptions busy;
  busy.port = s2.port();
  Server s3(busy, router, nullptr);
  EXPECT_EQ(s3.Start().code(), absl::StatusCode::kUnavailable);
}

TEST(Server, SigtermTriggersDrain) {
  Router router;
  router.Add(Method::kGet, "/hello", Auth::kPublic,
             [](Request&) { return Response::Text(200, "hi", "text/plain"); });
  ServerOptions options;
  options.drain_timeout = milliseconds(2000);
  Server server(options, router, nullptr);
  ASSERT_TRUE(server.Start().ok());
  server.DrainOnSignals();
  ASSERT_EQ(Fetch(server.port(), "GET", "/hello").status, 200);
  // The signal_set handler catches it; the default action (terminate) does not run.
  ASSERT_EQ(std::raise(SIGTERM), 0);
  server.Wait();
  EXPECT_FALSE(Fetch(server.port(), "GET", "/hello").ok());
}

TEST(Server, StopWithoutStartAndTwiceIsSafe) {
  Router router;
  Server never(ServerOptions{}, router, nullptr);
  never.Stop();
  never.Wait();
  Server twice(ServerOptions{}, router, nullptr);
  ASSERT_TRUE(twice.Start().ok());
  twice.Drain(milliseconds(100));
  twice.Stop();
  twice.Wait();
}

}  // namespace
}  // namespace mercator::http
