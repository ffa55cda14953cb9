// Shared set-up of the outreach tests (workbench, campaigns): server options on a fake clock,
// an approved message template, and a customer's consent, all through the real API.
#ifndef MERCATOR_TESTS_OUTREACH_TEST_UTIL_H_
#define MERCATOR_TESTS_OUTREACH_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <string>

#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

namespace mercator::test {

// A server on an ephemeral port and `clock`, data in <dir>/data, without background workers
// (tests drive them), with staff sessions that outlive a year of fake time.
inline AppOptions OutreachServerOptions(const std::string& dir, const Clock* clock) {
  AppOptions o;
  o.data_dir = (std::filesystem::path(dir) / "data").string();
  o.port = 0;
  o.io_threads = 2;
  o.clock = clock;
  o.task_rules_interval_ms = 0;
  o.fulfilment_interval_ms = 0;
  o.points_expiry_interval_ms = 0;
  o.staff.idle_timeout_ms = 365 * 86'400'000LL;
  o.staff.absolute_timeout_ms = 365 * 86'400'000LL;
  return o;
}

// A template created and submitted by `maker`, approved by `checker`; returns its id.
inline int64_t ApprovedTemplate(SessionClient& maker, SessionClient& checker,
                                const std::string& name, const std::string& channel,
                                const std::string& body, const std::string& purpose = "marketing") {
  namespace json = boost::json;
  http::HttpResult r =
      maker.Fetch("POST", "/v1/templates",
                  json::serialize(json::object{
                      {"name", name}, {"channel", channel}, {"purpose", purpose}, {"body", body}}));
  EXPECT_EQ(r.status, 201) << r.body;
  const int64_t id = Int(Parse(r.body), "id");
  r = maker.Fetch("POST", "/v1/templates/" + std::to_string(id) + "/submit");
  EXPECT_EQ(r.status, 200) << r.body;
  const std::string approval = std::to_string(Int(Parse(r.body), "approval_id"));
  r = checker.Fetch("POST", "/v1/approvals/" + approval + "/approve", R"({"comment":"ok"})");
  EXPECT_EQ(r.status, 200) << r.body;
  r = maker.Fetch("GET", "/v1/templates/" + std::to_string(id));
  EXPECT_EQ(Str(Parse(r.body), "status"), "approved") << r.body;
  return id;
}

// Records the customer's marketing consent for `channel` (given in the app, text version v3).
inline void RecordConsent(SessionClient& who, const std::string& customer,
                          const std::string& channel, bool granted) {
  namespace json = boost::json;
  http::HttpResult r = who.Fetch("POST", "/v1/customers/" + customer + "/consents",
                                 json::serialize(json::object{{"channel", channel},
                                                              {"purpose", "marketing"},
                                                              {"granted", granted},
                                                              {"source", "app"},
                                                              {"text_version", "v3"}}));
  EXPECT_EQ(r.status, 201) << r.body;
}

}  // namespace mercator::test

#endif  // MERCATOR_TESTS_OUTREACH_TEST_UTIL_H_
