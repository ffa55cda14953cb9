// /v1/activities (operators: terms, lifecycle, versions, stats, draw log) and
// /v1/app/activities (signed app back-ends with the "draw" scope: what a customer can join,
// draw, my prizes, the rules page). The activity module holds the rules
// (activity/activity_service.h); this file parses, audits and renders.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "absl/time/time.h"
#include "activity/activity_service.h"
#include "activity/quiz_service.h"
#include "activity/signin_service.h"
#include "activity/tasks_service.h"
#include "api/api.h"
#include "api/audit_util.h"
#include "api/customer_activities.h"
#include "api/fulfilments_api.h"
#include "api/json_util.h"
#include "common/status_macros.h"

namespace mercator::api {

namespace {

using activity::ActivityService;
using activity::ActivityView;

// Longest Idempotency-Key accepted on a draw (the engine's key adds the client's actor).
constexpr size_t kMaxIdempotencyKeyBytes = 64;

json::value TermsJson(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value() : v;
}

json::object VersionToJson(const ActivityVersion& v, bool with_terms) {
  json::object o{
      {"version", v.version},
      {"status", VersionStatusName(v.status)},
      {"digest", v.digest},
      {"created_by", v.created_by},
      {"created_at", IsoTime(v.created_ms)},
      {"approval_id", v.approval_id > 0 ? json::value(v.approval_id) : json::value()},
      {"decided_by", v.decided_by},
      {"decided_at", v.decided_ms > 0 ? json::value(IsoTime(v.decided_ms)) : json::value()}};
  if (with_terms) o["terms"] = TermsJson(v.terms_json);
  return o;
}

json::object ViewToJson(const ActivityView& v) {
  return json::object{
      {"id", v.record.id},
      {"name", v.record.name},
      {"state", v.state},
      {"created_by", v.record.created_by},
      {"created_at", IsoTime(v.record.created_ms)},
      {"updated_at", IsoTime(v.record.updated_ms)},
      {"latest", VersionToJson(v.latest, false)},
      {"published", v.published ? json::value(VersionToJson(*v.published, false)) : json::value()},
      {"terms", TermsJson(v.latest.terms_json)}};
}

json::object ResultToJson(const activity::DrawResult& r) {
  return json::object{
      {"draw_id", std::to_string(r.draw_id)}, {"pool_id", r.pool_id},  {"prize_id", r.prize_id},
      {"prize_name", r.prize_name},           {"kind", r.kind},        {"won", r.won},
      {"guaranteed", r.guaranteed},           {"at", IsoTime(r.at_ms)}};
}

// A draw's answer: ResultToJson's fields, then activity_id, points_spent and replayed, written
// directly rather than through a json::object (the draw route's hottest allocation path);
// tests/activities_test.cc checks the fields, their order and types.
std::string DrawAnswerJson(const activity::DrawResult& r, int64_t activity_id,
                           int64_t points_spent) {
  std::string out;
  out.reserve(256);
  const auto field = [&out](std::string_view name, std::string_view value) {
    out += out.empty() ? "{\"" : ",\"";
    out += name;
    out += "\":";
    out += json::serialize(json::string_view(value.data(), value.size()));
  };
  const auto literal = [&out](std::string_view name, std::string_view text) {
    out += ",\"";
    out += name;
    out += "\":";
    out += text;
  };
  field("draw_id", std::to_string(r.draw_id));
  field("pool_id", r.pool_id);
  field("prize_id", r.prize_id);
  field("prize_name", r.prize_name);
  field("kind", r.kind);
  literal("won", r.won ? "true" : "false");
  literal("guaranteed", r.guaranteed ? "true" : "false");
  field("at", IsoTime(r.at_ms));
  literal("activity_id", std::to_string(activity_id));
  literal("points_spent", std::to_string(points_spent));
  literal("replayed", r.replayed ? "true" : "false");
  out += '}';
  return out;
}

json::object StatsToJson(int64_t id, const activity::DrawStats& s) {
  json::array prizes;
  for (const activity::PrizeStats& p : s.prizes) {
    prizes.push_back(
        json::object{{"pool_id", p.pool_id},
                     {"prize_id", p.prize_id},
                     {"name", p.name},
                     {"kind", p.kind},
                     {"awarded", p.awarded},
                     {"stock_left", p.stock_left >= 0 ? json::value(p.stock_left) : json::value()},
                     {"daily_stock_left",
                      p.daily_stock_left >= 0 ? json::value(p.daily_stock_left) : json::value()}});
  }
  json::object channels;
  for (const auto& [channel, n] : s.draws_per_channel) channels[channel] = n;
  return json::object{{"activity_id", id},
                      {"participants", s.participants},
                      {"draws", s.draws},
                      {"wins", s.wins},
                      {"budget_fen", s.budget_fen},
                      {"budget_spent_fen", s.budget_spent_fen},
                      {"prizes", std::move(prizes)},
                      {"draws_per_channel", std::move(channels)}};
}

// ?days of the stats route: how many local days the daily series covers, today included.
constexpr int32_t kDefaultStatsDays = 7;
constexpr int32_t kMaxStatsDays = 90;

absl::StatusOr<int32_t> StatsDays(const http::Request& req) {
  auto q = req.Query("days");
  if (!q) return kDefaultStatsDays;
  int32_t days = 0;
  auto [p, ec] = std::from_chars(q->data(), q->data() + q->size(), days);
  if (q->empty() || ec != std::errc() || p != q->data() + q->size() || days < 1 ||
      days > kMaxStatsDays) {
    return absl::InvalidArgumentError(
        fmt::format("days: must be an integer from 1 to {}", kMaxStatsDays));
  }
  return days;
}

std::string LocalDate(int32_t local_day) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(int64_t{local_day} * 86'400),
                          absl::UTCTimeZone());
}

// "today" and "daily" (the last `days` local days, oldest first, days without draws as zeros)
// from the engine's per-day counts.
void AddDailyStats(const activity::DrawStats& s, int32_t days, json::object& out) {
  auto day_json = [](int32_t day, const activity::DayStats* d) {
    return json::object{{"date", LocalDate(day)},
                        {"draws", d != nullptr ? d->draws : 0},
                        {"wins", d != nullptr ? d->wins : 0},
                        {"cost_fen", d != nullptr ? d->cost_fen : 0}};
  };
  const int32_t first = s.today - days + 1;
  auto it = std::lower_bound(s.days.begin(), s.days.end(), first,
                             [](const activity::DayStats& d, int32_t x) { return d.day < x; });
  json::array daily;
  const activity::DayStats* today = nullptr;
  for (int32_t day = first; day <= s.today; ++day) {
    const activity::DayStats* d = nullptr;
    if (it != s.days.end() && it->day == day) d = &*it++;
    if (day == s.today) today = d;
    daily.push_back(day_json(day, d));
  }
  out["tz_offset_minutes"] = s.tz_offset_minutes;
  out["today"] = day_json(s.today, today);
  out["daily"] = std::move(daily);
}

// The customer's external id and channel of an app request, from the query or the body.
absl::StatusOr<std::string> Customer(const http::Request& req, const json::object* body) {
  std::optional<std::string> c;
  if (body != nullptr) {
    ASSIGN_OR_RETURN(c, OptionalString(*body, "customer"));
  } else if (auto q = req.Query("customer")) {
    c = std::string(*q);
  }
  if (!c || c->empty()) return absl::InvalidArgumentError("customer: is required");
  return *c;
}

absl::StatusOr<std::string> Channel(const http::Request& req, const json::object* body) {
  std::optional<std::string> c;
  if (body != nullptr) {
    ASSIGN_OR_RETURN(c, OptionalString(*body, "channel"));
  } else if (auto q = req.Query("channel")) {
    c = std::string(*q);
  }
  if (!c || c->empty()) return absl::InvalidArgumentError("channel: is required");
  if (!activity::IsChannel(*c)) {
    return absl::InvalidArgumentError("channel: must be one of app, h5, wechat_oa, wecom, branch");
  }
  return *c;
}

// The device a draw comes from: the X-Device-Id header, else the body's "device_id"; empty
// when neither is given. Bounded so a client cannot grow the rate limiter's keys without end.
absl::StatusOr<std::string> DeviceId(const http::Request& req, const json::object& body) {
  std::optional<std::string> d;
  if (std::string_view h = req.Header("x-device-id"); !h.empty()) {
    d = std::string(h);
  } else {
    ASSIGN_OR_RETURN(d, OptionalString(body, "device_id"));
  }
  if (d && d->size() > 128) return absl::InvalidArgumentError("device_id: at most 128 bytes");
  return d.value_or("");
}

// The Idempotency-Key header scoped to the caller (`scope`: its actor), so that two callers
// never share a draw, sign-in or quiz attempt.
absl::StatusOr<std::string> ScopedKey(const http::Request& req, std::string_view scope) {
  const std::string_view key = req.Header("idempotency-key");
  if (key.empty()) {
    return absl::InvalidArgumentError(
        "Idempotency-Key: is required (a retry with the same key returns the first result)");
  }
  if (key.size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError(
        fmt::format("Idempotency-Key: at most {} bytes", kMaxIdempotencyKeyBytes));
  }
  return fmt::format("{}:{}", scope, key);
}

// The customer, channel and key scope of a signed app back-end's request.
absl::StatusOr<CustomerCall> AppCall(const http::Request& req, const json::object* body) {
  CustomerCall call;
  ASSIGN_OR_RETURN(call.customer, Customer(req, body));
  ASSIGN_OR_RETURN(call.channel, Channel(req, body));
  call.key_scope = req.principal.Actor();
  return call;
}

http::Response Answer(bool replayed, json::object body);

// Sign-in, quiz and task routes and figures (defined after RegisterActivityRoutes).
activity::TemplateEngine TemplateEngineOf(const activity::ActivityView& view);
absl::Status AddTemplateStats(ApiContext& ctx, const activity::ActivityView& view,
                              json::object& out);
void RegisterActivityTemplateRoutes(http::Router& router, ApiContext& ctx);

}  // namespace

void RegisterActivityRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.activities == nullptr) return;
  ActivityService& svc = *ctx.activities;

  // --- operators -----------------------------------------------------------------------

  router.Add(Method::kGet, "/v1/activities", Auth::kRequired, [&svc](http::Request& req) {
    int64_t after = 0, limit = 50;
    if (auto c = req.Query("cursor"); c && !c->empty()) {
      auto [p, ec] = std::from_chars(c->data(), c->data() + c->size(), after);
      if (ec != std::errc() || p != c->data() + c->size() || after < 0) {
        return ErrorResponse(absl::InvalidArgumentError("cursor: not a cursor from this API"));
      }
    }
    if (auto l = req.Query("limit"); l && !l->empty()) {
      auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
      if (ec != std::errc() || p != l->data() + l->size() || limit < 1 || limit > 200) {
        return ErrorResponse(absl::InvalidArgumentError("limit: must be between 1 and 200"));
      }
    }
    auto list = svc.List(after, static_cast<int>(limit) + 1);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out;
    out["next_cursor"] = nullptr;
    if (list->size() > static_cast<size_t>(limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().record.id);
    }
    json::array items;
    for (const ActivityView& v : *list) {
      json::object o = ViewToJson(v);
      o.erase("terms");
      items.push_back(std::move(o));
    }
    out["activities"] = std::move(items);
    return JsonResponse(200, out);
  });

  router.Add(Method::kPost, "/v1/activities", Auth::kRequired, [&ctx, &svc](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    auto v = svc.Create(*body, req.principal);
    if (!v.ok()) return ErrorResponse(v.status());
    if (absl::Status s = RecordAudit(
            ctx, req, "activity.create", "activity", std::to_string(v->record.id),
            json::serialize(json::object{
                {"name", v->record.name}, {"version", 1}, {"digest", v->latest.digest}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r = JsonResponse(201, ViewToJson(*v));
    r.headers["location"] = fmt::format("/v1/activities/{}", v->record.id);
    return r;
  });

  router.Add(Method::kGet, "/v1/activities/{id}", Auth::kRequired, [&svc](http::Request& req) {
    auto id = PathId(req, "id");
    if (!id.ok()) return ErrorResponse(id.status());
    auto v = svc.Get(*id);
    if (!v.ok()) return ErrorResponse(v.status());
    return JsonResponse(200, ViewToJson(*v));
  });

  router.Add(Method::kPut, "/v1/activities/{id}", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto v = svc.Update(*id, *body, req.principal);
               if (!v.ok()) return ErrorResponse(v.status());
               if (absl::Status s =
                       RecordAudit(ctx, req, "activity.update", "activity", std::to_string(*id),
                                   json::serialize(json::object{{"version", v->latest.version},
                                                                {"digest", v->latest.digest}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(200, ViewToJson(*v));
             });

  router.Add(Method::kDelete, "/v1/activities/{id}", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               if (absl::Status s = svc.Delete(*id); !s.ok()) return ErrorResponse(s);
               if (absl::Status s =
                       RecordAudit(ctx, req, "activity.delete", "activity", std::to_string(*id));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               http::Response r;
               r.status = 204;
               return r;
             });

  router.Add(Method::kPost, "/v1/activities/{id}/submit", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               // The approval service audits the submission itself ("approval.submit").
               auto a = svc.Submit(*id, req.principal, RequestMetaOf(req));
               if (!a.ok()) return ErrorResponse(a.status());
               (void)ctx;
               auto v = svc.Get(*id);
               if (!v.ok()) return ErrorResponse(v.status());
               json::object out = ViewToJson(*v);
               out["approval_id"] = a->id;
               return JsonResponse(202, out);
             });

  struct PhaseRoute {
    const char* path;
    const char* action;
    absl::StatusOr<ActivityView> (ActivityService::*fn)(int64_t);
  };
  for (const PhaseRoute& pr :
       {PhaseRoute{"/v1/activities/{id}/pause", "activity.pause", &ActivityService::Pause},
        PhaseRoute{"/v1/activities/{id}/resume", "activity.resume", &ActivityService::Resume},
        PhaseRoute{"/v1/activities/{id}/end", "activity.end", &ActivityService::End}}) {
    router.Add(Method::kPost, pr.path, Auth::kRequired, [&ctx, &svc, pr](http::Request& req) {
      auto id = PathId(req, "id");
      if (!id.ok()) return ErrorResponse(id.status());
      auto v = (svc.*pr.fn)(*id);
      if (!v.ok()) return ErrorResponse(v.status());
      if (absl::Status s = RecordAudit(ctx, req, pr.action, "activity", std::to_string(*id),
                                       json::serialize(json::object{{"state", v->state}}));
          !s.ok()) {
        return ErrorResponse(s);
      }
      return JsonResponse(200, ViewToJson(*v));
    });
  }

  router.Add(Method::kPost, "/v1/activities/{id}/clone", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               auto v = svc.Clone(*id, req.principal);
               if (!v.ok()) return ErrorResponse(v.status());
               if (absl::Status s = RecordAudit(
                       ctx, req, "activity.clone", "activity", std::to_string(v->record.id),
                       json::serialize(json::object{{"from", *id}, {"name", v->record.name}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               http::Response r = JsonResponse(201, ViewToJson(*v));
               r.headers["location"] = fmt::format("/v1/activities/{}", v->record.id);
               return r;
             });

  router.Add(Method::kGet, "/v1/activities/{id}/versions", Auth::kRequired,
             [&svc](http::Request& req) {
               auto id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               auto list = svc.Versions(*id);
               if (!list.ok()) return ErrorResponse(list.status());
               json::array items;
               for (const ActivityVersion& v : *list) items.push_back(VersionToJson(v, true));
               return JsonResponse(200, json::object{{"versions", std::move(items)}});
             });

  router.Add(Method::kGet, "/v1/activities/{id}/stats", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               auto days = StatsDays(req);
               if (!days.ok()) return ErrorResponse(days.status());
               auto view = svc.Get(*id);
               if (!view.ok()) return ErrorResponse(view.status());
               // Lottery figures from the draw engine; sign-in, quiz and task figures from
               // their services (activity_templates section below).
               json::object out{{"activity_id", *id}};
               if (TemplateEngineOf(*view) == activity::TemplateEngine::kDraw) {
                 auto stats = svc.Stats(*id);
                 if (!stats.ok()) return ErrorResponse(stats.status());
                 out = StatsToJson(*id, *stats);
                 AddDailyStats(*stats, *days, out);
               }
               if (absl::Status s = AddTemplateStats(ctx, *view, out); !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(200, out);
             });

  // Every draw with its random value, as CSV; each export is audited.
  router.Add(
      Method::kGet, "/v1/activities/{id}/draws", Auth::kRequired, [&ctx, &svc](http::Request& req) {
        auto id = PathId(req, "id");
        if (!id.ok()) return ErrorResponse(id.status());
        auto csv = svc.DrawLogCsv(*id);
        if (!csv.ok()) return ErrorResponse(csv.status());
        if (absl::Status s =
                RecordAudit(ctx, req, "activity.draws_export", "activity", std::to_string(*id),
                            json::serialize(json::object{{"bytes", csv->size()}}));
            !s.ok()) {
          return ErrorResponse(s);
        }
        http::Response r = http::Response::Text(200, *std::move(csv), "text/csv");
        r.headers["content-disposition"] =
            fmt::format("attachment; filename=\"activity-{}-draws.csv\"", *id);
        r.headers["cache-control"] = "no-store";
        return r;
      });

  // --- signed app back-ends ----------------------------------------------------------

  router.Add(Method::kGet, "/v1/app/activities", Auth::kRequired, [&ctx](http::Request& req) {
    auto call = AppCall(req, nullptr);
    if (!call.ok()) return ErrorResponse(call.status());
    auto items = VisibleActivitiesJson(ctx, *call);
    if (!items.ok()) return ErrorResponse(items.status());
    return JsonResponse(200, json::object{{"activities", *std::move(items)}});
  });

  // On the I/O thread (the checks are memory reads; a draw whose terms need a blocking step
  // goes to a worker, DrawCall::offload), and asynchronous: the answer waits for the draw's
  // group commit without holding a thread; the engine's writer thread calls back once the
  // draw is durable.
  router.AddInline(Method::kPost, "/v1/app/activities/{id}/draw", Auth::kRequired,
                   [&ctx](http::Request& req, http::Responder respond) {
                     auto id = PathId(req, "id");
                     if (!id.ok()) return respond(ErrorResponse(id.status()));
                     absl::StatusOr<json::object> body = ParseObjectBody(req);
                     if (!body.ok()) return respond(ErrorResponse(body.status()));
                     auto call = AppCall(req, &*body);
                     if (!call.ok()) return respond(ErrorResponse(call.status()));
                     DrawForCustomer(ctx, req, *id, *call, *body, std::move(respond));
                   });

  router.Add(Method::kGet, "/v1/app/activities/{id}/prizes", Auth::kRequired,
             [&ctx](http::Request& req) {
               auto id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               auto customer = Customer(req, nullptr);
               if (!customer.ok()) return ErrorResponse(customer.status());
               auto items = MyPrizesJson(ctx, *id, *customer);
               if (!items.ok()) return ErrorResponse(items.status());
               return JsonResponse(200, json::object{{"prizes", *std::move(items)}});
             });

  router.Add(Method::kGet, "/v1/app/activities/{id}/rules", Auth::kRequired,
             [&svc](http::Request& req) {
               auto id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               auto rules = svc.Rules(*id);
               if (!rules.ok()) return ErrorResponse(rules.status());
               return JsonResponse(200, *rules);
             });

  RegisterActivityTemplateRoutes(router, ctx);
}

// --- the customer side, shared with h5_api.cc (api/customer_activities.h) ----------------

absl::StatusOr<int64_t> PathId(const http::Request& req, std::string_view name) {
  const std::string& s = req.path_params.at(std::string(name));
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::NotFoundError(fmt::format("{} '{}' is not a valid id", name, s));
  }
  return v;
}

absl::StatusOr<json::array> VisibleActivitiesJson(ApiContext& ctx, const CustomerCall& call) {
  ASSIGN_OR_RETURN(std::vector<ActivityService::Visible> list,
                   ctx.activities->VisibleTo(call.customer, call.channel));
  json::array items;
  for (const ActivityService::Visible& v : list) {
    const activity::ActivityTerms& t = v.activity->terms;
    items.push_back(json::object{
        {"id", v.activity->activity_id},
        {"name", t.name},
        {"title", t.display.title},
        {"template", t.display.template_name},
        {"theme", t.display.theme},
        {"state", v.state},
        {"end", activity::FormatTime(t.eligibility.end_ms)},
        {"chances_left", v.chances_left >= 0 ? json::value(v.chances_left) : json::value()},
        {"points_cost", t.chances.points_cost}});
  }
  return items;
}

void DrawForCustomer(ApiContext& ctx, const http::Request& req, int64_t id,
                     const CustomerCall& call, const json::object& body, http::Responder respond) {
  auto key = ScopedKey(req, call.key_scope);
  if (!key.ok()) return respond(ErrorResponse(key.status()));
  activity::DrawCall draw;
  draw.activity_id = id;
  draw.external_id = call.customer;
  draw.channel = call.channel;
  draw.idempotency_key = *std::move(key);
  auto device = DeviceId(req, body);
  if (!device.ok()) return respond(ErrorResponse(device.status()));
  draw.device_id = *std::move(device);
  draw.peer_ip = req.peer;
  draw.forwarded_for = std::string(req.Header("x-forwarded-for"));
  draw.offload = req.offload;
  // DrawDone is a std::function, which needs a copyable target.
  auto responder = std::make_shared<http::Responder>(std::move(respond));
  ctx.activities->DrawAsync(draw, [responder,
                                   id](absl::StatusOr<ActivityService::DrawOutcome> result) {
    if (!result.ok()) return (*responder)(ErrorResponse(result.status()));
    (*responder)(http::Response::Json(result->result.replayed ? 200 : 201,
                                      DrawAnswerJson(result->result, id, result->points_spent)));
  });
}

absl::StatusOr<json::array> MyPrizesJson(ApiContext& ctx, int64_t id, const std::string& customer) {
  ASSIGN_OR_RETURN(std::vector<activity::DrawResult> prizes,
                   ctx.activities->MyPrizes(id, customer));
  // Each award with its fulfilment (processing, delivered, awaiting_operator).
  std::vector<int64_t> draw_ids;
  for (const auto& o : prizes) draw_ids.push_back(o.draw_id);
  ASSIGN_OR_RETURN(auto fulfilled, CustomerFulfilments(ctx, id, draw_ids));
  json::array items;
  for (const auto& o : prizes) {
    json::object item = ResultToJson(o);
    if (auto f = fulfilled.find(o.draw_id); f != fulfilled.end()) {
      item["fulfilment"] = std::move(f->second);
    }
    items.push_back(std::move(item));
  }
  return items;
}

http::Response SignInForCustomer(ApiContext& ctx, const http::Request& req, int64_t id,
                                 const CustomerCall& call, const json::object& body) {
  auto key = ScopedKey(req, call.key_scope);
  if (!key.ok()) return ErrorResponse(key.status());
  auto make_up = OptionalString(body, "make_up_date");
  if (!make_up.ok()) return ErrorResponse(make_up.status());
  std::optional<int64_t> make_up_day;
  if (*make_up) {
    auto day = activity::ParseDayDate(**make_up);
    if (!day.ok()) {
      return ErrorResponse(absl::InvalidArgumentError(
          fmt::format("make_up_date: {}", std::string(day.status().message()))));
    }
    make_up_day = *day;
  }
  auto outcome = ctx.sign_ins->SignIn(id, call.customer, call.channel, *key, make_up_day);
  if (!outcome.ok()) return ErrorResponse(outcome.status());
  json::object out = activity::SignInToJson(outcome->record);
  out["activity_id"] = id;
  return Answer(outcome->replayed, std::move(out));
}

http::Response QuizAnswersForCustomer(ApiContext& ctx, const http::Request& req, int64_t id,
                                      const CustomerCall& call, const json::object& body) {
  auto key = ScopedKey(req, call.key_scope);
  if (!key.ok()) return ErrorResponse(key.status());
  const json::value* answers = body.if_contains("answers");
  if (answers == nullptr) return ErrorResponse(absl::InvalidArgumentError("answers: is required"));
  auto outcome = ctx.quizzes->Submit(id, call.customer, call.channel, *key, *answers);
  if (!outcome.ok()) return ErrorResponse(outcome.status());
  json::object out = activity::QuizOutcomeToJson(*outcome);
  out["activity_id"] = id;
  return Answer(outcome->replayed, std::move(out));
}

// --- sign-in, quiz and task routes (signed clients) ------------------------------------

namespace {

http::Response Answer(bool replayed, json::object body) {
  body["replayed"] = replayed;
  http::Response r = JsonResponse(replayed ? 200 : 201, body);
  if (replayed) r.headers["idempotent-replayed"] = "true";
  return r;
}

activity::TemplateEngine TemplateEngineOf(const activity::ActivityView& view) {
  const ActivityVersion& v = view.published ? *view.published : view.latest;
  json::value terms = TermsJson(v.terms_json);
  const json::value* name = nullptr;
  if (terms.is_object()) {
    if (const json::value* d = terms.as_object().if_contains("display"); d && d->is_object()) {
      name = d->as_object().if_contains("template");
    }
  }
  const activity::TemplateSpec* spec =
      name != nullptr && name->is_string()
          ? activity::TemplateRegistry::Default().Find(std::string_view(name->as_string()))
          : nullptr;
  return spec != nullptr ? spec->engine : activity::TemplateEngine::kDraw;
}

absl::Status AddTemplateStats(ApiContext& ctx, const activity::ActivityView& view,
                              json::object& out) {
  const int64_t id = view.record.id;
  const activity::TemplateEngine engine = TemplateEngineOf(view);
  if (engine == activity::TemplateEngine::kSignIn && ctx.sign_ins != nullptr) {
    ASSIGN_OR_RETURN(out["sign_in"], ctx.sign_ins->Stats(id));
  }
  if (engine == activity::TemplateEngine::kQuiz && ctx.quizzes != nullptr) {
    ASSIGN_OR_RETURN(out["quiz"], ctx.quizzes->Stats(id));
  }
  if (ctx.tasks != nullptr) {
    ASSIGN_OR_RETURN(out["tasks"], ctx.tasks->Stats(id));
  }
  return absl::OkStatus();
}

void RegisterActivityTemplateRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  if (activity::SignInService* sign_ins = ctx.sign_ins; sign_ins != nullptr) {
    router.Add(Method::kPost, "/v1/app/activities/{id}/sign-in", Auth::kRequired,
               [&ctx](http::Request& req) {
                 auto id = PathId(req, "id");
                 if (!id.ok()) return ErrorResponse(id.status());
                 absl::StatusOr<json::object> body = ParseObjectBody(req);
                 if (!body.ok()) return ErrorResponse(body.status());
                 auto call = AppCall(req, &*body);
                 if (!call.ok()) return ErrorResponse(call.status());
                 return SignInForCustomer(ctx, req, *id, *call, *body);
               });

    router.Add(Method::kGet, "/v1/app/activities/{id}/sign-in", Auth::kRequired,
               [sign_ins](http::Request& req) {
                 auto id = PathId(req, "id");
                 if (!id.ok()) return ErrorResponse(id.status());
                 auto customer = Customer(req, nullptr);
                 if (!customer.ok()) return ErrorResponse(customer.status());
                 auto calendar = sign_ins->Calendar(*id, *customer);
                 if (!calendar.ok()) return ErrorResponse(calendar.status());
                 return JsonResponse(200, *calendar);
               });
  }

  if (activity::QuizService* quizzes = ctx.quizzes; quizzes != nullptr) {
    router.Add(Method::kGet, "/v1/app/activities/{id}/quiz", Auth::kRequired,
               [quizzes](http::Request& req) {
                 auto id = PathId(req, "id");
                 if (!id.ok()) return ErrorResponse(id.status());
                 auto customer = Customer(req, nullptr);
                 if (!customer.ok()) return ErrorResponse(customer.status());
                 auto questions = quizzes->Questions(*id, *customer);
                 if (!questions.ok()) return ErrorResponse(questions.status());
                 return JsonResponse(200, *questions);
               });

    router.Add(Method::kPost, "/v1/app/activities/{id}/quiz/answers", Auth::kRequired,
               [&ctx](http::Request& req) {
                 auto id = PathId(req, "id");
                 if (!id.ok()) return ErrorResponse(id.status());
                 absl::StatusOr<json::object> body = ParseObjectBody(req);
                 if (!body.ok()) return ErrorResponse(body.status());
                 auto call = AppCall(req, &*body);
                 if (!call.ok()) return ErrorResponse(call.status());
                 return QuizAnswersForCustomer(ctx, req, *id, *call, *body);
               });
  }

  if (activity::TaskService* tasks = ctx.tasks; tasks != nullptr) {
    // Reported by a trusted system (clients with the "events" scope), not by the customer's
    // app: a completion mints draw chances.
    router.Add(Method::kPost, "/v1/app/activities/{id}/tasks/{task_id}/complete", Auth::kRequired,
               [tasks](http::Request& req) {
                 auto id = PathId(req, "id");
                 if (!id.ok()) return ErrorResponse(id.status());
                 const std::string& task_id = req.path_params.at("task_id");
                 absl::StatusOr<json::object> body = ParseObjectBody(req);
                 if (!body.ok()) return ErrorResponse(body.status());
                 auto customer = Customer(req, &*body);
                 if (!customer.ok()) return ErrorResponse(customer.status());
                 auto event_id = RequiredString(*body, "event_id");
                 if (!event_id.ok()) return ErrorResponse(event_id.status());
                 auto occurred = RequiredString(*body, "occurred_at");
                 if (!occurred.ok()) return ErrorResponse(occurred.status());
                 auto occurred_ms = activity::ParseTime(*occurred);
                 if (!occurred_ms.ok()) {
                   return ErrorResponse(absl::InvalidArgumentError(fmt::format(
                       "occurred_at: {}", std::string(occurred_ms.status().message()))));
                 }
                 auto done = tasks->Complete(*id, *customer, task_id, *event_id, *occurred_ms);
                 if (!done.ok()) return ErrorResponse(done.status());
                 const bool credited = done->outcome == TaskWriteResult::Outcome::kCredited;
                 json::object out{{"activity_id", *id},
                                  {"task_id", done->record.task_id},
                                  {"event_id", done->record.event_id},
                                  {"outcome", activity::TaskOutcomeName(done->outcome)},
                                  {"credited", credited},
                                  {"extra_chances", credited ? done->record.extra_chances : 0},
                                  {"completed_at", IsoTime(done->record.at_ms)},
                                  {"extra_chances_today", done->extra_chances_today}};
                 http::Response r = JsonResponse(credited ? 201 : 200, out);
                 if (done->outcome == TaskWriteResult::Outcome::kReplayed) {
                   r.headers["idempotent-replayed"] = "true";
                 }
                 return r;
               });
  }
}

}  // namespace

}  // namespace mercator::api
