#include "api/permissions.h"

#include <array>

namespace mercator::api {
namespace {

using http::Method;

// Keep grouped by resource, in the order the resources' files register them.
constexpr RoutePermission kTable[] = {
    // tags_api.cc
    {Method::kGet, "/v1/tags", "tags:read"},
    {Method::kGet, "/v1/tags/{key}", "tags:read"},
    {Method::kPost, "/v1/tags", "tags:write"},
    {Method::kPut, "/v1/tags/{key}", "tags:write"},
    // customers_api.cc
    {Method::kPost, "/v1/customers/batch", "customers:write"},
    {Method::kGet, "/v1/customers/{external_id}", "customers:read"},
    {Method::kPost, "/v1/customers/lookup", "customers:read"},
    {Method::kDelete, "/v1/customers/{external_id}", "customers:erase"},
    // events_api.cc: events come from the bank's systems (events scope); staff read them.
    {Method::kPost, "/v1/events", "events:write"},
    {Method::kGet, "/v1/events/types", "tags:read"},
    {Method::kGet, "/v1/events/stats", "tags:read"},
    {Method::kGet, "/v1/customers/{external_id}/events", "customers:read"},
    {Method::kGet, "/v1/lifecycle/rules", "tags:read"},
    {Method::kPut, "/v1/lifecycle/rules", "tags:write"},
    {Method::kGet, "/v1/lifecycle/stages", "segments:read"},
    // segments_api.cc
    {Method::kPost, "/v1/segments/count", "segments:read"},
    {Method::kPost, "/v1/segments/breakdown", "segments:read"},
    {Method::kPost, "/v1/segments/sample", "segments:read"},
    {Method::kPost, "/v1/segments/export", "segments:export"},
    {Method::kPost, "/v1/segments/convert", "segments:read"},
    // audiences_api.cc
    {Method::kGet, "/v1/audiences", "audiences:read"},
    {Method::kPost, "/v1/audiences", "audiences:write"},
    {Method::kGet, "/v1/audiences/{id}", "audiences:read"},
    {Method::kPatch, "/v1/audiences/{id}", "audiences:write"},
    {Method::kDelete, "/v1/audiences/{id}", "audiences:write"},
    {Method::kPost, "/v1/audiences/{id}/snapshots", "audiences:write"},
    {Method::kGet, "/v1/audiences/{id}/snapshots", "audiences:read"},
    {Method::kGet, "/v1/audiences/{id}/snapshots/{version}/members", "exports:read"},
    // audit_api.cc
    {Method::kGet, "/v1/audit", "audit:read"},
    {Method::kGet, "/v1/audit/verify", "audit:read"},
    // approvals_api.cc
    {Method::kGet, "/v1/approvals", "approvals:read"},
    {Method::kGet, "/v1/approvals/{id}", "approvals:read"},
    {Method::kPost, "/v1/approvals/{id}/approve", "approvals:decide"},
    {Method::kPost, "/v1/approvals/{id}/reject", "approvals:decide"},
    {Method::kPost, "/v1/approvals/{id}/withdraw", "approvals:submit"},
    {Method::kPost, "/v1/audiences/{id}/snapshots/{version}/exports", "approvals:submit"},
    // auth_api.cc (POST /v1/auth/login is public)
    {Method::kPost, "/v1/auth/logout", "self"},
    {Method::kGet, "/v1/auth/me", "self"},
    {Method::kPost, "/v1/auth/password", "self"},
    // users_api.cc
    {Method::kGet, "/v1/users", "users:read"},
    {Method::kPost, "/v1/users", "users:manage"},
    {Method::kGet, "/v1/users/{username}", "users:read"},
    {Method::kPatch, "/v1/users/{username}", "users:manage"},
    {Method::kPost, "/v1/users/{username}/password-reset", "users:manage"},
    // clients_api.cc
    {Method::kGet, "/v1/clients", "clients:manage"},
    {Method::kPost, "/v1/clients", "clients:manage"},
    {Method::kGet, "/v1/clients/{key_id}", "clients:manage"},
    {Method::kPatch, "/v1/clients/{key_id}", "clients:manage"},
    {Method::kPost, "/v1/clients/{key_id}/rotate", "clients:manage"},
    {Method::kGet, "/v1/whoami", "self"},
    // points_api.cc
    {Method::kGet, "/v1/customers/{external_id}/points", "rewards:read"},
    {Method::kPost, "/v1/customers/{external_id}/points/adjustments", "rewards:write"},
    // coupons_api.cc
    {Method::kGet, "/v1/coupon-templates", "rewards:read"},
    {Method::kPost, "/v1/coupon-templates", "rewards:write"},
    {Method::kGet, "/v1/coupon-templates/{id}", "rewards:read"},
    {Method::kPatch, "/v1/coupon-templates/{id}", "rewards:write"},
    {Method::kPost, "/v1/coupon-templates/{id}/codes", "rewards:write"},
    {Method::kGet, "/v1/customers/{external_id}/coupons", "rewards:read"},
    {Method::kPost, "/v1/customers/{external_id}/coupons", "rewards:write"},
    {Method::kPost, "/v1/coupons/redeem", "rewards:redeem"},
    // fulfilments_api.cc
    {Method::kGet, "/v1/fulfilments", "rewards:read"},
    {Method::kGet, "/v1/fulfilments/{id}", "rewards:read"},
    {Method::kPost, "/v1/fulfilments/{id}/retry", "rewards:write"},
    {Method::kPost, "/v1/fulfilments/{id}/complete", "rewards:write"},
    // campaigns_api.cc (approval through /v1/approvals)
    {Method::kGet, "/v1/campaigns", "campaigns:read"},
    {Method::kPost, "/v1/campaigns", "campaigns:write"},
    {Method::kGet, "/v1/campaigns/{id}", "campaigns:read"},
    {Method::kPut, "/v1/campaigns/{id}", "campaigns:write"},
    {Method::kDelete, "/v1/campaigns/{id}", "campaigns:write"},
    {Method::kPost, "/v1/campaigns/{id}/submit", "campaigns:write"},
    {Method::kPost, "/v1/campaigns/{id}/pause", "campaigns:write"},
    {Method::kPost, "/v1/campaigns/{id}/resume", "campaigns:write"},
    {Method::kPost, "/v1/campaigns/{id}/cancel", "campaigns:write"},
    {Method::kGet, "/v1/campaigns/{id}/report", "campaigns:read"},
    {Method::kGet, "/v1/campaigns/{id}/members", "campaigns:read"},
    // placements_api.cc: definitions and stats are staff's (placements:read); the app
    // back-end's placements scope asks for a slot's cards (a staff member gets a preview).
    {Method::kGet, "/v1/placements", "placements:read"},
    {Method::kPost, "/v1/placements", "placements:write"},
    {Method::kPut, "/v1/placements/{id}", "placements:write"},
    {Method::kPost, "/v1/placements/{id}/submit", "placements:write"},
    {Method::kPost, "/v1/placements/{id}/pause", "placements:write"},
    {Method::kPost, "/v1/placements/{id}/resume", "placements:write"},
    {Method::kPost, "/v1/placements/{id}/end", "placements:write"},
    {Method::kGet, "/v1/placements/{id}/stats", "placements:read"},
    {Method::kGet, "/v1/placements/{slot}", "placements:read"},
    // journeys_api.cc (approval through /v1/approvals)
    {Method::kGet, "/v1/journeys", "journeys:read"},
    {Method::kPost, "/v1/journeys", "journeys:write"},
    {Method::kPost, "/v1/journeys/preview", "journeys:read"},  // writes nothing: approvers too
    {Method::kGet, "/v1/journeys/{id}", "journeys:read"},
    {Method::kPut, "/v1/journeys/{id}", "journeys:write"},
    {Method::kDelete, "/v1/journeys/{id}", "journeys:write"},
    {Method::kGet, "/v1/journeys/{id}/versions", "journeys:read"},
    {Method::kPost, "/v1/journeys/{id}/submit", "journeys:write"},
    {Method::kPost, "/v1/journeys/{id}/pause", "journeys:write"},
    {Method::kPost, "/v1/journeys/{id}/resume", "journeys:write"},
    {Method::kPost, "/v1/journeys/{id}/end", "journeys:write"},
    {Method::kGet, "/v1/journeys/{id}/stats", "journeys:read"},
    {Method::kGet, "/v1/journeys/{id}/entries", "journeys:read"},
    {Method::kGet, "/v1/journeys/{id}/stuck", "journeys:read"},
    {Method::kPost, "/v1/journeys/{id}/stuck/retry", "journeys:write"},
    {Method::kPost, "/v1/journeys/{id}/stuck/exit", "journeys:write"},
    // activities_api.cc
    {Method::kGet, "/v1/activities", "activities:read"},
    {Method::kPost, "/v1/activities", "activities:write"},
    {Method::kGet, "/v1/activities/{id}", "activities:read"},
    {Method::kPut, "/v1/activities/{id}", "activities:write"},
    {Method::kDelete, "/v1/activities/{id}", "activities:write"},
    {Method::kPost, "/v1/activities/{id}/submit", "activities:write"},
    {Method::kPost, "/v1/activities/{id}/pause", "activities:write"},
    {Method::kPost, "/v1/activities/{id}/resume", "activities:write"},
    {Method::kPost, "/v1/activities/{id}/end", "activities:write"},
    {Method::kPost, "/v1/activities/{id}/clone", "activities:write"},
    {Method::kGet, "/v1/activities/{id}/versions", "activities:read"},
    {Method::kGet, "/v1/activities/{id}/stats", "activities:read"},
    {Method::kGet, "/v1/activities/{id}/draws", "activities:read"},
    {Method::kGet, "/v1/app/activities", "draw"},
    {Method::kPost, "/v1/app/activities/{id}/draw", "draw"},
    {Method::kGet, "/v1/app/activities/{id}/prizes", "draw"},
    {Method::kGet, "/v1/app/activities/{id}/rules", "draw"},
    {Method::kPost, "/v1/app/activities/{id}/sign-in", "draw"},
    {Method::kGet, "/v1/app/activities/{id}/sign-in", "draw"},
    {Method::kGet, "/v1/app/activities/{id}/quiz", "draw"},
    {Method::kPost, "/v1/app/activities/{id}/quiz/answers", "draw"},
    // A task completion mints draw chances: reported by the bank's systems (events scope).
    {Method::kPost, "/v1/app/activities/{id}/tasks/{task_id}/complete", "events:write"},
    // h5_api.cc: the app back-end obtains a customer token (draw scope); the customer's
    // browser uses it ("h5", which only customer tokens grant).
    {Method::kPost, "/v1/h5/tokens", "draw"},
    // A read-only preview of a draft's H5 page for staff who edit activities.
    {Method::kPost, "/v1/activities/{id}/preview-token", "activities:write"},
    {Method::kGet, "/v1/h5/me", "h5"},
    {Method::kGet, "/v1/h5/activities", "h5"},
    {Method::kGet, "/v1/h5/activities/{id}", "h5"},
    {Method::kGet, "/v1/h5/activities/{id}/rules", "h5"},
    {Method::kPost, "/v1/h5/activities/{id}/draw", "h5"},
    {Method::kGet, "/v1/h5/activities/{id}/prizes", "h5"},
    {Method::kGet, "/v1/h5/activities/{id}/sign-in", "h5"},
    {Method::kPost, "/v1/h5/activities/{id}/sign-in", "h5"},
    {Method::kGet, "/v1/h5/activities/{id}/quiz", "h5"},
    {Method::kPost, "/v1/h5/activities/{id}/quiz/answers", "h5"},
    // risk_api.cc
    {Method::kGet, "/v1/risk/blocklist", "risk:read"},
    {Method::kPost, "/v1/risk/blocklist", "risk:write"},
    {Method::kDelete, "/v1/risk/blocklist/{kind}/{value}", "risk:write"},
    // outreach_api.cc
    {Method::kGet, "/v1/templates", "templates:read"},
    {Method::kPost, "/v1/templates", "templates:write"},
    {Method::kGet, "/v1/templates/{id}", "templates:read"},
    {Method::kPut, "/v1/templates/{id}", "templates:write"},
    {Method::kDelete, "/v1/templates/{id}", "templates:write"},
    {Method::kPost, "/v1/templates/{id}/submit", "templates:write"},
    {Method::kPost, "/v1/templates/{id}/preview", "templates:read"},
    {Method::kPost, "/v1/customers/{external_id}/consents", "contacts:write"},
    {Method::kPost, "/v1/customers/{external_id}/opt-outs", "contacts:write"},
    {Method::kGet, "/v1/customers/{external_id}/contacts", "contacts:read"},
    {Method::kGet, "/v1/contact-policy", "contacts:read"},
    {Method::kPut, "/v1/contact-policy", "contacts:write"},
    {Method::kGet, "/v1/contact-policy/do-not-disturb", "contacts:read"},
    {Method::kPut, "/v1/contact-policy/do-not-disturb/{external_id}", "contacts:write"},
    {Method::kDelete, "/v1/contact-policy/do-not-disturb/{external_id}", "contacts:write"},
    {Method::kPost, "/v1/contact-policy/do-not-disturb/import", "contacts:write"},
    {Method::kGet, "/v1/outreach/sandbox/outbox", "contacts:read"},
    // workbench_api.cc (manager routes: the caller's own customers only)
    {Method::kGet, "/v1/workbench/me", "workbench:use"},
    {Method::kGet, "/v1/workbench/customers", "workbench:use"},
    {Method::kGet, "/v1/workbench/customers/{external_id}", "workbench:use"},
    {Method::kPost, "/v1/workbench/customers/{external_id}/push", "workbench:use"},
    {Method::kPost, "/v1/workbench/customers/{external_id}/follow-ups", "workbench:use"},
    {Method::kGet, "/v1/workbench/tasks", "workbench:use"},
    {Method::kGet, "/v1/workbench/tasks/{id}", "workbench:use"},
    {Method::kPost, "/v1/workbench/tasks/{id}/close", "workbench:use"},
    {Method::kGet, "/v1/workbench/kpis", "workbench:use"},
    {Method::kPut, "/v1/workbench/managers/{username}", "workbench:manage"},
    {Method::kGet, "/v1/workbench/rules", "workbench:manage"},
    {Method::kPut, "/v1/workbench/rules/{id}", "workbench:manage"},
    {Method::kPost, "/v1/workbench/rules/run", "workbench:manage"},
    // webhooks_api.cc: the bank's platform reports receipts and replies (webhooks scope);
    // operators see and retry the webhook channel's dead letters.
    {Method::kPost, "/v1/webhooks/receipts", "webhooks:write"},
    {Method::kPost, "/v1/webhooks/replies", "webhooks:write"},
    {Method::kGet, "/v1/outreach/webhook/dead-letters", "contacts:read"},
    {Method::kPost, "/v1/outreach/webhook/dead-letters/{message_id}/retry", "contacts:write"},
    // wechat_api.cc: customers' WeChat/WeCom addresses and the WeChat templates.
    {Method::kPut, "/v1/customers/{external_id}/wechat", "contacts:write"},
    {Method::kGet, "/v1/customers/{external_id}/wechat", "contacts:read"},
    {Method::kPut, "/v1/templates/{id}/wechat", "templates:write"},
    {Method::kGet, "/v1/templates/{id}/wechat", "templates:read"},
};

}  // namespace

std::span<const RoutePermission> RoutePermissions() { return kTable; }

std::optional<std::string_view> RequiredPermission(http::Method method, std::string_view pattern) {
  for (const RoutePermission& r : kTable) {
    if (r.method == method && r.pattern == pattern) return r.permission;
  }
  return std::nullopt;
}

}  // namespace mercator::api
