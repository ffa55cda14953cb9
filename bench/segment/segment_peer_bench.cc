// Audience counts at bank scale: Mercator's SegmentIndex against PostgreSQL and SQLite on the
// same customers (a CSV written by bench_demo_csv) and the same ten rules of 1 to 10 terms.
//
//   segment_peer_bench --csv FILE [--pg CONNINFO] [--sqlite DB] [--runs 200]
//                      [--peer-runs 10] [--peer-budget-s 20] [--mercator-snapshot FILE]
//                      [--load-only] [--explain] [--rule K]
//
// Mercator: the CSV is parsed with ParseTagValue against DemoCatalog() and loaded with
// SegmentIndex::ApplyBatch, or, with --mercator-snapshot, the index snapshot that
// `mercator import` of the same CSV wrote is loaded (faster at 10M; same customers, other
// uids). A query is ParseDsl + SegmentIndex::Count in this process. --load-only builds the
// peers' databases and stops (no Mercator, no queries). --explain prints the peers' plans;
// --rule K times rule K alone (for profiling).
// PostgreSQL: one table, loaded with COPY; B-tree indexes on every queried column and GIN on
// the multi-valued tags (text[]); VACUUM ANALYZE. A query is PQexec of SELECT count(*) over a
// unix socket. SQLite: one table for single-valued tags plus one side table per multi-valued
// tag, (value, uid) as a WITHOUT ROWID primary key; B-tree indexes on every queried column;
// ANALYZE. The database file is kept next to the CSV and reused while the CSV is unchanged.
// A query is prepare + step + finalize.
//
// Each query is timed by the wall clock around the call, after one warm-up run; Mercator runs
// `runs` times, the peers `peer-runs` times or until `peer-budget-s` seconds have been spent
// on the rule (at least 3 runs). All three engines must return the same count: a mismatch is
// printed and the exit status is 1. Targets are printed, never asserted.
#include <libpq-fe.h>
#include <malloc.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "customer/demo_bank.h"
#include "customer/tag.h"
#include "segment/bitmap_index.h"
#include "segment/dsl.h"
#include "segment/rule.h"

namespace mercator {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "segment_peer_bench: %s\n", message.c_str());
  std::exit(2);
}

// One audience rule in the DSL and as hand-written SQL for each peer. The SQL keeps the
// rule semantics (segment/rule.h): a term is false for a customer without a value (SQL's
// NULL in WHERE does the same), and `not` keeps customers without a value, hence
// IS DISTINCT FROM / IS NOT and coalesce(..., false) under NOT.
struct BenchRule {
  std::string dsl;
  std::string pg_where;
  std::string sqlite_where;
};

// Dates are relative to bench_demo_csv's default --today 2025-06-30.
std::vector<BenchRule> Rules() {
  return {
      {R"(aum >= 50000)", "aum >= 5000000", "aum >= 5000000"},
      {R"(aum >= 50000 and has(products, "wealth"))",
       "aum >= 5000000 AND products @> ARRAY['wealth']",
       "aum >= 5000000 AND uid IN (SELECT uid FROM tag_products WHERE value = 'wealth')"},
      {R"(age between 25 and 35 and province in ("浙江", "上海") and aum >= 50000)",
       "age BETWEEN 25 AND 35 AND province IN ('浙江', '上海') AND aum >= 5000000",
       "age BETWEEN 25 AND 35 AND province IN ('浙江', '上海') AND aum >= 5000000"},
      {R"(city = "杭州" and has_app = true and last_login >= "2025-06-01" and not level = "normal")",
       "city = '杭州' AND has_app = true AND last_login >= DATE '2025-06-01' "
       "AND level IS DISTINCT FROM 'normal'",
       "city = '杭州' AND has_app = 1 AND last_login >= '2025-06-01' AND level IS NOT 'normal'"},
      {R"(age between 25 and 35 and province in ("浙江", "上海") and has(products, "wealth") )"
       R"(and not lifecycle = "churned" and aum >= 50000)",
       "age BETWEEN 25 AND 35 AND province IN ('浙江', '上海') AND products @> ARRAY['wealth'] "
       "AND lifecycle IS DISTINCT FROM 'churned' AND aum >= 5000000",
       "age BETWEEN 25 AND 35 AND province IN ('浙江', '上海') "
       "AND uid IN (SELECT uid FROM tag_products WHERE value = 'wealth') "
       "AND lifecycle IS NOT 'churned' AND aum >= 5000000"},
      {R"(level in ("gold", "platinum", "private") and has(interests, "travel", "food") )"
       R"(and consent_sms = true and risk_rating in ("C3", "C4", "C5") and age >= 40 )"
       R"(and not has(products, "insurance"))",
       "level IN ('gold', 'platinum', 'private') AND interests && ARRAY['travel', 'food'] "
       "AND consent_sms = true AND risk_rating IN ('C3', 'C4', 'C5') AND age >= 40 "
       "AND NOT coalesce(products @> ARRAY['insurance'], false)",
       "level IN ('gold', 'platinum', 'private') "
       "AND uid IN (SELECT uid FROM tag_interests WHERE value IN ('travel', 'food')) "
       "AND consent_sms = 1 AND risk_rating IN ('C3', 'C4', 'C5') AND age >= 40 "
       "AND uid NOT IN (SELECT uid FROM tag_products WHERE value = 'insurance')"},
      {R"(gender = "female" and age between 30 and 45 and has(interests, "parenting") )"
       R"(and has(products, "credit_card") and consent_push = true )"
       R"(and city in ("杭州", "上海", "深圳", "北京") and txn_count_30d >= 5)",
       "gender = 'female' AND age BETWEEN 30 AND 45 AND interests @> ARRAY['parenting'] "
       "AND products @> ARRAY['credit_card'] AND consent_push = true "
       "AND city IN ('杭州', '上海', '深圳', '北京') AND txn_count_30d >= 5",
       "gender = 'female' AND age BETWEEN 30 AND 45 "
       "AND uid IN (SELECT uid FROM tag_interests WHERE value = 'parenting') "
       "AND uid IN (SELECT uid FROM tag_products WHERE value = 'credit_card') "
       "AND consent_push = 1 AND city IN ('杭州', '上海', '深圳', '北京') AND txn_count_30d >= 5"},
      {R"(lifecycle in ("active", "dormant") and aum between 10000 and 500000 and has_app = true )"
       R"(and last_login between "2024-07-01" and "2025-05-31" and churn_score >= 60 )"
       R"(and not has(products, "consumer_loan") and consent_sms = true and age < 60)",
       "lifecycle IN ('active', 'dormant') AND aum BETWEEN 1000000 AND 50000000 "
       "AND has_app = true AND last_login BETWEEN DATE '2024-07-01' AND DATE '2025-05-31' "
       "AND churn_score >= 60 AND NOT coalesce(products @> ARRAY['consumer_loan'], false) "
       "AND consent_sms = true AND age < 60",
       "lifecycle IN ('active', 'dormant') AND aum BETWEEN 1000000 AND 50000000 "
       "AND has_app = 1 AND last_login BETWEEN '2024-07-01' AND '2025-05-31' "
       "AND churn_score >= 60 "
       "AND uid NOT IN (SELECT uid FROM tag_products WHERE value = 'consumer_loan') "
       "AND consent_sms = 1 AND age < 60"},
      {R"(has_all(products, "deposit", "time_deposit") )"
       R"(and deposit_maturity between "2025-07-01" and "2025-07-31" and level != "normal" )"
       R"(and risk_rating in ("C3", "C4", "C5") and wealth_propensity >= 50 )"
       R"(and not has(products, "wealth") and consent_sms = true and exists(manager) )"
       R"(and age >= 30)",
       "products @> ARRAY['deposit', 'time_deposit'] "
       "AND deposit_maturity BETWEEN DATE '2025-07-01' AND DATE '2025-07-31' "
       "AND level <> 'normal' AND risk_rating IN ('C3', 'C4', 'C5') AND wealth_propensity >= 50 "
       "AND NOT coalesce(products @> ARRAY['wealth'], false) AND consent_sms = true "
       "AND manager IS NOT NULL AND age >= 30",
       "uid IN (SELECT uid FROM tag_products WHERE value = 'deposit') "
       "AND uid IN (SELECT uid FROM tag_products WHERE value = 'time_deposit') "
       "AND deposit_maturity BETWEEN '2025-07-01' AND '2025-07-31' "
       "AND level <> 'normal' AND risk_rating IN ('C3', 'C4', 'C5') AND wealth_propensity >= 50 "
       "AND uid NOT IN (SELECT uid FROM tag_products WHERE value = 'wealth') "
       "AND consent_sms = 1 AND manager IS NOT NULL AND age >= 30"},
      {R"(age between 25 and 55 and province in ("浙江", "上海", "江苏", "广东") )"
       R"(and has(products, "wealth", "fund") and not lifecycle = "churned" and aum >= 50000 )"
       R"(and has_app = true and last_txn >= "2025-05-01" and risk_rating in ("C3", "C4", "C5") )"
       R"(and consent_push = true and birth_month between 6 and 8)",
       "age BETWEEN 25 AND 55 AND province IN ('浙江', '上海', '江苏', '广东') "
       "AND products && ARRAY['wealth', 'fund'] AND lifecycle IS DISTINCT FROM 'churned' "
       "AND aum >= 5000000 AND has_app = true AND last_txn >= DATE '2025-05-01' "
       "AND risk_rating IN ('C3', 'C4', 'C5') AND consent_push = true "
       "AND birth_month BETWEEN 6 AND 8",
       "age BETWEEN 25 AND 55 AND province IN ('浙江', '上海', '江苏', '广东') "
       "AND uid IN (SELECT uid FROM tag_products WHERE value IN ('wealth', 'fund')) "
       "AND lifecycle IS NOT 'churned' AND aum >= 5000000 AND has_app = 1 "
       "AND last_txn >= '2025-05-01' AND risk_rating IN ('C3', 'C4', 'C5') "
       "AND consent_push = 1 AND birth_month BETWEEN 6 AND 8"},
  };
}

void CollectFields(const Rule& r, std::set<std::string>& out) {
  if (!r.field.empty()) out.insert(r.field);
  for (const Rule& c : r.children) CollectFields(c, out);
}

size_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

double GiB(size_t bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

// Splits one CSV line on commas (bench_demo_csv never quotes).
void SplitLine(std::string_view line, std::vector<std::string_view>& cells) {
  cells.clear();
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      cells.push_back(line.substr(start));
      return;
    }
    cells.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
}

// Reads the CSV in blocks of lines.
class CsvBlocks {
 public:
  explicit CsvBlocks(const std::string& path) : in_(path, std::ios::binary) {
    if (!in_) Die("cannot read " + path);
    std::getline(in_, header_line_);
    struct stat st;
    if (stat(path.c_str(), &st) == 0) size_ = st.st_size;
  }
  const std::string& header() const { return header_line_; }
  uint64_t size() const { return size_; }
  // Fills `lines` with up to `n` lines; false at end of file.
  bool Next(size_t n, std::vector<std::string>& lines) {
    lines.resize(n);
    size_t got = 0;
    while (got < n && std::getline(in_, lines[got])) {
      if (!lines[got].empty()) ++got;
    }
    lines.resize(got);
    return got > 0;
  }
  uint64_t position() { return static_cast<uint64_t>(std::max<std::streamoff>(0, in_.tellg())); }

 private:
  std::ifstream in_;
  std::string header_line_;
  uint64_t size_ = 0;
};

struct Columns {
  std::vector<TagDef> catalog;
  std::vector<int> index;  // per catalog entry: its column in the CSV
  int id_column = -1;
  size_t width = 0;
};

Columns MapColumns(const std::string& header) {
  Columns c;
  c.catalog = DemoCatalog();
  std::vector<std::string_view> names;
  SplitLine(header, names);
  c.width = names.size();
  auto find = [&](std::string_view key) -> int {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == key) return static_cast<int>(i);
    }
    Die("the CSV has no column " + std::string(key));
  };
  c.id_column = find("customer_id");
  for (const TagDef& d : c.catalog) c.index.push_back(find(d.key));
  return c;
}

void Progress(const char* what, uint64_t rows, uint64_t bytes_done, uint64_t bytes_total,
              SteadyClock::time_point start) {
  const double s = SecondsSince(start);
  std::fprintf(stderr, "\r%s: %llu rows (%.0f%%), %.0f rows/s, %.0f s   ", what,
               static_cast<unsigned long long>(rows),
               bytes_total ? 100.0 * bytes_done / bytes_total : 0.0, rows / std::max(s, 1e-9), s);
}

// ---- Mercator --------------------------------------------------------------------------

using Batch = std::vector<std::pair<uint32_t, TagChanges>>;

void ParseRows(const Columns& cols, const std::vector<std::string>& lines, size_t begin, size_t end,
               uint32_t first_uid, Batch& out) {
  std::vector<std::string_view> cells;
  out.clear();
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    SplitLine(lines[i], cells);
    if (cells.size() != cols.width) Die("a row has the wrong number of cells: " + lines[i]);
    TagChanges changes;
    for (size_t t = 0; t < cols.catalog.size(); ++t) {
      const std::string_view cell = cells[cols.index[t]];
      if (cell.empty()) continue;
      absl::StatusOr<TagValue> v = ParseTagValue(cols.catalog[t], cell);
      if (!v.ok()) Die(cols.catalog[t].key + ": " + std::string(v.status().message()));
      changes.emplace_hint(changes.end(), cols.catalog[t].key, *std::move(v));
    }
    out.emplace_back(first_uid + static_cast<uint32_t>(i - begin), std::move(changes));
  }
}

// Loads the CSV into `index`, parsing on two threads; uids are the 0-based row numbers.
uint64_t LoadMercator(const std::string& csv, SegmentIndex& index) {
  CsvBlocks in(csv);
  const Columns cols = MapColumns(in.header());
  for (const TagDef& d : cols.catalog) {
    if (absl::Status s = index.DefineTag(d); !s.ok()) Die(std::string(s.message()));
  }
  const auto start = SteadyClock::now();
  std::vector<std::string> lines;
  Batch a, b;
  uint32_t uid = 0;
  while (in.Next(100000, lines)) {
    const size_t half = lines.size() / 2;
    std::thread t([&] { ParseRows(cols, lines, half, lines.size(), uid + half, b); });
    ParseRows(cols, lines, 0, half, uid, a);
    t.join();
    for (Batch* batch : {&a, &b}) {
      if (absl::Status s = index.ApplyBatch(*batch); !s.ok()) Die(std::string(s.message()));
    }
    uid += static_cast<uint32_t>(lines.size());
    Progress("mercator load", uid, in.position(), in.size(), start);
  }
  std::fprintf(stderr, "\n");
  return uid;
}

// ---- Peers: shared row conversion --------------------------------------------------------

// Values of a decimal column in stored units (fen for aum), as text.
std::string ScaledDecimal(const TagDef& def, std::string_view cell) {
  absl::StatusOr<TagValue> v = ParseTagValue(def, cell);
  if (!v.ok()) Die(def.key + ": " + std::string(v.status().message()));
  return std::to_string(std::get<int64_t>(*v));
}

std::string PgType(const TagDef& d) {
  switch (d.type) {
    case TagType::kBool:
      return "boolean";
    case TagType::kEnum:
      return "text";
    case TagType::kMultiEnum:
      return "text[]";
    case TagType::kInt:
    case TagType::kDecimal:
      return "bigint";
    case TagType::kDate:
      return "date";
  }
  return "text";
}

std::string SqliteType(const TagDef& d) {
  switch (d.type) {
    case TagType::kBool:
    case TagType::kInt:
    case TagType::kDecimal:
      return "INTEGER";
    default:
      return "TEXT";
  }
}

// ---- PostgreSQL --------------------------------------------------------------------------

class Pg {
 public:
  explicit Pg(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) Die("postgres: " + std::string(PQerrorMessage(conn_)));
  }
  ~Pg() { PQfinish(conn_); }
  void Exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      const std::string err = PQresultErrorMessage(r);
      PQclear(r);
      Die("postgres: " + sql.substr(0, 200) + ": " + err);
    }
    PQclear(r);
  }
  uint64_t Count(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
      const std::string err = PQresultErrorMessage(r);
      PQclear(r);
      Die("postgres: " + sql + ": " + err);
    }
    const uint64_t n = std::strtoull(PQgetvalue(r, 0, 0), nullptr, 10);
    PQclear(r);
    return n;
  }
  void CopyBegin(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    if (PQresultStatus(r) != PGRES_COPY_IN)
      Die("postgres: COPY: " + std::string(PQerrorMessage(conn_)));
    PQclear(r);
  }
  void CopyData(const std::string& data) {
    if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1) {
      Die("postgres: COPY data: " + std::string(PQerrorMessage(conn_)));
    }
  }
  void CopyEnd() {
    if (PQputCopyEnd(conn_, nullptr) != 1) Die("postgres: COPY end");
    PGresult* r = PQgetResult(conn_);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      Die("postgres: COPY: " + std::string(PQresultErrorMessage(r)));
    }
    PQclear(r);
    while ((r = PQgetResult(conn_)) != nullptr) PQclear(r);
  }
  // The first column of every row, e.g. the lines of EXPLAIN.
  std::vector<std::string> Lines(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::vector<std::string> out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return out;
  }
  std::string Scalar(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                        ? std::string(PQgetvalue(r, 0, 0))
                        : std::string();
    PQclear(r);
    return v;
  }

 private:
  PGconn* conn_;
};

// Appends one customer as a COPY text row.
void PgRow(const Columns& cols, const std::vector<std::string_view>& cells, uint64_t uid,
           std::string& out) {
  out += std::to_string(uid);
  out += '\t';
  out += cells[cols.id_column];
  for (size_t t = 0; t < cols.catalog.size(); ++t) {
    const TagDef& d = cols.catalog[t];
    const std::string_view cell = cells[cols.index[t]];
    out += '\t';
    if (cell.empty()) {
      out += "\\N";
    } else if (d.type == TagType::kMultiEnum) {
      out += '{';
      for (char ch : cell) out += ch == '|' ? ',' : ch;
      out += '}';
    } else if (d.type == TagType::kDecimal) {
      out += ScaledDecimal(d, cell);
    } else {
      out += cell;  // bool true/false, ints, enums and YYYY-MM-DD dates as PostgreSQL reads them
    }
  }
  out += '\n';
}

// ---- SQLite ------------------------------------------------------------------------------

class Lite {
 public:
  explicit Lite(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) Die("sqlite: cannot open " + path);
  }
  ~Lite() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string e = err ? err : "?";
      sqlite3_free(err);
      Die("sqlite: " + sql.substr(0, 200) + ": " + e);
    }
  }
  sqlite3_stmt* Prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      Die("sqlite: " + sql + ": " + sqlite3_errmsg(db_));
    }
    return s;
  }
  void Step(sqlite3_stmt* s) {
    if (sqlite3_step(s) != SQLITE_DONE) Die(std::string("sqlite: ") + sqlite3_errmsg(db_));
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  uint64_t Count(const std::string& sql) {
    sqlite3_stmt* s = Prepare(sql);
    if (sqlite3_step(s) != SQLITE_ROW) Die(std::string("sqlite: ") + sqlite3_errmsg(db_));
    const uint64_t n = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
    return n;
  }
  // The `detail` column of EXPLAIN QUERY PLAN.
  std::vector<std::string> Plan(const std::string& sql) {
    sqlite3_stmt* s = Prepare("EXPLAIN QUERY PLAN " + sql);
    std::vector<std::string> out;
    while (sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 3);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    sqlite3_finalize(s);
    return out;
  }
  std::string Scalar(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    std::string v;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      if (t) v = reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(s);
    return v;
  }

 private:
  sqlite3* db_ = nullptr;
};

struct LiteLoader {
  Lite* db;
  sqlite3_stmt* customer = nullptr;
  std::vector<sqlite3_stmt*> side;  // per catalog entry; null unless multi-enum

  void Row(const Columns& cols, const std::vector<std::string_view>& cells, uint64_t uid) {
    int p = 1;
    sqlite3_bind_int64(customer, p++, static_cast<int64_t>(uid));
    const std::string_view id = cells[cols.id_column];
    sqlite3_bind_text(customer, p++, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    for (size_t t = 0; t < cols.catalog.size(); ++t) {
      const TagDef& d = cols.catalog[t];
      const std::string_view cell = cells[cols.index[t]];
      if (d.type == TagType::kMultiEnum) {
        size_t start = 0;
        while (!cell.empty() && start <= cell.size()) {
          size_t bar = cell.find('|', start);
          if (bar == std::string_view::npos) bar = cell.size();
          const std::string_view v = cell.substr(start, bar - start);
          sqlite3_bind_text(side[t], 1, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
          sqlite3_bind_int64(side[t], 2, static_cast<int64_t>(uid));
          db->Step(side[t]);
          start = bar + 1;
        }
        continue;
      }
      const int col = p++;
      if (cell.empty()) {
        sqlite3_bind_null(customer, col);
      } else if (d.type == TagType::kBool) {
        sqlite3_bind_int(customer, col, cell == "true" ? 1 : 0);
      } else if (d.type == TagType::kInt) {
        sqlite3_bind_int64(customer, col, std::strtoll(std::string(cell).c_str(), nullptr, 10));
      } else if (d.type == TagType::kDecimal) {
        sqlite3_bind_int64(customer, col, std::stoll(ScaledDecimal(d, cell)));
      } else {
        sqlite3_bind_text(customer, col, cell.data(), static_cast<int>(cell.size()),
                          SQLITE_TRANSIENT);
      }
    }
    db->Step(customer);
  }
};

// ---- Loading the peers -------------------------------------------------------------------

std::string CsvStamp(const std::string& csv) {
  struct stat st;
  if (stat(csv.c_str(), &st) != 0) Die("cannot stat " + csv);
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec);
}

// Loads the peers that need it in one pass over the CSV, then builds their indexes.
void LoadPeers(const std::string& csv, Pg* pg, Lite* lite, const std::set<std::string>& queried) {
  CsvBlocks in(csv);
  const Columns cols = MapColumns(in.header());
  std::string pg_columns = "uid, external_id";
  for (const TagDef& d : cols.catalog) pg_columns += ", " + d.key;
  if (pg) {
    std::string ddl =
        "DROP TABLE IF EXISTS customers; CREATE TABLE customers (uid integer, "
        "external_id text";
    for (const TagDef& d : cols.catalog) ddl += ", " + d.key + " " + PgType(d);
    ddl += ")";
    pg->Exec(ddl);
    pg->CopyBegin("COPY customers (" + pg_columns + ") FROM STDIN");
  }
  LiteLoader ll{lite, nullptr, {}};
  if (lite) {
    lite->Exec(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
        "PRAGMA cache_size = -262144; DROP TABLE IF EXISTS customers; "
        "DROP TABLE IF EXISTS bench_meta");
    std::string ddl = "CREATE TABLE customers (uid INTEGER PRIMARY KEY, external_id TEXT";
    std::string ins = "INSERT INTO customers VALUES (?, ?";
    ll.side.assign(cols.catalog.size(), nullptr);
    for (size_t t = 0; t < cols.catalog.size(); ++t) {
      const TagDef& d = cols.catalog[t];
      if (d.type == TagType::kMultiEnum) {
        lite->Exec("DROP TABLE IF EXISTS tag_" + d.key + "; CREATE TABLE tag_" + d.key +
                   " (value TEXT NOT NULL, uid INTEGER NOT NULL, PRIMARY KEY (value, uid)) "
                   "WITHOUT ROWID");
        ll.side[t] = lite->Prepare("INSERT INTO tag_" + d.key + " VALUES (?, ?)");
        continue;
      }
      ddl += ", " + d.key + " " + SqliteType(d);
      ins += ", ?";
    }
    lite->Exec(ddl + ")");
    ll.customer = lite->Prepare(ins + ")");
    lite->Exec("BEGIN");
  }
  const auto start = SteadyClock::now();
  std::vector<std::string> lines;
  std::vector<std::string_view> cells;
  std::string copy;
  uint64_t uid = 0;
  while (in.Next(100000, lines)) {
    copy.clear();
    for (const std::string& line : lines) {
      SplitLine(line, cells);
      if (cells.size() != cols.width) Die("a row has the wrong number of cells: " + line);
      if (pg) PgRow(cols, cells, uid, copy);
      if (lite) ll.Row(cols, cells, uid);
      ++uid;
    }
    if (pg) pg->CopyData(copy);
    if (lite && uid % 1000000 == 0) lite->Exec("COMMIT; BEGIN");
    Progress(pg && lite ? "postgres + sqlite load"
             : pg       ? "postgres load"
                        : "sqlite load",
             uid, in.position(), in.size(), start);
  }
  std::fprintf(stderr, "\n");
  if (pg) pg->CopyEnd();
  if (lite) {
    lite->Exec("COMMIT");
    sqlite3_finalize(ll.customer);
    for (sqlite3_stmt* s : ll.side) sqlite3_finalize(s);
  }
  // Indexes on the queried columns only, as a DBA would for these audiences.
  for (const TagDef& d : cols.catalog) {
    if (!queried.count(d.key)) continue;
    const auto t = SteadyClock::now();
    if (pg) {
      pg->Exec("CREATE INDEX ON customers USING " +
               std::string(d.type == TagType::kMultiEnum ? "gin" : "btree") + " (" + d.key + ")");
    }
    if (lite && d.type != TagType::kMultiEnum) {
      lite->Exec("CREATE INDEX customers_" + d.key + " ON customers (" + d.key + ")");
    }
    std::fprintf(stderr, "index on %s: %.1f s\n", d.key.c_str(), SecondsSince(t));
  }
  const auto t = SteadyClock::now();
  if (pg) pg->Exec("VACUUM ANALYZE customers");
  if (lite) {
    lite->Exec("ANALYZE");
    lite->Exec("CREATE TABLE bench_meta (csv TEXT); INSERT INTO bench_meta VALUES ('" +
               CsvStamp(csv) + "')");
  }
  std::fprintf(stderr, "analyze: %.1f s; peers loaded in %.0f s\n", SecondsSince(t),
               SecondsSince(start));
}

// ---- Timing ------------------------------------------------------------------------------

struct Timing {
  std::vector<double> ms;
  uint64_t count = 0;
  double P(double q) const {
    if (ms.empty()) return 0;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    // Nearest rank.
    size_t k = static_cast<size_t>(std::ceil(q * s.size()));
    return s[std::clamp<size_t>(k, 1, s.size()) - 1];
  }
};

template <typename F>
Timing TimeQuery(F query, int max_runs, double budget_s, int min_runs) {
  Timing t;
  t.count = query();  // warm-up, untimed
  const auto begin = SteadyClock::now();
  for (int i = 0; i < max_runs; ++i) {
    if (i >= min_runs && SecondsSince(begin) > budget_s) break;
    const auto a = SteadyClock::now();
    const uint64_t n = query();
    t.ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - a).count());
    if (n != t.count) Die("count changed between runs");
  }
  return t;
}

int Main(int argc, char** argv) {
  std::string csv, pg_conninfo, sqlite_path, snapshot;
  int runs = 200, peer_runs = 10;
  double peer_budget_s = 20;
  bool load_only = false, explain = false;
  int only_rule = 0;  // 1-based; 0: all
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--csv") {
      csv = next();
    } else if (a == "--pg") {
      pg_conninfo = next();
    } else if (a == "--sqlite") {
      sqlite_path = next();
    } else if (a == "--runs") {
      runs = std::stoi(next());
    } else if (a == "--peer-runs") {
      peer_runs = std::stoi(next());
    } else if (a == "--peer-budget-s") {
      peer_budget_s = std::stod(next());
    } else if (a == "--mercator-snapshot") {
      snapshot = next();
    } else if (a == "--rule") {
      only_rule = std::stoi(next());
    } else if (a == "--explain") {
      explain = true;
    } else if (a == "--load-only") {
      load_only = true;
    } else {
      Die("unknown argument " + a);
    }
  }
  if (csv.empty()) Die("--csv is required");

  const std::vector<BenchRule> rules = Rules();
  std::vector<Rule> parsed;
  std::set<std::string> queried;
  for (const BenchRule& r : rules) {
    absl::StatusOr<Rule> p = ParseDsl(r.dsl);
    if (!p.ok()) Die("rule " + r.dsl + ": " + std::string(p.status().message()));
    CollectFields(*p, queried);
    parsed.push_back(*std::move(p));
  }

  // Mercator first, alone, so that the RSS it adds is its own. --load-only skips it.
  SegmentIndex index;
  if (!load_only) {
    malloc_trim(0);
    const size_t rss_before = RssBytes();
    auto t0 = SteadyClock::now();
    uint64_t customers = 0;
    if (!snapshot.empty()) {
      absl::StatusOr<uint64_t> w = index.Load(snapshot);
      if (!w.ok()) Die(snapshot + ": " + std::string(w.status().message()));
      customers = index.LiveCount();
      std::printf(
          "mercator: index loaded from %s (written by `mercator import` of the same "
          "CSV) in %.1f s\n",
          snapshot.c_str(), SecondsSince(t0));
    } else {
      customers = LoadMercator(csv, index);
      const double load_s = SecondsSince(t0);
      std::printf(
          "mercator: index built from the CSV in %.1f s (%.0f rows/s, parse on 2 "
          "threads + ApplyBatch)\n",
          load_s, customers / load_s);
    }
    malloc_trim(0);
    const size_t rss_after = RssBytes();
    const size_t index_bytes = index.MemoryBytes();
    std::printf("customers: %llu (%s)\n", static_cast<unsigned long long>(customers), csv.c_str());
    std::printf(
        "mercator index: MemoryBytes %.3f GiB; process RSS %.3f GiB (+%.3f GiB for the "
        "index); target <= 2 GiB at 10M: %s\n",
        GiB(index_bytes), GiB(rss_after), GiB(rss_after - rss_before),
        std::max(index_bytes, rss_after - rss_before) <= (size_t{2} << 30) ? "met" : "MISSED");
    std::fflush(stdout);
  }

  std::unique_ptr<Pg> pg;
  if (!pg_conninfo.empty()) pg = std::make_unique<Pg>(pg_conninfo);
  std::unique_ptr<Lite> lite;
  bool lite_needs_load = false;
  if (!sqlite_path.empty()) {
    lite = std::make_unique<Lite>(sqlite_path);
    lite_needs_load = lite->Scalar("SELECT csv FROM bench_meta") != CsvStamp(csv);
    if (!lite_needs_load) std::fprintf(stderr, "sqlite: reusing %s\n", sqlite_path.c_str());
  }
  const bool pg_needs_load = pg && pg->Scalar("SELECT to_regclass('customers')::text").empty();
  if (pg_needs_load || lite_needs_load) {
    LoadPeers(csv, pg_needs_load ? pg.get() : nullptr, lite_needs_load ? lite.get() : nullptr,
              queried);
  }
  if (lite) lite->Exec("PRAGMA cache_size = -1048576");  // 1 GiB page cache: warm queries
  if (load_only) return 0;

  std::printf("\n%-4s %5s %10s %21s %23s %23s %9s %9s\n", "rule", "terms", "count",
              "mercator p50/p99 ms", "postgres p50/p99 ms", "sqlite p50/p99 ms", "pg/merc",
              "lite/merc");
  int mismatches = 0;
  bool ratio_ok = true;
  std::vector<std::string> notes;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (only_rule != 0 && i + 1 != static_cast<size_t>(only_rule)) continue;
    const BenchRule& r = rules[i];
    Timing m = TimeQuery(
        [&] {
          absl::StatusOr<Rule> rule = ParseDsl(r.dsl);
          absl::StatusOr<uint64_t> n = index.Count(*rule);
          if (!n.ok()) Die(std::string(n.status().message()));
          return *n;
        },
        runs, 1e9, runs);
    std::optional<Timing> p, l;
    if (pg) {
      const std::string sql = "SELECT count(*) FROM customers WHERE " + r.pg_where;
      p = TimeQuery([&] { return pg->Count(sql); }, peer_runs, peer_budget_s, 3);
    }
    if (lite) {
      const std::string sql = "SELECT count(*) FROM customers WHERE " + r.sqlite_where;
      l = TimeQuery([&] { return lite->Count(sql); }, peer_runs, peer_budget_s, 3);
    }
    const int terms = CountTerms(parsed[i]);
    auto cell = [](const std::optional<Timing>& t) {
      char buf[64];
      if (!t) return std::string("-");
      std::snprintf(buf, sizeof buf, "%10.2f /%10.2f", t->P(0.5), t->P(0.99));
      return std::string(buf);
    };
    auto ratio = [&](const std::optional<Timing>& t) {
      char buf[32];
      if (!t) return std::string("-");
      std::snprintf(buf, sizeof buf, "%.0fx", t->P(0.5) / std::max(m.P(0.5), 1e-6));
      return std::string(buf);
    };
    std::printf("R%-3zu %5d %10llu %9.3f /%9.3f %23s %23s %9s %9s\n", i + 1, terms,
                static_cast<unsigned long long>(m.count), m.P(0.5), m.P(0.99), cell(p).c_str(),
                cell(l).c_str(), ratio(p).c_str(), ratio(l).c_str());
    std::fflush(stdout);
    if ((p && p->count != m.count) || (l && l->count != m.count)) {
      ++mismatches;
      notes.push_back("COUNT MISMATCH on R" + std::to_string(i + 1) + ": mercator " +
                      std::to_string(m.count) + ", postgres " +
                      (p ? std::to_string(p->count) : "-") + ", sqlite " +
                      (l ? std::to_string(l->count) : "-"));
    }
    if (p && p->P(0.5) < 100 * m.P(0.5)) ratio_ok = false;
    if (i + 1 == rules.size()) {
      notes.push_back("10-term rule: mercator p50 " + std::to_string(m.P(0.5)) +
                      " ms (target <= 5: " + (m.P(0.5) <= 5 ? "met" : "MISSED") + "), p99 " +
                      std::to_string(m.P(0.99)) +
                      " ms (target <= 20: " + (m.P(0.99) <= 20 ? "met" : "MISSED") + ")");
    }
  }
  std::printf(
      "\nruns: mercator %d per rule (ParseDsl + SegmentIndex::Count, in process); peers "
      "up to %d per rule or %.0f s (at least 3), after one warm-up run each\n",
      runs, peer_runs, peer_budget_s);
  std::printf("rules:\n");
  for (size_t i = 0; i < rules.size(); ++i)
    std::printf("  R%zu  %s\n", i + 1, rules[i].dsl.c_str());
  for (const std::string& n : notes) std::printf("%s\n", n.c_str());
  if (pg) {
    std::printf("at least 100x faster than PostgreSQL (p50) on every rule: %s\n",
                ratio_ok ? "met" : "MISSED");
  }
  if (explain) {
    for (size_t i = 0; i < rules.size(); ++i) {
      if (pg) {
        std::printf("postgres plan R%zu:\n", i + 1);
        for (const std::string& line :
             pg->Lines("EXPLAIN SELECT count(*) FROM customers WHERE " + rules[i].pg_where)) {
          std::printf("    %s\n", line.c_str());
        }
      }
      if (lite) {
        std::printf("sqlite plan R%zu:\n", i + 1);
        for (const std::string& line :
             lite->Plan("SELECT count(*) FROM customers WHERE " + rules[i].sqlite_where)) {
          std::printf("    %s\n", line.c_str());
        }
      }
    }
  }
  if (mismatches > 0) {
    std::printf("\n*** %d RULE(S) GAVE DIFFERENT COUNTS IN DIFFERENT ENGINES ***\n", mismatches);
    return 1;
  }
  std::printf("counts: all engines agree on every rule\n");
  return 0;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) { return mercator::Main(argc, argv); }
