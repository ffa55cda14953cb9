// The PostgreSQL peer of the event ingestion benchmark (bench/events/http.sh): the same events
// that mercator received over HTTP, inserted into PostgreSQL 15 the way PostgreSQL-backed
// CDPs write them: 100-row INSERT statements (each its own durable transaction,
// synchronous_commit on) into an events table keyed by (source, event id) with an index for
// customer timelines, from several connections at once.
//
//   pg_events --pg "host=... dbname=..." --connections N --batch B FILE.tsv...
//
// Prints one line: "pg-result events=... seconds=... per_second=... p50_ms=... p99_ms=...".
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"

namespace {

struct Row {
  std::string id, type, customer, occurred_ms, properties;
};

std::vector<Row> Load(const std::vector<std::string>& files) {
  std::vector<Row> rows;
  std::string line;
  for (const std::string& path : files) {
    std::ifstream in(path);
    while (std::getline(in, line)) {
      Row r;
      size_t a = line.find('\t'), b = line.find('\t', a + 1), c = line.find('\t', b + 1),
             d = line.find('\t', c + 1);
      if (d == std::string::npos) continue;
      r.id = line.substr(0, a);
      r.type = line.substr(a + 1, b - a - 1);
      r.customer = line.substr(b + 1, c - b - 1);
      r.occurred_ms = line.substr(c + 1, d - c - 1);
      r.properties = line.substr(d + 1);
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

PGconn* Connect(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "pg: %s\n", PQerrorMessage(c));
    std::exit(1);
  }
  return c;
}

void Exec(PGconn* c, const char* sql) {
  PGresult* r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    std::fprintf(stderr, "pg: %s: %s\n", sql, PQerrorMessage(c));
    std::exit(1);
  }
  PQclear(r);
}

}  // namespace

int main(int argc, char** argv) {
  std::string conninfo;
  int connections = 16;
  size_t batch = 100;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--pg" && i + 1 < argc) {
      conninfo = argv[++i];
    } else if (a == "--connections" && i + 1 < argc) {
      connections = std::atoi(argv[++i]);
    } else if (a == "--batch" && i + 1 < argc) {
      batch = static_cast<size_t>(std::atoi(argv[++i]));
    } else {
      files.push_back(a);
    }
  }
  if (conninfo.empty() || files.empty() || connections < 1 || batch < 1) {
    std::fprintf(stderr, "usage: pg_events --pg CONNINFO [--connections N] [--batch B] FILE...\n");
    return 2;
  }
  const std::vector<Row> rows = Load(files);
  {
    PGconn* c = Connect(conninfo);
    Exec(c, "DROP TABLE IF EXISTS events");
    Exec(c,
         "CREATE TABLE events (source text NOT NULL, id text NOT NULL, type text NOT NULL, "
         "customer text NOT NULL, occurred_at timestamptz NOT NULL, "
         "received_at timestamptz NOT NULL DEFAULT now(), properties jsonb NOT NULL, "
         "PRIMARY KEY (source, id))");
    Exec(c, "CREATE INDEX events_customer ON events (customer, occurred_at)");
    PQfinish(c);
  }
  // The statement: INSERT ... VALUES ($1..$5), ($6..$10), ... ON CONFLICT DO NOTHING (an
  // idempotent re-send, as the mercator endpoint is).
  std::string sql =
      "INSERT INTO events (source, id, type, customer, occurred_at, properties) VALUES ";
  for (size_t r = 0; r < batch; ++r) {
    if (r > 0) sql += ",";
    fmt::format_to(std::back_inserter(sql),
                   "('bench', ${}, ${}, ${}, to_timestamp(${}::bigint / 1000.0), ${}::jsonb)",
                   5 * r + 1, 5 * r + 2, 5 * r + 3, 5 * r + 4, 5 * r + 5);
  }
  sql += " ON CONFLICT DO NOTHING";
  const size_t batches = rows.size() / batch;
  std::atomic<size_t> next{0};
  std::vector<std::vector<double>> latencies(connections);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      PGconn* c = Connect(conninfo);
      PGresult* prep = PQprepare(c, "ins", sql.c_str(), 0, nullptr);
      if (PQresultStatus(prep) != PGRES_COMMAND_OK) {
        std::fprintf(stderr, "pg: prepare: %s\n", PQerrorMessage(c));
        std::exit(1);
      }
      PQclear(prep);
      std::vector<const char*> values(5 * batch);
      for (;;) {
        const size_t b = next.fetch_add(1);
        if (b >= batches) break;
        for (size_t r = 0; r < batch; ++r) {
          const Row& row = rows[b * batch + r];
          values[5 * r] = row.id.c_str();
          values[5 * r + 1] = row.type.c_str();
          values[5 * r + 2] = row.customer.c_str();
          values[5 * r + 3] = row.occurred_ms.c_str();
          values[5 * r + 4] = row.properties.c_str();
        }
        const auto t0 = std::chrono::steady_clock::now();
        PGresult* res = PQexecPrepared(c, "ins", static_cast<int>(values.size()), values.data(),
                                       nullptr, nullptr, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
          std::fprintf(stderr, "pg: insert: %s\n", PQerrorMessage(c));
          std::exit(1);
        }
        PQclear(res);
        latencies[t].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
      }
      PQfinish(c);
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf("pg-result events=%zu seconds=%.3f per_second=%.0f p50_ms=%.3f p99_ms=%.3f\n",
              batches * batch, seconds, static_cast<double>(batches * batch) / seconds, pct(0.50),
              pct(0.99));
  return 0;
}
