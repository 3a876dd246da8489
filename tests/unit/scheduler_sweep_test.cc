// Sweep steps over the fakes (scheduler_fakes.h): trials sampled as others end,
// live metrics read from each attempt's CTFLOW_METRICS file, early stopping,
// the best trial's outputs, failures, parallelism, progress and resume. Time is
// virtual; the only files are the fake attempts' metrics files in a temp folder.
#include "scheduler_fakes.h"
#include "engine/scheduler_impl.h"  // value_text: how a rendered value becomes a command-line word

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace ctflow;
using namespace ctflow::fake;

namespace {

// A real folder for the metrics files the fake attempts write.
struct TempRoot {
  std::filesystem::path path;
  TempRoot() {
    char tmpl[] = "/tmp/ctflow-sweep-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempRoot() { std::filesystem::remove_all(path); }
};

// The number after "x=" in a shell step's script ("train x=3 lr=0.1").
double arg(const AttemptSpec& spec, const std::string& key) {
  const std::string script = spec.argv.size() == 3 ? spec.argv[2] : "";
  const auto at = script.find(key + "=");
  return at == std::string::npos ? -1 : std::atof(script.c_str() + at + key.size() + 1);
}

std::string point(const std::string& name, double value, int step = -1) {
  std::string s = "{\"name\": \"" + name + "\", \"value\": " + std::to_string(value);
  if (step >= 0) s += ", \"step\": " + std::to_string(step);
  return s + "}";
}

int count_status(FakeJournal& j, const std::string& prefix, const std::string& status) {
  int n = 0;
  for (const auto& [name, row] : j.step_rows)
    if (name.rfind(prefix + "[", 0) == 0 && row.status == status) ++n;
  return n;
}

// Trial with rate r reaches accuracy 1 - 1/(1 + r*step) at steps 1..9 (9.5 s):
// higher r is better at every step.
Outcome rate_curve(const AttemptSpec& spec) {
  Outcome o;
  const double r = arg(spec, "r");
  o.seconds = 9.5;
  for (int step = 1; step <= 9; ++step) o.live.push_back({step, point("acc", 1 - 1 / (1 + r * step), step)});
  return o;
}

}  // namespace

TEST_CASE("a grid sweep runs every combination; its outputs are the best trial's, with best, best_value, best_trial") {
  TempRoot tmp;
  Harness h;
  h.journal.root = tmp.path;
  h.runner.script = [](const AttemptSpec& spec) {
    Outcome o;
    if (spec.instance == "use") return o;
    const double x = arg(spec, "x"), y = arg(spec, "y");
    o.seconds = 2;
    o.stdout_text = "model-" + std::to_string(static_cast<int>(x)) + "-" + std::to_string(static_cast<int>(y));
    o.live = {{1, point("score", -(x - 3) * (x - 3) - y)}};
    return o;
  };
  auto wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters:
        x: {values: [1, 2, 3, 4]}
        y: {values: [0, 1]}
      method: grid
      parallelism: 3
      objective: {metric: score, goal: maximize}
    shell: "train x={{trial.x}} y={{trial.y}}"
  use:
    needs: [tune]
    run: [use, "{{steps.tune.outputs.best.x}}", "{{steps.tune.outputs.best_trial}}", "{{steps.tune.outputs.result}}"]
)");
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.runner.max_running == 3);
  CHECK(count_status(h.journal, "tune", "Succeeded") == 8);
  // Grid order: the last parameter varies fastest; trial 4 is x=3, y=0.
  CHECK(h.journal.step("tune[4]").inputs["trial"] == Value{{"x", 3}, {"y", 0}});
  const auto& tune = h.journal.step("tune");
  CHECK(tune.status == "Succeeded");
  CHECK(tune.outputs["best"] == Value{{"x", 3}, {"y", 0}});
  CHECK(tune.outputs["best_value"].get<double>() == doctest::Approx(0));
  CHECK(tune.outputs["best_trial"] == 4);
  CHECK(tune.message.find("best tune[4]: score 0 (8 trials: 8 Succeeded)") != std::string::npos);
  CHECK(h.journal.step("tune[1]").outputs["objective"].get<double>() == doctest::Approx(-5));
  CHECK(h.runner.of("use")[0].argv == std::vector<std::string>{"use", "3", "4", "model-3-0"});
  // The live points are the trials' metrics in the store.
  int scores = 0;
  for (const auto& m : h.journal.metrics) scores += m.name == "score";
  CHECK(scores == 8);
}

TEST_CASE("ASHA stops the trials behind at each rung; a stopped trial ends Stopped and the winner runs to the end") {
  TempRoot tmp;
  Harness h;
  h.journal.root = tmp.path;
  h.runner.script = rate_curve;
  auto wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters:
        r: {values: [5, 9, 1, 7, 3, 8, 2, 6, 4]}
      method: grid
      parallelism: 9
      objective: {metric: acc, goal: maximize}
      early_stop: {method: asha, min_steps: 1, reduction: 3}
    shell: "train r={{trial.r}}"
)");
  CHECK(h.run(wf) == "Succeeded");
  // Reports at one moment are heard in trial order. Rung 1 (step 1): 5 and 9
  // lead as they arrive, 1, 7, 3 are behind the best third, 8 is in the top
  // two of six, 2, 6, 4 are behind; rung 3: 8 is behind 5 and 9 (ASHA judges an
  // arrival against those already there); 5 and 9 run to the end.
  CHECK(count_status(h.journal, "tune", "Stopped") == 7);
  CHECK(h.journal.status("tune[1]") == "Succeeded");
  CHECK(h.journal.status("tune[0]") == "Succeeded");
  CHECK(h.journal.step("tune").outputs["best"] == Value{{"r", 9}});
  const auto spans = h.runner.of("tune[2]");
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].end == doctest::Approx(1));  // stopped at its first report, as a timeout stops it
  CHECK(h.journal.step("tune[2]").message.find("stopped early by the asha rule at step 1") != std::string::npos);
  CHECK(h.journal.step("tune[5]").message.find("at step 3") != std::string::npos);
  CHECK(h.runner.of("tune[1]")[0].end == doctest::Approx(9.5));
  for (const auto& a : h.journal.attempts)
    if (a.step == "tune[2]") CHECK(a.status == "Stopped");
}

TEST_CASE("a failed trial is recorded and the sweep goes on; when every trial fails the sweep fails") {
  TempRoot tmp;
  SUBCASE("one fails") {
    Harness h;
    h.journal.root = tmp.path;
    h.runner.script = [](const AttemptSpec& spec) {
      Outcome o;
      const double x = arg(spec, "x");
      if (x == 2) {
        o.status = NodeStatus::Failed;
        o.message = "exit code 1";
        return o;
      }
      o.live = {{0, point("loss", x)}};
      return o;
    };
    auto wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters: {x: {values: [3, 2, 1.5]}}
      method: grid
      objective: {metric: loss, goal: minimize}
    shell: "train x={{trial.x}}"
)");
    CHECK(h.run(wf) == "Succeeded");
    CHECK(h.journal.status("tune[1]") == "Failed");
    CHECK(h.journal.step("tune").outputs["best"]["x"].get<double>() == doctest::Approx(1.5));
    CHECK(h.journal.step("tune").message.find("3 trials: 2 Succeeded, 1 failed") != std::string::npos);
  }
  SUBCASE("all fail") {
    Harness h;
    h.journal.root = tmp.path;
    h.runner.script = [](const AttemptSpec&) {
      Outcome o;
      o.status = NodeStatus::Failed;
      o.message = "exit code 2";
      return o;
    };
    auto wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters: {x: {min: 0, max: 1}}
      method: random
      trials: 3
      seed: 1
      objective: {metric: loss, goal: minimize}
    shell: "train x={{trial.x}}"
)");
    CHECK(h.run(wf) == "Failed");
    CHECK(h.journal.step("tune").message.find("every trial failed") != std::string::npos);
    CHECK(count_status(h.journal, "tune", "Failed") == 3);
  }
  SUBCASE("no trial reports the objective") {
    Harness h;
    h.journal.root = tmp.path;
    auto wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters: {x: {values: [1, 2]}}
      method: grid
      objective: {metric: loss, goal: minimize}
    shell: "train x={{trial.x}}"
)");
    CHECK(h.run(wf) == "Failed");
    CHECK(h.journal.step("tune").message.find("no Succeeded trial reported the objective 'loss'") != std::string::npos);
  }
}

TEST_CASE("TPE with parallelism 1 suggests each trial after the one before has ended, reproducibly from its seed") {
  TempRoot tmp;
  auto once = [&] {
    Harness h;
    h.journal.root = tmp.path;
    h.runner.script = [](const AttemptSpec& spec) {
      Outcome o;
      o.seconds = 1;
      const double x = arg(spec, "x");
      o.live = {{0.5, point("loss", (x - 0.3) * (x - 0.3))}};
      return o;
    };
    auto wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters: {x: {min: 0, max: 1}}
      method: tpe
      trials: 12
      parallelism: 1
      seed: 7
      objective: {metric: loss, goal: minimize}
    shell: "train x={{trial.x}}"
)");
    CHECK(h.run(wf) == "Succeeded");
    CHECK(h.runner.max_running == 1);
    CHECK(h.runner.spans.size() == 12);
    std::vector<Value> tried;
    for (int i = 0; i < 12; ++i) tried.push_back(h.journal.step("tune[" + std::to_string(i) + "]").inputs["trial"]);
    return tried;
  };
  CHECK(once() == once());
}

TEST_CASE("a plugin trial's objective comes from its recorded metrics; {{trial}} is the whole parameter object") {
  Harness h;
  h.plugins["t.train"] = PluginInfo{};
  h.plugins["t.train"].name = "t.train";
  h.runner.script = [](const AttemptSpec& spec) {
    Outcome o;
    const std::string params = spec.params_json.value_or("{}");
    const double lr = Value::parse(params)["lr"].get<double>();
    o.metrics = Value::array({Value{{"name", "val_acc"}, {"kind", "series"}, {"index", 1}, {"value", lr * 10}}});
    return o;
  };
  auto wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters: {lr: {values: [0.01, 0.03, 0.02]}}
      method: grid
      objective: {metric: val_acc, goal: maximize}
    uses: t.train
    with: {lr: "{{trial.lr}}", all: "{{trial}}"}
)");
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.journal.step("tune").outputs["best"]["lr"].get<double>() == doctest::Approx(0.03));
  CHECK(h.journal.step("tune").outputs["best_trial"] == 1);
}

TEST_CASE("progress lines become events and the step row's progress; bad metrics lines are warnings in the log") {
  TempRoot tmp;
  Harness h;
  h.journal.root = tmp.path;
  h.runner.script = [](const AttemptSpec&) {
    Outcome o;
    o.seconds = 3;
    o.live = {{0.5, R"({"progress": {"done": 1, "total": 4, "message": "epoch 1/4"}})"},
              {1.5, R"({"progress": {"done": 2, "total": 4, "message": "epoch 2/4"}})"},
              {2.0, "not json"}};
    return o;
  };
  auto wf = workflow("steps:\n  train: {shell: train}\n");
  CHECK(h.run(wf) == "Succeeded");
  std::vector<std::string> seen;
  for (const auto& e : h.events)
    if (e.progress) seen.push_back(e.progress->message + " " + std::to_string(static_cast<int>(e.progress->done)));
  CHECK(seen == std::vector<std::string>{"epoch 1/4 1", "epoch 2/4 2"});
  REQUIRE(h.journal.progress["train"].size() == 2);
  CHECK(h.journal.progress["train"][1]["total"] == 4.0);
  CHECK(h.journal.status("train") == "Succeeded");  // a bad line never fails a step
}

TEST_CASE("resume keeps the trials that Succeeded or were Stopped and runs the others again with their parameters") {
  TempRoot tmp;
  Harness h;
  h.journal.root = tmp.path;
  bool broken = true;
  h.runner.script = [&](const AttemptSpec& spec) {
    Outcome o;
    const double x = arg(spec, "x");
    if (broken && x == 2) {
      o.status = NodeStatus::Failed;
      o.message = "exit code 1";
      return o;
    }
    o.live = {{0, point("loss", x)}};
    return o;
  };
  auto wf = workflow(R"(
steps:
  tune:
    sweep:
      parameters: {x: {values: [3, 2, 4]}}
      method: grid
      objective: {metric: loss, goal: minimize}
    shell: "train x={{trial.x}}"
  after:
    needs: [tune]
    run: [echo, "{{steps.tune.outputs.best.x}}"]
)");
  h.options.host.cpus = 1;  // one trial at a time
  // The first run: tune[1] fails, and the sweep Succeeds with x=3.
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.journal.step("tune").outputs["best"]["x"] == 3);
  // Mark the sweep as not done, as a run killed mid-sweep leaves it, and resume.
  h.journal.step_rows["tune"].status = "Running";
  h.journal.step_rows["after"].status = "Pending";
  broken = false;
  const size_t before = h.runner.spans.size();
  h.options.resume = true;
  CHECK(h.run(wf) == "Succeeded");
  std::vector<std::string> rerun;
  for (size_t i = before; i < h.runner.spans.size(); ++i) rerun.push_back(h.runner.spans[i].instance);
  CHECK(rerun == std::vector<std::string>{"tune[1]", "after"});
  CHECK(h.journal.step("tune").outputs["best"]["x"] == 2);
  CHECK(h.runner.of("after").back().argv[1] == "2");
}

TEST_CASE("trials from a param: 0 skips the sweep and best is the parameters' defaults; N runs N trials") {
  const char* text = R"(
params:
  trials: {type: int, default: 0}
steps:
  tune:
    sweep:
      parameters:
        x: {min: 0.0, max: 1.0, default: 0.25}
        k: {values: [8, 16], default: 16}
      method: random
      trials: "{{params.trials}}"
      seed: 3
      objective: {metric: score, goal: maximize}
    shell: "train x={{trial.x}}"
  use:
    needs: [tune]
    run: [use, "{{steps.tune.outputs.best.x}}", "{{steps.tune.outputs.best.k}}"]
)";
  auto script = [](const AttemptSpec& spec) {
    Outcome o;
    if (spec.instance == "use") return o;
    o.seconds = 2;  // the score line at 1 s is written before the trial ends
    o.live = {{1, point("score", arg(spec, "x"))}};
    return o;
  };
  {
    TempRoot tmp;
    Harness h;
    h.journal.root = tmp.path;
    h.runner.script = script;
    CHECK(h.run(workflow(text), Value{{"trials", 0}}) == "Succeeded");
    CHECK(h.journal.step("tune").status == "Skipped");
    CHECK(h.journal.step("tune").message.find("params.trials is 0") != std::string::npos);
    CHECK(count_status(h.journal, "tune", "Succeeded") == 0);
    CHECK(h.runner.of("use")[0].argv == std::vector<std::string>{"use", "0.25", "16"});
  }
  {
    TempRoot tmp;
    Harness h;
    h.journal.root = tmp.path;
    h.runner.script = script;
    CHECK(h.run(workflow(text), Value{{"trials", 3}}) == "Succeeded");
    CHECK(count_status(h.journal, "tune", "Succeeded") == 3);
    const Value best = h.journal.step("tune").outputs["best"];
    CHECK(h.runner.of("use")[0].argv[1] == value_text(best["x"]));
  }
}

TEST_CASE("an unchanged re-run of a sweep is all cache hits, its stopped trials too; another stop rule runs them again") {
  TempRoot tmp;
  Harness h;
  h.journal.root = tmp.path;
  h.runner.script = rate_curve;
  const char* text = R"(
steps:
  tune:
    sweep:
      parameters:
        r: {values: [5, 9, 1, 7, 3, 8, 2, 6, 4]}
      method: grid
      parallelism: 9
      objective: {metric: acc, goal: maximize}
      early_stop: {method: asha, min_steps: 1, reduction: REDUCTION}
    shell: "train r={{trial.r}}"
    cache: true
)";
  auto with_reduction = [&](const std::string& n) {
    std::string t = text;
    t.replace(t.find("REDUCTION"), 9, n);
    return workflow(t);
  };
  CHECK(h.run(with_reduction("3"), Value::object(), "r-1") == "Succeeded");
  CHECK(count_status(h.journal, "tune", "Stopped") == 7);
  const size_t first = h.runner.spans.size();
  CHECK(first == 9);

  CHECK(h.run(with_reduction("3"), Value::object(), "r-2") == "Succeeded");
  CHECK(h.runner.spans.size() == first);  // nothing ran again
  CHECK(count_status(h.journal, "tune", "Stopped") == 7);
  CHECK(count_status(h.journal, "tune", "Succeeded") == 2);
  CHECK(h.journal.step("tune[2]").message.find("cache hit: run r-1 step tune[2] stopped early by the asha rule") == 0);
  CHECK(h.journal.step("tune[2]").outputs.count("ctflow.stopped") == 0);
  CHECK(h.journal.step("tune").outputs["best"] == Value{{"r", 9}});
  CHECK(h.journal.step("tune").outputs["best_value"].get<double>() ==
        doctest::Approx(h.journal.step("tune[1]").outputs["objective"].get<double>()));

  // A stop under reduction 3 says nothing of reduction 2: those trials run again.
  CHECK(h.run(with_reduction("2"), Value::object(), "r-3") == "Succeeded");
  CHECK(h.runner.spans.size() == first + 7);
  CHECK(h.runner.of("tune[1]").size() == 1);  // the winners are successes under any rule: cache hits
}
