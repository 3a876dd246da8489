#include "engine/expr.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

using ctflow::Result;
using ctflow::Status;
using ctflow::Value;
using ctflow::expr::Expr;
using ctflow::expr::ParseError;

namespace {

// A resolver over a fixed table; counts the lookups so short-circuiting shows.
struct Table {
  std::map<std::string, Value> values;
  mutable int lookups = 0;
  Expr::Resolver resolver() const {
    return [this](const std::string& ref) -> Result<Value> {
      ++lookups;
      auto it = values.find(ref);
      if (it == values.end()) return Status::Error("unknown reference '" + ref + "'");
      return it->second;
    };
  }
};

const Table& default_table() {
  static const Table t{{
      {"params.n", 3},
      {"params.f", 2.5},
      {"params.epochs", 10},
      {"params.name", "mnist"},
      {"params.flag", true},
      {"params.off", false},
      {"params.nothing", nullptr},
      {"params.list", Value::array({1, 2})},
      {"steps.train.outputs.acc", "0.97"},
      {"steps.x.outputs.s", "a b' -c"},
      {"steps.make-data.status", "Succeeded"},
      {"item", "b"},
      {"item.key", 7},
      {"a.Succeeded", true},
      {"b.Failed", false},
      {"c.Omitted", false},
      {"t", true},
      {"f", false},
  }};
  return t;
}

Expr parse_ok(const std::string& text) {
  auto p = Expr::parse(text);
  if (auto* err = std::get_if<ParseError>(&p)) {
    FAIL("parse of <" << text << "> failed at " << err->offset << ": " << err->message);
  }
  return std::get<Expr>(std::move(p));
}

ParseError parse_err(const std::string& text) {
  auto p = Expr::parse(text);
  if (std::holds_alternative<Expr>(p)) FAIL("parse of <" << text << "> should fail");
  return std::get<ParseError>(p);
}

Value eval(const std::string& text, const Table& t = default_table()) {
  Result<Value> v = parse_ok(text).eval(t.resolver());
  if (!v.ok()) FAIL("eval of <" << text << "> failed: " << v.message());
  return *v;
}

bool truth(const std::string& text) {
  Result<bool> v = parse_ok(text).eval_bool(default_table().resolver());
  if (!v.ok()) FAIL("eval of <" << text << "> failed: " << v.message());
  return *v;
}

std::string eval_error(const std::string& text) {
  Result<Value> v = parse_ok(text).eval(default_table().resolver());
  if (v.ok()) FAIL("eval of <" << text << "> should fail, got " << v->dump());
  return v.message();
}

}  // namespace

TEST_CASE("expr: literals evaluate to typed values") {
  CHECK(eval("3") == Value(3));
  CHECK(eval("3").is_number_integer());
  CHECK(eval("-3") == Value(-3));
  CHECK(eval("-0.5") == Value(-0.5));
  CHECK(eval("1e3").is_number_float());
  CHECK(eval("'hi'") == Value("hi"));
  CHECK(eval("\"hi\"") == Value("hi"));
  CHECK(eval("true") == Value(true));
  CHECK(eval("false") == Value(false));
  CHECK(eval("null").is_null());
  CHECK(eval("params.name") == Value("mnist"));
  CHECK(eval("{{params.n}}") == Value(3));
  CHECK(eval("{{ params.n }}") == Value(3));
}

TEST_CASE("expr: string escapes") {
  CHECK(eval(R"('it\'s')") == Value("it's"));
  CHECK(eval(R"("say \"x\"")") == Value("say \"x\""));
  CHECK(eval(R"("a\\b")") == Value("a\\b"));
  CHECK(eval(R"("a\nb")") == Value("a\nb"));
  CHECK(eval(R"("it's")") == Value("it's"));
}

TEST_CASE("expr: precedence is ! then && then ||") {
  // !a && b || c  ==  ((!a) && b) || c
  CHECK(truth("!f && t || f"));
  CHECK_FALSE(truth("!t && t || f"));
  CHECK(truth("!t && t || t"));
  // && binds tighter than ||: t || (f && f)
  CHECK(truth("t || f && f"));
  // ! applies to the comparison: !(params.n == 3)
  CHECK_FALSE(truth("!params.n == 3"));
  CHECK(truth("!!t"));
}

TEST_CASE("expr: parentheses override precedence") {
  CHECK_FALSE(truth("(t || f) && f"));
  CHECK(truth("t || (f && f)"));
  CHECK(truth("!(f || f)"));
  CHECK(truth("((((t))))"));
  CHECK(truth("(params.n) == (3)"));
  CHECK(truth("(params.n == 3) == true"));
}

TEST_CASE("expr: every comparison operator on ints") {
  CHECK(truth("params.n == 3"));
  CHECK_FALSE(truth("params.n == 4"));
  CHECK(truth("params.n != 4"));
  CHECK_FALSE(truth("params.n != 3"));
  CHECK(truth("params.n < 4"));
  CHECK_FALSE(truth("params.n < 3"));
  CHECK(truth("params.n <= 3"));
  CHECK_FALSE(truth("params.n <= 2"));
  CHECK(truth("params.n > 2"));
  CHECK_FALSE(truth("params.n > 3"));
  CHECK(truth("params.n >= 3"));
  CHECK_FALSE(truth("params.n >= 4"));
  CHECK(truth("-3 < -2"));
}

TEST_CASE("expr: int vs float") {
  CHECK(truth("params.n > params.f"));
  CHECK(truth("3 == 3.0"));
  CHECK(truth("2.5 <= params.f"));
  CHECK(truth("params.epochs >= 9.99"));
  CHECK_FALSE(truth("params.n != 3.0"));
  CHECK(truth("-0.5 < 0"));
}

TEST_CASE("expr: number compares with numeric string as numbers") {
  CHECK(truth("steps.train.outputs.acc > 0.9"));     // "0.97" > 0.9
  CHECK(truth("steps.train.outputs.acc < 1"));
  CHECK(truth("'10' > 9"));                          // numerically, not "10" < "9"
  CHECK(truth("3 == '3'"));
  CHECK(truth("3 == '3.0'"));
  CHECK(truth("'-2' < 0"));
  CHECK(truth("'1e2' == 100"));
}

TEST_CASE("expr: strings compare as strings") {
  CHECK(truth("'10' < '9'"));  // two strings: bytewise
  CHECK(truth("params.name == 'mnist'"));
  CHECK(truth("params.name != \"cifar\""));
  CHECK(truth("'abc' < 'abd'"));
  CHECK(truth("'b' >= 'a'"));
  CHECK(truth("steps.make-data.status == 'Succeeded'"));
}

TEST_CASE("expr: mixed-type comparison names both operands and their types") {
  CHECK(eval_error("'abc' < 3") == "cannot compare \"abc\" (string) with 3 (int) using <");
  CHECK(eval_error("params.name >= 2.5") == "cannot compare \"mnist\" (string) with 2.5 (float) using >=");
  CHECK(eval_error("params.flag == 1") == "cannot compare true (bool) with 1 (int) using ==");
  CHECK(eval_error("'abc' != 3") == "cannot compare \"abc\" (string) with 3 (int) using !=");
  CHECK(eval_error("'true' == true") == "cannot compare \"true\" (string) with true (bool) using ==");
  CHECK(eval_error("params.list == 'x'") == "cannot compare [1,2] (list) with \"x\" (string) using ==");
  CHECK(eval_error("true < false") == "cannot compare true (bool) with false (bool) using <");
  CHECK(eval_error("params.nothing < 1") == "cannot compare null (null) with 1 (int) using <");
  CHECK(eval_error("'3x' > 2") == "cannot compare \"3x\" (string) with 2 (int) using >");
  CHECK(eval_error("' 3' > 2") == "cannot compare \" 3\" (string) with 2 (int) using >");
}

TEST_CASE("expr: null equals only null and == / != with null never fails") {
  CHECK(truth("params.nothing == null"));
  CHECK(truth("null == null"));
  CHECK_FALSE(truth("params.n == null"));
  CHECK(truth("params.n != null"));
  CHECK(truth("params.name != null"));
  CHECK_FALSE(truth("null != params.nothing"));
}

TEST_CASE("expr: bools and lists compare for equality") {
  CHECK(truth("params.flag == true"));
  CHECK(truth("params.off != true"));
  CHECK(truth("{{params.list}} == {{params.list}}"));
}

TEST_CASE("expr: a non-boolean when is an error") {
  auto e = parse_ok("params.n");
  Result<bool> r = e.eval_bool(default_table().resolver());
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == "expression must be a boolean, got int 3");
  r = parse_ok("params.name").eval_bool(default_table().resolver());
  CHECK(r.message() == "expression must be a boolean, got string \"mnist\"");
  r = parse_ok("null").eval_bool(default_table().resolver());
  CHECK(r.message() == "expression must be a boolean, got null null");
}

TEST_CASE("expr: && || ! need booleans and name the operand") {
  CHECK(eval_error("params.n && t") == "operator '&&' needs booleans, but params.n is 3 (int)");
  CHECK(eval_error("f || 'yes'") == "operator '||' needs booleans, but got \"yes\" (string)");
  CHECK(eval_error("!params.name") == "operator '!' needs booleans, but params.name is \"mnist\" (string)");
}

TEST_CASE("expr: && and || short-circuit") {
  Table t = default_table();
  t.lookups = 0;
  // The right side would be an error (unknown reference) if it were evaluated.
  auto r = parse_ok("f && params.missing").eval(t.resolver());
  REQUIRE(r.ok());
  CHECK(*r == Value(false));
  CHECK(t.lookups == 1);
  r = parse_ok("t || params.missing").eval(t.resolver());
  REQUIRE(r.ok());
  CHECK(*r == Value(true));
  // Not short-circuited: the error comes through unchanged.
  r = parse_ok("t && params.missing").eval(t.resolver());
  CHECK(r.message() == "unknown reference 'params.missing'");
}

TEST_CASE("expr: resolver errors pass through unchanged") {
  CHECK(eval_error("params.missing == 3") == "unknown reference 'params.missing'");
  CHECK(eval_error("3 in [1, params.missing]") == "unknown reference 'params.missing'");
}

TEST_CASE("expr: in tests membership by equality") {
  CHECK(truth("item in ['a', 'b', 'c']"));
  CHECK_FALSE(truth("item in ['a', 'c']"));
  CHECK_FALSE(truth("item in []"));
  CHECK(truth("params.n in [1, 2, 3]"));
  CHECK(truth("params.n in [1, 3.0]"));
  CHECK(truth("steps.train.outputs.acc in [0.97]"));   // numeric string vs number
  CHECK(truth("params.n in [params.epochs, item.key, 3]"));
  CHECK(truth("!(params.n in [4, 5]) && t"));
  CHECK(truth("params.nothing in [1, null]"));
  CHECK(eval_error("params.flag in [1]") == "cannot compare true (bool) with 1 (int) using in");
}

TEST_CASE("expr: strings with spaces, quotes and dashes stay one value") {
  CHECK(truth("steps.x.outputs.s == \"a b' -c\""));
  CHECK(truth("steps.x.outputs.s == 'a b\\' -c'"));
  CHECK_FALSE(truth("steps.x.outputs.s == 'a'"));
  CHECK(truth("steps.x.outputs.s in ['x', \"a b' -c\"]"));
  CHECK(truth("'a && b' == \"a && b\""));
  CHECK(truth("'(' != ')'"));
}

TEST_CASE("expr: refs() lists each reference once in order of appearance") {
  auto e = parse_ok("steps.a.outputs.x == params.n && {{ params.m }} > params.n || item.key in [item, params.m]");
  CHECK(e.refs() == std::vector<std::string>{"steps.a.outputs.x", "params.n", "params.m", "item.key", "item"});
  CHECK(parse_ok("true && 3 < 4").refs().empty());
  CHECK(parse_ok("steps.make-data.outputs.n_2 > 0").refs() ==
        std::vector<std::string>{"steps.make-data.outputs.n_2"});
  CHECK(parse_ok("workflow.status == 'Failed'").refs() == std::vector<std::string>{"workflow.status"});
  CHECK(parse_ok("  a.Succeeded ").text() == "  a.Succeeded ");
}

TEST_CASE("expr: depends-style references") {
  auto e = parse_ok("a.Succeeded && !(b.Failed || c.Omitted)");
  CHECK(e.refs() == std::vector<std::string>{"a.Succeeded", "b.Failed", "c.Omitted"});
  CHECK(truth("a.Succeeded && !(b.Failed || c.Omitted)"));
  CHECK(parse_ok("my-step.AnySucceeded || make-data.Errored").refs() ==
        std::vector<std::string>{"my-step.AnySucceeded", "make-data.Errored"});
}

TEST_CASE("expr: keywords are not references") {
  CHECK(ctflow::expr::is_ref("params.n"));
  CHECK(ctflow::expr::is_ref("make-data.Succeeded"));
  CHECK(ctflow::expr::is_ref("_x"));
  CHECK(ctflow::expr::is_ref("true.x"));
  CHECK_FALSE(ctflow::expr::is_ref("true"));
  CHECK_FALSE(ctflow::expr::is_ref("in"));
  CHECK_FALSE(ctflow::expr::is_ref("-x"));
  CHECK_FALSE(ctflow::expr::is_ref("3x"));
  CHECK_FALSE(ctflow::expr::is_ref("a."));
  CHECK_FALSE(ctflow::expr::is_ref("a..b"));
  CHECK_FALSE(ctflow::expr::is_ref("a b"));
  CHECK_FALSE(ctflow::expr::is_ref(""));
}

TEST_CASE("expr: parse errors carry a message and a byte offset") {
  struct Case {
    const char* text;
    size_t offset;
    const char* message;
  };
  const Case cases[] = {
      {"", 0, "empty expression"},
      {"   ", 3, "empty expression"},
      {"a &&", 4, "expected a value after '&&'"},
      {"a && )", 5, "expected a value after '&&'"},
      {"a ||", 4, "expected a value after '||'"},
      {"!", 1, "expected a value after '!'"},
      {"a ==", 4, "expected a value after '=='"},
      {"a < ]", 4, "expected a value after '<'"},
      {"()", 1, "expected a value after '('"},
      {"&& a", 0, "expected a value before '&&'"},
      {")", 0, "unexpected ')'"},
      {"a == 1)", 6, "unexpected ')'"},
      {"(a == 1", 7, "expected ')'"},
      {"(a b)", 3, "expected ')'"},
      {"a b", 2, "unexpected text after the expression"},
      {"a == 'x", 5, "unterminated string"},
      {"\"abc", 0, "unterminated string"},
      {"a = 1", 2, "unknown operator '=', did you mean '=='?"},
      {"a & b", 2, "unknown operator '&', did you mean '&&'?"},
      {"a | b", 2, "unknown operator '|', did you mean '||'?"},
      {"x in [1, 2", 10, "expected ']'"},
      {"x in [", 6, "expected ']'"},
      {"x in [1 2]", 8, "expected ']'"},
      {"x in [1,]", 8, "expected a value after ','"},
      {"x in 1", 5, "expected '[' after 'in'"},
      {"a == b == c", 7, "comparisons cannot be chained; combine them with '&&'"},
      {"{{ }}", 3, "expected a reference after '{{'"},
      {"{{ a b }}", 5, "expected '}}'"},
      {"{a}", 0, "unexpected character '{' (a reference is written {{ name }})"},
      {"a # b", 2, "unexpected character '#'"},
      {"a == \x01", 5, "unexpected byte 0x01"},
      {"params.", 7, "expected a name after '.'"},
      {"params..x", 7, "expected a name after '.'"},
      {"3abc", 0, "invalid number '3abc'"},
      {"1.2.3 == x", 0, "invalid number '1.2.3'"},
      {"1e999", 0, "number out of range '1e999'"},
      {"a - 1", 2, "unexpected character '-'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    ParseError e = parse_err(c.text);
    CHECK(e.message == c.message);
    CHECK(e.offset == c.offset);
  }
}

TEST_CASE("expr: deep nesting is a parse error, not a stack overflow") {
  std::string ok_text = std::string(Expr::kMaxDepth, '(') + "t" + std::string(Expr::kMaxDepth, ')');
  CHECK(truth(ok_text));
  ParseError e = parse_err(std::string(100000, '(') + "t");
  CHECK(e.message == "expression nested too deeply (more than 200 levels of '(' and '!')");
  CHECK(e.offset == 200);
  e = parse_err(std::string(100000, '!') + "t");
  CHECK(e.offset == 200);
  // A long flat chain is fine: && and || are not nested.
  std::string chain = "t";
  for (int i = 0; i < 20000; ++i) chain += " && t";
  CHECK(truth(chain));
}

TEST_CASE("expr: large and unsigned numbers compare exactly") {
  Table t;
  t.values["big"] = Value(static_cast<uint64_t>(18446744073709551615ULL));
  t.values["neg"] = Value(-1);
  auto r = parse_ok("big > neg").eval_bool(t.resolver());
  REQUIRE(r.ok());
  CHECK(*r);
  r = parse_ok("9223372036854775807 < 9223372036854775808").eval_bool(t.resolver());  // int64 max vs a float
  REQUIRE(r.ok());
  CHECK_FALSE(*r);  // as doubles they are equal
  CHECK(eval("9223372036854775808").is_number_float());
}

TEST_CASE("expr: an Expr copies cheaply and evaluates the same") {
  auto e = parse_ok("params.n in [1, 2, 3]");
  Expr copy = e;
  CHECK(copy.text() == e.text());
  CHECK(copy.refs() == e.refs());
  auto r = copy.eval_bool(default_table().resolver());
  REQUIRE(r.ok());
  CHECK(*r);
}

TEST_CASE("expr: evaluating without a resolver names the reference") {
  auto r = parse_ok("params.n == 3").eval(nullptr);
  CHECK(r.message() == "cannot resolve 'params.n': no resolver");
  auto ok = parse_ok("1 < 2").eval(nullptr);
  REQUIRE(ok.ok());
  CHECK(*ok == Value(true));
}

TEST_CASE("expr: long values are shortened in messages") {
  Table t;
  t.values["s"] = std::string(200, 'x');
  auto r = parse_ok("s < 1").eval(t.resolver());
  REQUIRE_FALSE(r.ok());
  CHECK(r.message() == "cannot compare \"" + std::string(79, 'x') + "... (string) with 1 (int) using <");
  // Invalid UTF-8 in a value does not throw while formatting the message.
  t.values["bad"] = std::string("\xff\xfe");
  r = parse_ok("bad < 1").eval(t.resolver());
  REQUIRE_FALSE(r.ok());
  CHECK(r.message().find("(string) with 1 (int) using <") != std::string::npos);
}

TEST_CASE("expr: the syntax tree and where each reference is written") {
  using ctflow::expr::CmpOp;
  using ctflow::expr::Kind;
  auto e = parse_ok("a.Succeeded && {{ params.n }} >= 2 && (b || a.Succeeded) && x in [1, 'y']");
  const auto& root = e.root();
  REQUIRE(root.kind == Kind::And);
  REQUIRE(root.kids.size() == 4);  // one && of four, the parenthesized || inside it
  CHECK(root.kids[0]->kind == Kind::Ref);
  CHECK(root.kids[0]->ref == "a.Succeeded");
  CHECK(root.kids[1]->kind == Kind::Cmp);
  CHECK(root.kids[1]->op == CmpOp::Ge);
  CHECK(std::string(ctflow::expr::op_text(root.kids[1]->op)) == ">=");
  CHECK(root.kids[1]->kids[0]->ref == "params.n");
  CHECK(root.kids[1]->kids[1]->literal == Value(2));
  CHECK(root.kids[2]->kind == Kind::Or);
  CHECK(root.kids[3]->kind == Kind::In);
  CHECK(root.kids[3]->kids.size() == 3);  // x, then the list
  // Every occurrence, in order, as offsets into the text (braces excluded).
  std::vector<std::string> spans;
  for (const auto& s : e.ref_spans()) spans.push_back(e.text().substr(s.offset, s.length));
  CHECK(spans == std::vector<std::string>{"a.Succeeded", "params.n", "b", "a.Succeeded", "x"});
  CHECK(e.refs() == std::vector<std::string>{"a.Succeeded", "params.n", "b", "x"});
  // Parentheses group without a node of their own.
  CHECK(parse_ok("((a))").root().kind == Kind::Ref);
  CHECK(parse_ok("(a && b) && c").root().kids.size() == 2);
}

TEST_CASE("ExprTest.RegexMatch") {
  Table t{{{"steps.a.outputs.result", "heads"}, {"params.n", 42}}};
  auto eval = [&](const std::string& text) {
    auto parsed = Expr::parse(text);
    REQUIRE(std::holds_alternative<Expr>(parsed));
    return std::get<Expr>(parsed).eval(t.resolver());
  };
  CHECK(*eval("steps.a.outputs.result =~ 'hea'") == Value(true));
  CHECK(*eval("steps.a.outputs.result =~ '^tai'") == Value(false));
  CHECK(*eval("steps.a.outputs.result matches 'ads$' && params.n =~ '^4[0-9]$'") == Value(true));
  CHECK(*eval("!(steps.a.outputs.result =~ 'x')") == Value(true));
  auto bad = eval("params.n =~ 3");
  REQUIRE(!bad.ok());
  CHECK(bad.message() == "cannot compare 42 (int) with 3 (int) using =~");
  // A literal pattern that is no regular expression is an error where it is written.
  auto p = Expr::parse("steps.a.outputs.result =~ 'a(b'");
  REQUIRE(std::holds_alternative<ParseError>(p));
  CHECK(std::get<ParseError>(p).offset == 26);
  CHECK(std::get<ParseError>(p).message.rfind("invalid regular expression 'a(b': ", 0) == 0);
  CHECK(!ctflow::expr::is_ref("matches"));
}

TEST_CASE("ExprTest.FunctionsAndJsonPath") {
  Table t{{{"params.config", R"({"employees": [{"name": "Baris", "age": 43}, {"name": "Mo", "age": 42}, {"name": "Jai", "age": 44}]})"},
           {"params.n", "5"}}};
  auto eval = [&](const std::string& text) {
    auto parsed = Expr::parse(text);
    REQUIRE_MESSAGE(std::holds_alternative<Expr>(parsed), text);
    return std::get<Expr>(parsed).eval(t.resolver());
  };
  CHECK(*eval("asInt(params.n) == 5 && asInt(params.n) > 4") == Value(true));
  CHECK(*eval("asFloat('2.5')") == Value(2.5));
  CHECK(*eval("string(3)") == Value("3"));
  CHECK(*eval("toJson(jsonpath(params.config, '$.employees[0]'))") == Value(R"({"age":43,"name":"Baris"})"));
  CHECK(*eval("jsonpath(params.config, '$.employees[?(@.name==\"Baris\")].age')") == Value::array({43}));
  CHECK(*eval("jsonpath(params.config, '$.employees[?(@.age>42 && @.age<44)].age')") == Value::array({43}));
  CHECK(*eval("jsonpath(params.config, '$.employees[*].name')") == Value::array({"Baris", "Mo", "Jai"}));
  CHECK((*eval("jsonpath(params.config, '$.employees[1:]')")).size() == 2);
  CHECK(*eval("jsonpath(params.config, \"$['employees'][2].age\")") == Value(44));
  CHECK(eval("asInt('x')").message() == "asInt: \"x\" (string) is not an integer");
  CHECK(eval("jsonpath(params.config, 'employees')").message() ==
        "jsonpath: 'employees' at offset 0: a path starts with '$'");
  CHECK(eval("asInt(1, 2)").message() == "asInt() takes 1 argument, got 2");
  // A function that is not known is an error at its name.
  auto p = Expr::parse("1 == map(params.n)");
  REQUIRE(std::holds_alternative<ParseError>(p));
  CHECK(std::get<ParseError>(p).offset == 5);
  CHECK(std::get<ParseError>(p).message ==
        "unknown function 'map': the functions are asInt, asFloat, string, toJson, jsonpath");
  auto q = Expr::parse("asInt(params.n");
  REQUIRE(std::holds_alternative<ParseError>(q));
  CHECK(std::get<ParseError>(q).message == "expected ')' or ',' in the arguments of asInt()");
}

TEST_CASE("ExprTest.ExprLangSyntax") {
  using ctflow::expr::Syntax;
  Table t{{{"params.weather", R"({"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="})"},
           {"tasks.flip-coin.outputs.result", "heads"},
           {"tasks.heads.outputs.result", "it was heads"},
           {"params.xs", Value::array({1, 2, 3})}}};
  auto eval = [&](const std::string& text) -> Result<Value> {
    auto parsed = Expr::parse(text, Syntax::ExprLang);
    if (auto* e = std::get_if<ParseError>(&parsed)) return Status::Error("parse: " + e->message);
    return std::get<Expr>(parsed).eval(t.resolver());
  };
  // A REF with ['key'] is one dotted REF; a ternary reads only the branch it takes.
  const std::string ternary =
      "tasks['flip-coin'].outputs.result == 'heads' ? tasks.heads.outputs.result : tasks.tails.outputs.result";
  CHECK(*eval(ternary) == Value("it was heads"));
  CHECK(std::get<Expr>(Expr::parse(ternary, Syntax::ExprLang)).refs() ==
        std::vector<std::string>{"tasks.flip-coin.outputs.result", "tasks.heads.outputs.result",
                                 "tasks.tails.outputs.result"});
  CHECK(std::get<Expr>(Expr::parse(ternary, Syntax::ExprLang)).ref_spans()[0].length == 33);
  // ??: the right side when the left is null or cannot be read.
  CHECK(*eval("tasks.producer.outputs.parameters.msg ?? 'expr-fallback'") == Value("expr-fallback"));
  CHECK(*eval("null ?? 1") == Value(1));
  CHECK(*eval("'' ?? 1") == Value(""));
  // Arithmetic: precedence, `/` is a float, + joins strings, a sign after a value is an operator.
  CHECK(*eval("1 + 2 * 3 - 4 % 3") == Value(6));
  CHECK(*eval("179 / 5") == Value(35.8));
  CHECK(*eval("3-1") == Value(2));
  CHECK(eval("-(2) + 'a' == 'b' ? 1 : 2").message() == "cannot compute -2 (int) + \"a\" (string): + needs numbers or two strings (asInt() or asFloat() read a number from a string)");
  CHECK(*eval("'a' + 'b'") == Value("ab"));
  CHECK(eval("1 / 0").message() == "division by zero in 1 / 0");
  // Lists, objects, indexes, closures over #, sprig.
  CHECK(*eval("[1, 'a'][1]") == Value("a"));
  CHECK(*eval("params.xs[-1]") == Value(3));
  CHECK(*eval("{a: 1, 'b c': [2]}.a") == Value(1));
  CHECK(*eval("{a: 1}['nope']") == Value(nullptr));
  CHECK(eval("params.xs[3]").message() == "index 3 out of range for a list of 3");
  CHECK(*eval("map(params.xs, {# * 2})") == Value::array({2, 4, 6}));
  CHECK(*eval("filter(params.xs, {# > 1})") == Value::array({2, 3}));
  CHECK(*eval("count(params.xs, {# > 1}) == 2 && all(params.xs, {# > 0}) && !any(params.xs, {# > 3})") == Value(true));
  CHECK(*eval("sprig.add(1, 2.7, '3') == 6 && sprig.max(4, 9, 2) == 9 && sprig.min(4, 9, 2) == 2") == Value(true));
  CHECK(*eval("sprig.b64dec(sprig.b64enc('hi!?'))") == Value("hi!?"));
  // Argo's expression-reusing-verbose-snippets.
  CHECK(*eval("map([jsonpath(sprig.b64dec(jsonpath(params.weather, '$.weekWeather')), '$.temps')], {\n"
              "  toJson({avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5, min: sprig.min(#[0], #[1], #[2], #[3], #[4]),\n"
              "          max: sprig.max(#[0], #[1], #[2], #[3], #[4])})\n"
              "})[0]") == Value(R"({"avg":35.8,"max":57,"min":15})"));
  CHECK(eval("map(params.xs)").message() == "parse: map() takes a list and a closure: map(LIST, {EXPR over #})");
  CHECK(eval("1 ? 2 : 3").message() == "operator '? :' needs booleans, but got 1 (int)");
  // None of it in ctflow's own syntax (when:, depends:), which the exporters print.
  auto p = Expr::parse("1 + 1");
  REQUIRE(std::holds_alternative<ParseError>(p));
  CHECK(std::get<ParseError>(p).message == "unexpected character '+'");
  auto q = Expr::parse("a ? b : c");
  REQUIRE(std::holds_alternative<ParseError>(q));
}
