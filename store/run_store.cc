// RunStore: opening the database, transactions, runs and their ownership.
// Steps, artifacts, metrics and the cache are in run_store_records.cc; the model
// registry in model_registry.cc; the schema in migrations.cc.
#include "store/run_store.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "store/migrations_internal.h"
#include "store/sqlite_util.h"
#include "store/store_internal.h"

namespace ctflow {

namespace fs = std::filesystem;

namespace {

constexpr int kBusyTimeoutMs = 10000;

bool pid_alive(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string new_run_id() {
  static thread_local std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::time_t t = static_cast<std::time_t>(now_ms() / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "r-%04d%02d%02d-%08x", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                static_cast<unsigned>(rng()));
  return buf;
}

// Creates DIR (and its parents) and checks that files can be made in it.
Status prepare_folder(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create store folder " + dir.string() + ": " + ec.message());
  if (!fs::is_directory(dir, ec)) return Status::FailedPrecondition("cannot use " + dir.string() + " as a store: not a folder");
  fs::path probe = dir / (".write-probe-" + std::to_string(::getpid()));
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("store folder " + dir.string() + " is not writable: " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::Ok();
}

// An error for a file at PATH that SQLite cannot use, or a database that is not ours.
Status check_is_ctflow_store(sqlite3* db, const fs::path& path) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT COUNT(*), SUM(name = 'schema_migrations') FROM sqlite_master "
                              "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                              -1, &raw, nullptr);
  int64_t tables = 0, ours = 0;
  if (rc == SQLITE_OK) {
    Statement st(db, raw);
    auto row = st.next();
    if (row.ok()) {
      tables = st.int64(0);
      ours = st.int64(1);
    } else {
      rc = sqlite3_errcode(db);
    }
  }
  sqlite3_finalize(raw);
  if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
    return Status::FailedPrecondition(path.string() + " is not a ctflow store: " + sqlite3_errstr(rc & 0xff));
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
    return Status::IoError("cannot read store " + path.string() + ": " + sqlite3_errmsg(db));
  if (tables > 0 && ours == 0)
    return Status::FailedPrecondition(path.string() + " is not a ctflow store (no schema_migrations table)");
  return Status::Ok();
}

}  // namespace

RunStore::RunStore(fs::path dir, std::unique_ptr<SqliteConnection> conn) : dir_(std::move(dir)), conn_(std::move(conn)) {}

RunStore::~RunStore() = default;  // SqliteConnection finalizes its statements, then closes

int RunStore::latest_schema_version() { return ctflow::latest_schema_version(); }

Result<std::unique_ptr<RunStore>> RunStore::open(const fs::path& dir) { return open(dir, latest_schema_version()); }

Result<std::unique_ptr<RunStore>> RunStore::open(const fs::path& dir, int max_migration) {
  if (Status s = prepare_folder(dir); !s) return s;
  for (const char* sub : {"blobs", "logs", "work"}) {
    std::error_code ec;
    fs::create_directories(dir / sub, ec);
    if (ec) return Status::IoError("cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  fs::path path = dir / "ctflow.db";
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Status::IoError("cannot open store " + path.string() + ": " + msg);
  }
  std::unique_ptr<RunStore> store(new RunStore(dir, std::make_unique<SqliteConnection>(raw)));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  if (Status s = check_is_ctflow_store(raw, path); !s) return s;
  // WAL: readers never block the writer; NORMAL sync is durable across process
  // crashes and loses at most the last transactions on power loss.
  if (Status s = exec_sql(raw, "PRAGMA journal_mode=WAL"); !s) return Status::WithCode(s.code(), path.string() + ": " + s.message());
  if (Status s = exec_sql(raw, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"); !s) return s;
  if (Status s = apply_migrations(raw, max_migration); !s) return s;
  return store;
}

int RunStore::schema_version() {
  auto v = current_schema_version(conn_->db());
  return v.ok() ? *v : 0;
}

Result<Statement> RunStore::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = conn_->stmts().get(sql);
  if (stmt == nullptr) return sqlite_error(conn_->db());
  return Statement(conn_->db(), stmt);
}

Status RunStore::write(const std::function<Status()>& fn) { return with_write_transaction(conn_->db(), fn); }

Result<int64_t> RunStore::data_version() {
  auto st = prepare("PRAGMA data_version");
  if (!st.ok()) return st.status();
  auto row = st->next();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Internal("store: PRAGMA data_version returned no row");
  return st->int64(0);
}

Status RunStore::check_integrity() {
  auto st = prepare("PRAGMA integrity_check");
  if (!st.ok()) return st.status();
  std::string problems;
  for (;;) {
    auto row = st->next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string line = st->text(0);
    if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
  }
  if (problems.empty()) return Status::Ok();
  return Status::Error("store integrity check failed: " + problems);
}

// --- Transaction ---

RunStore::Transaction::Transaction(RunStore& store) : store_(store) {
  begun_ = begin_immediate(store_.conn_->db());
  if (!begun_) done_ = true;
}

RunStore::Transaction::~Transaction() {
  if (!done_) sqlite3_exec(store_.conn_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Status RunStore::Transaction::commit() {
  if (!begun_) return begun_;
  if (done_) return Status::Error("store: transaction already finished");
  done_ = true;
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_exec(store_.conn_->db(), "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return Status::Ok();
    if (!is_busy(rc) || attempt > 1000) {
      Status err = sqlite_error(store_.conn_->db(), "COMMIT");
      if (!sqlite3_get_autocommit(store_.conn_->db())) sqlite3_exec(store_.conn_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
      return err;
    }
    busy_backoff(attempt);
  }
}

// --- runs ---

Result<std::string> RunStore::create_run(const std::string& workflow, const std::string& file, const Json& params,
                                         const std::string& source) {
  std::string id;
  Status s = write([&]() -> Status {
    for (int attempt = 0; attempt < 16; ++attempt) {
      id = new_run_id();
      auto exists = prepare("SELECT 1 FROM runs WHERE id = ?");
      if (!exists.ok()) return exists.status();
      exists->bind(1, id);
      auto row = exists->next();
      if (!row.ok()) return row.status();
      if (*row) continue;
      auto st = prepare(
          "INSERT INTO runs(id, workflow, file, status, params, source, started_at, owner_pid, heartbeat_at) "
          "VALUES (?, ?, ?, 'Running', ?, ?, ?, ?, ?)");
      if (!st.ok()) return st.status();
      int64_t now = now_ms();
      st->bind(1, id).bind(2, workflow).bind(3, file).bind(4, json_text(params)).bind(5, source).bind(6, now);
      st->bind(7, static_cast<int64_t>(::getpid())).bind(8, now);
      return st->run();
    }
    return Status::Error("store: could not pick an unused run id");
  });
  if (!s) return s;
  return id;
}

Status RunStore::finish_run(const std::string& run_id, const std::string& status, const std::string& message) {
  if (!is_terminal_run_status(status))
    return Status::InvalidArgument("invalid final run status '" + status + "' (want Succeeded, Failed, Errored or Cancelled)");
  auto st = prepare("UPDATE runs SET status = ?, message = ?, finished_at = ?, owner_pid = 0 WHERE id = ?");
  if (!st.ok()) return st.status();
  st->bind(1, status).bind(2, message).bind(3, now_ms()).bind(4, run_id);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes(conn_->db()) == 0) return no_run_error(run_id);
  return Status::Ok();
}

Status RunStore::set_run_status(const std::string& run_id, const std::string& status) {
  if (!is_run_status(status)) return Status::InvalidArgument("invalid run status '" + status + "'");
  // Back to Running (a resume) clears the finish time.
  auto st = prepare(
      "UPDATE runs SET status = ?1, finished_at = CASE WHEN ?1 IN ('Running','Pending') THEN 0 ELSE finished_at END "
      "WHERE id = ?2");
  if (!st.ok()) return st.status();
  st->bind(1, status).bind(2, run_id);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes(conn_->db()) == 0) return no_run_error(run_id);
  return Status::Ok();
}

Status RunStore::claim_run(const std::string& run_id, int64_t pid) {
  return write([&]() -> Status {
    auto st = prepare("SELECT owner_pid, heartbeat_at FROM runs WHERE id = ?");
    if (!st.ok()) return st.status();
    st->bind(1, run_id);
    auto row = st->next();
    if (!row.ok()) return row.status();
    if (!*row) return no_run_error(run_id);
    int64_t owner = st->int64(0);
    int64_t age = now_ms() - st->int64(1);
    if (owner != 0 && owner != pid && age < kHeartbeatStaleMs && pid_alive(owner))
      return Status::FailedPrecondition("run " + run_id + " is being run by another ctflow process (pid " + std::to_string(owner) +
                           ", last heartbeat " + std::to_string(age / 1000) + " s ago)");
    auto claim = prepare("UPDATE runs SET owner_pid = ?, heartbeat_at = ? WHERE id = ?");
    if (!claim.ok()) return claim.status();
    claim->bind(1, pid).bind(2, now_ms()).bind(3, run_id);
    return claim->run();
  });
}

Status RunStore::heartbeat(const std::string& run_id, int64_t pid) {
  auto st = prepare("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND owner_pid = ?");
  if (!st.ok()) return st.status();
  st->bind(1, now_ms()).bind(2, run_id).bind(3, pid);
  if (Status s = st->run(); !s) return s;
  if (sqlite3_changes(conn_->db()) > 0) return Status::Ok();
  auto run = get_run(run_id);
  if (!run.ok()) return run.status();
  return Status::FailedPrecondition("run " + run_id + " is no longer held by this process (pid " + std::to_string(pid) +
                       "): owner is pid " + std::to_string(run->owner_pid));
}

Status RunStore::release_run(const std::string& run_id, int64_t pid) {
  auto st = prepare("UPDATE runs SET owner_pid = 0 WHERE id = ? AND owner_pid = ?");
  if (!st.ok()) return st.status();
  st->bind(1, run_id).bind(2, pid);
  return st->run();
}

namespace {
constexpr const char* kRunColumns =
    "id, workflow, file, status, params, source, started_at, finished_at, message, owner_pid, heartbeat_at";

RunRecord read_run(const Statement& st) {
  RunRecord r;
  r.id = st.text(0);
  r.workflow = st.text(1);
  r.file = st.text(2);
  r.status = st.text(3);
  r.params = parse_json_column(st.text(4));
  r.source = st.text(5);
  r.started_at = st.int64(6);
  r.finished_at = st.int64(7);
  r.message = st.text(8);
  r.owner_pid = st.int64(9);
  r.heartbeat_at = st.int64(10);
  return r;
}
}  // namespace

Result<RunRecord> RunStore::get_run(const std::string& run_id) {
  auto st = prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
  if (!st.ok()) return st.status();
  st->bind(1, run_id);
  auto row = st->next();
  if (!row.ok()) return row.status();
  if (!*row) return no_run_error(run_id);
  return read_run(*st);
}

Result<std::string> RunStore::resolve_run_id(const std::string& ref) {
  if (ref == "@latest") {
    auto st = prepare("SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1");
    if (!st.ok()) return st.status();
    auto row = st->next();
    if (!row.ok()) return row.status();
    if (!*row) return no_run_error(ref);
    return st->text(0);
  }
  if (ref.empty()) return no_run_error(ref);
  // An exact id wins even when it is also the prefix of a longer one.
  auto st = prepare("SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY (id = ?1) DESC, id LIMIT 11");
  if (!st.ok()) return st.status();
  st->bind(1, ref);
  std::vector<std::string> ids;
  for (;;) {
    auto row = st->next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ids.push_back(st->text(0));
  }
  if (ids.empty()) return no_run_error(ref);
  if (ids.size() == 1 || ids[0] == ref) return ids[0];
  std::string list;
  for (size_t i = 0; i < ids.size() && i < 10; ++i) list += (i ? ", " : "") + ids[i];
  if (ids.size() > 10) list += ", ...";
  return Status::InvalidArgument("run id prefix '" + ref + "' is ambiguous: it matches " + list);
}

Result<std::vector<RunRecord>> RunStore::list_runs(int limit, const std::string& status, const std::string& workflow) {
  auto st = prepare(std::string("SELECT ") + kRunColumns +
                    " FROM runs WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR workflow = ?2) "
                    "ORDER BY started_at DESC, rowid DESC LIMIT ?3");
  if (!st.ok()) return st.status();
  st->bind(1, status).bind(2, workflow).bind(3, static_cast<int64_t>(limit));
  std::vector<RunRecord> runs;
  for (;;) {
    auto row = st->next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    runs.push_back(read_run(*st));
  }
  return runs;
}

}  // namespace ctflow
