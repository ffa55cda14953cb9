// /v1/placements: in-app placements (placement/placement_service.h). Operators define, submit
// (approval through /v1/approvals), pause, resume and end placements and read their stats; the
// app back-end (a signed client with the placements scope) asks for a slot's cards for a
// customer. A staff member asking the same route gets a preview: nothing is recorded.
#include <fmt/format.h>

#include <charconv>

#include "absl/time/time.h"
#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/status_macros.h"
#include "outreach/outreach_service.h"
#include "placement/placement_service.h"

namespace mercator::api {

namespace {

using placement::PlacementService;

constexpr int kDefaultCards = 3;

absl::StatusOr<int64_t> PlacementId(const http::Request& req) {
  const std::string& s = req.path_params.at("id");
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::NotFoundError(fmt::format("placement '{}' not found", s));
  }
  return v;
}

json::object PlacementJson(const PlacementRow& p) {
  boost::system::error_code ec;
  json::value d = json::parse(p.definition_json, ec);
  return json::object{
      {"id", p.id},
      {"slot", p.slot},
      {"title", p.name},
      {"status", p.status},
      {"priority", p.priority},
      {"digest", p.digest},
      {"approval_id", p.approval_id > 0 ? json::value(p.approval_id) : json::value()},
      {"created_by", p.created_by},
      {"created_at", IsoTime(p.created_ms)},
      {"updated_at", IsoTime(p.updated_ms)},
      {"definition", ec ? json::value() : d}};
}

std::string DayText(int64_t local_day) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(local_day * 86'400),
                          absl::UTCTimeZone());
}

// Management routes are for staff: an API client's placements scope asks for cards only.
absl::Status StaffOnly(const http::Request& req) {
  if (req.principal.kind != Principal::Kind::kStaff) {
    return absl::PermissionDeniedError("placements: definitions and stats are for staff only");
  }
  return absl::OkStatus();
}

absl::StatusOr<json::value> DefinitionOf(const http::Request& req) {
  ASSIGN_OR_RETURN(json::object body, ParseObjectBody(req));
  return json::value(std::move(body));
}

}  // namespace

void RegisterPlacementRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.placements == nullptr || ctx.outreach == nullptr) return;
  PlacementService& svc = *ctx.placements;

  router.Add(Method::kGet, "/v1/placements", Auth::kRequired, [&svc](http::Request& req) {
    if (absl::Status s = StaffOnly(req); !s.ok()) return ErrorResponse(s);
    absl::StatusOr<PageQuery> page = ParsePageQuery(req);
    if (!page.ok()) return ErrorResponse(page.status());
    const std::string status(req.Query("status").value_or(""));
    if (!status.empty() && status != "draft" && status != "submitted" && status != "live" &&
        status != "paused" && status != "ended") {
      return ErrorResponse(
          absl::InvalidArgumentError("status: must be draft, submitted, live, paused or ended"));
    }
    const std::string slot(req.Query("slot").value_or(""));
    auto list = svc.List(page->after, page->limit + 1, status, slot);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out{{"next_cursor", nullptr}};
    if (list->size() > static_cast<size_t>(page->limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().id);
    }
    json::array items;
    for (const PlacementRow& p : *list) items.push_back(PlacementJson(p));
    out["placements"] = std::move(items);
    return JsonResponse(200, out);
  });

  router.Add(Method::kPost, "/v1/placements", Auth::kRequired, [&ctx, &svc](http::Request& req) {
    absl::StatusOr<json::value> def = DefinitionOf(req);
    if (!def.ok()) return ErrorResponse(def.status());
    auto p = svc.Create(*def, req.principal);
    if (!p.ok()) return ErrorResponse(p.status());
    if (absl::Status s =
            RecordAudit(ctx, req, "placement.create", "placement", std::to_string(p->id),
                        json::serialize(json::object{{"slot", p->slot}, {"digest", p->digest}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r = JsonResponse(201, PlacementJson(*p));
    r.headers["location"] = fmt::format("/v1/placements?slot={}", p->slot);
    return r;
  });

  router.Add(Method::kPut, "/v1/placements/{id}", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = PlacementId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               absl::StatusOr<json::value> def = DefinitionOf(req);
               if (!def.ok()) return ErrorResponse(def.status());
               auto p = svc.Update(*id, *def);
               if (!p.ok()) return ErrorResponse(p.status());
               if (absl::Status s =
                       RecordAudit(ctx, req, "placement.update", "placement", std::to_string(*id),
                                   json::serialize(json::object{{"digest", p->digest}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(200, PlacementJson(*p));
             });

  router.Add(Method::kPost, "/v1/placements/{id}/submit", Auth::kRequired,
             [&svc](http::Request& req) {
               auto id = PlacementId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               // The approval service audits the submission ("approval.submit").
               auto a = svc.Submit(*id, req.principal, RequestMetaOf(req));
               if (!a.ok()) return ErrorResponse(a.status());
               auto p = svc.Get(*id);
               if (!p.ok()) return ErrorResponse(p.status());
               json::object out = PlacementJson(*p);
               out["approval_id"] = a->id;
               return JsonResponse(202, out);
             });

  struct StateRoute {
    const char* path;
    const char* action;
    absl::StatusOr<PlacementRow> (PlacementService::*fn)(int64_t);
  };
  for (const StateRoute& sr :
       {StateRoute{"/v1/placements/{id}/pause", "placement.pause", &PlacementService::Pause},
        StateRoute{"/v1/placements/{id}/resume", "placement.resume", &PlacementService::Resume},
        StateRoute{"/v1/placements/{id}/end", "placement.end", &PlacementService::End}}) {
    router.Add(Method::kPost, sr.path, Auth::kRequired, [&ctx, &svc, sr](http::Request& req) {
      auto id = PlacementId(req);
      if (!id.ok()) return ErrorResponse(id.status());
      auto p = (svc.*sr.fn)(*id);
      if (!p.ok()) return ErrorResponse(p.status());
      if (absl::Status s = RecordAudit(ctx, req, sr.action, "placement", std::to_string(*id),
                                       json::serialize(json::object{{"status", p->status}}));
          !s.ok()) {
        return ErrorResponse(s);
      }
      return JsonResponse(200, PlacementJson(*p));
    });
  }

  router.Add(
      Method::kGet, "/v1/placements/{id}/stats", Auth::kRequired, [&svc](http::Request& req) {
        if (absl::Status s = StaffOnly(req); !s.ok()) return ErrorResponse(s);
        auto id = PlacementId(req);
        if (!id.ok()) return ErrorResponse(id.status());
        auto st = svc.GetStats(*id);
        if (!st.ok()) return ErrorResponse(st.status());
        auto ctr = [](int64_t clicks, int64_t impressions) {
          return impressions > 0
                     ? json::value(static_cast<double>(clicks) / static_cast<double>(impressions))
                     : json::value();
        };
        json::array days;
        for (const placement::DayStats& d : st->days) {
          days.push_back(json::object{{"date", DayText(d.local_day)},
                                      {"impressions", d.impressions},
                                      {"customers", d.customers},
                                      {"clicks", d.clicks},
                                      {"ctr", ctr(d.clicks, d.impressions)}});
        }
        return JsonResponse(200, json::object{{"placement_id", st->placement.id},
                                              {"slot", st->placement.slot},
                                              {"status", st->placement.status},
                                              {"impressions", st->impressions},
                                              {"customers", st->customers},
                                              {"clicks", st->clicks},
                                              {"ctr", ctr(st->clicks, st->impressions)},
                                              {"time_zone", "Asia/Shanghai"},
                                              {"days", std::move(days)}});
      });

  // The app back-end's question: ?customer=<external id>&limit=<1..10, default 3>. Cards carry
  // what the app shows and a tracked click URL; nothing about audiences, priority or caps.
  router.Add(
      Method::kGet, "/v1/placements/{slot}", Auth::kRequired, [&ctx, &svc](http::Request& req) {
        const std::string& slot = req.path_params.at("slot");
        const std::string customer(req.Query("customer").value_or(""));
        int limit = kDefaultCards;
        if (auto l = req.Query("limit")) {
          auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
          if (ec != std::errc() || p != l->data() + l->size()) {
            return ErrorResponse(
                absl::InvalidArgumentError("limit: must be an integer from 1 to 10"));
          }
        }
        const bool preview = req.principal.kind == Principal::Kind::kStaff;
        auto cards =
            svc.Serve(slot, customer, limit,
                      preview ? PlacementService::Mode::kPreview : PlacementService::Mode::kRecord);
        if (!cards.ok()) return ErrorResponse(cards.status());
        json::array items;
        for (const placement::Card& c : *cards) {
          json::object o{
              {"placement_id", c.placement_id},
              {"title", c.title},
              {"body", c.body},
              {"image_url", c.image_url.empty() ? json::value() : json::value(c.image_url)},
              {"purpose", c.purpose}};
          if (preview) {
            o["link_url"] = c.link_url;
          } else {
            o["impression_id"] = c.token;
            o["click_url"] = fmt::format("{}/t/{}", ctx.outreach->link_base(), c.token);
          }
          items.push_back(std::move(o));
        }
        json::object out{{"slot", slot}, {"customer", customer}, {"cards", std::move(items)}};
        if (preview) out["preview"] = true;
        http::Response r = JsonResponse(200, out);
        r.headers["cache-control"] = "no-store";  // per customer, per moment
        return r;
      });
}

}  // namespace mercator::api
