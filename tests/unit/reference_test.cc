// The one reader of references (engine/reference.h): what each REF names, and
// the message for one that names nothing.
#include "engine/reference.h"

#include <doctest/doctest.h>

using ctflow::depends_steps;
using ctflow::parse_depends_term;
using ctflow::parse_reference;
using ctflow::Reference;

namespace {

Reference ok(const std::string& text) {
  auto r = parse_reference(text);
  REQUIRE_MESSAGE(r.ok(), r.message());
  CHECK(r->text == text);
  return *r;
}

std::string error(const std::string& text) {
  auto r = parse_reference(text);
  REQUIRE_FALSE(r.ok());
  return r.message();
}

}  // namespace

TEST_CASE("Reference.Kinds") {
  Reference r = ok("params.epochs");
  CHECK(r.kind == Reference::Kind::Param);
  CHECK(r.name == "epochs");
  CHECK(r.field == "");

  r = ok("steps.make-data.outputs.n");
  CHECK(r.kind == Reference::Kind::StepOutput);
  CHECK(r.name == "make-data");
  CHECK(r.field == "n");
  CHECK(r.is_step());

  r = ok("steps.train.artifacts.model");
  CHECK(r.kind == Reference::Kind::StepArtifact);
  CHECK(r.name == "train");
  CHECK(r.field == "model");

  r = ok("steps.train.status");
  CHECK(r.kind == Reference::Kind::StepStatus);
  CHECK(r.name == "train");
  CHECK(r.field == "");

  r = ok("item");
  CHECK(r.kind == Reference::Kind::Item);
  CHECK(r.field == "");
  CHECK_FALSE(r.is_step());
  CHECK(ok("item.lr").field == "lr");
  CHECK(ok("item.cfg.lr").field == "cfg.lr");

  for (const char* f : {"name", "run_id", "status", "failures"}) {
    r = ok(std::string("workflow.") + f);
    CHECK(r.kind == Reference::Kind::Workflow);
    CHECK(r.name == f);
  }
}

TEST_CASE("Reference.Errors") {
  CHECK(error("params") == "'params' should be params.NAME");
  CHECK(error("params.a.b") == "'params.a.b' should be params.NAME");
  CHECK(error("steps.a") == "'steps.a' should be steps.STEP.outputs.NAME, steps.STEP.artifacts.NAME, steps.STEP.status or steps.STEP.exit_code");
  CHECK(error("steps.a.outputs") ==
        "'steps.a.outputs' should be steps.a.outputs.NAME, steps.a.artifacts.NAME, steps.a.status or steps.a.exit_code");
  CHECK(error("steps.a.status.x") ==
        "'steps.a.status.x' should be steps.a.outputs.NAME, steps.a.artifacts.NAME, steps.a.status or steps.a.exit_code");
  CHECK(error("steps.a.result") ==
        "'steps.a.result' should be steps.a.outputs.NAME, steps.a.artifacts.NAME, steps.a.status or steps.a.exit_code");
  CHECK(error("workflow.uid") ==
        "unknown reference 'workflow.uid': use workflow.name, workflow.run_id, workflow.status or workflow.failures");
  CHECK(error("parms.x") ==
        "unknown reference 'parms.x': references start with params., steps., item, trial or workflow. (did you mean "
        "'params'?)");
  CHECK(error("a b") == "'a b' is not a reference: write a dotted name like params.x or steps.s.outputs.y");
  CHECK(error("") == "'' is not a reference: write a dotted name like params.x or steps.s.outputs.y");
  CHECK(error("params.") == "'params.' is not a reference: write a dotted name like params.x or steps.s.outputs.y");
}

TEST_CASE("Reference.DependsTerms") {
  auto t = parse_depends_term("make-data.Succeeded");
  CHECK(t.step == "make-data");
  CHECK(t.result == "Succeeded");
  t = parse_depends_term("train");
  CHECK(t.step == "train");
  CHECK(t.result == "");
  CHECK(depends_steps("(a.Succeeded || b.Failed) && !a.Skipped") == std::vector<std::string>{"a", "b"});
  CHECK(depends_steps("a.Succeeded &&").empty());
}

TEST_CASE("Reference.TrialsAndKeysOfObjectOutputs") {
  Reference r = ok("trial.lr");
  CHECK(r.kind == Reference::Kind::Trial);
  CHECK(r.name == "lr");
  CHECK(ok("trial").name == "");
  CHECK(error("trial.lr.x") == "'trial.lr.x' should be trial.NAME (a parameter of the step's sweep)");
  r = ok("steps.tune.outputs.best.lr");
  CHECK(r.kind == Reference::Kind::StepOutput);
  CHECK(r.field == "best");
  CHECK(r.path == "lr");
  CHECK(ok("steps.tune.outputs.best").path == "");
  CHECK_FALSE(parse_reference("steps.tune.artifacts.model.x").ok());
}
