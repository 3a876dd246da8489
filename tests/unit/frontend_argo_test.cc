// The Argo frontend: an Argo Workflow -> IR, and the exact messages a user sees
// for what is wrong in the file or cannot run locally.
#include "engine/frontend_argo.h"

#include <doctest/doctest.h>

#include "diag_lines.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "engine/container.h"
#include "engine/frontend_v1.h"

using ctflow::ArgoOptions;
using ctflow::Catchup;
using ctflow::Concurrency;
using ctflow::LoadResult;
using ctflow::parse_workflow_text;
using ctflow::Step;
using ctflow::Trigger;
using ctflow::TriggerKind;
using ctflow::Value;

namespace {

LoadResult parse(const std::string& text) { return parse_workflow_text(text, "argo.yaml"); }

// With the run's -p values given to the frontend.
LoadResult parse(const std::string& text, const std::map<std::string, std::string>& params) {
  LoadResult r;
  r.diags.set_source(text);
  ArgoOptions o;
  o.params = params;
  r.workflow = ctflow::parse_argo_workflow(YAML::Load(text), "argo.yaml", r.diags, o);
  return r;
}

std::vector<std::string> step_names(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& s : r.workflow->steps) out.push_back(s.name);
  return out;
}

// The prologue's check that workflow parameter NAME is VALUE in the run, or nothing.
std::vector<std::string> param_check(const Step& s) {
  auto it = std::find(s.run.begin(), s.run.end(), "param");
  if (it == s.run.end() || s.run.end() - it < 4) return {};
  return {it[2], it[3]};
}

// "LINE:COL: MESSAGE" lines.
std::string messages(const std::string& text) { return diag_lines(parse(text)); }

// A workflow whose entrypoint `main` is the dag TASKS, with the templates
// `echo` (input message) and MORE; ARGS, when given, is spec.arguments and
// TARGET the dag's target.
std::string dag(const std::string& tasks, const std::string& more = "", const std::string& args = "",
                const std::string& target = "") {
  return "apiVersion: argoproj.io/v1alpha1\n"
         "kind: Workflow\n"
         "metadata: {generateName: t-}\n"
         "spec:\n"
         "  entrypoint: main\n" +
         (args.empty() ? "" : "  arguments: " + args + "\n") +
         "  templates:\n"
         "  - name: main\n"
         "    dag:\n" +
         (target.empty() ? "" : "      target: " + target + "\n") +
         "      tasks:\n" +
         tasks +
         "  - name: echo\n"
         "    inputs: {parameters: [{name: message}]}\n"
         "    container: {image: busybox, command: [echo, \"{{inputs.parameters.message}}\"]}\n" +
         more;
}

const Step& step(const LoadResult& r, const std::string& name) {
  const Step* s = r.workflow->find_step(name);
  REQUIRE_MESSAGE(s != nullptr, "no step " << name);
  return *s;
}

}  // namespace

TEST_CASE("FrontendArgoTest.DagBecomesStepsWithDependsAndInputs") {
  auto r = parse(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: hi}]}}\n"
                     "      - name: B\n"
                     "        depends: A && (A.Failed || A.Succeeded)\n"
                     "        template: echo\n"
                     "        when: \"{{tasks.A.outputs.result}} == hi\"\n"
                     "        arguments: {parameters: [{name: message, value: \"got {{tasks.A.outputs.result}}\"}]}\n"
                     "      - {name: C, template: echo, dependencies: [A, B], withItems: [1, 2],\n"
                     "         arguments: {parameters: [{name: message, value: \"{{item}}\"}]}}\n"));
  REQUIRE(r.diags.empty());
  REQUIRE(r.workflow);
  CHECK(r.workflow->name == "t");
  REQUIRE(r.workflow->steps.size() == 3);
  const Step& b = step(r, "B");
  CHECK(b.depends == "(A.Succeeded || A.Skipped) && (A.Failed || A.Succeeded)");
  CHECK(b.when == "{{steps.A.outputs.result}} == 'hi'");
  CHECK(b.run.back() == "got {{steps.A.outputs.result}}");
  CHECK(b.run[b.run.size() - 2] == "echo");
  const Step& c = step(r, "C");
  CHECK(c.needs == std::vector<std::string>{"A", "B"});
  CHECK(*c.for_each == Value::parse("[1, 2]"));
  CHECK(c.run.back() == "{{item}}");
}

TEST_CASE("FrontendArgoTest.StepsGroupsRunInOrderAndContinueOnFailed") {
  auto r = parse(
      "apiVersion: argoproj.io/v1alpha1\n"
      "kind: Workflow\n"
      "metadata: {name: s}\n"
      "spec:\n"
      "  entrypoint: main\n"
      "  arguments: {parameters: [{name: who, value: you}]}\n"
      "  templates:\n"
      "  - name: main\n"
      "    steps:\n"
      "    - - {name: a, template: say, continueOn: {failed: true}}\n"
      "    - - {name: b, template: say}\n"
      "      - {name: c, template: say}\n"
      "  - name: say\n"
      "    script: {image: python, command: [python], source: 'print(\"{{workflow.parameters.who}}\")'}\n"
      "    outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out.txt, default: none}}]}\n");
  REQUIRE(r.diags.empty());
  CHECK(step(r, "a").needs.empty());
  CHECK(step(r, "b").depends == "(a.Succeeded || a.Skipped || a.Failed)");
  CHECK(step(r, "c").depends == step(r, "b").depends);
  CHECK(r.workflow->params.at(0).name == "who");
  const Step& a = step(r, "a");
  CHECK(a.output_params.at("out").default_value == Value("none"));
  // The script's source, with the reference rewritten, staged by the prologue.
  CHECK(std::find(a.run.begin(), a.run.end(), "print(\"{{params.who}}\")") != a.run.end());
  CHECK(a.run.back() == "./ctflow-argo-script");
}

TEST_CASE("FrontendArgoTest.UnknownTemplateReference") {
  CHECK(messages(dag("      - {name: A, template: ech, arguments: {parameters: [{name: message, value: a}]}}\n")) ==
        "10:29: unknown template 'ech' (did you mean 'echo'?)\n");
}

TEST_CASE("FrontendArgoTest.Cycle") {
  CHECK(messages(dag("      - {name: A, template: echo, depends: B, arguments: {parameters: [{name: message, value: a}]}}\n"
                     "      - {name: B, template: echo, depends: A, arguments: {parameters: [{name: message, value: b}]}}\n")) ==
        "10:16: cycle: A -> B -> A: a task cannot depend on itself, even indirectly\n");
}

TEST_CASE("FrontendArgoTest.ReferenceToNothing") {
  CHECK(messages(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: a}]}}\n"
                     "      - {name: B, template: echo, depends: A,\n"
                     "         arguments: {parameters: [{name: message, value: \"{{tasks.A.outputs.parameters.x}}\"}]}}\n"
                     "      - {name: C, template: echo, depends: A,\n"
                     "         arguments: {parameters: [{name: message, value: \"{{tasks.Z.outputs.result}}\"}]}}\n"
                     "      - {name: D, template: echo, arguments: {parameters: [{name: message, value: \"{{workflow.parameters.p}}\"}]}}\n")) ==
        "12:59: '{{tasks.A.outputs.parameters.x}}' refers to nothing: task 'A' has no output parameter 'x'\n"
        "14:59: '{{tasks.Z.outputs.result}}' refers to nothing: no task 'Z' before this one in template 'main' "
        "(did you mean 'A'?)\n"
        "15:84: '{{workflow.parameters.p}}' refers to nothing: no workflow parameter 'p' in spec.arguments\n");
  CHECK(messages(dag("      - {name: A, template: bad}\n",
                     "  - name: bad\n"
                     "    inputs: {parameters: [{name: message}]}\n"
                     "    container: {image: busybox, command: [echo, \"{{inputs.parameters.mesage}}\"]}\n")) ==
        "10:16: input parameter 'message' of template 'bad' gets no value: pass it in arguments.parameters\n");
}

TEST_CASE("FrontendArgoTest.WhenThatIsNoCondition") {
  // A `when` that translates to no expression is an error at its place when
  // the file is read, not a step that errors at run time.
  CHECK(messages(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: a}]}}\n"
                     "      - {name: B, template: echo, depends: A, when: \"{{tasks.A.outputs.result}} ==\",\n"
                     "         arguments: {parameters: [{name: message, value: b}]}}\n")) ==
        "11:53: 'when' is not a condition ctflow can read (as '{{steps.A.outputs.result}} ==': expected a value "
        "after '=='): compare values with ==, !=, <, <=, >, >= and combine them with &&, || and !\n");
  auto r = parse(dag("      - {name: A, template: echo, when: \"\", arguments: {parameters: [{name: message, value: a}]}}\n"));
  CHECK(r.diags.empty());
  CHECK(step(r, "A").when.empty());
}

// What a step runs after the prologue's directives.
std::vector<std::string> command_of(const Step& s) {
  auto it = std::find(s.run.begin(), s.run.end(), "--");
  return it == s.run.end() ? std::vector<std::string>{} : std::vector<std::string>(it + 1, s.run.end());
}

TEST_CASE("FrontendArgoTest.ContainerWithoutCommand") {
  const std::string text = dag("      - {name: A, template: say}\n"
                               "      - {name: B, template: plain}\n"
                               "      - {name: C, template: own}\n",
                               "  - name: say\n"
                               "    container: {image: argoproj/argosay:v2, args: [echo, hi]}\n"
                               "  - name: plain\n"
                               "    container: {image: argoproj/argosay:v2}\n"
                               "  - name: own\n"
                               "    container: {image: argoproj/argosay:v2, command: [/bin/echo], args: [x]}\n");
  // On the host the image's entrypoint is unknown.
  CHECK(messages(text) ==
        "17:16: not supported locally: container template 'say' without 'command' (on the host the image's entrypoint "
        "is unknown): add 'command', or run in the image with --executor podman (or docker)\n"
        "19:16: not supported locally: container template 'plain' without 'command' (on the host the image's "
        "entrypoint is unknown): add 'command', or run in the image with --executor podman (or docker)\n");
  // In the image: its ENTRYPOINT, then `args` if given, else its CMD (as Kubernetes runs a container).
  auto with_images = [&](const std::string& t, std::map<std::string, ctflow::ImageConfig> local) {
    LoadResult r;
    r.diags.set_source(t);
    ArgoOptions o;
    o.executor = "podman";
    o.inspect_image = [local](const std::string& executor, const std::string& image) {
      CHECK(executor == "podman");
      auto it = local.find(image);
      return it == local.end() ? std::nullopt : std::optional<ctflow::ImageConfig>(it->second);
    };
    r.workflow = ctflow::parse_argo_workflow(YAML::Load(t), "argo.yaml", r.diags, o);
    return r;
  };
  auto r = with_images(text, {{"argoproj/argosay:v2", {{"/argosay"}, {"echo", "hello argo"}}}, {"busybox", {}}});
  CHECK(diag_lines(r) == "");
  CHECK(command_of(step(r, "A")) == std::vector<std::string>{"/argosay", "echo", "hi"});
  CHECK(command_of(step(r, "B")) == std::vector<std::string>{"/argosay", "echo", "hello argo"});
  CHECK(command_of(step(r, "C")) == std::vector<std::string>{"/bin/echo", "x"});
  CHECK(step(r, "A").image == "argoproj/argosay:v2");
  // An image with neither, and one that is not local.
  CHECK(diag_lines(with_images(text, {{"argoproj/argosay:v2", {}}})) ==
        "19:16: not supported locally: container template 'plain' without 'command', and image 'argoproj/argosay:v2' "
        "has neither an ENTRYPOINT nor a CMD: add 'command'\n");
  CHECK(diag_lines(with_images(text, {{"argoproj/argosay:v2", {{"/argosay"}, {}}}})).find(
            "17:24: not supported locally: image 'argoproj/argosay:v2' is not in the local podman store") ==
        std::string::npos);
  CHECK(diag_lines(with_images(text, {{"busybox", {}}})).rfind(
            "17:24: not supported locally: image 'argoproj/argosay:v2' is not in the local podman store", 0) == 0);
}

TEST_CASE("FrontendArgoTest.ACommandReplacesTheImagesEntrypoint") {
  setenv("CTFLOW_CONTAINER_RUNTIME", "/usr/bin/podman", 1);
  ctflow::ContainerSpec c;
  c.image = "argoproj/argosay:v2";
  c.name = "n";
  c.argv = {"/bin/sh", "-c", "echo hi"};
  auto cmd = ctflow::container_command(c);
  unsetenv("CTFLOW_CONTAINER_RUNTIME");
  REQUIRE(cmd.ok());
  auto at = std::find(cmd->begin(), cmd->end(), "--entrypoint");
  REQUIRE(at != cmd->end());
  CHECK(at[1] == "/bin/sh");
  CHECK(std::vector<std::string>(cmd->end() - 3, cmd->end()) ==
        std::vector<std::string>{"argoproj/argosay:v2", "-c", "echo hi"});
}

TEST_CASE("FrontendArgoTest.NotSupportedLocally") {
  CHECK(messages(dag("      - {name: A, template: wait}\n"
                     "      - {name: B, template: get}\n",
                     "  - name: wait\n"
                     "    suspend: {}\n"
                     "  - name: get\n"
                     "    inputs: {artifacts: [{name: data, path: /data, s3: {key: x}}]}\n"
                     "    container: {image: busybox, command: [cat, /data]}\n")) ==
        "16:14: not supported locally: suspend templates (a local run has no one to resume it): pass "
        "--resume-suspended to wait out its duration, or continue at once without one\n"
        "18:56: not supported locally: artifacts from an external store (s3)\n");
  CHECK(messages(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: \"{{=1 ^ 2}}\"}]}}\n")) ==
        "10:84: not supported locally: the expression '{{=1 ^ 2}}' (unexpected character '^' at offset 2): ctflow's "
        "expressions have ==, !=, <, <=, >, >=, =~, in, &&, ||, !, + - * / %, ? :, ??, [i], .key, [...], {key: ...} "
        "and the functions asInt, asFloat, string, toJson, jsonpath, map, filter, all, any, count and sprig's add, sub, "
        "mul, div, mod, max, min, b64enc, b64dec, trim, upper, lower, toString\n");
}

// Argo's dag-targets example: A -> B, C; B, C -> D; C -> E.
const char* const kDiamondTasks =
    "      - {name: A, template: echo, arguments: {parameters: [{name: message, value: A}]}}\n"
    "      - {name: B, depends: A, template: echo, arguments: {parameters: [{name: message, value: B}]}}\n"
    "      - {name: C, depends: A, template: echo, arguments: {parameters: [{name: message, value: C}]}}\n"
    "      - {name: D, depends: B && C, template: echo, arguments: {parameters: [{name: message, value: D}]}}\n"
    "      - {name: E, depends: C, template: echo, arguments: {parameters: [{name: message, value: E}]}}\n";

TEST_CASE("FrontendArgoTest.DagTargetKeepsTheTargetsAndWhatTheyDependOn") {
  const std::string wf = dag(kDiamondTasks, "", "{parameters: [{name: target, value: E}]}",
                             "\"{{workflow.parameters.target}}\"");
  auto r = parse(wf);
  REQUIRE(r.diags.empty());
  CHECK(step_names(r) == std::vector<std::string>{"A", "C", "E"});
  CHECK(step(r, "E").depends == "(C.Succeeded || C.Skipped)");
  // The parameter shaped the workflow: every step checks the run has the value read here.
  for (const auto& s : r.workflow->steps)
    CHECK(param_check(s) == std::vector<std::string>{"E", "{{params.target}}"});
  CHECK(r.workflow->params.at(0).name == "target");

  // Two targets, from the run's -p: B's only dependent (D) is left out.
  auto two = parse(wf, {{"target", "B E"}});
  REQUIRE(two.diags.empty());
  CHECK(step_names(two) == std::vector<std::string>{"A", "B", "C", "E"});
  CHECK(param_check(step(two, "B")) == std::vector<std::string>{"B E", "{{params.target}}"});

  // Written in the dag: no parameter, no check.
  auto d = parse(dag(kDiamondTasks, "", "", "D"));
  REQUIRE(d.diags.empty());
  CHECK(step_names(d) == std::vector<std::string>{"A", "B", "C", "D"});
  CHECK(param_check(step(d, "D")).empty());
  // Empty: every task.
  auto all = parse(dag(kDiamondTasks, "", "", "\"\""));
  REQUIRE(all.diags.empty());
  CHECK(step_names(all).size() == 5);
}

TEST_CASE("FrontendArgoTest.DagTargetThatIsNoTask") {
  CHECK(messages(dag(kDiamondTasks, "", "", "\"E F\"")) ==
        "9:15: dag.target names 'F', which is not a task of template 'main': its tasks are A, B, C, D, E\n");
  CHECK(messages(dag(kDiamondTasks, "", "{parameters: [{name: target, value: e}]}",
                     "\"{{workflow.parameters.target}}\"")) ==
        "10:15: dag.target names 'e' (from '{{workflow.parameters.target}}'), which is not a task of template "
        "'main': its tasks are A, B, C, D, E\n");
  CHECK(messages(dag(kDiamondTasks, "", "{parameters: [{name: target}]}", "\"{{workflow.parameters.target}}\"")) ==
        "10:15: dag.target needs workflow parameter 'target' when the file is read, and it has no value: give it "
        "one in spec.arguments\n");
}

namespace {

// A steps workflow: `main` runs STEPS; `echo` prints its input msg; ARGS is spec.arguments.
std::string steps(const std::string& args, const std::string& main_extra, const std::string& body,
                  const std::string& more = "") {
  return "apiVersion: argoproj.io/v1alpha1\n"
         "kind: Workflow\n"
         "metadata: {name: s}\n"
         "spec:\n"
         "  entrypoint: main\n"
         "  arguments: " + args + "\n"
         "  templates:\n"
         "  - name: main\n" + main_extra +
         "    steps:\n" + body +
         "  - name: echo\n"
         "    inputs: {parameters: [{name: msg}]}\n"
         "    container: {image: alpine, command: [echo, \"{{inputs.parameters.msg}}\"]}\n" + more;
}

}  // namespace

TEST_CASE("FrontendArgoTest.WithSequenceFromAWorkflowParameter") {
  const std::string wf = steps("{parameters: [{name: count, value: \"3\"}]}", "",
                               "    - - name: seq\n"
                               "        template: echo\n"
                               "        arguments: {parameters: [{name: msg, value: \"{{item}}\"}]}\n"
                               "        withSequence: {start: \"200\", count: \"{{workflow.parameters.count}}\"}\n");
  auto r = parse(wf);
  REQUIRE(r.diags.empty());
  CHECK(*step(r, "seq").for_each == Value::parse(R"(["200", "201", "202"])"));
  CHECK(param_check(step(r, "seq")) == std::vector<std::string>{"3", "{{params.count}}"});
  // The run's value, as the run renders it (an integer).
  auto two = parse(wf, {{"count", "02"}});
  REQUIRE(two.diags.empty());
  CHECK(*step(two, "seq").for_each == Value::parse(R"(["200", "201"])"));
  CHECK(param_check(step(two, "seq")) == std::vector<std::string>{"2", "{{params.count}}"});
}

TEST_CASE("FrontendArgoTest.WithSequenceBoundsOnlyKnownAtRunTime") {
  CHECK(messages(steps("{parameters: [{name: n}]}", "",
                       "    - - {name: seq, template: echo, arguments: {parameters: [{name: msg, value: \"{{item}}\"}]},\n"
                       "         withSequence: {count: \"{{workflow.parameters.n}}\"}}\n")) ==
        "11:32: withSequence.count needs workflow parameter 'n' when the file is read, and it has no value: give it "
        "one in spec.arguments\n");
  CHECK(messages(steps("{parameters: [{name: n, value: many}]}", "",
                       "    - - {name: seq, template: echo, arguments: {parameters: [{name: msg, value: \"{{item}}\"}]},\n"
                       "         withSequence: {count: \"{{workflow.parameters.n}}\"}}\n")) ==
        "11:32: withSequence.count must be an integer; got 'many'\n");
  CHECK(messages(steps("{parameters: []}", "",
                       "    - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: \"3\"}]}}\n"
                       "    - - {name: seq, template: echo, arguments: {parameters: [{name: msg, value: \"{{item}}\"}]},\n"
                       "         withSequence: {end: \"{{steps.a.outputs.result}}\"}}\n")) ==
        "12:30: not supported locally: withSequence bounds known only at run time\n");
}

// Argo's parallelism-nested-workflow: a withParam from a workflow parameter
// over a steps template, under parallelism 1.
TEST_CASE("FrontendArgoTest.WithParamOverAStepsTemplateFromAWorkflowParameter") {
  const std::string inner =
      "  - name: B\n"
      "    inputs: {parameters: [{name: id}]}\n"
      "    steps:\n"
      "    - - {name: jobs, template: echo, withParam: \"[1, 2]\",\n"
      "         arguments: {parameters: [{name: msg, value: \"{{inputs.parameters.id}}-{{item}}\"}]}}\n";
  const std::string wf = steps("{parameters: [{name: list, value: '[\"a\", \"b\", \"c\"]'}]}",
                               "    parallelism: 1\n"
                               "    inputs: {parameters: [{name: list}]}\n",
                               "    - - {name: seq, template: B, withParam: \"{{inputs.parameters.list}}\",\n"
                               "         arguments: {parameters: [{name: id, value: \"{{item}}\"}]}}\n",
                               inner);
  auto r = parse(wf);
  REQUIRE(r.diags.empty());
  CHECK(step_names(r) == std::vector<std::string>{"seq-0_jobs", "seq-0", "seq-1_jobs", "seq-1", "seq-2_jobs",
                                                   "seq-2", "seq"});
  // One copy of B at a time; the jobs of a copy all at once.
  CHECK(step(r, "seq-0_jobs").needs.empty());
  CHECK(step(r, "seq-1_jobs").needs == std::vector<std::string>{"seq-0"});
  CHECK(step(r, "seq-2_jobs").needs == std::vector<std::string>{"seq-1"});
  CHECK(*step(r, "seq-1_jobs").for_each == Value::parse("[1, 2]"));
  CHECK(step(r, "seq-1_jobs").run.back() == "b-{{item}}");
  CHECK(step(r, "seq").needs == std::vector<std::string>{"seq-0", "seq-1", "seq-2"});
  CHECK(r.workflow->parallelism == 0);
  CHECK(param_check(step(r, "seq-0_jobs")).at(0) == "[\"a\", \"b\", \"c\"]");

  // Parallelism 2: two lanes.
  std::string two = wf;
  two.replace(two.find("parallelism: 1"), 14, "parallelism: 2");
  auto r2 = parse(two);
  REQUIRE(r2.diags.empty());
  CHECK(step(r2, "seq-1_jobs").needs.empty());
  CHECK(step(r2, "seq-2_jobs").needs == std::vector<std::string>{"seq-0"});

  CHECK(messages(steps("{parameters: [{name: list, value: 'a, b'}]}", "    inputs: {parameters: [{name: list}]}\n",
                       "    - - {name: seq, template: B, withParam: \"{{inputs.parameters.list}}\",\n"
                       "         arguments: {parameters: [{name: id, value: \"{{item}}\"}]}}\n",
                       inner)) ==
        "11:45: withParam must give a JSON list; got 'a, b'\n");
}

TEST_CASE("FrontendArgoTest.WithParamOverAStepsTemplateOnlyKnownAtRunTime") {
  CHECK(messages(steps("{parameters: []}", "",
                       "    - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: \"[1]\"}]}}\n"
                       "    - - {name: seq, template: B, withParam: \"{{steps.a.outputs.result}}\"}\n",
                       "  - name: B\n"
                       "    steps:\n"
                       "    - - {name: x, template: echo, arguments: {parameters: [{name: msg, value: x}]}}\n"
                       "    - - {name: y, template: echo, arguments: {parameters: [{name: msg, value: y}]}}\n")) ==
        "11:45: not supported locally: a withParam known only at run time over a steps/dag template\n");
}

TEST_CASE("FrontendArgoTest.DagTargetOnlyKnownAtRunTime") {
  CHECK(messages(steps("{parameters: []}", "",
                       "    - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: x}]}}\n"
                       "    - - {name: b, template: d, arguments: {parameters: [{name: t, value: \"{{steps.a.outputs.result}}\"}]}}\n",
                       "  - name: d\n"
                       "    inputs: {parameters: [{name: t}]}\n"
                       "    dag:\n"
                       "      target: \"{{inputs.parameters.t}}\"\n"
                       "      tasks:\n"
                       "      - {name: x, template: echo, arguments: {parameters: [{name: msg, value: x}]}}\n"
                       "      - {name: y, template: echo, arguments: {parameters: [{name: msg, value: y}]}}\n")) ==
        "18:15: not supported locally: a dag.target known only at run time\n");
}

TEST_CASE("FrontendArgoTest.RegexMatchInWhen") {
  auto r = parse(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: heads}]}}\n"
                     "      - {name: B, template: echo, depends: A, when: \"{{tasks.A.outputs.result}} =~ hea\",\n"
                     "         arguments: {parameters: [{name: message, value: b}]}}\n"));
  CHECK(r.diags.empty());
  CHECK(step(r, "B").when == "{{steps.A.outputs.result}}  =~  'hea'");
  CHECK(messages(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: a}]}}\n"
                     "      - {name: B, template: echo, depends: A, when: \"{{tasks.A.outputs.result}} !~ hea\",\n"
                     "         arguments: {parameters: [{name: message, value: b}]}}\n")) ==
        "11:53: not supported locally: the regular expression operator '!~' in 'when': write '!(a =~ b)'\n");
  CHECK(messages(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: a}]}}\n"
                     "      - {name: B, template: echo, depends: A, when: \"{{tasks.A.outputs.result}} =~ '('\",\n"
                     "         arguments: {parameters: [{name: message, value: b}]}}\n"))
            .find("11:53: 'when' is not a condition ctflow can read (as '{{steps.A.outputs.result}}  =~  '(''"
                  ": invalid regular expression '('") == 0);
}

TEST_CASE("FrontendArgoTest.ExitCodeOfAStep") {
  auto r = parse(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: a}]}}\n"
                     "      - {name: B, template: echo, depends: A,\n"
                     "         arguments: {parameters: [{name: message, value: \"code {{tasks.A.exitCode}}\"}]}}\n"));
  CHECK(r.diags.empty());
  const Step& b = step(r, "B");
  CHECK(std::find(b.run.begin(), b.run.end(), "code {{steps.A.exit_code}}") != b.run.end());
}

TEST_CASE("FrontendArgoTest.SuspendUnderResumeSuspended") {
  const std::string text = dag("      - {name: A, template: wait}\n"
                               "      - {name: B, template: ask, depends: A}\n"
                               "      - {name: C, template: bad, depends: A}\n",
                               "  - name: wait\n"
                               "    suspend: {duration: 20s}\n"
                               "  - name: ask\n"
                               "    inputs: {parameters: [{name: ok, default: 'NO'}]}\n"
                               "    suspend: {}\n"
                               "    outputs: {parameters: [{name: ok, valueFrom: {supplied: {}}}]}\n"
                               "  - name: bad\n"
                               "    suspend: {}\n"
                               "    outputs: {parameters: [{name: msg, valueFrom: {supplied: {}}}]}\n");
  LoadResult r;
  r.diags.set_source(text);
  ArgoOptions o;
  o.resume_suspended = true;
  r.workflow = ctflow::parse_argo_workflow(YAML::Load(text), "argo.yaml", r.diags, o);
  CHECK(diag_lines(r) ==
        "24:51: not supported locally: valueFrom.supplied output 'msg' without a default (in Argo a person gives it "
        "when resuming): add valueFrom.default, or an input parameter 'msg' with a default\n");
  const Step& a = step(r, "A");
  REQUIRE(a.run.size() == 4);
  CHECK(a.run[2].rfind("sleep 20 && ", 0) == 0);
  CHECK(a.run[3] == "suspend: waited out its duration 20s (--resume-suspended)");
  const Step& b = step(r, "B");
  REQUIRE(b.run.size() == 5);
  CHECK(b.run[3] == "suspend: resumed at once (--resume-suspended)");
  CHECK(b.run[4] == "NO");
  CHECK(b.output_params.at("ok").path == ".argo-outputs/parameters/ok");
}

TEST_CASE("FrontendArgoTest.CronWorkflowRunsItsWorkflowSpec") {
  auto r = parse("apiVersion: argoproj.io/v1alpha1\n"
                 "kind: CronWorkflow\n"
                 "metadata: {name: hello}\n"
                 "spec:\n"
                 "  schedules: ['* * * * *']\n"
                 "  timezone: UTC\n"
                 "  concurrencyPolicy: Replace\n"
                 "  workflowSpec:\n"
                 "    entrypoint: main\n"
                 "    templates:\n"
                 "    - name: main\n"
                 "      container: {image: busybox, command: [echo, \"at {{workflow.scheduledTime}}\"]}\n");
  CHECK(r.diags.empty());
  REQUIRE(r.workflow);
  CHECK(r.workflow->description == "CronWorkflow schedule: * * * * * (UTC)");
  const Step& m = step(r, "main");
  CHECK(std::find_if(m.run.begin(), m.run.end(), [](const std::string& a) {
          return a.rfind("at 20", 0) == 0 && a.back() == 'Z';
        }) != m.run.end());
  CHECK(messages("apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: x}\nspec: {schedule: '@daily'}\n") ==
        "4:7: a CronWorkflow needs 'spec.workflowSpec', the Workflow spec it runs\n");
}

TEST_CASE("FrontendArgoTest.CronWorkflowScheduleIsATrigger") {
  // ctflow daemon runs a CronWorkflow on its schedule: the frontend gives it as the schedule trigger "cron".
  const std::string body = "  workflowSpec:\n"
                           "    entrypoint: main\n"
                           "    templates:\n"
                           "    - name: main\n"
                           "      container: {image: busybox, command: [echo, hi]}\n";
  auto cron = [&](const std::string& spec) {
    return "apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: c}\nspec:\n" + spec + body;
  };
  auto r = parse(cron("  schedule: '0 3 * * *'\n  timezone: Europe/Berlin\n  concurrencyPolicy: Forbid\n"
                      "  startingDeadlineSeconds: 600\n"));
  CHECK(diag_lines(r) == "");
  REQUIRE(r.workflow);
  REQUIRE(r.workflow->triggers.size() == 1);
  const Trigger& t = r.workflow->triggers[0];
  CHECK(t.name == "cron");
  CHECK(t.kind == TriggerKind::Schedule);
  CHECK(t.schedules == std::vector<std::string>{"0 3 * * *"});
  CHECK(t.timezone == "Europe/Berlin");
  CHECK(t.concurrency == Concurrency::Forbid);
  CHECK(t.starting_deadline_s == 600);
  CHECK(t.catchup == Catchup::Latest);
  auto two = parse(cron("  schedules: ['@every 1s', '@hourly']\n"));
  REQUIRE(two.workflow);
  REQUIRE(two.workflow->triggers.size() == 1);
  CHECK(two.workflow->triggers[0].schedules.size() == 2);
  CHECK(two.workflow->triggers[0].concurrency == Concurrency::Allow);  // Argo's default
  auto suspended = parse(cron("  schedule: '@daily'\n  suspend: true\n"));
  REQUIRE(suspended.workflow);
  CHECK(suspended.workflow->triggers.empty());
  CHECK(messages(cron("  schedule: '0 0 31 2 *'\n")) ==
        "5:13: schedule '0 0 31 2 *' can never fire: no month has that day (check day-of-month and month)\n");
  CHECK(messages(cron("  schedule: '@daily'\n  concurrencyPolicy: forbid\n")).find(
            "spec.concurrencyPolicy must be Allow, Forbid or Replace; got 'forbid'") != std::string::npos);
  CHECK(messages(cron("  schedule: '@daily'\n  timezone: Mars/Base\n")).find("6:13: spec.timezone: ") == 0);
  CHECK(messages(cron("")).find("a CronWorkflow needs 'spec.schedule'") != std::string::npos);
}

TEST_CASE("FrontendArgoTest.ExpressionTagsAtLoad") {
  // {{=...}} over workflow parameters is evaluated when the file is read, and the run checks the value it saw.
  auto r = parse(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message,\n"
                     "         value: \"{{=jsonpath(workflow.parameters.cfg, '$.a[*]')}} {{=asInt(workflow.parameters.n) > 2}}\"}]}}\n",
                     "", "{parameters: [{name: cfg, value: '{\"a\": [1, \"x\"]}'}, {name: n, value: '3'}]}"));
  CHECK(diag_lines(r) == "");
  const Step& a = step(r, "A");
  CHECK(std::find(a.run.begin(), a.run.end(), "[1,\"x\"] true") != a.run.end());
  CHECK(param_check(a).size() == 2);
  CHECK(messages(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: b}]}}\n"
                     "      - {name: B, template: echo, depends: A, arguments: {parameters: [{name: message,\n"
                     "         value: \"{{=tasks.A.outputs.result}}\"}]}}\n")) ==
        "12:18: not supported locally: the expression '{{=tasks.A.outputs.result}}': 'tasks.A.outputs.result' is known "
        "only at run time (an expression here may read workflow parameters and input parameters known when the file "
        "is read)\n");
}

TEST_CASE("FrontendArgoTest.RetryStrategyExpression") {
  auto r = parse(dag("      - {name: A, template: echo, arguments: {parameters: [{name: message, value: a}]}}\n"
                     "      - {name: B, template: retried, depends: A,\n"
                     "         arguments: {parameters: [{name: safe, value: \"{{tasks.A.outputs.result}}\"}]}}\n",
                     "  - name: retried\n"
                     "    inputs: {parameters: [{name: safe}]}\n"
                     "    retryStrategy: {limit: '3', expression: \"asInt(lastRetry.exitCode) > 1 && {{inputs.parameters.safe}} == true\"}\n"
                     "    container: {image: busybox, command: [sh, -c, 'exit 2']}\n"));
  CHECK(diag_lines(r) == "");
  const Step& b = step(r, "B");
  CHECK(b.retry.limit == 3);
  CHECK(b.retry.expression == "asInt(lastRetry.exitCode) > 1 && {{steps.A.outputs.result}} == true");
}

TEST_CASE("FrontendArgoTest.OutputsFromAnExpression") {
  // valueFrom.expression of a dag's outputs: an output of its join step (the
  // entrypoint's named as the template), evaluated by the run over ctflow references.
  const std::string text = dag("      - {name: flip-coin, template: echo, arguments: {parameters: [{name: message, value: heads}]}}\n"
                               "      - {name: heads, template: echo, depends: flip-coin, arguments: {parameters: [{name: message, value: h}]}}\n");
  auto with_outputs = [&](const std::string& outputs) {
    std::string t = text;
    t.insert(t.find("  - name: echo\n"), "    outputs: {parameters: [" + outputs + "]}\n");
    return t;
  };
  auto e = parse(with_outputs("{name: result, valueFrom: {expression: \"tasks['flip-coin'].outputs.result == 'heads' ? "
                              "tasks.heads.outputs.result : workflow.parameters.nope ?? 'none'\"}}"));
  CHECK(diag_lines(e) ==
        "12:67: '{{workflow.parameters.nope}}' refers to nothing: no workflow parameter 'nope' in spec.arguments\n");
  auto ok = parse(with_outputs("{name: result, valueFrom: {expression: \"tasks['flip-coin'].outputs.result == 'heads' ? "
                               "tasks.heads.outputs.result : tasks.heads.outputs.missing ?? 'none'\"}}"));
  CHECK(diag_lines(ok) == "12:67: '{{tasks.heads.outputs.missing}}' refers to nothing: use outputs.result, "
                          "outputs.parameters.NAME, outputs.artifacts.NAME or status\n");
  auto good = parse(with_outputs("{name: result, valueFrom: {expression: \"tasks['flip-coin'].outputs.result == 'heads' ? "
                                 "tasks.heads.outputs.result : 'tails' + \\\"!\\\"\"}}"));
  CHECK(diag_lines(good) == "");
  const Step& main = step(good, "main");
  CHECK(main.run == std::vector<std::string>{"true"});
  CHECK(main.needs == std::vector<std::string>{"heads"});
  REQUIRE(main.output_params.count("result-parameter") == 1);
  CHECK(main.output_params.at("result-parameter").expression ==
        "steps.flip-coin.outputs.result == 'heads' ? steps.heads.outputs.result : 'tails' + \"!\"");
  CHECK(main.output_params.at("result-parameter").path.empty());
  CHECK(messages(with_outputs("{name: x, valueFrom: {expression: \"tasks.heads.outputs.result ^ 2\"}}")).find(
            ": not supported locally: the expression 'tasks.heads.outputs.result ^ 2' (unexpected character '^' "
            "at offset 27): ctflow's expressions have") != std::string::npos);
}
