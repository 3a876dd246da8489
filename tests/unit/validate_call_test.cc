// Templates and call steps (docs/dag-growth.md): what the frontend and the
// validator say about them, pinned exactly with line and column.
#include <doctest/doctest.h>

#include <string>

#include "diag_lines.h"
#include "engine/export/argo.h"
#include "engine/export/kfp.h"
#include "engine/frontend_v1.h"
#include "engine/validate.h"

using ctflow::LoadResult;
using ctflow::StepKind;
using ctflow::ValidateOptions;

namespace {

std::string wf(const std::string& rest) { return "apiVersion: ctflow/v1\nkind: Workflow\nmetadata: {name: t}\n" + rest; }

// The frontend's diagnostics and then, when it had none, the validator's.
std::string messages(const std::string& rest) {
  LoadResult r = ctflow::parse_workflow_text(wf(rest), "wf.yaml");
  if (r.diags.empty() && r.workflow) {
    ValidateOptions opt;
    opt.plugins = nullptr;
    opt.host.cpus = 4;
    ctflow::validate_workflow(*r.workflow, opt, r.diags);
  }
  return diag_lines(r);
}

}  // namespace

TEST_CASE("CallTest.TheFormatIsReadIntoTheIR") {
  LoadResult r = ctflow::parse_workflow_text(wf(R"(max_depth: 4
templates:
  sq:
    params: {x: {type: int}, k: 2}
    steps:
      mul: {run: [mul, "{{params.x}}"]}
    outputs: {y: "{{steps.mul.outputs.result}}"}
steps:
  list: {shell: "echo [1,2]"}
  each: {needs: [list], for_each: "{{steps.list.outputs.result}}", call: sq, with: {x: "{{item}}"}}
  after: {needs: [each], run: [echo, "{{steps.each.outputs.y}}"]}
)"),
                                             "wf.yaml");
  REQUIRE_MESSAGE(r.ok(), r.diags.render());
  const auto& w = *r.workflow;
  CHECK(w.max_depth == 4);
  REQUIRE(w.templates.count("sq") == 1);
  const auto& t = w.templates.at("sq");
  CHECK(t.params.size() == 2);
  CHECK_FALSE(t.params[0].default_value.has_value());
  CHECK(t.steps.size() == 1);
  CHECK(t.steps[0].name == "mul");
  CHECK(t.outputs.at("y") == "{{steps.mul.outputs.result}}");
  const auto* each = w.find_step("each");
  REQUIRE(each);
  CHECK(each->kind == StepKind::Call);
  CHECK(each->call == "sq");
  CHECK(each->for_each.has_value());
  ValidateOptions opt;
  opt.plugins = nullptr;
  ctflow::validate_workflow(w, opt, r.diags);
  CHECK(diag_lines(r) == "");
}

TEST_CASE("CallTest.FrontendErrors") {
  CHECK(messages("steps:\n  a: {run: [x], call: t}\n") ==
        "5:23: step 'a' has both 'run' and 'call': a step runs exactly one of uses, run, shell or call\n");
  CHECK(messages("steps:\n  a: {say: t}\n") ==
        "5:7: unknown key 'say' in step 'a'\n"
        "5:6: step 'a' says nothing to run: add one of 'uses: PLUGIN', 'run: [argv...]', 'shell: SCRIPT' or "
        "'call: TEMPLATE'\n");
  CHECK(messages("templates: {t: {steps: {x: {run: [x]}}}}\n"
                 "steps:\n  a: {call: t, outputs: {parameters: {o: {path: o}}}}\n") ==
        "6:25: a call step's outputs are its template's: declare them under 'templates.t.outputs'\n");
  CHECK(messages("templates: {t: {steps: {x: {run: [x]}}}}\nsteps:\n  a: {call: t, image: alpine}\n") ==
        "6:23: step 'a' calls a template: its own steps say where they run, not 'image'\n");
  CHECK(messages("templates:\n  t: [a]\n  u: {params: {}}\n  v: {steps: {x: {run: [x]}}, output: {}}\n"
                 "  Bad: {steps: {x: {run: [x]}}}\nsteps:\n  a: {run: [x]}\n") ==
        "5:6: template 't' must be a map with 'steps' (and optional 'params', 'outputs'); got a list\n"
        "6:6: template 'u' has no steps: add 'steps:' with at least one\n"
        "7:31: unknown key 'output' in template 'v' (allowed: params, steps, outputs) (did you mean 'outputs'?)\n"
        "8:3: bad template name 'Bad': use lower-case letters, digits, '-' and '_'\n");
  CHECK(messages("max_depth: 0\nsteps:\n  a: {run: [x]}\n") == "4:12: max_depth must be a positive integer; got '0'\n");
}

TEST_CASE("CallTest.ValidationErrors") {
  const std::string tmpl = "templates:\n"
                           "  sq:\n"
                           "    params: {x: {type: int}, k: {type: int, default: 2}}\n"
                           "    steps: {mul: {run: [mul, \"{{params.x}}\"]}}\n"
                           "    outputs: {y: \"{{steps.mul.outputs.result}}\"}\n";
  // line 10 is the first step
  CHECK(messages(tmpl + "steps:\n  a: {call: sqr, with: {x: 1}}\n") ==
        "10:13: step 'a' calls unknown template 'sqr' (did you mean 'sq'?): declare it under 'templates:' at the "
        "top level\n");
  CHECK(messages(tmpl + "steps:\n  a: {call: sq, with: {x: 1, kk: 3}}\n") ==
        "10:30: template 'sq' has no param 'kk' (did you mean 'k'?) (its params: x, k)\n");
  CHECK(messages(tmpl + "steps:\n  a: {call: sq, with: {k: 1}}\n") ==
        "10:13: step 'a': template 'sq' needs param 'x' (int): add it under 'with:'\n");
  CHECK(messages(tmpl + "steps:\n  a: {call: sq, with: {x: many}}\n") ==
        "10:24: param 'x' of template 'sq' is int and must be an integer; got 'many'\n");
  CHECK(messages(tmpl + "steps:\n  a: {call: sq, with: {x: 1}}\n  b: {needs: [a], run: [echo, \"{{steps.a.outputs.z}}\"]}\n") ==
        "11:24: step 'a' has no output parameter 'z' (did you mean 'y'?)\n");
}

TEST_CASE("CallTest.ATemplateSeesOnlyItsOwnParamsAndSteps") {
  CHECK(messages("params: {n: 1}\n"
                 "templates:\n"
                 "  t:\n"
                 "    params: {m: {type: int}}\n"
                 "    steps:\n"
                 "      x: {run: [echo, \"{{params.n}}\"]}\n"
                 "      y: {run: [echo, \"{{steps.top.outputs.result}}\"]}\n"
                 "      z: {run: [echo, \"{{steps.x.outputs.result}}\"]}\n"
                 "    outputs: {o: \"{{steps.top.outputs.result}}\", p: \"{{params.m}}\"}\n"
                 "steps:\n"
                 "  top: {run: [echo]}\n"
                 "  c: {needs: [top], call: t, with: {m: \"{{steps.top.outputs.result}}\"}}\n") ==
        "9:16: step 'x' refers to unknown param 'n' (did you mean 'm'?) (inside template 't', params are the template's: declare it "
        "under 'templates.t.params')\n"
        "10:16: step 'y' of template 't' refers to step 'top' outside the template: declare a param and pass the "
        "value in the call's 'with'\n"
        "11:16: step 'z' refers to step 'x', which is not upstream of it: add 'x' to its needs\n"
        "12:18: output 'o' of template 't' refers to 'steps.top.outputs.result': a template's outputs come from its "
        "own steps (x, y, z)\n");
}

TEST_CASE("CallTest.TheExportersSayTheyDoNotTranslateACall") {
  LoadResult r = ctflow::parse_workflow_text(wf("templates: {t: {steps: {x: {run: [x]}}}}\nsteps:\n  a: {call: t}\n"), "wf.yaml");
  REQUIRE(r.ok());
  auto argo = ctflow::export_argo(*r.workflow, ctflow::Value::object());
  REQUIRE_FALSE(argo.ok());
  CHECK(argo.message() == "wf.yaml:6:13: error: step 'a' calls template 't': a call is expanded when it runs, which the "
                          "Argo export does not translate yet; run it with 'ctflow run'");
  auto kfp = ctflow::export_kfp(*r.workflow, ctflow::Value::object());
  REQUIRE_FALSE(kfp.ok());
  CHECK(kfp.message().find("which the Kubeflow export does not translate yet") != std::string::npos);
}
