// Writes pre-signed draw requests for wrk (bench/draw/http.sh, bench/README.md).
//
// wrk's LuaJIT has no HMAC, so the requests are signed here, just before the run, with the
// server's own signing code (auth::SignRequest): each has a fresh nonce, a unique
// Idempotency-Key and the current timestamp (the server accepts 5 minutes of skew, far more
// than a run). One file per wrk thread; bench/draw/replay.lua sends each request once.
//
//   sign_draws --key-id ck_... --secret cs_... --activity ID --requests N --files K
//              --customers C --port P --out PREFIX
//
// File format: for each request, its byte length in decimal, "\n", then the raw HTTP/1.1
// request (keep-alive). Customers are the demo bank's (customer/demo_bank.h), spread evenly
// so that each one draws rarely; each customer has its own device id and, in X-Forwarded-For,
// its own address (as the app back-end forwards its users' addresses; the server reads it
// only when told to trust a proxy).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  int64_t activity = 0;
  int64_t requests = 100000;
  int files = 2;
  uint64_t customers = 100000;
  int port = 8080;
  std::string out;
  std::string run = "r";
};

void WriteFile(const Args& a, int file, int64_t now_ms) {
  const std::string path = fmt::format("{}.{}", a.out, file);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  const std::string target = fmt::format("/v1/app/activities/{}/draw", a.activity);
  const int64_t per_file = a.requests / a.files;
  // Stride through the customers with a step coprime to their count in practice, so that
  // consecutive requests are different customers and repeats are far apart.
  constexpr uint64_t kStep = 7919;
  std::string request;
  for (int64_t i = 0; i < per_file; ++i) {
    const uint64_t n =
        static_cast<uint64_t>(i) * static_cast<uint64_t>(a.files) + static_cast<uint64_t>(file);
    const uint64_t customer = (n * kStep) % a.customers;
    const std::string body =
        fmt::format(R"({{"customer":"{}","channel":"app"}})", DemoExternalId(customer));
    const std::string nonce = fmt::format("{}{:016x}{:08x}", a.run, n, file);
    const std::string authorization =
        auth::SignRequest(a.key_id, a.secret, "POST", target, body, now_ms, nonce);
    request.clear();
    fmt::format_to(std::back_inserter(request),
                   "POST {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n"
                   "Content-Length: {}\r\nAuthorization: {}\r\nIdempotency-Key: {}-{}\r\n"
                   "X-Device-Id: dev-{}\r\nX-Forwarded-For: 10.{}.{}.{}\r\n\r\n{}",
                   target, a.port, body.size(), authorization, a.run, n, customer,
                   (customer >> 16) & 255, (customer >> 8) & 255, customer & 255, body);
    std::fprintf(f, "%zu\n", request.size());
    std::fwrite(request.data(), 1, request.size(), f);
  }
  std::fclose(f);
}

int Main(int argc, char** argv) {
  Args a;
  CLI::App cli{"Writes pre-signed requests for wrk"};
  cli.add_option("--key-id", a.key_id, "API client key id")->required();
  cli.add_option("--secret", a.secret, "API client secret")->required();
  cli.add_option("--activity", a.activity, "The live activity's id")
      ->required()
      ->check(CLI::PositiveNumber);
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
  std::vector<std::thread> threads;
  for (int f = 0; f < a.files; ++f) threads.emplace_back([&, f] { WriteFile(a, f, now_ms); });
  for (std::thread& t : threads) t.join();
  return 0;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) { return mercator::Main(argc, argv); }
