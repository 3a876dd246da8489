#include "store/sqlite_util.h"

#include <chrono>
#include <random>
#include <thread>

namespace ctflow {

namespace {
// How long to keep retrying on top of the connection's busy timeout before
// giving up on a busy database.
constexpr auto kBusyGiveUp = std::chrono::seconds(60);
}  // namespace

StatementCache::~StatementCache() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
}

sqlite3_stmt* StatementCache::get(std::string_view sql) {
  auto it = stmts_.find(std::string(sql));
  if (it != stmts_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return nullptr;
  }
  stmts_.emplace(std::string(sql), stmt);
  return stmt;
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Result<bool> Statement::next() {
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      sqlite3_reset(stmt_);  // ready to bind and run again; bindings are kept
      return false;
    }
    // Inside a transaction a retry cannot help (the snapshot is stale); outside
    // one, a busy answer is transient.
    if (is_busy(rc) && sqlite3_get_autocommit(db_) && std::chrono::steady_clock::now() - start < kBusyGiveUp) {
      sqlite3_reset(stmt_);
      busy_backoff(attempt);
      continue;
    }
    Status err = sqlite_error(db_);
    sqlite3_reset(stmt_);
    return err;
  }
}

Status Statement::run() {
  for (;;) {
    auto row = next();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

std::string Statement::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

Status sqlite_error(sqlite3* db, std::string_view context) {
  std::string msg = "store: ";
  if (!context.empty()) {
    msg += context;
    msg += ": ";
  }
  msg += sqlite3_errmsg(db);
  return Status::WithCode(sqlite_status_code(sqlite3_extended_errcode(db)), msg);
}

StatusCode sqlite_status_code(int rc) {
  switch (rc & 0xff) {
    case SQLITE_IOERR: case SQLITE_FULL: case SQLITE_CANTOPEN: case SQLITE_CORRUPT: case SQLITE_NOTADB:
    case SQLITE_READONLY: case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_PERM: case SQLITE_PROTOCOL:
      return StatusCode::kIoError;
    case SQLITE_CONSTRAINT:
      return StatusCode::kInvalidArgument;
    case SQLITE_INTERRUPT:
      return StatusCode::kCancelled;
    default:
      return StatusCode::kInternal;
  }
}

bool is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

void busy_backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int base = std::min(50, 1 << std::min(attempt, 6));
  std::this_thread::sleep_for(std::chrono::microseconds(base * 1000 / 2 + static_cast<int>(rng() % (base * 500 + 1))));
}

Status exec_sql(sqlite3* db, const char* sql) {
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::Ok();
    std::string message = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (is_busy(rc) && sqlite3_get_autocommit(db) && std::chrono::steady_clock::now() - start < kBusyGiveUp) {
      busy_backoff(attempt);
      continue;
    }
    return Status::WithCode(sqlite_status_code(rc), "store: " + message);
  }
}

Status begin_immediate(sqlite3* db) {
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return Status::Ok();
    if (!is_busy(rc)) return sqlite_error(db, "BEGIN IMMEDIATE");
    if (std::chrono::steady_clock::now() - start >= kBusyGiveUp)
      return Status::IoError("store: the database stayed locked by another process for more than 60 s");
    busy_backoff(attempt);
  }
}

Status with_write_transaction(sqlite3* db, const std::function<Status()>& fn) {
  if (!sqlite3_get_autocommit(db)) {
    if (Status s = exec_sql(db, "SAVEPOINT ctflow_write"); !s) return s;
    Status s = fn();
    if (s) return exec_sql(db, "RELEASE ctflow_write");
    exec_sql(db, "ROLLBACK TO ctflow_write; RELEASE ctflow_write");
    return s;
  }
  if (Status s = begin_immediate(db); !s) return s;
  Status s = fn();
  if (!s) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }
  // In WAL mode COMMIT does not wait for readers; BUSY here is rare but retried.
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return Status::Ok();
    if (!is_busy(rc) || attempt > 1000) {
      Status err = sqlite_error(db, "COMMIT");
      if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return err;
    }
    busy_backoff(attempt);
  }
}

}  // namespace ctflow
