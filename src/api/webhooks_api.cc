// The webhook channel's routes (docs/outreach-webhook.md):
// - POST /v1/webhooks/receipts and /v1/webhooks/replies for the bank's platform, an API client
//   with scope webhooks (webhooks:write): delivery receipts (first one per message kept,
//   repeats answer it again) and inbound replies ("T", "TD", "R", "退订" opt the customer out
//   of the reply's channel through the contact policy's opt-outs; other text is ignored);
// - GET /v1/outreach/webhook/dead-letters (contacts:read) and
//   POST /v1/outreach/webhook/dead-letters/{message_id}/retry (contacts:write, audited) for
//   operators.
#include "api/webhooks_api.h"

#include <fmt/format.h>

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "api/audit_util.h"
#include "api/outreach_api.h"
#include "common/strings.h"
#include "customer/customer_service.h"
#include "outreach/templates.h"
#include "outreach/webhook_channel.h"
#include "store/webhook_repository.h"

namespace mercator::api {
namespace {

constexpr size_t kMaxReasonBytes = 500;
constexpr size_t kMaxReplyBytes = 1000;
constexpr int kMaxCustomersPerPhone = 20;

json::object OutboundToJson(const WebhookOutboundRow& r) {
  return json::object{
      {"message_id", std::to_string(r.message_id)},
      {"channel", r.channel},
      {"customer", r.customer},
      {"template_id", r.template_id},
      {"origin", r.origin},
      {"state", r.state},
      {"attempts", r.attempts},
      {"last_error", r.last_error.empty() ? json::value() : json::value(r.last_error)},
      {"created_at", IsoTime(r.created_ms)},
      {"updated_at", IsoTime(r.updated_ms)}};
}

json::object ReceiptToJson(const ReceiptRow& r) {
  return json::object{{"message_id", std::to_string(r.message_id)},
                      {"status", r.status},
                      {"reason", r.reason},
                      {"occurred_at", IsoTime(r.occurred_ms)}};
}

// A message id as the platform echoes it: the decimal string of the JSON body we sent (a JSON
// number is accepted too).
absl::StatusOr<int64_t> MessageIdOf(const json::object& body) {
  const json::value* v = body.if_contains("message_id");
  int64_t id = 0;
  if (v != nullptr && v->is_int64()) {
    id = v->as_int64();
  } else if (v != nullptr && v->is_string()) {
    const json::string& s = v->as_string();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (ec != std::errc() || p != s.data() + s.size()) id = 0;
  } else if (v == nullptr) {
    return absl::InvalidArgumentError("message_id: is required");
  }
  if (id <= 0) return absl::InvalidArgumentError("message_id: must be a message id");
  return id;
}

// The opt-out keywords of an inbound reply, compared after trimming and upper-casing.
bool IsOptOut(std::string_view text) {
  std::string t(absl::StripAsciiWhitespace(ToAbsl(text)));
  absl::AsciiStrToUpper(&t);
  return t == "T" || t == "TD" || t == "R" || t == "N" || t == "退订";
}

}  // namespace

json::value DeliveryToJson(ApiContext& ctx, const MessageRow& m) {
  if (ctx.webhook_repository == nullptr || m.status == "suppressed") return nullptr;
  auto outbound = ctx.webhook_repository->Get(m.id);
  auto receipt = ctx.webhook_repository->GetReceipt(m.id);
  json::object out{{"webhook", nullptr}, {"receipt", nullptr}};
  if (outbound.ok() && outbound->has_value()) {
    const WebhookOutboundRow& w = **outbound;
    out["webhook"] = json::object{
        {"state", w.state},
        {"attempts", w.attempts},
        {"last_error", w.last_error.empty() ? json::value() : json::value(w.last_error)}};
  }
  if (receipt.ok() && receipt->has_value()) {
    const ReceiptRow& r = **receipt;
    out["receipt"] = json::object{
        {"status", r.status}, {"reason", r.reason}, {"occurred_at", IsoTime(r.occurred_ms)}};
  }
  if (out["webhook"].is_null() && out["receipt"].is_null()) return nullptr;
  return out;
}

void RegisterWebhookRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.webhook_repository == nullptr || ctx.outreach_repository == nullptr) return;

  // Body: {"message_id", "status": "delivered"|"failed", "reason", "occurred_at" (RFC 3339;
  // default now)}. 200 with the stored receipt; "replayed" when one was stored before.
  router.Add(Method::kPost, "/v1/webhooks/receipts", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    ReceiptRow r;
    absl::StatusOr<int64_t> id = MessageIdOf(*body);
    if (!id.ok()) return ErrorResponse(id.status());
    r.message_id = *id;
    auto status = RequiredString(*body, "status");
    if (!status.ok()) return ErrorResponse(status.status());
    if (*status != "delivered" && *status != "failed") {
      return ErrorResponse(absl::InvalidArgumentError("status: must be delivered or failed"));
    }
    r.status = *status;
    auto reason = OptionalString(*body, "reason");
    if (!reason.ok()) return ErrorResponse(reason.status());
    r.reason = reason->value_or("");
    if (r.reason.size() > kMaxReasonBytes) {
      return ErrorResponse(
          absl::InvalidArgumentError(fmt::format("reason: at most {} bytes", kMaxReasonBytes)));
    }
    r.recorded_ms = ctx.clock->NowMs();
    r.occurred_ms = r.recorded_ms;
    auto occurred = OptionalString(*body, "occurred_at");
    if (!occurred.ok()) return ErrorResponse(occurred.status());
    if (occurred->has_value()) {
      absl::Time t;
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, **occurred, &t, &err)) {
        return ErrorResponse(absl::InvalidArgumentError(
            "occurred_at: must be an RFC 3339 time such as 2026-11-23T10:00:00+08:00"));
      }
      r.occurred_ms = absl::ToUnixMillis(t);
    }
    r.recorded_by = req.principal.Actor();
    auto sent = ctx.webhook_repository->MessageSent(r.message_id);
    if (!sent.ok()) return ErrorResponse(sent.status());
    if (!*sent) {
      return ErrorResponse(
          absl::NotFoundError(fmt::format("message_id: message {} was not sent", r.message_id)));
    }
    auto stored = ctx.webhook_repository->RecordReceipt(r);
    if (!stored.ok()) return ErrorResponse(stored.status());
    json::object out = ReceiptToJson(stored->first);
    out["replayed"] = !stored->second;
    return JsonResponse(200, out);
  });

  // Body: {"customer": external id} or {"phone": mobile number}, "text", "channel" (default
  // sms). An opt-out keyword opts every matching customer out of that channel.
  router.Add(Method::kPost, "/v1/webhooks/replies", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    auto customer = OptionalString(*body, "customer");
    if (!customer.ok()) return ErrorResponse(customer.status());
    auto phone = OptionalString(*body, "phone");
    if (!phone.ok()) return ErrorResponse(phone.status());
    if (customer->has_value() == phone->has_value()) {
      return ErrorResponse(
          absl::InvalidArgumentError("customer: give exactly one of customer and phone"));
    }
    auto text = RequiredString(*body, "text");
    if (!text.ok()) return ErrorResponse(text.status());
    if (text->size() > kMaxReplyBytes) {
      return ErrorResponse(
          absl::InvalidArgumentError(fmt::format("text: at most {} bytes", kMaxReplyBytes)));
    }
    auto channel = OptionalString(*body, "channel");
    if (!channel.ok()) return ErrorResponse(channel.status());
    const std::string ch = channel->value_or("sms");
    if (!outreach::IsChannel(ch)) {
      return ErrorResponse(absl::InvalidArgumentError(
          "channel: must be one of sms, app_push, in_app, wechat_oa, wecom, email"));
    }
    std::vector<std::string> customers;
    if (customer->has_value()) {
      auto c = ctx.customers->Get(**customer);
      if (!c.ok()) return ErrorResponse(c.status());
      customers.push_back(**customer);
    } else {
      if (absl::Status s = ValidateMobilePhone(**phone); !s.ok()) return ErrorResponse(s);
      auto found = ctx.customers->store().customers().FindByPii(PiiLookup::kPhone, **phone,
                                                                kMaxCustomersPerPhone);
      if (!found.ok()) return ErrorResponse(found.status());
      for (const CustomerRecord& c : *found) customers.push_back(c.external_id);
    }
    if (!IsOptOut(*text)) {
      return JsonResponse(200, json::object{{"action", "none"}, {"customers", 0}});
    }
    for (const std::string& c : customers) {
      OptOutRow o;
      o.customer = c;
      o.channel = ch;
      o.source = ch + "_reply";
      o.recorded_by = req.principal.Actor();
      o.created_ms = ctx.clock->NowMs();
      if (absl::Status s = ctx.outreach_repository->AddOptOut(o); !s.ok()) {
        return ErrorResponse(s);
      }
      if (absl::Status s = RecordAudit(
              ctx, req, "contact.opt_out", "customer", c,
              json::serialize(json::object{{"channel", o.channel}, {"source", o.source}}));
          !s.ok()) {
        return ErrorResponse(s);
      }
    }
    return JsonResponse(200, json::object{{"action", "opt_out"},
                                          {"channel", ch},
                                          {"customers", static_cast<int64_t>(customers.size())}});
  });

  router.Add(Method::kGet, "/v1/outreach/webhook/dead-letters", Auth::kRequired,
             [&ctx](http::Request& req) {
               absl::StatusOr<PageQuery> page = ParsePageQuery(req);
               if (!page.ok()) return ErrorResponse(page.status());
               auto rows = ctx.webhook_repository->ListDead(page->after, page->limit + 1);
               if (!rows.ok()) return ErrorResponse(rows.status());
               json::object out{{"next_cursor", nullptr}};
               if (rows->size() > static_cast<size_t>(page->limit)) {
                 rows->pop_back();
                 out["next_cursor"] = std::to_string(rows->back().message_id);
               }
               json::array items;
               for (const WebhookOutboundRow& r : *rows) items.push_back(OutboundToJson(r));
               out["items"] = std::move(items);
               return JsonResponse(200, out);
             });

  router.Add(
      Method::kPost, "/v1/outreach/webhook/dead-letters/{message_id}/retry", Auth::kRequired,
      [&ctx](http::Request& req) {
        auto id = PathId(req, "message_id", "dead letter");
        if (!id.ok()) return ErrorResponse(id.status());
        auto row = ctx.webhook_repository->Get(*id);
        if (!row.ok()) return ErrorResponse(row.status());
        if (!row->has_value()) {
          return ErrorResponse(absl::NotFoundError(fmt::format("dead letter {} not found", *id)));
        }
        auto revived = ctx.webhook_repository->Revive(*id, ctx.clock->NowMs());
        if (!revived.ok()) return ErrorResponse(revived.status());
        if (!*revived) {
          return ErrorResponse(absl::FailedPreconditionError(
              fmt::format("message_id: message {} is {}, not dead", *id, (*row)->state)));
        }
        if (absl::Status s =
                RecordAudit(ctx, req, "webhook.retry", "message", std::to_string(*id),
                            json::serialize(json::object{{"last_error", (*row)->last_error},
                                                         {"attempts", (*row)->attempts}}));
            !s.ok()) {
          return ErrorResponse(s);
        }
        if (ctx.webhook_dispatcher != nullptr) ctx.webhook_dispatcher->Wake();
        auto now = ctx.webhook_repository->Get(*id);
        if (!now.ok() || !now->has_value()) return ErrorResponse(now.status());
        return JsonResponse(200, OutboundToJson(**now));
      });
}

}  // namespace mercator::api
