// Lint warnings: valid workflows that most likely do not do what was meant.
#include "engine/lint.h"

#include <doctest/doctest.h>

#include "engine/frontend_v1.h"

using namespace ctflow;

namespace {

std::string warnings_of(const std::string& yaml) {
  LoadResult r = parse_workflow_text(yaml, "w.yaml");
  REQUIRE_MESSAGE(r.ok(), r.diags.render());
  Diagnostics d(yaml);
  lint_warnings(*r.workflow, d);
  CHECK(d.empty());  // warnings are not errors
  return d.render();
}

}  // namespace

TEST_CASE("Lint.UnusedParamRunWithSpaceAndRetryThatNeverHappens") {
  const std::string text = warnings_of(R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: w}
params:
  used: {type: string, default: a}
  in_when: {type: int, default: 1}
  unused: {type: string, default: b}
  gpus: {type: int, default: 0}
steps:
  a:
    run: ["echo hello", "{{params.used}}"]
    resources: {gpu: "{{params.gpus}}"}
    retry: {limit: 2, on: [timeout]}
  b:
    when: params.in_when > 0
    run: [/opt/my tools/run]
)");
  CHECK(text.find("w.yaml:7:3: warning: param 'unused' is declared but no step reads it") != std::string::npos);
  CHECK(text.find("'used'") == std::string::npos);
  CHECK(text.find("'in_when'") == std::string::npos);
  CHECK(text.find("'gpus'") == std::string::npos);  // resources read it
  CHECK(text.find("w.yaml:11:10: warning: step 'a': run: starts the program 'echo hello'") != std::string::npos);
  CHECK(text.find("my tools") == std::string::npos);  // a path with a space is a path
  CHECK(text.find("step 'a': retry can never happen: it retries only on timeout and the step has no timeout") !=
        std::string::npos);
}

TEST_CASE("Lint.CleanWorkflowHasNoWarnings") {
  CHECK(warnings_of(R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: w}
params:
  n: {type: int, default: 2}
steps:
  a:
    shell: echo "$CTFLOW_PARAM_N"
    with: {n: "{{params.n}}"}
    retry: {limit: 1}
)") == "");
}

TEST_CASE("Lint.ASweepsTrialsParamIsRead") {
  CHECK(warnings_of(R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: w}
params:
  trials: {type: int, default: 2}
steps:
  tune:
    shell: echo "$CTFLOW_PARAM_LR"
    with: {lr: "{{trial.lr}}"}
    sweep:
      parameters: {lr: {values: [0.1, 0.2]}}
      method: random
      trials: "{{params.trials}}"
      objective: {metric: loss, goal: minimize}
)") == "");
}
