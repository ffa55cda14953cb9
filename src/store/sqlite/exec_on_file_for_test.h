// Tests only: runs SQL on a store's database file through a connection of its own, as another
// process would (to break a table with a trigger, or to look behind a repository's back).
#ifndef MERCATOR_STORE_SQLITE_EXEC_ON_FILE_FOR_TEST_H_
#define MERCATOR_STORE_SQLITE_EXEC_ON_FILE_FOR_TEST_H_

#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace mercator {

// Runs `sql` on `data_dir`/mercator.db; returns "" or the error message.
inline std::string ExecOnDatabaseFile(const std::filesystem::path& data_dir,
                                      const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open((data_dir / "mercator.db").string().c_str(), &db) != SQLITE_OK) {
    std::string error = db != nullptr ? sqlite3_errmsg(db) : "cannot open the database";
    sqlite3_close(db);
    return error;
  }
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  std::string error;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    error = err != nullptr ? err : "sqlite3_exec failed";
  }
  sqlite3_free(err);
  sqlite3_close(db);
  return error;
}

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_EXEC_ON_FILE_FOR_TEST_H_
