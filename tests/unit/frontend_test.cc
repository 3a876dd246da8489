// The ctflow/v1 frontend: YAML text -> IR, and the exact messages a user sees
// for mistakes in the file (render(): FILE:LINE:COL, the line, a caret).
#include "engine/frontend_v1.h"
#include "engine/params.h"

#include <doctest/doctest.h>

#include "diag_lines.h"

#include <map>
#include <string>

using ctflow::LoadResult;
using ctflow::parse_workflow_text;
using ctflow::StepKind;
using ctflow::Value;

namespace {

LoadResult parse(const std::string& text) { return parse_workflow_text(text, "wf.yaml"); }

// The rendered diagnostics of TEXT.
std::string render(const std::string& text) { return parse(text).diags.render(); }

// "LINE:COL: MESSAGE" lines.
std::string messages(const std::string& text) { return diag_lines(parse(text)); }

const char* kHeader =
    "apiVersion: ctflow/v1\n"
    "kind: Workflow\n"
    "metadata: {name: t}\n";

std::string with_header(const std::string& rest) { return std::string(kHeader) + rest; }

}  // namespace

TEST_CASE("FrontendTest.ParsesTheSpecsStepKeys") {
  auto r = parse(with_header(
      "params:\n"
      "  epochs: {type: int, default: 1, description: training epochs}\n"
      "  threshold: 0.85\n"
      "  data: {type: path}\n"
      "defaults:\n"
      "  timeout: 1h\n"
      "  retry: {limit: 1, backoff: 2s, factor: 3, max_backoff: 1m}\n"
      "parallelism: 4\n"
      "fail_fast: false\n"
      "steps:\n"
      "  a:\n"
      "    uses: core.echo\n"
      "    with: {message: hi}\n"
      "    resources: {cpu: 2, gpu: 0, memory: 4Gi}\n"
      "    isolation: none\n"
      "  b:\n"
      "    needs: [a]\n"
      "    run: [echo, \"{{params.epochs}}\"]\n"
      "    timeout: 30s\n"
      "    retry: {limit: 2, on: [timeout]}\n"
      "    outputs:\n"
      "      parameters: {n: {path: n.txt, default: 0}}\n"
      "      artifacts: {model: {path: model/}}\n"
      "  c:\n"
      "    depends: a.Succeeded || b.Failed\n"
      "    when: params.threshold > 0.5\n"
      "    for_each: [1, 2]\n"
      "    parallelism: 1\n"
      "    shell: echo hi\n"
      "    cache: true\n"
      "on_exit:\n"
      "  notify: {run: [echo, \"{{workflow.status}}\"]}\n"));
  REQUIRE(r.diags.render() == "");
  REQUIRE(r.ok());
  const auto& wf = *r.workflow;
  CHECK(wf.name == "t");
  CHECK(wf.parallelism == 4);
  CHECK_FALSE(wf.fail_fast);
  REQUIRE(wf.params.size() == 3);
  CHECK(wf.params[0].type == ctflow::ParamType::Int);
  CHECK(wf.params[1].type == ctflow::ParamType::Float);
  CHECK_FALSE(wf.params[2].default_value.has_value());  // required
  REQUIRE(wf.steps.size() == 3);
  const auto& a = wf.steps[0];
  CHECK(a.kind == StepKind::Plugin);
  CHECK(a.uses == "core.echo");
  CHECK(a.with == Value{{"message", "hi"}});
  CHECK(a.resources.cpu == 2);
  CHECK(a.resources.memory == 4LL << 30);
  CHECK(a.isolation == ctflow::Isolation::None);
  CHECK(a.timeout_s == 3600);  // from defaults
  CHECK(a.retry.limit == 1);
  CHECK(a.retry.factor == 3);
  CHECK(a.retry.max_backoff_s == 60);
  CHECK(a.cache_enabled());
  const auto& b = wf.steps[1];
  CHECK(b.kind == StepKind::Run);
  CHECK(b.run == std::vector<std::string>{"echo", "{{params.epochs}}"});
  CHECK(b.needs == std::vector<std::string>{"a"});
  CHECK(b.timeout_s == 30);
  CHECK(b.retry.limit == 2);
  CHECK_FALSE(b.retry.on_failed);
  CHECK(b.retry.on_timeout);
  CHECK(b.output_params.at("n").path == "n.txt");
  CHECK(b.output_params.at("n").default_value == Value(0));
  CHECK(b.output_artifacts.at("model").path == "model/");
  CHECK_FALSE(b.cache_enabled());
  const auto& c = wf.steps[2];
  CHECK(c.kind == StepKind::Shell);
  CHECK(c.depends == "a.Succeeded || b.Failed");
  CHECK(c.when == "params.threshold > 0.5");
  CHECK(c.for_each == Value::array({1, 2}));
  CHECK(c.parallelism == 1);
  CHECK(c.cache_enabled());
  REQUIRE(wf.on_exit.size() == 1);
  CHECK(wf.on_exit[0].name == "notify");
}

TEST_CASE("FrontendTest.MalformedYamlPointsAtTheProblem") {
  CHECK(render("apiVersion: ctflow/v1\n"
               "kind: Workflow\n"
               "metadata: {name: x\n"
               "steps: [\n") ==
        "wf.yaml:4:6: error: YAML syntax: end of map flow not found\n"
        "  steps: [\n"
        "       ^\n");
  CHECK(render("apiVersion: ctflow/v1\n"
               "kind: Workflow\n"
               "metadata:\n"
               "  name: x\n"
               "\tsteps: {}\n") ==
        "wf.yaml:5:1: error: YAML syntax: illegal tab when looking for indentation\n"
        "  \tsteps: {}\n"
        "  ^\n");
  auto r = parse("steps:\n  a:\n    run: [echo\n  b: c\n");
  CHECK_FALSE(r.workflow.has_value());
  CHECK(r.diags.size() == 1);
}

TEST_CASE("FrontendTest.NotAMap") {
  CHECK(messages("- a\n- b\n") ==
        "1:1: a workflow must be a map with apiVersion, kind, metadata and steps; got a list\n");
}

TEST_CASE("FrontendTest.WrongApiVersion") {
  CHECK(render("apiVersion: ctflow/v2\n"
               "kind: Workflow\n"
               "metadata: {name: t}\n"
               "steps: {a: {run: [echo]}}\n") ==
        "wf.yaml:1:13: error: unsupported apiVersion 'ctflow/v2': this ctflow reads 'ctflow/v1'\n"
        "  apiVersion: ctflow/v2\n"
        "              ^\n");
  CHECK(messages("apiVersion: argoproj.io/v1alpha1\n"
                 "kind: Workflow\n"
                 "metadata: {name: t}\n"
                 "steps: {a: {run: [echo]}}\n") ==
        "1:13: an Argo Workflow needs a 'spec' with 'entrypoint' and 'templates'; this file has ctflow/v1 "
        "'steps': write 'apiVersion: ctflow/v1'\n");
  CHECK(messages("kind: Pipeline\n"
                 "metadata: {name: t}\n"
                 "steps: {a: {run: [echo]}}\n") ==
        "1:1: missing 'apiVersion': add 'apiVersion: ctflow/v1' at the top\n"
        "1:7: unsupported kind 'Pipeline': a ctflow/v1 file holds a 'Workflow'\n");
}

TEST_CASE("FrontendTest.MissingTopLevelKeys") {
  CHECK(messages("apiVersion: ctflow/v1\nkind: Workflow\n") ==
        "1:1: missing 'metadata': add 'metadata: {name: my-workflow}'\n"
        "1:1: missing 'steps': a workflow needs at least one step\n");
  CHECK(messages(with_header("steps: {}\n")) == "4:8: 'steps' is empty: a workflow needs at least one step\n");
}

TEST_CASE("FrontendTest.DuplicateKeys") {
  CHECK(render(with_header("steps:\n"
                           "  a:\n"
                           "    run: [echo, one]\n"
                           "  a:\n"
                           "    run: [echo, two]\n")) ==
        "wf.yaml:7:3: error: duplicate key 'a' in 'steps' (first given on line 5)\n"
        "    a:\n"
        "    ^\n");
  CHECK(messages(with_header("steps:\n"
                             "  a:\n"
                             "    run: [echo]\n"
                             "    timeout: 1s\n"
                             "    timeout: 2s\n")) ==
        "8:5: duplicate key 'timeout' in step 'a' (first given on line 7)\n");
  CHECK(messages(with_header("params: {n: 1, n: 2}\nsteps: {a: {run: [echo]}}\n")) ==
        "4:16: duplicate key 'n' in 'params' (first given on line 4)\n");
  CHECK(messages(with_header("steps: {a: {uses: core.echo, with: {message: a, message: b}}}\n")) ==
        "4:49: duplicate key 'message' in step 'a' 'with' (first given on line 4)\n");
}

TEST_CASE("FrontendTest.UnknownKeysWithDidYouMean") {
  CHECK(render(with_header("paramz: {}\n"
                           "steps:\n"
                           "  a:\n"
                           "    run: [echo]\n"
                           "    neds: [b]\n")) ==
        "wf.yaml:4:1: error: unknown key 'paramz' at the top level (did you mean 'params'?)\n"
        "  paramz: {}\n"
        "  ^\n"
        "wf.yaml:8:5: error: unknown key 'neds' in step 'a' (did you mean 'needs'?)\n"
        "      neds: [b]\n"
        "      ^\n");
  CHECK(messages(with_header("steps:\n"
                             "  a:\n"
                             "    run: [echo]\n"
                             "    retry: {limt: 2}\n"
                             "    resources: {gpus: 1}\n"
                             "    frobnicate: 1\n")) ==
        "9:5: unknown key 'frobnicate' in step 'a'\n"
        "7:13: unknown key 'limt' in 'retry' (allowed: limit, backoff, factor, max_backoff, on) (did you mean "
        "'limit'?)\n"
        "8:17: unknown key 'gpus' in 'resources' (allowed: cpu, gpu, memory) (did you mean 'gpu'?)\n");
  CHECK(messages("apiVersion: ctflow/v1\nkind: Workflow\nmetadata: {name: t, labls: {}}\nsteps: {a: {run: [echo]}}\n") ==
        "3:21: unknown key 'labls' in 'metadata' (did you mean 'labels'?)\n");
}

TEST_CASE("FrontendTest.BadNames") {
  CHECK(render("apiVersion: ctflow/v1\n"
               "kind: Workflow\n"
               "metadata:\n"
               "  name: Bad_Name\n"
               "steps:\n"
               "  B!:\n"
               "    run: [echo]\n") ==
        "wf.yaml:4:9: error: bad workflow name 'Bad_Name': use at most 63 lower-case letters, digits and '-', "
        "starting and ending with a letter or digit (it becomes a Kubernetes name)\n"
        "    name: Bad_Name\n"
        "          ^\n"
        "wf.yaml:6:3: error: bad step name 'B!': use lower-case letters, digits, '-' and '_', starting and "
        "ending with a letter or digit\n"
        "    B!:\n"
        "    ^\n");
  CHECK(messages("apiVersion: ctflow/v1\nkind: Workflow\nmetadata: {name: " + std::string(64, 'a') +
                 "}\nsteps: {a: {run: [echo]}}\n")
            .find("3:18: bad workflow name 'aaaa") == 0);
  CHECK(messages(with_header("params: {1st: 1}\nsteps: {-a: {run: [echo]}, b-: {run: [echo]}}\n")) ==
        "4:10: bad param name '1st': use letters, digits and '_', not starting with a digit\n"
        "5:9: bad step name '-a': use lower-case letters, digits, '-' and '_', starting and ending with a letter or "
        "digit\n"
        "5:28: bad step name 'b-': use lower-case letters, digits, '-' and '_', starting and ending with a letter or "
        "digit\n");
  // Good names: '-' and '_' inside, digits anywhere.
  CHECK(messages(with_header("steps: {a_1-b: {run: [echo]}, 9: {run: [echo]}}\n")) == "");
}

TEST_CASE("FrontendTest.StepKinds") {
  CHECK(render(with_header("steps:\n"
                           "  both:\n"
                           "    run: [echo]\n"
                           "    shell: echo\n")) ==
        "wf.yaml:7:12: error: step 'both' has both 'run' and 'shell': a step runs exactly one of uses, run, shell or call\n"
        "      shell: echo\n"
        "             ^\n");
  CHECK(messages(with_header("steps:\n"
                             "  none:\n"
                             "    needs: []\n")) ==
        "6:5: step 'none' says nothing to run: add one of 'uses: PLUGIN', 'run: [argv...]', 'shell: SCRIPT' or 'call: TEMPLATE'\n");
  CHECK(messages(with_header("steps:\n"
                             "  s:\n"
                             "    run: echo hi\n")) ==
        "6:10: 'run' takes a list (argv), e.g. run: [python3, train.py, \"{{params.epochs}}\"]; for a shell command "
        "line use 'shell:'\n");
  CHECK(messages(with_header("steps: {s: {run: []}}\n")) ==
        "4:18: 'run' is empty: give the command and its arguments as a list\n");
  // A plugin declares its outputs; a plugin step only gives them defaults.
  CHECK(messages(with_header("steps: {s: {uses: core.echo, outputs: {parameters: {x: {path: x}}}}}\n")) ==
        "4:63: a plugin step gives its output parameter 'x' only a 'default' (the plugin declares the output itself: "
        "see 'ctflow plugins core.echo')\n");
  CHECK(messages(with_header("steps: {s: {uses: core.echo, outputs: {artifacts: {x: {}}}}}\n")) ==
        "4:55: output artifact 'x' of a plugin step needs a 'default': what it is when the step is Skipped or Omitted "
        "(the plugin declares the output itself: see 'ctflow plugins core.echo')\n");
  auto w = parse_workflow_text(with_header("steps: {s: {uses: core.echo, outputs: {parameters: {message: {default: 3}}, "
                                           "artifacts: {m: {default: \"\"}}}}}\n"),
                               "wf.yaml");
  REQUIRE(w.diags.empty());
  CHECK(*w.workflow->steps[0].output_params.at("message").default_value == 3);
  CHECK(*w.workflow->steps[0].output_artifacts.at("m").default_value == "");
  CHECK(w.workflow->steps[0].output_artifacts.at("m").path.empty());
}

TEST_CASE("FrontendTest.NeedsAndDependsTogether") {
  CHECK(render(with_header("steps:\n"
                           "  a: {run: [echo]}\n"
                           "  dep:\n"
                           "    needs: [a]\n"
                           "    depends: a.Succeeded\n"
                           "    run: [echo]\n")) ==
        "wf.yaml:8:14: error: step 'dep' has both 'needs' and 'depends': use one (needs: [a] means depends: "
        "\"a.Succeeded || a.Skipped\")\n"
        "      depends: a.Succeeded\n"
        "               ^\n");
}

TEST_CASE("FrontendTest.ExpressionThatDoesNotParse") {
  CHECK(render(with_header("steps:\n"
                           "  w:\n"
                           "    run: [echo]\n"
                           "    when: \"params.n >\"\n")) ==
        "wf.yaml:7:22: error: in 'when' expression: expected a value after '>'\n"
        "      when: \"params.n >\"\n"
        "                       ^\n");
  // Unquoted: the caret is on the offending token.
  CHECK(render(with_header("steps:\n"
                           "  a: {run: [echo]}\n"
                           "  w:\n"
                           "    depends: a.Succeeded && && a.Failed\n"
                           "    run: [echo]\n")) ==
        "wf.yaml:7:29: error: in 'depends' expression: expected a value after '&&'\n"
        "      depends: a.Succeeded && && a.Failed\n"
        "                              ^\n");
}

TEST_CASE("FrontendTest.TemplateThatDoesNotParse") {
  auto r = parse(with_header("steps:\n  a:\n    run: [echo, \"{{params.n\"]\n"));
  REQUIRE(r.diags.size() == 1);
  CHECK(r.diags.items()[0].pos.line == 6);
}

TEST_CASE("FrontendTest.WrongTypes") {
  CHECK(messages(with_header("parallelism: -1\n"
                             "fail_fast: maybe\n"
                             "steps:\n"
                             "  a:\n"
                             "    run: [echo]\n"
                             "    timeout: soon\n"
                             "    resources: {memory: lots}\n"
                             "    isolation: proces\n"
                             "    retry: {factor: 0.5, on: [failed, crashed]}\n")) ==
        "4:14: parallelism must be a non-negative integer; got '-1'\n"
        "5:12: fail_fast must be true or false; got 'maybe'\n"
        "9:14: 'timeout' must be a duration like 30s, 5m, 2h or 1h30m; got 'soon'\n"
        "12:21: 'retry.factor' must be at least 1\n"
        "12:39: unknown retry condition 'crashed': use failed, error or timeout\n"
        "10:25: 'resources.memory' must be a size like 512Mi, 4Gi or 2G; got 'lots'\n"
        "11:16: 'isolation' must be 'process' or 'none'; got 'proces' (did you mean 'process'?)\n");
  CHECK(messages(with_header("params: {n: {type: integr}}\nsteps: {a: {run: [echo]}}\n")) ==
        "4:20: unknown param type 'integr': use string, int, float, bool, path or json\n");
}

TEST_CASE("FrontendTest.ParallelismNeedsForEach") {
  CHECK(messages(with_header("steps: {a: {run: [echo], parallelism: 2}}\n")) ==
        "4:39: 'parallelism' on a step limits a fan-out: it needs 'for_each'\n");
  CHECK(messages(with_header("steps: {a: {run: [echo], for_each: \"x {{params.l}}\"}}\n")) ==
        "4:36: 'for_each' takes a list or one reference like \"{{steps.split.outputs.shards}}\"\n");
}

TEST_CASE("FrontendTest.OnExitNamesMustDifferFromSteps") {
  CHECK(messages(with_header("steps: {a: {run: [echo]}}\non_exit: {a: {run: [echo]}}\n")) ==
        "5:11: step name 'a' is used in both steps and on_exit\n");
}

TEST_CASE("FrontendTest.ReportsEveryProblemNotOnlyTheFirst") {
  auto r = parse("apiVersion: ctflow/v2\n"        // 1
                 "kind: Workflow\n"               // 2
                 "metadata:\n"                    // 3
                 "  name: Bad_Name\n"             // 4
                 "paramz: {}\n"                   // 5
                 "steps:\n"                       // 6
                 "  a:\n"                         // 7
                 "    run: [echo, a]\n"           // 8
                 "    neds: [b]\n"                // 9
                 "  a:\n"                         // 10
                 "    run: [echo, again]\n"       // 11
                 "  B!:\n"                        // 12
                 "    shell: echo\n"              // 13
                 "  both:\n"                      // 14
                 "    run: [echo]\n"              // 15
                 "    shell: echo\n"              // 16
                 "  w:\n"                         // 17
                 "    run: [echo]\n"              // 18
                 "    when: \"params.x >\"\n");   // 19
  CHECK(r.workflow.has_value());  // readable, with problems
  CHECK_FALSE(r.ok());
  CHECK(r.diags.size() == 8);
  std::string lines;
  for (const auto& d : r.diags.items()) lines += std::to_string(d.pos.line) + " ";
  CHECK(lines == "5 1 4 10 9 12 16 19 ");  // in the order found; render() sorts
}

TEST_CASE("FrontendTest.RenderSortsByPositionAndTakesFileLessErrors") {
  ctflow::Diagnostics d("first\nsecond line\n");
  d.error({"f.yaml", 2, 8}, "later");
  d.error({"f.yaml", 1, 1}, "earlier");
  d.error({"f.yaml", 0, 0}, "no position");
  CHECK(d.render() ==
        "f.yaml: error: no position\n"
        "f.yaml:1:1: error: earlier\n"
        "  first\n"
        "  ^\n"
        "f.yaml:2:8: error: later\n"
        "  second line\n"
        "         ^\n");
}

TEST_CASE("FrontendTest.DidYouMean") {
  CHECK(ctflow::did_you_mean("neds", {"needs", "when"}) == " (did you mean 'needs'?)");
  CHECK(ctflow::did_you_mean("frobnicate", {"needs", "when"}) == "");
  CHECK(ctflow::closest_match("parallelsim", {"parallelism", "params"}) == "parallelism");
}

TEST_CASE("FrontendTest.CoerceParamValue") {
  ctflow::ParamDecl p;
  p.name = "n";
  p.type = ctflow::ParamType::Int;
  CHECK(*ctflow::coerce_param_value(p, Value("42")) == Value(42));
  CHECK(ctflow::coerce_param_value(p, Value("abc")).message() == "must be an integer; got 'abc'");
  CHECK(ctflow::coerce_param_value(p, Value("4.5")).message() == "must be an integer; got '4.5'");
  p.type = ctflow::ParamType::Float;
  CHECK(*ctflow::coerce_param_value(p, Value("0.5")) == Value(0.5));
  p.type = ctflow::ParamType::Bool;
  CHECK(*ctflow::coerce_param_value(p, Value("true")) == Value(true));
  CHECK(ctflow::coerce_param_value(p, Value("yes")).message() == "must be true or false; got 'yes'");
  p.type = ctflow::ParamType::Json;
  CHECK(*ctflow::coerce_param_value(p, Value("[1, 2]")) == Value::array({1, 2}));
  CHECK(ctflow::coerce_param_value(p, Value("[1,")).message() == "must be JSON; got '[1,'");
  p.type = ctflow::ParamType::String;
  CHECK(*ctflow::coerce_param_value(p, Value("; touch /tmp/x")) == Value("; touch /tmp/x"));
}

TEST_CASE("FrontendTest.LoadMissingFile") {
  auto r = ctflow::load_workflow_file("/nonexistent/wf.yaml");
  CHECK_FALSE(r.workflow.has_value());
  CHECK(r.diags.render() == "/nonexistent/wf.yaml: error: cannot read the workflow file: No such file or directory\n");
}

// A resource may be one workflow param, "{{params.NAME}}": it is read when the
// file is, from the run's -p NAME=VALUE (the shape params), else the default,
// so a GPU box runs the same workflow with `-p gpus=1`.
TEST_CASE("FrontendTest.ResourcesFromParams") {
  const std::string text = with_header(
      "params:\n"
      "  gpus: {type: int, default: 0}\n"
      "  mem: 1Gi\n"
      "defaults:\n"
      "  resources: {memory: \"{{params.mem}}\"}\n"
      "steps:\n"
      "  train: {run: [echo], resources: {cpu: 2, gpu: \"{{ params.gpus }}\"}}\n");
  auto r = parse(text);
  REQUIRE(r.ok());
  const auto& res = r.workflow->steps.at(0).resources;
  CHECK(res.gpu == 0);
  CHECK(res.cpu == 2);
  CHECK(res.memory == 1LL << 30);
  CHECK(res.from_params == std::map<std::string, std::string>{{"gpu", "gpus"}, {"memory", "mem"}});

  auto given = parse_workflow_text(text, "wf.yaml", {{"gpus", "2"}, {"mem", "512Mi"}});
  REQUIRE(given.ok());
  CHECK(given.workflow->steps.at(0).resources.gpu == 2);
  CHECK(given.workflow->steps.at(0).resources.memory == 512LL << 20);

  CHECK(diag_lines(parse_workflow_text(text, "wf.yaml", {{"gpus", "one"}})) ==
        "10:49: 'resources.gpu' must be a non-negative integer; got 'one' (from params.gpus)\n");
  CHECK(diag_lines(parse_workflow_text(text, "wf.yaml", {{"mem", "lots"}})) ==
        "8:23: 'resources.memory' must be a size like 512Mi, 4Gi or 2G; got 'lots' (from params.mem)\n");
  CHECK(messages(with_header("params: {gpus: 1, need: {type: int}}\n"
                             "steps:\n"
                             "  a: {run: [echo], resources: {gpu: \"{{params.gpu}}\"}}\n"
                             "  b: {run: [echo], resources: {gpu: \"{{steps.a.outputs.n}}\"}}\n"
                             "  c: {run: [echo], resources: {cpu: \"{{params.need}}\"}}\n"
                             "  d: {run: [echo], resources: {gpu: \"n{{params.gpus}}\"}}\n")) ==
        "6:37: 'resources.gpu' reads params.gpu, which the workflow does not declare (did you mean 'gpus'?): add it "
        "under 'params'\n"
        "7:37: 'resources.gpu' takes a value or one workflow param, like '{{params.gpus}}'; got "
        "'{{steps.a.outputs.n}}'\n"
        "8:37: 'resources.cpu' reads params.need, which has no default: pass -p need=VALUE\n"
        "9:37: 'resources.gpu' takes a value or one workflow param, like '{{params.gpus}}'; got 'n{{params.gpus}}'\n");
}
