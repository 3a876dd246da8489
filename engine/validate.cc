#include "engine/validate.h"

#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/depth_first_search.hpp>

#include "engine/expr.h"
#include "engine/graph.h"
#include "engine/params.h"
#include "engine/reference.h"
#include "engine/template.h"
#include "engine/validate_call.h"

namespace ctflow {
namespace {

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
using Vertex = boost::graph_traits<Graph>::vertex_descriptor;

struct CycleFinder : boost::default_dfs_visitor {
  std::vector<Vertex>* pred;
  std::vector<std::vector<Vertex>>* cycles;
  void tree_edge(boost::graph_traits<Graph>::edge_descriptor e, const Graph& g) {
    (*pred)[boost::target(e, g)] = boost::source(e, g);
  }
  void back_edge(boost::graph_traits<Graph>::edge_descriptor e, const Graph& g) {
    Vertex from = boost::source(e, g), to = boost::target(e, g);
    std::vector<Vertex> path{from};
    for (Vertex v = from; v != to;) {
      v = (*pred)[v];
      path.push_back(v);
    }
    std::reverse(path.begin(), path.end());  // to ... from
    cycles->push_back(path);
  }
};

struct Checker {
  const Workflow& wf;
  const ValidateOptions& opt;
  Diagnostics& d;
  std::map<std::string, const Step*> by_name;
  // Steps (main, then on_exit) by number, and each one's direct dependencies:
  // is_upstream() searches them on demand (a map of every step's ancestors
  // would be quadratic in a long chain).
  std::map<std::string, size_t> number;
  std::vector<std::vector<size_t>> deps;
  const Workflow* whole = nullptr;       // the whole workflow: its templates (wf is a template's steps when tmpl)
  const TemplateDef* tmpl = nullptr;

  void run() {
    for (const auto& s : wf.steps) by_name[s.name] = &s;
    for (const auto& s : wf.on_exit) by_name[s.name] = &s;
    check_edges();
    if (!check_cycles()) return;
    number_steps();
    for (const auto& s : wf.steps) check_step(s, false);
    for (const auto& s : wf.on_exit) check_step(s, true);
  }

  std::vector<std::string> main_names() const {
    std::vector<std::string> n;
    for (const auto& s : wf.steps) n.push_back(s.name);
    return n;
  }

  void check_edges() {
    for (const auto* list : {&wf.steps, &wf.on_exit})
      for (const auto& s : *list) {
        for (const auto& n : s.needs) {
          if (n == s.name) d.error(s.pos, "step '" + s.name + "' needs itself");
          else if (!by_name.count(n) || is_exit(n) != is_exit(s.name))
            d.error(s.pos, "step '" + s.name + "' needs unknown step '" + n + "'" + did_you_mean(n, names_like(s)));
        }
        if (!s.depends.empty()) check_depends(s);
      }
  }

  // The terms of a depends expression: STEP.RESULT, STEP a step of the same graph.
  void check_depends(const Step& s) {
    auto parsed = expr::Expr::parse(s.depends);
    auto* e = std::get_if<expr::Expr>(&parsed);
    if (!e) return;  // reported by the frontend
    const std::vector<std::string>& results = depends_results();
    for (const auto& ref : e->refs()) {
      const DependsTerm t = parse_depends_term(ref);
      if (t.step == s.name)
        d.error(s.depends_pos, "'depends' of step '" + s.name + "' names the step itself");
      else if (!by_name.count(t.step) || is_exit(t.step) != is_exit(s.name))
        d.error(s.depends_pos, "'depends' of step '" + s.name + "' names unknown step '" + t.step + "'" +
                                   did_you_mean(t.step, names_like(s)));
      else if (std::find(results.begin(), results.end(), t.result) == results.end())
        d.error(s.depends_pos, "'depends' of step '" + s.name + "': '" + ref +
                                   "' must be STEP.RESULT with RESULT one of Succeeded, Failed, Errored, "
                                   "Skipped, Omitted, AnySucceeded, AllFailed" +
                                   did_you_mean(t.result, results));
    }
  }

  bool is_exit(const std::string& name) const {
    for (const auto& s : wf.on_exit)
      if (s.name == name) return true;
    return false;
  }

  std::vector<std::string> names_like(const Step& s) const {
    std::vector<std::string> n;
    for (const auto& x : is_exit(s.name) ? wf.on_exit : wf.steps) n.push_back(x.name);
    return n;
  }

  bool check_cycles() {
    for (const auto* list : {&wf.steps, &wf.on_exit}) {
      std::map<std::string, Vertex> index;
      for (const auto& s : *list) index.emplace(s.name, index.size());
      Graph g(index.size());
      for (const auto& s : *list)
        for (const auto& dep : direct_dependencies(s))
          if (index.count(dep) && dep != s.name) boost::add_edge(index[dep], index[s.name], g);
      std::vector<Vertex> pred(index.size());
      std::vector<std::vector<Vertex>> cycles;
      CycleFinder vis;
      vis.pred = &pred;
      vis.cycles = &cycles;
      boost::depth_first_search(g, boost::visitor(vis));
      if (cycles.empty()) continue;
      const auto& c = cycles.front();
      std::string text;
      for (Vertex v : c) text += (*list)[v].name + " -> ";
      text += (*list)[c.front()].name;
      d.error((*list)[c.front()].pos, "cycle: " + text + ": a step cannot depend on itself, even indirectly");
      return false;
    }
    return true;
  }

  void number_steps() {
    for (const auto* list : {&wf.steps, &wf.on_exit})
      for (const auto& s : *list) number.emplace(s.name, number.size());
    deps.resize(number.size());
    for (const auto* list : {&wf.steps, &wf.on_exit})
      for (const auto& s : *list) {
        size_t i = number[s.name];
        for (const auto& dep : direct_dependencies(s)) {
          auto it = number.find(dep);
          if (it == number.end() || dep == s.name) continue;  // reported in check_edges
          deps[i].push_back(it->second);
        }
      }
  }

  // Whether OTHER is an ancestor of STEP through needs/depends.
  bool is_upstream(const std::string& step, const std::string& other) const {
    auto from = number.find(step), to = number.find(other);
    if (from == number.end() || to == number.end()) return false;
    std::vector<bool> seen(deps.size());
    std::vector<size_t> todo = deps[from->second];
    while (!todo.empty()) {
      size_t n = todo.back();
      todo.pop_back();
      if (n == to->second) return true;
      if (seen[n]) continue;
      seen[n] = true;
      todo.insert(todo.end(), deps[n].begin(), deps[n].end());
    }
    return false;
  }

  // Checks one reference (without braces) used inside step S.
  void check_ref(const Step& s, bool in_exit, const std::string& text, const SourcePos& pos) {
    auto ref = parse_reference(text);
    if (!ref) {
      d.error(pos, ref.message());
      return;
    }
    const Reference& r = *ref;
    switch (r.kind) {
      case Reference::Kind::Param:
        if (!wf.find_param(r.name)) {
          std::vector<std::string> names;
          for (const auto& p : wf.params) names.push_back(p.name);
          d.error(pos, "step '" + s.name + "' refers to unknown param '" + r.name + "'" + did_you_mean(r.name, names) +
                           (tmpl ? " (inside template '" + tmpl->name + "', params are the template's: declare it "
                                   "under 'templates." + tmpl->name + ".params')" : ""));
        }
        return;
      case Reference::Kind::Item:
        if (!s.for_each) d.error(pos, "step '" + s.name + "' refers to '" + r.text + "' but has no 'for_each'");
        return;
      case Reference::Kind::Trial: {
        if (!s.sweep) {
          d.error(pos, "step '" + s.name + "' refers to '" + r.text + "' but has no 'sweep'");
          return;
        }
        std::vector<std::string> names;
        for (const auto& p : s.sweep->parameters) names.push_back(p.name);
        if (!r.name.empty() && std::find(names.begin(), names.end(), r.name) == names.end())
          d.error(pos, "step '" + s.name + "' refers to '" + r.text + "', which is not a parameter of its sweep" +
                           did_you_mean(r.name, names));
        return;
      }
      case Reference::Kind::Workflow:
        if ((r.name == "status" || r.name == "failures") && !in_exit)
          d.error(pos, "'" + r.text + "' is only known in on_exit steps, after the run has ended");
        return;
      default:
        check_step_ref(s, in_exit, r, pos);
    }
  }

  // steps.OTHER...: OTHER exists, is upstream of S and declares the output.
  void check_step_ref(const Step& s, bool in_exit, const Reference& r, const SourcePos& pos) {
    const std::string& other = r.name;
    auto it = by_name.find(other);
    if (it == by_name.end() && tmpl && whole->find_step(other)) {
      d.error(pos, "step '" + s.name + "' of template '" + tmpl->name + "' refers to step '" + other +
                       "' outside the template: declare a param and pass the value in the call's 'with'");
      return;
    }
    if (it == by_name.end()) {
      std::vector<std::string> names;
      for (const auto& [n, p] : by_name) names.push_back(n);
      d.error(pos, "step '" + s.name + "' refers to unknown step '" + other + "'" + did_you_mean(other, names));
      return;
    }
    bool upstream_ok = (in_exit && !is_exit(other)) || is_upstream(s.name, other);
    if (!upstream_ok) {
      d.error(pos, "step '" + s.name + "' refers to step '" + other + "', which is not upstream of it: add '" +
                       other + "' to its needs");
      return;
    }
    if (r.kind == Reference::Kind::StepStatus || r.kind == Reference::Kind::StepExitCode) return;
    const Step& o = *it->second;
    const bool artifact = r.kind == Reference::Kind::StepArtifact;
    const std::string& name = r.field;
    std::vector<std::string> declared;
    bool known = true;  // unknown plugin: reported elsewhere
    if (o.kind == StepKind::Call) {
      known = !artifact && call_output_known(*whole, o, name, declared);
    } else if (o.kind == StepKind::Plugin) {
      const PluginInfo* p = opt.plugins ? opt.plugins->find(o.uses) : nullptr;
      if (p) {
        for (const auto& out : p->outputs)
          if (out.artifact == artifact) declared.push_back(out.name);
        known = std::find(declared.begin(), declared.end(), name) != declared.end();
      }
    } else if (!artifact) {
      declared.push_back("result");
      for (const auto& [n, x] : o.output_params) declared.push_back(n);
      known = std::find(declared.begin(), declared.end(), name) != declared.end();
    }
    if (o.sweep && !artifact) {
      for (const char* n : {"best", "best_value", "best_trial"}) declared.push_back(n);
      known = known || std::find(declared.end() - 3, declared.end(), name) != declared.end();
      if (name == "best" && !r.path.empty()) {
        bool param = false;
        for (const auto& p : o.sweep->parameters) param = param || p.name == r.path;
        if (!param)
          d.error(pos, "'" + r.text + "': the sweep of step '" + other + "' has no parameter '" + r.path + "'");
      }
    } else if (artifact && o.kind != StepKind::Plugin && o.kind != StepKind::Call) {
      for (const auto& [n, x] : o.output_artifacts) declared.push_back(n);
      known = o.output_artifacts.count(name) > 0;
    }
    if (!known)
      d.error(pos, "step '" + other + "' has no " + (artifact ? "output artifact" : "output parameter") + " '" +
                       name + "'" + did_you_mean(name, declared));
  }

  void check_templates(const Step& s, bool in_exit, const Value& v, const SourcePos& pos) {
    if (v.is_string()) {
      auto r = tmpl::refs(v.get<std::string>());
      if (auto* refs = std::get_if<std::vector<std::string>>(&r))
        for (const auto& ref : *refs) check_ref(s, in_exit, ref, pos);
    } else if (v.is_array() || v.is_object()) {
      for (const auto& x : v) check_templates(s, in_exit, x, pos);
    }
  }

  void check_step(const Step& s, bool in_exit) {
    for (const auto& a : s.run) check_templates(s, in_exit, a, s.kind_pos);
    if (!s.shell.empty()) check_templates(s, in_exit, s.shell, s.kind_pos);
    if (!s.image.empty()) check_templates(s, in_exit, s.image, s.image_pos);
    for (auto it = s.with.begin(); it != s.with.end(); ++it) {
      auto p = s.with_pos.find(it.key());
      check_templates(s, in_exit, it.value(), p == s.with_pos.end() ? s.pos : p->second);
    }
    if (s.for_each && s.for_each->is_string()) check_templates(s, in_exit, *s.for_each, s.for_each_pos);
    if (!s.when.empty()) {
      auto parsed = expr::Expr::parse(s.when);
      if (auto* e = std::get_if<expr::Expr>(&parsed))
        for (const auto& ref : e->refs()) check_ref(s, in_exit, ref, s.when_pos);
    }
    check_plugin(s);
    if (s.kind == StepKind::Call) check_call(*whole, s, d);
    check_resources(s);
    if (s.sweep && !s.sweep->trials_param.empty()) check_trials_param(s);
  }

  // trials: "{{params.NAME}}" needs NAME declared as an int.
  void check_trials_param(const Step& s) {
    const std::string& name = s.sweep->trials_param;
    const ParamDecl* p = wf.find_param(name);
    if (!p) {
      std::vector<std::string> names;
      for (const auto& x : wf.params) names.push_back(x.name);
      d.error(s.sweep->pos, "the sweep of step '" + s.name + "' takes 'trials' from unknown param '" + name + "'" +
                                did_you_mean(name, names) + ": declare it under 'params' with type: int");
    } else if (p->type != ParamType::Int) {
      d.error(p->pos, "param '" + name + "' gives the number of trials of step '" + s.name +
                          "', so it must be 'type: int'");
    }
  }

  void check_plugin(const Step& s) {
    if (s.kind != StepKind::Plugin || !opt.plugins || s.uses.empty()) return;
    const PluginInfo* p = opt.plugins->find(s.uses);
    if (!p) {
      std::vector<std::string> names;
      for (const auto* x : opt.plugins->all()) names.push_back(x->name);
      d.error(s.kind_pos, "unknown plugin '" + s.uses + "'" + did_you_mean(s.uses, names) +
                              ": see 'ctflow plugins' for those installed, or add a folder to CTFLOW_PLUGIN_PATH");
      return;
    }
    std::vector<std::string> declared;
    for (const auto& pp : p->params) declared.push_back(pp.name);
    for (auto it = s.with.begin(); it != s.with.end(); ++it) {
      auto pos_it = s.with_pos.find(it.key());
      SourcePos pos = pos_it == s.with_pos.end() ? s.pos : pos_it->second;
      const PluginParamInfo* pp = p->find_param(it.key());
      if (!pp) {
        d.error(pos, "plugin '" + s.uses + "' has no parameter '" + it.key() + "'" + did_you_mean(it.key(), declared) +
                         " (see 'ctflow plugins " + s.uses + "')");
        continue;
      }
      const Value& v = it.value();
      bool templated = v.is_string() && v.get<std::string>().find("{{") != std::string::npos;
      if (templated) continue;
      // A YAML value is already typed: any value is JSON (only -p text is parsed as JSON).
      if (pp->type == ParamType::Json) continue;
      ParamDecl decl;
      decl.name = pp->name;
      decl.type = pp->type;
      auto coerced = coerce_param_value(decl, v);
      if (!coerced)
        d.error(pos, "parameter '" + it.key() + "' of plugin '" + s.uses + "' is " + to_string(pp->type) + " and " +
                         coerced.message());
    }
    for (const auto& pp : p->params)
      if (!pp.default_value && !s.with.contains(pp.name))
        d.error(s.kind_pos, "step '" + s.name + "': plugin '" + s.uses + "' needs parameter '" + pp.name +
                                "' (" + to_string(pp.type) + "): add it under 'with:'");
    // `outputs` on a plugin step gives defaults to outputs the plugin declares.
    auto check_defaults = [&](const std::vector<std::string>& given, bool artifact) {
      std::vector<std::string> names;
      for (const auto& o : p->outputs)
        if (o.artifact == artifact) names.push_back(o.name);
      for (const auto& n : given)
        if (std::find(names.begin(), names.end(), n) == names.end())
          d.error(s.pos, "step '" + s.name + "': plugin '" + s.uses + "' has no output " +
                             (artifact ? "artifact" : "parameter") + " '" + n + "' to give a default" +
                             did_you_mean(n, names) + " (see 'ctflow plugins " + s.uses + "')");
    };
    std::vector<std::string> params, artifacts;
    for (const auto& [n, x] : s.output_params) params.push_back(n);
    for (const auto& [n, x] : s.output_artifacts) artifacts.push_back(n);
    check_defaults(params, false);
    check_defaults(artifacts, true);
  }

  void check_resources(const Step& s) {
    const HostCapacity& h = opt.host;
    // What to change: resources.KEY, or the param it was read from (-p NAME=TO).
    auto change = [&](const std::string& key, const std::string& plain, const std::string& to) {
      auto it = s.resources.from_params.find(key);
      if (it == s.resources.from_params.end()) return plain;
      return "pass -p " + it->second + "=" + to + " (resources." + key + " is params." + it->second + ")";
    };
    if (s.resources.cpu > h.cpus)
      d.error(s.pos, "step '" + s.name + "' asks for " + fmt_num(s.resources.cpu) + " cpu but this host has " +
                         fmt_num(h.cpus) + ": " + change("cpu", "lower resources.cpu", fmt_num(h.cpus)) +
                         ", or pass --cpus if the host really has more");
    if (s.resources.gpu > h.gpus)
      d.error(s.pos, "step '" + s.name + "' asks for " + std::to_string(s.resources.gpu) + " gpu but this host has " +
                         (h.gpus == 0 ? std::string("none") : std::to_string(h.gpus)) + ": " +
                         change("gpu", "set resources.gpu to 0 to train on the CPU", std::to_string(h.gpus)) +
                         ", or pass --gpus");
    if (h.memory > 0 && s.resources.memory > h.memory)
      d.error(s.pos, "step '" + s.name + "' asks for " + std::to_string(s.resources.memory >> 20) +
                         " MiB of memory but this host has " + std::to_string(h.memory >> 20) + " MiB: " +
                         change("memory", "lower resources.memory", std::to_string(h.memory >> 20) + "Mi") +
                         ", or pass --memory");
  }

  static std::string fmt_num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }
};

}  // namespace

HostCapacity HostCapacity::detect() {
  HostCapacity h;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  h.cpus = n > 0 ? static_cast<double>(n) : 1;
  struct sysinfo si {};
  if (sysinfo(&si) == 0) h.memory = static_cast<int64_t>(si.totalram) * si.mem_unit;
  if (const char* g = std::getenv("CTFLOW_GPUS")) {
    h.gpus = std::atoi(g);
  } else {
    std::error_code ec;
    for (int i = 0; i < 16; ++i)
      if (std::filesystem::exists("/dev/nvidia" + std::to_string(i), ec)) h.gpus = i + 1;
  }
  return h;
}

void validate_workflow(const Workflow& wf, const ValidateOptions& options, Diagnostics& diags) {
  Checker c{wf, options, diags, {}, {}, {}, &wf, nullptr};
  c.run();
  // Each template's steps are checked as a workflow of their own, with the template's params.
  for (const auto& [name, t] : wf.templates) {
    Workflow tw;
    tw.file = wf.file;
    tw.name = wf.name;
    tw.params = t.params;
    tw.steps = t.steps;
    Checker tc{tw, options, diags, {}, {}, {}, &wf, &t};
    tc.run();
    check_template_outputs(t, diags);
  }
}

Result<Value> bind_params(const Workflow& wf, const std::vector<std::string>& assignments) {
  Value out = Value::object();
  for (const auto& p : wf.params)
    if (p.default_value) out[p.name] = *p.default_value;
  std::vector<std::string> names;
  for (const auto& p : wf.params) names.push_back(p.name);
  for (const auto& a : assignments) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      return Status::Error("-p " + a + ": write -p NAME=VALUE");
    std::string name = a.substr(0, eq), text = a.substr(eq + 1);
    const ParamDecl* p = wf.find_param(name);
    if (!p)
      return Status::Error("-p " + a + ": workflow '" + wf.name + "' has no param '" + name + "'" +
                           did_you_mean(name, names));
    auto v = coerce_param_value(*p, Value(text));
    if (!v) return Status::Error("-p " + a + ": param '" + name + "' is " + to_string(p->type) + " and " + v.message());
    out[name] = *v;
  }
  for (const auto& p : wf.params)
    if (!out.contains(p.name))
      return Status::Error("param '" + p.name + "' is required: pass -p " + p.name + "=VALUE" +
                           (p.description.empty() ? "" : " (" + p.description + ")"));
  return out;
}

}  // namespace ctflow
