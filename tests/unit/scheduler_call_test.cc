// Call steps over the Scheduler's fakes (scheduler_fakes.h): a template
// expanded when its step starts, fanned out, nested, recursive, past its
// depth limit, failing inside, and resumed. No processes, no sleeping.
#include "scheduler_fakes.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ctflow;
using namespace ctflow::fake;

namespace {

Outcome prints(std::string text, double seconds = 0) {
  Outcome o;
  o.stdout_text = std::move(text);
  o.seconds = seconds;
  return o;
}

Outcome fails(std::string message) {
  Outcome o;
  o.status = NodeStatus::Failed;
  o.message = std::move(message);
  o.exit_code = 1;
  return o;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

TEST_CASE("a call expands its template when it starts; its params come from earlier outputs; its outputs go on") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    if (spec.instance == "name") return prints("ada", 1);
    if (spec.instance == "g/hello") return prints(spec.argv[0] + " " + spec.argv[1] + " " + spec.argv[2], 1);
    if (spec.instance == "g/shout") return prints(upper(spec.argv[1]), 1);
    return prints(spec.instance, 1);
  };
  auto wf = workflow(R"(
templates:
  greet:
    params: {who: {type: string}, times: {type: int, default: 2}}
    steps:
      hello: {run: [hello, "{{params.who}}", "{{params.times}}"]}
      shout: {needs: [hello], run: [shout, "{{steps.hello.outputs.result}}"]}
    outputs: {text: "{{steps.shout.outputs.result}}", who: "{{params.who}}"}
steps:
  name: {run: [name]}
  g: {needs: [name], call: greet, with: {who: "{{steps.name.outputs.result}}"}}
  after: {needs: [g], run: [after, "{{steps.g.outputs.text}}", "{{steps.g.outputs.who}}"]}
)");
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.journal.status("g/hello") == "Succeeded");
  CHECK(h.journal.status("g/shout") == "Succeeded");
  CHECK(h.journal.status("g") == "Succeeded");
  REQUIRE(h.runner.of("g/hello").size() == 1);
  CHECK(h.runner.of("g/hello")[0].argv == std::vector<std::string>{"hello", "ada", "2"});
  CHECK(h.runner.of("g/hello")[0].start == doctest::Approx(1.0));  // expanded when g started, after name
  CHECK(h.journal.step("g").outputs == Value{{"text", "HELLO ADA 2"}, {"who", "ada"}});
  CHECK(h.journal.step("g").inputs == Value{{"who", "ada"}, {"times", 2}});
  REQUIRE(h.runner.of("after").size() == 1);
  CHECK(h.runner.of("after")[0].argv == std::vector<std::string>{"after", "HELLO ADA 2", "ada"});
  CHECK(h.runner.of("after")[0].start == doctest::Approx(3.0));  // g ended when shout did
  // The store has the template's steps like any other, in the order they ran.
  auto& order = h.journal.step_order;
  CHECK(std::find(order.begin(), order.end(), "g/hello") < std::find(order.begin(), order.end(), "g/shout"));
}

TEST_CASE("a call with for_each over a previous step's output: one expansion per item, outputs as lists") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) {
    if (spec.instance == "list") return prints("[1, 2, 3]", 1);
    if (ends_with(spec.instance, "/mul")) {
      int x = std::stoi(spec.argv[1]);
      return prints(std::to_string(x * x), 1);
    }
    return Outcome{};
  };
  auto wf = workflow(R"(
templates:
  sq:
    params: {x: {type: int}}
    steps:
      mul: {run: [mul, "{{params.x}}"]}
    outputs: {y: "{{steps.mul.outputs.result}}"}
steps:
  list: {run: [list]}
  each: {needs: [list], for_each: "{{steps.list.outputs.result}}", call: sq, with: {x: "{{item}}"}}
  sum: {needs: [each], run: [sum, "{{steps.each.outputs.y}}"]}
)");
  CHECK(h.run(wf) == "Succeeded");
  for (int i = 0; i < 3; ++i) {
    const std::string n = "each[" + std::to_string(i) + "]";
    CHECK(h.journal.status(n) == "Succeeded");
    CHECK(h.journal.status(n + "/mul") == "Succeeded");
    REQUIRE(h.runner.of(n + "/mul").size() == 1);
    CHECK(h.runner.of(n + "/mul")[0].argv[1] == std::to_string(i + 1));
    CHECK(h.runner.of(n + "/mul")[0].start == doctest::Approx(1.0));
  }
  CHECK(h.journal.step("each").outputs["y"] == Value({"1", "4", "9"}));
  REQUIRE(h.runner.of("sum").size() == 1);
  CHECK(h.runner.of("sum")[0].argv[1] == R"(["1","4","9"])");
}

TEST_CASE("calls nest: a template's step calls another template") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) { return prints(spec.argv[0] + "-" + spec.argv[1]); };
  auto wf = workflow(R"(
templates:
  inner:
    params: {v: {type: string}}
    steps: {leaf: {run: [leaf, "{{params.v}}"]}}
    outputs: {out: "{{steps.leaf.outputs.result}}"}
  outer:
    params: {v: {type: string}}
    steps:
      pre: {run: [pre, "{{params.v}}"]}
      mid: {needs: [pre], call: inner, with: {v: "{{steps.pre.outputs.result}}"}}
    outputs: {out: "{{steps.mid.outputs.out}}"}
steps:
  top: {call: outer, with: {v: x}}
  use: {needs: [top], run: [use, "{{steps.top.outputs.out}}"]}
)");
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.journal.status("top/pre") == "Succeeded");
  CHECK(h.journal.status("top/mid") == "Succeeded");
  CHECK(h.journal.status("top/mid/leaf") == "Succeeded");
  REQUIRE(h.runner.of("top/mid/leaf").size() == 1);
  CHECK(h.runner.of("top/mid/leaf")[0].argv[1] == "pre-x");
  REQUIRE(h.runner.of("use").size() == 1);
  CHECK(h.runner.of("use")[0].argv[1] == "leaf-pre-x");
}

TEST_CASE("a template calls itself; the recursion ends on a `when` over its param") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) { return prints(std::to_string(std::stoi(spec.argv[1]) - 1)); };
  auto wf = workflow(R"(
templates:
  countdown:
    params: {n: {type: int}}
    steps:
      dec: {run: [dec, "{{params.n}}"]}
      next: {needs: [dec], when: "params.n > 1", call: countdown, with: {n: "{{steps.dec.outputs.result}}"}}
    outputs: {n: "{{params.n}}"}
steps:
  go: {call: countdown, with: {n: 3}}
)");
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.runner.of("go/dec")[0].argv[1] == "3");
  CHECK(h.runner.of("go/next/dec")[0].argv[1] == "2");
  CHECK(h.runner.of("go/next/next/dec")[0].argv[1] == "1");
  CHECK(h.journal.status("go/next") == "Succeeded");
  CHECK(h.journal.status("go/next/next") == "Succeeded");
  CHECK(h.journal.status("go/next/next/next") == "Skipped");
  CHECK(h.journal.step("go/next/next/next").message == "skipped: when 'params.n > 1' is false");
  CHECK(h.runner.of("go/next/next/next/dec").empty());
  CHECK(h.journal.step("go").outputs["n"] == 3);
  CHECK(h.journal.step("go/next/next").outputs["n"] == 1);
}

TEST_CASE("recursion past max_depth ends the step Errored with the call chain; the callers fail with it") {
  Harness h;
  auto wf = workflow(R"(
templates:
  a: {steps: {b: {call: b}}}
  b: {steps: {again: {call: b}}}
steps:
  top: {call: a}
)");
  CHECK(wf.max_depth == 10);
  CHECK(h.run(wf) == "Errored");
  const std::string chain = "a -> b -> b -> b -> b -> b -> b -> b -> b -> b -> b";
  std::string deepest = "top/b";
  for (int i = 0; i < 9; ++i) deepest += "/again";
  CHECK(h.journal.status(deepest) == "Errored");
  CHECK(h.journal.step(deepest).message == "call depth 11 exceeds max_depth 10: " + chain);
  CHECK(h.journal.status(deepest + "/again").empty());  // never expanded
  CHECK(h.journal.status("top") == "Errored");
  CHECK(h.journal.step("top").message == "call depth 11 exceeds max_depth 10: " + chain);
  CHECK(h.journal.run_message["r-1"] == "step 'top' Errored");
  CHECK(h.runner.spans.empty());

  Harness h3;
  auto wf3 = workflow("max_depth: 2\ntemplates:\n  r: {steps: {s: {call: r}}}\nsteps:\n  go: {call: r}\n");
  CHECK(h3.run(wf3) == "Errored");
  CHECK(h3.journal.step("go/s/s").message == "call depth 3 exceeds max_depth 2: r -> r -> r");
}

TEST_CASE("a failure inside a template fails the caller unless handled there; downstream is Omitted") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) { return spec.argv[0] == "bad" ? fails("exit code 1") : Outcome{}; };
  auto wf = workflow(R"(
fail_fast: false
templates:
  t:
    steps:
      ok: {run: [ok]}
      bad: {run: [bad]}
      never: {needs: [bad], run: [never]}
  guarded:
    steps:
      bad: {run: [bad]}
      fix: {depends: bad.Failed, run: [fix]}
steps:
  c: {call: t}
  down: {needs: [c], run: [down]}
  h: {call: guarded}
  after: {needs: [h], run: [after]}
)");
  CHECK(h.run(wf) == "Failed");
  CHECK(h.journal.status("c/ok") == "Succeeded");
  CHECK(h.journal.status("c/bad") == "Failed");
  CHECK(h.journal.status("c/never") == "Omitted");
  CHECK(h.journal.status("c") == "Failed");
  CHECK(h.journal.step("c").message == "step 'c/bad' Failed: exit code 1");
  CHECK(h.journal.status("down") == "Omitted");
  CHECK(h.journal.status("h/bad") == "Failed");
  CHECK(h.journal.status("h/fix") == "Succeeded");
  CHECK(h.journal.status("h") == "Succeeded");
  CHECK(h.journal.status("after") == "Succeeded");
  CHECK(h.journal.run_message["r-1"] == "step 'c' Failed");
}

TEST_CASE("fail-fast inside a template stops the run; a bad param or output ends the call Errored") {
  Harness h;
  h.runner.script = [](const AttemptSpec& spec) { return spec.argv[0] == "bad" ? fails("exit code 1") : prints("x", 1); };
  auto wf = workflow(R"(
templates:
  t:
    steps:
      bad: {run: [bad]}
      slow: {run: [slow]}
      later: {needs: [slow], run: [later]}
steps:
  c: {call: t}
)");
  CHECK(h.run(wf) == "Failed");
  CHECK(h.journal.status("c/later") == "Omitted");
  CHECK(h.journal.step("c/later").message == "not started: fail_fast stopped the run after step 'c/bad' Failed");
  CHECK(h.journal.status("c") == "Failed");

  Harness h2;
  auto wf2 = workflow(R"(
fail_fast: false
templates:
  t:
    params: {n: {type: int}}
    steps: {a: {when: "params.n > 5", run: [a]}}
    outputs: {r: "{{steps.a.outputs.result}}"}
steps:
  typed: {call: t, with: {n: "not a number"}}
  skipped: {call: t, with: {n: 1}}
)");
  CHECK(h2.run(wf2) == "Errored");
  CHECK(h2.journal.step("typed").message == "param 'n' of template 't' must be an integer; got 'not a number'");
  CHECK(h2.journal.status("skipped/a") == "Skipped");
  CHECK(h2.journal.status("skipped") == "Errored");
  CHECK(h2.journal.step("skipped").message ==
        "output 'r' of template 't': steps.a.outputs.result: step 'a' Skipped and the output has no default");
}

TEST_CASE("resume re-expands a call and keeps the template's steps that Succeeded") {
  Harness h;
  bool broken = true;
  h.runner.script = [&](const AttemptSpec& spec) {
    if (spec.argv[0] == "b" && spec.argv[1] == "a1" && broken) return fails("exit code 1");
    return prints(spec.argv[0] + spec.argv[1]);
  };
  auto wf = workflow(R"(
fail_fast: false
templates:
  t:
    params: {i: {type: int}}
    steps:
      a: {run: [a, "{{params.i}}"]}
      b: {needs: [a], run: [b, "{{steps.a.outputs.result}}"]}
    outputs: {out: "{{steps.b.outputs.result}}"}
steps:
  one: {call: t, with: {i: 1}}
  f: {for_each: [0, 1], call: t, with: {i: "{{item}}"}}
  end: {needs: [one, f], run: [end, "{{steps.one.outputs.out}} {{steps.f.outputs.out}}"]}
)");
  CHECK(h.run(wf) == "Failed");
  CHECK(h.journal.status("one") == "Failed");
  CHECK(h.journal.status("f[0]") == "Succeeded");
  CHECK(h.journal.status("f[1]") == "Failed");
  broken = false;
  h.options.resume = true;
  CHECK(h.run(wf) == "Succeeded");
  CHECK(h.runner.of("one/a").size() == 1);  // kept from the first run
  CHECK(h.runner.of("one/b").size() == 2);
  CHECK(h.runner.of("f[0]/a").size() == 1);
  CHECK(h.runner.of("f[0]/b").size() == 1);  // f[0] was kept whole
  CHECK(h.runner.of("f[1]/a").size() == 1);
  CHECK(h.runner.of("f[1]/b").size() == 2);
  CHECK(h.journal.status("one") == "Succeeded");
  CHECK(h.journal.step("f").outputs["out"] == Value({"ba0", "ba1"}));
  REQUIRE(h.runner.of("end").size() == 1);
  CHECK(h.runner.of("end")[0].argv[1] == R"(ba1 ["ba0","ba1"])");
}

TEST_CASE("cancel inside a call: its running step is stopped, the rest of the template Cancelled, and the caller") {
  Harness h;
  h.runner.script = [](const AttemptSpec&) { return prints("", 10); };
  h.on_event = [](Scheduler& s, const StepEvent& e) {
    if (e.step == "c/a" && e.status == "Running") s.cancel("cancelled by the user (Ctrl-C)");
  };
  auto wf = workflow(R"(
templates:
  t:
    steps:
      a: {run: [a]}
      b: {needs: [a], run: [b]}
steps:
  c: {call: t}
  after: {needs: [c], run: [after]}
)");
  CHECK(h.run(wf) == "Cancelled");
  CHECK(h.journal.status("c/a") == "Cancelled");
  CHECK(h.runner.of("c/a")[0].end == doctest::Approx(0));
  CHECK(h.journal.status("c/b") == "Cancelled");
  CHECK(h.runner.of("c/b").empty());
  CHECK(h.journal.status("c") == "Cancelled");
  CHECK(h.journal.status("after") == "Cancelled");
  CHECK(h.runner.of("after").empty());
}
