// Outreach base over HTTP: message templates (/v1/templates: CRUD, submit for maker-checker
// approval through /v1/approvals, preview against a real customer), consent and opt-outs per
// customer with evidence, a customer's contact history (every message sent or suppressed with
// its reason), the contact policy's settings and the sandbox channel's outbox.
#include <fmt/format.h>

#include <charconv>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/outreach_api.h"
#include "api/webhooks_api.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "outreach/contact_policy.h"
#include "outreach/outreach_service.h"
#include "outreach/templates.h"

namespace mercator::api {

namespace {

constexpr size_t kMaxKeyBytes = 128;
constexpr size_t kMaxEvidenceText = 200;

absl::StatusOr<outreach::TemplateSpec> SpecOf(const json::object& body) {
  outreach::TemplateSpec spec;
  ASSIGN_OR_RETURN(spec.name, RequiredString(body, "name"));
  ASSIGN_OR_RETURN(spec.channel, RequiredString(body, "channel"));
  ASSIGN_OR_RETURN(std::optional<std::string> purpose, OptionalString(body, "purpose"));
  spec.purpose = purpose.value_or("marketing");
  ASSIGN_OR_RETURN(spec.body, RequiredString(body, "body"));
  return spec;
}

std::string MinuteText(int32_t minute) {
  return fmt::format("{:02}:{:02}", minute / 60, minute % 60);
}

absl::StatusOr<int32_t> ParseMinute(std::string_view text, std::string_view field) {
  unsigned h = 0, m = 0;
  if (text.size() != 5 || text[2] != ':' ||
      std::from_chars(text.data(), text.data() + 2, h).ptr != text.data() + 2 ||
      std::from_chars(text.data() + 3, text.data() + 5, m).ptr != text.data() + 5 || h > 23 ||
      m > 59) {
    return absl::InvalidArgumentError(fmt::format("{}: must be HH:MM (00:00 to 23:59)", field));
  }
  return static_cast<int32_t>(h * 60 + m);
}

json::object PolicyToJson(const PolicySettings& p) {
  return json::object{{"day_cap", p.day_cap},
                      {"week_cap", p.week_cap},
                      {"quiet_hours", json::object{{"start", MinuteText(p.quiet_start_minute)},
                                                   {"end", MinuteText(p.quiet_end_minute)},
                                                   {"time_zone", "Asia/Shanghai"}}},
                      {"updated_by", p.updated_by},
                      {"updated_at", p.updated_ms == 0 ? json::value(nullptr)
                                                       : json::value(IsoTime(p.updated_ms))}};
}

json::object ConsentToJson(const ConsentRow& c) {
  return json::object{{"channel", c.channel},           {"purpose", c.purpose},
                      {"granted", c.granted},           {"source", c.source},
                      {"text_version", c.text_version}, {"evidence_at", IsoTime(c.evidence_ms)},
                      {"recorded_by", c.recorded_by},   {"recorded_at", IsoTime(c.recorded_ms)}};
}

// An existing customer or NotFound naming the path's id.
absl::Status CheckCustomer(ApiContext& ctx, const std::string& external_id) {
  absl::StatusOr<CustomerRecord> c = ctx.customers->Get(external_id);
  return c.ok() ? absl::OkStatus() : c.status();
}

// The bank's do-not-disturb list (contact_policy.h): one customer at a time, or a list in
// one all-or-nothing request (a bad entry is reported with its index, nothing is stored).
void RegisterDoNotDisturbRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  constexpr size_t kMaxReasonBytes = 200;
  constexpr size_t kMaxImport = 10000;
  auto row_json = [](const DndRow& d) {
    return json::object{{"customer", d.customer},
                        {"reason", d.reason},
                        {"added_by", d.added_by},
                        {"added_at", IsoTime(d.added_ms)}};
  };

  router.Add(Method::kGet, "/v1/contact-policy/do-not-disturb", Auth::kRequired,
             [&ctx, row_json](http::Request& req) {
               absl::StatusOr<PageQuery> page = ParsePageQuery(req);
               if (!page.ok()) return ErrorResponse(page.status());
               std::string after(req.Query("cursor").value_or(""));
               auto list = ctx.outreach_repository->ListDnd(after, page->limit + 1);
               if (!list.ok()) return ErrorResponse(list.status());
               json::object out{{"next_cursor", nullptr}};
               if (list->size() > static_cast<size_t>(page->limit)) {
                 list->pop_back();
                 out["next_cursor"] = list->back().customer;
               }
               json::array items;
               for (const DndRow& d : *list) items.push_back(row_json(d));
               out["customers"] = std::move(items);
               return JsonResponse(200, out);
             });

  router.Add(
      Method::kPut, "/v1/contact-policy/do-not-disturb/{external_id}", Auth::kRequired,
      [&ctx, row_json, kMaxReasonBytes](http::Request& req) {
        const std::string& customer = req.path_params.at("external_id");
        if (absl::Status s = CheckCustomer(ctx, customer); !s.ok()) {
          return ErrorResponse(s);
        }
        absl::StatusOr<json::object> body = ParseObjectBody(req);
        if (!body.ok()) return ErrorResponse(body.status());
        auto reason = RequiredString(*body, "reason");
        if (!reason.ok()) return ErrorResponse(reason.status());
        if (reason->empty() || reason->size() > kMaxReasonBytes) {
          return ErrorResponse(absl::InvalidArgumentError(
              fmt::format("reason: must be 1 to {} bytes", kMaxReasonBytes)));
        }
        DndRow d{customer, *reason, req.principal.Actor(), ctx.clock->NowMs()};
        if (absl::Status s = ctx.outreach_repository->PutDnd(d); !s.ok()) {
          return ErrorResponse(s);
        }
        if (absl::Status s = RecordAudit(ctx, req, "contact.dnd.add", "customer", customer,
                                         json::serialize(json::object{{"reason", d.reason}}));
            !s.ok()) {
          return ErrorResponse(s);
        }
        return JsonResponse(200, row_json(d));
      });

  router.Add(
      Method::kDelete, "/v1/contact-policy/do-not-disturb/{external_id}", Auth::kRequired,
      [&ctx](http::Request& req) {
        const std::string& customer = req.path_params.at("external_id");
        auto removed = ctx.outreach_repository->RemoveDnd(customer);
        if (!removed.ok()) return ErrorResponse(removed.status());
        if (!*removed) {
          return ErrorResponse(
              absl::NotFoundError("the customer is not on the do-not-disturb list"));
        }
        if (absl::Status s = RecordAudit(ctx, req, "contact.dnd.remove", "customer", customer);
            !s.ok()) {
          return ErrorResponse(s);
        }
        http::Response r;
        r.status = 204;
        return r;
      });

  router.Add(
      Method::kPost, "/v1/contact-policy/do-not-disturb/import", Auth::kRequired,
      [&ctx, kMaxReasonBytes, kMaxImport](http::Request& req) {
        absl::StatusOr<json::object> body = ParseObjectBody(req);
        if (!body.ok()) return ErrorResponse(body.status());
        const json::value* list = body->if_contains("customers");
        if (list == nullptr || !list->is_array() || list->as_array().empty() ||
            list->as_array().size() > kMaxImport) {
          return ErrorResponse(absl::InvalidArgumentError(fmt::format(
              "customers: must be an array of 1 to {} {{external_id, reason}}", kMaxImport)));
        }
        http::Problem problem;
        problem.title = "Bad Request";
        problem.detail = "Nothing was stored: fix the entries listed and send the list again.";
        std::vector<DndRow> rows;
        const int64_t now = ctx.clock->NowMs();
        const json::array& items = list->as_array();
        for (size_t i = 0; i < items.size(); ++i) {
          const std::string at = fmt::format("/customers/{}", i);
          if (!items[i].is_object()) {
            problem.errors.push_back({at, "must be an object {external_id, reason}"});
            continue;
          }
          const json::object& o = items[i].as_object();
          const json::value* id = o.if_contains("external_id");
          const json::value* reason = o.if_contains("reason");
          if (id == nullptr || !id->is_string() || id->as_string().empty()) {
            problem.errors.push_back({at + "/external_id", "is required (a string)"});
            continue;
          }
          if (reason == nullptr || !reason->is_string() || reason->as_string().empty() ||
              reason->as_string().size() > kMaxReasonBytes) {
            problem.errors.push_back(
                {at + "/reason",
                 fmt::format("must be a string of 1 to {} bytes", kMaxReasonBytes)});
            continue;
          }
          const std::string customer(id->as_string());
          if (absl::Status s = CheckCustomer(ctx, customer); !s.ok()) {
            problem.errors.push_back({at + "/external_id", std::string(s.message())});
            continue;
          }
          rows.push_back({customer, std::string(reason->as_string()), req.principal.Actor(), now});
        }
        if (!problem.errors.empty()) return http::ProblemResponse(problem);
        if (absl::Status s = ctx.outreach_repository->PutDndBatch(rows); !s.ok()) {
          return ErrorResponse(s);
        }
        if (absl::Status s = RecordAudit(ctx, req, "contact.dnd.import", "contact_policy", "dnd",
                                         json::serialize(json::object{{"customers", rows.size()}}));
            !s.ok()) {
          return ErrorResponse(s);
        }
        return JsonResponse(200, json::object{{"stored", rows.size()}});
      });
}

}  // namespace

absl::StatusOr<int64_t> PathId(const http::Request& req, std::string_view name,
                               std::string_view what) {
  const std::string& s = req.path_params.at(std::string(name));
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::NotFoundError(fmt::format("{} {} not found", what, s));
  }
  return v;
}

absl::StatusOr<std::string> CallerIdempotencyKey(const http::Request& req) {
  const std::string_view key = req.Header("idempotency-key");
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(fmt::format(
        "Idempotency-Key: the header is required, at most {} bytes (a retry with the same key "
        "returns the first result)",
        kMaxKeyBytes));
  }
  return fmt::format("{}:{}", req.principal.Actor(), key);
}

absl::StatusOr<std::map<std::string, std::string>> VariablesOf(const json::object& body) {
  std::map<std::string, std::string> out;
  const json::value* v = body.if_contains("variables");
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_object()) return absl::InvalidArgumentError("variables: must be an object");
  for (const auto& [k, value] : v->as_object()) {
    if (!value.is_string()) {
      return absl::InvalidArgumentError(
          fmt::format("variables/{}: must be a string", std::string_view(k)));
    }
    out.emplace(std::string(k), std::string(value.as_string()));
  }
  return out;
}

json::object TemplateToJson(const TemplateRow& t) {
  json::array vars;
  for (const std::string& v : outreach::TemplateVariables(t.body)) vars.emplace_back(v);
  json::object o{
      {"id", t.id},
      {"name", t.name},
      {"channel", t.channel},
      {"purpose", t.purpose},
      {"body", t.body},
      {"status", t.status},
      {"approval_id", t.approval_id == 0 ? json::value(nullptr) : json::value(t.approval_id)},
      {"variables", std::move(vars)},
      {"length", outreach::Utf16Length(t.body)},
      {"created_by", t.created_by},
      {"created_at", IsoTime(t.created_ms)},
      {"updated_at", IsoTime(t.updated_ms)}};
  if (t.channel == "sms") o["segments"] = outreach::SmsSegments(t.body);
  return o;
}

json::object MessageToJson(const MessageRow& m) {
  return json::object{{"id", m.id},
                      {"channel", m.channel},
                      {"purpose", m.purpose},
                      {"template_id", m.template_id},
                      {"origin", m.origin},
                      {"status", m.status},
                      {"reason", m.reason},
                      {"body", m.body},
                      {"created_at", IsoTime(m.created_ms)}};
}

json::object SendResultToJson(const outreach::SendResult& r) {
  using O = outreach::SendResult::Outcome;
  return json::object{{"outcome", r.outcome == O::kSent         ? "sent"
                                  : r.outcome == O::kSuppressed ? "suppressed"
                                                                : "failed"},
                      {"reason", r.reason},
                      {"message_id", r.message_id},
                      {"replayed", r.replayed}};
}

void RegisterOutreachRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.templates == nullptr || ctx.outreach == nullptr || ctx.contact_policy == nullptr ||
      ctx.outreach_repository == nullptr) {
    return;
  }
  outreach::TemplateService& templates = *ctx.templates;

  router.Add(Method::kGet, "/v1/templates", Auth::kRequired, [&templates](http::Request& req) {
    absl::StatusOr<PageQuery> page = ParsePageQuery(req);
    if (!page.ok()) return ErrorResponse(page.status());
    std::string status(req.Query("status").value_or(""));
    if (!status.empty() && status != "draft" && status != "pending" && status != "approved" &&
        status != "rejected") {
      return ErrorResponse(
          absl::InvalidArgumentError("status: must be draft, pending, approved or rejected"));
    }
    auto list = templates.List(page->after, page->limit + 1, status);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out{{"next_cursor", nullptr}};
    if (list->size() > static_cast<size_t>(page->limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().id);
    }
    json::array items;
    for (const TemplateRow& t : *list) items.push_back(TemplateToJson(t));
    out["templates"] = std::move(items);
    return JsonResponse(200, out);
  });

  router.Add(Method::kPost, "/v1/templates", Auth::kRequired,
             [&ctx, &templates](http::Request& req) {
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               absl::StatusOr<outreach::TemplateSpec> spec = SpecOf(*body);
               if (!spec.ok()) return ErrorResponse(spec.status());
               auto t = templates.Create(*spec, req.principal);
               if (!t.ok()) return ErrorResponse(t.status());
               if (absl::Status s =
                       RecordAudit(ctx, req, "template.create", "template", std::to_string(t->id),
                                   json::serialize(json::object{{"digest", t->digest}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(201, TemplateToJson(*t));
             });

  router.Add(Method::kGet, "/v1/templates/{id}", Auth::kRequired, [&templates](http::Request& req) {
    auto id = PathId(req, "id", "template");
    if (!id.ok()) return ErrorResponse(id.status());
    auto t = templates.Get(*id);
    if (!t.ok()) return ErrorResponse(t.status());
    return JsonResponse(200, TemplateToJson(*t));
  });

  router.Add(Method::kPut, "/v1/templates/{id}", Auth::kRequired,
             [&ctx, &templates](http::Request& req) {
               auto id = PathId(req, "id", "template");
               if (!id.ok()) return ErrorResponse(id.status());
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               absl::StatusOr<outreach::TemplateSpec> spec = SpecOf(*body);
               if (!spec.ok()) return ErrorResponse(spec.status());
               auto t = templates.Update(*id, *spec);
               if (!t.ok()) return ErrorResponse(t.status());
               if (absl::Status s =
                       RecordAudit(ctx, req, "template.update", "template", std::to_string(*id),
                                   json::serialize(json::object{{"digest", t->digest}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(200, TemplateToJson(*t));
             });

  router.Add(Method::kDelete, "/v1/templates/{id}", Auth::kRequired,
             [&ctx, &templates](http::Request& req) {
               auto id = PathId(req, "id", "template");
               if (!id.ok()) return ErrorResponse(id.status());
               if (absl::Status s = templates.Delete(*id); !s.ok()) return ErrorResponse(s);
               if (absl::Status s =
                       RecordAudit(ctx, req, "template.delete", "template", std::to_string(*id));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               http::Response r;
               r.status = 204;
               return r;
             });

  router.Add(Method::kPost, "/v1/templates/{id}/submit", Auth::kRequired,
             [&templates](http::Request& req) {
               auto id = PathId(req, "id", "template");
               if (!id.ok()) return ErrorResponse(id.status());
               // The approval service audits the submission itself.
               auto t = templates.Submit(*id, req.principal, {req.request_id, req.peer});
               if (!t.ok()) return ErrorResponse(t.status());
               return JsonResponse(200, TemplateToJson(*t));
             });

  // Body: {"customer": external id, "variables": {...}}: the text the customer would receive,
  // with {{name}} masked, its length and SMS segments. Nothing is sent or recorded.
  router.Add(Method::kPost, "/v1/templates/{id}/preview", Auth::kRequired,
             [&ctx, &templates](http::Request& req) {
               auto id = PathId(req, "id", "template");
               if (!id.ok()) return ErrorResponse(id.status());
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto customer = RequiredString(*body, "customer");
               if (!customer.ok()) return ErrorResponse(customer.status());
               auto vars = VariablesOf(*body);
               if (!vars.ok()) return ErrorResponse(vars.status());
               auto t = templates.Get(*id);
               if (!t.ok()) return ErrorResponse(t.status());
               auto p = ctx.outreach->Render(*t, *customer, *vars);
               if (!p.ok()) return ErrorResponse(p.status());
               json::object out{{"template_id", t->id},
                                {"status", t->status},
                                {"customer", *customer},
                                {"body", p->body},
                                {"length", p->length}};
               if (t->channel == "sms") out["segments"] = p->segments;
               return JsonResponse(200, out);
             });

  // Body: {"channel", "purpose", "granted", "source", "text_version", "evidence_at"?}.
  router.Add(Method::kPost, "/v1/customers/{external_id}/consents", Auth::kRequired,
             [&ctx](http::Request& req) {
               const std::string& customer = req.path_params.at("external_id");
               if (absl::Status s = CheckCustomer(ctx, customer); !s.ok()) return ErrorResponse(s);
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               ConsentRow c;
               c.customer = customer;
               auto channel = RequiredString(*body, "channel");
               if (!channel.ok()) return ErrorResponse(channel.status());
               if (!outreach::IsChannel(*channel)) {
                 return ErrorResponse(absl::InvalidArgumentError(
                     "channel: must be one of sms, app_push, in_app, wechat_oa, wecom, email"));
               }
               c.channel = *channel;
               auto purpose = RequiredString(*body, "purpose");
               if (!purpose.ok()) return ErrorResponse(purpose.status());
               if (absl::Status s = outreach::CheckPurpose(*purpose); !s.ok())
                 return ErrorResponse(s);
               c.purpose = *purpose;
               const json::value* granted = body->if_contains("granted");
               if (granted == nullptr || !granted->is_bool()) {
                 return ErrorResponse(absl::InvalidArgumentError("granted: must be true or false"));
               }
               c.granted = granted->as_bool();
               for (auto [field, target] :
                    {std::pair{"source", &c.source}, std::pair{"text_version", &c.text_version}}) {
                 auto v = RequiredString(*body, field);
                 if (!v.ok()) return ErrorResponse(v.status());
                 if (v->empty() || v->size() > kMaxEvidenceText) {
                   return ErrorResponse(absl::InvalidArgumentError(
                       fmt::format("{}: must be 1 to {} bytes", field, kMaxEvidenceText)));
                 }
                 *target = *v;
               }
               c.recorded_ms = ctx.clock->NowMs();
               c.evidence_ms = c.recorded_ms;
               auto at = OptionalInt(*body, "evidence_ms");
               if (!at.ok()) return ErrorResponse(at.status());
               if (*at) {
                 if (**at <= 0 || **at > c.recorded_ms) {
                   return ErrorResponse(
                       absl::InvalidArgumentError("evidence_ms: must be a past time in UTC ms"));
                 }
                 c.evidence_ms = **at;
               }
               c.recorded_by = req.principal.Actor();
               if (absl::Status s = ctx.outreach_repository->RecordConsent(c); !s.ok()) {
                 return ErrorResponse(s);
               }
               if (absl::Status s =
                       RecordAudit(ctx, req, "contact.consent", "customer", customer,
                                   json::serialize(json::object{{"channel", c.channel},
                                                                {"purpose", c.purpose},
                                                                {"granted", c.granted},
                                                                {"source", c.source},
                                                                {"text_version", c.text_version}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(201, ConsentToJson(c));
             });

  // Body: {"channel": a channel or "*", "source"}: no more marketing on that channel.
  router.Add(Method::kPost, "/v1/customers/{external_id}/opt-outs", Auth::kRequired,
             [&ctx](http::Request& req) {
               const std::string& customer = req.path_params.at("external_id");
               if (absl::Status s = CheckCustomer(ctx, customer); !s.ok()) {
                 return ErrorResponse(s);
               }
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               OptOutRow o;
               o.customer = customer;
               auto channel = RequiredString(*body, "channel");
               if (!channel.ok()) return ErrorResponse(channel.status());
               if (*channel != "*" && !outreach::IsChannel(*channel)) {
                 return ErrorResponse(absl::InvalidArgumentError(
                     "channel: must be * or one of sms, app_push, in_app, wechat_oa, wecom, "
                     "email"));
               }
               o.channel = *channel;
               auto source = OptionalString(*body, "source");
               if (!source.ok()) return ErrorResponse(source.status());
               o.source = source->value_or("api");
               if (o.source.empty() || o.source.size() > kMaxEvidenceText) {
                 return ErrorResponse(absl::InvalidArgumentError(
                     fmt::format("source: must be 1 to {} bytes", kMaxEvidenceText)));
               }
               o.recorded_by = req.principal.Actor();
               o.created_ms = ctx.clock->NowMs();
               if (absl::Status s = ctx.outreach_repository->AddOptOut(o); !s.ok()) {
                 return ErrorResponse(s);
               }
               if (absl::Status s = RecordAudit(
                       ctx, req, "contact.opt_out", "customer", customer,
                       json::serialize(json::object{{"channel", o.channel}, {"source", o.source}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(201, json::object{{"channel", o.channel},
                                                     {"source", o.source},
                                                     {"created_at", IsoTime(o.created_ms)}});
             });

  // The customer's consents (current and history), opt-outs and messages, newest first
  // (cursor: the last message id of the previous page).
  router.Add(Method::kGet, "/v1/customers/{external_id}/contacts", Auth::kRequired,
             [&ctx](http::Request& req) {
               const std::string& customer = req.path_params.at("external_id");
               if (absl::Status s = CheckCustomer(ctx, customer); !s.ok()) {
                 return ErrorResponse(s);
               }
               absl::StatusOr<PageQuery> page = ParsePageQuery(req);
               if (!page.ok()) return ErrorResponse(page.status());
               OutreachRepository& repo = *ctx.outreach_repository;
               auto consents = repo.ListConsents(customer);
               if (!consents.ok()) return ErrorResponse(consents.status());
               auto history = repo.ConsentHistory(customer);
               if (!history.ok()) return ErrorResponse(history.status());
               auto optouts = repo.ListOptOuts(customer);
               if (!optouts.ok()) return ErrorResponse(optouts.status());
               auto messages = repo.ListMessages(customer, page->after, page->limit + 1);
               if (!messages.ok()) return ErrorResponse(messages.status());
               json::object out{{"customer", customer}, {"next_cursor", nullptr}};
               if (messages->size() > static_cast<size_t>(page->limit)) {
                 messages->pop_back();
                 out["next_cursor"] = std::to_string(messages->back().id);
               }
               json::array a, h, o, m;
               for (const ConsentRow& c : *consents) a.push_back(ConsentToJson(c));
               for (const ConsentRow& c : *history) h.push_back(ConsentToJson(c));
               for (const OptOutRow& x : *optouts) {
                 o.push_back(json::object{{"channel", x.channel},
                                          {"source", x.source},
                                          {"recorded_by", x.recorded_by},
                                          {"created_at", IsoTime(x.created_ms)}});
               }
               for (const MessageRow& x : *messages) {
                 json::object j = MessageToJson(x);
                 j["delivery"] = DeliveryToJson(ctx, x);  // webhook state and receipt
                 m.push_back(std::move(j));
               }
               out["consents"] = std::move(a);
               out["consent_history"] = std::move(h);
               out["opt_outs"] = std::move(o);
               out["messages"] = std::move(m);
               return JsonResponse(200, out);
             });

  router.Add(Method::kGet, "/v1/contact-policy", Auth::kRequired, [&ctx](http::Request&) {
    auto p = ctx.contact_policy->Settings();
    if (!p.ok()) return ErrorResponse(p.status());
    return JsonResponse(200, PolicyToJson(*p));
  });

  // Body: {"day_cap", "week_cap", "quiet_hours": {"start": "21:00", "end": "08:00"}}; members
  // left out keep their value.
  router.Add(Method::kPut, "/v1/contact-policy", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    auto current = ctx.contact_policy->Settings();
    if (!current.ok()) return ErrorResponse(current.status());
    PolicySettings p = *current;
    for (auto [field, target] :
         {std::pair{"day_cap", &p.day_cap}, std::pair{"week_cap", &p.week_cap}}) {
      auto v = OptionalInt(*body, field);
      if (!v.ok()) return ErrorResponse(v.status());
      if (*v) *target = **v;
    }
    if (const json::value* q = body->if_contains("quiet_hours"); q && !q->is_null()) {
      if (!q->is_object()) {
        return ErrorResponse(absl::InvalidArgumentError("quiet_hours: must be an object"));
      }
      for (auto [field, target] :
           {std::pair{"start", &p.quiet_start_minute}, std::pair{"end", &p.quiet_end_minute}}) {
        auto v = OptionalString(q->as_object(), field);
        if (!v.ok()) {
          return ErrorResponse(
              absl::InvalidArgumentError(Cat("quiet_hours/", ToStd(v.status().message()))));
        }
        if (!*v) continue;
        auto minute = ParseMinute(**v, fmt::format("quiet_hours/{}", field));
        if (!minute.ok()) return ErrorResponse(minute.status());
        *target = *minute;
      }
    }
    p.updated_by = req.principal.Actor();
    p.updated_ms = ctx.clock->NowMs();
    if (absl::Status s = ctx.contact_policy->PutSettings(p); !s.ok()) return ErrorResponse(s);
    json::object out = PolicyToJson(p);
    if (absl::Status s = RecordAudit(ctx, req, "contact_policy.update", "contact_policy", "1",
                                     json::serialize(out));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, out);
  });

  RegisterDoNotDisturbRoutes(router, ctx);

  // Tracked links: /t/<token> redirects to the message's link and records the click. Public
  // (the customer's phone opens it); tokens are random and carry nothing about the customer.
  router.Add(Method::kGet, "/t/{token}", Auth::kPublic, [&ctx](http::Request& req) {
    const std::string& token = req.path_params.at("token");
    absl::StatusOr<LinkRow> link = ctx.outreach_repository->RecordClick(
        token, ctx.clock->NowMs(), std::string(req.Header("user-agent").substr(0, 256)), req.peer);
    if (!link.ok()) {
      if (absl::IsNotFound(link.status())) {
        return http::Response::Text(404,
                                    "<!doctype html><meta charset=utf-8><title>链接无效</title>"
                                    "<p>链接无效或已过期。The link is not valid.</p>",
                                    "text/html; charset=utf-8");
      }
      return ErrorResponse(link.status());
    }
    http::Response r;
    r.status = 302;
    r.headers["location"] = link->url;
    r.headers["cache-control"] = "no-store";  // every open is a click
    r.headers["referrer-policy"] = "no-referrer";
    return r;
  });

  // The sandbox channel's outbox: ?customer= (optional), ascending ids after ?cursor=.
  router.Add(
      Method::kGet, "/v1/outreach/sandbox/outbox", Auth::kRequired, [&ctx](http::Request& req) {
        absl::StatusOr<PageQuery> page = ParsePageQuery(req);
        if (!page.ok()) return ErrorResponse(page.status());
        std::string customer(req.Query("customer").value_or(""));
        auto list = ctx.outreach_repository->ListOutbox(customer, page->after, page->limit + 1);
        if (!list.ok()) return ErrorResponse(list.status());
        json::object out{{"next_cursor", nullptr}};
        if (list->size() > static_cast<size_t>(page->limit)) {
          list->pop_back();
          out["next_cursor"] = std::to_string(list->back().id);
        }
        json::array items;
        for (const OutboxRow& o : *list) {
          items.push_back(json::object{{"id", o.id},
                                       {"message_id", o.message_id},
                                       {"channel", o.channel},
                                       {"customer", o.customer},
                                       {"body", o.body},
                                       {"created_at", IsoTime(o.created_ms)}});
        }
        out["messages"] = std::move(items);
        return JsonResponse(200, out);
      });
}

}  // namespace mercator::api
