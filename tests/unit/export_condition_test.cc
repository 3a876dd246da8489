// The condition printer both exporters share (engine/export/condition.h), in its
// two dialects: Argo's govaluate and Kubeflow's CEL.
#include <doctest/doctest.h>

#include "engine/export/condition.h"

using namespace ctflow;
using namespace ctflow::export_detail;

namespace {

Workflow typed_params() {
  Workflow wf;
  wf.params.push_back({"n", ParamType::Int, Value(3), "", {}});
  wf.params.push_back({"b", ParamType::Bool, Value(true), "", {}});
  wf.params.push_back({"s", ParamType::String, Value("x"), "", {}});
  return wf;
}

// `text` printed in `dialect`, a ref written as <its text>.
Result<std::string> print(const std::string& text, const ConditionDialect& dialect) {
  auto e = parse_condition(text);
  REQUIRE_MESSAGE(e.ok(), e.message());
  return print_condition(*e, dialect, typed_params(),
                         [](const Reference& r) -> Result<std::string> { return "<" + r.text + ">"; });
}

std::string must(const Result<std::string>& r) {
  REQUIRE_MESSAGE(r.ok(), r.message());
  return r.value();
}

}  // namespace

TEST_CASE("Condition.OperatorsAndGrouping") {
  const std::string e = "params.n > 3 && (params.b || !(params.s == 'y')) || params.n in [1, 2]";
  CHECK(must(print(e, kGovaluate)) == "(<params.n> > 3 && (<params.b> || !('<params.s>' == 'y'))) || <params.n> IN (1, 2)");
  CHECK(must(print(e, kCel)) ==
        "(double(<params.n>) > 3.0 && (<params.b> || !(<params.s> == 'y'))) || double(<params.n>) in [1.0, 2.0]");
}

TEST_CASE("Condition.OperandsOfUnknownType") {
  // Argo compares two values of unknown type as strings; CEL leaves them alone.
  const std::string e = "steps.a.outputs.x == steps.b.outputs.y";
  CHECK(must(print(e, kGovaluate)) == "'<steps.a.outputs.x>' == '<steps.b.outputs.y>'");
  CHECK(must(print(e, kCel)) == "<steps.a.outputs.x> == <steps.b.outputs.y>");
  CHECK(must(print("steps.a.outputs.x == params.b", kGovaluate)) == "<steps.a.outputs.x> == <params.b>");
}

TEST_CASE("Condition.Strings") {
  const std::string e = "steps.a.outputs.x in ['it\\'s', \"a\\\\b\", \"two\nlines\"]";
  CHECK(must(print(e, kGovaluate)) == "'<steps.a.outputs.x>' IN ('it\\'s', 'a\\\\b', 'two\nlines')");
  CHECK(must(print(e, kCel)) == "<steps.a.outputs.x> in ['it\\'s', 'a\\\\b', 'two\\nlines']");
}

TEST_CASE("Condition.Errors") {
  CHECK(print("params.s == null", kGovaluate).message() == "null cannot be compared in an Argo `when`");
  CHECK(print("params.s == null", kCel).message() == "null has no equivalent in a Kubeflow condition");
  auto e = parse_condition("params.s == 'x'");
  REQUIRE(e.ok());
  auto r = print_condition(*e, kCel, typed_params(), [](const Reference&) -> Result<std::string> { return Status::Error("no"); });
  CHECK(r.message() == "no");
  // A reference the printer cannot read, and text that is not an expression.
  CHECK(print("params.a.b == 1", kCel).message() == "'params.a.b' should be params.NAME");
  CHECK(parse_condition("params.n >").message() == "in expression 'params.n >': expected a value after '>' at offset 10");
}

TEST_CASE("Condition.ChainsAreLeftNested") {
  // An n-ary && or || is printed as the left-nested pairs the backends read,
  // whether written flat or with its own parentheses.
  CHECK(must(print("params.b && params.b && params.b", kGovaluate)) == "(<params.b> && <params.b>) && <params.b>");
  CHECK(must(print("(params.b && params.b) && params.b", kGovaluate)) == "(<params.b> && <params.b>) && <params.b>");
  CHECK(must(print("params.b || params.b || params.b || params.b", kCel)) ==
        "((<params.b> || <params.b>) || <params.b>) || <params.b>");
  CHECK(must(print("params.b && (params.b && params.b)", kGovaluate)) == "<params.b> && (<params.b> && <params.b>)");
  CHECK(must(print("{{params.n}} == 2 || steps.a.status == 'Failed'", kGovaluate)) ==
        "<params.n> == 2 || '<steps.a.status>' == 'Failed'");
}
