#include "server/app.h"

#include <fmt/format.h>
#include <signal.h>
#include <sodium.h>

#include <boost/json.hpp>

#include <filesystem>

#include "activity/draw_port.h"
#include "api/api.h"
#include "api/auth_middleware.h"
#include "api/clients_api.h"
#include "api/h5_api.h"
#include "auth/vault.h"
#include "common/background.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "reward/fulfilment_engine_source.h"
#include "server/openapi.h"
#include "store/sqlite/sqlite_activities.h"
#include "store/sqlite/sqlite_api_clients.h"
#include "store/sqlite/sqlite_approvals.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_campaigns.h"
#include "store/sqlite/sqlite_coupons.h"
#include "store/sqlite/sqlite_fulfilments.h"
#include "store/sqlite/sqlite_journeys.h"
#include "store/sqlite/sqlite_lifecycle.h"
#include "store/sqlite/sqlite_outreach.h"
#include "store/sqlite/sqlite_participation.h"
#include "store/sqlite/sqlite_placements.h"
#include "store/sqlite/sqlite_points.h"
#include "store/sqlite/sqlite_risk.h"
#include "store/sqlite/sqlite_smpp.h"
#include "store/sqlite/sqlite_staff.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_webhook.h"
#include "store/sqlite/sqlite_wechat.h"

namespace mercator {

std::string SnapshotPathFor(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "segment.snapshot").string();
}

absl::StatusOr<Engine> OpenEngine(const std::string& data_dir) {
  Engine e;
  // The vault key lives next to the database unless the environment names one; the directory
  // must exist before a first key can be written there.
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return absl::UnavailableError(Cat("creating data directory ", data_dir, ": ", ec.message()));
  }
  ASSIGN_OR_RETURN(e.cipher, auth::Vault::FromEnvironmentOrFile(data_dir));
  SqliteStoreOptions store_options;
  store_options.cipher = e.cipher.get();
  ASSIGN_OR_RETURN(e.store, OpenSqliteStore(data_dir, SystemClock::Get(), store_options));
  e.index = std::make_unique<SegmentIndex>();
  e.customers = std::make_unique<CustomerService>(e.store.get(), e.index.get(), SystemClock::Get());
  e.audiences = std::make_unique<AudienceService>(e.index.get(), &e.store->customers(),
                                                  &e.store->audiences(), SystemClock::Get());
  ASSIGN_OR_RETURN(e.recovery, e.customers->Recover(SnapshotPathFor(data_dir)));
  return e;
}

struct App::ApiState {
  api::ApiContext ctx;
};

App::App(AppOptions options) : options_(std::move(options)) {}

App::~App() { Shutdown(); }

std::string App::SnapshotPath() const { return SnapshotPathFor(options_.data_dir); }

absl::StatusOr<std::unique_ptr<App>> App::Open(const AppOptions& options) {
  std::unique_ptr<App> app(new App(options));
  ASSIGN_OR_RETURN(Engine e, OpenEngine(options.data_dir));
  app->cipher_ = std::move(e.cipher);
  app->store_ = std::move(e.store);
  app->audit_repository_ = NewSqliteAuditRepository(*app->store_);
  const Clock* clock = options.clock != nullptr ? options.clock : SystemClock::Get();
  app->audit_ = std::make_unique<auth::HashChainAuditLog>(app->audit_repository_.get(), clock);
  app->approval_repository_ = NewSqliteApprovalRepository(*app->store_);
  app->approvals_ = std::make_unique<auth::ApprovalService>(app->approval_repository_.get(),
                                                            app->audit_.get(), clock);
  app->staff_repository_ = NewSqliteStaffRepository(*app->store_, clock);
  app->staff_ =
      std::make_unique<auth::StaffService>(app->staff_repository_.get(), clock, options.staff);
  app->login_limiter_ = std::make_unique<auth::RateLimiter>(options.login_rate, clock);
  app->lookup_limiter_ = std::make_unique<auth::RateLimiter>(options.lookup_rate, clock);
  app->auth_failure_limiter_ =
      std::make_unique<auth::RateLimiter>(options.auth_failure_rate, clock);
  app->api_client_repository_ = NewSqliteApiClientRepository(*app->store_, clock);
  // The SQLite store has one serving process (the draw journal's lock below refuses a second
  // `mercator serve` on the data directory): the nonce cache, loaded now, is the whole truth.
  auth::ApiClientOptions api_client_options = options.api_clients;
  api_client_options.nonce_store_shared = false;
  app->api_clients_ = std::make_unique<auth::ApiClientService>(
      app->api_client_repository_.get(), app->cipher_.get(), clock, api_client_options);
  RETURN_IF_ERROR(app->api_clients_->LoadNonces());
  app->customer_tokens_ = std::make_unique<auth::CustomerTokenService>(app->cipher_.get(), clock,
                                                                       options.customer_tokens);
  app->points_repository_ = NewSqlitePointsRepository(*app->store_);
  app->points_ = std::make_unique<reward::PointsLedger>(app->points_repository_.get(), clock);
  app->coupon_repository_ = NewSqliteCouponRepository(*app->store_);
  app->coupons_ = std::make_unique<reward::CouponService>(app->coupon_repository_.get(), clock,
                                                          SecureRandom::Get());
  app->index_ = std::move(e.index);
  app->customers_ = std::move(e.customers);
  app->audiences_ = std::move(e.audiences);
  app->recovery_ = e.recovery;
  // Activities: the published versions are loaded into memory and the draw engine.
  app->activity_repository_ = NewSqliteActivityRepository(*app->store_);
  activity::DrawEngineOptions draw_options;
  draw_options.dir = (std::filesystem::path(options.data_dir) / "draw").string();
  draw_options.clock = clock;
  draw_options.commit_window_us = options.draw_commit_window_us;
  draw_options.journal_preallocate_bytes = int64_t{options.journal_preallocate_mb} << 20;
  draw_options.idempotency_retention_ms = int64_t{options.draw_idempotency_hours} * 3'600'000;
  ASSIGN_OR_RETURN(app->draw_engine_, activity::DrawEngine::Open(draw_options));
  app->draw_ = std::make_unique<activity::EngineDrawPort>(app->draw_engine_.get());
  app->activities_ = std::make_unique<activity::ActivityService>(
      app->activity_repository_.get(), app->approvals_.get(), app->audiences_.get(),
      app->customers_.get(), app->draw_.get(), app->points_.get(), clock, options.activities);
  app->risk_repository_ = NewSqliteRiskRepository(*app->store_);
  app->risk_rules_ =
      std::make_unique<activity::LocalRiskRules>(app->risk_repository_.get(), clock, options.risk);
  RETURN_IF_ERROR(app->risk_rules_->Load());
  app->draw_guard_ =
      std::make_unique<activity::DrawGuard>(app->risk_rules_.get(), clock, options.draw_guard);
  ASSIGN_OR_RETURN(app->http_client_, http::NewHttpClient(options.http_client));
  app->verifier_ =
      std::make_unique<activity::HttpEligibilityVerifier>(app->http_client_.get(), clock);
  app->activities_->SetDrawProtection(app->draw_guard_.get(), app->verifier_.get());
  app->activities_->SetCoupons(app->coupons_.get());
  RETURN_IF_ERROR(app->activities_->LoadPublished());
  // Sign-in, quiz and tasks share the activities' lifecycle and eligibility; task chances
  // count in the draw's limits.
  app->participation_repository_ = NewSqliteParticipationRepository(*app->store_);
  app->template_rewards_ =
      std::make_unique<activity::TemplateRewards>(app->points_.get(), app->coupons_.get());
  app->sign_ins_ = std::make_unique<activity::SignInService>(
      app->activities_.get(), app->participation_repository_.get(), app->template_rewards_.get(),
      app->points_.get(), clock);
  app->quizzes_ = std::make_unique<activity::QuizService>(app->activities_.get(),
                                                          app->participation_repository_.get(),
                                                          app->template_rewards_.get(), clock);
  app->tasks_ = std::make_unique<activity::TaskService>(
      app->activities_.get(), app->participation_repository_.get(), clock);
  app->activities_->SetExtraChanceSource(app->tasks_.get());
  // Awards in the draw journal are delivered through the outbox (reward/fulfilment.h).
  app->fulfilment_repository_ = NewSqliteFulfilmentRepository(*app->store_);
  app->award_source_ = std::make_unique<reward::EngineAwardSource>(app->draw_engine_.get(),
                                                                   app->activity_repository_.get());
  app->fulfilments_ = std::make_unique<reward::FulfilmentService>(
      app->fulfilment_repository_.get(), app->award_source_.get(), app->points_.get(),
      app->coupons_.get(), clock, options.fulfilment);
  // The event log: behaviour features and lifecycle stages into the index; task completions
  // follow it (at least once; TaskService is idempotent per event).
  app->lifecycle_repository_ = NewSqliteLifecycleRepository(*app->store_);
  ASSIGN_OR_RETURN(event::LifecycleRules rules,
                   event::LoadLifecycleRules(*app->lifecycle_repository_));
  event::EventServiceOptions event_options = options.events;
  event_options.dir = (std::filesystem::path(options.data_dir) / "events").string();
  event_options.journal_preallocate_bytes = int64_t{options.journal_preallocate_mb} << 20;
  ASSIGN_OR_RETURN(app->events_, event::EventService::Open(event_options, app->customers_.get(),
                                                           clock, std::move(rules)));
  // Journeys: the engine enters customers and runs due steps; the service is what operators
  // change (maker-checker through approvals_).
  app->journey_repository_ = NewSqliteJourneyRepository(*app->store_);
  journey::ActionPorts ports;
  ports.points = app->points_.get();
  ports.coupons = app->coupons_.get();
  ports.customers = app->customers_.get();
  app->journey_engine_ = std::make_unique<journey::Engine>(
      app->journey_repository_.get(), app->events_.get(), app->index_.get(),
      &app->store_->customers(), ports, clock, options.journeys);
  app->journeys_ = std::make_unique<journey::JourneyService>(
      app->journey_repository_.get(), app->approvals_.get(), app->index_.get(),
      app->journey_engine_.get(), clock);
  RETURN_IF_ERROR(app->journey_engine_->Reload());
  app->task_events_ = std::make_unique<EventFollower>(
      app->events_.get(), &app->store_->meta(), "events.cursor.tasks",
      [tasks = app->tasks_.get()](const event::Event& e) {
        // Mercator's own events and history backfills complete no task.
        if (e.source == event::kSourceInternal || e.source == event::kSourceImport) return;
        // Event ids are unique per sender; the task's idempotency key carries both.
        (void)tasks->OnEvent(e.type, e.customer, e.source + ":" + e.id, e.occurred_ms);
      },
      options.follow_events);
  // Outreach base: every channel goes to the sandbox outbox until its adapter exists (issue 6).
  app->outreach_repository_ = NewSqliteOutreachRepository(*app->store_);
  app->templates_ = std::make_unique<outreach::TemplateService>(app->outreach_repository_.get(),
                                                                app->approvals_.get(), clock);
  app->contact_policy_ =
      std::make_unique<outreach::ContactPolicy>(app->outreach_repository_.get(), clock);
  app->sandbox_channel_ =
      std::make_unique<outreach::SandboxChannel>(app->outreach_repository_.get(), clock);
  std::map<std::string, outreach::Channel*> channels;
  for (const char* c : {"sms", "app_push", "in_app", "wechat_oa", "wecom", "email"}) {
    channels[c] = app->sandbox_channel_.get();
  }
  // The channels configured for the bank's own platform go to the webhook instead; messages a
  // crash left without an outbound record are adopted before anything new is sent.
  app->webhook_repository_ = NewSqliteWebhookRepository(*app->store_);
  if (!options.webhook.channels.empty()) {
    RETURN_IF_ERROR(outreach::ValidateWebhookOptions(options.webhook));
    app->webhook_dispatcher_ = std::make_unique<outreach::WebhookDispatcher>(
        app->webhook_repository_.get(), app->http_client_.get(), clock, options.webhook);
    app->webhook_channel_ = std::make_unique<outreach::WebhookChannel>(
        app->webhook_repository_.get(), app->webhook_dispatcher_.get(), clock);
    for (const std::string& c : options.webhook.channels) channels[c] = app->webhook_channel_.get();
    ASSIGN_OR_RETURN(int64_t adopted, app->webhook_dispatcher_->Adopt());
    if (adopted > 0) {
      Log(Severity::kWarn, "webhook: adopted messages without an outbound record",
          {{"messages", std::to_string(adopted)}});
    }
  }
  // SMS through an SMSC over SMPP instead, when configured (not together with the webhook).
  app->smpp_repository_ = NewSqliteSmppRepository(*app->store_);
  if (!options.smpp.host.empty()) {
    RETURN_IF_ERROR(outreach::ValidateSmppOptions(options.smpp));
    for (const std::string& c : options.webhook.channels) {
      if (c == "sms") {
        return absl::InvalidArgumentError(
            "smpp.address: sms goes to the webhook already (--webhook-channels)");
      }
    }
    app->smpp_channel_ = std::make_unique<outreach::SmppChannel>(
        app->smpp_repository_.get(), app->webhook_repository_.get(),
        app->outreach_repository_.get(), &app->store_->customers(), app->audit_.get(), clock,
        options.smpp);
    channels["sms"] = app->smpp_channel_.get();
    ASSIGN_OR_RETURN(int64_t adopted, app->smpp_channel_->Adopt());
    if (adopted > 0) {
      Log(Severity::kWarn, "smpp: adopted messages without an outbound record",
          {{"messages", std::to_string(adopted)}});
    }
  }
  // wechat_oa and wecom through WeChat's APIs, when configured (docs/outreach-wechat.md).
  app->wechat_repository_ = NewSqliteWechatRepository(*app->store_);
  if (options.wechat.oa_enabled() || options.wechat.wecom_enabled()) {
    RETURN_IF_ERROR(outreach::ValidateWechatOptions(options.wechat));
    for (const std::string& c : options.webhook.channels) {
      if ((c == "wechat_oa" && options.wechat.oa_enabled()) ||
          (c == "wecom" && options.wechat.wecom_enabled())) {
        return absl::InvalidArgumentError(
            fmt::format("wechat: {} goes to the webhook already (--webhook-channels)", c));
      }
    }
    app->wechat_channel_ = std::make_unique<outreach::WechatChannel>(
        app->wechat_repository_.get(), app->webhook_repository_.get(), app->http_client_.get(),
        clock, options.wechat);
    if (options.wechat.oa_enabled()) channels["wechat_oa"] = app->wechat_channel_.get();
    if (options.wechat.wecom_enabled()) channels["wecom"] = app->wechat_channel_.get();
    if (options.wechat.oa_enabled() && !options.wechat.oa_token.empty()) {
      ASSIGN_OR_RETURN(app->wechat_push_,
                       outreach::WechatPushHandler::Make(
                           options.wechat.oa_token, options.wechat.oa_encoding_aes_key,
                           options.wechat.oa_appid, app->wechat_repository_.get(),
                           app->webhook_repository_.get(), app->audit_.get(), clock));
    }
    ASSIGN_OR_RETURN(int64_t adopted, app->wechat_channel_->Adopt());
    if (adopted > 0) {
      Log(Severity::kWarn, "wechat: adopted messages without an outbound record",
          {{"messages", std::to_string(adopted)}});
    }
  }
  app->outreach_ = std::make_unique<outreach::OutreachService>(
      app->outreach_repository_.get(), app->templates_.get(), app->customers_.get(),
      app->contact_policy_.get(), std::move(channels), clock);
  app->workbench_repository_ = NewSqliteWorkbenchRepository(*app->store_);
  app->workbench_ = std::make_unique<workbench::WorkbenchService>(app->workbench_repository_.get(),
                                                                  app->customers_.get(), clock);
  app->workbench_->SetEventLog(app->events_.get());  // the customer 360's timeline
  app->task_rules_ = std::make_unique<workbench::TaskRuleRunner>(
      app->workbench_repository_.get(), app->workbench_.get(), app->customers_.get(), clock,
      workbench::TaskRuleRunner::Options{});
  // Journey actions reach customers through outreach (the contact policy applies) and
  // managers through the workbench's inbox.
  ports.outreach = app->outreach_.get();
  ports.tasks = app->workbench_.get();
  app->journey_engine_->SetActionPorts(ports);
  // Campaigns reach customers through outreach too; the runner starts with Start().
  app->campaign_repository_ = NewSqliteCampaignRepository(*app->store_);
  app->campaigns_ = std::make_unique<campaign::CampaignService>(
      app->campaign_repository_.get(), app->approvals_.get(), app->audiences_.get(),
      &app->store_->customers(), app->templates_.get(), app->outreach_.get(),
      app->contact_policy_.get(), app->events_.get(), clock, options.campaigns);
  app->placement_repository_ = NewSqlitePlacementRepository(*app->store_);
  app->placements_ = std::make_unique<placement::PlacementService>(
      app->placement_repository_.get(), app->approvals_.get(), app->audiences_.get(),
      app->customers_.get(), app->contact_policy_.get(), app->outreach_repository_.get(), clock);
  return app;
}

absl::Status App::Start() {
  metrics_ = std::make_unique<http::Metrics>();
  router_ = std::make_unique<http::Router>();
  api_ = std::make_unique<ApiState>();
  api::ApiContext& ctx = api_->ctx;
  ctx.customers = customers_.get();
  ctx.events = events_.get();
  ctx.lifecycle_rules = lifecycle_repository_.get();
  ctx.audiences = audiences_.get();
  ctx.store = store_.get();
  ctx.clock = options_.clock != nullptr ? options_.clock : SystemClock::Get();
  ctx.audit = audit_.get();
  ctx.audit_chain = audit_.get();
  ctx.approvals = approvals_.get();
  ctx.render_metrics = [this] { return metrics_->Render(); };
  ctx.openapi_json = std::string(OpenApiJson());
  ctx.web_root = options_.web_root;
  ctx.draining = [this] { return draining_.load(); };
  ctx.staff = staff_.get();
  ctx.cookie_security = options_.cookie_security;
  ctx.login_limiter = login_limiter_.get();
  ctx.lookup_limiter = lookup_limiter_.get();
  ctx.export_approval_ttl_ms = options_.export_approval_ttl_ms;
  ctx.api_clients = api_clients_.get();
  ctx.customer_tokens = customer_tokens_.get();
  ctx.points = points_.get();
  ctx.coupons = coupons_.get();
  ctx.fulfilments = fulfilments_.get();
  ctx.journeys = journeys_.get();
  ctx.campaigns = campaigns_.get();
  ctx.placements = placements_.get();
  ctx.activities = activities_.get();
  ctx.sign_ins = sign_ins_.get();
  ctx.quizzes = quizzes_.get();
  ctx.tasks = tasks_.get();
  ctx.risk = risk_rules_.get();
  ctx.templates = templates_.get();
  ctx.outreach = outreach_.get();
  ctx.contact_policy = contact_policy_.get();
  ctx.outreach_repository = outreach_repository_.get();
  ctx.workbench = workbench_.get();
  ctx.task_rules = task_rules_.get();
  ctx.webhook_repository = webhook_repository_.get();
  ctx.webhook_dispatcher = webhook_dispatcher_.get();
  ctx.wechat_repository = wechat_repository_.get();
  ctx.wechat_push = wechat_push_.get();
  api::RegisterAll(*router_, ctx);
  // API clients' signed requests (MCT-HMAC-SHA256, auth/request_signing.h).
  api::SignedRequestVerifier verify_signed = api::SignedRequestVerifierFor(api_clients_.get());
  router_->SetAuthenticator(api::MakeAuthenticator(
      staff_.get(), std::move(verify_signed),
      api::CustomerTokenVerifierFor(customer_tokens_.get(), api_clients_.get()),
      auth_failure_limiter_.get()));

  http::ServerOptions so;
  so.address = options_.address;
  so.port = options_.port;
  so.io_threads = options_.io_threads;
  so.max_body_bytes = options_.max_body_bytes;
  server_ = std::make_unique<http::Server>(so, *router_, metrics_.get());
  {
    // Draws refused by the guard, by reason (rate_customer, blocked_device, device_velocity...).
    auto* denials = &prometheus::BuildCounter()
                         .Name("mercator_draw_denials_total")
                         .Help("Draws refused by the draw guard (rate limits, risk check)")
                         .Register(metrics_->registry());
    draw_guard_->SetDenialObserver([denials](const std::string& reason) {
      denials->Add({{"reason", reason}}).Increment();
    });
  }
  {
    // The draw journal's group commits: how long a draw waits to be durable (queued, then its
    // batch's write and fdatasync), how long a batch's write and fdatasync take, and how many
    // draws share one. An acknowledged draw was durable: the first is the floor of the draw
    // endpoint's latency, the second the disk's share of it.
    const prometheus::Histogram::BucketBoundaries seconds = {
        0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005,
        0.0075, 0.01,    0.015,  0.02,    0.03,  0.05,   0.1,   0.25,  1};
    const auto histogram = [this](const char* name, const char* help,
                                  const prometheus::Histogram::BucketBoundaries& buckets) {
      return &prometheus::BuildHistogram()
                  .Name(name)
                  .Help(help)
                  .Register(metrics_->registry())
                  .Add({}, buckets);
    };
    prometheus::Histogram* wait =
        histogram("mercator_draw_commit_seconds",
                  "Time from a draw queued to its journal record durable", seconds);
    prometheus::Histogram* write =
        histogram("mercator_draw_journal_write_seconds",
                  "Time to write and fdatasync one group commit of the draw journal", seconds);
    prometheus::Histogram* size =
        histogram("mercator_draw_commit_batch_draws", "Draws made durable by one group commit",
                  {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
    draw_engine_->SetCommitObserver([wait, write, size](const activity::CommitReport& r) {
      for (double w : r.waits) wait->Observe(w);
      write->Observe(r.write_seconds);
      size->Observe(static_cast<double>(r.waits.size()));
    });
  }
  RETURN_IF_ERROR(server_->Start());
  if (options_.warm_customer_ids > 0) {
    warm_thread_ = std::thread([this] {
      BecomeBackgroundThread("mct-warm-ids");
      const auto started = std::chrono::steady_clock::now();
      auto reported = started;
      // A line every 5 s while it runs (10M ids take about a minute), and the last one below.
      const auto progress = [&](size_t done, size_t total) {
        const auto now = std::chrono::steady_clock::now();
        if (now - reported < std::chrono::seconds(5) || done >= total) return;
        reported = now;
        Log(Severity::kInfo, "warming customer ids",
            {{"done", std::to_string(done)},
             {"total", std::to_string(total)},
             {"percent", std::to_string(total == 0 ? 100 : done * 100 / total)}});
      };
      absl::StatusOr<size_t> added = customers_->WarmResolve(
          options_.warm_customer_ids, [this] { return warm_stop_.load(); }, progress);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
      if (!added.ok()) {
        Log(Severity::kWarn, "warming customer ids failed; lookups read the store",
            {{"error", ToStd(added.status().message())}});
      } else {
        Log(Severity::kInfo, "customer ids warmed",
            {{"ids", std::to_string(*added)}, {"duration_ms", std::to_string(ms)}});
      }
    });
  }
  snapshot_thread_ = std::thread([this] {
    BecomeBackgroundThread("mct-snapshot");
    SnapshotLoop();
  });
  {
    // Journey actions failing transiently, by outcome: retry (tried again after a back-off)
    // and stuck (attempts exhausted; alert on it rising: an operator must retry or exit them,
    // GET /v1/journeys/{id}/stuck).
    auto& failures = prometheus::BuildCounter()
                         .Name("mercator_journey_step_failures_total")
                         .Help("Transient journey action failures by outcome (retry, stuck)")
                         .Register(metrics_->registry());
    prometheus::Counter* retry = &failures.Add({{"outcome", "retry"}});
    prometheus::Counter* stuck = &failures.Add({{"outcome", "stuck"}});
    journey_engine_->SetObserver([retry, stuck](const journey::Engine::PassReport& r) {
      retry->Increment(static_cast<double>(r.retried));
      stuck->Increment(static_cast<double>(r.stuck));
    });
  }
  if (options_.journeys.interval_ms > 0) journey_engine_->Start();
  outreach_->SetLinkBase(options_.public_url.empty()
                             ? fmt::format("http://{}:{}", options_.address, server_->port())
                             : options_.public_url);
  campaigns_->Start();  // a no-op when campaigns.interval_ms is 0
  if (options_.fulfilment_interval_ms > 0) {
    // Awards not yet delivered, by state: alert on mercator_fulfilments{state="stuck"} > 0.
    auto& family = prometheus::BuildGauge()
                       .Name("mercator_fulfilments")
                       .Help("Awards not yet delivered, by state (stuck ones need an operator)")
                       .Register(metrics_->registry());
    std::vector<std::pair<FulfilmentState, prometheus::Gauge*>> gauges;
    for (FulfilmentState s : {FulfilmentState::kPending, FulfilmentState::kRetrying,
                              FulfilmentState::kManual, FulfilmentState::kStuck}) {
      gauges.emplace_back(s, &family.Add({{"state", std::string(FulfilmentStateName(s))}}));
    }
    fulfilment_worker_ = std::make_unique<reward::FulfilmentWorker>(
        fulfilments_.get(), options_.fulfilment_interval_ms, [this, gauges] {
          absl::StatusOr<std::map<FulfilmentState, int64_t>> open = fulfilments_->CountOpen();
          if (!open.ok()) return;
          for (const auto& [state, gauge] : gauges) {
            auto it = open->find(state);
            gauge->Set(it == open->end() ? 0.0 : static_cast<double>(it->second));
          }
        });
  }
  if (webhook_dispatcher_ != nullptr) {
    // Outbound webhook records by state: alert on mercator_webhook_outbound{state="dead"} > 0.
    auto& states =
        prometheus::BuildGauge()
            .Name("mercator_webhook_outbound")
            .Help("Messages of the webhook channel by state (dead ones need an operator)")
            .Register(metrics_->registry());
    auto& attempts = prometheus::BuildCounter()
                         .Name("mercator_webhook_attempts_total")
                         .Help("Webhook delivery attempts by outcome (delivered, retry, dead)")
                         .Register(metrics_->registry());
    std::map<std::string, prometheus::Gauge*> gauges;
    for (const char* st : {"pending", "delivered", "dead"}) {
      gauges[st] = &states.Add({{"state", st}});
    }
    prometheus::Counter* delivered = &attempts.Add({{"outcome", "delivered"}});
    prometheus::Counter* retried = &attempts.Add({{"outcome", "retry"}});
    prometheus::Counter* dead = &attempts.Add({{"outcome", "dead"}});
    auto refresh = [repo = webhook_repository_.get(), gauges] {
      absl::StatusOr<std::map<std::string, int64_t>> counts = repo->CountByState();
      if (!counts.ok()) return;
      for (const auto& [state, gauge] : gauges) {
        auto it = counts->find(state);
        gauge->Set(it == counts->end() ? 0.0 : static_cast<double>(it->second));
      }
    };
    refresh();
    webhook_dispatcher_->SetObserver(
        [refresh, delivered, retried, dead](const outreach::WebhookDispatcher::Pass& pass) {
          delivered->Increment(pass.delivered);
          retried->Increment(pass.retried);
          dead->Increment(pass.dead);
          refresh();
        });
    webhook_dispatcher_->Start();
  }
  if (wechat_channel_ != nullptr) {
    // Records by channel and state (alert on failed growing, on wecom created piling up:
    // managers not confirming) and what each pass did.
    auto& states = prometheus::BuildGauge()
                       .Name("mercator_wechat_outbound")
                       .Help("Messages of the WeChat channels by channel and state")
                       .Register(metrics_->registry());
    auto& events = prometheus::BuildCounter()
                       .Name("mercator_wechat_events_total")
                       .Help("WeChat channel outcomes (sent, created, retried, failed)")
                       .Register(metrics_->registry());
    std::map<std::pair<std::string, std::string>, prometheus::Gauge*> gauges;
    for (const char* c : {"wechat_oa", "wecom"}) {
      for (const char* st : {"pending", "created", "sent", "failed"}) {
        gauges[{c, st}] = &states.Add({{"channel", c}, {"state", st}});
      }
    }
    using Pass = outreach::WechatChannel::Pass;
    std::vector<std::pair<prometheus::Counter*, int Pass::*>> counters = {
        {&events.Add({{"outcome", "sent"}}), &Pass::sent},
        {&events.Add({{"outcome", "created"}}), &Pass::created},
        {&events.Add({{"outcome", "retried"}}), &Pass::retried},
        {&events.Add({{"outcome", "failed"}}), &Pass::failed}};
    wechat_channel_->SetObserver(
        [repo = wechat_repository_.get(), gauges, counters](const Pass& pass) {
          for (const auto& [counter, field] : counters) counter->Increment(pass.*field);
          auto counts = repo->CountByState();
          if (!counts.ok()) return;
          for (const auto& [key, gauge] : gauges) {
            auto it = counts->find(key);
            gauge->Set(it == counts->end() ? 0 : static_cast<double>(it->second));
          }
        });
    wechat_channel_->SetLinkBase(outreach_->link_base());
    wechat_channel_->Start();
  }
  if (smpp_channel_ != nullptr) {
    // The SMPP link and its records: alert on mercator_smpp_bound 0 and on pending growing.
    prometheus::Gauge* bound = &prometheus::BuildGauge()
                                    .Name("mercator_smpp_bound")
                                    .Help("SMPP connections bound to the SMSC now (0: none)")
                                    .Register(metrics_->registry())
                                    .Add({});
    auto& states = prometheus::BuildGauge()
                       .Name("mercator_smpp_outbound")
                       .Help("Messages of the SMPP channel by state (pending, submitted, failed)")
                       .Register(metrics_->registry());
    auto& pdus = prometheus::BuildCounter()
                     .Name("mercator_smpp_events_total")
                     .Help(
                         "SMPP channel events: submits, accepted parts, throttling answers, "
                         "failed messages, receipts, replies, opt-outs, binds, disconnects")
                     .Register(metrics_->registry());
    std::map<std::string, prometheus::Gauge*> gauges;
    for (const char* st : {"pending", "submitted", "failed"})
      gauges[st] = &states.Add({{"state", st}});
    using Stats = outreach::SmppChannel::Stats;
    const std::vector<std::pair<const char*, int64_t Stats::*>> kinds = {
        {"submit", &Stats::submits},        {"accepted", &Stats::accepted},
        {"throttled", &Stats::throttled},   {"failed", &Stats::failed},
        {"receipt", &Stats::receipts},      {"reply", &Stats::replies},
        {"opt_out", &Stats::opt_outs},      {"bind", &Stats::binds},
        {"disconnect", &Stats::disconnects}};
    std::vector<std::pair<prometheus::Counter*, int64_t Stats::*>> counters;
    for (const auto& [kind, field] : kinds)
      counters.emplace_back(&pdus.Add({{"kind", kind}}), field);
    smpp_channel_->SetObserver([repo = smpp_repository_.get(), bound, gauges, counters,
                                last = std::make_shared<Stats>()](const Stats& st) {
      bound->Set(st.bound_links);
      for (const auto& [counter, field] : counters) {
        counter->Increment(static_cast<double>(st.*field - (*last).*field));
      }
      *last = st;
      absl::StatusOr<std::map<std::string, int64_t>> counts = repo->CountByState();
      if (!counts.ok()) return;
      for (const auto& [state, gauge] : gauges) {
        auto it = counts->find(state);
        gauge->Set(it == counts->end() ? 0.0 : static_cast<double>(it->second));
      }
    });
    RETURN_IF_ERROR(smpp_channel_->Start());
  }
  if (options_.task_rules_interval_ms > 0) {
    task_rule_worker_ = std::make_unique<workbench::TaskRuleWorker>(
        task_rules_.get(), options_.task_rules_interval_ms);
  }
  if (options_.points_expiry_interval_ms > 0) {
    rewards_expiry_ = std::make_unique<reward::RewardsExpiryJob>(
        points_.get(), coupons_.get(), options_.points_expiry_interval_ms);
  }
  Log(Severity::kInfo, "server started",
      {{"server.address", options_.address}, {"server.port", std::to_string(port())}});
  return absl::OkStatus();
}

uint16_t App::port() const { return server_ ? server_->port() : 0; }

void App::RunUntilSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // The signals were blocked in main() before any thread started, so only this wait sees them.
  int sig = 0;
  sigwait(&set, &sig);
  Log(Severity::kInfo, "signal received, draining", {{"signal", std::to_string(sig)}});
  Shutdown();
}

void App::SnapshotLoop() {
  // Once a second: follow changes other processes write to the store (`mercator import` next
  // to this server), so they reach audiences within about a second. Every
  // snapshot_interval_seconds: refresh the snapshot if anything changed.
  int64_t seconds = 0;
  absl::MutexLock lock(&snapshot_mu_);
  for (;;) {
    const auto stop = [this]()
                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(snapshot_mu_) { return snapshot_stop_; };
    snapshot_mu_.AwaitWithTimeout(absl::Condition(&stop), absl::Seconds(1));
    if (snapshot_stop_) return;
    snapshot_mu_.Unlock();
    absl::StatusOr<uint64_t> applied = customers_->CatchUp();
    if (!applied.ok()) {
      Log(Severity::kError, "following store changes failed",
          {{"error", ToStd(applied.status().message())}});
    } else if (*applied > 0) {
      Log(Severity::kInfo, "applied changes from the store",
          {{"customers", std::to_string(*applied)}});
    }
    if (options_.snapshot_interval_seconds > 0 &&
        ++seconds % options_.snapshot_interval_seconds == 0) {
      SaveSnapshotIfChanged();
    }
    snapshot_mu_.Lock();
  }
}

void App::SaveSnapshotIfChanged() {
  absl::StatusOr<uint64_t> seq = store_->customers().MaxSeq();
  if (!seq.ok()) return;
  {
    absl::MutexLock lock(&snapshot_mu_);
    if (*seq == snapshot_seq_ && snapshot_seq_ != 0) return;
  }
  absl::Status s = customers_->SaveSnapshot(SnapshotPath());
  if (!s.ok()) {
    Log(Severity::kError, "snapshot not saved", {{"error", ToStd(s.message())}});
    return;
  }
  absl::MutexLock lock(&snapshot_mu_);
  snapshot_seq_ = *seq;
  Log(Severity::kInfo, "snapshot saved", {{"path", SnapshotPath()}, {"seq", std::to_string(*seq)}});
}

void App::Shutdown() {
  if (stopped_.exchange(true)) return;
  draining_ = true;
  if (server_) server_->Drain();
  // The commit report's histograms belong to metrics_, which goes before the engine does.
  if (draw_engine_) draw_engine_->SetCommitObserver({});
  if (journey_engine_) journey_engine_->Stop();
  if (campaigns_) campaigns_->Stop();
  fulfilment_worker_.reset();
  task_rule_worker_.reset();
  if (webhook_dispatcher_) webhook_dispatcher_->Stop();
  if (smpp_channel_) smpp_channel_->Stop();
  if (wechat_channel_) wechat_channel_->Stop();
  task_events_.reset();
  if (warm_thread_.joinable()) {
    warm_stop_ = true;
    warm_thread_.join();
  }
  if (snapshot_thread_.joinable()) {
    {
      absl::MutexLock lock(&snapshot_mu_);
      snapshot_stop_ = true;
    }
    snapshot_thread_.join();
  }
  if (customers_) {
    {
      // Force a save at shutdown even if the periodic one just ran: cheap, and certain.
      absl::MutexLock lock(&snapshot_mu_);
      snapshot_seq_ = 0;
    }
    SaveSnapshotIfChanged();
  }
}

}  // namespace mercator
