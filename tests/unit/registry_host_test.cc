// The model registry as plugins reach it: RunStore::register_and_promote (one
// transaction: compare, register, promote) and the host functions over it in
// the plugin ABI (model_current, model_register_promote, artifact_digest,
// data_tag, data_resolve).
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/plugin_host.h"
#include "engine/registry_host.h"
#include "store/artifact_store.h"
#include "store/run_store.h"
#include "store/testing/scratch_dir.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;
namespace fs = std::filesystem;

namespace {

ModelVersion candidate(const std::string& name, double accuracy) {
  ModelVersion m;
  m.name = name;
  m.run_id = "r-test";
  m.step = "deploy";
  m.metrics = {{"accuracy", accuracy}};
  return m;
}

std::unique_ptr<RunStore> open_store(const fs::path& dir) {
  auto s = RunStore::open(dir);
  REQUIRE_MESSAGE(s.ok(), s.message());
  return std::move(*s);
}

// The stage of every version of NAME, by version number (1-based).
std::vector<std::string> stages(RunStore& store, const std::string& name) {
  auto all = store.list_models(name);
  REQUIRE(all.ok());
  std::vector<std::string> out;
  for (const auto& m : *all) out.push_back(m.stage);
  return out;
}

}  // namespace

TEST_CASE("RegistryTest.RegisterAndPromoteKeepsTheBestInProduction") {
  ScratchDir dir;
  auto store = open_store(dir.path());
  auto a = store->register_and_promote(candidate("m", 0.9), {});
  REQUIRE(a.ok());
  CHECK(a->promoted);
  CHECK(!a->previous.has_value());
  CHECK(a->version.version == 1);
  CHECK(a->version.stage == "Production");

  auto b = store->register_and_promote(candidate("m", 0.85), {});
  REQUIRE(b.ok());
  CHECK(!b->promoted);
  CHECK(b->version.stage == "Staging");
  REQUIRE(b->previous.has_value());
  CHECK(b->previous->version == 1);

  auto c = store->register_and_promote(candidate("m", 0.95), {});
  REQUIRE(c.ok());
  CHECK(c->promoted);
  CHECK(stages(*store, "m") == std::vector<std::string>{"Archived", "Staging", "Production"});

  // An equal value does not displace Production; lower-is-better turns the test round.
  CHECK(!store->register_and_promote(candidate("m", 0.95), {})->promoted);
  PromotionRule loss{"loss", false};
  ModelVersion l1 = candidate("n", 0), l2 = candidate("n", 0);
  l1.metrics = {{"loss", 0.3}};
  l2.metrics = {{"loss", 0.2}};
  CHECK(store->register_and_promote(l1, loss)->promoted);
  CHECK(store->register_and_promote(l2, loss)->promoted);
  CHECK(stages(*store, "n") == std::vector<std::string>{"Archived", "Production"});
}

TEST_CASE("RegistryTest.RegisterAndPromoteRefusesWhatItCannotCompare") {
  ScratchDir dir;
  auto store = open_store(dir.path());
  ModelVersion m = candidate("m", 0);
  m.metrics = {{"accuracy", "high"}};
  auto r = store->register_and_promote(m, {});
  CHECK(r.code() == StatusCode::kInvalidArgument);
  CHECK(r.message() == "model 'm': metrics have no number named 'accuracy' to compare with the Production version");
  CHECK(stages(*store, "m").empty());  // nothing half-written
  auto none = store->production_model("m");
  REQUIRE(none.ok());
  CHECK(!none->has_value());
  CHECK(store->get_model("nosuch", 0).code() == StatusCode::kNotFound);
  CHECK(store->get_model("m", 4).code() == StatusCode::kNotFound);
}

TEST_CASE("RegistryTest.TwoConcurrentDeploysNeverPromoteTheWorseOne") {
  // Two connections (as two engine processes have) register at the same moment,
  // many times over so that both orders happen: whichever commits first, the
  // better version ends in Production and the worse one is not.
  ScratchDir dir;
  open_store(dir.path());
  for (int round = 0; round < 30; ++round) {
    const std::string name = "m" + std::to_string(round);
    std::atomic<int> ready{0};
    auto deploy = [&](double accuracy) {
      auto store = open_store(dir.path());
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();
      auto r = store->register_and_promote(candidate(name, accuracy), {});
      CHECK_MESSAGE(r.ok(), r.message());
    };
    const bool better_first = round % 2 == 0;
    std::thread t1(deploy, better_first ? 0.9 : 0.7), t2(deploy, better_first ? 0.7 : 0.9);
    t1.join();
    t2.join();
    auto store = open_store(dir.path());
    auto prod = store->production_model(name);
    REQUIRE(prod.ok());
    REQUIRE(prod->has_value());
    CHECK((*prod)->metrics["accuracy"] == 0.9);
    auto all = store->list_models(name);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    for (const auto& v : *all)
      if (v.metrics["accuracy"] == 0.7) CHECK((v.stage == "Staging" || v.stage == "Archived"));
  }
}

// --- the host functions, called by a plugin as any plugin would ---

namespace {

struct Calls {
  std::string request;                     // what the plugin sends
  std::string digest_path;                 // what the plugin hashes
  std::string resolve_ref = "nothing@v1";    // what the plugin resolves
  std::string current_before, current_after, result, digest, resolved;
  int rc = 99, tag_rc = 99, bad_tag_rc = 99;
  bool has_all = false;
};
Calls* g_calls = nullptr;

int registry_plugin_run(ctflow_ctx* ctx, const ctflow_host_api* host, char** /*error*/) {
  Calls& c = *g_calls;
  c.has_all = CTFLOW_HOST_HAS(host, model_current) && CTFLOW_HOST_HAS(host, model_register_promote) &&
              CTFLOW_HOST_HAS(host, artifact_digest) && CTFLOW_HOST_HAS(host, data_tag) &&
              CTFLOW_HOST_HAS(host, data_resolve);
  if (!c.has_all) return 1;
  const char* cur = host->model_current(ctx, "digits");
  c.current_before = cur ? cur : "<NULL>";
  const char* result = nullptr;
  c.rc = host->model_register_promote(ctx, c.request.c_str(), &result);
  c.result = result ? result : "<NULL>";
  cur = host->model_current(ctx, "digits");
  c.current_after = cur ? cur : "<NULL>";
  const char* d = host->artifact_digest(ctx, c.digest_path.c_str());
  c.digest = d ? d : "<NULL>";
  c.tag_rc = d ? host->data_tag(ctx, "weights@v1", d) : 98;
  c.bad_tag_rc = host->data_tag(ctx, "weights@v2", "md5:00");
  const char* r = host->data_resolve(ctx, c.resolve_ref.c_str());
  c.resolved = r ? r : "<NULL>";
  return 0;
}

PluginOutcome run_registry_plugin(const fs::path& store_dir, const std::string& request, Calls& calls) {
  static const ctflow_plugin_desc kDesc = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "test.registry", "1",
                                           "", nullptr, 0, nullptr, 0, registry_plugin_run};
  PluginInfo info;
  info.name = "test.registry";
  info.desc = LazyDesc(&kDesc);
  PluginInvocation inv;
  inv.plugin = &info;
  inv.store_dir = store_dir;
  inv.run_id = "r-plugin";
  inv.step = "deploy";
  inv.log = [](int, const std::string&) {};
  calls.request = request;
  g_calls = &calls;
  return invoke_plugin(inv);
}

}  // namespace

TEST_CASE("RegistryTest.HostFunctionsRegisterAndPromoteForAPlugin") {
  ScratchDir dir;
  auto store = open_store(dir.path());
  REQUIRE(store->register_and_promote(candidate("digits", 0.8), {}).ok());

  Calls calls;
  calls.digest_path = (dir / "weights.bin").string();
  std::ofstream(calls.digest_path) << "weights";
  auto out = run_registry_plugin(
      dir.path(),
      R"({"name": "digits", "artifacts": {"model": "sha256:00"}, "metrics": {"accuracy": 0.93}, "params": {"k": 5}})",
      calls);
  REQUIRE(out.ok);
  CHECK(calls.has_all);
  CHECK(calls.rc == 0);
  auto before = Json::parse(calls.current_before);
  CHECK(before["version"] == 1);
  CHECK(before["stage"] == "Production");
  CHECK(Json::parse(calls.result) == Json{{"name", "digits"}, {"version", 2}, {"stage", "Production"}, {"promoted", true},
                                          {"previous", {{"version", 1}, {"metrics", {{"accuracy", 0.8}}}}}});
  CHECK(Json::parse(calls.current_after)["version"] == 2);
  // data_tag names the digest as a data version, as `ctflow data tag` does.
  CHECK(calls.tag_rc == 0);
  CHECK(*store->resolve_data_tag("weights@v1") == calls.digest);
  CHECK(calls.bad_tag_rc == -1);
  CHECK_FALSE(store->resolve_data_tag("weights@v2").ok());
  CHECK(calls.resolved == "null");  // no data version of that name
  auto v2 = store->get_model("digits", 2);
  REQUIRE(v2.ok());
  CHECK(v2->run_id == "r-plugin");  // the run and step are the host's, not the request's
  CHECK(v2->step == "deploy");
  CHECK(v2->params == Json{{"k", 5}});
  CHECK(stages(*store, "digits") == std::vector<std::string>{"Archived", "Production"});
  auto digest = ArtifactStore::digest_file(calls.digest_path);
  REQUIRE(digest.ok());
  CHECK(calls.digest == *digest);  // the store's own digest of the file
  CHECK(calls.digest.rfind("sha256:", 0) == 0);
}

TEST_CASE("RegistryTest.HostFunctionsAnswerBadRequestsWithAnError") {
  ScratchDir dir;
  Calls calls;
  auto out = run_registry_plugin(dir.path(), "{not json", calls);
  REQUIRE(out.ok);
  CHECK(calls.current_before == "null");  // no Production version yet
  CHECK(calls.digest == "<NULL>");        // no file to hash
  CHECK(calls.rc == -1);
  CHECK(Json::parse(calls.result) == Json{{"error", "the request is not JSON text"}});
  calls.resolve_ref = "";
  out = run_registry_plugin(dir.path(), "{}", calls);
  CHECK(calls.resolved == "<NULL>");  // malformed: the reason goes to the log

  out = run_registry_plugin(dir.path(), R"({"name": "digits", "metrics": [1]})", calls);
  CHECK(calls.rc == -1);
  CHECK(Json::parse(calls.result) == Json{{"error", "'metrics' must be a JSON object"}});
  out = run_registry_plugin(dir.path(), R"({"metrics": {"accuracy": 1}})", calls);
  CHECK(Json::parse(calls.result) == Json{{"error", "the request needs \"name\": the model's name"}});
  auto store = open_store(dir.path());
  CHECK(stages(*store, "digits").empty());
}

TEST_CASE("RegistryTest.DataResolveGivesATagsOrAStoredPathsBlob") {
  ScratchDir dir;
  auto store = open_store(dir.path());
  ArtifactStore blobs(store->blobs_dir());
  std::ofstream(dir / "rows.csv") << "a,b\n1,2\n";
  fs::create_directories(dir / "chunks");
  std::ofstream(dir / "chunks" / "part-00000.csv") << "a\n1\n";
  auto file = blobs.put(dir / "rows.csv");
  auto tree = blobs.put(dir / "chunks");
  REQUIRE(file.ok());
  REQUIRE(tree.ok());
  REQUIRE(store->tag_data("rows@v1", file->digest).ok());
  REQUIRE(store->tag_data("rows@latest", file->digest).ok());

  auto v = registry_data_resolve(dir.path(), "rows@latest");
  REQUIRE_MESSAGE(v.ok(), v.message());
  CHECK((*v)["ref"] == "rows@latest");
  CHECK((*v)["digest"] == file->digest);
  CHECK((*v)["kind"] == "file");
  CHECK((*v)["size"] == 8);
  CHECK((*v)["path"] == file->path.string());
  REQUIRE((*v)["tags"].size() == 2);  // newest first
  CHECK((*v)["tags"][0]["tag"] == "rows@latest");
  CHECK((*v)["made_by"].is_null());  // no run recorded it

  // The path of a stored blob names it too, with or without a trailing '/'.
  auto by_path = registry_data_resolve(dir.path(), file->path.string());
  REQUIRE(by_path.ok());
  CHECK((*by_path)["digest"] == file->digest);
  auto dir_path = registry_data_resolve(dir.path(), tree->path.string() + "/");
  REQUIRE(dir_path.ok());
  CHECK((*dir_path)["digest"] == tree->digest);
  CHECK((*dir_path)["kind"] == "dir");
  CHECK((*dir_path)["tags"].empty());

  // Nothing: a tag never made, a path outside the blobs; an error: no '@'.
  CHECK(registry_data_resolve(dir.path(), "rows@v9")->is_null());
  CHECK(registry_data_resolve(dir.path(), (dir / "chunks").string())->is_null());
  CHECK(registry_data_resolve(dir.path(), (store->blobs_dir() / "sha256" / "zz").string())->is_null());
  auto bad = registry_data_resolve(dir.path(), "rows");
  CHECK(bad.code() == StatusCode::kInvalidArgument);
  CHECK(bad.message() == "'rows' is not a data version: want NAME@VERSION (e.g. rows@latest)");
}
