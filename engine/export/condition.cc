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
};

namespace {

OperandType operand_type(const Workflow& wf, const Expr& e) {
  if (e.kind == Expr::Kind::Literal) {
    if (e.literal.is_string()) return OperandType::String;
    if (e.literal.is_number()) return OperandType::Number;
    if (e.literal.is_boolean()) return OperandType::Bool;
    return OperandType::Null;
  }
  if (e.kind != Expr::Kind::RefValue || e.ref.kind != Ref::Kind::Param) return OperandType::Unknown;
  const ParamDecl* p = wf.find_param(e.ref.name);
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
  Printer(const ConditionDialect& d, const Workflow& wf, const std::function<Result<std::string>(const Ref&)>& ref)
      : d_(d), wf_(wf), ref_(ref) {}

  Result<std::string> print(const Expr& e, bool marked) {
    switch (e.kind) {
      case Expr::Kind::Or:
      case Expr::Kind::And: {
        const char* op = e.kind == Expr::Kind::Or ? d_.or_op : d_.and_op;
        std::string out;
        for (size_t i = 0; i < e.args.size(); ++i) {
          auto part = print(*e.args[i], false);
          if (!part) return part;
          const bool group = e.args[i]->kind == Expr::Kind::Or || e.args[i]->kind == Expr::Kind::And;
          out += (i ? op : "") + (group ? "(" + *part + ")" : *part);
        }
        return out;
      }
      case Expr::Kind::Not: {
        auto inner = print(*e.args[0], false);
        if (!inner) return inner;
        return d_.not_open + *inner + d_.not_close;
      }
      case Expr::Kind::Compare:
      case Expr::Kind::In: {
        const Expr& l = *e.args[0];
        const Expr& r = *e.args[1];
        const bool mark = marks(e);
        auto ls = print(l, mark);
        if (!ls) return ls;
        if (e.kind == Expr::Kind::Compare) {
          auto rs = print(r, mark);
          if (!rs) return rs;
          return *ls + " " + e.op + " " + *rs;
        }
        std::string list;
        for (size_t i = 0; i < r.args.size(); ++i) {
          auto item = print(*r.args[i], mark);
          if (!item) return item;
          list += (i ? d_.list_sep : "") + *item;
        }
        return *ls + d_.in_open + list + d_.in_close;
      }
      case Expr::Kind::List: return Status::Error("a list is only allowed after 'in'");
      case Expr::Kind::Literal:
        if (e.literal.is_null()) return Status::Error(d_.null_error);
        if (e.literal.is_string()) return string_literal(e.literal.get<std::string>(), d_.escape_newline);
        if (e.literal.is_number_integer() && marked) return e.literal.dump() + d_.marked_integer_suffix;
        return e.literal.dump();
      case Expr::Kind::RefValue: {
        auto text = ref_(e.ref);
        if (!text) return text;
        return marked ? d_.marked_ref_open + *text + d_.marked_ref_close : *text;
      }
    }
    return Status::Error("unsupported expression");
  }

 private:
  // Whether a Compare or In marks its operands: the two sides and, for In, the items.
  bool marks(const Expr& e) const {
    const Expr& l = *e.args[0];
    const Expr& r = *e.args[1];
    bool mark = operand_type(wf_, l) == d_.mark_on || operand_type(wf_, r) == d_.mark_on;
    if (e.kind == Expr::Kind::In)
      for (const auto& item : r.args) mark = mark || operand_type(wf_, *item) == d_.mark_on;
    if (d_.mark_unknown_pair && e.kind == Expr::Kind::Compare && operand_type(wf_, l) == OperandType::Unknown &&
        operand_type(wf_, r) == OperandType::Unknown)
      mark = true;
    return mark;
  }

  const ConditionDialect& d_;
  const Workflow& wf_;
  const std::function<Result<std::string>(const Ref&)>& ref_;
};

}  // namespace

Result<std::string> print_condition(const Expr& e, const ConditionDialect& dialect, const Workflow& wf,
                                    const std::function<Result<std::string>(const Ref&)>& ref) {
  return Printer(dialect, wf, ref).print(e, false);
}

}  // namespace ctflow::export_detail
