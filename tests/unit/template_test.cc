#include "engine/template.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

using ctflow::Result;
using ctflow::Status;
using ctflow::Value;
namespace tmpl = ctflow::tmpl;

namespace {

tmpl::Resolver table_resolver() {
  static const std::map<std::string, Value> values = {
      {"params.n", 3},
      {"params.lr", 0.5},
      {"params.name", "mnist"},
      {"params.flag", true},
      {"params.nothing", nullptr},
      {"params.xs", Value::array({1, "two", 3.5})},
      {"params.cfg", Value{{"a", 1}}},
      {"steps.make-data.outputs.path", "/tmp/a b/data.csv"},
      {"item", "x"},
      {"item.key", "k"},
  };
  return [](const std::string& ref) -> Result<Value> {
    auto it = values.find(ref);
    if (it == values.end()) return Status::Error("unknown reference '" + ref + "'");
    return it->second;
  };
}

Value render_ok(const std::string& text) {
  Result<Value> v = tmpl::render(text, table_resolver());
  if (!v.ok()) FAIL("render of <" << text << "> failed: " << v.message());
  return *v;
}

std::vector<std::string> refs_ok(const std::string& text) {
  auto r = tmpl::refs(text);
  if (auto* e = std::get_if<tmpl::TemplateError>(&r)) FAIL("refs of <" << text << ">: " << e->message);
  return std::get<std::vector<std::string>>(r);
}

tmpl::TemplateError refs_err(const std::string& text) {
  auto r = tmpl::refs(text);
  if (std::holds_alternative<std::vector<std::string>>(r)) FAIL("refs of <" << text << "> should fail");
  return std::get<tmpl::TemplateError>(r);
}

}  // namespace

TEST_CASE("template: a string that is exactly one reference keeps the value's type") {
  CHECK(render_ok("{{params.n}}") == Value(3));
  CHECK(render_ok("{{params.n}}").is_number_integer());
  CHECK(render_ok("{{ params.lr }}") == Value(0.5));
  CHECK(render_ok("{{params.flag}}") == Value(true));
  CHECK(render_ok("{{params.nothing}}").is_null());
  CHECK(render_ok("{{params.xs}}") == Value::array({1, "two", 3.5}));
  CHECK(render_ok("{{\tparams.cfg\n}}") == Value{{"a", 1}});
}

TEST_CASE("template: anything around the reference makes the result a string") {
  CHECK(render_ok("n={{params.n}}") == Value("n=3"));
  CHECK(render_ok(" {{params.n}}") == Value(" 3"));
  CHECK(render_ok("{{params.n}} ") == Value("3 "));
  CHECK(render_ok("{{params.n}}{{params.n}}") == Value("33"));
  CHECK(render_ok("lr={{params.lr}} flag={{params.flag}} none={{params.nothing}}") ==
        Value("lr=0.5 flag=true none=null"));
}

TEST_CASE("template: strings are pasted as-is, other values as compact JSON") {
  CHECK(render_ok("data: {{ steps.make-data.outputs.path }}") == Value("data: /tmp/a b/data.csv"));
  CHECK(render_ok("model-{{params.name}}.pt") == Value("model-mnist.pt"));
  CHECK(render_ok("xs={{params.xs}}") == Value(R"(xs=[1,"two",3.5])"));
  CHECK(render_ok("cfg={{params.cfg}}") == Value(R"(cfg={"a":1})"));
}

TEST_CASE("template: text without references is returned unchanged") {
  CHECK(render_ok("") == Value(""));
  CHECK(render_ok("plain } text }} {") == Value("plain } text }} {"));
  CHECK(render_ok("echo ${HOME}") == Value("echo ${HOME}"));
  // No resolver is needed when there is nothing to resolve.
  auto r = tmpl::render("plain", nullptr);
  REQUIRE(r.ok());
  CHECK(*r == Value("plain"));
}

TEST_CASE("template: refs() lists every reference in order, duplicates included") {
  CHECK(refs_ok("a {{params.n}} b {{ item.key }} {{params.n}}") ==
        std::vector<std::string>{"params.n", "item.key", "params.n"});
  CHECK(refs_ok("no refs").empty());
  CHECK(refs_ok("{{steps.make-data.outputs.path}}") == std::vector<std::string>{"steps.make-data.outputs.path"});
  CHECK(refs_ok("{{item}}") == std::vector<std::string>{"item"});
}

TEST_CASE("template: syntax errors have a message and an offset") {
  auto e = refs_err("a {{params.n");
  CHECK(e.message == "unclosed '{{'");
  CHECK(e.offset == 2);
  e = refs_err("{{x}} and {{ y");
  CHECK(e.message == "unclosed '{{'");
  CHECK(e.offset == 10);
  e = refs_err("x{{}}");
  CHECK(e.message == "empty reference '{{}}'");
  CHECK(e.offset == 1);
  e = refs_err("{{   }}");
  CHECK(e.message == "empty reference '{{   }}'");
  CHECK(e.offset == 0);
  e = refs_err("{{ params.n + 1 }}");
  CHECK(e.message == "invalid reference 'params.n + 1': expected a dotted name like params.x or steps.s.outputs.y");
  CHECK(e.offset == 3);
  e = refs_err("{{params.}}");
  CHECK(e.message == "invalid reference 'params.': expected a dotted name like params.x or steps.s.outputs.y");
  CHECK(e.offset == 2);
  e = refs_err("{{ true }}");
  CHECK(e.offset == 3);
  e = refs_err("{{{x}}}");
  CHECK(e.message == "invalid reference '{x': expected a dotted name like params.x or steps.s.outputs.y");
}

TEST_CASE("template: render reports syntax errors with the offset") {
  auto r = tmpl::render("run {{params.n", table_resolver());
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == "unclosed '{{' at offset 4 in 'run {{params.n'");
}

TEST_CASE("template: resolver errors pass through unchanged") {
  auto r = tmpl::render("x={{params.missing}}", table_resolver());
  CHECK(r.message() == "unknown reference 'params.missing'");
  r = tmpl::render("{{params.missing}}", table_resolver());
  CHECK(r.message() == "unknown reference 'params.missing'");
  r = tmpl::render("{{params.n}}", nullptr);
  CHECK(r.message() == "cannot resolve 'params.n': no resolver");
}

TEST_CASE("template: render_value renders strings nested in objects and lists") {
  Value with = {
      {"epochs", "{{params.n}}"},
      {"{{params.name}}", "key is untouched"},
      {"args", Value::array({"--lr={{params.lr}}", "{{params.xs}}", 7, Value::array({"{{item}}"})})},
      {"nested", {{"path", "{{steps.make-data.outputs.path}}"}, {"flag", false}}},
      {"n", 1.5},
  };
  Result<Value> r = tmpl::render_value(with, table_resolver());
  REQUIRE(r.ok());
  Value expected = {
      {"epochs", 3},
      {"{{params.name}}", "key is untouched"},
      {"args", Value::array({"--lr=0.5", Value::array({1, "two", 3.5}), 7, Value::array({"x"})})},
      {"nested", {{"path", "/tmp/a b/data.csv"}, {"flag", false}}},
      {"n", 1.5},
  };
  CHECK(*r == expected);
  CHECK((*r)["epochs"].is_number_integer());
}

TEST_CASE("template: render_value stops at the first error") {
  Value v = {{"a", Value::array({"ok", "{{params.missing}}"})}};
  auto r = tmpl::render_value(v, table_resolver());
  CHECK(r.message() == "unknown reference 'params.missing'");
  auto s = tmpl::render_value(Value("{{ oops"), table_resolver());
  CHECK(s.message() == "unclosed '{{' at offset 0 in '{{ oops'");
}

TEST_CASE("template: render_value leaves scalars alone") {
  CHECK(*tmpl::render_value(Value(3), nullptr) == Value(3));
  CHECK(tmpl::render_value(Value(nullptr), nullptr)->is_null());
  CHECK(*tmpl::render_value(Value::array(), nullptr) == Value::array());
}

TEST_CASE("template: placeholders and single placeholders") {
  auto p = tmpl::placeholders("a {{ params.n }} b {{item}}");
  REQUIRE(std::holds_alternative<std::vector<tmpl::Placeholder>>(p));
  const auto& holes = std::get<std::vector<tmpl::Placeholder>>(p);
  REQUIRE(holes.size() == 2);
  CHECK(holes[0].begin == 2);
  CHECK(holes[0].end == 16);
  CHECK(holes[0].ref == "params.n");
  CHECK(holes[1].ref == "item");
  auto bad = tmpl::placeholders("x {{ a..b }}");
  REQUIRE(std::holds_alternative<tmpl::TemplateError>(bad));
  CHECK(tmpl::error_status(std::get<tmpl::TemplateError>(bad), "x {{ a..b }}").message() ==
        "invalid reference 'a..b': expected a dotted name like params.x or steps.s.outputs.y at offset 5 in "
        "'x {{ a..b }}'");
  CHECK(tmpl::is_single_placeholder("{{steps.a.outputs.xs}}"));
  CHECK(tmpl::is_single_placeholder("{{ item }}"));
  CHECK_FALSE(tmpl::is_single_placeholder("n={{params.n}}"));
  CHECK_FALSE(tmpl::is_single_placeholder("{{params.n}}{{params.n}}"));
  CHECK_FALSE(tmpl::is_single_placeholder("{{params.n}} "));
  CHECK_FALSE(tmpl::is_single_placeholder("{{}}"));
}
