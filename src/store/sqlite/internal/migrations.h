// The schema migrations compiled into the binary (generated from migrations/*.sql).
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_MIGRATIONS_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_MIGRATIONS_H_

#include <span>

namespace mercator::sqlite_internal {

struct EmbeddedMigration {
  int version;       // from the NNNN prefix; 1, 2, 3, ... without gaps
  const char* name;  // file name, e.g. "0001_init.sql"
  const char* sql;   // one or more statements
};

// All migrations in version order.
std::span<const EmbeddedMigration> EmbeddedMigrations();

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_MIGRATIONS_H_
