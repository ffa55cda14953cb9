#include "http/types.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"

namespace mercator::http {
namespace {

Request MakeRequest(Method method, std::string target) {
  Request r;
  r.method = method;
  r.target = std::move(target);
  EXPECT_TRUE(ParseTarget(r).ok());
  return r;
}

Handler Say(std::string what) {
  return [what](Request&) { return Response::Text(200, what, "text/plain"); };
}

boost::json::object ParseObject(const std::string& body) {
  return boost::json::parse(body).as_object();
}

TEST(Router, UnknownPathIs404Problem) {
  Router router;
  router.Add(Method::kGet, "/a", Auth::kPublic, Say("a"));
  Request req = MakeRequest(Method::kGet, "/nope");
  Response res = router.Dispatch(req);
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.headers["content-type"], "application/problem+json");
  boost::json::object o = ParseObject(res.body);
  EXPECT_EQ(o["status"].as_int64(), 404);
  EXPECT_EQ(o["title"].as_string(), "Not Found");
  EXPECT_EQ(o["type"].as_string(), "about:blank");
  EXPECT_TRUE(req.route.empty());
}

TEST(Router, KnownPathOtherMethodIs405WithAllow) {
  Router router;
  router.Add(Method::kGet, "/items/{id}", Auth::kPublic, Say("get"));
  router.Add(Method::kDelete, "/items/{id}", Auth::kPublic, Say("delete"));
  Request req = MakeRequest(Method::kPost, "/items/7");
  Response res = router.Dispatch(req);
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.headers["allow"], "GET, HEAD, DELETE");
  EXPECT_EQ(res.headers["content-type"], "application/problem+json");
  EXPECT_EQ(req.route, "/items/{id}");
}

TEST(Router, FillsPathParamsAndRoute) {
  Router router;
  router.Add(Method::kGet, "/v1/customers/{id}/tags/{tag}", Auth::kPublic, [](Request& r) {
    return Response::Text(200, r.path_params["id"] + "|" + r.path_params["tag"], "text/plain");
  });
  Request req = MakeRequest(Method::kGet, "/v1/customers/c%2F1/tags/vip?x=1");
  Response res = router.Dispatch(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "c/1|vip");
  EXPECT_EQ(req.route, "/v1/customers/{id}/tags/{tag}");
}

TEST(Router, LiteralSegmentBeatsPlaceholder) {
  Router router;
  router.Add(Method::kGet, "/a/{id}", Auth::kPublic, Say("param"));
  router.Add(Method::kGet, "/a/count", Auth::kPublic, Say("literal"));
  Request count = MakeRequest(Method::kGet, "/a/count");
  EXPECT_EQ(router.Dispatch(count).body, "literal");
  Request other = MakeRequest(Method::kGet, "/a/42");
  EXPECT_EQ(router.Dispatch(other).body, "param");
}

TEST(Router, EmptySegmentDoesNotMatchPlaceholderOrTrailingSlash) {
  Router router;
  router.Add(Method::kGet, "/a/{id}", Auth::kPublic, Say("x"));
  Request empty = MakeRequest(Method::kGet, "/a/");
  EXPECT_EQ(router.Dispatch(empty).status, 404);
  Request deeper = MakeRequest(Method::kGet, "/a/1/");
  EXPECT_EQ(router.Dispatch(deeper).status, 404);
}

TEST(Router, RestPlaceholderTakesTheRemainingSegments) {
  Router router;
  router.Add(Method::kGet, "/app/{path...}", Auth::kPublic, [](Request& r) {
    Response res;
    res.body = "[" + r.path_params["path"] + "]";
    return res;
  });
  router.Add(Method::kGet, "/app/api", Auth::kPublic, Say("literal"));
  const std::pair<const char*, const char*> cases[] = {
      {"/app/", "[]"},
      {"/app/index.html", "[index.html]"},
      {"/app/assets/index-1a2b.js", "[assets/index-1a2b.js]"},
      {"/app/activities/42/", "[activities/42/]"},
      {"/app/a%2Fb/c", "[a/b/c]"},
      {"/app/api", "literal"},
  };
  for (const auto& [path, body] : cases) {
    Request req = MakeRequest(Method::kGet, path);
    Response res = router.Dispatch(req);
    EXPECT_EQ(res.status, 200) << path;
    EXPECT_EQ(res.body, body) << path;
  }
  Request bare = MakeRequest(Method::kGet, "/app");
  EXPECT_EQ(router.Dispatch(bare).status, 404);
  Request other = MakeRequest(Method::kGet, "/application/x");
  EXPECT_EQ(router.Dispatch(other).status, 404);
}

// Routes are looked up among those of the path's length and those ending in "{name...}";
// the answer must be what a scan of every pattern gives (the oracle below): the most specific
// match (a literal segment earlier wins), the first registered among equals, 405 with the
// methods of all matches, 404 without one. Random patterns and paths over a small alphabet,
// so that many overlap.
TEST(Router, PicksWhatAScanOfEveryPatternPicks) {
  std::mt19937 rng(20261125);
  const std::vector<std::string> words = {"a", "b", "{x}", "{y}"};
  struct Pattern {
    Method method;
    std::vector<std::string> segments;
    bool rest = false;
  };
  std::vector<Pattern> patterns;
  Router router;
  for (int i = 0; i < 40; ++i) {
    Pattern p;
    p.method = rng() % 2 ? Method::kGet : Method::kPost;
    const int n = static_cast<int>(rng() % 5);
    // The first segment literal: paths starting with "c" match nothing.
    for (int j = 0; j < n; ++j) p.segments.push_back(words[rng() % (j == 0 ? 2 : words.size())]);
    p.rest = n > 1 && rng() % 4 == 0;
    if (p.rest) p.segments.back() = "{rest...}";
    std::string pattern;
    for (const std::string& s : p.segments) pattern += "/" + s;
    if (pattern.empty()) pattern = "/";
    router.Add(p.method, pattern, Auth::kPublic, Say(std::to_string(i)));
    patterns.push_back(p);
  }
  const auto oracle = [&](Method method, const std::vector<std::string>& parts) {
    int best = -1;
    uint64_t best_mask = 0;
    std::set<Method> allowed;
    for (size_t i = 0; i < patterns.size(); ++i) {
      const Pattern& p = patterns[i];
      if (p.rest ? parts.size() < p.segments.size() : parts.size() != p.segments.size()) continue;
      uint64_t mask = 0;
      bool ok = true;
      for (size_t k = 0; k < parts.size() && ok; ++k) {
        if (p.rest && k + 1 >= p.segments.size()) break;
        if (p.segments[k][0] == '{') {
          ok = !parts[k].empty();
        } else if (p.segments[k] != parts[k]) {
          ok = false;
        } else {
          mask |= uint64_t{1} << (63 - k);
        }
      }
      if (!ok) continue;
      allowed.insert(p.method);
      if (p.method == method && (best < 0 || mask > best_mask)) {
        best = static_cast<int>(i);
        best_mask = mask;
      }
    }
    return std::make_pair(best, allowed);
  };
  const std::vector<std::string> path_words = {"a", "b", "c"};
  int answered = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<std::string> parts;
    const int n = static_cast<int>(rng() % 7);
    for (int j = 0; j < n; ++j) parts.push_back(path_words[rng() % path_words.size()]);
    std::string target;
    for (const std::string& s : parts) target += "/" + s;
    if (target.empty()) target = "/";
    const Method method = rng() % 2 ? Method::kGet : Method::kPost;
    Request req = MakeRequest(method, target);
    Response res = router.Dispatch(req);
    const auto [best, allowed] = oracle(method, parts);
    if (best >= 0) {
      ++answered;
      EXPECT_EQ(res.status, 200) << target;
      EXPECT_EQ(res.body, std::to_string(best)) << MethodName(method) << " " << target;
    } else if (!allowed.empty()) {
      ++refused;
      EXPECT_EQ(res.status, 405) << target;
      std::string allow;
      std::set<Method> with_head = allowed;
      if (allowed.count(Method::kGet)) with_head.insert(Method::kHead);
      for (Method m : with_head) allow += (allow.empty() ? "" : ", ") + std::string(MethodName(m));
      EXPECT_EQ(res.headers["allow"], allow) << target;
    } else {
      EXPECT_EQ(res.status, 404) << target;
    }
  }
  // The cases are not all of one kind.
  EXPECT_GT(answered, 300);
  EXPECT_GT(refused, 100);
  EXPECT_GT(3000 - answered - refused, 100);  // 404
}

TEST(Router, HeadIsServedByGetWithoutBody) {
  Router router;
  router.Add(Method::kGet, "/doc", Auth::kPublic, Say("hello world"));
  Request req = MakeRequest(Method::kHead, "/doc");
  Response res = router.Dispatch(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.body.empty());
  EXPECT_EQ(res.headers["content-length"], "11");
}

TEST(Router, RequiredAuthWithoutAuthenticatorFailsClosed) {
  Router router;
  router.Add(Method::kGet, "/secret", Auth::kRequired, Say("secret"));
  Request req = MakeRequest(Method::kGet, "/secret");
  Response res = router.Dispatch(req);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(res.body.find("secret\""), std::string::npos);
}

TEST(Router, AuthenticatorGuardsOnlyRequiredRoutes) {
  Router router;
  int calls = 0;
  router.SetAuthenticator([&calls](Request& r) -> absl::Status {
    ++calls;
    if (r.Header("authorization") != "Bearer ok") {
      return absl::UnauthenticatedError("missing or bad token");
    }
    r.principal.kind = Principal::Kind::kStaff;
    r.principal.id = "alice";
    return absl::OkStatus();
  });
  router.Add(Method::kGet, "/me", Auth::kRequired,
             [](Request& r) { return Response::Text(200, r.principal.id, "text/plain"); });
  router.Add(Method::kGet, "/open", Auth::kPublic, Say("open"));

  Request anonymous = MakeRequest(Method::kGet, "/me");
  Response denied = router.Dispatch(anonymous);
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.headers["content-type"], "application/problem+json");

  Request signed_in = MakeRequest(Method::kGet, "/me");
  signed_in.headers["authorization"] = "Bearer ok";
  EXPECT_EQ(router.Dispatch(signed_in).body, "alice");

  Request open = MakeRequest(Method::kGet, "/open");
  EXPECT_EQ(router.Dispatch(open).status, 200);
  EXPECT_EQ(calls, 2);
}

// The server's form: inline routes run at once; the others, authentication included, are
// handed to the worker function; answers the router decides (404) are given at once.
TEST(Router, ServerDispatchHandsAllButInlineRoutesToAWorker) {
  Router router;
  int authenticated = 0;
  router.SetAuthenticator([&authenticated](Request&) {
    ++authenticated;
    return absl::OkStatus();
  });
  router.Add(Method::kGet, "/a/{id}", Auth::kRequired, Say("worker"));
  router.Add(Method::kGet, "/a/count", Auth::kRequired, Say("worker count"));
  router.AddInline(Method::kGet, "/a/{id}/inline", Auth::kRequired,
                   [](Request& r, Responder respond) {
                     respond(Response::Text(200, "inline " + r.path_params["id"], "text/plain"));
                   });
  std::vector<std::function<void()>> queued;
  auto to_worker = [&queued](std::function<void()> work) { queued.push_back(std::move(work)); };
  std::string answer;
  auto respond = [&answer] {
    return Responder([&answer](Response r) { answer = std::to_string(r.status) + " " + r.body; });
  };

  Request in = MakeRequest(Method::kGet, "/a/7/inline");
  EXPECT_FALSE(router.Dispatch(in, respond(), to_worker));
  EXPECT_EQ(answer, "200 inline 7");
  EXPECT_EQ(authenticated, 1);
  EXPECT_TRUE(queued.empty());

  answer.clear();
  Request count = MakeRequest(Method::kGet, "/a/count");
  EXPECT_TRUE(router.Dispatch(count, respond(), to_worker));
  EXPECT_EQ(answer, "");  // nothing ran yet, authentication included
  EXPECT_EQ(authenticated, 1);
  ASSERT_EQ(queued.size(), 1u);
  queued.front()();
  EXPECT_EQ(answer, "200 worker count");  // the literal segment still wins
  EXPECT_EQ(authenticated, 2);

  answer.clear();
  Request unknown = MakeRequest(Method::kGet, "/b");
  EXPECT_FALSE(router.Dispatch(unknown, respond(), to_worker));
  EXPECT_EQ(answer.substr(0, 3), "404");
  EXPECT_EQ(queued.size(), 1u);
}

TEST(ProblemResponse, HasRfc9457FieldsAndErrors) {
  Problem p;
  p.status = 422;
  p.type = "https://mercator.dev/problems/validation";
  p.title = "Invalid rule";
  p.detail = "The rule does not parse.";
  p.errors = {{"/rules/2/value", "must be a number"}, {"line 3 \"x\"", "unknown tag"}};
  Response res = ProblemResponse(p);
  EXPECT_EQ(res.status, 422);
  EXPECT_EQ(res.headers["content-type"], "application/problem+json");
  boost::json::object o = ParseObject(res.body);
  EXPECT_EQ(o["type"].as_string(), "https://mercator.dev/problems/validation");
  EXPECT_EQ(o["title"].as_string(), "Invalid rule");
  EXPECT_EQ(o["status"].as_int64(), 422);
  EXPECT_EQ(o["detail"].as_string(), "The rule does not parse.");
  const boost::json::array& errors = o["errors"].as_array();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[1].as_object().at("field").as_string(), "line 3 \"x\"");
  EXPECT_EQ(errors[1].as_object().at("reason").as_string(), "unknown tag");
}

TEST(StatusResponse, MapsCodesAsDocumented) {
  const std::pair<absl::Status, int> cases[] = {
      {absl::InvalidArgumentError("x"), 400},
      {absl::OutOfRangeError("x"), 400},
      {absl::FailedPreconditionError("x"), 409},
      {absl::NotFoundError("x"), 404},
      {absl::AlreadyExistsError("x"), 409},
      {absl::UnauthenticatedError("x"), 401},
      {absl::PermissionDeniedError("x"), 403},
      {absl::ResourceExhaustedError("x"), 429},
      {absl::UnavailableError("x"), 503},
      {absl::InternalError("x"), 500},
      {absl::UnknownError("x"), 500},
      {absl::DataLossError("x"), 500},
  };
  for (const auto& [status, http_status] : cases) {
    Response res = StatusResponse(status);
    EXPECT_EQ(res.status, http_status) << status;
    EXPECT_EQ(res.headers["content-type"], "application/problem+json");
    EXPECT_EQ(ParseObject(res.body)["status"].as_int64(), http_status);
  }
}

TEST(StatusResponse, ClientErrorCarriesMessageAndField) {
  Response res = StatusResponse(absl::InvalidArgumentError("age must be >= 0"), "/age");
  boost::json::object o = ParseObject(res.body);
  EXPECT_EQ(o["detail"].as_string(), "age must be >= 0");
  const boost::json::object& e = o["errors"].as_array()[0].as_object();
  EXPECT_EQ(e.at("field").as_string(), "/age");
  EXPECT_EQ(e.at("reason").as_string(), "age must be >= 0");
}

TEST(StatusResponse, ReasonDropsTheFieldPrefixOfTheMessage) {
  Response res =
      StatusResponse(absl::InvalidArgumentError("rule: column 13: expected a term"), "rule");
  boost::json::object o = ParseObject(res.body);
  EXPECT_EQ(o["detail"].as_string(), "rule: column 13: expected a term");
  const boost::json::object& e = o["errors"].as_array()[0].as_object();
  EXPECT_EQ(e.at("field").as_string(), "rule");
  EXPECT_EQ(e.at("reason").as_string(), "column 13: expected a term");
}

TEST(StatusResponse, ServerErrorNeverLeaksMessage) {
  Response res = StatusResponse(absl::InternalError("sqlite: /data/secret.db is locked"));
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body.find("secret"), std::string::npos);
  EXPECT_EQ(res.body.find("sqlite"), std::string::npos);
  Response unavailable = StatusResponse(absl::UnavailableError("pg host 10.0.0.5 down"));
  EXPECT_EQ(unavailable.body.find("10.0.0.5"), std::string::npos);
}

TEST(ParseTarget, DecodesPathAndQuery) {
  Request r;
  r.target = "/v1/s%20x?q=a+b&empty=&flag&q=second&k%3D=v%26";
  ASSERT_TRUE(ParseTarget(r).ok());
  EXPECT_EQ(r.path, "/v1/s x");
  EXPECT_EQ(r.Query("q"), "a b");
  EXPECT_EQ(r.Query("empty"), "");
  EXPECT_EQ(r.Query("flag"), "");
  EXPECT_EQ(r.Query("k="), "v&");
  EXPECT_FALSE(r.Query("missing").has_value());
}

TEST(ParseTarget, RejectsBadInput) {
  for (const char* bad : {"", "v1/x", "/a%", "/a%2", "/a%zz", "/a?b=%G0", "http://x/y"}) {
    Request r;
    r.target = bad;
    EXPECT_EQ(ParseTarget(r).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(Request, HeaderLookupIsByLowerCaseName) {
  Request r;
  r.headers["content-type"] = "application/json";
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("x-missing"), "");
}

TEST(Methods, NameAndParseRoundTrip) {
  for (Method m : {Method::kGet, Method::kHead, Method::kPost, Method::kPut, Method::kPatch,
                   Method::kDelete, Method::kOptions}) {
    EXPECT_EQ(ParseMethod(MethodName(m)), m);
  }
  EXPECT_EQ(ParseMethod("get"), Method::kOther);
  EXPECT_EQ(ParseMethod("BREW"), Method::kOther);
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
}

}  // namespace
}  // namespace mercator::http
