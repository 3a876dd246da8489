// The Scheduler over fakes (scheduler_fakes.h): no processes, no store, no
// sleeping. Each run is single-threaded under a virtual clock, so the times
// asserted here (backoff, timeouts, the grace before SIGKILL, slots) are exact.
// What only real processes can show (process groups, signals, orphans) is in
// tests/integration/engine_*.sh.
#include "scheduler_fakes.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace ctflow;
using namespace ctflow::fake;

namespace {

std::vector<double> starts(const std::vector<Span>& spans) {
  std::vector<double> out;
  for (const auto& s : spans) out.push_back(s.start);
  return out;
}

// The script of a shell step: the text after "/bin/sh -c".
std::string script_of(const AttemptSpec& spec) { return spec.argv.size() == 3 ? spec.argv[2] : ""; }

Outcome prints(std::string text, double seconds = 0) {
  Outcome o;
  o.stdout_text = std::move(text);
  o.seconds = seconds;
  return o;
}

Outcome fails(std::string message, double seconds = 0) {
  Outcome o;
  o.status = NodeStatus::Failed;
  o.message = std::move(message);
  o.exit_code = 1;
  o.seconds = seconds;
  return o;
}

bool all_terminal(FakeJournal& j) {
  for (const auto& [name, row] : j.step_rows) {
    auto s = node_status_from_string(row.status);
    if (!s || !is_terminal(*s)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("needs run in order; a false when Skips; needs of a Skipped step run; depends picks a branch") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    if (spec.instance == "measure") return prints("10", 1);
    if (spec.instance == "try") return fails("exit code 3", 1);
    return prints(spec.instance, 1);
  };
  auto wf = workflow(R"(
params: {threshold: 9}
steps:
  measure: {shell: echo 10}
  big: {needs: [measure], when: steps.measure.outputs.result > params.threshold, run: [echo, big]}
  small: {needs: [measure], when: steps.measure.outputs.result <= params.threshold, run: [echo, small]}
  report: {needs: [big, small], run: [echo, "big={{steps.big.status}} small={{steps.small.status}}"]}
  try: {shell: exit 3}
  recover: {depends: try.Failed, run: [echo, recovered]}
  celebrate: {depends: try.Succeeded, run: [echo, no failure]}
)");
  std::string status = h.run(wf, {{"threshold", 9}});
  CHECK(h.journal.status("measure") == "Succeeded");
  CHECK(h.journal.status("big") == "Succeeded");
  CHECK(h.journal.status("small") == "Skipped");
  CHECK(h.journal.step("small").message == "skipped: when 'steps.measure.outputs.result <= params.threshold' is false");
  CHECK(h.journal.status("report") == "Succeeded");
  REQUIRE(h.runner.of("report").size() == 1);
  CHECK(h.runner.of("report")[0].argv == std::vector<std::string>{"echo", "big=Succeeded small=Skipped"});
  CHECK(h.runner.of("report")[0].start == doctest::Approx(2.0));  // after measure (1s) and big (1s)
  CHECK(h.journal.status("try") == "Failed");
  CHECK(h.journal.status("recover") == "Succeeded");
  CHECK(h.journal.status("celebrate") == "Omitted");
  CHECK(h.runner.of("celebrate").empty());
  // recover handled try's failure, but celebrate's path ends in an Omitted step.
  CHECK(status == "Failed");
  CHECK(h.journal.run_status["r-1"] == "Failed");
  CHECK(all_terminal(h.journal));
}

TEST_CASE("a failed need Omits its dependents, and the whole chain after them") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) { return spec.instance == "a" ? fails("exit code 1") : Outcome{}; };
  auto wf = workflow(R"(
fail_fast: false
steps:
  a: {shell: exit 1}
  b: {needs: [a], shell: "true"}
  c: {needs: [b], shell: "true"}
  d: {shell: "true"}
)");
  CHECK(h.run(wf) == "Failed");
  CHECK(h.journal.status("a") == "Failed");
  CHECK(h.journal.status("b") == "Omitted");
  CHECK(h.journal.status("c") == "Omitted");
  CHECK(h.journal.status("d") == "Succeeded");
  CHECK(h.runner.spans.size() == 2);
  CHECK(h.journal.run_message["r-1"] == "step 'a' Failed");
}

TEST_CASE("fan-out: one instance per item, at most `parallelism` at once, outputs gathered in order") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    if (spec.instance == "list") return prints("[1, 2, 3, 4, 5]");
    if (spec.instance.rfind("sq[", 0) == 0) {
      int x = std::stoi(script_of(spec).substr(5));  // "echo N"
      return prints(std::to_string(x * x), 1);
    }
    return Outcome{};
  };
  auto wf = workflow(R"(
steps:
  list: {shell: "echo '[1, 2, 3, 4, 5]'"}
  sq: {needs: [list], for_each: "{{steps.list.outputs.result}}", parallelism: 2, shell: "echo {{item}}"}
  sum: {needs: [sq], run: [echo, "{{steps.sq.outputs.result}}"]}
  greet: {for_each: [{name: ada}, {name: grace}], run: [echo, "{{item.name}}"]}
)");
  CHECK(h.run(wf) == "Succeeded");
  for (int i = 0; i < 5; ++i) CHECK(h.journal.status("sq[" + std::to_string(i) + "]") == "Succeeded");
  CHECK(h.journal.status("sq") == "Succeeded");
  CHECK(starts(h.runner.of("sq[0]")) == std::vector<double>{0});
  CHECK(starts(h.runner.of("sq[2]")) == std::vector<double>{1});
  CHECK(starts(h.runner.of("sq[4]")) == std::vector<double>{2});
  REQUIRE(h.runner.of("sum").size() == 1);
  CHECK(h.runner.of("sum")[0].start == doctest::Approx(3.0));
  CHECK(h.runner.of("sum")[0].argv[1] == R"(["1","4","9","16","25"])");
  CHECK(h.journal.step("sq").outputs["result"] == Value({"1", "4", "9", "16", "25"}));
  CHECK(h.runner.of("greet[1]")[0].argv == std::vector<std::string>{"echo", "grace"});
}

TEST_CASE("an empty for_each list Skips the step; one that is not a list Errors it") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    return spec.instance == "gen" ? prints("not a list") : Outcome{};
  };
  auto wf = workflow(R"(
fail_fast: false
steps:
  gen: {shell: echo}
  none: {for_each: [], shell: "true"}
  bad: {needs: [gen], for_each: "{{steps.gen.outputs.result}}", shell: "echo {{item}}"}
)");
  CHECK(h.run(wf) == "Errored");  // a step Errored, none Failed
  CHECK(h.journal.status("none") == "Skipped");
  CHECK(h.journal.step("none").message == "skipped: the for_each list is empty");
  CHECK(h.journal.status("bad") == "Errored");
  CHECK(h.journal.step("bad").message == R"(for_each must give a JSON list; got "not a list")");
}

TEST_CASE("retries wait their backoff in virtual time, and the attempts are recorded") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    return spec.attempt < 3 ? fails("exit code 1", 0.5) : prints("ok", 0.5);
  };
  auto wf = workflow(R"(
steps:
  flaky: {retry: {limit: 3, backoff: 1s, factor: 2}, shell: "try"}
)");
  CHECK(h.run(wf) == "Succeeded");
  // 0 to 0.5 fails, 1s backoff; 1.5 to 2.0 fails, 2s backoff; 4.0 to 4.5 succeeds.
  CHECK(starts(h.runner.of("flaky")) == std::vector<double>{0, 1.5, 4.0});
  REQUIRE(h.journal.attempts.size() == 3);
  CHECK(h.journal.attempts[0].status == "Failed");
  CHECK(h.journal.attempts[0].finished_at - h.journal.attempts[0].started_at == 500);
  CHECK(h.journal.attempts[2].status == "Succeeded");
  CHECK(h.journal.step("flaky").attempts == 3);
  CHECK(h.journal.step("flaky").outputs["result"] == "ok");
  CHECK(h.clock.seconds() == doctest::Approx(4.5));
}

TEST_CASE("retries stop at the limit, and a retry is not made for what the policy excludes") {
  Harness h;
  h.runner.script = [](const AttemptSpec&) { return fails("exit code 2", 1); };
  auto wf = workflow(R"(
fail_fast: false
steps:
  capped: {retry: {limit: 2, backoff: 10s, factor: 3, max_backoff: 15s}, shell: "x"}
  only-timeouts: {retry: {limit: 2, on: [timeout]}, shell: "x"}
)");
  CHECK(h.run(wf) == "Failed");
  CHECK(starts(h.runner.of("capped")) == std::vector<double>{0, 11, 27});  // 10s, then 30s capped at 15s
  CHECK(h.journal.status("capped") == "Failed");
  CHECK(h.journal.step("capped").message == "exit code 2");
  CHECK(h.runner.of("only-timeouts").size() == 1);
}

TEST_CASE("a timeout stops the attempt; one that ignores SIGTERM is killed after the grace period") {
  Harness h;
  h.options.kill_grace_s = 5;
  h.runner.script = [](const AttemptSpec& spec) {
    Outcome o = prints("late", 100);
    o.ignores_term = spec.instance == "stubborn";
    return o;
  };
  auto wf = workflow(R"(
fail_fast: false
steps:
  slow: {timeout: 2s, shell: "sleep 100"}
  stubborn: {timeout: 3s, shell: "trap '' TERM; sleep 100"}
  again: {timeout: 1s, retry: {limit: 1, backoff: 1s, on: [timeout]}, shell: "sleep 100"}
)");
  CHECK(h.run(wf) == "Failed");
  CHECK(h.runner.of("slow")[0].end == doctest::Approx(2.0));
  CHECK(h.journal.step("slow").message == "timed out after 2.0s (attempt 1)");
  CHECK(h.runner.of("slow")[0].note == "timed out after 2.0s (attempt 1)");  // the log's last line
  CHECK(h.runner.of("stubborn")[0].end == doctest::Approx(8.0));  // 3s, then 5s of grace
  CHECK(h.journal.status("stubborn") == "Failed");
  CHECK(starts(h.runner.of("again")) == std::vector<double>{0, 2});
  CHECK(h.journal.step("again").message == "timed out after 1.0s (attempt 2)");
}

TEST_CASE("an in-process plugin that times out is left behind; its late result does not end the retry") {
  Harness h;
  h.plugins["t.slow"] = PluginInfo{"t.slow", "1.0", "", "", {}, {}, {}};
  h.runner.script = [](const AttemptSpec& spec) {
    Outcome o;
    if (spec.instance != "call") return o;
    o.seconds = spec.attempt == 1 ? 5 : 0.25;
    o.outputs = {{"attempt", spec.attempt}};
    if (spec.attempt == 1) o.status = NodeStatus::Failed;
    return o;
  };
  auto wf = workflow(R"(
steps:
  call: {uses: t.slow, isolation: none, timeout: 1s, retry: {limit: 1, backoff: 1s}}
  next: {needs: [call], run: [echo, "{{steps.call.outputs.attempt}}"]}
)");
  CHECK(h.run(wf) == "Succeeded");
  auto spans = h.runner.of("call");
  REQUIRE(spans.size() == 2);
  CHECK(spans[0].kind == AttemptKind::InProcess);
  CHECK(spans[1].start == doctest::Approx(2.0));  // ended at its timeout (1s), then 1s of backoff
  REQUIRE(h.journal.attempts.size() >= 2);
  CHECK(h.journal.attempts[0].status == "Failed");
  CHECK(h.journal.attempts[0].message == "timed out after 1.0s");
  CHECK(h.journal.step("call").outputs["attempt"] == 2);
  CHECK(h.runner.of("next")[0].argv[1] == "2");
}

TEST_CASE("fail-fast: after a failure nothing new starts; what waited is Omitted with the reason") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    return spec.instance == "bad" ? fails("exit code 1", 1) : prints("", 5);
  };
  auto wf = workflow(R"(
parallelism: 2
steps:
  bad: {shell: exit 1}
  long: {shell: sleep 5}
  queued: {shell: "true"}
  after: {needs: [long], shell: "true"}
)");
  CHECK(h.run(wf) == "Failed");
  CHECK(h.journal.status("bad") == "Failed");
  CHECK(h.journal.status("long") == "Succeeded");  // it was running: it is not stopped
  CHECK(h.journal.status("queued") == "Omitted");
  CHECK(h.journal.step("queued").message == "not started: the run stopped after a failure");
  CHECK(h.journal.status("after") == "Omitted");
  CHECK(h.runner.spans.size() == 2);
}

TEST_CASE("on_exit runs after the DAG and sees the run's status and failures") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) { return spec.instance == "work" ? fails("exit code 1", 1) : Outcome{}; };
  auto wf = workflow(R"(
steps:
  work: {shell: exit 1}
on_exit:
  notify: {run: [echo, "{{workflow.status}}"]}
  failures: {needs: [notify], run: [echo, "{{workflow.failures}}"]}
)");
  CHECK(h.run(wf) == "Failed");
  REQUIRE(h.runner.of("notify").size() == 1);
  CHECK(h.runner.of("notify")[0].argv[1] == "Failed");
  CHECK(h.runner.of("notify")[0].start == doctest::Approx(1.0));
  CHECK(h.runner.of("failures")[0].argv[1] ==
        R"([{"message":"exit code 1","status":"Failed","step":"work"}])");
  CHECK(h.journal.status("failures") == "Succeeded");
}

TEST_CASE("cancel: running steps are stopped, the rest Cancelled, on_exit not run") {
  Harness h;
  h.runner.script = [](const AttemptSpec&) { return prints("", 10); };
  h.on_event = [](Scheduler& s, const StepEvent& e) {
    if (e.step == "a" && e.status == "Running") s.cancel("cancelled by the user (Ctrl-C)");
  };
  auto wf = workflow(R"(
steps:
  a: {shell: sleep 10}
  b: {needs: [a], shell: "true"}
on_exit:
  bye: {shell: "true"}
)");
  CHECK(h.run(wf) == "Cancelled");
  CHECK(h.journal.status("a") == "Cancelled");
  CHECK(h.journal.step("a").message == "cancelled by the user");
  CHECK(h.runner.of("a")[0].end == doctest::Approx(0));  // stopped at once (SIGTERM)
  CHECK(h.journal.status("b") == "Cancelled");
  CHECK(h.journal.step("b").message == "cancelled by the user (Ctrl-C)");
  CHECK(h.journal.status("bye") == "Cancelled");
  CHECK(h.runner.of("bye").empty());
  CHECK(h.journal.run_message["r-1"] == "cancelled by the user");
}

TEST_CASE("cancel while a retry waits its backoff ends the run at once") {
  Harness h;
  h.runner.script = [](const AttemptSpec&) { return fails("exit code 1", 1); };
  h.on_event = [](Scheduler& s, const StepEvent& e) {
    if (e.status == "Pending") s.cancel();
  };
  auto wf = workflow("steps:\n  flaky: {retry: {limit: 5, backoff: 60s}, shell: x}\n");
  CHECK(h.run(wf) == "Cancelled");
  CHECK(h.journal.status("flaky") == "Cancelled");
  CHECK(h.journal.step("flaky").message == "cancelled while waiting to retry");
  CHECK(h.clock.seconds() < 2);
}

TEST_CASE("a second signal kills at once: kill_now") {
  Harness h;
  h.options.kill_grace_s = 30;
  h.runner.script = [](const AttemptSpec&) {
    Outcome o = prints("", 100);
    o.ignores_term = true;
    return o;
  };
  h.on_event = [](Scheduler& s, const StepEvent& e) {
    if (e.status == "Running") {
      s.cancel();
      s.kill_now();
    }
  };
  CHECK(h.run(workflow("steps:\n  a: {shell: x}\n")) == "Cancelled");
  CHECK(h.runner.of("a")[0].end == doctest::Approx(0));  // not after the 30s grace
}

TEST_CASE("resume keeps what Succeeded before, and its outputs; the rest runs again") {
  Harness h;
  h.options.resume = true;
  StepRecord a{"r-1", "a", "a", "Succeeded", 1, false, 1, 2, {{"result", "kept"}}, "", "", 0, "", Value::object()};
  StepRecord b{"r-1", "b", "b", "Failed", 1, false, 3, 4, Value::object(), "exit code 1", "", 1, "", Value::object()};
  StepRecord f0{"r-1", "f[0]", "f", "Succeeded", 1, false, 3, 4, {{"result", "x0"}}, "", "", 0, "", Value::object()};
  h.journal.upsert_step(a);
  h.journal.upsert_step(b);
  h.journal.upsert_step(f0);
  h.runner.script = [](const AttemptSpec& spec) { return prints("new " + spec.instance); };
  auto wf = workflow(R"(
steps:
  a: {shell: echo}
  b: {needs: [a], run: [echo, "{{steps.a.outputs.result}}"]}
  f: {needs: [b], for_each: [0, 1], shell: "echo {{item}}"}
)");
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.runner.orphan_sweeps == 1);
  CHECK(h.runner.of("a").empty());
  REQUIRE(h.runner.of("b").size() == 1);
  CHECK(h.runner.of("b")[0].argv[1] == "kept");
  CHECK(h.runner.of("f[0]").empty());
  CHECK(h.runner.of("f[1]").size() == 1);
  CHECK(h.journal.step("f").outputs["result"] == Value({"x0", "new f[1]"}));
}

TEST_CASE("parallelism and resource slots: cpu, gpu and memory are never overcommitted") {
  Harness h;
  h.options.host.cpus = 4;
  h.options.host.gpus = 1;
  h.options.host.memory = int64_t{8} << 30;
  h.runner.script = [](const AttemptSpec&) { return prints("", 1); };
  auto wf = workflow(R"(
steps:
  c1: {resources: {cpu: 2}, shell: x}
  c2: {resources: {cpu: 2}, shell: x}
  c3: {resources: {cpu: 2}, shell: x}
  g1: {resources: {gpu: 1}, shell: x}
  g2: {resources: {gpu: 1}, shell: x}
  m1: {resources: {memory: 6Gi}, shell: x}
  m2: {resources: {memory: 6Gi}, shell: x}
)");
  CHECK(h.run(wf) == "Succeeded");
  CHECK(starts(h.runner.of("c1")) == std::vector<double>{0});
  CHECK(starts(h.runner.of("c2")) == std::vector<double>{0});
  CHECK(starts(h.runner.of("c3")) == std::vector<double>{1});  // 4 cpus: two at once
  CHECK(starts(h.runner.of("g1")) == std::vector<double>{0});
  CHECK(starts(h.runner.of("g2")) == std::vector<double>{1});  // one gpu
  CHECK(starts(h.runner.of("m1")) == std::vector<double>{0});
  CHECK(starts(h.runner.of("m2")) == std::vector<double>{1});  // 8Gi: not two of 6Gi

  Harness serial;
  serial.options.parallelism = 1;
  serial.options.host = h.options.host;
  serial.runner.script = [](const AttemptSpec&) { return prints("", 1); };
  CHECK(serial.run(wf) == "Succeeded");
  CHECK(serial.runner.max_running == 1);
  CHECK(serial.clock.seconds() == doctest::Approx(7));
}

namespace {
// The CUDA_VISIBLE_DEVICES a span was started with; "-" when none.
std::string cuda_devices(const Span& s) {
  for (const auto& e : s.env)
    if (e.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0) return e.substr(21);
  return "-";
}
}  // namespace

TEST_CASE("gpu slots: each gpu step sees its own devices, two steps never the same one") {
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  Harness h;
  h.options.host.gpus = 2;
  h.runner.script = [](const AttemptSpec& a) { return prints("", a.instance == "g1" ? 2 : 1); };
  auto wf = workflow(R"(
steps:
  g1: {resources: {gpu: 1}, shell: x}
  g2: {resources: {gpu: 1}, shell: x}
  g3: {resources: {gpu: 1}, shell: x}
  g4: {resources: {gpu: 1}, shell: x}
  both: {resources: {gpu: 2}, shell: x}
  cpu: {shell: x}
)");
  CHECK(h.run(wf) == "Succeeded");
  REQUIRE(h.runner.spans.size() == 6);
  CHECK(cuda_devices(h.runner.of("g1")[0]) == "0");
  CHECK(cuda_devices(h.runner.of("g2")[0]) == "1");
  CHECK(cuda_devices(h.runner.of("g3")[0]) == "1");  // at 1 s, when g2 gave 1 back; g1 holds 0 until 2 s
  CHECK(cuda_devices(h.runner.of("both")[0]) == "0,1");
  CHECK(cuda_devices(h.runner.of("cpu")[0]) == "-");
  // No two spans that overlap in time share a device.
  for (const auto& a : h.runner.spans)
    for (const auto& b : h.runner.spans) {
      if (&a == &b || a.end <= b.start || b.end <= a.start) continue;
      for (char d : cuda_devices(a))
        if (d != ',' && d != '-') CHECK_MESSAGE(cuda_devices(b).find(d) == std::string::npos, a.instance, " and ", b.instance);
    }
}

TEST_CASE("gpu slots: a step's devices are the engine's own CUDA_VISIBLE_DEVICES") {
  ::setenv("CUDA_VISIBLE_DEVICES", "2, 3", 1);
  Harness h;
  h.options.host.gpus = 2;
  h.runner.script = [](const AttemptSpec&) { return prints("", 1); };
  CHECK(h.run(workflow("steps:\n  a: {resources: {gpu: 1}, shell: x}\n  b: {resources: {gpu: 1}, shell: x}\n")) ==
        "Succeeded");
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  CHECK(cuda_devices(h.runner.of("a")[0]) == "2");
  CHECK(cuda_devices(h.runner.of("b")[0]) == "3");
}

TEST_CASE("the step cache: a second run of the same step takes the first one's outputs") {
  Harness h;
  h.runner.script = [](const AttemptSpec&) { return prints("computed", 1); };
  auto wf = workflow("steps:\n  s: {cache: true, shell: echo computed}\n");
  CHECK(h.run(wf, Value::object(), "r-1") == "Succeeded");
  CHECK(h.run(wf, Value::object(), "r-2") == "Succeeded");
  CHECK(h.runner.spans.size() == 1);
  CHECK(h.journal.step("s").cached);
  CHECK(h.journal.step("s").message == "cache hit: outputs of run r-1 step s");
  CHECK(h.journal.step("s").outputs["result"] == "computed");
}

TEST_CASE("output artifacts are stored as blobs and recorded; a later step gets their path") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    Outcome o;
    if (spec.instance == "make") o.artifacts["model"] = "/fake-store/work/r-1/make/work/model.bin";
    return o;
  };
  auto wf = workflow(R"(
steps:
  make: {shell: x, outputs: {artifacts: {model: {path: model.bin}}}}
  use: {needs: [make], run: [cat, "{{steps.make.artifacts.model}}"]}
)");
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.runner.of("use")[0].argv[1] == "/fake-store/blobs/model.bin");
  int outputs = 0, inputs = 0;
  for (const auto& a : h.journal.artifact_rows) {
    if (a.role == "output" && a.step == "make" && a.name == "model") ++outputs;
    if (a.role == "input" && a.step == "use") ++inputs;
  }
  CHECK(outputs == 1);
  CHECK(inputs == 1);  // lineage
}

TEST_CASE("a Skipped step's outputs and artifacts are their declared defaults; without one, the reader Errors") {
  Harness h;
  const std::string hex(64, 'a');
  h.journal.blobs["sha256:" + hex] = {"sha256:" + hex, 5, "file", "/fake-store/blobs/sha256/aa/" + hex.substr(2)};
  h.runner.script = [](const AttemptSpec& spec) { return prints(spec.instance); };
  auto wf = workflow(R"(
params: {run_it: false}
steps:
  make:
    when: params.run_it
    shell: x
    outputs:
      parameters: {n: {path: n.txt, default: 7}}
      artifacts: {model: {path: model.bin, default: ""}, data: {path: d.csv}}
  use: {needs: [make], run: [echo, "n={{steps.make.outputs.n}} model=[{{steps.make.artifacts.model}}]"]}
  old: {needs: [make], run: [cat, "/fake-store/blobs/sha256/aa/)" + hex.substr(2) + R"("]}
  lost: {needs: [make], run: [cat, "{{steps.make.artifacts.data}}"]}
)");
  h.run(wf, {{"run_it", false}});
  CHECK(h.journal.status("make") == "Skipped");
  REQUIRE(h.runner.of("use").size() == 1);
  CHECK(h.runner.of("use")[0].argv[1] == "n=7 model=[]");
  CHECK(h.journal.status("lost") == "Errored");
  CHECK(h.journal.step("lost").message ==
        "steps.make.artifacts.data: step 'make' Skipped and the artifact has no default");
  // A blob of the store an earlier run made (a data version) is an input too (lineage).
  int inputs = 0;
  for (const auto& a : h.journal.artifact_rows)
    if (a.role == "input" && a.step == "old" && a.digest == "sha256:" + hex) ++inputs;
  CHECK(inputs == 1);
}

TEST_CASE("bytes that are not UTF-8 feeding a for_each end that step Errored, and the run ends") {
  // The reproducer of issue 12: this aborted the engine and left the run Running.
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    return spec.instance == "gen" ? prints("a\377b") : Outcome{};
  };
  auto wf = workflow(R"(
steps:
  gen:
    shell: printf 'a\377b'
  fan: {for_each: "{{steps.gen.outputs.result}}", shell: "echo {{item}}", needs: [gen]}
)");
  CHECK(h.run(wf) == "Errored");
  CHECK(h.journal.run_status["r-1"] == "Errored");
  CHECK(h.journal.status("gen") == "Succeeded");
  CHECK(h.journal.status("fan") == "Errored");
  CHECK(h.journal.step("fan").message == "for_each must give a JSON list; got \"a\xEF\xBF\xBD" "b\"");
  CHECK(all_terminal(h.journal));
}

TEST_CASE("results that no step could render (invalid UTF-8, huge, odd shapes) never stop the engine") {
  Harness h;
  h.plugins["t.odd"] = PluginInfo{"t.odd", "1", "", "", {}, {}, {}};
  h.runner.script = [](const AttemptSpec& spec) {
    Outcome o;
    if (spec.instance == "odd") {
      o.outputs = {{"text", "\xff\xfe"}, {"n", 1}};
      o.metrics = Value::array({{{"name", 3}, {"value", "high"}}, {{"name", "acc"}, {"value", 0.9}}});
      o.confusions = Value::array({{{"name", "cm"}}, 7});
    }
    if (spec.instance == "big") o.stdout_text = std::string(1 << 20, '\xc3');
    return o;
  };
  auto wf = workflow(R"(
fail_fast: false
steps:
  odd: {uses: t.odd, isolation: none}
  big: {shell: x}
  use: {needs: [odd, big], run: [echo, "{{steps.odd.outputs.text}}", "{{steps.big.outputs.result}}"]}
  item: {needs: [odd], for_each: [{a: 1}], run: [echo, "{{item.b}}"]}
)");
  CHECK(h.run(wf) == "Errored");
  CHECK(h.journal.status("odd") == "Succeeded");
  CHECK(h.journal.metrics.size() == 1);  // the metric with a number for a name is dropped
  CHECK(h.journal.status("use") == "Succeeded");
  CHECK(h.runner.of("use")[0].argv[1] == "\xff\xfe");
  CHECK(h.journal.status("item[0]") == "Errored");
  CHECK(h.journal.step("item[0]").message == R"(item {"a":1} has no key 'b')");
  CHECK(all_terminal(h.journal));
}

TEST_CASE("the journal gets batched writes, and the run is claimed and finished") {
  Harness h;
  h.runner.script = [](const AttemptSpec&) { return prints("", 0); };
  std::string yaml = "steps:\n";
  for (int i = 0; i < 200; ++i) yaml += "  s" + std::to_string(i) + ": {shell: x}\n";
  CHECK(h.run(workflow(yaml)) == "Succeeded");
  CHECK(h.journal.step_rows.size() == 200);
  CHECK(h.journal.transactions < 10);  // one commit per batch, not one per step
  CHECK(h.journal.run_status["r-1"] == "Succeeded");
}

TEST_CASE("a step Omitted by the last step of the DAG to end still gets its row before on_exit runs") {
  // Found by fuzz_scheduler: `bad` Errors as it begins, its dependent is
  // Omitted in the same handler that sees the DAG done and starts on_exit;
  // that row was never written.
  Harness h;
  auto wf = workflow(R"(
steps:
  a: {shell: x}
  bad: {needs: [a], when: "steps.a.outputs.nope == 1", shell: x}
  c: {needs: [bad], shell: x}
on_exit:
  bye: {shell: x}
)");
  CHECK(h.run(wf) == "Errored");
  CHECK(h.journal.status("bad") == "Errored");
  CHECK(h.journal.step("bad").message.find("when 'steps.a.outputs.nope == 1': ") == 0);
  CHECK(h.journal.status("c") == "Omitted");
  CHECK(h.journal.status("bye") == "Succeeded");
  CHECK(all_terminal(h.journal));
}

TEST_CASE("an exception while handling a step ends that step Errored, and the run goes on by its rules") {
  Harness h;
  h.journal.throw_on_cache_lookup = "disk on fire";
  auto wf = workflow(R"(
fail_fast: false
steps:
  cached: {cache: true, shell: x}
  plain: {shell: x}
  after: {needs: [cached], shell: x}
)");
  CHECK(h.run(wf) == "Errored");
  CHECK(h.journal.status("cached") == "Errored");
  CHECK(h.journal.step("cached").message == "internal error: disk on fire");
  CHECK(h.runner.of("cached").empty());
  CHECK(h.journal.status("plain") == "Succeeded");
  CHECK(h.journal.status("after") == "Omitted");
  CHECK(all_terminal(h.journal));
}

TEST_CASE("an exception outside any step ends the run Errored, with every step ended") {
  Harness h;
  h.journal.throw_on_heartbeat = "database is gone";  // the first heartbeat is at 2s
  h.runner.script = [](const AttemptSpec&) { return prints("", 5); };
  auto wf = workflow("steps:\n  a: {shell: sleep 5}\n  b: {needs: [a], shell: x}\n");
  CHECK(h.run(wf) == "Errored");
  CHECK(h.journal.run_status["r-1"] == "Errored");
  CHECK(h.journal.run_message["r-1"] == "internal error: database is gone");
  CHECK(h.journal.status("a") == "Errored");
  CHECK(h.journal.step("a").message == "internal error: database is gone");
  CHECK(h.journal.status("b") == "Errored");
  CHECK(all_terminal(h.journal));
}
