// mercator: one binary, many subcommands (serve, demo, import, migrate, segment, init, user).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <tuple>

#include "cli/audit_cmd.h"
#include "cli/campaign_cmd.h"
#include "cli/client_cmd.h"
#include "cli/events_cmd.h"
#include "cli/progress.h"
#include "cli/user_cmd.h"
#include "cli/vault_cmd.h"
#include "common/log.h"
#include "common/release_mode.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "customer/demo_bank.h"
#include "customer/importer.h"
#include "event/demo_events.h"
#include "segment/dsl.h"
#include "server/app.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

void PrintWelcome(const AppOptions& options, uint16_t port, bool has_admin) {
  const std::string base = fmt::format("http://{}:{}", options.address, port);
  std::printf("\nMercator is listening on %s\n", base.c_str());
  if (!options.web_root.empty() && std::filesystem::exists(std::filesystem::path(options.web_root) /
                                                           "console/dist/index.html")) {
    std::printf("  Operator console: %s/console/\n", base.c_str());
  }
  std::printf("  API reference: %s/docs   health: %s/readyz   metrics: %s/metrics\n", base.c_str(),
              base.c_str(), base.c_str());
  if (!has_admin) {
    std::printf("\n  No staff account yet: `mercator --data %s init` creates the first admin.\n",
                options.data_dir.c_str());
  } else {
    std::printf(
        "\n  Sign in with a staff account (`mercator user reset-password admin` gives the admin a"
        " new\n  one-time password), keep the cookie, and send the csrf_token on writes:\n"
        "    curl -s -c mct.jar -H 'Content-Type: application/json' \\\n"
        "      -d '{\"username\":\"admin\",\"password\":\"...\"}' %s/v1/auth/login\n"
        "    curl -s -b mct.jar %s/v1/tags\n"
        "    curl -s -b mct.jar -H \"X-CSRF-Token: $CSRF\" -H 'Content-Type: application/json' "
        "\\\n      -d '{\"rule\": \"age between 25 and 35\"}' %s/v1/segments/count\n",
        base.c_str(), base.c_str(), base.c_str());
    if (options.cookie_security == auth::CookieSecurity::kSecure) {
      std::printf(
          "  Session cookies are marked Secure: curl and current browsers keep them for\n"
          "  http://127.0.0.1 and localhost; anywhere else serve behind HTTPS.\n");
    }
  }
  std::printf("\nStop with Ctrl-C (drains requests, saves the index snapshot).\n\n");
  std::fflush(stdout);
}

int Serve(const AppOptions& options) {
  // Block the shutdown signals before any thread starts so that only App::RunUntilSignal's
  // sigwait receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<App>> app = App::Open(options);
  if (!app.ok()) return Fail(app.status());
  const auto& rec = (*app)->recovery();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Log(Severity::kInfo, "index ready",
      {{"customers", std::to_string(rec.live_customers)},
       {"snapshot_loaded", rec.snapshot_loaded ? "true" : "false"},
       {"replayed", std::to_string(rec.replayed)},
       {"seconds", fmt::format("{:.2f}", secs)}});
  if (!rec.snapshot_problem.empty()) {
    Log(Severity::kWarn, "snapshot not used, rebuilt from the store",
        {{"reason", rec.snapshot_problem}});
  }
  absl::StatusOr<bool> has_admin = (*app)->staff().HasEnabledAdmin();
  if (!has_admin.ok()) return Fail(has_admin.status());
  if (options.cookie_security != auth::CookieSecurity::kSecure) {
    Log(Severity::kWarn, "session cookies without Secure: for plain http on this machine only",
        {{"server.address", options.address}});
  }
  if (absl::Status s = (*app)->Start(); !s.ok()) return Fail(s);
  PrintWelcome(options, (*app)->port(), *has_admin);
  (*app)->RunUntilSignal();
  return 0;
}

int Migrate(const std::string& data_dir) {
  absl::StatusOr<SqliteMigrationReport> r = MigrateSqlite(data_dir, SystemClock::Get());
  if (!r.ok()) return Fail(r.status());
  if (r->applied.empty()) {
    std::printf("schema is up to date at version %d\n", r->schema_version);
  } else {
    std::printf("applied migrations %s; schema now at version %d\n",
                fmt::format("{}", fmt::join(r->applied, ", ")).c_str(), r->schema_version);
  }
  return 0;
}

int Demo(const std::string& data_dir, uint64_t customers, uint64_t seed,
         const std::string& today_text) {
  // Today in the bank's time zone (Asia/Shanghai), as lifecycle rules and features count days.
  int64_t today = (SystemClock::Get()->NowMs() + 8 * 3600000) / 86400000;
  if (!today_text.empty()) {
    TagDef date;
    date.type = TagType::kDate;
    absl::StatusOr<TagValue> d = ParseTagValue(date, today_text);
    if (!d.ok())
      return Fail(absl::InvalidArgumentError(fmt::format("--today: {}", d.status().message())));
    today = std::get<int64_t>(*d);
  }
  absl::StatusOr<Engine> e = OpenEngine(data_dir);
  if (!e.ok()) return Fail(e.status());
  for (const TagDef& def : DemoCatalog()) {
    if (absl::Status s = e->customers->DefineTag(def); !s.ok()) return Fail(s);
  }
  DemoBank bank(seed, today);
  ProgressBar bar("generating demo bank", customers, "customers");
  constexpr uint64_t kBatch = 10000;
  // Generation on this thread, store and index writes on the loader's: both cores busy.
  BulkLoader pipe(e->customers.get());
  for (uint64_t i = 0; i < customers;) {
    std::vector<CustomerUpsert> batch;
    batch.reserve(kBatch);
    const uint64_t end = std::min(customers, i + kBatch);
    for (; i < end; ++i) batch.push_back(bank.Customer(i));
    if (absl::Status s = pipe.Push(batch); !s.ok()) return Fail(s);
    bar.Update(pipe.applied_rows(), static_cast<int64_t>(pipe.applied_rows()));
  }
  if (absl::Status s = pipe.Finish(); !s.ok()) return Fail(s);
  bar.Finish(customers, static_cast<int64_t>(customers));
  // 90 days of mobile-banking events, consistent with the tags (event/demo_events.h).
  uint64_t events = 0;
  {
    absl::StatusOr<std::unique_ptr<event::EventService>> log = OpenEventLogForCommand(*e, data_dir);
    if (!log.ok()) return Fail(log.status());
    ProgressBar events_bar("generating events", customers, "customers");
    std::vector<event::EventService::Item> items;
    for (uint64_t i = 0; i < customers; ++i) {
      std::vector<event::EventService::Item> more =
          event::DemoEvents(bank.Customer(i), i, seed, today);
      for (auto& item : more) items.push_back(std::move(item));
      if (items.size() >= 20000 || i + 1 == customers) {
        auto r = (*log)->SubmitAndWait(std::move(items), std::string(event::kSourceImport));
        if (!r.ok()) return Fail(r.status());
        items.clear();
        events_bar.Update(i + 1, static_cast<int64_t>(i + 1));
      }
    }
    events_bar.Finish(customers, static_cast<int64_t>(customers));
    if (absl::Status s = (*log)->Tick(); !s.ok()) return Fail(s);
    events = (*log)->stats().events;
  }
  if (absl::Status s = e->customers->SaveSnapshot(SnapshotPathFor(data_dir)); !s.ok()) {
    return Fail(s);
  }
  std::printf("demo bank: %s customers, %zu tags, %s events, seed %llu, data in %s\n",
              Thousands(e->index->LiveCount()).c_str(), DemoCatalog().size(),
              Thousands(events).c_str(), static_cast<unsigned long long>(seed), data_dir.c_str());
  return 0;
}

int Import(const std::string& data_dir, const std::string& mapping_path, const std::string& file,
           bool skip_bad_rows, const std::string& report_path) {
  // Seconds since the command started, for the per-phase figures printed at the end.
  const auto command_start = std::chrono::steady_clock::now();
  auto since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - command_start).count();
  };
  absl::StatusOr<ImportMapping> mapping = LoadImportMapping(mapping_path);
  if (!mapping.ok()) return Fail(mapping.status());
  absl::StatusOr<Engine> e = OpenEngine(data_dir);
  if (!e.ok()) return Fail(e.status());
  for (const TagDef& def : mapping->tags) {
    if (absl::Status s = e->customers->DefineTag(def); !s.ok()) return Fail(s);
  }
  ImportOptions options;
  options.mode = skip_bad_rows ? ImportMode::kSkipBadRows : ImportMode::kAllOrNothing;
  std::unique_ptr<ProgressBar> bar;
  int bar_pass = 0;
  ImportProgress last;
  double apply_start = -1;  // since_start() when the apply pass began
  options.progress = [&](const ImportProgress& p) {
    if (p.pass != bar_pass) {
      if (p.pass == 2 || p.passes == 1) apply_start = since_start();
      if (bar) bar->Finish(last.bytes_total, last.rows);
      bar_pass = p.pass;
      bar = std::make_unique<ProgressBar>(p.pass == 1 && p.passes == 2 ? "validating" : "importing",
                                          p.bytes_total, "bytes");
    }
    bar->Update(p.bytes_done, p.rows);
    last = p;
  };
  const double opened = since_start();
  Importer importer(*mapping, options, SystemClock::Get());
  // Parsing on this thread; checks, store and index writes on the loader's.
  BulkLoader pipe(e->customers.get());
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<ImportReport> report =
      importer.ImportFile(file, [&](std::vector<CustomerUpsert>& batch) {
        // Checked by the importer against the mapping's tags: the loader does not re-check.
        return pipe.Push(batch, importer.validated_tags());
      });
  // From here: the batches still in the loader, then (into an empty store) the lookup indexes,
  // while the index's snapshot is written (unless nothing is to be imported).
  const double read = since_start();
  const bool keep = report.ok() && (report->rows_rejected == 0 || skip_bad_rows);
  double snapshot_seconds = 0;
  const absl::Status applied = pipe.Finish([&]() -> absl::Status {
    if (!keep) return absl::OkStatus();
    const double start = since_start();
    absl::Status saved = e->customers->SaveSnapshot(SnapshotPathFor(data_dir));
    snapshot_seconds = since_start() - start;
    return saved;
  });
  const double imported = since_start();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (bar) bar->Finish(last.bytes_total, last.rows);
  if (!report.ok()) return Fail(report.status());
  if (!applied.ok()) {
    return Fail(absl::Status(applied.code(), fmt::format("{} ({} rows were applied before it)",
                                                         applied.message(), pipe.applied_rows())));
  }
  std::printf("rows read %s, applied %s, rejected %s, errors %s; %.1f s, %.0f rows/s end to end\n",
              Thousands(report->rows_read).c_str(), Thousands(report->rows_applied).c_str(),
              Thousands(report->rows_rejected).c_str(), Thousands(report->error_count).c_str(),
              seconds, seconds > 0 ? static_cast<double>(report->rows_read) / seconds : 0.0);
  if (!report->ignored_columns.empty()) {
    std::printf("ignored columns (not in the mapping): %s\n",
                fmt::format("{}", fmt::join(report->ignored_columns, ", ")).c_str());
  }
  FILE* out = stdout;
  std::unique_ptr<FILE, int (*)(FILE*)> report_file(nullptr, &std::fclose);
  if (!report_path.empty()) {
    report_file.reset(std::fopen(report_path.c_str(), "w"));
    if (!report_file) return Fail(absl::UnavailableError("cannot write " + report_path));
    out = report_file.get();
    std::fprintf(out, "line,column,reason\n");
  }
  for (const ImportError& err : report->errors) {
    std::fprintf(out, report_file ? "%lld,%s,\"%s\"\n" : "  line %lld, column %s: %s\n",
                 static_cast<long long>(err.line), err.column.c_str(), err.reason.c_str());
  }
  if (report->error_count > static_cast<int64_t>(report->errors.size())) {
    std::printf("  ... and %s more errors\n",
                Thousands(report->error_count - report->errors.size()).c_str());
  }
  if (report->rows_rejected > 0 && !skip_bad_rows) {
    std::printf("nothing was imported: fix the rows above, or pass --skip-bad-rows\n");
    return 2;
  }
  const double validated = apply_start >= 0 ? apply_start : imported;
  std::printf(
      "phases: open and migrate %.2f s, validation pass %.2f s, apply pass (store and index) "
      "%.2f s (of which %.2f s after the last row was read, the index's snapshot %.2f s of "
      "them)\n",
      opened, validated - opened, imported - validated, imported - read, snapshot_seconds);
  return report->rows_rejected > 0 ? 2 : 0;
}

int SegmentCount(const std::string& data_dir, const std::string& rule_text) {
  absl::StatusOr<Rule> rule = ParseDsl(rule_text);
  if (!rule.ok()) return Fail(rule.status());
  absl::StatusOr<Engine> e = OpenEngine(data_dir);
  if (!e.ok()) return Fail(e.status());
  auto r = e->audiences->Count(*rule);
  if (!r.ok()) return Fail(r.status());
  std::printf("%llu of %llu customers (%.2f ms)\n", static_cast<unsigned long long>(r->count),
              static_cast<unsigned long long>(r->live), r->took_ms);
  return 0;
}

// The index is hundreds of MB of small allocations (8 KiB bitmap containers). glibc backs
// malloc with transparent huge pages when the tunable glibc.malloc.hugetlb=1 is set, which
// only works from the environment at exec, so the process re-executes itself once with it
// set. The pages are madvised, and with the kernel's usual setting (defrag=madvise) a fault
// in them compacts memory synchronously when free memory is fragmented. Bulk loads gain
// (a 10M import: 178 CPU-s with them, 194 without), a server's start loses: after other
// work on the host, 10M customers with 8.5M events were ready in 5.5 s with them and 2.8 s
// without (bench/startup). So: on for `import` and `demo`, off otherwise;
// MERCATOR_HUGEPAGES=1 or 0 decides for any command. Any failure just continues as is.
void ReexecWithHugePages(char** argv) {
  bool wanted = false;
  if (const char* choice = std::getenv("MERCATOR_HUGEPAGES"); choice != nullptr) {
    wanted = std::string_view(choice) == "1";
  } else {
    for (char** a = argv + 1; *a != nullptr; ++a) {
      const std::string_view arg = *a;
      if (arg == "import" || arg == "demo") wanted = true;
    }
  }
  if (!wanted) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const std::string current = tunables != nullptr ? tunables : "";
  if (current.find("glibc.malloc.hugetlb") != std::string::npos) return;
  const std::string tunable =
      current.empty() ? "glibc.malloc.hugetlb=1" : current + ":glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", tunable.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Still here: exec failed (no /proc?). Run without huge pages.
  if (tunables != nullptr) {
    setenv("GLIBC_TUNABLES", tunables, 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) {
  using namespace mercator;
  ReexecWithHugePages(argv);
  ApplyReleaseMode();
  CLI::App cli{"Mercator: marketing middle platform for banks"};
  cli.require_subcommand(1);
  std::string data_dir = "./data";
  cli.add_option("--data", data_dir, "Data directory (SQLite database, index snapshot)")
      ->capture_default_str();

  AppOptions serve_options;
  auto* serve = cli.add_subcommand("serve", "Run the HTTP server");
  serve->add_option("--address", serve_options.address, "Listen address")->capture_default_str();
  serve->add_option("--port", serve_options.port, "Listen port")->capture_default_str();
  serve->add_option("--io-threads", serve_options.io_threads, "I/O threads (0: one per core)");
  serve
      ->add_option("--client-rate", serve_options.api_clients.rate_limit.per_second,
                   "Signed requests per second per API client (the bucket holds 4 s of them)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve
      ->add_option("--draw-commit-window-us", serve_options.draw_commit_window_us,
                   "Group commit of draws: how long the journal waits for more draws after the "
                   "first of a batch before it fsyncs them together, in microseconds")
      ->capture_default_str()
      ->check(CLI::Range(0, 2000));
  serve_options.journal_preallocate_mb = 32;
  serve
      ->add_option("--journal-preallocate-mb", serve_options.journal_preallocate_mb,
                   "Zeros kept ready at the end of the draw and event journals, in MB: an append "
                   "then overwrites them instead of growing the file, and its fsync waits for "
                   "that batch only (0: the files grow with each append)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  serve
      ->add_option("--draw-idempotency-hours", serve_options.draw_idempotency_hours,
                   "How long a draw's Idempotency-Key is remembered: a retry within it replays "
                   "the draw (kept up to twice as long)")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 30));
  serve
      ->add_option("--warm-customer-ids", serve_options.warm_customer_ids,
                   "At start, how many live customers' ids to load into the memory draws "
                   "resolve customers from, in the background (about 70 bytes each; 0: none)")
      ->capture_default_str();
  serve
      ->add_option("--nonce-flush-ms", serve_options.api_clients.nonce_flush_ms,
                   "How often signed requests' nonces are written to the database, in one "
                   "transaction (replay protection across processes); 0: each request writes its "
                   "own before it is answered")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  serve->add_flag("--trust-forwarded-for", serve_options.draw_guard.trust_forwarded_for,
                  "The draw guard's per-address limit counts the right-most X-Forwarded-For entry "
                  "(the app back-end's or a proxy's record of the customer's address), not the "
                  "connection's; only behind a back-end or proxy that sets the header");
  serve_options.web_root = "web";
  serve
      ->add_option("--web-root", serve_options.web_root,
                   "Folder with the built web apps (scripts/web.sh build): console/dist is served "
                   "at /console/, h5/dist at /h5/; empty: none")
      ->capture_default_str();
  serve
      ->add_option("--journey-max-attempts", serve_options.journeys.max_attempts,
                   "Transient failures of a journey action (1, 2, 4 ... 60 min apart) before its "
                   "entry is stuck for an operator (docs/journeys.md)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve->add_option("--public-url", serve_options.public_url,
                    "Public base URL of tracked links in messages (/t/<token>), e.g. "
                    "https://m.bank.example (default: this server's http://address:port)");
  int64_t h5_token_minutes = serve_options.customer_tokens.ttl_ms / 60'000;
  serve
      ->add_option("--h5-token-minutes", h5_token_minutes,
                   "Lifetime of the customer tokens of the H5 pages (POST /v1/h5/tokens)")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 60));
  bool insecure_cookies = false;
  serve->add_flag("--insecure-cookies", insecure_cookies,
                  "Session cookies without the Secure attribute, for plain http on this machine "
                  "(scripts/run.sh); never behind a network");

  // The webhook channel (docs/outreach-webhook.md): the secret comes from a file or the
  // environment, never from the command line (other users see it in ps).
  std::string webhook_secret_file;
  serve
      ->add_option("--webhook-channels", serve_options.webhook.channels,
                   "Channels sent to the bank's platform by webhook, e.g. sms,app_push "
                   "(default: none, every channel goes to the sandbox)")
      ->delimiter(',');
  serve->add_option("--webhook-url", serve_options.webhook.url,
                    "The platform's http:// or https:// URL");
  serve->add_option("--http-ca-file", serve_options.http_client.ca_file,
                    "PEM CA certificates trusted for outbound https:// besides the system's "
                    "(a bank's internal CA)");
  serve->add_option("--http-client-cert", serve_options.http_client.client_cert_file,
                    "PEM client certificate for outbound mutual TLS (with --http-client-key)");
  serve->add_option("--http-client-key", serve_options.http_client.client_key_file,
                    "PEM private key of --http-client-cert");
  serve->add_option("--webhook-secret-file", webhook_secret_file,
                    "File holding the HMAC secret shared with the platform (or "
                    "MERCATOR_WEBHOOK_SECRET)");
  serve->add_option("--webhook-timeout-ms", serve_options.webhook.timeout_ms, "Per attempt")
      ->capture_default_str();
  serve
      ->add_option("--webhook-max-attempts", serve_options.webhook.max_attempts,
                   "Attempts before a message is a dead letter")
      ->capture_default_str();

  // The SMPP channel (docs/outreach-smpp.md): the password comes from a file or the
  // environment, like the webhook's secret.
  std::string smpp_address, smpp_password_file;
  serve->add_option("--smpp-address", smpp_address,
                    "SMSC host:port: SMS goes out over SMPP 3.4 (default: none, the sandbox)");
  serve->add_option("--smpp-system-id", serve_options.smpp.system_id, "bind_transceiver system_id");
  serve->add_option("--smpp-password-file", smpp_password_file,
                    "File holding the bind password (or MERCATOR_SMPP_PASSWORD)");
  serve->add_option("--smpp-system-type", serve_options.smpp.system_type, "bind system_type");
  serve->add_option("--smpp-source-addr", serve_options.smpp.source_addr,
                    "The sender (short code or alphanumeric)");
  serve
      ->add_option("--smpp-window", serve_options.smpp.window,
                   "submit_sm outstanding at once, per connection")
      ->capture_default_str();
  // Checked by serve with the other SMPP options (smpp.connections: must be 1..16).
  serve
      ->add_option("--smpp-connections", serve_options.smpp.connections,
                   "Binds to the SMSC at once, each with its own window (1..16)")
      ->capture_default_str();
  std::string smpp_gsm7 = "auto";
  serve
      ->add_option("--smpp-gsm7", smpp_gsm7,
                   "auto: GSM-7 for texts in the GSM 03.38 alphabet; never: always UCS-2")
      ->capture_default_str();

  // The WeChat channels (docs/outreach-wechat.md): secrets from files or the environment.
  std::string wechat_appsecret_file, wechat_token_file, wechat_aes_key_file, wecom_corpsecret_file;
  int64_t wecom_poll_seconds = serve_options.wechat.poll_interval_ms / 1000;
  serve->add_option("--wechat-oa-base-url", serve_options.wechat.oa_base_url,
                    "WeChat API base (http://...): wechat_oa goes out as template messages");
  serve->add_option("--wechat-oa-appid", serve_options.wechat.oa_appid, "Official account appid");
  serve->add_option("--wechat-oa-token-file", wechat_token_file,
                    "File holding the token of the account's server configuration (or "
                    "MERCATOR_WECHAT_TOKEN): WeChat's pushes to /wechat/oa/push are verified "
                    "with it (delivery results, unfollows)");
  serve->add_option("--wechat-oa-aes-key-file", wechat_aes_key_file,
                    "File holding the account's EncodingAESKey (or MERCATOR_WECHAT_AESKEY), for "
                    "pushes in safe mode (安全模式)");
  serve->add_option("--wechat-oa-appsecret-file", wechat_appsecret_file,
                    "File holding the appsecret (or MERCATOR_WECHAT_APPSECRET)");
  serve->add_option("--wecom-base-url", serve_options.wechat.wecom_base_url,
                    "WeCom API base (http://...): wecom goes out as group-send tasks");
  serve->add_option("--wecom-corpid", serve_options.wechat.wecom_corpid, "WeCom corpid");
  serve->add_option("--wecom-corpsecret-file", wecom_corpsecret_file,
                    "File holding the customer-contact secret (or MERCATOR_WECOM_CORPSECRET)");
  serve
      ->add_option("--wecom-poll-seconds", wecom_poll_seconds,
                   "How often WeCom tasks' results are polled")
      ->capture_default_str()
      ->check(CLI::Range(1, 86'400));

  uint64_t customers = 100000, seed = 42;
  auto* demo = cli.add_subcommand("demo", "Generate a demo bank into the data directory");
  demo->add_option("--customers", customers, "How many customers")->capture_default_str();
  demo->add_option("--seed", seed, "Random seed (same seed and day, same bank)")
      ->capture_default_str();
  std::string today;
  demo->add_option(
      "--today", today,
      "Generation date YYYY-MM-DD that dates are relative to (default: today in Asia/Shanghai)");

  std::string mapping, file, report;
  bool skip_bad_rows = false;
  auto* import = cli.add_subcommand("import", "Import customers from a CSV file");
  import->add_option("--mapping", mapping, "Mapping file (JSON)")->required();
  import->add_option("file", file, "CSV file (UTF-8 or GBK)")->required();
  import->add_flag("--skip-bad-rows", skip_bad_rows,
                   "Apply the good rows and report the bad ones (default: all or nothing)");
  import->add_option("--report", report, "Write the per-row error report to this CSV file");

  cli.add_subcommand("migrate", "Apply database migrations and exit");

  std::string rule;
  auto* segment = cli.add_subcommand("segment", "Count the customers matching a rule");
  segment->add_option("rule", rule, "Rule in the DSL")->required();

  std::unique_ptr<UserCommand> users = AddUserCommands(cli);

  std::unique_ptr<AuditCommand> audit = AddAuditCommand(cli);

  std::unique_ptr<VaultCommand> vault = AddVaultCommand(cli);

  std::unique_ptr<ClientCommand> clients = AddClientCommands(cli);

  std::unique_ptr<EventsCommand> events = AddEventsCommands(cli);

  std::unique_ptr<CampaignCommand> campaigns = AddCampaignCommands(cli);

  CLI11_PARSE(cli, argc, argv);
  InitLogging(LogOptions{});

  if (*serve) {
    serve_options.data_dir = data_dir;
    auth::RateLimiter::Options& client_rate = serve_options.api_clients.rate_limit;
    client_rate.burst = std::max(client_rate.burst, 4 * client_rate.per_second);
    if (insecure_cookies) serve_options.cookie_security = auth::CookieSecurity::kInsecureLocalHttp;
    serve_options.customer_tokens.ttl_ms = h5_token_minutes * 60'000;
    if (!webhook_secret_file.empty()) {
      std::ifstream in(webhook_secret_file, std::ios::binary);
      if (!in) {
        return Fail(absl::InvalidArgumentError("--webhook-secret-file: cannot read the file"));
      }
      std::getline(in, serve_options.webhook.secret);
    } else if (const char* env = std::getenv("MERCATOR_WEBHOOK_SECRET"); env != nullptr) {
      serve_options.webhook.secret = env;
    }
    if (smpp_gsm7 != "auto" && smpp_gsm7 != "never") {
      return Fail(absl::InvalidArgumentError("--smpp-gsm7: must be auto or never"));
    }
    serve_options.smpp.gsm7 =
        smpp_gsm7 == "never" ? outreach::Gsm7Mode::kNever : outreach::Gsm7Mode::kAuto;
    if (!smpp_address.empty()) {
      const size_t colon = smpp_address.rfind(':');
      serve_options.smpp.host = smpp_address.substr(0, colon);
      int port = 0;
      if (colon == std::string::npos || colon == 0 ||
          std::from_chars(smpp_address.data() + colon + 1,
                          smpp_address.data() + smpp_address.size(), port)
                  .ec != std::errc()) {
        return Fail(absl::InvalidArgumentError("--smpp-address: must be host:port"));
      }
      serve_options.smpp.port = port;
      if (!smpp_password_file.empty()) {
        std::ifstream in(smpp_password_file, std::ios::binary);
        if (!in) {
          return Fail(absl::InvalidArgumentError("--smpp-password-file: cannot read the file"));
        }
        std::getline(in, serve_options.smpp.password);
      } else if (const char* env = std::getenv("MERCATOR_SMPP_PASSWORD"); env != nullptr) {
        serve_options.smpp.password = env;
      }
    }
    for (auto [flag, file, env, out] :
         {std::tuple{"--wechat-oa-appsecret-file", &wechat_appsecret_file,
                     "MERCATOR_WECHAT_APPSECRET", &serve_options.wechat.oa_appsecret},
          std::tuple{"--wechat-oa-token-file", &wechat_token_file, "MERCATOR_WECHAT_TOKEN",
                     &serve_options.wechat.oa_token},
          std::tuple{"--wechat-oa-aes-key-file", &wechat_aes_key_file, "MERCATOR_WECHAT_AESKEY",
                     &serve_options.wechat.oa_encoding_aes_key},
          std::tuple{"--wecom-corpsecret-file", &wecom_corpsecret_file, "MERCATOR_WECOM_CORPSECRET",
                     &serve_options.wechat.wecom_corpsecret}}) {
      if (!file->empty()) {
        std::ifstream in(*file, std::ios::binary);
        if (!in) {
          return Fail(absl::InvalidArgumentError(std::string(flag) + ": cannot read the file"));
        }
        std::getline(in, *out);
      } else if (const char* value = std::getenv(env); value != nullptr) {
        *out = value;
      }
    }
    serve_options.wechat.poll_interval_ms = wecom_poll_seconds * 1000;
    return Serve(serve_options);
  }
  if (*demo) {
    const int rc = Demo(data_dir, customers, seed, today);
    return rc != 0 ? rc : EnsureDemoAdmin(data_dir);
  }
  if (*import) return Import(data_dir, mapping, file, skip_bad_rows, report);
  if (cli.got_subcommand("migrate")) return Migrate(data_dir);
  if (*segment) return SegmentCount(data_dir, rule);
  if (*clients->client) return RunClientCommand(*clients, data_dir);
  if (*events->events) return RunEventsCommand(*events, data_dir);
  if (*campaigns->campaign) return RunCampaignCommand(*campaigns, data_dir);
  if (*users->init || *users->user) return RunUserCommand(*users, data_dir);
  if (*audit->audit) return RunAuditCommand(*audit, data_dir);
  if (*vault->vault) return RunVaultCommand(*vault, data_dir);
  return 1;
}
