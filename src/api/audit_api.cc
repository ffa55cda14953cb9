// /v1/audit: paging through the hash-chained audit log and verifying it (auditors).
#include <fmt/format.h>

#include <charconv>
#include <cstdio>

#include "api/api.h"
#include "api/json_util.h"
#include "auth/audit_log.h"

namespace mercator::api {

namespace {

absl::StatusOr<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return absl::InvalidArgumentError("");
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// A time filter: UTC milliseconds, "YYYY-MM-DD" (midnight UTC) or
// "YYYY-MM-DDTHH:MM:SS[.mmm]Z".
absl::StatusOr<int64_t> ParseTimeParam(std::string_view name, std::string_view s) {
  if (auto ms = ParseInt(s); ms.ok()) return *ms;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, milli = 0, n = 0;
  const std::string str(s);
  bool ok = false;
  if (str.size() == 10) {
    ok = std::sscanf(str.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10;
  } else if (str.size() == 20) {
    ok = std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) ==
             6 &&
         n == 20;
  } else if (str.size() == 24) {
    ok = std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &sec,
                     &milli, &n) == 7 &&
         n == 24;
  }
  if (!ok || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: expected UTC milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.mmm]Z", name));
  }
  return DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400000 +
         ((h * 60 + mi) * 60 + sec) * int64_t{1000} + milli;
}

json::object EntryToJson(const AuditEntry& e) {
  json::object o{{"seq", e.seq},       {"time", IsoTime(e.time_ms)},   {"actor", e.actor},
                 {"action", e.action}, {"object_type", e.object_type}, {"object_id", e.object_id}};
  // The detail is stored as JSON text; shown as JSON when it parses (it always should).
  boost::system::error_code ec;
  json::value detail = json::parse(e.detail, ec);
  o["detail"] = ec ? json::value(e.detail) : std::move(detail);
  o["detail_sha256"] = e.detail_sha256;
  o["request_id"] = e.request_id;
  o["ip"] = e.ip;
  o["prev_hash"] = e.prev_hash;
  o["hash"] = e.hash;
  return o;
}

}  // namespace

void RegisterAuditRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  // Cursor pagination: ?limit=100&cursor=<next_cursor of the previous page> (or after=<seq>),
  // filters actor, action, object_type, object_id, from, to (inclusive).
  router.Add(Method::kGet, "/v1/audit", Auth::kRequired, [&ctx](http::Request& req) {
    if (ctx.audit_chain == nullptr) {
      return ErrorResponse(absl::InternalError("audit log is not configured"));
    }
    AuditQuery q;
    for (std::string_view name : {"cursor", "after"}) {
      if (auto c = req.Query(name); c && !c->empty()) {
        absl::StatusOr<int64_t> after = ParseInt(*c);
        if (!after.ok() || *after < 0) {
          return ErrorResponse(
              absl::InvalidArgumentError(fmt::format("{}: not a cursor from this API", name)));
        }
        q.after_seq = *after;
      }
    }
    int64_t limit = 100;
    if (auto l = req.Query("limit"); l && !l->empty()) {
      absl::StatusOr<int64_t> v = ParseInt(*l);
      if (!v.ok() || *v < 1 || *v > 1000) {
        return ErrorResponse(absl::InvalidArgumentError("limit: must be between 1 and 1000"));
      }
      limit = *v;
    }
    q.limit = static_cast<int>(limit) + 1;
    const auto text_filter = [&req](std::string_view name, std::optional<std::string>& out) {
      if (auto v = req.Query(name); v && !v->empty()) out = std::string(*v);
    };
    text_filter("actor", q.actor);
    text_filter("action", q.action);
    text_filter("object_type", q.object_type);
    text_filter("object_id", q.object_id);
    for (auto [name, out] : {std::pair{"from", &q.from_ms}, std::pair{"to", &q.to_ms}}) {
      if (auto v = req.Query(name); v && !v->empty()) {
        absl::StatusOr<int64_t> t = ParseTimeParam(name, *v);
        if (!t.ok()) return ErrorResponse(t.status());
        *out = *t;
      }
    }
    auto list = ctx.audit_chain->List(q);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out;
    if (list->size() > static_cast<size_t>(limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().seq);
    } else {
      out["next_cursor"] = nullptr;
    }
    json::array items;
    for (const AuditEntry& e : *list) items.push_back(EntryToJson(e));
    out["entries"] = std::move(items);
    return JsonResponse(200, out);
  });

  // Recomputes the whole chain; the head hash can be kept elsewhere to detect truncation.
  router.Add(Method::kGet, "/v1/audit/verify", Auth::kRequired, [&ctx](http::Request&) {
    if (ctx.audit_chain == nullptr) {
      return ErrorResponse(absl::InternalError("audit log is not configured"));
    }
    auto v = ctx.audit_chain->Verify();
    if (!v.ok()) return ErrorResponse(v.status());
    json::object out{{"ok", v->ok}, {"checked", v->checked}};
    out["first_broken_seq"] = v->ok ? json::value(nullptr) : json::value(v->first_broken_seq);
    out["reason"] = v->ok ? json::value(nullptr) : json::value(v->reason);
    out["head_seq"] = v->head_seq;
    out["head_hash"] = v->head_hash;
    return JsonResponse(200, out);
  });
}

}  // namespace mercator::api
