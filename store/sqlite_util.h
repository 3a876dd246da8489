// Internal to the store: a thin layer over the SQLite C API. Statements are
// prepared once per connection and cached (SQLITE_PREPARE_PERSISTENT); a
// Statement handle resets its cached statement when it goes out of scope.
// Not part of the public store interface: include only from store/*.cc.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

namespace ctflow {

// The prepared statements of one connection, keyed by their SQL text.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // The cached statement for SQL, prepared on first use; nullptr on error
  // (the message is then in sqlite3_errmsg(db)).
  sqlite3_stmt* get(std::string_view sql);

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

// One SQLite connection and its prepared statements: the statements are
// finalized before the connection closes.
class SqliteConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : owner_{db}, stmts_(db) {}
  sqlite3* db() const { return owner_.db; }
  StatementCache& stmts() { return stmts_; }

 private:
  struct Owner {
    sqlite3* db;
    ~Owner() { sqlite3_close_v2(db); }
  } owner_;                // destroyed last
  StatementCache stmts_;   // destroyed first
};

// A use of a cached statement: bind, step, read columns. Resets on destruction.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }

  // Steps once: true when a row is ready, false when done. Retries while the
  // database is busy outside a transaction.
  Result<bool> next();
  // Steps to the end (for statements that return no rows).
  Status run();

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// "store: <sqlite message>" for the last error on DB, with CONTEXT when given.
// Its code follows the SQLite result: IoError for the disk, the file or a lock
// (IOERR, FULL, CANTOPEN, CORRUPT, NOTADB, READONLY, BUSY...), InvalidArgument
// for a constraint, Internal for the rest.
Status sqlite_error(sqlite3* db, std::string_view context = {});
StatusCode sqlite_status_code(int rc);
bool is_busy(int rc);
// Runs SQL (may hold several statements, no parameters), retrying while busy.
Status exec_sql(sqlite3* db, const char* sql);
// Sleeps a little more at each ATTEMPT (1 ms up to 50 ms, with jitter).
void busy_backoff(int attempt);

// Runs FN inside a write transaction: BEGIN IMMEDIATE (retried while another
// process holds the write lock) ... COMMIT, or ROLLBACK when FN fails. Inside an
// open transaction it uses a SAVEPOINT instead, so calls nest.
Status with_write_transaction(sqlite3* db, const std::function<Status()>& fn);
// BEGIN IMMEDIATE with retries on SQLITE_BUSY.
Status begin_immediate(sqlite3* db);

}  // namespace ctflow
