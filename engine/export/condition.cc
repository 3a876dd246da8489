#include "engine/export/condition.h"

namespace ctflow::export_detail {

const ConditionDialect kGovaluate{
    .in_open = " IN (", .in_close = ")", .escape_newline = false,
    // Two values of unknown type compare as strings, as Kubeflow's compiler does.
    .mark_on = OperandType::String, .mark_unknown_pair = true,
    .marked_ref_open = "'", .marked_ref_close = "'", .marked_integer_suffix = "",
    .null_error = "null cannot be compared in an Argo `when`",
};

const ConditionDialect kCel{
    .in_open = " in [", .in_close = "]", .escape_newline = true,
    .mark_on = OperandType::Number, .mark_unknown_pair = false,
    .marked_ref_open = "double(", .marked_ref_close = ")", .marked_integer_suffix = ".0",
    .null_error = "null has no equivalent in a Kubeflow condition",
    .match_method = true,
};

namespace {

using expr::Kind;
using expr::Node;

OperandType operand_type(const Workflow& wf, const Node& e) {
  if (e.kind == Kind::Literal) {
    if (e.literal.is_string()) return OperandType::String;
    if (e.literal.is_number()) return OperandType::Number;
    if (e.literal.is_boolean()) return OperandType::Bool;
    return OperandType::Null;
  }
  if (e.kind != Kind::Ref) return OperandType::Unknown;
  auto ref = parse_reference(e.ref);
  if (!ref || ref->kind != Reference::Kind::Param) return OperandType::Unknown;
  const ParamDecl* p = wf.find_param(ref->name);
  if (!p) return OperandType::Unknown;
  if (p->type == ParamType::Int || p->type == ParamType::Float) return OperandType::Number;
  return p->type == ParamType::Bool ? OperandType::Bool : OperandType::Unknown;
}

std::string string_literal(const std::string& s, bool escape_newline) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'' || ch == '\\') out += '\\';
    if (ch == '\n' && escape_newline) { out += "\\n"; continue; }
    out += ch;
  }
  return out + "'";
}

class Printer {
 public:
  Printer(const ConditionDialect& d, const Workflow& wf, const RefRenderer& ref) : d_(d), wf_(wf), ref_(ref) {}

  Result<std::string> print(const Node& e, bool marked) {
    switch (e.kind) {
      case Kind::Or:
      case Kind::And: return junction(e);
      case Kind::Not: {
        auto inner = print(*e.kids[0], false);
        if (!inner) return inner;
        return d_.not_open + *inner + d_.not_close;
      }
      case Kind::Cmp:
      case Kind::In: return comparison(e);
      case Kind::Call: return Status::Error("the function call " + e.ref + "() cannot be exported in a condition");
      case Kind::Arith:
      case Kind::Ternary:
      case Kind::Coalesce:
      case Kind::Index:
      case Kind::Member:
      case Kind::List:
      case Kind::Object:
      case Kind::Closure:  // only in Syntax::ExprLang, which the frontends' conditions are not read in
        return Status::Error("expr-lang operators cannot be exported in a condition");
      case Kind::Literal:
        if (e.literal.is_null()) return Status::Error(d_.null_error);
        if (e.literal.is_string()) return string_literal(e.literal.get<std::string>(), d_.escape_newline);
        if (e.literal.is_number_integer() && marked) return e.literal.dump() + d_.marked_integer_suffix;
        return e.literal.dump();
      case Kind::Ref: {
        auto ref = parse_reference(e.ref);
        if (!ref) return ref.status();
        auto text = ref_(*ref);
        if (!text) return text;
        return marked ? d_.marked_ref_open + *text + d_.marked_ref_close : *text;
      }
    }
    return Status::Error("unsupported expression");
  }

 private:
  // a && b && c as ((a && b) && c): each operand that is itself && or || in
  // parentheses, and each pair so far too.
  Result<std::string> junction(const Node& e) {
    const char* op = e.kind == Kind::Or ? d_.or_op : d_.and_op;
    std::string out;
    for (size_t i = 0; i < e.kids.size(); ++i) {
      const Node& k = *e.kids[i];
      auto part = print(k, false);
      if (!part) return part;
      const bool group = k.kind == Kind::Or || k.kind == Kind::And;
      if (i >= 2) out = "(" + out + ")";
      out += (i ? op : "") + (group ? "(" + *part + ")" : *part);
    }
    return out;
  }

  Result<std::string> comparison(const Node& e) {
    const bool mark = marks(e);
    auto ls = print(*e.kids[0], mark);
    if (!ls) return ls;
    if (e.kind == Kind::Cmp) {
      auto rs = print(*e.kids[1], mark);
      if (!rs) return rs;
      if (e.op == expr::CmpOp::Match && d_.match_method) return *ls + ".matches(" + *rs + ")";
      return *ls + " " + expr::op_text(e.op) + " " + *rs;
    }
    std::string list;
    for (size_t i = 1; i < e.kids.size(); ++i) {
      auto item = print(*e.kids[i], mark);
      if (!item) return item;
      list += (i > 1 ? d_.list_sep : "") + *item;
    }
    return *ls + d_.in_open + list + d_.in_close;
  }

  // Whether a Cmp or In marks its operands: the two sides and, for In, the items.
  bool marks(const Node& e) const {
    bool mark = false;
    for (const auto& k : e.kids) mark = mark || operand_type(wf_, *k) == d_.mark_on;
    if (d_.mark_unknown_pair && e.kind == Kind::Cmp && operand_type(wf_, *e.kids[0]) == OperandType::Unknown &&
        operand_type(wf_, *e.kids[1]) == OperandType::Unknown)
      mark = true;
    return mark;
  }

  const ConditionDialect& d_;
  const Workflow& wf_;
  const RefRenderer& ref_;
};

}  // namespace

Result<expr::Expr> parse_condition(const std::string& text) {
  auto parsed = expr::Expr::parse(text);
  if (auto* e = std::get_if<expr::ParseError>(&parsed))
    return Status::Error("in expression '" + text + "': " + e->message + " at offset " + std::to_string(e->offset));
  return std::get<expr::Expr>(std::move(parsed));
}

Result<std::string> print_condition(const expr::Expr& e, const ConditionDialect& dialect, const Workflow& wf,
                                    const RefRenderer& ref) {
  return Printer(dialect, wf, ref).print(e.root(), false);
}

}  // namespace ctflow::export_detail
