// /v1/campaigns: outreach campaigns (campaign/campaign_service.h): definitions, submission for
// approval (decided through /v1/approvals), pause / resume / cancel, progress, the report and
// the audience snapshot's members. This file parses, audits and renders.
#include <fmt/format.h>

#include <charconv>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "campaign/campaign_service.h"
#include "common/status_macros.h"

namespace mercator::api {

namespace {

using campaign::CampaignService;

absl::StatusOr<int64_t> CampaignId(const http::Request& req) {
  const std::string& s = req.path_params.at("id");
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::NotFoundError(fmt::format("campaign '{}' not found", s));
  }
  return v;
}

json::value Optional(int64_t ms) { return ms > 0 ? json::value(IsoTime(ms)) : json::value(); }

json::object CampaignJson(const CampaignRow& c, bool with_definition) {
  json::object o{{"id", c.id},
                 {"name", c.name},
                 {"status", c.status},
                 {"digest", c.digest},
                 {"approval_id", c.approval_id > 0 ? json::value(c.approval_id) : json::value()},
                 {"created_by", c.created_by},
                 {"created_at", IsoTime(c.created_ms)},
                 {"updated_at", IsoTime(c.updated_ms)},
                 {"start_at", Optional(c.start_ms)},
                 {"snapshot_at", Optional(c.snapshot_ms)},
                 {"finished_at", Optional(c.finished_ms)},
                 {"parent_id", c.parent_id > 0 ? json::value(c.parent_id) : json::value()},
                 {"run_no", c.run_no > 0 ? json::value(c.run_no) : json::value()},
                 {"next_run_at", Optional(c.next_run_ms)}};
  boost::system::error_code ec;
  json::value d = json::parse(c.definition_json, ec);
  // A series says so in lists too (lists carry no definitions).
  const json::value* rec = !ec && d.is_object() ? d.as_object().if_contains("recurrence") : nullptr;
  o["recurrence"] = rec != nullptr ? *rec : json::value();
  if (with_definition) o["definition"] = ec ? json::value() : std::move(d);
  return o;
}

json::object ReportJson(const campaign::Report& r) {
  json::object suppressed;
  for (const auto& [reason, n] : r.suppressed_by_reason) suppressed[reason] = n;
  json::object fallbacks;
  for (const auto& [path, n] : r.fallbacks) fallbacks[path] = n;
  json::array channels;
  for (const campaign::ChannelReport& c : r.channels) {
    channels.push_back(json::object{{"channel", c.channel},
                                    {"sent", c.sent},
                                    {"delivered", c.delivered},
                                    {"clicked", c.clicked},
                                    {"cost_fen", c.cost_fen},
                                    {"converted", c.converted},
                                    {"conversion_value_fen", c.conversion_value},
                                    {"roi", c.roi ? json::value(*c.roi) : json::value()}});
  }
  const int64_t handled = r.treated - r.pending;
  json::object out{
      {"campaign", CampaignJson(r.campaign, false)},
      {"progress", json::object{{"treated", r.treated},
                                {"done", handled},
                                {"pending", r.pending},
                                {"percent", r.treated > 0 ? 100.0 * static_cast<double>(handled) /
                                                                static_cast<double>(r.treated)
                                                          : 0.0}}},
      {"audience", r.audience},
      {"treated", r.treated},
      {"holdout", r.holdout},
      {"sent", r.sent},
      {"delivered", r.delivered},
      {"clicked", r.clicked},
      {"failed", r.failed},
      {"suppressed", r.suppressed},
      {"suppressed_by_reason", std::move(suppressed)},
      {"fallbacks", std::move(fallbacks)},
      {"cost_fen", r.cost_fen},
      {"channels", std::move(channels)}};
  if (!r.runs.empty() || r.campaign.next_run_ms != 0) {
    json::array runs;
    for (const campaign::RunSummary& run : r.runs) {
      runs.push_back(json::object{{"campaign", CampaignJson(run.campaign, false)},
                                  {"audience", run.audience},
                                  {"sent", run.sent},
                                  {"delivered", run.delivered},
                                  {"cost_fen", run.cost_fen},
                                  {"treated_converted", run.treated_converted}});
    }
    out["runs"] = std::move(runs);
  }
  if (r.measured) {
    out["conversions"] = json::object{{"treated_converted", r.treated_converted},
                                      {"holdout_converted", r.holdout_converted},
                                      {"treated_rate", r.treated_rate},
                                      {"holdout_rate", r.holdout_rate},
                                      {"uplift", r.uplift},
                                      {"uplift_ci95", json::array{r.uplift_low, r.uplift_high}},
                                      {"conversion_value_fen", r.conversion_value},
                                      {"attributed_elsewhere", r.attributed_elsewhere}};
  } else {
    out["conversions"] = nullptr;
  }
  return out;
}

absl::StatusOr<json::value> DefinitionOf(const http::Request& req) {
  ASSIGN_OR_RETURN(json::object body, ParseObjectBody(req));
  return json::value(std::move(body));
}

}  // namespace

void RegisterCampaignRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.campaigns == nullptr) return;
  CampaignService& svc = *ctx.campaigns;

  router.Add(Method::kGet, "/v1/campaigns", Auth::kRequired, [&svc](http::Request& req) {
    absl::StatusOr<PageQuery> page = ParsePageQuery(req);
    if (!page.ok()) return ErrorResponse(page.status());
    const std::string status(req.Query("status").value_or(""));
    int64_t parent = 0;
    if (std::optional<std::string_view> p = req.Query("parent"); p && !p->empty()) {
      auto [end, ec] = std::from_chars(p->data(), p->data() + p->size(), parent);
      if (ec != std::errc() || end != p->data() + p->size() || parent <= 0) {
        return ErrorResponse(
            absl::InvalidArgumentError("parent: must be the id of a recurring campaign"));
      }
    }
    auto list = svc.List(page->after, page->limit + 1, status, parent);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out;
    out["next_cursor"] = nullptr;
    if (list->size() > static_cast<size_t>(page->limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().id);
    }
    json::array items;
    for (const CampaignRow& c : *list) items.push_back(CampaignJson(c, false));
    out["campaigns"] = std::move(items);
    return JsonResponse(200, out);
  });

  router.Add(Method::kPost, "/v1/campaigns", Auth::kRequired, [&ctx, &svc](http::Request& req) {
    absl::StatusOr<json::value> def = DefinitionOf(req);
    if (!def.ok()) return ErrorResponse(def.status());
    auto c = svc.Create(*def, req.principal);
    if (!c.ok()) return ErrorResponse(c.status());
    if (absl::Status s =
            RecordAudit(ctx, req, "campaign.create", "campaign", std::to_string(c->id),
                        json::serialize(json::object{{"name", c->name}, {"digest", c->digest}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r = JsonResponse(201, CampaignJson(*c, true));
    r.headers["location"] = fmt::format("/v1/campaigns/{}", c->id);
    return r;
  });

  router.Add(Method::kGet, "/v1/campaigns/{id}", Auth::kRequired, [&svc](http::Request& req) {
    auto id = CampaignId(req);
    if (!id.ok()) return ErrorResponse(id.status());
    auto c = svc.Get(*id);
    if (!c.ok()) return ErrorResponse(c.status());
    return JsonResponse(200, CampaignJson(*c, true));
  });

  router.Add(Method::kPut, "/v1/campaigns/{id}", Auth::kRequired, [&ctx, &svc](http::Request& req) {
    auto id = CampaignId(req);
    if (!id.ok()) return ErrorResponse(id.status());
    absl::StatusOr<json::value> def = DefinitionOf(req);
    if (!def.ok()) return ErrorResponse(def.status());
    auto c = svc.Update(*id, *def);
    if (!c.ok()) return ErrorResponse(c.status());
    if (absl::Status s = RecordAudit(ctx, req, "campaign.update", "campaign", std::to_string(*id),
                                     json::serialize(json::object{{"digest", c->digest}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, CampaignJson(*c, true));
  });

  router.Add(Method::kDelete, "/v1/campaigns/{id}", Auth::kRequired,
             [&ctx, &svc](http::Request& req) {
               auto id = CampaignId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               if (absl::Status s = svc.Delete(*id); !s.ok()) return ErrorResponse(s);
               if (absl::Status s =
                       RecordAudit(ctx, req, "campaign.delete", "campaign", std::to_string(*id));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               http::Response r;
               r.status = 204;
               return r;
             });

  router.Add(Method::kPost, "/v1/campaigns/{id}/submit", Auth::kRequired,
             [&svc](http::Request& req) {
               auto id = CampaignId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               // The approval service audits the submission ("approval.submit").
               auto a = svc.Submit(*id, req.principal, RequestMetaOf(req));
               if (!a.ok()) return ErrorResponse(a.status());
               auto c = svc.Get(*id);
               if (!c.ok()) return ErrorResponse(c.status());
               json::object out = CampaignJson(*c, false);
               out["approval_id"] = a->id;
               return JsonResponse(202, out);
             });

  struct StateRoute {
    const char* path;
    const char* action;
    absl::StatusOr<CampaignRow> (CampaignService::*fn)(int64_t);
  };
  for (const StateRoute& sr :
       {StateRoute{"/v1/campaigns/{id}/pause", "campaign.pause", &CampaignService::Pause},
        StateRoute{"/v1/campaigns/{id}/resume", "campaign.resume", &CampaignService::Resume},
        StateRoute{"/v1/campaigns/{id}/cancel", "campaign.cancel", &CampaignService::Cancel}}) {
    router.Add(Method::kPost, sr.path, Auth::kRequired, [&ctx, &svc, sr](http::Request& req) {
      auto id = CampaignId(req);
      if (!id.ok()) return ErrorResponse(id.status());
      auto c = (svc.*sr.fn)(*id);
      if (!c.ok()) return ErrorResponse(c.status());
      if (absl::Status s = RecordAudit(ctx, req, sr.action, "campaign", std::to_string(*id),
                                       json::serialize(json::object{{"status", c->status}}));
          !s.ok()) {
        return ErrorResponse(s);
      }
      return JsonResponse(200, CampaignJson(*c, false));
    });
  }

  router.Add(Method::kGet, "/v1/campaigns/{id}/report", Auth::kRequired,
             [&svc](http::Request& req) {
               auto id = CampaignId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               auto r = svc.GetReport(*id);
               if (!r.ok()) return ErrorResponse(r.status());
               return JsonResponse(200, ReportJson(*r));
             });

  router.Add(Method::kGet, "/v1/campaigns/{id}/members", Auth::kRequired,
             [&svc](http::Request& req) {
               auto id = CampaignId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               absl::StatusOr<PageQuery> page = ParsePageQuery(req);
               if (!page.ok()) return ErrorResponse(page.status());
               if (page->after < 0 || page->after > UINT32_MAX) {
                 return ErrorResponse(absl::InvalidArgumentError("cursor: is not valid"));
               }
               auto list = svc.Members(*id, static_cast<uint32_t>(page->after), page->limit + 1);
               if (!list.ok()) return ErrorResponse(list.status());
               json::object out;
               out["next_cursor"] = nullptr;
               if (list->size() > static_cast<size_t>(page->limit)) {
                 list->pop_back();
                 out["next_cursor"] = std::to_string(list->back().uid);
               }
               json::array items;
               for (const CampaignMember& m : *list) {
                 items.push_back(json::object{
                     {"customer", m.customer},
                     {"group", m.state == "holdout" ? "holdout" : "treated"},
                     {"state", m.state},
                     {"channel", m.channel},
                     {"reason", m.reason},
                     {"trail", m.trail},
                     {"message_id", m.message_id > 0 ? json::value(m.message_id) : json::value()},
                     {"done_at", Optional(m.done_ms)}});
               }
               out["members"] = std::move(items);
               return JsonResponse(200, out);
             });
}

}  // namespace mercator::api
