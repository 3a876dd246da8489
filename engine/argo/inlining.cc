// Calls of templates: binding a call's arguments to a template's inputs,
// expanding steps and dag bodies into IR steps (with join steps), and exit hooks.
#include "engine/argo/translator.h"

#include <algorithm>
#include <functional>

namespace ctflow::argo_detail {

// Fills CALLEE's inputs (parameters and artifacts) from CALL's arguments,
// evaluated in CALLER, and the template's own values and defaults.
bool Translator::bind_inputs(const YAML::Node& t, const YAML::Node& call, Ctx& caller, Ctx& callee) {
  bool ok = true;
  std::map<std::string, YAML::Node> given;
  YAML::Node args = path(call, {"arguments"});
  if (args && args["parameters"])
    for (const auto& a : args["parameters"]) given[scalar(a["name"])] = YAML::Node(a);
  for (const auto& p : path(t, {"inputs", "parameters"})) {
    std::string n = scalar(p["name"]);
    auto g = given.find(n);
    if (g != given.end()) {
      if (g->second["valueFrom"]) {
        unsupported(g->second["valueFrom"], "arguments from valueFrom");
        ok = false;
      } else if (auto v = text(text_of(val(g->second["value"])), g->second["value"], caller)) {
        callee.params[n] = *v;
      } else {
        ok = false;
      }
      given.erase(g);
    } else if (YAML::Node v = p["value"] ? p["value"] : p["default"]) {
      if (auto x = text(text_of(val(v)), v, callee)) callee.params[n] = *x;
      else ok = false;
    } else if (p["valueFrom"]) {
      unsupported(p["valueFrom"], "input parameters from valueFrom");
      ok = false;
    } else if (call) {
      error(call["name"] ? call["name"] : call, "input parameter '" + n + "' of template '" + callee.tmpl +
                                                    "' gets no value: pass it in arguments.parameters");
      ok = false;
    }
  }
  for (const auto& [n, a] : given)
    error(a, "template '" + callee.tmpl + "' has no input parameter '" + n + "'");
  std::map<std::string, YAML::Node> given_art;
  if (args && args["artifacts"])
    for (const auto& a : args["artifacts"]) given_art[scalar(a["name"])] = YAML::Node(a);
  for (const auto& a : path(t, {"inputs", "artifacts"})) {
    std::string n = scalar(a["name"]);
    auto g = given_art.find(n);
    YAML::Node src = a;
    if (g != given_art.end()) src.reset(g->second);
    std::string key = "inputs.artifacts." + n + ".source";
    for (const auto& store : kExternalStores)
      if (src[store]) {
        unsupported(src[store], "artifacts from an external store (" + store + ")");
        ok = false;
      }
    if (YAML::Node from = src["from"]) {
      if (auto v = text(scalar(from), from, caller)) {
        std::string sub = scalar(src["subPath"]);
        callee.paths[key] = *v + (sub.empty() ? "" : "/" + sub);
      } else {
        ok = false;
      }
    } else if (YAML::Node raw = src["raw"]) {
      callee.paths["inputs.artifacts." + n + ".raw"] = scalar(raw["data"]);
    } else if (src["fromExpression"]) {
      unsupported(src["fromExpression"], "fromExpression");
      ok = false;
    } else if (!val(a["optional"]).is_boolean() || !val(a["optional"]).get<bool>()) {
      bool external = false;
      for (const auto& store : kExternalStores) external = external || src[store];
      if (!external) {
        error(call && call["name"] ? call["name"] : a, "input artifact '" + n + "' of template '" + callee.tmpl +
                                                           "' gets nothing: pass it in arguments.artifacts");
        ok = false;
      }
    }
  }
  return ok;
}

std::optional<Callee> Translator::invoke(const YAML::Node& call, const std::string& flat, Ctx& caller,
                                         const Deps& deps, std::vector<Step>& out) {
  check_keys(call, kStepHandled, {}, caller.kind == "tasks" ? "task key " : "step key ");
  const int lanes = lanes_;  // for this call only, not for the calls inside it
  lanes_ = 0;
  YAML::Node inline_t;
  const YAML::Node* t = called_template(call, inline_t);
  if (!t) return std::nullopt;
  Call k{call, *t, scalar((*t)["name"]), (*t)["steps"] || (*t)["dag"], YAML::Node(YAML::NodeType::Undefined)};
  if (std::find(stack_.begin(), stack_.end(), k.tname) != stack_.end()) {
    unsupported(call["template"] ? call["template"] : call,
                "recursive template '" + k.tname + "' (how deep it goes is known only at run time)");
    return std::nullopt;
  }
  auto it = items(call, caller);
  if (!it) return std::nullopt;
  k.single.reset(single_step(k, *it));
  std::vector<Value> unroll;
  if (k.nested && !k.single && it->mode != Item::None) {
    auto u = unrolled_items(call, *it);
    if (!u) return std::nullopt;
    unroll = std::move(*u);
  }
  std::optional<Callee> result;
  if (unroll.empty()) result = call_once(k, flat, caller, *it, false, deps, out);
  else result = call_unrolled(k, flat, caller, deps, lanes, unroll, out);
  if (!result) return std::nullopt;
  if (YAML::Node co = call["continueOn"]) {
    result->failed_ok = val(co["failed"]) == Value(true);
    result->errored_ok = val(co["error"]) == Value(true);
    if (result->nested) {
      unsupported(co, "continueOn on a step that calls a steps/dag template");
      return std::nullopt;
    }
  }
  return result;
}

const YAML::Node* Translator::called_template(const YAML::Node& call, YAML::Node& inline_t) {
  if (YAML::Node tn = call["template"]) {
    const YAML::Node* t = find_template(scalar(tn));
    if (!t) error(tn, "unknown template '" + scalar(tn) + "'" + did_you_mean(scalar(tn), template_names_));
    return t;
  }
  if (call["inline"]) {
    inline_t.reset(call["inline"]);
    inline_t["name"] = scalar(call["name"]);
    return &inline_t;
  }
  if (call["templateRef"]) {
    unsupported(call["templateRef"], "templateRef (templates of another WorkflowTemplate)");
    return nullptr;
  }
  error(call, "step '" + scalar(call["name"]) + "' names no template: add 'template: NAME'");
  return nullptr;
}

// A nested template of exactly one leaf step runs as that step.
YAML::Node Translator::single_step(const Call& k, const Item& it) {
  YAML::Node single(YAML::NodeType::Undefined);
  if (!k.nested) return single;
  const YAML::Node& t = k.t;
  YAML::Node body = t["steps"] ? t["steps"] : path(t, {"dag", "tasks"});
  if (t["steps"] && body.IsSequence() && body.size() == 1 && body[0].IsSequence() && body[0].size() == 1)
    single.reset(body[0][0]);
  if (t["dag"] && body.IsSequence() && body.size() == 1 && !path(t, {"dag", "target"})) single.reset(body[0]);
  if (!single) return single;
  const YAML::Node* inner = single["template"] ? find_template(scalar(single["template"])) : nullptr;
  bool inner_items = single["withItems"] || single["withParam"] || single["withSequence"];
  if (!inner || (*inner)["steps"] || (*inner)["dag"] || (inner_items && it.mode != Item::None) || single["when"] ||
      single["hooks"] || single["onExit"] || single["continueOn"] || single["depends"] || single["dependencies"] ||
      k.node["when"])
    single.reset(YAML::Node(YAML::NodeType::Undefined));
  return single;
}

// The items of a fan-out over a steps/dag template, which is unrolled when the
// file is read: a withParam may come from workflow parameters only.
std::optional<std::vector<Value>> Translator::unrolled_items(const YAML::Node& call, Item& it) {
  if (it.mode == Item::Dynamic) {
    std::string t2 = it.value.get<std::string>();
    if (!at_load(t2, call["withParam"], "withParam over a steps/dag template",
                 "a withParam known only at run time over a steps/dag template"))
      return std::nullopt;
    it.value = Value::parse(t2, nullptr, false);
    if (it.value.is_discarded() || !it.value.is_array()) {
      error(call["withParam"], "withParam must give a JSON list; got '" + trim(t2) + "'");
      return std::nullopt;
    }
    it.mode = Item::Static;
  }
  std::vector<Value> unroll;
  for (const auto& v : it.value) unroll.push_back(v);
  return unroll;
}

// Each item of a static list: its own copy of the nested template, then one
// join. Under the caller's parallelism N, a copy starts when the copy N
// before it has ended (Argo starts one as soon as any has: the same runs,
// never more at once, at times later).
std::optional<Callee> Translator::call_unrolled(const Call& k, const std::string& flat, Ctx& caller, const Deps& deps,
                                                int lanes, const std::vector<Value>& unroll, std::vector<Step>& out) {
  Deps ends;
  for (size_t i = 0; i < unroll.size(); ++i) {
    Item item;
    item.mode = Item::Static;
    item.value = unroll[i];
    Deps d = deps;
    if (lanes > 0 && i >= static_cast<size_t>(lanes)) {
      const std::string& before = ends.terms[i - static_cast<size_t>(lanes)].step;
      if (d.expr.empty()) d.terms.push_back({before});
      else d.expr = "(" + d.expr + ") && " + before + ".Succeeded";
    }
    auto r = call_once(k, flat + "-" + std::to_string(i), caller, item, true, d, out);
    if (!r) return std::nullopt;
    ends.terms.push_back({r->flat});
  }
  if (lanes > 0) lanes_used_ = true;
  Step join;
  join.name = flat;
  join.pos = pos(k.node["name"] ? k.node["name"] : k.node);
  join.kind = StepKind::Run;
  join.run = {"true"};
  apply_deps(join, ends);
  out.push_back(join);
  Callee result;
  result.flat = flat;
  result.nested = true;
  return result;
}

// ITEM: one item of a static list unrolled here, or the whole list (or
// reference) that the IR step fans out over.
std::optional<Callee> Translator::call_once(const Call& k, const std::string& name, Ctx& caller, const Item& item,
                                            bool unrolled, const Deps& entry, std::vector<Step>& out) {
  caller.item = item;
  if (!unrolled && item.mode != Item::None) caller.item.mode = Item::Dynamic;
  caller.used_item = false;
  Ctx callee;
  callee.tmpl = k.tname;
  bool ok = bind_inputs(k.t, k.node, caller, callee);
  std::string when;
  if (YAML::Node w = k.node["when"]) {
    caller.used_item = false;
    auto e = when_expr(w, caller);
    if (!e) ok = false;
    else when = *e;
    // A 'when' that reads {{item}} is read per item by the run (a nested template's is refused below).
  }
  caller.item = Item{};
  if (!ok) return std::nullopt;
  std::optional<Value> for_each;
  if (!unrolled && item.mode != Item::None) for_each = item.value;
  if (k.nested && !k.single && when.size()) {
    unsupported(k.node["when"], "'when' on a step that calls a steps/dag template");
    return std::nullopt;
  }
  stack_.push_back(k.tname);
  std::optional<Callee> r;
  const YAML::Node& at = k.node["name"] ? k.node["name"] : k.node;
  if (k.single) r = call_single(k, callee, name, entry, when, for_each, out);
  else r = expand(k.t, callee, name, at, entry, when, for_each, out, false);
  stack_.pop_back();
  return r;
}

// Inlines the one inner step of K's template under the caller's name.
std::optional<Callee> Translator::call_single(const Call& k, const Ctx& callee, const std::string& name,
                                              const Deps& entry, const std::string& when,
                                              std::optional<Value> for_each, std::vector<Step>& out) {
  const YAML::Node& single = k.single;
  Ctx inner = callee;
  inner.kind = k.t["steps"] ? "steps" : "tasks";
  if (!for_each) {
    auto inner_items = items(single, inner);
    if (!inner_items) return std::nullopt;
    if (inner_items->mode != Item::None) for_each = inner_items->value;
    inner.item = *inner_items;
  } else {
    inner.item.mode = Item::Dynamic;
  }
  const YAML::Node& it2 = *find_template(scalar(single["template"]));
  Ctx leaf;
  leaf.tmpl = scalar(it2["name"]);
  bool ok2 = bind_inputs(it2, single, inner, leaf);
  std::optional<Callee> r;
  stack_.push_back(leaf.tmpl);
  if (ok2) r = expand(it2, leaf, name, k.node["name"] ? k.node["name"] : k.node, entry, when, for_each, out, false);
  stack_.pop_back();
  if (!r) return r;
  if (YAML::Node par = path(k.t, {"parallelism"}); par && !out.empty()) out.back().parallelism = val(par).get<int>();
  // The nested template's outputs, read from the inner step.
  Ctx outer = callee;
  outer.kind = inner.kind;
  outer.siblings[scalar(single["name"])] = *r;
  r->out_params.clear();
  for (const auto& op : path(k.t, {"outputs", "parameters"})) {
    if (YAML::Node from = path(op, {"valueFrom", "parameter"})) {
      if (auto v = text(scalar(from), from, outer)) r->out_params[scalar(op["name"])] = *v;
    } else {
      unsupported(op["valueFrom"] ? op["valueFrom"] : op, "this kind of output parameter of a steps/dag template");
    }
  }
  for (const auto& p : r->params)
    if (!r->out_params.count(p)) r->out_params[p] = "{{steps." + r->flat + ".outputs." + ir_param(p) + "}}";
  return r;
}

void Translator::nested_outputs(const YAML::Node& t, Ctx& c, const std::string& flat, Callee& info,
                                std::map<std::string, OutputParamDecl>& expressions) {
  for (const auto& op : path(t, {"outputs", "parameters"})) {
    const std::string name = scalar(op["name"]);
    if (YAML::Node from = path(op, {"valueFrom", "parameter"})) {
      if (auto v = text(scalar(from), from, c)) info.out_params[name] = *v;
    } else if (YAML::Node e = path(op, {"valueFrom", "expression"})) {
      auto x = expression_at_run(scalar(e), e, c);
      if (!x) continue;
      OutputParamDecl d;
      d.expression = *x;
      expressions[ir_param(name)] = d;
      info.out_params[name] = "{{steps." + flat + ".outputs." + ir_param(name) + "}}";
    } else {
      unsupported(op["valueFrom"] ? op["valueFrom"] : op,
                  "output parameters of a steps/dag template other than valueFrom.parameter or valueFrom.expression");
    }
  }
}

void Translator::add_exit_hook(const YAML::Node& call, const std::string& flat, Ctx& caller) {
  YAML::Node hook(YAML::NodeType::Undefined);
  if (YAML::Node h = call["hooks"]) {
    for (const auto& kv : h) {
      if (scalar(kv.first) != "exit") {
        unsupported(kv.first, "step hooks other than 'exit'");
        continue;
      }
      hook = YAML::Clone(kv.second);
    }
  } else if (YAML::Node oe = call["onExit"]) {
    hook["template"] = scalar(oe);
  }
  if (!hook) return;
  hook["name"] = flat + "-onexit";
  std::vector<Step> ex;
  auto r = invoke(hook, flat + "-onexit", caller, Deps{}, ex);
  if (!r) return;
  for (auto& s : ex) {
    std::string ran = "steps." + flat + ".status in ['Succeeded', 'Failed', 'Errored']";
    s.when = s.when.empty() ? ran : "(" + ran + ") && (" + s.when + ")";
    if (s.pos.line == 0) s.pos = pos(call["name"]);
    wf_.on_exit.push_back(std::move(s));
  }
}

std::optional<Callee> Translator::expand(const YAML::Node& t, Ctx& c, const std::string& flat, const YAML::Node& at,
                                         const Deps& deps, const std::string& when,
                                         const std::optional<Value>& for_each, std::vector<Step>& out, bool top) {
  check_keys(t, kTemplateHandled, kTemplateIgnored, "template key ");
  const std::string tname = scalar(t["name"]);
  Callee info;
  info.flat = flat;
  if (t["steps"] || t["dag"]) {
    for (const char* k : {"retryStrategy", "activeDeadlineSeconds", "timeout", "memoize"})
      if (t[k]) unsupported(t[k], std::string(k) + " on a steps/dag template");
    if (t["dag"] && val(path(t, {"dag", "failFast"})) == Value(false)) wf_.fail_fast = false;
    std::string prefix = top ? "" : flat;
    Deps exits;
    size_t first = out.size();
    const int n = val(t["parallelism"]).is_number_integer() ? val(t["parallelism"]).get<int>() : 0;
    // A body of one call: a fan-out over a steps/dag template there takes the parallelism as lanes.
    YAML::Node body = t["steps"] ? t["steps"] : path(t, {"dag", "tasks"});
    bool one_call = body.IsSequence() && body.size() == 1 &&
                    (t["dag"] || body[0].IsMap() || (body[0].IsSequence() && body[0].size() == 1));
    const bool outer_used = lanes_used_;  // the caller's, kept
    lanes_ = one_call ? n : 0;
    lanes_used_ = false;
    stack_.push_back(tname);
    expand_body(t, c, prefix, deps, out, exits);
    stack_.pop_back();
    const bool as_lanes = lanes_used_;
    lanes_ = 0;
    lanes_used_ = outer_used;
    if (YAML::Node par = t["parallelism"]) {
      if (as_lanes) {
        // Done: the copies of the fan-out run in lanes.
      } else if (top) wf_.parallelism = wf_.parallelism > 0 ? std::min(wf_.parallelism, n) : n;
      else if (out.size() == first + 1 && out.back().for_each) out.back().parallelism = n;
      else unsupported(par, "parallelism on a steps/dag template that is not the entrypoint");
    }
    info.nested = true;
    // The template's outputs, read from its steps.
    std::map<std::string, OutputParamDecl> expressions;
    nested_outputs(t, c, top ? tname : flat, info, expressions);
    for (const auto& oa : path(t, {"outputs", "artifacts"})) {
      if (YAML::Node from = oa["from"]) {
        if (auto v = text(scalar(from), from, c)) info.out_artifacts[scalar(oa["name"])] = *v;
      } else {
        unsupported(oa["fromExpression"] ? oa["fromExpression"] : YAML::Node(oa),
                    "output artifacts of a steps/dag template other than 'from'");
      }
    }
    // The join step, which also gives the outputs of expressions (the
    // entrypoint's only for them, named as the template).
    if (!top || !expressions.empty()) {
      Step join;
      join.name = top ? tname : flat;
      join.pos = pos(at);
      join.kind = StepKind::Run;
      join.run = {"true"};
      join.output_params = expressions;
      apply_deps(join, exits);
      if (top && used_.count(join.name)) error(at, "two steps would both be named '" + join.name + "' here");
      used_.insert(join.name);
      out.push_back(join);
    }
    return info;
  }
  const bool suspend = t["suspend"] && opt_.resume_suspended;
  if (!t["container"] && !t["script"] && !suspend) {
    if (t["suspend"]) {
      unsupported(t["suspend"], "suspend templates (a local run has no one to resume it): pass --resume-suspended "
                                "to wait out its duration, or continue at once without one");
      return std::nullopt;
    }
    static const std::vector<std::string> kKinds = {"suspend", "resource", "containerSet", "http", "plugin", "data"};
    for (const auto& k : kKinds)
      if (t[k]) {
        unsupported(t[k], k + " templates");
        return std::nullopt;
      }
    error(at, "template '" + tname + "' has nothing to run: add container, script, steps or dag");
    return std::nullopt;
  }
  Step s;
  s.name = flat;
  s.pos = pos(at);
  s.when = when;
  if (!when.empty()) s.when_pos = pos(at);
  if (for_each) {
    s.for_each = *for_each;
    s.for_each_pos = pos(at);
  }
  apply_deps(s, deps);
  if (suspend ? !make_suspend(t, c, s, info) : !make_leaf(t, c, s, info)) return std::nullopt;
  info.fan_out = for_each.has_value();
  if (used_.count(flat)) error(at, "two steps would both be named '" + flat + "' here");
  used_.insert(flat);
  out.push_back(std::move(s));
  return info;
}

void Translator::expand_body(const YAML::Node& t, Ctx& c, const std::string& prefix, const Deps& entry,
                             std::vector<Step>& out, Deps& exits) {
  if (t["steps"]) expand_steps(t["steps"], c, prefix, entry, out, exits);
  else expand_dag(path(t, {"dag"}), c, prefix, entry, out, exits);
}

// A steps template: each group starts when the group before it has ended.
void Translator::expand_steps(const YAML::Node& groups, Ctx& c, const std::string& prefix, const Deps& entry,
                              std::vector<Step>& out, Deps& exits) {
  c.kind = "steps";
  Deps prev = entry;
  for (const auto& g : groups) {
    Deps next;
    YAML::Node list = g;
    if (g.IsMap()) {
      list.reset(YAML::Node(YAML::NodeType::Sequence));
      list.push_back(g);
    }
    for (const auto& st : list) {
      std::string local = scalar(st["name"]);
      std::string flat = flat_name(prefix, local);
      auto r = invoke(st, flat, c, prev, out);
      if (!r) {
        c.siblings[local] = broken(flat);
        continue;
      }
      next.terms.push_back({r->flat, r->failed_ok, r->errored_ok});
      c.siblings[local] = *r;
      add_exit_hook(st, r->flat, c);
    }
    prev = next;
  }
  exits = prev;
}

// The tasks of a dag and the names each depends on, for ordering and cycles.
DagTasks Translator::dag_tasks(const YAML::Node& tasks, const Ctx& c) {
  DagTasks g;
  for (const auto& task : tasks) {
    std::string n = scalar(task["name"]);
    if (g.by_name.count(n)) error(task["name"], "duplicate task name '" + n + "'");
    g.by_name[n] = YAML::Node(task);
    g.order.push_back(n);
  }
  for (const auto& n : g.order) {
    const YAML::Node& task = g.by_name[n];
    std::vector<std::string> ds;
    if (YAML::Node dl = task["dependencies"])
      for (const auto& x : dl) ds.push_back(scalar(x));
    if (YAML::Node de = task["depends"]) {
      static const std::regex kWord("[A-Za-z0-9][-A-Za-z0-9_]*");
      std::string s = scalar(de);
      for (auto w = std::sregex_iterator(s.begin(), s.end(), kWord); w != std::sregex_iterator(); ++w) {
        std::string word = w->str();
        size_t at = static_cast<size_t>(w->position());
        if (at > 0 && s[at - 1] == '.') continue;  // a status
        ds.push_back(word);
      }
    }
    for (const auto& x : ds) {
      if (!g.by_name.count(x)) {
        YAML::Node where = task["depends"] ? task["depends"] : task["dependencies"];
        error(where, "task '" + n + "' depends on '" + x + "', which is not a task of template '" + c.tmpl + "'" +
                         did_you_mean(x, g.order));
      } else {
        g.depended.insert(x);
      }
    }
    g.deps_of[n] = ds;
  }
  return g;
}

// The tasks of G in depth-first order; a cycle is reported once, at the task
// that closes it, and the tasks on or after it are left out (marked broken).
std::vector<std::string> Translator::dag_order(DagTasks& g, Ctx& c, const std::string& prefix) {
  std::map<std::string, int> state;
  std::vector<std::string> sorted, path;
  std::function<bool(const std::string&)> visit = [&](const std::string& n) -> bool {
    if (state[n] == 2) return true;
    if (state[n] == 3) return false;  // on or after a cycle already reported
    if (state[n] == 1) {
      auto from = std::find(path.begin(), path.end(), n);
      std::string cycle;
      for (auto p = from; p != path.end(); ++p) cycle += *p + " -> ";
      error(g.by_name[n]["name"], "cycle: " + cycle + n + ": a task cannot depend on itself, even indirectly");
      return false;
    }
    state[n] = 1;
    path.push_back(n);
    for (const auto& d : g.deps_of[n])
      if (g.by_name.count(d) && !visit(d)) return false;
    path.pop_back();
    state[n] = 2;
    sorted.push_back(n);
    return true;
  };
  for (const auto& n : g.order)
    if (!visit(n)) {
      for (auto& [k, v] : state)
        if (v == 1) v = 3;
      path.clear();
    }
  for (const auto& n : g.order)
    if (state[n] == 3) c.siblings[n] = broken(flat_name(prefix, n));
  return sorted;
}

void Translator::expand_dag(const YAML::Node& dag, Ctx& c, const std::string& prefix, const Deps& entry,
                            std::vector<Step>& out, Deps& exits) {
  c.kind = "tasks";
  DagTasks g = dag_tasks(path(dag, {"tasks"}), c);
  auto keep = dag_targets(dag, c, g.order, g.deps_of);
  if (!keep) {
    for (const auto& n : g.order) c.siblings[n] = broken(flat_name(prefix, n));
    return;
  }
  if (keep->size() < g.order.size()) {
    g.depended.clear();
    for (const auto& n : *keep)
      for (const auto& x : g.deps_of[n]) g.depended.insert(x);
  }
  for (const auto& n : dag_order(g, c, prefix)) {
    if (!keep->count(n)) continue;  // not needed by dag.target
    const YAML::Node& task = g.by_name[n];
    Deps d;
    bool ok = true;
    if (YAML::Node de = task["depends"]) {
      auto e = depends_expr(de, c);
      if (!e) ok = false;
      else d.expr = *e;
    } else if (YAML::Node dl = task["dependencies"]) {
      for (const auto& x : dl) {
        auto f = c.siblings.find(scalar(x));
        if (f == c.siblings.end()) ok = false;
        else d.terms.push_back({f->second.flat, f->second.failed_ok, f->second.errored_ok});
      }
    } else {
      d = entry;
    }
    std::optional<Callee> r;
    if (ok) r = invoke(task, flat_name(prefix, n), c, d, out);
    if (!r) {
      c.siblings[n] = broken(flat_name(prefix, n));
      continue;
    }
    c.siblings[n] = *r;
    add_exit_hook(task, r->flat, c);
  }
  for (const auto& n : g.order)
    if (keep->count(n) && !g.depended.count(n) && c.siblings.count(n)) {
      const Callee& o = c.siblings[n];
      exits.terms.push_back({o.flat, o.failed_ok, o.errored_ok});
    }
}

}  // namespace ctflow::argo_detail
