// REST resources under /v1 plus the system endpoints. One file per resource; each parses the
// request, calls its module and renders JSON. Handlers are registered on an http::Router.
#ifndef MERCATOR_API_API_H_
#define MERCATOR_API_API_H_

#include <functional>
#include <string>

#include "auth/audit.h"
#include "auth/rate_limiter.h"
#include "auth/staff_service.h"
#include "common/clock.h"
#include "customer/customer_service.h"
#include "http/types.h"
#include "segment/audience_service.h"
#include "store/repository.h"

namespace mercator::auth {
class ApiClientService;
class CustomerTokenService;
}  // namespace mercator::auth

namespace mercator::auth {
class HashChainAuditLog;
class ApprovalService;
}  // namespace mercator::auth

namespace mercator::reward {
class CouponService;
class FulfilmentService;
class PointsLedger;
}  // namespace mercator::reward

namespace mercator::journey {
class JourneyService;
}  // namespace mercator::journey

namespace mercator::campaign {
class CampaignService;
}  // namespace mercator::campaign

namespace mercator::placement {
class PlacementService;
}  // namespace mercator::placement

namespace mercator::activity {
class ActivityService;
class LocalRiskRules;
class QuizService;
class SignInService;
class TaskService;
}  // namespace mercator::activity

namespace mercator::event {
class EventService;
}  // namespace mercator::event

namespace mercator {
class LifecycleRepository;
}  // namespace mercator

namespace mercator {
class OutreachRepository;
}  // namespace mercator

namespace mercator::outreach {
class ContactPolicy;
class OutreachService;
class TemplateService;
}  // namespace mercator::outreach

namespace mercator::workbench {
class TaskRuleRunner;
class WorkbenchService;
}  // namespace mercator::workbench

namespace mercator {
class WebhookRepository;
class WechatRepository;
}  // namespace mercator

namespace mercator::outreach {
class WebhookDispatcher;
class WechatPushHandler;
}  // namespace mercator::outreach

namespace mercator::api {

// What the handlers need; owned by server/app, which outlives the router.
struct ApiContext {
  CustomerService* customers = nullptr;
  // The event log and the lifecycle rules' versions (events_api.cc); routes only when set.
  event::EventService* events = nullptr;
  LifecycleRepository* lifecycle_rules = nullptr;
  AudienceService* audiences = nullptr;
  Store* store = nullptr;
  const Clock* clock = nullptr;
  // The hash-chained audit log; record through api::RecordAudit (api/audit_util.h).
  auth::AuditLog* audit = nullptr;
  // The same log for paging and verifying it (GET /v1/audit).
  auth::HashChainAuditLog* audit_chain = nullptr;
  // Maker-checker (approvals_api.cc; export requests of audience snapshots).
  auth::ApprovalService* approvals = nullptr;
  // Staff accounts and sessions (auth_api.cc, users_api.cc).
  auth::StaffService* staff = nullptr;
  auth::CookieSecurity cookie_security = auth::CookieSecurity::kSecure;
  // Per caller address: sign-in and password-change attempts; null means no limit.
  auth::RateLimiter* login_limiter = nullptr;
  // Per caller (Principal::Actor()): personal-data lookups; null means no limit.
  auth::RateLimiter* lookup_limiter = nullptr;
  // How long an approved export may be downloaded after its approval (approvals_api.cc).
  int64_t export_approval_ttl_ms = 24LL * 60 * 60 * 1000;
  // API clients and their signed requests (clients_api.cc).
  auth::ApiClientService* api_clients = nullptr;
  // Customer tokens of the H5 pages (h5_api.cc); routes only when set (with activities).
  auth::CustomerTokenService* customer_tokens = nullptr;
  // Customers' points (points_api.cc).
  reward::PointsLedger* points = nullptr;
  // Coupon templates, inventory, grants, redemption (coupons_api.cc).
  reward::CouponService* coupons = nullptr;
  // The award outbox (fulfilments_api.cc; "my prizes" shows each award's state); routes only
  // when set.
  reward::FulfilmentService* fulfilments = nullptr;
  // Journeys: definitions, approval, pause, stats (journeys_api.cc); routes only when set.
  journey::JourneyService* journeys = nullptr;
  // Prometheus text exposition of the process's metrics.
  std::function<std::string()> render_metrics;
  // The OpenAPI document (docs/openapi.yaml converted to JSON at build time).
  std::string openapi_json;
  // Folder holding the web apps (console/dist, h5/dist) served by web_api.cc; empty: none.
  std::string web_root;
  // Set while draining: /readyz answers 503 so load balancers stop sending traffic.
  std::function<bool()> draining;
  // Activities: terms, lifecycle, draws (activities_api.cc); routes only when set.
  activity::ActivityService* activities = nullptr;
  // Sign-in, quiz and task completions of activities (activities_api.cc); routes only when set.
  activity::SignInService* sign_ins = nullptr;
  activity::QuizService* quizzes = nullptr;
  activity::TaskService* tasks = nullptr;
  // The draw guard's risk black list (risk_api.cc); routes only when set.
  activity::LocalRiskRules* risk = nullptr;
  // Outreach base: templates, consent and opt-outs, contact history, the contact policy, the
  // sandbox outbox (outreach_api.cc); routes only when all are set.
  outreach::TemplateService* templates = nullptr;
  outreach::OutreachService* outreach = nullptr;
  outreach::ContactPolicy* contact_policy = nullptr;
  OutreachRepository* outreach_repository = nullptr;
  // The customer-manager workbench (workbench_api.cc); routes only when set (with outreach).
  workbench::WorkbenchService* workbench = nullptr;
  workbench::TaskRuleRunner* task_rules = nullptr;
  // Receipts, inbound replies and the webhook channel's dead letters (webhooks_api.cc); routes
  // when set (with outreach). The dispatcher may be null (no webhook channel configured).
  WebhookRepository* webhook_repository = nullptr;
  outreach::WebhookDispatcher* webhook_dispatcher = nullptr;
  // WeChat/WeCom bindings of customers and WeChat templates (wechat_api.cc); routes when set.
  WechatRepository* wechat_repository = nullptr;
  // WeChat's pushes to /wechat/oa/push (outreach/wechat_push.h); the route when set.
  outreach::WechatPushHandler* wechat_push = nullptr;
  // Outreach campaigns (campaigns_api.cc); routes only when set.
  campaign::CampaignService* campaigns = nullptr;
  // In-app placements (placements_api.cc); routes only when set (with outreach).
  placement::PlacementService* placements = nullptr;
};

void RegisterSystemRoutes(http::Router& router, ApiContext& ctx);
// /console/ and /h5/: the built web apps under ctx.web_root (web_api.cc).
void RegisterWebRoutes(http::Router& router, ApiContext& ctx);
void RegisterTagRoutes(http::Router& router, ApiContext& ctx);
void RegisterCustomerRoutes(http::Router& router, ApiContext& ctx);
void RegisterSegmentRoutes(http::Router& router, ApiContext& ctx);
void RegisterAudienceRoutes(http::Router& router, ApiContext& ctx);
void RegisterAuditRoutes(http::Router& router, ApiContext& ctx);
void RegisterApprovalRoutes(http::Router& router, ApiContext& ctx);
void RegisterAuthRoutes(http::Router& router, ApiContext& ctx);
void RegisterUserRoutes(http::Router& router, ApiContext& ctx);
// /v1/customers/{external_id}/points (reward/points_ledger.h).
void RegisterPointsRoutes(http::Router& router, ApiContext& ctx);
// /v1/coupon-templates, /v1/customers/{external_id}/coupons, /v1/coupons/redeem.
void RegisterCouponRoutes(http::Router& router, ApiContext& ctx);
// /v1/fulfilments (reward/fulfilment.h).
void RegisterFulfilmentRoutes(http::Router& router, ApiContext& ctx);
// /v1/journeys (journey/journey_service.h).
void RegisterJourneyRoutes(http::Router& router, ApiContext& ctx);
// /v1/activities (operators) and /v1/app/activities (signed app back-ends).
void RegisterActivityRoutes(http::Router& router, ApiContext& ctx);
// /v1/h5/...: customer tokens and the customer-facing activity routes (h5_api.cc).
void RegisterH5Routes(http::Router& router, ApiContext& ctx);
// /v1/risk/blocklist (activity/draw_guard.h).
void RegisterRiskRoutes(http::Router& router, ApiContext& ctx);
// /v1/events, /v1/customers/{external_id}/events, /v1/lifecycle/... (event/).
void RegisterEventRoutes(http::Router& router, ApiContext& ctx);
// /v1/clients and /v1/whoami; the signed-request verifier is in api/clients_api.h.
void RegisterClientRoutes(http::Router& router, ApiContext& ctx);
// /v1/templates, /v1/customers/{external_id}/{consents,opt-outs,contacts}, /v1/contact-policy,
// /v1/outreach/sandbox/outbox (outreach/).
void RegisterOutreachRoutes(http::Router& router, ApiContext& ctx);
// /v1/workbench/... (workbench/).
void RegisterWorkbenchRoutes(http::Router& router, ApiContext& ctx);
// /v1/webhooks/{receipts,replies}, /v1/outreach/webhook/dead-letters (outreach/webhook_channel.h).
void RegisterWebhookRoutes(http::Router& router, ApiContext& ctx);
// /v1/customers/{external_id}/wechat, /v1/templates/{id}/wechat (outreach/wechat_channel.h).
void RegisterWechatRoutes(http::Router& router, ApiContext& ctx);
// /v1/campaigns (campaign/campaign_service.h).
void RegisterCampaignRoutes(http::Router& router, ApiContext& ctx);
// /v1/placements (placement/placement_service.h).
void RegisterPlacementRoutes(http::Router& router, ApiContext& ctx);

inline void RegisterAll(http::Router& router, ApiContext& ctx) {
  RegisterSystemRoutes(router, ctx);
  RegisterWebRoutes(router, ctx);
  RegisterTagRoutes(router, ctx);
  RegisterCustomerRoutes(router, ctx);
  RegisterEventRoutes(router, ctx);
  RegisterSegmentRoutes(router, ctx);
  RegisterAudienceRoutes(router, ctx);
  RegisterAuditRoutes(router, ctx);
  RegisterApprovalRoutes(router, ctx);
  RegisterAuthRoutes(router, ctx);
  RegisterUserRoutes(router, ctx);
  RegisterPointsRoutes(router, ctx);
  RegisterCouponRoutes(router, ctx);
  RegisterFulfilmentRoutes(router, ctx);
  RegisterJourneyRoutes(router, ctx);
  RegisterClientRoutes(router, ctx);
  RegisterActivityRoutes(router, ctx);
  RegisterH5Routes(router, ctx);
  RegisterRiskRoutes(router, ctx);
  RegisterOutreachRoutes(router, ctx);
  RegisterWorkbenchRoutes(router, ctx);
  RegisterWebhookRoutes(router, ctx);
  RegisterWechatRoutes(router, ctx);
  RegisterCampaignRoutes(router, ctx);
  RegisterPlacementRoutes(router, ctx);
}

}  // namespace mercator::api

#endif  // MERCATOR_API_API_H_
