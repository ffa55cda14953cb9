// The one place where concrete types meet: storage, index, services, API routes, HTTP server.
//
// Start-up: open the SQLite store in the data directory (applying migrations), bring the
// segment index up to date (snapshot + replay of later changes), register routes, listen.
// Shutdown (SIGTERM/SIGINT or Shutdown()): /readyz turns 503, in-flight requests finish, then
// the index snapshot is written so the next start is fast.
#ifndef MERCATOR_SERVER_APP_H_
#define MERCATOR_SERVER_APP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "activity/activity_service.h"
#include "activity/draw_engine.h"
#include "activity/draw_guard.h"
#include "activity/quiz_service.h"
#include "activity/signin_service.h"
#include "activity/tasks_service.h"
#include "activity/template_rewards.h"
#include "activity/verification.h"
#include "auth/approvals.h"
#include "auth/audit_log.h"
#include "auth/customer_token.h"
#include "auth/rate_limiter.h"
#include "auth/request_signing.h"
#include "auth/staff_service.h"
#include "campaign/campaign_service.h"
#include "customer/customer_service.h"
#include "event/event_service.h"
#include "http/http_client.h"
#include "http/metrics.h"
#include "http/server.h"
#include "journey/engine.h"
#include "journey/journey_service.h"
#include "outreach/channel.h"
#include "outreach/contact_policy.h"
#include "outreach/outreach_service.h"
#include "outreach/smpp_channel.h"
#include "outreach/templates.h"
#include "outreach/webhook_channel.h"
#include "outreach/wechat_channel.h"
#include "outreach/wechat_push.h"
#include "placement/placement_service.h"
#include "reward/coupons.h"
#include "reward/fulfilment.h"
#include "reward/points_ledger.h"
#include "segment/audience_service.h"
#include "segment/bitmap_index.h"
#include "server/event_follower.h"
#include "store/activity_repository.h"
#include "store/campaign_repository.h"
#include "store/journey_repository.h"
#include "store/lifecycle_repository.h"
#include "store/outreach_repository.h"
#include "store/pii_cipher.h"
#include "store/placement_repository.h"
#include "store/repository.h"
#include "store/smpp_repository.h"
#include "store/webhook_repository.h"
#include "store/wechat_repository.h"
#include "store/workbench_repository.h"
#include "workbench/task_rules.h"
#include "workbench/workbench_service.h"

namespace mercator {

struct AppOptions {
  std::string data_dir = "./data";
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: ephemeral (tests)
  int io_threads = 0;    // 0: one per core
  size_t max_body_bytes = 64 * 1024 * 1024;
  // How often the index snapshot is refreshed while serving, if customers changed since the
  // last one; 0 disables it. Bounds the replay work of a restart after a crash.
  int snapshot_interval_seconds = 300;
  // Staff sessions and lock-out (auth/staff_service.h).
  auth::StaffOptions staff;
  // Sign-in and password-change attempts per caller address: 10 at once, then one every 6 s
  // (more get 429 with Retry-After).
  auth::RateLimiter::Options login_rate = {10.0 / 60.0, 10.0, 100000};
  // Signed requests refused with 401 (unknown key id, wrong signature, stale, replayed), per
  // caller address: 100 at once, then one a second; beyond that the address gets 429 with
  // Retry-After before its credentials are checked (api/auth_middleware.h).
  auth::RateLimiter::Options auth_failure_rate = {1.0, 100.0, 100000};
  // Exact-match personal-data lookups (POST /v1/customers/lookup) per caller (staff user or
  // API client): 30 at once, then one every 2 s (429 + Retry-After), so the lookup cannot be
  // used to walk through phone or ID numbers.
  auth::RateLimiter::Options lookup_rate = {0.5, 30.0, 100000};
  // How long an approved export of an audience snapshot may be downloaded after its approval.
  int64_t export_approval_ttl_ms = 24LL * 60 * 60 * 1000;
  // Secure session cookies unless serving plain http on the local machine (--insecure-cookies).
  auth::CookieSecurity cookie_security = auth::CookieSecurity::kSecure;
  // Folder with the built web apps: console/dist served at /console/, h5/dist at /h5/
  // (api/web_api.cc). Empty: no web apps.
  std::string web_root;
  // Time of sessions, lock-out and rate limits; null: the system clock (tests: a FakeClock).
  const Clock* clock = nullptr;
  // API clients' signed requests: clock skew, replay window, per-client rate limit.
  auth::ApiClientOptions api_clients;
  // Customer tokens of the H5 pages (auth/customer_token.h): their lifetime.
  auth::CustomerTokenOptions customer_tokens;
  // How often lots of points and coupons past their date are expired
  // (reward::RewardsExpiryJob); 0: never (spends still never take expired points, balances do
  // not count them, and expired coupons cannot be redeemed).
  int64_t points_expiry_interval_ms = 60'000;
  // Activities: how long evaluated audiences are reused for eligibility (tests: 0).
  activity::ActivityServiceOptions activities;
  // Fulfilment of awards (reward/fulfilment.h): attempts before stuck, back-off, points
  // validity; and how often the worker takes in new awards and delivers due ones (0: no worker;
  // tests drive fulfilments().RunOnce()).
  reward::FulfilmentOptions fulfilment;
  int64_t fulfilment_interval_ms = 500;
  // Draws: rate limits per customer, device and client IP (429 + Retry-After), whether to
  // trust X-Forwarded-For, and the local risk rules' velocity limits (activity/draw_guard.h).
  activity::DrawGuardOptions draw_guard;
  activity::LocalRiskOptions risk;
  // Group commit of draws (activity/draw_engine.h): after the first draw of a batch, how long
  // the journal's writer waits for more before it writes and fsyncs them together (at most
  // 2 ms). Longer batches fewer fsyncs (less CPU a draw under load) for a little latency.
  int32_t draw_commit_window_us = 1000;
  // Zeros kept ready at the end of the draw and event journals, in MB, so that their appends
  // do not grow the files and each fsync waits for its own batch only (store/journal/journal.h).
  // `mercator serve` keeps 32 MB for each; 0 (here, for embedded uses and tests) grows them.
  int32_t journal_preallocate_mb = 0;
  // How long a draw's Idempotency-Key is remembered, in hours (to twice that; memory is about
  // 150 bytes a draw for that time).
  int32_t draw_idempotency_hours = 24;
  // At start, a background thread puts up to this many live customers' external ids into the
  // memory draws and events resolve customers from (CustomerService::WarmResolve; about 70
  // bytes each): a peak's first draw of each customer then reads no store. 0: off.
  size_t warm_customer_ids = 5'000'000;
  // The event log (event/event_service.h): commit window, how often features and lifecycle
  // stages reach the index (tests: 0, they call events().Tick()); dir is <data_dir>/events.
  event::EventServiceOptions events;
  // Whether task completions follow the event log on a thread of their own (tests: false).
  bool follow_events = true;
  // Journeys (journey/engine.h): batch sizes, and how often the engine runs a pass when no
  // new event wakes it (journeys.interval_ms 0: no engine thread; tests drive
  // journey_engine().RunOnce()).
  journey::EngineOptions journeys;
  // Workbench task rules run this often (workbench/task_rules.h; daily by default; re-runs of
  // a period create nothing); 0: only on demand (POST /v1/workbench/rules/run).
  int64_t task_rules_interval_ms = 86'400'000;
  // The webhook channel (outreach/webhook_channel.h): the channels it carries (none by default:
  // every channel stays on the sandbox), URL, secret, timeouts, retries; interval_ms 0: no
  // dispatcher thread (tests drive webhook_dispatcher()->RunOnce()).
  outreach::WebhookOptions webhook;
  // Outbound HTTP(S) of the webhook and WeChat channels and the eligibility hook: an extra CA
  // bundle for https:// peers (a bank's internal CA) and a client certificate for mutual TLS.
  http::HttpClientOptions http_client;
  // Campaigns (campaign/campaign_service.h): the runner's tick and batch; interval_ms 0: no
  // runner thread (tests drive campaigns().RunOnce()).
  campaign::CampaignServiceOptions campaigns;
  // The public base URL of tracked links (/t/<token>) in messages, e.g. https://m.bank.example
  // behind the bank's gateway; empty: http://<address>:<port> of this server.
  std::string public_url;
  // The SMPP channel (outreach/smpp_channel.h): SMS through an SMSC when smpp.host is set (sms
  // may not go to the webhook as well); the session thread starts with Start().
  outreach::SmppOptions smpp;
  // The WeChat official-account and WeCom channels (outreach/wechat_channel.h): wechat_oa
  // and/or wecom through WeChat's APIs when their base URL is set (not together with the
  // webhook for the same channel); interval_ms 0: no thread (tests drive wechat_channel()).
  outreach::WechatOptions wechat;
};

class App {
 public:
  // Opens storage and recovers the index; does not listen yet.
  static absl::StatusOr<std::unique_ptr<App>> Open(const AppOptions& options);
  ~App();

  // Registers the routes with staff sign-in (auth/staff_service.h) and starts listening.
  absl::Status Start();
  uint16_t port() const;
  // Blocks until SIGTERM/SIGINT, then drains and saves the snapshot.
  void RunUntilSignal();
  // Drains and saves the snapshot (idempotent).
  void Shutdown();

  CustomerService& customers() { return *customers_; }
  AudienceService& audiences() { return *audiences_; }
  Store& store() { return *store_; }
  auth::HashChainAuditLog& audit() { return *audit_; }
  auth::ApprovalService& approvals() { return *approvals_; }
  activity::ActivityService& activities() { return *activities_; }
  // Task completions (the events module completes tasks through TaskService::OnEvent).
  activity::TaskService& tasks() { return *tasks_; }
  event::EventService& events() { return *events_; }
  activity::LocalRiskRules& risk() { return *risk_rules_; }
  auth::StaffService& staff() { return *staff_; }
  auth::ApiClientService& api_clients() { return *api_clients_; }
  reward::PointsLedger& points() { return *points_; }
  reward::CouponService& coupons() { return *coupons_; }
  reward::FulfilmentService& fulfilments() { return *fulfilments_; }
  journey::JourneyService& journeys() { return *journeys_; }
  campaign::CampaignService& campaigns() { return *campaigns_; }
  placement::PlacementService& placements() { return *placements_; }
  journey::Engine& journey_engine() { return *journey_engine_; }
  // The one door for outbound touches (outreach/outreach.h) and the manager's task inbox
  // (workbench/task_sink.h), for journeys and campaigns.
  outreach::OutreachService& outreach() { return *outreach_; }
  outreach::TemplateService& templates() { return *templates_; }
  OutreachRepository& outreach_store() { return *outreach_repository_; }
  workbench::WorkbenchService& workbench() { return *workbench_; }
  workbench::TaskRuleRunner& task_rules() { return *task_rules_; }
  // Receipts and the webhook channel's outbound records; the dispatcher is null unless a
  // channel goes to the webhook (AppOptions::webhook).
  WebhookRepository& webhook_store() { return *webhook_repository_; }
  outreach::WebhookDispatcher* webhook_dispatcher() { return webhook_dispatcher_.get(); }
  // The SMPP channel's outbound records; the channel is null unless AppOptions::smpp.host is
  // set.
  SmppRepository& smpp_store() { return *smpp_repository_; }
  outreach::SmppChannel* smpp_channel() { return smpp_channel_.get(); }
  // The WeChat channels' records; the channel is null unless AppOptions::wechat enables one.
  WechatRepository& wechat_store() { return *wechat_repository_; }
  outreach::WechatChannel* wechat_channel() { return wechat_channel_.get(); }
  // Every route, after Start() (the role x endpoint test walks them).
  const http::Router& router() const { return *router_; }
  const CustomerService::RecoveryReport& recovery() const { return recovery_; }
  std::string SnapshotPath() const;

 private:
  explicit App(AppOptions options);
  // Follows store changes and refreshes the snapshot until Shutdown().
  void SnapshotLoop();
  void SaveSnapshotIfChanged();

  AppOptions options_;
  std::unique_ptr<PiiCipher> cipher_;  // outlives store_, which uses it
  std::unique_ptr<Store> store_;
  // The hash-chained audit log over the store (declared after it: destroyed first).
  std::unique_ptr<AuditRepository> audit_repository_;
  std::unique_ptr<auth::HashChainAuditLog> audit_;
  std::unique_ptr<ApprovalRepository> approval_repository_;
  std::unique_ptr<auth::ApprovalService> approvals_;
  std::unique_ptr<StaffRepository> staff_repository_;
  std::unique_ptr<auth::StaffService> staff_;
  std::unique_ptr<auth::RateLimiter> login_limiter_;
  std::unique_ptr<auth::RateLimiter> lookup_limiter_;
  std::unique_ptr<auth::RateLimiter> auth_failure_limiter_;
  std::unique_ptr<ApiClientRepository> api_client_repository_;
  std::unique_ptr<auth::ApiClientService> api_clients_;
  std::unique_ptr<auth::CustomerTokenService> customer_tokens_;
  std::unique_ptr<PointsRepository> points_repository_;
  std::unique_ptr<reward::PointsLedger> points_;
  std::unique_ptr<CouponRepository> coupon_repository_;
  std::unique_ptr<reward::CouponService> coupons_;
  // After points_ and coupons_: stopped first.
  std::unique_ptr<reward::RewardsExpiryJob> rewards_expiry_;
  std::unique_ptr<SegmentIndex> index_;
  std::unique_ptr<CustomerService> customers_;
  std::unique_ptr<AudienceService> audiences_;
  // The event log over the customers and their index (declared after them: destroyed first).
  std::unique_ptr<LifecycleRepository> lifecycle_repository_;
  std::unique_ptr<event::EventService> events_;
  // Activities (after the services they use: destroyed first). draw_ is the draw engine
  // behind activity::DrawPort (journal in <data_dir>/draw).
  // The draw guard (rate limits, risk black list, velocity) and the eligibility verification
  // hook's HTTP client, used by activities_ (declared before it: destroyed after).
  std::unique_ptr<RiskRepository> risk_repository_;
  std::unique_ptr<activity::LocalRiskRules> risk_rules_;
  std::unique_ptr<activity::DrawGuard> draw_guard_;
  std::unique_ptr<http::HttpClient> http_client_;
  std::unique_ptr<activity::EligibilityVerifier> verifier_;
  std::unique_ptr<ActivityRepository> activity_repository_;
  std::unique_ptr<activity::DrawEngine> draw_engine_;
  std::unique_ptr<activity::DrawPort> draw_;
  std::unique_ptr<activity::ActivityService> activities_;
  // Sign-in, quiz and task completions of activities (after activities_: destroyed first).
  std::unique_ptr<ParticipationRepository> participation_repository_;
  std::unique_ptr<activity::TemplateRewards> template_rewards_;
  std::unique_ptr<activity::SignInService> sign_ins_;
  std::unique_ptr<activity::QuizService> quizzes_;
  std::unique_ptr<activity::TaskService> tasks_;
  // Task completions from the event log (after tasks_ and events_: destroyed first).
  std::unique_ptr<EventFollower> task_events_;
  // Journeys (after customers, points and coupons, which their actions use).
  std::unique_ptr<JourneyRepository> journey_repository_;
  std::unique_ptr<journey::Engine> journey_engine_;
  std::unique_ptr<journey::JourneyService> journeys_;
  // The award outbox over the engine's journal (after the engine, points and coupons).
  std::unique_ptr<FulfilmentRepository> fulfilment_repository_;
  std::unique_ptr<reward::AwardSource> award_source_;
  std::unique_ptr<reward::FulfilmentService> fulfilments_;
  // Outreach base and the workbench (after customers_ and approvals_: destroyed first).
  std::unique_ptr<OutreachRepository> outreach_repository_;
  std::unique_ptr<outreach::TemplateService> templates_;
  std::unique_ptr<outreach::ContactPolicy> contact_policy_;
  std::unique_ptr<outreach::SandboxChannel> sandbox_channel_;
  // The webhook channel over http_client_ (declared after it: destroyed first).
  std::unique_ptr<WebhookRepository> webhook_repository_;
  std::unique_ptr<outreach::WebhookDispatcher> webhook_dispatcher_;
  std::unique_ptr<outreach::WebhookChannel> webhook_channel_;
  // The SMPP channel (after the repositories it uses: destroyed first).
  std::unique_ptr<SmppRepository> smpp_repository_;
  std::unique_ptr<outreach::SmppChannel> smpp_channel_;
  // The WeChat channels over http_client_ and the receipts of webhook_repository_.
  std::unique_ptr<WechatRepository> wechat_repository_;
  std::unique_ptr<outreach::WechatChannel> wechat_channel_;
  std::unique_ptr<outreach::WechatPushHandler> wechat_push_;  // with an oa_token
  std::unique_ptr<outreach::OutreachService> outreach_;
  std::unique_ptr<WorkbenchRepository> workbench_repository_;
  std::unique_ptr<workbench::WorkbenchService> workbench_;
  std::unique_ptr<workbench::TaskRuleRunner> task_rules_;
  std::unique_ptr<workbench::TaskRuleWorker> task_rule_worker_;  // stopped first
  // Campaigns send through outreach_ (declared after it: destroyed, and stopped, first).
  std::unique_ptr<CampaignRepository> campaign_repository_;
  std::unique_ptr<campaign::CampaignService> campaigns_;
  // In-app placements read the contact policy and write tracked links of outreach.
  std::unique_ptr<PlacementRepository> placement_repository_;
  std::unique_ptr<placement::PlacementService> placements_;
  std::unique_ptr<http::Metrics> metrics_;
  // After metrics_ (its gauge) and fulfilments_: stopped first (also in Shutdown()).
  std::unique_ptr<reward::FulfilmentWorker> fulfilment_worker_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<http::Server> server_;
  struct ApiState;
  std::unique_ptr<ApiState> api_;
  CustomerService::RecoveryReport recovery_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  absl::Mutex snapshot_mu_;  // taken alone; CustomerService's locks are acquired inside it
  bool snapshot_stop_ ABSL_GUARDED_BY(snapshot_mu_) = false;
  uint64_t snapshot_seq_ ABSL_GUARDED_BY(snapshot_mu_) = 0;
  std::thread snapshot_thread_;
  std::atomic<bool> warm_stop_{false};
  std::thread warm_thread_;  // CustomerService::WarmResolve, once at start
};

// Opens the store of a data directory and the index, recovering from the snapshot: the
// shared start of `serve`, `demo`, `import` and `segment`.
struct Engine {
  // The PII vault (auth/vault.h) sealing customers' personal data; declared first so that it
  // outlives the store that uses it.
  std::unique_ptr<PiiCipher> cipher;
  std::unique_ptr<Store> store;
  std::unique_ptr<SegmentIndex> index;
  std::unique_ptr<CustomerService> customers;
  std::unique_ptr<AudienceService> audiences;
  CustomerService::RecoveryReport recovery;
};
absl::StatusOr<Engine> OpenEngine(const std::string& data_dir);
std::string SnapshotPathFor(const std::string& data_dir);

}  // namespace mercator

#endif  // MERCATOR_SERVER_APP_H_
