// Small helpers shared by the whole-system tests: a temporary directory, lenient JSON access
// for assertions, and signed requests of API clients.
#ifndef MERCATOR_TESTS_TEST_UTIL_H_
#define MERCATOR_TESTS_TEST_UTIL_H_

#include <boost/json.hpp>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>

#include "auth/request_signing.h"
#include "http/test_client.h"

namespace mercator::test {

// A fresh directory under the system's temp dir, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "mercator-test-") {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            (std::string(prefix) + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The body as JSON; null when it is not JSON (the assertion that follows says what was there).
inline boost::json::value Parse(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

// A member of an object, or a value that no real answer has ("", -999, false).
inline std::string Str(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const boost::json::value* m = v.as_object().if_contains(key);
  return m && m->is_string() ? std::string(m->as_string()) : std::string();
}
inline int64_t Int(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return -999;
  const boost::json::value* m = v.as_object().if_contains(key);
  return m && m->is_int64() ? m->as_int64() : -999;
}
inline bool Bool(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return false;
  const boost::json::value* m = v.as_object().if_contains(key);
  return m && m->is_bool() && m->as_bool();
}

// An API client's key id and secret (POST /v1/clients answers them once).
struct ApiKey {
  std::string id, secret;
};

// A request signed as the API client would sign it, at `now_ms`, with a fresh nonce.
inline http::HttpResult SignedFetch(http::TestClient& client, const ApiKey& key, int64_t now_ms,
                                    std::string_view method, std::string_view target,
                                    std::string_view body = {},
                                    std::string_view content_type = "application/json",
                                    http::Headers extra = {}) {
  extra["authorization"] =
      auth::SignRequest(key.id, key.secret, method, target, body, now_ms, auth::RandomNonce());
  if (!body.empty()) extra["content-type"] = std::string(content_type);
  return client.Fetch(method, target, body, extra);
}

}  // namespace mercator::test

#endif  // MERCATOR_TESTS_TEST_UTIL_H_
