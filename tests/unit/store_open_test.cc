// Opening a store: migrations from an older schema, and the files and folders
// that are not a ctflow store.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "store/run_store.h"
#include "store/testing/scratch_dir.h"
#include "store/testing/store_internals.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;
using ctflow::testing::StoreInternals;
namespace fs = std::filesystem;

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

void exec_on(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("RunStoreOpen.MigratesAnOldStoreAndKeepsItsData") {
  ScratchDir dir;
  fs::path store_dir = dir / ".ctflow";
  std::string id;
  {
    auto old = RunStore::open(store_dir, 1);
    REQUIRE_MESSAGE(old.ok(), old.message());
    CHECK((*old)->schema_version() == 1);
    id = "r-20260101-0000abcd";
    // Written as that older ctflow would have: only the columns of migration 1.
    std::string run_sql = "INSERT INTO runs(id, workflow, file, status, params, source, started_at) VALUES ('" + id +
                          "', 'wf', 'wf.yaml', 'Running', '{\"n\":3}', 'src', 1000)";
    REQUIRE(sqlite3_exec(StoreInternals::db(**old), run_sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    std::string sql = "INSERT INTO steps(run_id, name, step, status) VALUES ('" + id + "', 'train', 'train', "
                      "'Succeeded')";
    REQUIRE(sqlite3_exec(StoreInternals::db(**old), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    // The model registry came with migration 2: not there yet.
    CHECK((*old)->register_model(ModelVersion{"m"}).message() == "store: no such table: models");
  }
  auto store = RunStore::open(store_dir);
  REQUIRE_MESSAGE(store.ok(), store.message());
  CHECK((*store)->schema_version() == RunStore::latest_schema_version());
  auto run = (*store)->get_run(id);
  REQUIRE(run.ok());
  CHECK(run->params == Json{{"n", 3}});
  auto steps = (*store)->get_steps(id);
  REQUIRE_MESSAGE(steps.ok(), steps.message());
  REQUIRE(steps->size() == 1);
  CHECK((*steps)[0].status == "Succeeded");
  CHECK((*store)->upsert_step({id, "eval", "eval", "Pending"}).ok());  // the new schema takes new writes
  CHECK((*store)->register_model(ModelVersion{"m"}).ok());
  // Each migration is recorded once.
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(StoreInternals::db(**store), "SELECT COUNT(*), MIN(version), MAX(version) FROM schema_migrations",
                             -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == RunStore::latest_schema_version());
  CHECK(sqlite3_column_int(st, 1) == 1);
  CHECK(sqlite3_column_int(st, 2) == RunStore::latest_schema_version());
  sqlite3_finalize(st);
}

TEST_CASE("RunStoreOpen.ReopenIsIdempotentAndUsesWal") {
  ScratchDir dir;
  REQUIRE(RunStore::open(dir / "s").ok());
  auto store = RunStore::open(dir / "s");
  REQUIRE(store.ok());
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(StoreInternals::db(**store), "PRAGMA journal_mode", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  REQUIRE(sqlite3_prepare_v2(StoreInternals::db(**store), "PRAGMA foreign_keys", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 1);
  sqlite3_finalize(st);
}

TEST_CASE("RunStoreOpen.RefusesAStoreNewerThanThisBuild") {
  ScratchDir dir;
  { REQUIRE(RunStore::open(dir / "s").ok()); }
  int newer = RunStore::latest_schema_version() + 1;
  exec_on(dir / "s/ctflow.db",
          "INSERT INTO schema_migrations(version, applied_at) VALUES (" + std::to_string(newer) + ", 0)");
  auto store = RunStore::open(dir / "s");
  CHECK(store.message() == "store schema version " + std::to_string(newer) + " is newer than this ctflow (" +
                               std::to_string(newer - 1) + "); upgrade ctflow");
}

TEST_CASE("RunStoreOpen.RefusesAFileThatIsNotADatabase") {
  ScratchDir dir;
  write_file(dir / "s/ctflow.db", "these are my notes, not a database\n" + std::string(4096, 'x'));
  auto store = RunStore::open(dir / "s");
  CHECK(store.message() == (dir / "s/ctflow.db").string() + " is not a ctflow store: file is not a database");
  // And the file is left as it was.
  std::ifstream in(dir / "s/ctflow.db");
  std::string first;
  std::getline(in, first);
  CHECK(first == "these are my notes, not a database");
}

TEST_CASE("RunStoreOpen.RefusesAForeignSqliteDatabase") {
  ScratchDir dir;
  std::filesystem::create_directories(dir / "s");
  exec_on(dir / "s/ctflow.db", "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)");
  auto store = RunStore::open(dir / "s");
  CHECK(store.message() == (dir / "s/ctflow.db").string() + " is not a ctflow store (no schema_migrations table)");
}

TEST_CASE("RunStoreOpen.FailsClearlyWhenTheFolderCannotBeCreated") {
  // Permissions do not stop root, so use a parent that is a regular file.
  ScratchDir dir;
  write_file(dir / "file", "x");
  auto store = RunStore::open(dir / "file/.ctflow");
  CHECK(store.message() == "cannot create store folder " + (dir / "file/.ctflow").string() + ": Not a directory");
}

TEST_CASE("RunStoreOpen.FailsClearlyWhenTheStorePathIsAFile") {
  ScratchDir dir;
  write_file(dir / "s", "x");
  auto store = RunStore::open(dir / "s");
  CHECK(store.message() == "cannot create store folder " + (dir / "s").string() + ": Not a directory");
}

TEST_CASE("RunStoreOpen.FailsClearlyWhenTheDatabaseIsAFolder") {
  ScratchDir dir;
  std::filesystem::create_directories(dir / "s/ctflow.db");
  auto store = RunStore::open(dir / "s");
  CHECK(store.message().rfind("cannot open store " + (dir / "s/ctflow.db").string() + ": ", 0) == 0);
}

TEST_CASE("RunStoreOpen.FailsClearlyWhenTheFolderIsNotWritable") {
  ScratchDir dir;
  fs::path ro = dir / "ro";
  fs::create_directories(ro);
  std::string reason;
  bool mounted = false;
  if (::geteuid() != 0) {
    ::chmod(ro.c_str(), 0555);
    reason = "Permission denied";
  } else if (::mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=64k") == 0) {
    mounted = true;  // root ignores modes, but not a read-only filesystem
    reason = "Read-only file system";
  }
  if (reason.empty()) {
    MESSAGE("skipped: running as root and cannot mount a read-only tmpfs here");
    return;
  }
  auto store = RunStore::open(ro);
  CHECK(store.message() == "store folder " + ro.string() + " is not writable: " + reason);
  if (mounted) ::umount2(ro.c_str(), MNT_DETACH);
  ::chmod(ro.c_str(), 0755);
}
