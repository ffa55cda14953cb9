// The SMPP channel's sustained submit rate (bench/README.md, "bench/smpp"): N messages are
// recorded through Outreach::Send while the channel is not started (a backlog, as a campaign
// leaves it), then the channel binds to the SMSC (the npm `smpp` server, tests/smpp_peer, run
// by bench/smpp/run.sh) and submits them with the configured window. The rate is the messages
// (and segments) accepted per second from the start (the binds) to the last accepted segment;
// the peer's own count of accepted submit_sm is printed by run.sh next to it.
//
//   smpp_bench --port P --dir D [--messages N] [--window W] [--connections C] [--long]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "outreach/smpp_channel.h"
#include "server/app.h"

namespace mercator {
namespace {

constexpr char kShort[] = "【示例银行】{{name}}您好，您的服务通知：{{product}}已受理。回T退订";
constexpr char kLong[] =
    "【示例银行】{{name}}您好，{{product}}：尊敬的客户，感谢您一直以来对本行的信任与支持，"
    "本行特为您准备了专属理财礼包，包含高收益定期存款与基金申购费率优惠，活动期间登录手机银行"
    "即可领取，名额有限，先到先得，详情请咨询您的客户经理或拨打客服热线。回T退订";

int Run(int argc, char** argv) {
  int64_t messages = 20000;
  int port = 0;
  int window = 16;
  int connections = 1;
  bool long_text = false;
  std::string dir;
  CLI::App cli{"SMPP channel submit rate against an SMSC on 127.0.0.1"};
  cli.add_option("--messages", messages, "Messages to send")->check(CLI::PositiveNumber);
  cli.add_option("--port", port, "The SMSC's port")->required();
  cli.add_option("--window", window, "submit_sm outstanding at once, per connection")
      ->check(CLI::PositiveNumber);
  cli.add_option("--connections", connections, "Binds to the SMSC at once")
      ->check(CLI::Range(1, 16));
  cli.add_option("--dir", dir, "Data directory (created)")->required();
  cli.add_flag("--long", long_text,
               "Two-segment messages (a longer text) instead of one-segment ones");
  CLI11_PARSE(cli, argc, argv);

  AppOptions options;
  options.data_dir = dir;
  options.port = 0;
  options.io_threads = 1;
  options.task_rules_interval_ms = 0;
  options.fulfilment_interval_ms = 0;
  options.points_expiry_interval_ms = 0;
  options.smpp.host = "127.0.0.1";
  options.smpp.port = port;
  options.smpp.system_id = "bench";
  options.smpp.password = "bench";
  options.smpp.source_addr = "10690001";
  options.smpp.window = window;
  options.smpp.connections = connections;
  options.smpp.batch = 4096;
  absl::StatusOr<std::unique_ptr<App>> opened = App::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(opened.status().message()).c_str());
    return 1;
  }
  App& app = **opened;

  // Service messages (no consent, caps or quiet hours in the way), one customer each.
  std::vector<CustomerUpsert> batch;
  for (int64_t i = 0; i < messages; ++i) {
    CustomerUpsert u;
    u.external_id = "B" + std::to_string(i);
    u.name = "客户" + std::to_string(i);
    u.phone = std::to_string(13800000000LL + i);
    batch.push_back(std::move(u));
    if (batch.size() == 5000 || i + 1 == messages) {
      auto r = app.customers().Upsert(std::move(batch));
      if (!r.ok()) {
        std::fprintf(stderr, "customers: %s\n", std::string(r.status().message()).c_str());
        return 1;
      }
      batch.clear();
    }
  }
  Principal maker;
  maker.kind = Principal::Kind::kStaff;
  maker.id = "maker";
  maker.user_id = 1;
  maker.permissions = {"approvals:submit"};
  Principal checker = maker;
  checker.id = "checker";
  checker.user_id = 2;
  checker.permissions = {"approvals:decide"};
  outreach::TemplateSpec spec;
  spec.name = "bench";
  spec.channel = "sms";
  spec.purpose = "service";
  spec.body = long_text ? kLong : kShort;
  auto tmpl = app.templates().Create(spec, maker);
  if (!tmpl.ok()) {
    std::fprintf(stderr, "template: %s\n", std::string(tmpl.status().message()).c_str());
    return 1;
  }
  auto submitted = app.templates().Submit(tmpl->id, maker, {});
  if (!submitted.ok() ||
      !app.approvals().Approve(submitted->approval_id, checker, "bench", {}).ok()) {
    std::fprintf(stderr, "template approval failed\n");
    return 1;
  }

  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < messages; ++i) {
    outreach::Message m;
    m.customer = "B" + std::to_string(i);
    m.channel = "sms";
    m.purpose = "service";
    m.template_id = std::to_string(tmpl->id);
    m.variables["product"] = "业务" + std::to_string(i);
    m.origin = "bench";
    m.dedupe_key = "bench:" + std::to_string(i);
    auto r = app.outreach().Send(m);
    if (!r.ok() || r->outcome != outreach::SendResult::Outcome::kSent) {
      std::fprintf(stderr, "send %lld failed\n", static_cast<long long>(i));
      return 1;
    }
  }
  const double record_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The backlog goes out: bind, then submits with the window until every record is submitted.
  const auto t1 = std::chrono::steady_clock::now();
  if (!app.Start().ok()) {
    std::fprintf(stderr, "start failed\n");
    return 1;
  }
  outreach::SmppChannel* channel = app.smpp_channel();
  for (;;) {
    auto counts = app.smpp_store().CountByState();
    if (counts.ok() && (*counts)["submitted"] + (*counts)["failed"] >= messages) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double submit_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const outreach::SmppChannel::Stats st = channel->stats();
  auto counts = app.smpp_store().CountByState();
  std::printf(
      "mercator: messages=%lld segments_accepted=%lld submits=%lld throttled=%lld failed=%lld "
      "window=%d connections=%d seconds=%.3f messages_per_s=%.0f segments_per_s=%.0f (recording "
      "the backlog "
      "through Outreach::Send took %.3f s)\n",
      static_cast<long long>(messages), static_cast<long long>(st.accepted),
      static_cast<long long>(st.submits), static_cast<long long>(st.throttled),
      static_cast<long long>(counts.ok() ? (*counts)["failed"] : -1), window, connections, submit_s,
      static_cast<double>(messages) / submit_s, static_cast<double>(st.accepted) / submit_s,
      record_s);
  app.Shutdown();
  return 0;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) { return mercator::Run(argc, argv); }
