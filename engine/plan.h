// Plan: which steps are ready, what a result unlocks, what is Omitted. No I/O,
// no clock: the Scheduler feeds it results; tests feed it by hand.
//
// Rules (Argo's): a step with `needs` runs when every needed step Succeeded or
// was Skipped; if one ended otherwise, the step is Omitted. A step with
// `depends` waits until every step its expression names has ended, then runs
// when the expression is true, else is Omitted. After an unhandled failure with
// fail_fast, nothing new starts: pending steps are Omitted with a message that
// says so. As in Argo's assessDAGPhase, a failure fails the run unless every
// path after it reaches a step that ran (a `depends` that handled it); fail_fast
// does not stop the run for a failure that some `depends` names.
//
// The plan grows while it runs (docs/dag-growth.md): add_steps() adds the
// steps of a called template as a sub-DAG of the running call step. A sub-DAG's
// failures count through its caller (whose status the Scheduler sets from
// scope_status()), so fail_fast and the run's status look up the call chain.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/ir.h"

namespace ctflow {

// Stopped: a sweep's trial ended early by its early-stopping rule (not a failure).
enum class NodeStatus { Pending, Running, Succeeded, Failed, Errored, Skipped, Omitted, Cancelled, Stopped };
const char* to_string(NodeStatus s);
std::optional<NodeStatus> node_status_from_string(const std::string& s);
bool is_terminal(NodeStatus s);

class Plan {
 public:
  Plan(const std::vector<Step>& steps, bool fail_fast);

  // Steps that may start now, in workflow order; each is returned once and is
  // then Running until finish() is called for it.
  std::vector<std::string> take_ready();
  // The final status of STEP. For a fan-out, INSTANCES holds each instance's
  // status (for AnySucceeded / AllFailed).
  void finish(const std::string& step, NodeStatus status, const std::vector<NodeStatus>& instances = {});
  // Steps that became Omitted since the last call, with the reason.
  std::vector<std::pair<std::string, std::string>> take_omitted();
  // Stops the run: nothing new starts; steps not started become Omitted (or
  // Cancelled when CANCELLED) with MESSAGE.
  void stop(const std::string& message, bool cancelled);
  // Marks STEP as already finished before this run started (resume).
  void restore(const std::string& step, NodeStatus status);
  // Adds STEPS, a sub-DAG of the running step PARENT, while the run goes on.
  // Each step's name is its full name (SCOPE + its name in the template); its
  // needs and depends name its siblings by their names in the template.
  void add_steps(const std::string& parent, const std::string& scope, const std::vector<const Step*>& steps);
  // What the sub-DAG under SCOPE ended as, once all of it has ended, by the
  // rules of a run: an unhandled failure (STEP names it), a stop, or Succeeded.
  struct ScopeEnd {
    NodeStatus status = NodeStatus::Succeeded;
    std::string step;     // the failed step, for Failed and Errored
    std::string message;  // the stop's message, for Omitted and Cancelled
  };
  ScopeEnd scope_status(const std::string& scope) const;

  bool done() const;
  bool stopped() const { return stopped_; }
  NodeStatus status(const std::string& step) const;
  const std::string& message(const std::string& step) const;
  // Succeeded, Failed, Errored or Cancelled; meaningful once done().
  std::string run_status() const;
  // The steps whose unhandled failure failed the run, in order.
  std::vector<std::string> failures() const;

 private:
  struct Node {
    const Step* step = nullptr;
    NodeStatus status = NodeStatus::Pending;
    std::vector<NodeStatus> instances;
    std::vector<size_t> deps;        // indices
    std::vector<size_t> dependents;  // indices
    bool queued = false;
    size_t deps_ended = 0;  // how many of deps have released this node
    bool released = false;  // release_dependents ran for this node
    std::string message;
    std::string scope;              // "" for the workflow's own steps, "caller/" in a sub-DAG
    size_t parent = kNoParent;      // the call step a sub-DAG's node belongs to
  };
  static constexpr size_t kNoParent = static_cast<size_t>(-1);
  void link(size_t first);         // deps and dependents of nodes [first, end), and which are ready
  bool handled_up(size_t i) const;  // a depends handles the failure of I or of a caller above it
  void set_status(size_t i, NodeStatus s);  // keeps ended_ in step
  void settle(size_t i);           // decide a pending node whose deps have all ended
  void omit(size_t i, std::string message);
  void release_dependents(size_t i);
  bool handled(size_t i) const;

  std::vector<Node> nodes_;
  std::map<std::string, size_t> index_;
  std::vector<size_t> ready_;
  std::vector<std::pair<std::string, std::string>> omitted_;
  std::set<size_t> handled_by_depends_;
  size_t ended_ = 0;  // nodes with a terminal status: done() is ended_ == size
  bool fail_fast_;
  bool stopped_ = false;
  bool cancelled_ = false;
  std::string stop_message_;
};

}  // namespace ctflow
