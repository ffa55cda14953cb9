// A small blocking HTTP/1.1 client for tests of every module: talks to a Server on
// 127.0.0.1, reuses its connection (keep-alive), decodes chunked responses. Not for
// production use: no TLS, no redirects, whole bodies in memory.
//
//   HttpResult r = Fetch(server.port(), "POST", "/v1/things", R"({"a":1})",
//                        {{"content-type", "application/json"}});
//   EXPECT_EQ(r.status, 201);
//
// Every call gives up after the client's timeout (default 10 s) so a broken server fails a
// test instead of hanging it. A TestClient is not thread-safe; use one per thread.
#ifndef MERCATOR_HTTP_TEST_CLIENT_H_
#define MERCATOR_HTTP_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/types.h"

namespace mercator::http {

struct HttpResult {
  int status = 0;        // 0 when no response arrived
  Headers headers;       // names lower-cased; repeated fields joined with ", "
  std::string body;      // after de-chunking
  std::string error;     // transport error ("connection refused", "timeout"), empty if none
  bool chunked = false;  // the response used chunked transfer encoding
  bool keep_alive = false;

  bool ok() const { return error.empty() && status != 0; }
  std::string_view Header(std::string_view lower_name) const;
};

class TestClient {
 public:
  explicit TestClient(uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // Sends one request on the open connection (opening one if needed) and reads the response.
  // `method` may be any token ("GET", "BREW"). Adds Host, and Content-Length when there is a
  // body or the method is POST/PUT/PATCH. If a reused connection turns out to be closed
  // before any response byte, retries once on a new connection.
  HttpResult Fetch(std::string_view method, std::string_view target, std::string_view body = {},
                   const Headers& headers = {});

  // Writes `bytes` as they are (for malformed requests) and reads one response.
  HttpResult SendRaw(std::string_view bytes);

  // Closes the connection; the next call opens a new one.
  void Close();
  bool connected() const;
  // TCP connections opened so far: 1 after several keep-alive requests on one connection.
  int connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection.
HttpResult Fetch(uint16_t port, std::string_view method, std::string_view target,
                 std::string_view body = {}, const Headers& headers = {});

}  // namespace mercator::http

#endif  // MERCATOR_HTTP_TEST_CLIENT_H_
