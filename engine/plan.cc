#include "engine/plan.h"

#include <algorithm>
#include <functional>

#include "engine/expr.h"
#include "engine/graph.h"

namespace ctflow {

const char* to_string(NodeStatus s) {
  switch (s) {
    case NodeStatus::Pending: return "Pending";
    case NodeStatus::Running: return "Running";
    case NodeStatus::Succeeded: return "Succeeded";
    case NodeStatus::Failed: return "Failed";
    case NodeStatus::Errored: return "Errored";
    case NodeStatus::Skipped: return "Skipped";
    case NodeStatus::Omitted: return "Omitted";
    case NodeStatus::Cancelled: return "Cancelled";
    case NodeStatus::Stopped: return "Stopped";
  }
  return "?";
}

std::optional<NodeStatus> node_status_from_string(const std::string& s) {
  for (auto st : {NodeStatus::Pending, NodeStatus::Running, NodeStatus::Succeeded, NodeStatus::Failed,
                  NodeStatus::Errored, NodeStatus::Skipped, NodeStatus::Omitted, NodeStatus::Cancelled,
                  NodeStatus::Stopped})
    if (s == to_string(st)) return st;
  return std::nullopt;
}

bool is_terminal(NodeStatus s) { return s != NodeStatus::Pending && s != NodeStatus::Running; }

namespace {
bool is_failure(NodeStatus s) { return s == NodeStatus::Failed || s == NodeStatus::Errored; }
}  // namespace

Plan::Plan(const std::vector<Step>& steps, bool fail_fast) : fail_fast_(fail_fast) {
  nodes_.resize(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    nodes_[i].step = &steps[i];
    index_[steps[i].name] = i;
  }
  link(0);
}

void Plan::link(size_t first) {
  for (size_t i = first; i < nodes_.size(); ++i) {
    const Step& st = *nodes_[i].step;
    for (const auto& dep : direct_dependencies(st)) {
      auto it = index_.find(nodes_[i].scope + dep);
      if (it == index_.end() || it->second == i || it->second < first) continue;
      nodes_[i].deps.push_back(it->second);
      nodes_[it->second].dependents.push_back(i);
      if (!st.depends.empty()) handled_by_depends_.insert(it->second);
    }
  }
  for (size_t i = first; i < nodes_.size(); ++i)
    if (nodes_[i].deps.empty()) {
      nodes_[i].queued = true;
      ready_.push_back(i);
    }
}

void Plan::add_steps(const std::string& parent, const std::string& scope, const std::vector<const Step*>& steps) {
  auto p = index_.find(parent);
  const size_t first = nodes_.size();
  nodes_.resize(first + steps.size());
  for (size_t k = 0; k < steps.size(); ++k) {
    Node& n = nodes_[first + k];
    n.step = steps[k];
    n.scope = scope;
    n.parent = p == index_.end() ? kNoParent : p->second;
    index_[steps[k]->name] = first + k;
  }
  link(first);
  if (!stopped_) return;
  ready_.clear();
  for (size_t i = first; i < nodes_.size(); ++i) {
    set_status(i, cancelled_ ? NodeStatus::Cancelled : NodeStatus::Omitted);
    nodes_[i].message = stop_message_;
    omitted_.emplace_back(nodes_[i].step->name, stop_message_);
  }
}

Plan::ScopeEnd Plan::scope_status(const std::string& scope) const {
  ScopeEnd end;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.scope != scope) continue;
    if (n.status == NodeStatus::Cancelled) return {NodeStatus::Cancelled, "", n.message};
    if (is_failure(n.status) && end.step.empty() && !handled(i)) {
      end.status = n.status;
      end.step = n.step->name;
    }
    if (n.status == NodeStatus::Omitted && stopped_ && n.message == stop_message_ && end.step.empty()) {
      end.status = NodeStatus::Omitted;
      end.message = n.message;
    }
  }
  return end;
}

bool Plan::handled_up(size_t i) const {
  for (;; i = nodes_[i].parent) {
    if (handled_by_depends_.count(i)) return true;
    if (nodes_[i].parent == kNoParent) return false;
  }
}

std::vector<std::string> Plan::take_ready() {
  std::vector<std::string> out;
  std::sort(ready_.begin(), ready_.end());
  for (size_t i : ready_) {
    if (nodes_[i].status != NodeStatus::Pending) continue;
    if (stopped_) {
      continue;
    }
    set_status(i, NodeStatus::Running);
    out.push_back(nodes_[i].step->name);
  }
  ready_.clear();
  return out;
}

void Plan::set_status(size_t i, NodeStatus s) {
  Node& n = nodes_[i];
  ended_ += static_cast<size_t>(is_terminal(s)) - static_cast<size_t>(is_terminal(n.status));
  n.status = s;
}

void Plan::omit(size_t i, std::string message) {
  Node& n = nodes_[i];
  set_status(i, cancelled_ && message == stop_message_ ? NodeStatus::Cancelled : NodeStatus::Omitted);
  n.message = std::move(message);
  omitted_.emplace_back(n.step->name, n.message);
  release_dependents(i);
}

// Each node releases its dependents once, when it first ends; a dependent is
// settled when the last of its deps releases it. (A node that stop() ended
// without releasing has dependents that stop() ended too.)
void Plan::release_dependents(size_t i) {
  if (nodes_[i].released) return;
  nodes_[i].released = true;
  for (size_t d : nodes_[i].dependents) {
    Node& dn = nodes_[d];
    ++dn.deps_ended;
    if (dn.status != NodeStatus::Pending || dn.queued) continue;
    if (dn.deps_ended == dn.deps.size()) settle(d);
  }
}

void Plan::settle(size_t i) {
  Node& n = nodes_[i];
  if (stopped_) {
    omit(i, stop_message_);
    return;
  }
  const Step& s = *n.step;
  if (s.depends.empty()) {
    for (size_t d : n.deps) {
      NodeStatus ds = nodes_[d].status;
      if (ds != NodeStatus::Succeeded && ds != NodeStatus::Skipped) {
        omit(i, std::string("not run: needed step '") + nodes_[d].step->name + "' " + to_string(ds));
        return;
      }
    }
  } else {
    auto parsed = expr::Expr::parse(s.depends);
    bool value = false;
    std::string why;
    if (auto* e = std::get_if<expr::Expr>(&parsed)) {
      auto r = e->eval_bool([&](const std::string& ref) -> Result<Value> {
        size_t dot = ref.find('.');
        auto it = index_.find(n.scope + ref.substr(0, dot));
        if (it == index_.end() || dot == std::string::npos) return Status::Error("unknown step in '" + ref + "'");
        const Node& dn = nodes_[it->second];
        const std::string what = ref.substr(dot + 1);
        if (what == "AnySucceeded")
          return Value(std::any_of(dn.instances.begin(), dn.instances.end(),
                                   [](NodeStatus x) { return x == NodeStatus::Succeeded; }) ||
                       (dn.instances.empty() && dn.status == NodeStatus::Succeeded));
        if (what == "AllFailed") {
          if (dn.instances.empty()) return Value(is_failure(dn.status));
          return Value(std::all_of(dn.instances.begin(), dn.instances.end(), is_failure));
        }
        if (what == "Daemoned") return Value(false);
        auto st = node_status_from_string(what);
        if (!st) return Status::Error("unknown result '" + what + "'");
        return Value(dn.status == *st);
      });
      if (r) value = *r;
      else why = r.message();
    } else {
      why = std::get<expr::ParseError>(parsed).message;
    }
    if (!value) {
      omit(i, why.empty() ? "not run: depends '" + s.depends + "' is false" : "not run: depends: " + why);
      return;
    }
  }
  n.queued = true;
  ready_.push_back(i);
}

void Plan::finish(const std::string& step, NodeStatus status, const std::vector<NodeStatus>& instances) {
  auto it = index_.find(step);
  if (it == index_.end()) return;
  Node& n = nodes_[it->second];
  set_status(it->second, status);
  n.instances = instances;
  // fail_fast looks ahead: a failure that some `depends` names may be handled.
  if (is_failure(status) && fail_fast_ && !handled_up(it->second) && !stopped_)
    stop("not started: fail_fast stopped the run after step '" + step + "' " + to_string(status), false);
  release_dependents(it->second);
}

// As in Argo (assessDAGPhase): a failure fails the run when a path from the
// failed step to the end of the DAG (a step nothing depends on) runs only
// through steps that never ran. A step that ran after it, such as one with
// `depends: a.Failed`, ends that path: the failure is handled there. Naming the
// step in a `depends` is not enough (`depends: a.Succeeded` ends Omitted).
bool Plan::handled(size_t i) const {
  std::vector<signed char> memo(nodes_.size(), -1);  // 1: reaches the end through unrun steps
  std::function<bool(size_t)> unrun_to_end = [&](size_t n) -> bool {
    if (memo[n] >= 0) return memo[n] == 1;
    bool reaches = nodes_[n].dependents.empty();
    for (size_t d : nodes_[n].dependents) {
      NodeStatus s = nodes_[d].status;
      bool ran = s != NodeStatus::Pending && s != NodeStatus::Omitted && s != NodeStatus::Cancelled;
      if (!ran && unrun_to_end(d)) {
        reaches = true;
        break;
      }
    }
    memo[n] = reaches ? 1 : 0;
    return reaches;
  };
  return !unrun_to_end(i);
}

std::vector<std::pair<std::string, std::string>> Plan::take_omitted() {
  auto out = std::move(omitted_);
  omitted_.clear();
  return out;
}

void Plan::stop(const std::string& message, bool cancelled) {
  if (stopped_) return;
  stopped_ = true;
  cancelled_ = cancelled;
  stop_message_ = message;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].status == NodeStatus::Pending) {
      Node& n = nodes_[i];
      set_status(i, cancelled ? NodeStatus::Cancelled : NodeStatus::Omitted);
      n.message = message;
      omitted_.emplace_back(n.step->name, message);
    }
  ready_.clear();
}

void Plan::restore(const std::string& step, NodeStatus status) {
  auto it = index_.find(step);
  if (it == index_.end()) return;
  set_status(it->second, status);  // take_ready() skips it if it was ready
  release_dependents(it->second);
}

bool Plan::done() const { return ended_ == nodes_.size(); }

NodeStatus Plan::status(const std::string& step) const {
  auto it = index_.find(step);
  return it == index_.end() ? NodeStatus::Pending : nodes_[it->second].status;
}

const std::string& Plan::message(const std::string& step) const {
  static const std::string kEmpty;
  auto it = index_.find(step);
  return it == index_.end() ? kEmpty : nodes_[it->second].message;
}

std::vector<std::string> Plan::failures() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < nodes_.size(); ++i)  // a sub-DAG's failures count through its caller
    if (nodes_[i].scope.empty() && is_failure(nodes_[i].status) && !handled(i)) out.push_back(nodes_[i].step->name);
  return out;
}

std::string Plan::run_status() const {
  if (cancelled_) return "Cancelled";
  bool failed = false, errored = false;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeStatus st = nodes_[i].status;
    if (!nodes_[i].scope.empty()) continue;  // counted through its caller
    // handled() walks the graph: ask it only of the statuses that count.
    if (!is_failure(st) && st != NodeStatus::Cancelled) continue;
    if (handled(i)) continue;
    if (st == NodeStatus::Failed) failed = true;
    if (st == NodeStatus::Errored) errored = true;
    if (st == NodeStatus::Cancelled) return "Cancelled";
  }
  if (failed) return "Failed";
  if (errored) return "Errored";
  return "Succeeded";
}

}  // namespace ctflow
