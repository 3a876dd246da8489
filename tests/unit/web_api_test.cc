// The dashboard server, in process on 127.0.0.1:0, against a scratch store
// filled through RunStore; real HTTP requests over a socket (a tiny client
// below, so this test does not pay for compiling Beast twice).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "store/artifact_store.h"
#include "store/run_store.h"
#include "store/testing/scratch_dir.h"
#include "http_test_client.h"
#include "web/api.h"
#include "web/dashboard.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;
using namespace ctflow::testing::http;

namespace {

const char* kHello = R"(apiVersion: ctflow/v1
kind: Workflow
metadata:
  name: hello
params:
  who: {type: string, default: world, description: whom to greet}
steps:
  greet:
    shell: "echo hello {{params.who}}"
  count:
    needs: [greet]
    shell: "echo 1"
  done:
    needs: [count]
    shell: "echo done"
)";

// Reads an event stream until NEEDLE shows up (or 5 s pass).
std::string read_events_until(uint16_t port, const std::string& target, const std::string& needle) {
  int fd = connect_to(port);
  send_all(fd, build_request("GET", target, "", {}, port));
  std::string raw;
  char buf[65536];
  ssize_t n;
  while (raw.find(needle) == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0)
    raw.append(buf, static_cast<size_t>(n));
  close(fd);
  return raw;
}

struct Fixture {
  ScratchDir dir;
  std::unique_ptr<RunStore> store;
  std::string run_id;
  std::string digest;
  std::unique_ptr<web::DashboardServer> server;
  std::thread thread;
  uint16_t port = 0;

  explicit Fixture(std::optional<bool> require_token = std::nullopt, std::string token = "") {
    auto s = RunStore::open(dir / ".ctflow");
    REQUIRE_MESSAGE(s.ok(), s.message());
    store = std::move(s).value();
    fill();
    std::filesystem::create_directories(dir / "workflows");
    std::ofstream(dir / "workflows/hello.yaml") << kHello;
    web::DashboardOptions o;
    o.addr = "127.0.0.1:0";
    o.store_dir = dir / ".ctflow";
    o.workflows_dir = dir / "workflows";
    o.require_token = require_token;
    o.token = std::move(token);
    o.poll_ms = 50;
    o.quiet = true;
    server = std::make_unique<web::DashboardServer>(o);
    auto st = server->start();
    REQUIRE_MESSAGE(st.ok(), st.message());
    port = server->port();
    thread = std::thread([this] { server->run(); });
  }
  ~Fixture() {
    server->stop();
    thread.join();
  }

  void fill() {
    auto id = store->create_run("hello", "hello.yaml", Json{{"who", "me"}}, kHello);
    REQUIRE(id.ok());
    run_id = *id;
    REQUIRE(store->release_run(run_id, getpid()).ok());  // Running, but no engine holds it
    auto log = dir / "greet.log";
    std::ofstream(log) << "hello me\nsecond line\n";
    StepRecord greet{.run_id = run_id, .name = "greet", .step = "greet", .status = "Succeeded", .attempts = 2,
                     .started_at = now_ms() - 2000, .finished_at = now_ms() - 1000,
                     .outputs = Json{{"result", "hello me"}}, .log_path = log.string()};
    REQUIRE(store->upsert_step(greet).ok());
    REQUIRE(store->add_attempt({run_id, "greet", 1, "Failed", now_ms() - 2000, now_ms() - 1500, 1, "exit 1", ""}).ok());
    REQUIRE(store->add_attempt({run_id, "greet", 2, "Succeeded", now_ms() - 1500, now_ms() - 1000, 0, "", ""}).ok());
    StepRecord count{.run_id = run_id, .name = "count", .step = "count", .status = "Running", .attempts = 1,
                     .started_at = now_ms() - 900};
    REQUIRE(store->upsert_step(count).ok());
    auto file = dir / "report.txt";
    std::ofstream(file) << "the report";
    ArtifactStore blobs(store->blobs_dir());
    auto put = blobs.put(file);
    REQUIRE(put.ok());
    digest = put->digest;
    REQUIRE(store->add_artifact({run_id, "greet", "report", digest, put->size, "file", "output", ""}).ok());
    std::vector<MetricPoint> pts;
    for (int e = 0; e < 3; ++e) {
      pts.push_back({run_id, "greet", "loss", "series", e, 1.0 / (e + 1), now_ms()});
      pts.push_back({run_id, "greet", "accuracy", "series", e, 0.5 + e * 0.1, now_ms()});
    }
    pts.push_back({run_id, "greet", "final", "scalar", 0, 0.9, now_ms()});
    REQUIRE(store->add_metrics(pts).ok());
    REQUIRE(store->add_confusion({run_id, "greet", "test", {"a", "b"}, {5, 1, 2, 7}}).ok());
    ModelVersion mv;
    mv.name = "hello-model";
    mv.run_id = run_id;
    mv.step = "greet";
    mv.stage = "None";
    mv.metrics = Json{{"accuracy", 0.9}};
    REQUIRE(store->register_model(mv).ok());
  }
};

}  // namespace

TEST_CASE("WebApi.RunsListFiltersAndLimits") {
  Fixture f;
  auto r = request(f.port, "GET", "/api/v1/runs");
  REQUIRE(r.status == 200);
  CHECK(r.headers.find("application/json") != std::string::npos);
  Json runs = r.json();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["id"] == f.run_id);
  CHECK(runs[0]["workflow"] == "hello");
  CHECK(runs[0]["status"] == "Running");
  CHECK(request(f.port, "GET", "/api/v1/runs?status=Succeeded").json().empty());
  CHECK(request(f.port, "GET", "/api/v1/runs?workflow=hello&status=Running").json().size() == 1);
  CHECK(request(f.port, "GET", "/api/v1/runs?workflow=other").json().empty());
  auto bad = request(f.port, "GET", "/api/v1/runs?limit=abc");
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"] == "limit must be a number, not 'abc'");
}

TEST_CASE("WebApi.RunDocumentHasStepsAttemptsAndDag") {
  Fixture f;
  auto r = request(f.port, "GET", "/api/v1/runs/" + f.run_id);
  REQUIRE(r.status == 200);
  Json doc = r.json();
  CHECK(doc["id"] == f.run_id);
  CHECK(doc["params"]["who"] == "me");
  REQUIRE(doc["steps"].size() == 2);
  Json greet;
  for (const auto& s : doc["steps"])
    if (s["name"] == "greet") greet = s;
  CHECK(greet["attempt_list"].size() == 2);
  CHECK(greet["attempt_list"][0]["message"] == "exit 1");
  CHECK(greet["artifacts"]["report"]["digest"] == f.digest);
  CHECK_FALSE(greet["artifacts"]["report"].contains("path"));  // no local paths to the browser
  CHECK_FALSE(greet.contains("log"));
  const Json& dag = doc["dag"];
  REQUIRE(dag["nodes"].size() == 3);
  std::map<std::string, std::string> status;
  for (const auto& n : dag["nodes"]) status[n["id"]] = n["status"];
  CHECK(status["greet"] == "Succeeded");
  CHECK(status["count"] == "Running");
  CHECK(status["done"] == "Pending");
  CHECK(dag["edges"] == Json::parse(R"([{"from":"greet","to":"count"},{"from":"count","to":"done"}])"));
  // A unique prefix works too, as on the command line.
  CHECK(request(f.port, "GET", "/api/v1/runs/" + f.run_id.substr(0, 14)).status == 200);
}

TEST_CASE("WebApi.UnknownThingsAre404JsonErrors") {
  Fixture f;
  auto r = request(f.port, "GET", "/api/v1/runs/r-nope");
  CHECK(r.status == 404);
  CHECK(r.json()["error"] == "no such run: r-nope");
  CHECK(request(f.port, "GET", "/api/v1/runs/..%2F..%2Fetc").status == 404);
  CHECK(request(f.port, "GET", "/api/v1/runs/r-nope/metrics").json()["error"] == "no such run: r-nope");
  auto step = request(f.port, "GET", "/api/v1/runs/" + f.run_id + "/steps/nope/log");
  CHECK(step.status == 404);
  CHECK(step.json()["error"] == "run " + f.run_id + " has no step 'nope'");
  CHECK(request(f.port, "GET", "/api/v1/nothing").status == 404);
  CHECK(request(f.port, "GET", "/api/v1/nothing").json()["error"] == "no such endpoint: /api/v1/nothing");
  CHECK(request(f.port, "GET", "/no/such/file.js").status == 404);
}

TEST_CASE("WebApi.LogsFollowByOffset") {
  Fixture f;
  auto r = request(f.port, "GET", "/api/v1/runs/" + f.run_id + "/steps/greet/log");
  REQUIRE(r.status == 200);
  Json j = r.json();
  CHECK(j["text"] == "hello me\nsecond line\n");
  CHECK(j["offset"] == 21);
  CHECK(j["done"] == true);
  Json rest = request(f.port, "GET", "/api/v1/runs/" + f.run_id + "/steps/greet/log?offset=9").json();
  CHECK(rest["text"] == "second line\n");
  CHECK(request(f.port, "GET", "/api/v1/runs/" + f.run_id + "/steps/greet/log?offset=-1").status == 400);
  // A running step with no log yet: empty, not done.
  Json running = request(f.port, "GET", "/api/v1/runs/" + f.run_id + "/steps/count/log").json();
  CHECK(running["text"] == "");
  CHECK(running["done"] == false);
}

TEST_CASE("WebApi.MetricsAndConfusions") {
  Fixture f;
  Json m = request(f.port, "GET", "/api/v1/runs/" + f.run_id + "/metrics").json();
  CHECK(m["points"].size() == 7);
  REQUIRE(m["confusions"].size() == 1);
  CHECK(m["confusions"][0]["labels"] == Json::parse(R"(["a","b"])"));
  CHECK(m["confusions"][0]["counts"] == Json::parse("[5,1,2,7]"));
  CHECK(m["params"]["who"] == "me");
}

TEST_CASE("WebApi.ArtifactsByDigestOnly") {
  Fixture f;
  auto r = request(f.port, "GET", "/api/v1/artifacts/" + f.digest);
  CHECK(r.status == 200);
  CHECK(r.body == "the report");
  CHECK(r.headers.find("attachment") != std::string::npos);
  const std::string kBadDigest = "a digest is 'sha256:' and 64 lowercase hex digits";
  for (const std::string& bad : std::vector<std::string>{"sha256:abc", "sha256:..%2F..%2F..%2Fetc%2Fpasswd", "md5:0123",
                          "sha256:" + std::string(64, 'A'), "sha256:" + std::string(63, '0') + "g",
                          f.digest + "0"}) {
    auto b = request(f.port, "GET", "/api/v1/artifacts/" + bad);
    CHECK_MESSAGE(b.status == 400, bad);
    CHECK(b.json()["error"] == kBadDigest);
  }
  auto missing = request(f.port, "GET", "/api/v1/artifacts/sha256:" + std::string(64, '0'));
  CHECK(missing.status == 404);
  CHECK(missing.json()["error"] == "no artifact sha256:" + std::string(64, '0'));
  CHECK(web::is_valid_digest(f.digest));
}

TEST_CASE("WebApi.ModelsListAndPromote") {
  Fixture f;
  Json models = request(f.port, "GET", "/api/v1/models").json();
  REQUIRE(models.size() == 1);
  CHECK(models[0]["name"] == "hello-model");
  CHECK(models[0]["version"] == 1);
  auto r = request(f.port, "POST", "/api/v1/models/hello-model/1/stage", R"({"stage":"Production"})");
  CHECK(r.status == 200);
  CHECK(request(f.port, "GET", "/api/v1/models").json()[0]["stage"] == "Production");
  auto bad = request(f.port, "POST", "/api/v1/models/hello-model/1/stage", R"({"stage":"Live"})");
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"] == "unknown stage 'Live'");
  CHECK(request(f.port, "POST", "/api/v1/models/nope/1/stage", R"({"stage":"Staging"})").status == 404);
  CHECK(request(f.port, "POST", "/api/v1/models/hello-model/x/stage", R"({"stage":"Staging"})").status == 400);
}

TEST_CASE("WebApi.TriggersHaveNextFiringsAndDriftComesPerModel") {
  Fixture f;
  // Nothing fired and no drift score read yet; hello.yaml has no triggers.
  CHECK(request(f.port, "GET", "/api/v1/triggers").json() == Json::array());
  CHECK(request(f.port, "GET", "/api/v1/drift").json() == Json::array());
  std::ofstream(f.dir / "workflows/nightly.yaml") << "apiVersion: ctflow/v1\nkind: Workflow\nmetadata: {name: nightly}\n"
                                                     "triggers:\n  at3: {schedule: \"0 3 * * *\", timezone: Europe/Berlin}\n"
                                                     "steps: {a: {shell: \"true\"}}\n";
  Json t = request(f.port, "GET", "/api/v1/triggers").json();
  REQUIRE(t.size() == 1);
  CHECK(t[0]["workflow"] == "nightly");
  CHECK(t[0]["trigger"] == "at3");
  CHECK(t[0]["type"] == "schedule");
  CHECK(t[0]["file"] == "nightly.yaml");
  CHECK(t[0]["history"] == Json::array());
  REQUIRE(t[0]["next"].size() == 3);
  // 03:00 in Berlin is 01:00 or 02:00 UTC (summer or winter time)
  const std::string utc = t[0]["next"][0]["utc"];
  CHECK((utc.substr(10) == "T01:00:00Z" || utc.substr(10) == "T02:00:00Z"));
  CHECK(t[0]["next"][0]["local"].get<std::string>().find("T03:00:00") == 10);

  for (int i = 0; i < 3; ++i) {
    DriftSample d{"retrain", "drifted", "digits", 1, 1000 + i, i * 0.5, 0.4};
    d.signals = Json{{"intensity", {{"score", 0.1 * i}, {"threshold", 0.1}, {"method", "psi"}}}};
    REQUIRE(f.store->record_drift_sample(d).ok());
  }
  Json drift = request(f.port, "GET", "/api/v1/drift").json();
  REQUIRE(drift.size() == 1);
  CHECK(drift[0]["model"] == "digits");
  CHECK(drift[0]["above"] == 0.4);
  CHECK(drift[0]["trigger"] == "drifted");
  CHECK(drift[0]["signals"] == Json{{"intensity", {{"threshold", 0.1}, {"method", "psi"}}}});
  REQUIRE(drift[0]["samples"].size() == 3);
  CHECK(drift[0]["samples"][2]["at"] == 1002);
  CHECK(drift[0]["samples"][2]["score"] == 1.0);
  CHECK(drift[0]["samples"][2]["signals"]["intensity"].get<double>() == doctest::Approx(0.2));
  CHECK(drift[0]["samples"][2]["version"] == 1);
}

TEST_CASE("WebApi.WorkflowsAndSubmitChecks") {
  Fixture f;
  Json wfs = request(f.port, "GET", "/api/v1/workflows").json();
  REQUIRE(wfs.size() == 1);
  CHECK(wfs[0]["file"] == "hello.yaml");
  CHECK(wfs[0]["name"] == "hello");
  CHECK(wfs[0]["params"][0]["name"] == "who");
  CHECK(wfs[0]["params"][0]["default"] == "world");
  auto unknown = request(f.port, "POST", "/api/v1/runs", R"({"workflow":"../hello.yaml"})");
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["error"] == "no workflow '../hello.yaml' in " + (f.dir / "workflows").string());
  CHECK(request(f.port, "POST", "/api/v1/runs", "not json").status == 400);
  auto params = request(f.port, "POST", "/api/v1/runs", R"({"workflow":"hello.yaml","params":[1]})");
  CHECK(params.status == 400);
  CHECK(params.json()["error"] == "params must be an object of NAME: VALUE");
}

TEST_CASE("WebApi.CancelAndResumeChecks") {
  Fixture f;
  // The run says Running but no engine holds it.
  auto c = request(f.port, "POST", "/api/v1/runs/" + f.run_id + "/cancel", "{}");
  CHECK(c.status == 409);
  CHECK(c.json()["error"] == "run " + f.run_id + " is Running, not running");
  CHECK(request(f.port, "POST", "/api/v1/runs/r-nope/cancel", "{}").status == 404);
  CHECK(request(f.port, "POST", "/api/v1/runs/r-nope/resume", "{}").status == 404);
}

TEST_CASE("WebApi.PostsNeedJsonAndTheTokenWhenRequired") {
  {
    Fixture open_server;  // loopback, no token needed
    CHECK_FALSE(open_server.server->token_required());
    auto r = request(open_server.port, "POST", "/api/v1/models/hello-model/1/stage", R"({"stage":"Staging"})",
                     {"Content-Type: text/plain"});
    CHECK(r.status == 415);
  }
  Fixture f(true, "s3cret");
  CHECK(f.server->token_required());
  const std::string path = "/api/v1/models/hello-model/1/stage";
  auto none = request(f.port, "POST", path, R"({"stage":"Staging"})");
  CHECK(none.status == 401);
  CHECK(none.json()["error"] ==
        "this dashboard needs 'Authorization: Bearer TOKEN' for changes (the token printed by 'ctflow ui', or given "
        "with --token)");
  CHECK(request(f.port, "POST", path, R"({"stage":"Staging"})", {"Authorization: Bearer wrong"}).status == 401);
  CHECK(request(f.port, "POST", path, R"({"stage":"Staging"})", {"Authorization: Bearer s3cret"}).status == 200);
  CHECK(request(f.port, "GET", "/api/v1/runs").status == 200);  // reading needs no token
}

TEST_CASE("WebApi.TokenIsMadeUpWhenBoundBeyondLoopback") {
  CHECK(web::is_loopback_host("127.0.0.1"));
  CHECK(web::is_loopback_host("127.3.2.1"));
  CHECK(web::is_loopback_host("::1"));
  CHECK(web::is_loopback_host("localhost"));
  CHECK_FALSE(web::is_loopback_host("0.0.0.0"));
  CHECK_FALSE(web::is_loopback_host("192.168.1.4"));
  ScratchDir dir;
  web::DashboardOptions o;
  o.addr = "0.0.0.0:0";
  o.store_dir = dir / ".ctflow";
  o.quiet = true;
  web::DashboardServer s(o);
  REQUIRE(s.start().ok());
  CHECK(s.token_required());
  CHECK(s.token().size() == 48);
}

TEST_CASE("WebApi.RebindingHostsAreRefused") {
  Fixture f;
  int fd = connect_to(f.port);
  send_all(fd, "GET /api/v1/runs HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  close(fd);
  REQUIRE(n > 12);
  CHECK(std::string(buf, 12) == "HTTP/1.1 403");
}

TEST_CASE("WebApi.StaticFilesAreEmbedded") {
  Fixture f;
  auto index = request(f.port, "GET", "/");
  CHECK(index.status == 200);
  CHECK(index.headers.find("text/html") != std::string::npos);
  CHECK(index.headers.find("Content-Security-Policy") != std::string::npos);
  CHECK(index.body.find("/app.js") != std::string::npos);
  auto js = request(f.port, "GET", "/app.js");
  CHECK(js.status == 200);
  CHECK(js.body.size() > 1000);
}

TEST_CASE("WebApi.EventsPushRunChanges") {
  Fixture f;
  std::string first = read_events_until(f.port, "/api/v1/events?run=" + f.run_id, "\n\n" "event: run");
  CHECK(first.find("text/event-stream") != std::string::npos);
  CHECK(first.find("event: run\ndata: {") != std::string::npos);
  // A change made by another process (here: this one's store) is pushed.
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    StepRecord done{.run_id = f.run_id, .name = "count", .step = "count", .status = "Succeeded", .attempts = 1,
                    .started_at = now_ms() - 900, .finished_at = now_ms()};
    CHECK(f.store->upsert_step(done).ok());
  });
  std::string stream = read_events_until(f.port, "/api/v1/events?run=" + f.run_id, "\"status\":\"Succeeded\",\"step\":\"count\"");
  later.join();
  CHECK(stream.find("\"status\":\"Succeeded\",\"step\":\"count\"") != std::string::npos);
  CHECK(request(f.port, "GET", "/api/v1/events?run=r-nope").status == 404);
}

TEST_CASE("WebApi.RunDocumentShowsASweepsTrials") {
  Fixture f;
  const char* kSweep = R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: sweep}
steps:
  tune:
    sweep:
      parameters:
        lr: {min: 1.0e-4, max: 1.0e-1, scale: log}
        dim: {values: [16, 32]}
      method: random
      trials: 3
      objective: {metric: acc, goal: maximize}
    shell: "echo {{trial.lr}} {{trial.dim}}"
)";
  auto id = f.store->create_run("sweep", "sweep.yaml", Json::object(), kSweep);
  REQUIRE(id.ok());
  auto trial = [&](int i, const char* status, Json params, Json outputs) {
    StepRecord s{.run_id = *id, .name = "tune[" + std::to_string(i) + "]", .step = "tune", .status = status,
                 .attempts = 1, .started_at = now_ms() - 1000 + i, .outputs = std::move(outputs),
                 .inputs = Json{{"trial", std::move(params)}}};
    REQUIRE(f.store->upsert_step(s).ok());
  };
  // Out of order on purpose: the view lists trials by number. tune[2] still runs.
  trial(2, "Running", {{"lr", 0.01}, {"dim", 16}}, Json::object());
  trial(0, "Succeeded", {{"lr", 0.001}, {"dim", 32}}, {{"objective", 0.9}, {"objective_step", 3}});
  trial(1, "Stopped", {{"lr", 0.0001}, {"dim", 16}}, {{"objective", 0.4}, {"objective_step", 1}});
  StepRecord parent{.run_id = *id, .name = "tune", .step = "tune", .status = "Running", .attempts = 1,
                    .started_at = now_ms() - 1000};
  REQUIRE(f.store->upsert_step(parent).ok());
  std::vector<MetricPoint> pts;
  for (int s = 1; s <= 3; ++s) pts.push_back({*id, "tune[0]", "acc", "series", s, 0.3 * s, now_ms()});
  pts.push_back({*id, "tune[1]", "acc", "series", 1, 0.4, now_ms()});
  pts.push_back({*id, "tune[2]", "acc", "series", 1, 0.5, now_ms()});
  pts.push_back({*id, "tune[2]", "acc", "series", 2, 0.7, now_ms()});
  REQUIRE(f.store->add_metrics(pts).ok());

  Json doc = request(f.port, "GET", "/api/v1/runs/" + *id).json();
  REQUIRE(doc["sweeps"].size() == 1);
  const Json& sw = doc["sweeps"][0];
  CHECK(sw["step"] == "tune");
  CHECK(sw["method"] == "random");
  CHECK(sw["metric"] == "acc");
  CHECK(sw["goal"] == "maximize");
  CHECK(sw["parameters"] == Json::parse(R"([{"name":"lr","kind":"float","scale":"log","min":0.0001,"max":0.1},
                                            {"name":"dim","kind":"categorical","scale":"linear","values":[16,32]}])"));
  CHECK(sw["best_trial"].is_null());  // the sweep has not ended
  REQUIRE(sw["trials"].size() == 3);
  std::vector<std::string> names;
  for (const auto& t : sw["trials"]) names.push_back(t["name"]);
  CHECK(names == std::vector<std::string>{"tune[0]", "tune[1]", "tune[2]"});
  const Json &t0 = sw["trials"][0], &t1 = sw["trials"][1], &t2 = sw["trials"][2];
  CHECK(t0["index"] == 0);
  CHECK(t0["params"] == Json{{"lr", 0.001}, {"dim", 32}});
  CHECK(t0["objective"] == 0.9);
  CHECK(t0["live"] == false);
  CHECK(t0["steps_reached"] == 3);
  CHECK(t1["status"] == "Stopped");
  CHECK(t1["steps_reached"] == 1);
  CHECK(t2["objective"] == 0.7);  // the latest live value of the objective metric
  CHECK(t2["live"] == true);
  CHECK(t2["steps_reached"] == 2);
  // The run's steps carry each trial's parameters, as `ctflow get -o json` does.
  bool seen = false;
  for (const auto& s : doc["steps"])
    if (s["name"] == "tune[1]") seen = s["trial"] == Json{{"lr", 0.0001}, {"dim", 16}};
  CHECK(seen);

  CHECK(doc["dag"]["nodes"][0]["status"] == "Running");

  // Once it ends, the best trial is the parent's outputs'; a failed trial does not make the node Failed.
  trial(2, "Failed", {{"lr", 0.01}, {"dim", 16}}, Json::object());
  parent.status = "Succeeded";
  parent.outputs = {{"best", {{"lr", 0.001}, {"dim", 32}}}, {"best_value", 0.9}, {"best_trial", 0}};
  REQUIRE(f.store->upsert_step(parent).ok());
  Json after = request(f.port, "GET", "/api/v1/runs/" + *id).json();
  CHECK(after["dag"]["nodes"][0]["status"] == "Succeeded");
  const Json& done = after["sweeps"][0];
  CHECK(done["best_trial"] == 0);
  CHECK(done["best_value"] == 0.9);
  CHECK(done["best"]["dim"] == 32);
  CHECK(done["trials"][2]["objective"].is_null());  // a failed trial has no objective, as in ctflow get
  CHECK(done["trials"][2]["live"] == false);
  CHECK(done["trials"][2]["steps_reached"] == 2);
  // A run without a sweep has none.
  CHECK(request(f.port, "GET", "/api/v1/runs/" + f.run_id).json()["sweeps"] == Json::array());
}
