// Reading every row of a prepared statement into a vector, for the repositories' list queries.
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_ROWS_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_ROWS_H_

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

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_ROWS_H_
