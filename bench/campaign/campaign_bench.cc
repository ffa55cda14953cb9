// A campaign to a demo bank (bench/campaign/run.sh): snapshot -> contact policy -> render ->
// record -> sandbox outbox, through the same CampaignService and Outreach::SendBatch as
// `mercator serve`, on the demo's SQLite store. Prints members/s and then checks the outbox
// against the rules it must obey (recomputed from the outbox itself, not from the campaign's
// own counters): at most one marketing message per customer per local day (the day cap), none
// in quiet hours, none to a holdout member.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include <sys/resource.h>

#include "common/release_mode.h"
#include "customer/demo_bank.h"
#include "outreach/contact_policy.h"
#include "server/app.h"

namespace mercator {
namespace {

namespace json = boost::json;

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "campaign_bench: %s\n", std::string(s.message()).c_str());
  return 1;
}

Principal Staff(std::string name, std::vector<std::string> permissions) {
  Principal p;
  p.kind = Principal::Kind::kStaff;
  p.id = std::move(name);
  std::sort(permissions.begin(), permissions.end());
  p.permissions = std::move(permissions);
  return p;
}

// The system clock moved to today's 10:00 in Beijing, so that a run at any hour sends inside the
// day (quiet hours 21:00-08:00 stay in force: a run longer than 11 h would meet them).
class MorningClock final : public Clock {
 public:
  MorningClock() {
    const int64_t now = system_.NowMs();
    const int64_t day = outreach::LocalDay(now, 8 * 60);
    shift_ = day * 86'400'000 - 8 * 3'600'000 + 10 * 3'600'000 - now;
  }
  int64_t NowMs() const override { return system_.NowMs() + shift_; }

 private:
  SystemClock system_;
  int64_t shift_ = 0;
};

// CPU seconds (user + system) of the whole process so far: on a machine shared with other work
// the wall time follows the load, the CPU time much less.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

int Run(const std::string& dir, uint64_t customers, int64_t throttle, int holdout) {
  static const MorningClock clock;
  AppOptions options;
  options.clock = &clock;
  options.data_dir = dir;
  options.campaigns.interval_ms = 0;  // driven here
  options.campaigns.batch = 2000;
  options.task_rules_interval_ms = 0;
  auto app = App::Open(options);
  if (!app.ok()) return Fail(app.status());
  OutreachRepository& store = (*app)->outreach_store();

  // Policy: one marketing message per customer per day, quiet hours as the bank's default;
  // the campaign's window is the whole non-quiet day.
  PolicySettings policy;
  policy.day_cap = 1;
  policy.week_cap = 0;
  policy.quiet_start_minute = 21 * 60;
  policy.quiet_end_minute = 8 * 60;
  policy.updated_by = "bench";
  if (absl::Status s = store.PutPolicy(policy); !s.ok()) return Fail(s);

  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < customers; ++i) {
    ConsentRow c;
    c.customer = DemoExternalId(i);
    c.channel = "sms";
    c.purpose = "marketing";
    c.granted = true;
    c.source = "bench";
    c.text_version = "v1";
    c.evidence_ms = c.recorded_ms = 1;
    c.recorded_by = "bench";
    if (absl::Status s = store.RecordConsent(c); !s.ok()) return Fail(s);
  }
  std::printf("consents: %llu in %.1f s\n", static_cast<unsigned long long>(customers),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  TemplateRow t;
  t.name = "bench";
  t.channel = "sms";
  t.purpose = "marketing";
  t.body = "【示例银行】{{name}}您好，{{product}}新品上线，详询客户经理。回T退订";
  t.status = "approved";
  t.created_by = "bench";
  auto tmpl = store.CreateTemplate(t);
  if (!tmpl.ok()) return Fail(tmpl.status());

  campaign::CampaignService& svc = (*app)->campaigns();
  json::object def{
      {"name", "bench"},
      {"audience", json::object{{"rule", "aum >= 0"}}},
      {"channels",
       json::array{json::object{{"channel", "sms"}, {"template_id", tmpl->id}, {"cost_fen", 5}}}},
      {"variables", json::object{{"product", "稳盈90天"}}},
      {"throttle_per_second", throttle},
      {"holdout_percent", holdout}};
  const Principal maker = Staff("maker", {"approvals:submit", "campaigns:write"});
  const Principal checker = Staff("checker", {"approvals:decide"});
  auto created = svc.Create(def, maker);
  if (!created.ok()) return Fail(created.status());
  auto approval = svc.Submit(created->id, maker, {});
  if (!approval.ok()) return Fail(approval.status());
  if (auto a = (*app)->approvals().Approve(approval->id, checker, "bench", {}); !a.ok()) {
    return Fail(a.status());
  }

  const double cpu0 = CpuSeconds();
  t0 = std::chrono::steady_clock::now();
  auto snap = svc.RunOnce();  // the audience snapshot
  if (!snap.ok()) return Fail(snap.status());
  const double snapshot_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  int64_t handled = 0;
  auto progress = std::chrono::steady_clock::now();  // when a member was last handled
  while (true) {
    auto n = svc.RunOnce();
    if (!n.ok()) return Fail(n.status());
    handled += *n;
    if (*n > 0) {
      progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - progress > std::chrono::seconds(10)) {
      // A campaign step that keeps failing is logged by RunOnce, not returned.
      return Fail(absl::DeadlineExceededError("no member handled for 10 s: see the log"));
    }
    auto c = svc.Get(created->id);
    if (!c.ok()) return Fail(c.status());
    if (c->status == "completed") break;
  }
  const double send_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu_s = CpuSeconds() - cpu0;
  auto report = svc.GetReport(created->id);
  if (!report.ok()) return Fail(report.status());
  std::printf(
      "audience %lld (holdout %lld): snapshot %.2f s; %lld members handled in %.2f s = "
      "%.0f messages/s (sent %lld, suppressed %lld)\n",
      static_cast<long long>(report->audience), static_cast<long long>(report->holdout), snapshot_s,
      static_cast<long long>(handled), send_s, handled / send_s,
      static_cast<long long>(report->sent), static_cast<long long>(report->suppressed));
  std::printf(
      "snapshot and send: %.2f s = %.0f messages/s; %.2f CPU-s = %.1f us of CPU a message\n",
      snapshot_s + send_s, handled / (snapshot_s + send_s), cpu_s, cpu_s * 1e6 / handled);

  // The oracle: the outbox itself.
  std::set<std::string> holdout_members;
  uint32_t after = 0;
  while (true) {
    auto page = svc.Members(created->id, after, 10000);
    if (!page.ok()) return Fail(page.status());
    if (page->empty()) break;
    after = page->back().uid;
    for (const CampaignMember& m : *page) {
      if (m.state == "holdout") holdout_members.insert(m.customer);
    }
  }
  std::map<std::pair<std::string, int64_t>, int> per_day;
  int64_t outbox = 0, quiet = 0, cap = 0, to_holdout = 0, after_id = 0;
  while (true) {
    auto rows = store.ListOutbox("", after_id, 10000);
    if (!rows.ok()) return Fail(rows.status());
    if (rows->empty()) break;
    after_id = rows->back().id;
    for (const OutboxRow& r : *rows) {
      ++outbox;
      const int32_t m = outreach::LocalMinuteOfDay(r.created_ms, 8 * 60);
      if (outreach::InQuietHours(m, policy.quiet_start_minute, policy.quiet_end_minute)) ++quiet;
      if (++per_day[{r.customer, outreach::LocalDay(r.created_ms, 8 * 60)}] > 1) ++cap;
      if (holdout_members.contains(r.customer)) ++to_holdout;
    }
  }
  std::printf(
      "outbox: %lld messages; day-cap violations %lld, quiet-hour violations %lld, "
      "holdout contacted %lld\n",
      static_cast<long long>(outbox), static_cast<long long>(cap), static_cast<long long>(quiet),
      static_cast<long long>(to_holdout));
  return (cap == 0 && quiet == 0 && to_holdout == 0 && outbox == report->sent) ? 0 : 3;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) {
  mercator::ApplyReleaseMode();  // as mercator serve runs
  CLI::App cli{"A campaign to a demo bank through CampaignService (bench/campaign/run.sh)"};
  std::string dir;
  uint64_t customers = 100000;
  int64_t throttle = 1000000;
  int holdout = 10;
  cli.add_option("--dir", dir, "Data directory holding a demo bank")->required();
  cli.add_option("--customers", customers, "Customers of the demo bank")->capture_default_str();
  cli.add_option("--throttle", throttle, "Campaign throttle per second")->capture_default_str();
  cli.add_option("--holdout", holdout, "Holdout percent")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  return mercator::Run(dir, customers, throttle, holdout);
}
