// How `ctflow export` compiles a sweep (engine/export/sweep_fold.h): a fan-out
// over the trials sampled now and a shell step that picks the best. The
// trial's wrapper and the picking script run here under the real /bin/sh, as
// a pod would run them.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/export/sweep_fold.h"
#include "engine/frontend_v1.h"
#include "engine/sweep/sampler.h"

using namespace ctflow;
namespace fs = std::filesystem;

namespace {

Workflow workflow(const std::string& yaml) {
  LoadResult r = parse_workflow_text("apiVersion: ctflow/v1\nkind: Workflow\nmetadata: {name: t}\n" + yaml, "t.yaml");
  REQUIRE_MESSAGE(r.ok(), r.diags.render());
  return *r.workflow;
}

const Step& step(const Workflow& wf, const std::string& name) {
  const Step* s = wf.find_step(name);
  REQUIRE_MESSAGE(s != nullptr, "no step " << name);
  return *s;
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ctflow-export-sweep.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string read(const std::string& name) const {
    std::ifstream in(path / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

// Runs SCRIPT with /bin/sh -c in DIR with ENV added; its exit status.
int sh(const std::string& script, const fs::path& dir, const std::vector<std::string>& env) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) _exit(127);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char* kGrid = R"(
steps:
  tune:
    sweep:
      parameters:
        x: {values: [1, 2, 3]}
        y: {values: [a, b]}
      method: grid
      parallelism: 2
      objective: {metric: score, goal: maximize}
    run: [sh, -c, 'echo "{\"name\": \"score\", \"value\": $1}" >> "$CTFLOW_METRICS"; echo "{\"name\":\"score\",\"value\":$2}" >> "$CTFLOW_METRICS"', '-', "{{trial.x}}", "{{trial.x}}0"]
  use:
    needs: [tune]
    when: steps.tune.outputs.best.x > 1
    run: [echo, "{{steps.tune.outputs.best.y}}", "{{steps.tune.outputs.best_value}}", "{{steps.tune.outputs.best}}"]
)";

}  // namespace

TEST_CASE("a grid sweep exports as a fan-out over every combination and a step that picks the best") {
  const Workflow wf = workflow(kGrid);
  std::vector<std::string> notes;
  auto r = sweeps_as_fanout(wf, Value::object(), {false, &notes});
  REQUIRE_MESSAGE(r.ok(), r.message());
  const Step& trials = step(*r, "tune-trials");
  const Step& pick = step(*r, "tune");
  CHECK(!trials.sweep);
  CHECK(trials.parallelism == 2);
  // Grid order: the last parameter varies fastest, as `ctflow run` starts them.
  CHECK(*trials.for_each == Value::parse(R"([{"x":1,"y":"a"},{"x":1,"y":"b"},{"x":2,"y":"a"},{"x":2,"y":"b"},
                                             {"x":3,"y":"a"},{"x":3,"y":"b"}])"));
  CHECK(trials.shell.find("'{{item.x}}' '{{item.x}}0'") != std::string::npos);
  CHECK(trials.shell.find("trial.") == std::string::npos);
  CHECK(trials.output_params.count("objective") == 1);
  CHECK(pick.needs == std::vector<std::string>{"tune-trials"});
  CHECK(pick.with["objectives"] == "{{steps.tune-trials.outputs.objective}}");
  for (const char* o : {"best", "best_value", "best_trial", "best_x", "best_y"}) CHECK(pick.output_params.count(o) == 1);
  const Step& use = step(*r, "use");
  CHECK(use.run == std::vector<std::string>{"echo", "{{steps.tune.outputs.best_y}}", "{{steps.tune.outputs.best_value}}",
                                            "{{steps.tune.outputs.best}}"});
  CHECK(use.when == "steps.tune.outputs.best_x > 1");
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("6 trials as 'tune-trials'") != std::string::npos);
}

TEST_CASE("an exported trial writes the last value of its objective; the picking step finds the best under sh") {
  const Workflow wf = workflow(kGrid);
  auto r = sweeps_as_fanout(wf, Value::object(), {});
  REQUIRE_MESSAGE(r.ok(), r.message());
  const Step& trials = step(*r, "tune-trials");
  const Step& pick = step(*r, "tune");
  {
    TempDir d;
    std::string script = trials.shell;  // what Argo's {{item.x}} makes of the trial x=3
    for (size_t at; (at = script.find("{{item.x}}")) != std::string::npos;) script.replace(at, 10, "3");
    CHECK(sh(script, d.path, {"CTFLOW_METRICS=" + (d.path / "m.jsonl").string()}) == 0);
    CHECK(d.read(trials.output_params.at("objective").path) == "30");  // the last of 3 and 30
  }
  {
    TempDir d;  // a trial that fails: its exit status, as the pod's
    std::string script = trials.shell;
    script.replace(0, 2, "(\nexit 3\n");
    CHECK(sh(script, d.path, {"CTFLOW_METRICS=" + (d.path / "m.jsonl").string()}) == 3);
  }
  {
    TempDir d;  // Argo's aggregated output parameter: a JSON list of strings; trial 4 wrote none
    CHECK(sh(pick.shell, d.path, {R"(CTFLOW_PARAM_OBJECTIVES=["0.5","0.9","0.1","0.95","","0.2"])"}) == 0);
    CHECK(d.read("best_trial") == "3");
    CHECK(d.read("best_value") == "0.95");
    CHECK(d.read("best_x") == "2");
    CHECK(d.read("best_y") == "b");
    CHECK(Value::parse(d.read("best")) == Value{{"x", 2}, {"y", "b"}});
  }
  {
    TempDir d;  // goal minimize picks the lowest, negative numbers included
    const std::string script = sweep_pick_script({Value{{"k", 1}}, Value{{"k", 2}}, Value{{"k", 3}}}, SweepGoal::Minimize);
    CHECK(sh(script, d.path, {R"(CTFLOW_PARAM_OBJECTIVES=["-1.5", "2e-3", "-0.25"])"}) == 0);
    CHECK(d.read("best_trial") == "0");
    CHECK(d.read("best_k") == "1");
  }
  {
    TempDir d;  // no trial reported the objective: the step fails and says why
    CHECK(sh("{\n" + pick.shell + "} 2> err", d.path, {R"(CTFLOW_PARAM_OBJECTIVES=["",""])"}) != 0);
    CHECK(!fs::exists(d.path / "best"));
  }
}

TEST_CASE("TPE and early stopping are an error at the sweep unless the plain fan-out is accepted") {
  const Workflow wf = workflow(R"(
params:
  trials: {type: int, default: 3}
steps:
  tune:
    sweep:
      parameters: {lr: {min: 1.0e-4, max: 1.0e-2, scale: log}}
      method: tpe
      trials: "{{params.trials}}"
      seed: 5
      objective: {metric: acc, goal: maximize}
      early_stop: {method: asha, min_steps: 1, reduction: 3}
    shell: "train --lr {{trial.lr}}"
)");
  auto refused = sweeps_as_fanout(wf, Value{{"trials", 3}}, {});
  REQUIRE(!refused.ok());
  CHECK(refused.message().rfind("t.yaml:10:7: error: step 'tune': the sweep uses TPE and early stopping", 0) == 0);
  CHECK(refused.message().find("--sweep-as-fanout") != std::string::npos);

  std::vector<std::string> notes;
  auto plain = sweeps_as_fanout(wf, Value{{"trials", 3}}, {true, &notes});
  REQUIRE_MESSAGE(plain.ok(), plain.message());
  // The seeded random draws `ctflow run` would make with method: random.
  SweepSpec random = *wf.steps[0].sweep;
  random.method = SweepMethod::Random;
  random.trials = 3;
  auto sampler = sweep::make_sampler(random);
  REQUIRE(sampler.ok());
  std::vector<sweep::TrialRecord> h;
  for (int i = 0; i < 3; ++i) h.push_back({*(*sampler)->suggest(h), 1.0, sweep::TrialStatus::Succeeded});
  const Value& fe = *step(*plain, "tune-trials").for_each;
  REQUIRE(fe.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(fe[i] == h[i].params);
  CHECK(notes.at(0).find("TPE and early stopping left out: 3 seeded random trials") != std::string::npos);

  auto none = sweeps_as_fanout(wf, Value{{"trials", 0}}, {true});
  REQUIRE(!none.ok());
  CHECK(none.message().find("params.trials, which is 0: give it with -p trials=N") != std::string::npos);

}

TEST_CASE("reading the best trial's own outputs or artifacts after an exported sweep is an error at the reader") {
  const Workflow wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters: {x: {values: [1, 2]}}
      method: grid
      objective: {metric: score, goal: maximize}
    shell: "echo {{trial.x}}"
  use:
    needs: [tune]
    run: [echo, "{{steps.tune.outputs.result}}"]
)");
  auto r = sweeps_as_fanout(wf, Value::object(), {});
  REQUIRE(!r.ok());
  CHECK(r.message().find("t.yaml:12:3: error: step 'use': reference 'steps.tune.outputs.result': the export runs "
                         "sweep 'tune' as a fan-out") == 0);
}
