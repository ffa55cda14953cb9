// Reading every row of a prepared statement into a vector, for the repositories' list queries.
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_ROWS_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_ROWS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/status_macros.h"
#include "store/sqlite/internal/connection.h"

namespace mercator::sqlite_internal {

// Steps `s` to the end, calling `read(s)` for each row.
template <typename Row, typename Read>
absl::StatusOr<std::vector<Row>> CollectRows(Statement& s, Read read) {
  std::vector<Row> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(read(s));
  }
  return out;
}

// Writes `n` rows with statements of several rows each: `INSERT ... VALUES (...), (...)` or
// `UPDATE ... FROM (VALUES (...), (...)) AS v WHERE ...`. SQLite's cost per statement execution
// (bind, step, reset) is then paid once for 64 rows. `head` is e.g. "INSERT INTO t (a, b, c)
// VALUES ", `columns` the number of columns of a row, `tail` what follows the rows ("" for an
// insert). `bind(s, param, i)` binds row i's columns to parameters param, param + 1, ...
// `inserted(first_rowid, count)`, if given, learns the rowids of an insert's rows: consecutive,
// since the caller holds the write transaction and the table's rowids only grow
// (AUTOINCREMENT). Only three statement texts exist per use (64, 8 and 1 rows), so the
// connection's statement cache keeps them.
template <typename Bind, typename Inserted>
absl::Status WriteRows(Connection& conn, std::string_view head, int columns, size_t n,
                       std::string_view tail, std::string_view op, Bind bind, Inserted inserted) {
  std::string row = "(";
  for (int c = 0; c < columns; ++c) row += c == 0 ? "?" : ", ?";
  row += ")";
  size_t i = 0;
  for (const size_t chunk : {size_t{64}, size_t{8}, size_t{1}}) {
    if (n - i < chunk) continue;
    std::string sql(head);
    for (size_t k = 0; k < chunk; ++k) sql += k == 0 ? row : ", " + row;
    sql += tail;
    for (; n - i >= chunk; i += chunk) {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare(sql, op));
      for (size_t k = 0; k < chunk; ++k) bind(s, static_cast<int>(k) * columns + 1, i + k);
      RETURN_IF_ERROR(s.Run());
      const int64_t last = sqlite3_last_insert_rowid(conn.raw());
      inserted(last - static_cast<int64_t>(chunk) + 1, chunk);
    }
  }
  return absl::OkStatus();
}

template <typename Bind>
absl::Status WriteRows(Connection& conn, std::string_view head, int columns, size_t n,
                       std::string_view tail, std::string_view op, Bind bind) {
  return WriteRows(conn, head, columns, n, tail, op, bind, [](int64_t, size_t) {});
}

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_ROWS_H_
