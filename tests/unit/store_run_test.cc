// RunStore against a real SQLite database in a scratch folder: runs, steps,
// attempts, run ids, ownership, metrics, confusions, the cache, data tags, and
// the model registry.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <regex>

#include "store/run_store.h"
#include "store/testing/scratch_dir.h"
#include "store/testing/store_internals.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;
using ctflow::testing::StoreInternals;

namespace {

std::unique_ptr<RunStore> open_store(const ScratchDir& dir) {
  auto store = RunStore::open(dir.path() / ".ctflow");
  REQUIRE_MESSAGE(store.ok(), store.message());
  return std::move(store).value();
}

std::string new_run(RunStore& store, const std::string& workflow = "wf") {
  auto id = store.create_run(workflow, workflow + ".yaml", Json{{"epochs", 1}}, "source text");
  REQUIRE_MESSAGE(id.ok(), id.message());
  return *id;
}

void exec(RunStore& store, const std::string& sql) {
  REQUIRE(sqlite3_exec(StoreInternals::db(store), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
}

}  // namespace

TEST_CASE("RunStore.OpenCreatesLayoutAndLatestSchema") {
  ScratchDir dir;
  auto store = open_store(dir);
  CHECK(std::filesystem::is_regular_file(dir / ".ctflow/ctflow.db"));
  CHECK(std::filesystem::is_directory(store->blobs_dir()));
  CHECK(std::filesystem::is_directory(store->logs_dir()));
  CHECK(std::filesystem::is_directory(store->work_dir()));
  CHECK(store->schema_version() == RunStore::latest_schema_version());
  CHECK(store->check_integrity().ok());
}

TEST_CASE("RunStore.RunLifecycle") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string id = new_run(*store, "mnist-ct");
  CHECK(std::regex_match(id, std::regex("r-[0-9]{8}-[0-9a-f]{8}")));

  auto run = store->get_run(id);
  REQUIRE(run.ok());
  CHECK(run->workflow == "mnist-ct");
  CHECK(run->file == "mnist-ct.yaml");
  CHECK(run->status == "Running");
  CHECK(run->params == Json{{"epochs", 1}});
  CHECK(run->source == "source text");
  CHECK(run->started_at > 0);
  CHECK(run->finished_at == 0);
  CHECK(run->owner_pid == ::getpid());

  REQUIRE(store->finish_run(id, "Failed", "step train failed").ok());
  run = store->get_run(id);
  CHECK(run->status == "Failed");
  CHECK(run->message == "step train failed");
  CHECK(run->finished_at >= run->started_at);
  CHECK(run->owner_pid == 0);

  REQUIRE(store->set_run_status(id, "Running").ok());  // a resume
  run = store->get_run(id);
  CHECK(run->status == "Running");
  CHECK(run->finished_at == 0);

  CHECK(store->finish_run(id, "Done", "").message() ==
        "invalid final run status 'Done' (want Succeeded, Failed, Errored or Cancelled)");
  CHECK(store->set_run_status(id, "Bogus").message() == "invalid run status 'Bogus'");
  CHECK(store->finish_run("r-nope", "Failed", "").message() == "no run matches 'r-nope' (see 'ctflow list')");
  CHECK(store->get_run("r-nope").message() == "no run matches 'r-nope' (see 'ctflow list')");
}

TEST_CASE("RunStore.StatusColumnsHaveCheckConstraints") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string id = new_run(*store);
  std::string sql = "UPDATE runs SET status = 'Bogus' WHERE id = '" + id + "'";
  CHECK(sqlite3_exec(StoreInternals::db(*store), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_CONSTRAINT_CHECK);
  sql = "INSERT INTO models(name, version, stage, created_at) VALUES ('m', 1, 'Live', 0)";
  CHECK(sqlite3_exec(StoreInternals::db(*store), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_CONSTRAINT_CHECK);
}

TEST_CASE("RunStore.DataVersionChangesWhenAnotherConnectionCommits") {
  ScratchDir dir;
  auto reader = open_store(dir);
  auto writer = open_store(dir);
  auto v0 = reader->data_version();
  REQUIRE(v0.ok());
  new_run(*reader);  // its own write: the number stays
  CHECK(*reader->data_version() == *v0);
  new_run(*writer);  // another connection's commit: it changes
  CHECK(*reader->data_version() != *v0);
}

TEST_CASE("RunStore.ListRunsNewestFirstWithFilters") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string a = new_run(*store, "alpha");
  std::string b = new_run(*store, "beta");
  std::string c = new_run(*store, "alpha");
  exec(*store, "UPDATE runs SET started_at = 1000 WHERE id = '" + a + "'");
  exec(*store, "UPDATE runs SET started_at = 2000 WHERE id = '" + b + "'");
  exec(*store, "UPDATE runs SET started_at = 3000 WHERE id = '" + c + "'");
  REQUIRE(store->finish_run(b, "Succeeded", "").ok());

  auto all = store->list_runs();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].id == c);
  CHECK((*all)[2].id == a);
  auto alpha = store->list_runs(1000, "", "alpha");
  REQUIRE(alpha->size() == 2);
  auto done = store->list_runs(1000, "Succeeded");
  REQUIRE(done->size() == 1);
  CHECK((*done)[0].id == b);
  CHECK(store->list_runs(1)->size() == 1);
}

TEST_CASE("RunStore.ResolveRunIdByPrefixAndLatest") {
  ScratchDir dir;
  auto store = open_store(dir);
  CHECK(store->resolve_run_id("@latest").message() == "no run matches '@latest' (see 'ctflow list')");
  exec(*store,
       "INSERT INTO runs(id, workflow, status, started_at) VALUES "
       "('r-20261123-aaaa0001', 'wf', 'Running', 100), ('r-20261123-aaaa0002', 'wf', 'Running', 300), "
       "('r-20261124-bbbb0001', 'wf', 'Running', 200)");
  CHECK(*store->resolve_run_id("r-20261123-aaaa0001") == "r-20261123-aaaa0001");
  CHECK(*store->resolve_run_id("r-20261124") == "r-20261124-bbbb0001");
  CHECK(*store->resolve_run_id("@latest") == "r-20261123-aaaa0002");
  CHECK(store->resolve_run_id("r-20261123-aaaa").message() ==
        "run id prefix 'r-20261123-aaaa' is ambiguous: it matches r-20261123-aaaa0001, r-20261123-aaaa0002");
  CHECK(store->resolve_run_id("r-2027").message() == "no run matches 'r-2027' (see 'ctflow list')");
  CHECK(store->resolve_run_id("").message() == "no run matches '' (see 'ctflow list')");
  // LIKE wildcards in a prefix are not wildcards.
  CHECK(!store->resolve_run_id("r-%").ok());
}

TEST_CASE("RunStore.ClaimAndHeartbeat") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string id = new_run(*store);
  int64_t me = ::getpid();
  int64_t other = 999999999;  // never a live pid (above pid_max)
  REQUIRE(store->claim_run(id, me).ok());
  REQUIRE(store->heartbeat(id, me).ok());

  SUBCASE("a live owner with a fresh heartbeat keeps the run") {
    auto claim = store->claim_run(id, other);
    CHECK(claim.message().rfind("run " + id + " is being run by another ctflow process (pid " +
                                    std::to_string(me) + ", last heartbeat 0 s ago)",
                                0) == 0);
    CHECK(store->get_run(id)->owner_pid == me);
  }
  SUBCASE("a stale heartbeat is taken over, and the old owner learns it") {
    exec(*store, "UPDATE runs SET heartbeat_at = heartbeat_at - 11000 WHERE id = '" + id + "'");
    REQUIRE(store->claim_run(id, other).ok());
    CHECK(store->get_run(id)->owner_pid == other);
    CHECK(store->heartbeat(id, me).message() == "run " + id + " is no longer held by this process (pid " +
                                                    std::to_string(me) + "): owner is pid " + std::to_string(other));
  }
  SUBCASE("an owner that is not alive is taken over at once") {
    exec(*store, "UPDATE runs SET owner_pid = " + std::to_string(other) + " WHERE id = '" + id + "'");
    REQUIRE(store->claim_run(id, me).ok());
    CHECK(store->get_run(id)->owner_pid == me);
  }
  SUBCASE("release frees the run") {
    REQUIRE(store->release_run(id, me).ok());
    CHECK(store->get_run(id)->owner_pid == 0);
    CHECK(store->claim_run(id, other).ok());
  }
  CHECK(store->claim_run("r-missing", me).message() == "no run matches 'r-missing' (see 'ctflow list')");
}

TEST_CASE("RunStore.StepsAndAttemptsUpsert") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string id = new_run(*store);
  StepRecord s;
  s.run_id = id;
  s.name = "shard[2]";
  s.step = "shard";
  s.status = "Running";
  s.attempts = 1;
  s.started_at = 10;
  REQUIRE(store->upsert_step(s).ok());
  StepRecord t = s;
  t.name = "train";
  t.step = "";
  t.status = "Pending";
  REQUIRE(store->upsert_step(t).ok());
  s.status = "Succeeded";
  s.attempts = 2;
  s.cached = true;
  s.finished_at = 20;
  s.outputs = Json{{"accuracy", 0.913}, {"labels", {"a", "b"}}};
  s.exit_code = 3;
  s.log_path = "logs/x.log";
  s.cache_key = "k1";
  s.message = "ok";
  REQUIRE(store->upsert_step(s).ok());

  auto steps = store->get_steps(id);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 2);
  const StepRecord& got = (*steps)[0];  // first recorded first, even after an update
  CHECK(got.name == "shard[2]");
  CHECK(got.step == "shard");
  CHECK(got.status == "Succeeded");
  CHECK(got.attempts == 2);
  CHECK(got.cached);
  CHECK(got.started_at == 10);
  CHECK(got.finished_at == 20);
  CHECK(got.outputs == s.outputs);
  CHECK(got.exit_code == 3);
  CHECK(got.log_path == "logs/x.log");
  CHECK(got.cache_key == "k1");
  CHECK(got.message == "ok");
  CHECK((*steps)[1].step == "train");  // an empty step name defaults to the instance name

  t.status = "Finished";
  CHECK(store->upsert_step(t).message() == "invalid step status 'Finished' for step train");
  StepRecord orphan = t;
  orphan.run_id = "r-none";
  orphan.status = "Pending";
  CHECK(store->upsert_step(orphan).message() == "store: FOREIGN KEY constraint failed");

  AttemptRecord a{id, "train", 1, "Failed", 1, 2, 1, "exit 1", "logs/train.1.log"};
  REQUIRE(store->add_attempt(a).ok());
  a.attempt = 2;
  a.status = "Running";
  REQUIRE(store->add_attempt(a).ok());
  a.status = "Succeeded";
  a.exit_code = 0;
  REQUIRE(store->add_attempt(a).ok());  // the same attempt again: updated
  REQUIRE(store->add_attempt({id, "eval", 1, "Succeeded"}).ok());
  auto attempts = store->get_attempts(id, "train");
  REQUIRE(attempts->size() == 2);
  CHECK((*attempts)[0].status == "Failed");
  CHECK((*attempts)[0].message == "exit 1");
  CHECK((*attempts)[1].status == "Succeeded");
  CHECK((*attempts)[1].exit_code == 0);
  CHECK(store->get_attempts(id)->size() == 3);
  CHECK(store->add_attempt({id, "eval", 0, "Succeeded"}).message() == "invalid attempt number 0 for step eval");
}

TEST_CASE("RunStore.TransactionCommitsOrRollsBack") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string id = new_run(*store);
  {
    RunStore::Transaction tx(*store);
    REQUIRE(store->upsert_step({id, "a", "a", "Pending"}).ok());
    REQUIRE(store->add_metrics({{id, "a", "loss", "series", 0, 1.0, 0}}).ok());  // nests
  }  // rolled back
  CHECK(store->get_steps(id)->empty());
  CHECK(store->get_metrics(id)->empty());
  {
    RunStore::Transaction tx(*store);
    REQUIRE(store->upsert_step({id, "a", "a", "Pending"}).ok());
    REQUIRE(tx.commit().ok());
    CHECK(tx.commit().message() == "store: transaction already finished");
  }
  CHECK(store->get_steps(id)->size() == 1);
}

TEST_CASE("RunStore.MetricsBatchAndConfusion") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string id = new_run(*store);
  std::vector<MetricPoint> points;
  for (int i = 0; i < 1000; ++i) points.push_back({id, "train", "loss", "series", i, 1.0 / (i + 1), 0});
  points.push_back({id, "eval", "accuracy", "scalar", 0, 0.91, 1234});
  REQUIRE(store->add_metrics(points).ok());
  // Logged again (a retried attempt): replaced, not duplicated.
  REQUIRE(store->add_metrics({{id, "eval", "accuracy", "scalar", 0, 0.93, 1300}}).ok());

  auto all = store->get_metrics(id);
  REQUIRE(all->size() == 1001);
  auto eval = store->get_metrics(id, "eval");
  REQUIRE(eval->size() == 1);
  CHECK((*eval)[0].value == doctest::Approx(0.93));
  CHECK((*eval)[0].ts == 1300);
  auto train = store->get_metrics(id, "train");
  CHECK((*train)[999].index == 999);
  CHECK((*train)[0].ts > 0);  // 0 means "now"

  // One bad point rejects the whole batch.
  auto bad = points;
  bad[5].kind = "histogram";
  CHECK(store->add_metrics(bad).message() == "invalid metric kind 'histogram' for loss (want scalar or series)");
  bad = {{id, "x", "m", "scalar", 0, 1, 0}, {"r-none", "x", "m", "scalar", 0, 1, 0}};
  CHECK(!store->add_metrics(bad).ok());
  CHECK(store->get_metrics(id, "x")->empty());

  ConfusionRecord c{id, "eval", "confusion", {"cat", "dog"}, {5, 1, 2, 7}};
  REQUIRE(store->add_confusion(c).ok());
  auto got = store->get_confusions(id);
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].labels == c.labels);
  CHECK((*got)[0].counts == c.counts);
  c.counts.pop_back();
  CHECK(store->add_confusion(c).message() == "confusion matrix confusion has 3 counts for 2 labels (want 4)");
}

TEST_CASE("RunStore.StepCache") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string id = new_run(*store);
  auto miss = store->cache_lookup("k");
  REQUIRE(miss.ok());
  CHECK(!miss->has_value());
  CacheEntry e{"k", id, "train", Json{{"accuracy", 0.9}},
               Json{{"model", {{"digest", "sha256:00"}, {"size", 3}, {"kind", "file"}}}}, 0};
  REQUIRE(store->cache_store(e).ok());
  auto hit = store->cache_lookup("k");
  REQUIRE(hit->has_value());
  CHECK((*hit)->run_id == id);
  CHECK((*hit)->step == "train");
  CHECK((*hit)->outputs == e.outputs);
  CHECK((*hit)->artifacts == e.artifacts);
  CHECK((*hit)->created_at > 0);
  e.outputs = Json{{"accuracy", 0.95}};
  REQUIRE(store->cache_store(e).ok());
  CHECK((*store->cache_lookup("k"))->outputs == e.outputs);
}

TEST_CASE("RunStore.ArtifactRecordsAndLineage") {
  ScratchDir dir;
  auto store = open_store(dir);
  std::string a = new_run(*store);
  std::string b = new_run(*store);
  std::string digest = "sha256:" + std::string(64, 'a');
  REQUIRE(store->add_artifact({a, "prepare", "data", digest, 42, "dir", "output"}).ok());
  REQUIRE(store->add_artifact({b, "train", "data", digest, 42, "dir", "input"}).ok());
  REQUIRE(store->add_artifact({b, "train", "model", "sha256:" + std::string(64, 'b'), 7, "file", ""}).ok());
  auto arts = store->get_artifacts(b);
  REQUIRE(arts->size() == 2);
  CHECK((*arts)[0].role == "input");
  CHECK((*arts)[0].path == (store->blobs_dir() / "trees" / std::string(64, 'a')).string());
  CHECK((*arts)[1].role == "output");
  CHECK((*arts)[1].size == 7);
  CHECK((*arts)[1].path == (store->blobs_dir() / "sha256/bb" / std::string(62, 'b')).string());
  auto uses = store->artifact_uses(digest);
  REQUIRE(uses->size() == 2);
  CHECK(store->add_artifact({a, "s", "n", digest, 1, "blob", "output"}).message() ==
        "invalid artifact kind 'blob' for n (want file or dir)");

  REQUIRE(store->tag_data("mnist@v1", digest).ok());
  CHECK(*store->resolve_data_tag("mnist@v1") == digest);
  CHECK(store->resolve_data_tag("nope").message() == "no data tagged 'nope'");
}

TEST_CASE("RunStore.ModelRegistryVersionsAndStages") {
  ScratchDir dir;
  auto store = open_store(dir);
  CHECK(store->get_model("mnist", 0).message() == "no model named 'mnist' (see 'ctflow models list')");
  ModelVersion m;
  m.name = "mnist";
  m.run_id = "r-x";
  m.metrics = Json{{"accuracy", 0.9}};
  auto v1 = store->register_model(m);
  auto v2 = store->register_model(m);
  auto other = store->register_model(ModelVersion{"other"});
  REQUIRE(v1.ok());
  REQUIRE(v2.ok());
  CHECK(v1->version == 1);
  CHECK(v2->version == 2);
  CHECK(other->version == 1);
  CHECK(v1->stage == "None");
  CHECK(store->get_model("mnist", 0)->version == 2);  // no Production: the latest

  REQUIRE(store->set_model_stage("mnist", 1, "Production").ok());
  CHECK(store->get_model("mnist", 0)->version == 1);
  REQUIRE(store->set_model_stage("mnist", 2, "Production").ok());
  CHECK(store->get_model("mnist", 1)->stage == "Archived");
  CHECK(store->get_model("mnist", 0)->version == 2);
  CHECK(store->get_model("mnist", 0)->metrics == m.metrics);

  m.stage = "Production";  // registered straight into Production
  auto v3 = store->register_model(m);
  CHECK(v3->version == 3);
  CHECK(store->get_model("mnist", 2)->stage == "Archived");
  CHECK(store->get_model("mnist", 0)->version == 3);
  REQUIRE(store->set_model_stage("mnist", 1, "Staging").ok());
  CHECK(store->list_models("mnist")->size() == 3);
  CHECK(store->list_models()->size() == 4);

  CHECK(store->set_model_stage("mnist", 9, "Production").message() ==
        "model 'mnist' has no version 9 (see 'ctflow models list')");
  CHECK(store->get_model("mnist", 0)->version == 3);  // the failed promotion archived nothing
  CHECK(store->set_model_stage("mnist", 1, "Live").message() ==
        "invalid model stage 'Live' (want None, Staging, Production or Archived)");
  CHECK(store->get_model("mnist", 7).message() == "model 'mnist' has no version 7 (see 'ctflow models list')");
}
