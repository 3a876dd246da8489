// References (spec: "References and templating"): the one place that says what
// a REF names. Validation, both exporters and the Argo frontend read a REF
// through parse_reference(); `depends` terms (STEP.RESULT) through
// parse_depends_term().
//
//   params.NAME                  a workflow param
//   steps.S.outputs.NAME         an output parameter of step S (result: its stdout)
//   steps.S.outputs.NAME.KEY...  a key of an output that is a JSON object (a sweep's `best`)
//   steps.S.artifacts.NAME       an output artifact of step S (its path)
//   steps.S.status               step S's status
//   steps.S.exit_code            the exit code of step S's last attempt (Succeeded or Failed)
//   item, item.KEY...            the for_each item, or a key of it ("item.a.b": key "a.b")
//   workflow.name | run_id | status | failures
//   trial, trial.NAME            a sweep trial's parameters, or one of them
//
// The REF syntax itself (dotted names) is expr::is_ref; the places a REF is
// written are `{{ REF }}` in templated strings (engine/template.h) and bare
// REFs in expressions (engine/expr.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ctflow {

struct Reference {
  enum class Kind { Param, StepOutput, StepArtifact, StepStatus, StepExitCode, Item, Workflow, Trial };
  Kind kind = Kind::Param;
  // Param: the param; StepOutput/StepArtifact/StepStatus: the step;
  // Workflow: the field ("name", "run_id", "status", "failures"); Item: "";
  // Trial: the sweep parameter ("" for all of them).
  std::string name;
  // StepOutput/StepArtifact: the output or artifact; Item: the key after
  // "item." ("" for the item itself); otherwise "".
  std::string field;
  // StepOutput: the keys into an output that is a JSON object
  // ("steps.tune.outputs.best.lr": field "best", path "lr"); else "".
  std::string path;
  std::string text;  // the REF as written ("steps.a.outputs.p")

  bool is_step() const {
    return kind == Kind::StepOutput || kind == Kind::StepArtifact || kind == Kind::StepStatus ||
           kind == Kind::StepExitCode;
  }
};

// Parses one REF (without braces or surrounding blanks). The error says what
// is wrong and how to write it, e.g. "'params.a.b' should be params.NAME" or
// "unknown reference 'parms.x': references start with params., steps., item
// or workflow. (did you mean 'params'?)".
Result<Reference> parse_reference(std::string_view text);

// The results a `depends` term can test: Succeeded, Failed, Errored, Skipped,
// Omitted, AnySucceeded, AllFailed, Daemoned.
const std::vector<std::string>& depends_results();

// One term of a `depends` expression, STEP.RESULT ("train.Succeeded"), split
// at its first '.'; `result` is "" when there is none ("train"). The names are
// not checked here: validation knows the steps and uses depends_results().
struct DependsTerm {
  std::string step;
  std::string result;
};
DependsTerm parse_depends_term(std::string_view ref);

// The step names a `depends` expression refers to, in order of first
// appearance, without duplicates ("a.Succeeded || b.Failed" -> a, b); nothing
// when the text is not an expression.
std::vector<std::string> depends_steps(std::string_view depends);

}  // namespace ctflow
