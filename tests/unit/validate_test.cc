// Whole-workflow checks: the dependency graph, references, plugins, resources,
// and -p params. Messages are pinned exactly: they are what a user reads.
#include "engine/validate.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "engine/frontend_v1.h"

using ctflow::Diagnostics;
using ctflow::HostCapacity;
using ctflow::LoadResult;
using ctflow::PluginRegistry;
using ctflow::ValidateOptions;
using ctflow::Value;

namespace {

// The core plugins as built: CTFLOW_PLUGIN_PATH is set for unit tests.
PluginRegistry& plugins() {
  static PluginRegistry registry;
  return registry;
}

HostCapacity small_host() {
  HostCapacity h;
  h.cpus = 4;
  h.gpus = 0;
  h.memory = int64_t{8} << 30;
  return h;
}

struct Checked {
  LoadResult load;
  std::string rendered;  // render() of the frontend's and the validator's diagnostics
  size_t count = 0;
};

Checked check(const std::string& text, bool with_plugins = true) {
  Checked c{ctflow::parse_workflow_text(text, "wf.yaml"), "", 0};
  REQUIRE_MESSAGE(c.load.diags.empty(), c.load.diags.render());
  ValidateOptions opt;
  opt.plugins = with_plugins ? &plugins() : nullptr;
  opt.host = small_host();
  ctflow::validate_workflow(*c.load.workflow, opt, c.load.diags);
  c.rendered = c.load.diags.render();
  c.count = c.load.diags.size();
  return c;
}

// Only the "LINE:COL: MESSAGE" of each diagnostic, in the order found.
std::string messages(const std::string& text, bool with_plugins = true) {
  auto c = check(text, with_plugins);
  std::string out;
  for (const auto& d : c.load.diags.items())
    out += std::to_string(d.pos.line) + ":" + std::to_string(d.pos.col) + ": " + d.message + "\n";
  return out;
}

std::string wf(const std::string& rest) {
  return "apiVersion: ctflow/v1\n"
         "kind: Workflow\n"
         "metadata: {name: t}\n" +
         rest;
}

ctflow::Workflow parsed(const std::string& text) {
  auto r = ctflow::parse_workflow_text(text, "wf.yaml");
  REQUIRE_MESSAGE(r.ok(), r.diags.render());
  return *r.workflow;
}

}  // namespace

TEST_CASE("ValidateTest.PluginsAreFound") {
  REQUIRE_MESSAGE(std::getenv("CTFLOW_PLUGIN_PATH") != nullptr, "run through ctest: it sets CTFLOW_PLUGIN_PATH");
  REQUIRE(plugins().find("core.echo") != nullptr);
  REQUIRE(plugins().find("core.fail") != nullptr);
}

TEST_CASE("ValidateTest.AGoodWorkflowHasNoDiagnostics") {
  auto c = check(wf("params: {n: 3}\n"
                    "steps:\n"
                    "  a: {uses: core.echo, with: {message: \"{{params.n}}\"}}\n"
                    "  b:\n"
                    "    needs: [a]\n"
                    "    run: [echo, \"{{steps.a.outputs.message}}\", \"{{steps.a.status}}\"]\n"
                    "    outputs: {parameters: {x: {path: x}}, artifacts: {m: {path: m}}}\n"
                    "  c:\n"
                    "    depends: b.Succeeded || b.Failed\n"
                    "    when: steps.b.outputs.x > 2\n"
                    "    for_each: \"{{steps.b.outputs.result}}\"\n"
                    "    shell: echo {{item.k}} {{steps.b.artifacts.m}}\n"
                    "on_exit:\n"
                    "  n: {run: [echo, \"{{workflow.status}} {{workflow.failures}} {{steps.c.status}}\"]}\n"));
  CHECK(c.rendered == "");
}

TEST_CASE("ValidateTest.Cycle") {
  auto c = check(wf("steps:\n"
                    "  a:\n"
                    "    needs: [c]\n"
                    "    run: [echo]\n"
                    "  b:\n"
                    "    needs: [a]\n"
                    "    run: [echo]\n"
                    "  c:\n"
                    "    needs: [b]\n"
                    "    run: [echo]\n"));
  CHECK(c.rendered ==
        "wf.yaml:5:3: error: cycle: a -> b -> c -> a: a step cannot depend on itself, even indirectly\n"
        "    a:\n"
        "    ^\n");
  CHECK(messages(wf("steps:\n"
                    "  x: {run: [echo]}\n"
                    "  a: {depends: b.Succeeded && x.Succeeded, run: [echo]}\n"
                    "  b: {depends: a.Failed, run: [echo]}\n")) ==
        "6:3: cycle: a -> b -> a: a step cannot depend on itself, even indirectly\n");
  // A self-edge is not a cycle Boost finds: these used to recurse without end.
  CHECK(messages(wf("steps:\n  a: {needs: [a], run: [echo]}\n")) == "5:3: step 'a' needs itself\n");
  CHECK(messages(wf("steps:\n  a: {depends: a.Failed, run: [echo]}\n")) ==
        "5:16: 'depends' of step 'a' names the step itself\n");
}

TEST_CASE("ValidateTest.UnknownStepsInNeedsAndDepends") {
  CHECK(messages(wf("steps:\n"
                    "  train: {run: [echo]}\n"
                    "  b: {needs: [trian, nope], run: [echo]}\n"
                    "  c: {depends: \"tran.Succeeded || b.Finished\", run: [echo]}\n")) ==
        "6:3: step 'b' needs unknown step 'trian' (did you mean 'train'?)\n"
        "6:3: step 'b' needs unknown step 'nope'\n"
        "7:16: 'depends' of step 'c' names unknown step 'tran' (did you mean 'train'?)\n"
        "7:16: 'depends' of step 'c': 'b.Finished' must be STEP.RESULT with RESULT one of Succeeded, Failed, "
        "Errored, Skipped, Omitted, AnySucceeded, AllFailed\n");
  CHECK(messages(wf("steps:\n"
                    "  a: {run: [echo]}\n"
                    "  c: {depends: a.Succeded, run: [echo]}\n")) ==
        "6:16: 'depends' of step 'c': 'a.Succeded' must be STEP.RESULT with RESULT one of Succeeded, Failed, "
        "Errored, Skipped, Omitted, AnySucceeded, AllFailed (did you mean 'Succeeded'?)\n");
  // on_exit steps and main steps are two graphs: a main step cannot need an exit step.
  CHECK(messages(wf("steps:\n"
                    "  a: {needs: [notify], run: [echo]}\n"
                    "on_exit:\n"
                    "  notify: {run: [echo]}\n")) == "5:3: step 'a' needs unknown step 'notify'\n");
}

TEST_CASE("ValidateTest.ReferenceToAStepThatIsNotUpstream") {
  auto c = check(wf("steps:\n"
                    "  a: {run: [echo]}\n"
                    "  b:\n"
                    "    run: [echo, \"{{steps.a.outputs.result}}\"]\n"));
  CHECK(c.rendered ==
        "wf.yaml:7:10: error: step 'b' refers to step 'a', which is not upstream of it: add 'a' to its needs\n"
        "      run: [echo, \"{{steps.a.outputs.result}}\"]\n"
        "           ^\n");
  // Upstream through another step is fine.
  CHECK(messages(wf("steps:\n"
                    "  a: {run: [echo]}\n"
                    "  b: {needs: [a], run: [echo]}\n"
                    "  c: {needs: [b], run: [echo, \"{{steps.a.outputs.result}}\"]}\n")) == "");
  // A downstream step is not upstream either; and in `when`.
  CHECK(messages(wf("steps:\n"
                    "  a: {run: [echo], when: \"steps.b.status == 'Succeeded'\"}\n"
                    "  b: {needs: [a], run: [echo]}\n")) ==
        "5:26: step 'a' refers to step 'b', which is not upstream of it: add 'b' to its needs\n");
  CHECK(messages(wf("steps:\n  a: {run: [echo, \"{{steps.nowhere.outputs.result}}\"]}\n")) ==
        "5:12: step 'a' refers to unknown step 'nowhere'\n");
}

TEST_CASE("ValidateTest.UnknownParams") {
  auto c = check(wf("params:\n"
                    "  epochs: {type: int, default: 1}\n"
                    "steps:\n"
                    "  a:\n"
                    "    run: [echo, \"{{params.epoch}}\"]\n"
                    "    when: params.treshold > 1\n"));
  CHECK(c.rendered ==
        "wf.yaml:8:10: error: step 'a' refers to unknown param 'epoch' (did you mean 'epochs'?)\n"
        "      run: [echo, \"{{params.epoch}}\"]\n"
        "           ^\n"
        "wf.yaml:9:11: error: step 'a' refers to unknown param 'treshold'\n"
        "      when: params.treshold > 1\n"
        "            ^\n");
}

TEST_CASE("ValidateTest.UndeclaredOutputs") {
  CHECK(messages(wf("steps:\n"
                    "  a:\n"
                    "    run: [echo]\n"
                    "    outputs: {parameters: {size: {path: s}}, artifacts: {model: {path: m}}}\n"
                    "  b:\n"
                    "    needs: [a]\n"
                    "    run: [echo, \"{{steps.a.outputs.sise}}\", \"{{steps.a.artifacts.modl}}\", "
                    "\"{{steps.a.outputs.model}}\"]\n"
                    "  p: {uses: core.echo, with: {message: hi}}\n"
                    "  q:\n"
                    "    needs: [p]\n"
                    "    uses: core.echo\n"
                    "    with: {message: \"{{steps.p.outputs.mesage}}\"}\n")) ==
        "10:10: step 'a' has no output parameter 'sise' (did you mean 'size'?)\n"
        "10:10: step 'a' has no output artifact 'modl' (did you mean 'model'?)\n"
        "10:10: step 'a' has no output parameter 'model'\n"
        "15:12: step 'p' has no output parameter 'mesage' (did you mean 'message'?)\n");
}

TEST_CASE("ValidateTest.WorkflowAndItemReferences") {
  CHECK(messages(wf("steps:\n"
                    "  a: {run: [echo, \"{{workflow.status}}\", \"{{item}}\", \"{{workflow.nme}}\", \"{{parms.x}}\"]}\n")) ==
        "5:12: 'workflow.status' is only known in on_exit steps, after the run has ended\n"
        "5:12: step 'a' refers to 'item' but has no 'for_each'\n"
        "5:12: unknown reference 'workflow.nme': use workflow.name, workflow.run_id, workflow.status or "
        "workflow.failures\n"
        "5:12: unknown reference 'parms.x': references start with params., steps., item, trial or workflow. (did you "
        "mean 'params'?)\n");
}

TEST_CASE("ValidateTest.MalformedStepReferences") {
  // The shapes the run cannot resolve are refused at lint, each with how to write it.
  CHECK(messages(wf("steps:\n"
                    "  a: {run: [echo]}\n"
                    "  b:\n"
                    "    needs: [a]\n"
                    "    run: [echo, \"{{steps.a.status.code}}\", \"{{steps.a}}\", \"{{params.a.b}}\"]\n"
                    "    when: steps.a.result == 'x'\n")) ==
        "8:10: 'steps.a.status.code' should be steps.a.outputs.NAME, steps.a.artifacts.NAME, steps.a.status or steps.a.exit_code\n"
        "8:10: 'steps.a' should be steps.STEP.outputs.NAME, steps.STEP.artifacts.NAME, steps.STEP.status or steps.STEP.exit_code\n"
        "8:10: 'params.a.b' should be params.NAME\n"
        "9:11: 'steps.a.result' should be steps.a.outputs.NAME, steps.a.artifacts.NAME, steps.a.status or steps.a.exit_code\n");
}

TEST_CASE("ValidateTest.UnknownPlugin") {
  auto c = check(wf("steps:\n"
                    "  a:\n"
                    "    uses: core.ech\n"));
  CHECK(c.rendered ==
        "wf.yaml:6:11: error: unknown plugin 'core.ech' (did you mean 'core.echo'?): see 'ctflow plugins' for "
        "those installed, or add a folder to CTFLOW_PLUGIN_PATH\n"
        "      uses: core.ech\n"
        "            ^\n");
  // Without a registry the plugin checks are skipped.
  CHECK(messages(wf("steps:\n  a: {uses: nowhere.none}\n"), false) == "");
}

TEST_CASE("ValidateTest.PluginOutputDefaultsNameThePluginsOutputs") {
  // core.echo declares the output parameter 'message' and no artifact.
  CHECK(messages(wf("steps:\n"
                    "  a:\n"
                    "    uses: core.echo\n"
                    "    with: {message: hi}\n"
                    "    outputs: {parameters: {message: {default: none}}}\n")) == "");
  CHECK(messages(wf("steps:\n"
                    "  a:\n"
                    "    uses: core.echo\n"
                    "    with: {message: hi}\n"
                    "    outputs: {parameters: {mesage: {default: x}}, artifacts: {message: {default: \"\"}}}\n")) ==
        "5:3: step 'a': plugin 'core.echo' has no output parameter 'mesage' to give a default (did you mean "
        "'message'?) (see 'ctflow plugins core.echo')\n"
        "5:3: step 'a': plugin 'core.echo' has no output artifact 'message' to give a default (see 'ctflow plugins "
        "core.echo')\n");
}

TEST_CASE("ValidateTest.BadPluginParams") {
  auto c = check(wf("steps:\n"
                    "  a:\n"
                    "    uses: core.echo\n"
                    "    with: {mesage: hi}\n"
                    "  b:\n"
                    "    uses: core.sleep\n"
                    "    with: {seconds: abc}\n"
                    "  c:\n"
                    "    uses: core.fail\n"
                    "    with: {mode: exit, code: 1.5}\n"
                    "  d:\n"
                    "    uses: core.sleep\n"
                    "    with: {seconds: \"{{params.x}}\"}\n"
                    "params: {x: 1}\n"));
  CHECK(c.rendered ==
        "wf.yaml:6:11: error: step 'a': plugin 'core.echo' needs parameter 'message' (json): add it under 'with:'\n"
        "      uses: core.echo\n"
        "            ^\n"
        "wf.yaml:7:12: error: plugin 'core.echo' has no parameter 'mesage' (did you mean 'message'?) (see "
        "'ctflow plugins core.echo')\n"
        "      with: {mesage: hi}\n"
        "             ^\n"
        "wf.yaml:10:12: error: parameter 'seconds' of plugin 'core.sleep' is float and must be a number; got "
        "'abc'\n"
        "      with: {seconds: abc}\n"
        "             ^\n"
        "wf.yaml:13:24: error: parameter 'code' of plugin 'core.fail' is int and must be an integer; got 1.5\n"
        "      with: {mode: exit, code: 1.5}\n"
        "                         ^\n");
  CHECK(c.count == 4);
}

TEST_CASE("ValidateTest.ResourcesTheHostDoesNotHave") {
  auto c = check(wf("steps:\n"
                    "  train:\n"
                    "    run: [echo]\n"
                    "    resources: {gpu: 1}\n"));
  CHECK(c.rendered ==
        "wf.yaml:5:3: error: step 'train' asks for 1 gpu but this host has none: set resources.gpu to 0 to train "
        "on the CPU, or pass --gpus\n"
        "    train:\n"
        "    ^\n");
  CHECK(messages(wf("steps:\n  a: {run: [echo], resources: {cpu: 8, memory: 16Gi}}\n")) ==
        "5:3: step 'a' asks for 8 cpu but this host has 4: lower resources.cpu, or pass --cpus if the host really "
        "has more\n"
        "5:3: step 'a' asks for 16384 MiB of memory but this host has 8192 MiB: lower resources.memory, or pass "
        "--memory\n");
  CHECK(messages(wf("steps:\n  a: {run: [echo], resources: {cpu: 4, memory: 8Gi, gpu: 0}}\n")) == "");  // Read from a param: the message names the -p that fixes it.
  CHECK(messages(wf("params: {gpus: 1, cpus: 6}\n"
                    "steps:\n  a: {run: [echo], resources: {cpu: \"{{params.cpus}}\", gpu: \"{{params.gpus}}\"}}\n")) ==
        "6:3: step 'a' asks for 6 cpu but this host has 4: pass -p cpus=4 (resources.cpu is params.cpus), or pass "
        "--cpus if the host really has more\n"
        "6:3: step 'a' asks for 1 gpu but this host has none: pass -p gpus=0 (resources.gpu is params.gpus), or pass "
        "--gpus\n");
}

TEST_CASE("ValidateTest.ReportsEveryProblemNotOnlyTheFirst") {
  auto c = check(wf("params: {n: 1}\n"
                    "steps:\n"
                    "  a: {run: [echo, \"{{params.m}}\"]}\n"
                    "  b: {needs: [zz], run: [echo]}\n"
                    "  c: {uses: core.ech}\n"
                    "  d: {uses: core.echo, with: {message: 1, extra: 2}}\n"
                    "  e: {run: [echo], resources: {gpu: 2}}\n"
                    "  f: {run: [echo, \"{{steps.a.outputs.nope}}\"]}\n"));
  CHECK(c.count == 6);
  std::string lines;
  for (const auto& d : c.load.diags.items()) lines += std::to_string(d.pos.line) + " ";
  CHECK(lines == "7 6 8 9 10 11 ");
}

TEST_CASE("ValidateTest.TopologicalOrderAndDependencies") {
  auto w = parsed(wf("steps:\n"
                     "  d: {needs: [b, c], run: [echo]}\n"
                     "  b: {needs: [a], run: [echo]}\n"
                     "  c: {depends: a.Succeeded || b.Failed, run: [echo]}\n"
                     "  a: {run: [echo]}\n"));
  auto order = ctflow::topological_order(w);
  REQUIRE(order.size() == 4);
  auto pos = [&](const std::string& n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  CHECK(pos("a") < pos("b"));
  CHECK(pos("b") < pos("c"));
  CHECK(pos("c") < pos("d"));
  CHECK(ctflow::direct_dependencies(w.steps[2]) == std::vector<std::string>{"a", "b"});
  CHECK(ctflow::direct_dependencies(w.steps[0]) == std::vector<std::string>{"b", "c"});
}

TEST_CASE("ValidateTest.BindParams") {
  auto w = parsed(wf("params:\n"
                     "  n: {type: int, default: 1}\n"
                     "  rate: 0.5\n"
                     "  name: {type: string, description: who to greet}\n"
                     "  cfg: {type: json, default: {a: 1}}\n"
                     "steps: {a: {run: [echo]}}\n"));
  SUBCASE("defaults and typed -p values") {
    auto v = ctflow::bind_params(w, {"name=; touch /tmp/x", "n=3", "rate=2", "cfg=[1,2]"});
    REQUIRE_MESSAGE(v.ok(), v.message());
    CHECK(*v == Value{{"n", 3}, {"rate", 2.0}, {"name", "; touch /tmp/x"}, {"cfg", Value::array({1, 2})}});
  }
  SUBCASE("an int that is not one") {
    CHECK(ctflow::bind_params(w, {"name=x", "n=abc"}).message() ==
          "-p n=abc: param 'n' is int and must be an integer; got 'abc'");
  }
  SUBCASE("a float that is not one") {
    CHECK(ctflow::bind_params(w, {"name=x", "rate=fast"}).message() ==
          "-p rate=fast: param 'rate' is float and must be a number; got 'fast'");
  }
  SUBCASE("a required param missing") {
    CHECK(ctflow::bind_params(w, {}).message() == "param 'name' is required: pass -p name=VALUE (who to greet)");
  }
  SUBCASE("an unknown param") {
    CHECK(ctflow::bind_params(w, {"nmae=x"}).message() == "-p nmae=x: workflow 't' has no param 'nmae' (did you mean 'name'?)");
  }
  SUBCASE("not NAME=VALUE") {
    CHECK(ctflow::bind_params(w, {"n"}).message() == "-p n: write -p NAME=VALUE");
    CHECK(ctflow::bind_params(w, {"=3"}).message() == "-p =3: write -p NAME=VALUE");
  }
  SUBCASE("a value with '=' in it") {
    auto v = ctflow::bind_params(w, {"name=a=b"});
    REQUIRE(v.ok());
    CHECK((*v)["name"] == "a=b");
  }
}

TEST_CASE("ValidateTest.HostCapacityDetect") {
  auto h = HostCapacity::detect();
  CHECK(h.cpus >= 1);
  CHECK(h.memory > 0);
}

TEST_CASE("ValidateTest.SweepReferences") {
  const std::string sweep =
      "    sweep:\n"
      "      parameters: {lr: {values: [0.1, 0.2]}}\n"
      "      method: grid\n"
      "      objective: {metric: acc, goal: maximize}\n";
  CHECK(messages(wf("steps:\n  tune:\n" + sweep + "    run: [train, \"{{trial.lr}}\", \"{{trial}}\"]\n" +
                    "  use:\n    needs: [tune]\n"
                    "    run: [use, \"{{steps.tune.outputs.best.lr}}\", \"{{steps.tune.outputs.best_value}}\"]\n")) == "");
  CHECK(messages(wf("steps:\n  tune:\n" + sweep + "    run: [train, \"{{trial.rl}}\"]\n")) ==
        "10:10: step 'tune' refers to 'trial.rl', which is not a parameter of its sweep\n");
  CHECK(messages(wf("steps:\n  a: {run: [echo, \"{{trial.lr}}\"]}\n")) ==
        "5:12: step 'a' refers to 'trial.lr' but has no 'sweep'\n");
  CHECK(messages(wf("steps:\n  tune:\n" + sweep + "    run: [train]\n" +
                    "  use:\n    needs: [tune]\n    run: [use, \"{{steps.tune.outputs.best.mu}}\"]\n")) ==
        "13:10: 'steps.tune.outputs.best.mu': the sweep of step 'tune' has no parameter 'mu'\n");
}
