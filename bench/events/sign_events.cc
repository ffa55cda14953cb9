// Writes pre-signed event batches for wrk (bench/events/http.sh, bench/README.md), and the same
// events as tab-separated lines for the PostgreSQL peer (bench/events/pg_events.cc).
//
// wrk's LuaJIT has no HMAC, so the requests are signed here, just before the run, with the
// server's own signing code (auth::SignRequest): each has a fresh nonce and the current
// timestamp. Each request is POST /v1/events with a JSON array of --batch events of the demo
// bank's customers (customer/demo_bank.h): logins, page views, purchases, transfers and card
// binds with their properties, unique event ids, occurred within the last day.
//
//   sign_events --key-id ck_... --secret cs_... --requests N --batch B --files K
//               --customers C --port P --out PREFIX [--run TAG]
//
// Files: PREFIX.<k> for wrk thread k (per request: its byte length in decimal, "\n", the raw
// HTTP/1.1 request; bench/draw/replay.lua sends each once); the same events, one per line
// (id, type, customer, occurred_ms, properties as JSON) in PREFIX.tsv.<k>.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "auth/request_signing.h"
#include "customer/demo_bank.h"
#include "fmt/format.h"

namespace mercator {
namespace {

struct Args {
  std::string key_id;
  std::string secret;
  int64_t requests = 10000;
  int batch = 100;
  int files = 2;
  uint64_t customers = 100000;
  int port = 8080;
  std::string out;
  std::string run = "r";
};

struct Generated {
  std::string type;
  std::string properties;  // JSON object
};

Generated EventAt(uint64_t k) {
  switch (k % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
      return {"login", R"({"channel":"app"})"};
    case 4:
    case 5:
    case 6:
      return {"page_view",
              fmt::format(R"({{"page":"wealth/{}","duration_ms":{}}})", k % 97, 1000 + k % 60000)};
    case 7:
      return {"purchase", fmt::format(R"({{"product":"WM{:03}","amount":"{}.{:02}",)"
                                      R"("category":"wealth"}})",
                                      k % 300, 1000 + k % 90000, k % 100)};
    case 8:
      return {"transfer", fmt::format(R"({{"amount":"{}.00","direction":"out"}})", 10 + k % 20000)};
    default:
      return {"card_bind", R"({"card_type":"debit"})"};
  }
}

void WriteFile(const Args& a, int file, int64_t now_ms, std::FILE* tsv) {
  const std::string path = fmt::format("{}.{}", a.out, file);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  const int64_t per_file = a.requests / a.files;
  constexpr uint64_t kStep = 7919;
  std::string body, request, lines;
  for (int64_t i = 0; i < per_file; ++i) {
    const uint64_t n =
        static_cast<uint64_t>(i) * static_cast<uint64_t>(a.files) + static_cast<uint64_t>(file);
    body = "[";
    lines.clear();
    for (int j = 0; j < a.batch; ++j) {
      const uint64_t k = n * static_cast<uint64_t>(a.batch) + static_cast<uint64_t>(j);
      const std::string customer = DemoExternalId((k * kStep) % a.customers);
      const Generated g = EventAt(k);
      const int64_t at = now_ms - static_cast<int64_t>(k % 86'400'000);
      if (j > 0) body += ",";
      fmt::format_to(std::back_inserter(body),
                     R"({{"id":"{}-{}","type":"{}","customer":"{}","occurred_at":{},)"
                     R"("properties":{}}})",
                     a.run, k, g.type, customer, at, g.properties);
      fmt::format_to(std::back_inserter(lines), "{}-{}\t{}\t{}\t{}\t{}\n", a.run, k, g.type,
                     customer, at, g.properties);
    }
    body += "]";
    const std::string nonce = fmt::format("{}{:016x}{:08x}", a.run, n, file);
    const std::string authorization =
        auth::SignRequest(a.key_id, a.secret, "POST", "/v1/events", body, now_ms, nonce);
    request.clear();
    fmt::format_to(std::back_inserter(request),
                   "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: "
                   "application/json\r\nContent-Length: {}\r\nAuthorization: {}\r\n\r\n{}",
                   a.port, body.size(), authorization, body);
    std::fprintf(f, "%zu\n", request.size());
    std::fwrite(request.data(), 1, request.size(), f);
    if (tsv != nullptr) std::fwrite(lines.data(), 1, lines.size(), tsv);
  }
  std::fclose(f);
}

int Main(int argc, char** argv) {
  Args a;
  CLI::App cli{"Writes pre-signed requests for wrk"};
  cli.add_option("--key-id", a.key_id, "API client key id")->required();
  cli.add_option("--secret", a.secret, "API client secret")->required();
  cli.add_option("--batch", a.batch, "Events per request")->check(CLI::Range(1, 1000));
  cli.add_option("--requests", a.requests, "Requests in all")->check(CLI::PositiveNumber);
  cli.add_option("--files", a.files, "One file per wrk thread")->check(CLI::Range(1, 64));
  cli.add_option("--customers", a.customers, "Demo bank customers")->check(CLI::PositiveNumber);
  cli.add_option("--port", a.port, "The server's port (Host header)");
  cli.add_option("--out", a.out, "Output prefix")->required();
  cli.add_option("--run", a.run, "Tag making ids and nonces unique to this run");
  CLI11_PARSE(cli, argc, argv);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  // One TSV per file, concatenated by the caller if needed; here: file k writes PREFIX.tsv.k.
  std::vector<std::thread> threads;
  for (int f = 0; f < a.files; ++f) {
    threads.emplace_back([&, f] {
      const std::string tsv_path = fmt::format("{}.tsv.{}", a.out, f);
      std::FILE* tsv = std::fopen(tsv_path.c_str(), "wb");
      if (tsv == nullptr) {
        std::perror(tsv_path.c_str());
        std::exit(1);
      }
      WriteFile(a, f, now_ms, tsv);
      std::fclose(tsv);
    });
  }
  for (std::thread& t : threads) t.join();
  return 0;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) { return mercator::Main(argc, argv); }
