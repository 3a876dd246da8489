// The inference server (`ctflow serve`) in process on 127.0.0.1:0, without a
// model handler: how it answers when a model cannot be loaded. A version that
// is not in the registry is the caller's mistake (404); a registry that fails
// to answer is the server's (500), whatever its message says.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <thread>

#include "http_test_client.h"
#include "store/run_store.h"
#include "store/testing/scratch_dir.h"
#include "web/serve/serve.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;
using namespace ctflow::testing::http;

namespace {

// A started server on an empty scratch store, run on its own thread.
struct RunningServer {
  ScratchDir dir;
  std::unique_ptr<serve::Server> server;
  std::thread loop;

  RunningServer() {
    REQUIRE(RunStore::open(dir / "store").ok());
    std::filesystem::create_directories(dir / "no-plugins");
    serve::ServeOptions o;
    o.addr = "127.0.0.1:0";
    o.store_dir = dir / "store";
    o.quiet = true;
    o.plugin_path = {dir / "no-plugins"};
    server = std::make_unique<serve::Server>(o);
    auto st = server->start();
    REQUIRE_MESSAGE(st.ok(), st.message());
    loop = std::thread([this] { server->run(false); });
  }
  ~RunningServer() {
    server->stop();
    loop.join();
  }
  uint16_t port() const { return server->port(); }
};

// Runs SQL on the store's database from outside, as another program could.
void exec_on_store(const std::filesystem::path& store, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((store / "ctflow.db").c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  const std::string message = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
}

}  // namespace

TEST_CASE("ServeServerTest.AModelTheRegistryDoesNotHaveIs404") {
  RunningServer s;
  auto r = request(s.port(), "POST", "/models/nosuch/1");
  CHECK(r.status == 404);
  auto doc = r.json();
  CHECK(doc["type"] == "ModelNotFoundException");
  CHECK(doc["message"].get<std::string>().find("has no version 1 of 'nosuch'") != std::string::npos);
}

TEST_CASE("ServeServerTest.ARegistryThatFailsToAnswerIs500") {
  RunningServer s;
  // The registry's table goes away under the running server: reading it fails.
  // Not the caller's mistake, so not a 404, even though the message it used to
  // wrap this in said "has no".
  exec_on_store(s.dir / "store", "ALTER TABLE models RENAME TO models_gone");
  auto r = request(s.port(), "POST", "/models/nosuch/1");
  CHECK(r.status == 500);
  auto doc = r.json();
  CHECK(doc["type"] == "ModelLoadException");
  const std::string message = doc["message"].get<std::string>();
  CHECK(message.find("cannot read the model registry in") != std::string::npos);
  CHECK(message.find("no such table: models") != std::string::npos);
}
