// /v1/journeys: definitions with versions, submission for approval (decided through
// /v1/approvals), pause / resume / end, stats, a customer's entries, and the entries stuck
// after transient failures with what operators do about them (retry, exit). The journey
// module holds the rules (journey/journey_service.h); this file parses, audits and renders.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <vector>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "journey/journey_service.h"

namespace mercator::api {

namespace {

using journey::JourneyService;
using journey::JourneyView;

absl::StatusOr<int64_t> JourneyId(const http::Request& req) {
  const std::string& s = req.path_params.at("id");
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::NotFoundError(fmt::format("journey '{}' not found", s));
  }
  return v;
}

json::value DefinitionJson(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value() : v;
}

json::object VersionJson(const JourneyVersion& v, bool with_definition) {
  json::object o{
      {"version", v.version},
      {"status", JourneyVersionStatusName(v.status)},
      {"digest", v.digest},
      {"created_by", v.created_by},
      {"created_at", IsoTime(v.created_ms)},
      {"approval_id", v.approval_id > 0 ? json::value(v.approval_id) : json::value()},
      {"decided_by", v.decided_by},
      {"decided_at", v.decided_ms > 0 ? json::value(IsoTime(v.decided_ms)) : json::value()}};
  if (with_definition) o["definition"] = DefinitionJson(v.definition_json);
  return o;
}

json::object ViewJson(const JourneyView& v, bool with_definition = true) {
  json::object o{{"id", v.record.id},
                 {"name", v.record.name},
                 {"state", JourneyStateName(v.record.state)},
                 {"created_by", v.record.created_by},
                 {"created_at", IsoTime(v.record.created_ms)},
                 {"updated_at", IsoTime(v.record.updated_ms)},
                 {"latest", VersionJson(v.latest, false)},
                 {"live", v.live ? json::value(VersionJson(*v.live, false)) : json::value()}};
  if (with_definition) o["definition"] = DefinitionJson(v.latest.definition_json);
  return o;
}

json::object StepCounts(const std::map<std::string, int64_t>& counts) {
  json::object out;
  for (const auto& [step, n] : counts) out[step] = n;
  return out;
}

json::object StatsJson(int64_t id, const JourneyStats& s) {
  json::object in_step;
  int64_t goal_window = 0;
  for (const auto& [step, n] : s.active_by_step) {
    if (step.empty()) {
      goal_window = n;
    } else {
      in_step[step] = n;
    }
  }
  json::object actions;  // step -> outcome -> count
  for (const auto& [key, n] : s.actions) {
    const size_t colon = key.rfind(':');
    json::value& step = actions[key.substr(0, colon)];
    if (!step.is_object()) step = json::object();
    step.as_object()[key.substr(colon + 1)] = n;
  }
  const int64_t treated = s.entered - s.entered_holdout;
  const int64_t treated_converted = s.converted - s.converted_holdout;
  auto rate = [](int64_t n, int64_t d) {
    return d > 0 ? json::value(double(n) / d) : json::value();
  };
  json::object out{
      {"journey_id", id},
      {"entered", s.entered},
      {"active", s.active},
      {"converted", s.converted},
      {"completed", s.completed},
      {"exited", s.exited},
      {"stuck", s.stuck},
      {"in_step", std::move(in_step)},
      {"retrying_in_step", StepCounts(s.retrying_by_step)},
      {"stuck_in_step", StepCounts(s.stuck_by_step)},
      {"goal_window_open", goal_window},
      {"treated", json::object{{"entered", treated},
                               {"converted", treated_converted},
                               {"conversion_rate", rate(treated_converted, treated)}}},
      {"holdout", json::object{{"entered", s.entered_holdout},
                               {"converted", s.converted_holdout},
                               {"conversion_rate", rate(s.converted_holdout, s.entered_holdout)}}},
      {"actions", std::move(actions)}};
  if (treated > 0 && s.entered_holdout > 0) {
    out["uplift"] =
        double(treated_converted) / treated - double(s.converted_holdout) / s.entered_holdout;
  } else {
    out["uplift"] = nullptr;
  }
  return out;
}

json::object EntryJson(const JourneyEntry& e) {
  return json::object{
      {"id", e.id},
      {"version", e.version},
      {"entry_no", e.entry_no},
      {"holdout", e.holdout},
      {"state", EntryStateName(e.state)},
      {"step", e.step.empty() ? json::value() : json::value(e.step)},
      {"due_at", e.state == EntryState::kActive ? json::value(IsoTime(e.due_ms)) : json::value()},
      {"stuck_at", e.state == EntryState::kStuck ? json::value(IsoTime(e.due_ms)) : json::value()},
      {"entered_at", IsoTime(e.entered_ms)},
      {"goal_until", e.goal_until_ms > 0 ? json::value(IsoTime(e.goal_until_ms)) : json::value()},
      {"ended_at", e.ended_ms > 0 ? json::value(IsoTime(e.ended_ms)) : json::value()},
      {"attempts", e.attempts},
      {"last_error", e.last_error.empty() ? json::value() : json::value(e.last_error)}};
}

// One page of a list route: at most `limit` of `list` (which holds up to limit + 1 items,
// the extra one only telling that more follow) under `key`, with the cursor to the next page.
template <typename T, typename Id, typename Render>
json::object PageJson(std::vector<T> list, int limit, const char* key, Id id_of, Render render) {
  json::object out;
  out["next_cursor"] = nullptr;
  if (list.size() > static_cast<size_t>(limit)) {
    list.pop_back();
    out["next_cursor"] = std::to_string(id_of(list.back()));
  }
  json::array items;
  for (const T& x : list) items.push_back(render(x));
  out[key] = std::move(items);
  return out;
}

inline constexpr size_t kMaxEntryIds = 500;

// The body of a stuck-entry action: {"entry_ids": [positive integers, 1..kMaxEntryIds]}.
absl::StatusOr<std::vector<int64_t>> EntryIdsOf(const http::Request& req) {
  ASSIGN_OR_RETURN(json::object body, ParseObjectBody(req));
  const json::value* ids = body.if_contains("entry_ids");
  if (ids == nullptr || ids->is_null()) {
    return absl::InvalidArgumentError("entry_ids: is required");
  }
  if (!ids->is_array()) return absl::InvalidArgumentError("entry_ids: must be an array");
  const json::array& a = ids->as_array();
  if (a.empty()) return absl::InvalidArgumentError("entry_ids: must not be empty");
  if (a.size() > kMaxEntryIds) {
    return absl::InvalidArgumentError(
        fmt::format("entry_ids: at most {} per request", kMaxEntryIds));
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < a.size(); ++i) {
    const int64_t* v = a[i].if_int64();
    if (v == nullptr || *v <= 0) {
      return absl::InvalidArgumentError(
          fmt::format("entry_ids[{}]: must be a positive integer (an entry id)", i));
    }
    out.push_back(*v);
  }
  return out;
}

// The definition of a create or edit: the body itself, or its "definition" member.
absl::StatusOr<json::value> DefinitionOf(const http::Request& req) {
  ASSIGN_OR_RETURN(json::object body, ParseObjectBody(req));
  if (const json::value* d = body.if_contains("definition")) {
    if (!d->is_object()) return absl::InvalidArgumentError("definition: must be an object");
    return *d;
  }
  return json::value(std::move(body));
}

const char* TriggerTypeName(journey::TriggerKind k) {
  switch (k) {
    case journey::TriggerKind::kEvent:
      return "event";
    case journey::TriggerKind::kAudience:
      return "audience";
    case journey::TriggerKind::kLifecycle:
      return "lifecycle";
    case journey::TriggerKind::kDate:
      return "date";
  }
  return "event";
}

json::value Count(const std::optional<uint64_t>& n) { return n ? json::value(*n) : json::value(); }

json::object PreviewJson(const journey::JourneyPreview& p, int window_days,
                         const std::optional<std::string>& sample) {
  json::object trigger{{"type", TriggerTypeName(p.def.trigger.kind)}};
  switch (p.def.trigger.kind) {
    case journey::TriggerKind::kAudience:
      trigger["matching_now"] = Count(p.matching_now);
      break;
    case journey::TriggerKind::kDate: {
      json::array days;
      uint64_t total = 0;
      for (const auto& [date, n] : p.days) {
        days.push_back(json::object{{"date", date}, {"entering", n}});
        total += n;
      }
      trigger["window_days"] = window_days;
      trigger["days"] = std::move(days);
      trigger["entering_in_window"] = total;
      break;
    }
    case journey::TriggerKind::kEvent:
      trigger["last_7d"] = Count(p.last_7d);
      trigger["last_30d"] = Count(p.last_30d);
      trigger["property_conditions_applied"] = false;
      break;
    case journey::TriggerKind::kLifecycle:
      trigger["at_from_stage"] = Count(p.at_from_stage);
      break;
  }
  return json::object{{"name", p.def.name},
                      {"trigger", std::move(trigger)},
                      {"holdout_percent", p.def.holdout_percent},
                      {"sample", sample ? json::value(*sample) : json::value()}};
}

}  // namespace

void RegisterJourneyRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.journeys == nullptr) return;
  JourneyService& svc = *ctx.journeys;

  router.Add(Method::kGet, "/v1/journeys", Auth::kRequired, [&svc](http::Request& req) {
    absl::StatusOr<PageQuery> page = ParsePageQuery(req);
    if (!page.ok()) return ErrorResponse(page.status());
    auto list = svc.List(page->after, page->limit + 1);
    if (!list.ok()) return ErrorResponse(list.status());
    return JsonResponse(200, PageJson(
                                 *std::move(list), page->limit, "journeys",
                                 [](const JourneyView& v) { return v.record.id; },
                                 [](const JourneyView& v) { return ViewJson(v, false); }));
  });

  router.Add(Method::kPost, "/v1/journeys", Auth::kRequired, [&ctx, &svc](http::Request& req) {
    absl::StatusOr<json::value> def = DefinitionOf(req);
    if (!def.ok()) return ErrorResponse(def.status());
    auto v = svc.Create(*def, req.principal);
    if (!v.ok()) return ErrorResponse(v.status());
    if (absl::Status s = RecordAudit(
            ctx, req, "journey.create", "journey", std::to_string(v->record.id),
            json::serialize(json::object{
                {"name", v->record.name}, {"version", 1}, {"digest", v->latest.digest}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r = JsonResponse(201, ViewJson(*v));
    r.headers["location"] = fmt::format("/v1/journeys/{}", v->record.id);
    return r;
  });

  // Body: {"definition": {...}, "window_days"?: 1..31 (default 7)}. Validates the definition
  // as a create does and estimates who the trigger would admit; nothing is written.
  router.Add(Method::kPost, "/v1/journeys/preview", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               const json::value* def = body->if_contains("definition");
               if (def == nullptr || def->is_null()) {
                 return ErrorResponse(absl::InvalidArgumentError("definition: is required"));
               }
               if (!def->is_object()) {
                 return ErrorResponse(absl::InvalidArgumentError("definition: must be an object"));
               }
               absl::StatusOr<std::optional<int64_t>> window = OptionalInt(*body, "window_days");
               if (!window.ok()) return ErrorResponse(window.status());
               const int64_t days = window->value_or(7);
               if (days < 1 || days > journey::kMaxPreviewWindowDays) {
                 return ErrorResponse(absl::InvalidArgumentError(fmt::format(
                     "window_days: must be between 1 and {}", journey::kMaxPreviewWindowDays)));
               }
               auto p = svc.Preview(*def, static_cast<int>(days));
               if (!p.ok()) return ErrorResponse(p.status());
               std::optional<std::string> sample;
               if (p->population && ctx.audiences != nullptr) {
                 auto ids = ctx.audiences->Sample(*p->population, 1, *SecureRandom::Get());
                 if (!ids.ok()) return ErrorResponse(ids.status());
                 if (!ids->empty()) sample = ids->front();
               }
               return JsonResponse(200, PreviewJson(*p, static_cast<int>(days), sample));
             });

  router.Add(Method::kGet, "/v1/journeys/{id}", Auth::kRequired, [&svc](http::Request& req) {
    auto id = JourneyId(req);
    if (!id.ok()) return ErrorResponse(id.status());
    auto v = svc.Get(*id);
    if (!v.ok()) return ErrorResponse(v.status());
    return JsonResponse(200, ViewJson(*v));
  });

  router.Add(Method::kPut, "/v1/journeys/{id}", Auth::kRequired, [&ctx, &svc](http::Request& req) {
    auto id = JourneyId(req);
    if (!id.ok()) return ErrorResponse(id.status());
    absl::StatusOr<json::value> def = DefinitionOf(req);
    if (!def.ok()) return ErrorResponse(def.status());
    auto v = svc.Update(*id, *def, req.principal);
    if (!v.ok()) return ErrorResponse(v.status());
    if (absl::Status s = RecordAudit(ctx, req, "journey.update", "journey", std::to_string(*id),
                                     json::serialize(json::object{{"version", v->latest.version},
                                                                  {"digest", v->latest.digest}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, ViewJson(*v));
  });

  router.Add(Method::kDelete, "/v1/journeys/{id}", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = JourneyId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               if (absl::Status s = svc.Delete(*id); !s.ok()) return ErrorResponse(s);
               if (absl::Status s =
                       RecordAudit(ctx, req, "journey.delete", "journey", std::to_string(*id));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               http::Response r;
               r.status = 204;
               return r;
             });

  router.Add(Method::kGet, "/v1/journeys/{id}/versions", Auth::kRequired,
             [&svc](http::Request& req) {
               auto id = JourneyId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               auto list = svc.Versions(*id);
               if (!list.ok()) return ErrorResponse(list.status());
               json::array items;
               for (const JourneyVersion& v : *list) items.push_back(VersionJson(v, true));
               return JsonResponse(200, json::object{{"versions", std::move(items)}});
             });

  router.Add(Method::kPost, "/v1/journeys/{id}/submit", Auth::kRequired,
             [&svc](http::Request& req) {
               auto id = JourneyId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               // The approval service audits the submission ("approval.submit").
               auto a = svc.Submit(*id, req.principal, RequestMetaOf(req));
               if (!a.ok()) return ErrorResponse(a.status());
               auto v = svc.Get(*id);
               if (!v.ok()) return ErrorResponse(v.status());
               json::object out = ViewJson(*v);
               out["approval_id"] = a->id;
               return JsonResponse(202, out);
             });

  struct StateRoute {
    const char* path;
    const char* action;
    absl::StatusOr<JourneyView> (JourneyService::*fn)(int64_t);
  };
  for (const StateRoute& sr :
       {StateRoute{"/v1/journeys/{id}/pause", "journey.pause", &JourneyService::Pause},
        StateRoute{"/v1/journeys/{id}/resume", "journey.resume", &JourneyService::Resume},
        StateRoute{"/v1/journeys/{id}/end", "journey.end", &JourneyService::End}}) {
    router.Add(Method::kPost, sr.path, Auth::kRequired, [&ctx, &svc, sr](http::Request& req) {
      auto id = JourneyId(req);
      if (!id.ok()) return ErrorResponse(id.status());
      auto v = (svc.*sr.fn)(*id);
      if (!v.ok()) return ErrorResponse(v.status());
      if (absl::Status s = RecordAudit(
              ctx, req, sr.action, "journey", std::to_string(*id),
              json::serialize(json::object{{"state", JourneyStateName(v->record.state)}}));
          !s.ok()) {
        return ErrorResponse(s);
      }
      return JsonResponse(200, ViewJson(*v));
    });
  }

  router.Add(Method::kGet, "/v1/journeys/{id}/stats", Auth::kRequired, [&svc](http::Request& req) {
    auto id = JourneyId(req);
    if (!id.ok()) return ErrorResponse(id.status());
    auto s = svc.Stats(*id);
    if (!s.ok()) return ErrorResponse(s.status());
    return JsonResponse(200, StatsJson(*id, *s));
  });

  router.Add(
      Method::kGet, "/v1/journeys/{id}/entries", Auth::kRequired, [&ctx, &svc](http::Request& req) {
        auto id = JourneyId(req);
        if (!id.ok()) return ErrorResponse(id.status());
        auto customer = req.Query("customer");
        if (!customer || customer->empty()) {
          return ErrorResponse(absl::InvalidArgumentError("customer: is required"));
        }
        auto c = ctx.customers->Get(*customer);
        if (!c.ok()) return ErrorResponse(c.status());
        auto list = svc.Entries(*id, c->uid);
        if (!list.ok()) return ErrorResponse(list.status());
        json::array items;
        for (const JourneyEntry& e : *list) items.push_back(EntryJson(e));
        return JsonResponse(
            200, json::object{{"customer", std::string(*customer)}, {"entries", std::move(items)}});
      });

  // Entries stuck after transient failures, in id order (cursor pagination). Customers are
  // named by their external id only, as in the other lists.
  router.Add(Method::kGet, "/v1/journeys/{id}/stuck", Auth::kRequired, [&svc](http::Request& req) {
    auto id = JourneyId(req);
    if (!id.ok()) return ErrorResponse(id.status());
    absl::StatusOr<PageQuery> page = ParsePageQuery(req);
    if (!page.ok()) return ErrorResponse(page.status());
    auto list = svc.Stuck(*id, page->after, page->limit + 1);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out = PageJson(
        *std::move(list), page->limit, "entries", [](const JourneyEntry& e) { return e.id; },
        [](const JourneyEntry& e) {
          json::object o = EntryJson(e);
          o["customer"] = e.customer;
          return o;
        });
    out["journey_id"] = *id;
    return JsonResponse(200, out);
  });

  // Body {"entry_ids": [...]}: retry (run the step again at the next pass, same idempotency
  // key, attempts counted afresh) or exit those entries that are stuck; the others are listed
  // as not_stuck and left alone, so a repeated request changes nothing more.
  struct StuckRoute {
    const char* path;
    const char* action;
    const char* done;
    StuckAction what;
  };
  for (const StuckRoute& sr : {StuckRoute{"/v1/journeys/{id}/stuck/retry", "journey.stuck_retry",
                                          "retried", StuckAction::kRetry},
                               StuckRoute{"/v1/journeys/{id}/stuck/exit", "journey.stuck_exit",
                                          "exited", StuckAction::kExit}}) {
    router.Add(Method::kPost, sr.path, Auth::kRequired, [&ctx, &svc, sr](http::Request& req) {
      auto id = JourneyId(req);
      if (!id.ok()) return ErrorResponse(id.status());
      absl::StatusOr<std::vector<int64_t>> ids = EntryIdsOf(req);
      if (!ids.ok()) return ErrorResponse(ids.status());
      auto changed = svc.ResolveStuck(*id, *ids, sr.what);
      if (!changed.ok()) return ErrorResponse(changed.status());
      json::array done(changed->begin(), changed->end());
      json::array not_stuck;
      for (int64_t e : *ids) {
        if (std::find(changed->begin(), changed->end(), e) == changed->end()) {
          not_stuck.push_back(e);
        }
      }
      if (absl::Status s = RecordAudit(ctx, req, sr.action, "journey", std::to_string(*id),
                                       json::serialize(json::object{{"entry_ids", done}}));
          !s.ok()) {
        return ErrorResponse(s);
      }
      return JsonResponse(200, json::object{{"journey_id", *id},
                                            {sr.done, std::move(done)},
                                            {"not_stuck", std::move(not_stuck)}});
    });
  }
}

}  // namespace mercator::api
