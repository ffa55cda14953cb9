// The customer-manager workbench over HTTP (/v1/workbench/...). Every manager route works on
// the caller's own book only: the staff account is linked to a manager id, and a customer or
// task of another manager answers 404 exactly like an unknown one. Administrators link
// accounts to manager ids, configure the task rules and run them on demand.
#include <fmt/format.h>

#include <charconv>

#include "activity/activity_service.h"
#include "api/api.h"
#include "api/audit_util.h"
#include "api/outreach_api.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "customer/tag.h"
#include "event/event.h"
#include "outreach/outreach_service.h"
#include "reward/coupons.h"
#include "reward/points_ledger.h"
#include "workbench/task_rules.h"
#include "workbench/workbench_service.h"

namespace mercator::api {

namespace {

constexpr int kSectionLimit = 20;   // rows per section of the customer 360
constexpr int kTimelineLimit = 50;  // events in the 360's timeline
constexpr int64_t kMsPerDay = 86'400'000;
constexpr int64_t kShanghaiOffsetMs = 8 * 3'600'000;

json::object TaskToJson(const TaskRow& t) {
  return json::object{
      {"id", t.id},
      {"customer", t.customer},
      {"kind", t.kind},
      {"title", t.title},
      {"reason", t.reason},
      {"priority", t.priority},
      {"due_at", IsoTime(t.due_ms)},
      {"origin", t.origin},
      {"status", t.status},
      {"outcome", t.outcome},
      {"created_at", IsoTime(t.created_ms)},
      {"closed_at", t.closed_ms == 0 ? json::value(nullptr) : json::value(IsoTime(t.closed_ms))},
      {"closed_by", t.closed_by}};
}

json::object FollowUpToJson(const FollowUpRow& f) {
  return json::object{{"id", f.id},
                      {"customer", f.customer},
                      {"channel", f.channel},
                      {"outcome", f.outcome},
                      {"note", f.note},
                      {"next_step", f.next_step},
                      {"task_id", f.task_id == 0 ? json::value(nullptr) : json::value(f.task_id)},
                      {"created_by", f.created_by},
                      {"created_at", IsoTime(f.created_ms)}};
}

json::object RuleToJson(const TaskRuleRow& r) {
  return json::object{{"id", r.id},
                      {"kind", r.kind},
                      {"title", r.title},
                      {"reason", r.reason},
                      {"dsl", r.dsl},
                      {"priority", r.priority},
                      {"due_days", r.due_days},
                      {"due_tag", r.due_tag},
                      {"period", r.period},
                      {"enabled", r.enabled},
                      {"updated_by", r.updated_by},
                      {"updated_at", r.updated_ms == 0 ? json::value(nullptr)
                                                       : json::value(IsoTime(r.updated_ms))}};
}

json::value PropertyToJson(const event::PropertyValue& v) {
  if (const bool* b = std::get_if<bool>(&v)) return *b;
  if (const int64_t* i = std::get_if<int64_t>(&v)) return *i;
  return json::value(std::get<std::string>(v));
}

// "YYYY-MM-DD" as a local (Asia/Shanghai) day number.
absl::StatusOr<int64_t> ParseDay(std::string_view text, std::string_view field) {
  unsigned y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' ||
      std::from_chars(text.data(), text.data() + 4, y).ptr != text.data() + 4 ||
      std::from_chars(text.data() + 5, text.data() + 7, m).ptr != text.data() + 7 ||
      std::from_chars(text.data() + 8, text.data() + 10, d).ptr != text.data() + 10 || m < 1 ||
      m > 12 || d < 1 || d > 31) {
    return absl::InvalidArgumentError(fmt::format("{}: must be a date YYYY-MM-DD", field));
  }
  return DaysFromCivil(y, m, d);
}

// The signed-in manager's id, or the 403 to answer with.
absl::StatusOr<std::string> Manager(workbench::WorkbenchService& wb, const http::Request& req) {
  return wb.ManagerIdOf(req.principal);
}

}  // namespace

void RegisterWorkbenchRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.workbench == nullptr || ctx.task_rules == nullptr || ctx.outreach == nullptr) return;
  workbench::WorkbenchService& wb = *ctx.workbench;

  router.Add(Method::kGet, "/v1/workbench/me", Auth::kRequired, [&wb](http::Request& req) {
    auto m = Manager(wb, req);
    if (!m.ok()) return ErrorResponse(m.status());
    return JsonResponse(200, json::object{{"username", req.principal.id}, {"manager_id", *m}});
  });

  // The manager's customers, by uid (cursor: the last uid of the previous page).
  router.Add(
      Method::kGet, "/v1/workbench/customers", Auth::kRequired, [&ctx, &wb](http::Request& req) {
        auto m = Manager(wb, req);
        if (!m.ok()) return ErrorResponse(m.status());
        absl::StatusOr<PageQuery> page = ParsePageQuery(req);
        if (!page.ok()) return ErrorResponse(page.status());
        if (page->after > int64_t{UINT32_MAX}) {
          return ErrorResponse(absl::InvalidArgumentError("cursor: not a cursor from this API"));
        }
        auto refs = wb.CustomersOf(*m, static_cast<uint32_t>(page->after), page->limit + 1);
        if (!refs.ok()) return ErrorResponse(refs.status());
        json::object out{{"next_cursor", nullptr}};
        if (refs->size() > static_cast<size_t>(page->limit)) {
          refs->pop_back();
          out["next_cursor"] = std::to_string(refs->back().uid);
        }
        auto catalog = ctx.customers->catalog();
        json::array items;
        for (const auto& ref : *refs) {
          auto c = ctx.customers->Get(ref.external_id);
          if (!c.ok()) continue;
          items.push_back(CustomerToJson(*catalog, *c, Pii::kMasked));
        }
        out["customers"] = std::move(items);
        return JsonResponse(200, out);
      });

  // Customer 360: profile (masked; ?unmask=true with pii:read, audited), holdings and AUM,
  // activities with prizes, messages received, tasks, follow-ups and, when the event log is
  // wired, the event timeline.
  router.Add(
      Method::kGet, "/v1/workbench/customers/{external_id}", Auth::kRequired,
      [&ctx, &wb](http::Request& req) {
        auto m = Manager(wb, req);
        if (!m.ok()) return ErrorResponse(m.status());
        const std::string& external_id = req.path_params.at("external_id");
        auto c = wb.CustomerOf(*m, external_id);
        if (!c.ok()) return ErrorResponse(c.status());
        absl::StatusOr<Pii> pii = RequestedPii(req);
        if (!pii.ok()) return ErrorResponse(pii.status());
        if (*pii == Pii::kUnmasked) {
          if (absl::Status s = RecordAudit(ctx, req, "customer.pii_read", "customer", external_id,
                                           R"({"fields":["name","phone","id_number"]})");
              !s.ok()) {
            return ErrorResponse(s);
          }
        }
        auto catalog = ctx.customers->catalog();
        json::object profile = CustomerToJson(*catalog, *c, *pii);
        json::object holdings;
        const json::object& tags = profile.at("tags").as_object();
        for (const char* key : {"aum", "level", "products", "deposit_maturity", "risk_rating"}) {
          if (const json::value* v = tags.if_contains(key)) holdings[key] = *v;
        }
        json::object out{{"customer", std::move(profile)}, {"holdings", std::move(holdings)}};

        json::array activities;
        if (ctx.activities != nullptr) {
          for (const auto& p : ctx.activities->PublishedActivities()) {
            auto prizes = ctx.activities->MyPrizes(p->activity_id, external_id);
            if (!prizes.ok() || prizes->empty()) continue;
            json::array items;
            for (const auto& d : *prizes) {
              items.push_back(json::object{{"draw_id", d.draw_id},
                                           {"prize_name", d.prize_name},
                                           {"kind", d.kind},
                                           {"at", IsoTime(d.at_ms)}});
            }
            activities.push_back(json::object{{"activity_id", p->activity_id},
                                              {"name", p->terms.name},
                                              {"prizes", std::move(items)}});
          }
        }
        out["activities"] = std::move(activities);

        // Points and coupons held (coupon codes are the customer's secret: not shown).
        json::object rewards;
        if (ctx.points != nullptr) {
          auto balance = ctx.points->Balance(c->uid);
          if (!balance.ok()) return ErrorResponse(balance.status());
          rewards["points_balance"] = balance->balance;
        }
        if (ctx.coupons != nullptr) {
          auto coupons = ctx.coupons->CustomerCoupons(c->uid, kSectionLimit);
          if (!coupons.ok()) return ErrorResponse(coupons.status());
          json::array items;
          for (const CouponCode& k : *coupons) {
            items.push_back(json::object{{"template_id", k.template_id},
                                         {"status", CouponStatusName(k.status)},
                                         {"granted_at", IsoTime(k.granted_ms)},
                                         {"expires_at", IsoTime(k.expires_ms)}});
          }
          rewards["coupons"] = std::move(items);
        }
        out["rewards"] = std::move(rewards);

        auto messages = ctx.outreach_repository->ListMessages(external_id, 0, kSectionLimit);
        if (!messages.ok()) return ErrorResponse(messages.status());
        json::array msgs;
        for (const MessageRow& x : *messages) msgs.push_back(MessageToJson(x));
        out["messages"] = std::move(msgs);

        TaskQuery q;
        q.manager_id = *m;
        q.customer = external_id;
        q.limit = kSectionLimit;
        auto tasks = wb.Tasks(q);
        if (!tasks.ok()) return ErrorResponse(tasks.status());
        json::array ts;
        for (const TaskRow& t : *tasks) ts.push_back(TaskToJson(t));
        out["tasks"] = std::move(ts);

        auto follow_ups = wb.FollowUps(*m, external_id, kSectionLimit);
        if (!follow_ups.ok()) return ErrorResponse(follow_ups.status());
        json::array fs;
        for (const FollowUpRow& f : *follow_ups) fs.push_back(FollowUpToJson(f));
        out["follow_ups"] = std::move(fs);

        if (const event::EventLog* log = wb.events(); log != nullptr) {
          json::array timeline;
          absl::Status s = log->CustomerEvents(
              c->uid, "", 0, kTimelineLimit, [&timeline](const event::Event& e) {
                json::object props;
                for (const auto& [k, v] : e.properties) props[k] = PropertyToJson(v);
                timeline.push_back(json::object{{"seq", e.seq},
                                                {"type", e.type},
                                                {"occurred_at", IsoTime(e.occurred_ms)},
                                                {"properties", std::move(props)}});
                return true;
              });
          if (!s.ok()) return ErrorResponse(s);
          out["timeline"] = std::move(timeline);
        } else {
          out["timeline"] = nullptr;
        }
        return JsonResponse(200, out);
      });

  // One-click push of an approved template (no free text) through the contact policy.
  // Body: {"template_id", "variables"?, "task_id"?}; the channel and purpose are the
  // template's. Idempotency-Key required: the same key answers the first result (200).
  router.Add(Method::kPost, "/v1/workbench/customers/{external_id}/push", Auth::kRequired,
             [&ctx, &wb](http::Request& req) {
               auto m = Manager(wb, req);
               if (!m.ok()) return ErrorResponse(m.status());
               const std::string& external_id = req.path_params.at("external_id");
               auto c = wb.CustomerOf(*m, external_id);
               if (!c.ok()) return ErrorResponse(c.status());
               auto key = CallerIdempotencyKey(req);
               if (!key.ok()) return ErrorResponse(key.status());
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto template_id = OptionalInt(*body, "template_id");
               if (!template_id.ok()) return ErrorResponse(template_id.status());
               if (!*template_id) {
                 return ErrorResponse(absl::InvalidArgumentError("template_id: is required"));
               }
               if (body->contains("body") || body->contains("text")) {
                 return ErrorResponse(absl::InvalidArgumentError(
                     "body: free text is not allowed; send an approved template"));
               }
               auto vars = VariablesOf(*body);
               if (!vars.ok()) return ErrorResponse(vars.status());
               auto tmpl = ctx.templates->Approved(**template_id);
               if (!tmpl.ok()) return ErrorResponse(tmpl.status());
               outreach::Message msg;
               msg.uid = c->uid;
               msg.customer = external_id;
               msg.channel = tmpl->channel;
               msg.purpose = tmpl->purpose;
               msg.template_id = std::to_string(tmpl->id);
               msg.variables = *vars;
               msg.origin = "manager:" + req.principal.id;
               msg.dedupe_key = "push:" + *key;
               auto result = ctx.outreach->Send(msg);
               if (!result.ok()) return ErrorResponse(result.status());
               json::object out = SendResultToJson(*result);
               out["channel"] = msg.channel;
               out["template_id"] = tmpl->id;
               http::Response r = JsonResponse(result->replayed ? 200 : 201, out);
               if (result->replayed) r.headers["idempotent-replayed"] = "true";
               return r;
             });

  // Body: {"channel": call|visit|wechat|wecom, "outcome", "note"?, "next_step"?, "task_id"?,
  // "close_task"?}.
  router.Add(
      Method::kPost, "/v1/workbench/customers/{external_id}/follow-ups", Auth::kRequired,
      [&wb](http::Request& req) {
        auto m = Manager(wb, req);
        if (!m.ok()) return ErrorResponse(m.status());
        auto c = wb.CustomerOf(*m, req.path_params.at("external_id"));
        if (!c.ok()) return ErrorResponse(c.status());
        absl::StatusOr<json::object> body = ParseObjectBody(req);
        if (!body.ok()) return ErrorResponse(body.status());
        workbench::FollowUpSpec spec;
        for (auto [field, target, required] :
             {std::tuple{"channel", &spec.channel, true},
              std::tuple{"outcome", &spec.outcome, true}, std::tuple{"note", &spec.note, false},
              std::tuple{"next_step", &spec.next_step, false}}) {
          auto v = OptionalString(*body, field);
          if (!v.ok()) return ErrorResponse(v.status());
          if (!*v && required) {
            return ErrorResponse(absl::InvalidArgumentError(fmt::format("{}: is required", field)));
          }
          *target = v->value_or("");
        }
        auto task_id = OptionalInt(*body, "task_id");
        if (!task_id.ok()) return ErrorResponse(task_id.status());
        spec.task_id = task_id->value_or(0);
        if (const json::value* close = body->if_contains("close_task"); close) {
          if (!close->is_bool()) {
            return ErrorResponse(absl::InvalidArgumentError("close_task: must be true or false"));
          }
          spec.close_task = close->as_bool();
        }
        auto f = wb.AddFollowUp(*m, *c, spec, req.principal);
        if (!f.ok()) return ErrorResponse(f.status());
        return JsonResponse(201, FollowUpToJson(*f));
      });

  // The inbox: ?status=open|done|cancelled, ?customer=, cursor pagination by id.
  router.Add(Method::kGet, "/v1/workbench/tasks", Auth::kRequired, [&wb](http::Request& req) {
    auto m = Manager(wb, req);
    if (!m.ok()) return ErrorResponse(m.status());
    absl::StatusOr<PageQuery> page = ParsePageQuery(req);
    if (!page.ok()) return ErrorResponse(page.status());
    TaskQuery q;
    q.manager_id = *m;
    q.status = std::string(req.Query("status").value_or(""));
    if (!q.status.empty() && q.status != "open" && q.status != "done" && q.status != "cancelled") {
      return ErrorResponse(absl::InvalidArgumentError("status: must be open, done or cancelled"));
    }
    q.customer = std::string(req.Query("customer").value_or(""));
    q.after_id = page->after;
    q.limit = page->limit + 1;
    auto tasks = wb.Tasks(q);
    if (!tasks.ok()) return ErrorResponse(tasks.status());
    json::object out{{"next_cursor", nullptr}};
    if (tasks->size() > static_cast<size_t>(page->limit)) {
      tasks->pop_back();
      out["next_cursor"] = std::to_string(tasks->back().id);
    }
    json::array items;
    for (const TaskRow& t : *tasks) items.push_back(TaskToJson(t));
    out["tasks"] = std::move(items);
    return JsonResponse(200, out);
  });

  router.Add(Method::kGet, "/v1/workbench/tasks/{id}", Auth::kRequired, [&wb](http::Request& req) {
    auto m = Manager(wb, req);
    if (!m.ok()) return ErrorResponse(m.status());
    auto id = PathId(req, "id", "task");
    if (!id.ok()) return ErrorResponse(id.status());
    auto t = wb.Task(*m, *id);
    if (!t.ok()) return ErrorResponse(t.status());
    return JsonResponse(200, TaskToJson(*t));
  });

  // Body: {"status": "done"|"cancelled", "outcome"?}.
  router.Add(Method::kPost, "/v1/workbench/tasks/{id}/close", Auth::kRequired,
             [&wb](http::Request& req) {
               auto m = Manager(wb, req);
               if (!m.ok()) return ErrorResponse(m.status());
               auto id = PathId(req, "id", "task");
               if (!id.ok()) return ErrorResponse(id.status());
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto status = RequiredString(*body, "status");
               if (!status.ok()) return ErrorResponse(status.status());
               auto outcome = OptionalString(*body, "outcome");
               if (!outcome.ok()) return ErrorResponse(outcome.status());
               auto t = wb.CloseTask(*m, *id, *status, outcome->value_or(""), req.principal);
               if (!t.ok()) return ErrorResponse(t.status());
               return JsonResponse(200, TaskToJson(*t));
             });

  // ?from=YYYY-MM-DD&to=YYYY-MM-DD (local days, inclusive; default: the last 30 days).
  router.Add(Method::kGet, "/v1/workbench/kpis", Auth::kRequired, [&ctx, &wb](http::Request& req) {
    auto m = Manager(wb, req);
    if (!m.ok()) return ErrorResponse(m.status());
    const int64_t today = (ctx.clock->NowMs() + kShanghaiOffsetMs) / kMsPerDay;
    int64_t from = today - 29, to = today;
    if (auto f = req.Query("from"); f && !f->empty()) {
      auto d = ParseDay(*f, "from");
      if (!d.ok()) return ErrorResponse(d.status());
      from = *d;
    }
    if (auto t = req.Query("to"); t && !t->empty()) {
      auto d = ParseDay(*t, "to");
      if (!d.ok()) return ErrorResponse(d.status());
      to = *d;
    }
    if (to < from) return ErrorResponse(absl::InvalidArgumentError("to: must not be before from"));
    auto k =
        wb.Kpis(*m, from * kMsPerDay - kShanghaiOffsetMs, (to + 1) * kMsPerDay - kShanghaiOffsetMs);
    if (!k.ok()) return ErrorResponse(k.status());
    return JsonResponse(200, json::object{{"manager_id", *m},
                                          {"from", workbench::FormatDay(from)},
                                          {"to", workbench::FormatDay(to)},
                                          {"tasks_due", k->tasks_due},
                                          {"tasks_done", k->tasks_done},
                                          {"tasks_done_on_time", k->tasks_done_on_time},
                                          {"follow_ups", k->follow_ups},
                                          {"customers_reached", k->customers_reached},
                                          {"customers_converted", k->customers_converted}});
  });

  // --- administration (workbench:manage) -------------------------------------------------

  // Body: {"manager_id": "M00001"}: the staff account works that manager's customers.
  router.Add(Method::kPut, "/v1/workbench/managers/{username}", Auth::kRequired,
             [&ctx, &wb](http::Request& req) {
               const std::string& username = req.path_params.at("username");
               auto user = ctx.staff->GetUser(username);
               if (!user.ok()) return ErrorResponse(user.status());
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto manager_id = RequiredString(*body, "manager_id");
               if (!manager_id.ok()) return ErrorResponse(manager_id.status());
               if (absl::Status s = wb.LinkManager(user->id, *manager_id); !s.ok()) {
                 return ErrorResponse(s);
               }
               if (absl::Status s =
                       RecordAudit(ctx, req, "workbench.manager_link", "user", user->username,
                                   json::serialize(json::object{{"manager_id", *manager_id}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               return JsonResponse(
                   200, json::object{{"username", user->username}, {"manager_id", *manager_id}});
             });

  router.Add(Method::kGet, "/v1/workbench/rules", Auth::kRequired, [&ctx](http::Request&) {
    auto rules = ctx.task_rules->Rules();
    if (!rules.ok()) return ErrorResponse(rules.status());
    json::array items;
    for (const TaskRuleRow& r : *rules) items.push_back(RuleToJson(r));
    return JsonResponse(200, json::object{{"rules", std::move(items)}});
  });

  // Body: {"kind", "title", "reason"?, "dsl", "priority"?, "due_days"?, "due_tag"?, "period"?,
  // "enabled"?}: creates or replaces the rule {id}.
  router.Add(Method::kPut, "/v1/workbench/rules/{id}", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    TaskRuleRow r;
    r.id = req.path_params.at("id");
    for (auto [field, target, required] :
         {std::tuple{"kind", &r.kind, true}, std::tuple{"title", &r.title, true},
          std::tuple{"reason", &r.reason, false}, std::tuple{"dsl", &r.dsl, true},
          std::tuple{"due_tag", &r.due_tag, false}, std::tuple{"period", &r.period, false}}) {
      auto v = OptionalString(*body, field);
      if (!v.ok()) return ErrorResponse(v.status());
      if (!*v && required) {
        return ErrorResponse(absl::InvalidArgumentError(fmt::format("{}: is required", field)));
      }
      if (*v) *target = **v;
    }
    auto priority = OptionalInt(*body, "priority");
    if (!priority.ok()) return ErrorResponse(priority.status());
    if (*priority) {
      if (**priority < 1 || **priority > 3) {
        return ErrorResponse(
            absl::InvalidArgumentError("priority: must be 1 (high), 2 (normal) or 3 (low)"));
      }
      r.priority = static_cast<int>(**priority);
    }
    auto due_days = OptionalInt(*body, "due_days");
    if (!due_days.ok()) return ErrorResponse(due_days.status());
    if (*due_days) r.due_days = **due_days;
    if (const json::value* e = body->if_contains("enabled"); e) {
      if (!e->is_bool()) {
        return ErrorResponse(absl::InvalidArgumentError("enabled: must be true or false"));
      }
      r.enabled = e->as_bool();
    }
    r.updated_by = req.principal.Actor();
    r.updated_ms = ctx.clock->NowMs();
    if (absl::Status s = ctx.task_rules->PutRule(r); !s.ok()) return ErrorResponse(s);
    json::object out = RuleToJson(r);
    if (absl::Status s = RecordAudit(ctx, req, "workbench.rule_put", "workbench_rule", r.id,
                                     json::serialize(out));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, out);
  });

  // Runs every enabled rule now (as the daily run does); re-running a period creates nothing.
  router.Add(Method::kPost, "/v1/workbench/rules/run", Auth::kRequired, [&ctx](http::Request& req) {
    auto reports = ctx.task_rules->RunAll();
    if (!reports.ok()) return ErrorResponse(reports.status());
    json::array items;
    int64_t created = 0;
    for (const workbench::RuleRunReport& r : *reports) {
      created += r.created;
      items.push_back(
          json::object{{"rule_id", r.rule_id},
                       {"matched", r.matched},
                       {"created", r.created},
                       {"existing", r.existing},
                       {"no_manager", r.no_manager},
                       {"error", r.error.empty() ? json::value(nullptr) : json::value(r.error)}});
    }
    if (absl::Status s = RecordAudit(ctx, req, "workbench.rules_run", "workbench_rule", "*",
                                     json::serialize(json::object{{"created", created}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, json::object{{"rules", std::move(items)}, {"created", created}});
  });
}

}  // namespace mercator::api
