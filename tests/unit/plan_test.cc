// Plan, fed by hand: no processes, no clock. Each test pins one rule of the
// spec's "Statuses" section (Argo's needs/depends semantics, fail_fast, stop,
// resume).
#include "engine/plan.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using ctflow::NodeStatus;
using ctflow::Plan;
using ctflow::Step;

namespace {

Step needs(std::string name, std::vector<std::string> deps = {}) {
  Step s;
  s.name = std::move(name);
  s.needs = std::move(deps);
  return s;
}

Step depends(std::string name, std::string expression) {
  Step s;
  s.name = std::move(name);
  s.depends = std::move(expression);
  return s;
}

using Names = std::vector<std::string>;
using Omissions = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST_CASE("PlanTest.RootsAreReadyOnceInWorkflowOrder") {
  std::vector<Step> steps = {needs("b"), needs("a"), needs("c", {"a", "b"})};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"b", "a"});
  CHECK(p.take_ready().empty());
  CHECK(p.status("a") == NodeStatus::Running);
  CHECK(p.status("c") == NodeStatus::Pending);
  p.finish("a", NodeStatus::Succeeded);
  CHECK(p.take_ready().empty());  // c still waits for b
  p.finish("b", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"c"});
  CHECK_FALSE(p.done());
  p.finish("c", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Succeeded");
  CHECK(p.failures().empty());
  CHECK(p.take_omitted().empty());
}

TEST_CASE("PlanTest.NeedsRunsAfterSkippedStep") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"})};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"a"});
  p.finish("a", NodeStatus::Skipped);
  CHECK(p.take_ready() == Names{"b"});
  p.finish("b", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Succeeded");
}

TEST_CASE("PlanTest.NeedsAfterFailedStepIsOmitted") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"})};
  Plan p(steps, false);
  p.take_ready();
  p.finish("a", NodeStatus::Failed);
  CHECK(p.take_ready().empty());
  CHECK(p.status("b") == NodeStatus::Omitted);
  CHECK(p.message("b") == "not run: needed step 'a' Failed");
  CHECK(p.take_omitted() == Omissions{{"b", "not run: needed step 'a' Failed"}});
  CHECK(p.take_omitted().empty());  // each omission is reported once
  CHECK(p.done());
  CHECK(p.run_status() == "Failed");
  CHECK(p.failures() == Names{"a"});
}

TEST_CASE("PlanTest.NeedsAfterErroredStepIsOmittedAndRunErrored") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"})};
  Plan p(steps, false);
  p.take_ready();
  p.finish("a", NodeStatus::Errored);
  CHECK(p.status("b") == NodeStatus::Omitted);
  CHECK(p.message("b") == "not run: needed step 'a' Errored");
  CHECK(p.run_status() == "Errored");
  CHECK(p.failures() == Names{"a"});
}

TEST_CASE("PlanTest.OmittedCascadesThroughNeeds") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"}), needs("c", {"b"}), needs("d", {"c"})};
  Plan p(steps, false);
  p.take_ready();
  p.finish("a", NodeStatus::Failed);
  CHECK(p.status("b") == NodeStatus::Omitted);
  CHECK(p.status("c") == NodeStatus::Omitted);
  CHECK(p.status("d") == NodeStatus::Omitted);
  CHECK(p.take_omitted() == Omissions{{"b", "not run: needed step 'a' Failed"},
                                      {"c", "not run: needed step 'b' Omitted"},
                                      {"d", "not run: needed step 'c' Omitted"}});
  CHECK(p.done());
  CHECK(p.failures() == Names{"a"});
}

TEST_CASE("PlanTest.SkippedDoesNotCascadeButOmittedDoes") {
  // b is Skipped (its when was false): c needs b and runs. Omitted is different:
  // it propagates.
  std::vector<Step> steps = {needs("a"), needs("b", {"a"}), needs("c", {"b"})};
  Plan p(steps, true);
  p.take_ready();
  p.finish("a", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"b"});
  p.finish("b", NodeStatus::Skipped);
  CHECK(p.take_ready() == Names{"c"});
}

TEST_CASE("PlanTest.DependsOnFailedRunsTheHandler") {
  std::vector<Step> steps = {needs("a"), depends("on-fail", "a.Failed")};
  SUBCASE("a fails: the handler runs, the failure is handled, the run Succeeds") {
    Plan p(steps, true);
    p.take_ready();
    p.finish("a", NodeStatus::Failed);
    CHECK_FALSE(p.stopped());
    CHECK(p.take_ready() == Names{"on-fail"});
    p.finish("on-fail", NodeStatus::Succeeded);
    CHECK(p.done());
    CHECK(p.run_status() == "Succeeded");
    CHECK(p.failures().empty());
  }
  SUBCASE("a succeeds: the handler is Omitted with the expression in its message") {
    Plan p(steps, true);
    p.take_ready();
    p.finish("a", NodeStatus::Succeeded);
    CHECK(p.take_ready().empty());
    CHECK(p.status("on-fail") == NodeStatus::Omitted);
    CHECK(p.message("on-fail") == "not run: depends 'a.Failed' is false");
    CHECK(p.done());
    CHECK(p.run_status() == "Succeeded");
  }
}

TEST_CASE("PlanTest.DependsWaitsForEveryNamedStep") {
  std::vector<Step> steps = {needs("a"), needs("b"), depends("c", "a.Succeeded || b.Skipped")};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"a", "b"});
  p.finish("a", NodeStatus::Succeeded);
  // true already, but depends waits until every step it names has ended
  CHECK(p.take_ready().empty());
  CHECK(p.status("c") == NodeStatus::Pending);
  p.finish("b", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"c"});
}

TEST_CASE("PlanTest.DependsOrOfStatuses") {
  std::vector<Step> steps = {needs("a"), needs("b"), depends("c", "a.Succeeded || b.Skipped")};
  SUBCASE("a Failed, b Skipped: true") {
    Plan p(steps, false);
    p.take_ready();
    p.finish("a", NodeStatus::Failed);
    p.finish("b", NodeStatus::Skipped);
    CHECK(p.take_ready() == Names{"c"});
    p.finish("c", NodeStatus::Succeeded);
    CHECK(p.run_status() == "Succeeded");  // c's depends handled a's failure
  }
  SUBCASE("a Failed, b Succeeded: false") {
    Plan p(steps, false);
    p.take_ready();
    p.finish("a", NodeStatus::Failed);
    p.finish("b", NodeStatus::Succeeded);
    CHECK(p.take_ready().empty());
    CHECK(p.status("c") == NodeStatus::Omitted);
    CHECK(p.message("c") == "not run: depends 'a.Succeeded || b.Skipped' is false");
  }
}

TEST_CASE("PlanTest.DependsNegationAndParentheses") {
  std::vector<Step> steps = {needs("a"), needs("b"), depends("c", "!a.Succeeded && (b.Succeeded || b.Omitted)")};
  SUBCASE("a Failed, b Succeeded") {
    Plan p(steps, false);
    p.take_ready();
    p.finish("a", NodeStatus::Failed);
    p.finish("b", NodeStatus::Succeeded);
    CHECK(p.take_ready() == Names{"c"});
  }
  SUBCASE("a Succeeded") {
    Plan p(steps, false);
    p.take_ready();
    p.finish("a", NodeStatus::Succeeded);
    p.finish("b", NodeStatus::Succeeded);
    CHECK(p.status("c") == NodeStatus::Omitted);
  }
}

TEST_CASE("PlanTest.DependsOnErroredAndOmitted") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"}), depends("c", "a.Errored && b.Omitted")};
  Plan p(steps, false);
  p.take_ready();
  p.finish("a", NodeStatus::Errored);
  CHECK(p.status("b") == NodeStatus::Omitted);
  CHECK(p.take_ready() == Names{"c"});
}

TEST_CASE("PlanTest.AnySucceededAndAllFailedOverInstances") {
  std::vector<Step> steps = {needs("fan"), depends("any", "fan.AnySucceeded"), depends("all", "fan.AllFailed")};
  SUBCASE("one instance of three Succeeded") {
    Plan p(steps, false);
    p.take_ready();
    p.finish("fan", NodeStatus::Failed, {NodeStatus::Failed, NodeStatus::Succeeded, NodeStatus::Errored});
    CHECK(p.take_ready() == Names{"any"});
    CHECK(p.status("all") == NodeStatus::Omitted);
    CHECK(p.message("all") == "not run: depends 'fan.AllFailed' is false");
  }
  SUBCASE("every instance Failed or Errored") {
    Plan p(steps, false);
    p.take_ready();
    p.finish("fan", NodeStatus::Failed, {NodeStatus::Failed, NodeStatus::Errored});
    CHECK(p.take_ready() == Names{"all"});
    CHECK(p.status("any") == NodeStatus::Omitted);
    CHECK(p.message("any") == "not run: depends 'fan.AnySucceeded' is false");
  }
  SUBCASE("every instance Succeeded") {
    Plan p(steps, false);
    p.take_ready();
    p.finish("fan", NodeStatus::Succeeded, {NodeStatus::Succeeded, NodeStatus::Succeeded});
    CHECK(p.take_ready() == Names{"any"});
    CHECK(p.status("all") == NodeStatus::Omitted);
  }
  SUBCASE("a plain step: AnySucceeded is its own Succeeded") {
    Plan p(steps, false);
    p.take_ready();
    p.finish("fan", NodeStatus::Succeeded);
    CHECK(p.take_ready() == Names{"any"});
  }
}

TEST_CASE("PlanTest.FailFastOmitsPendingStepsWithAMessage") {
  // a fails while b (independent) runs; c and d have not started.
  std::vector<Step> steps = {needs("a"), needs("b"), needs("c", {"b"}), needs("d")};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"a", "b", "d"});
  p.finish("d", NodeStatus::Succeeded);
  p.finish("a", NodeStatus::Failed);
  CHECK(p.stopped());
  const std::string why = "not started: fail_fast stopped the run after step 'a' Failed";
  CHECK(p.status("c") == NodeStatus::Omitted);
  CHECK(p.message("c") == why);
  CHECK(p.take_omitted() == Omissions{{"c", why}});
  // b was already running: it is not touched and may still finish
  CHECK(p.status("b") == NodeStatus::Running);
  CHECK_FALSE(p.done());
  p.finish("b", NodeStatus::Succeeded);
  CHECK(p.take_ready().empty());  // nothing new starts
  CHECK(p.done());
  CHECK(p.run_status() == "Failed");
  CHECK(p.failures() == Names{"a"});
}

TEST_CASE("PlanTest.FailFastAlsoStopsStepsAlreadyReady") {
  std::vector<Step> steps = {needs("a"), needs("b", {"x"}), needs("x")};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"a", "x"});
  p.finish("x", NodeStatus::Succeeded);  // b is ready, not yet taken
  p.finish("a", NodeStatus::Errored);
  CHECK(p.take_ready().empty());
  CHECK(p.status("b") == NodeStatus::Omitted);
  CHECK(p.message("b") == "not started: fail_fast stopped the run after step 'a' Errored");
  CHECK(p.run_status() == "Errored");
}

TEST_CASE("PlanTest.HandledFailureDoesNotStopTheRun") {
  std::vector<Step> steps = {needs("a"), depends("cleanup", "a.Failed"), needs("x"), needs("y", {"x"})};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"a", "x"});
  p.finish("a", NodeStatus::Failed);
  CHECK_FALSE(p.stopped());
  CHECK(p.take_ready() == Names{"cleanup"});
  p.finish("x", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"y"});
  p.finish("cleanup", NodeStatus::Succeeded);
  p.finish("y", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Succeeded");
  CHECK(p.failures().empty());
}

TEST_CASE("PlanTest.FailureNotHandledWhenTheDependsBranchIsOmitted") {
  // As in Argo: `depends: a.Succeeded` names a but does not handle its failure;
  // the branch ends Omitted, so the run Failed.
  std::vector<Step> steps = {needs("a"), depends("b", "a.Succeeded")};
  Plan p(steps, false);
  p.take_ready();
  p.finish("a", NodeStatus::Failed);
  CHECK(p.status("b") == NodeStatus::Omitted);
  CHECK(p.done());
  CHECK(p.run_status() == "Failed");
  CHECK(p.failures() == Names{"a"});
}

TEST_CASE("PlanTest.FailureNotHandledWhileAnotherPathFromItIsOmitted") {
  // The handler runs, but c needs a and ends Omitted: the path a -> c reaches
  // the end without running anything, so (as in Argo) the run Failed.
  std::vector<Step> steps = {needs("a"), depends("h", "a.Failed"), needs("c", {"a"})};
  Plan p(steps, false);
  p.take_ready();
  p.finish("a", NodeStatus::Failed);
  CHECK(p.take_ready() == Names{"h"});
  CHECK(p.message("c") == "not run: needed step 'a' Failed");
  p.finish("h", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Failed");
  CHECK(p.failures() == Names{"a"});
}

TEST_CASE("PlanTest.FailureHandledFurtherDownTheOmittedPath") {
  // a fails, b (needs a) is Omitted, r runs on b.Omitted: every path from a
  // ends in a step that ran.
  std::vector<Step> steps = {needs("a"), needs("b", {"a"}), depends("r", "b.Omitted")};
  Plan p(steps, false);
  p.take_ready();
  p.finish("a", NodeStatus::Failed);
  CHECK(p.take_ready() == Names{"r"});
  p.finish("r", NodeStatus::Succeeded);
  CHECK(p.run_status() == "Succeeded");
  CHECK(p.failures().empty());
}

TEST_CASE("PlanTest.FailFastFalseKeepsIndependentBranchesGoing") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"}), needs("x"), needs("y", {"x"}), needs("z", {"y"})};
  Plan p(steps, false);
  CHECK(p.take_ready() == Names{"a", "x"});
  p.finish("a", NodeStatus::Failed);
  CHECK_FALSE(p.stopped());
  CHECK(p.status("b") == NodeStatus::Omitted);
  p.finish("x", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"y"});
  p.finish("y", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"z"});
  p.finish("z", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Failed");
  CHECK(p.failures() == Names{"a"});
}

TEST_CASE("PlanTest.FailuresListsEveryUnhandledFailureInOrder") {
  std::vector<Step> steps = {needs("a"), needs("b"), needs("c"), depends("h", "b.Failed")};
  Plan p(steps, false);
  p.take_ready();
  p.finish("c", NodeStatus::Errored);
  p.finish("b", NodeStatus::Failed);
  p.finish("a", NodeStatus::Failed);
  CHECK(p.take_ready() == Names{"h"});
  p.finish("h", NodeStatus::Succeeded);
  CHECK(p.failures() == Names{"a", "c"});
  CHECK(p.run_status() == "Failed");  // Failed outranks Errored
}

TEST_CASE("PlanTest.StopCancelledMarksPendingStepsCancelled") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"}), needs("c", {"b"})};
  Plan p(steps, true);
  p.take_ready();
  p.stop("cancelled by the user (Ctrl-C)", true);
  CHECK(p.stopped());
  CHECK(p.status("b") == NodeStatus::Cancelled);
  CHECK(p.status("c") == NodeStatus::Cancelled);
  CHECK(p.message("b") == "cancelled by the user (Ctrl-C)");
  CHECK(p.take_omitted() == Omissions{{"b", "cancelled by the user (Ctrl-C)"}, {"c", "cancelled by the user (Ctrl-C)"}});
  CHECK(p.status("a") == NodeStatus::Running);
  CHECK_FALSE(p.done());
  p.finish("a", NodeStatus::Cancelled);
  CHECK(p.take_ready().empty());
  CHECK(p.done());
  CHECK(p.run_status() == "Cancelled");
  CHECK(p.failures().empty());
}

TEST_CASE("PlanTest.StopCancelledWinsOverAnEarlierFailure") {
  std::vector<Step> steps = {needs("a"), needs("b")};
  Plan p(steps, false);
  p.take_ready();
  p.finish("a", NodeStatus::Failed);
  p.stop("cancelled by the user", true);
  p.finish("b", NodeStatus::Cancelled);
  CHECK(p.run_status() == "Cancelled");
}

TEST_CASE("PlanTest.StopWithoutCancelOmits") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"})};
  Plan p(steps, true);
  p.take_ready();
  p.stop("stopped", false);
  CHECK(p.status("b") == NodeStatus::Omitted);
  p.finish("a", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Succeeded");
}

TEST_CASE("PlanTest.RestoreKeepsWhatSucceededAndRunsTheRest") {
  // Resume after a failure: a Succeeded before, b Failed, c needs b.
  std::vector<Step> steps = {needs("a"), needs("b", {"a"}), needs("c", {"b"}), needs("d")};
  Plan p(steps, true);
  p.restore("a", NodeStatus::Succeeded);
  p.restore("d", NodeStatus::Skipped);
  CHECK(p.status("a") == NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"b"});  // neither a nor d runs again
  p.finish("b", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"c"});
  p.finish("c", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Succeeded");
}

TEST_CASE("PlanTest.RestoreInAnyOrder") {
  // The scheduler restores steps in name order, not in dependency order.
  std::vector<Step> steps = {needs("z"), needs("a", {"z"}), needs("m", {"a"})};
  Plan p(steps, true);
  p.restore("a", NodeStatus::Succeeded);
  p.restore("z", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"m"});
  p.finish("m", NodeStatus::Succeeded);
  CHECK(p.done());
}

TEST_CASE("PlanTest.RestoreEverythingIsDone") {
  std::vector<Step> steps = {needs("a"), needs("b", {"a"})};
  Plan p(steps, true);
  p.restore("a", NodeStatus::Succeeded);
  p.restore("b", NodeStatus::Succeeded);
  CHECK(p.take_ready().empty());
  CHECK(p.done());
  CHECK(p.run_status() == "Succeeded");
}

TEST_CASE("PlanTest.UnknownStepsAreIgnored") {
  std::vector<Step> steps = {needs("a")};
  Plan p(steps, true);
  CHECK(p.status("nope") == NodeStatus::Pending);
  CHECK(p.message("nope").empty());
  p.finish("nope", NodeStatus::Failed);
  CHECK_FALSE(p.stopped());
}

TEST_CASE("PlanTest.NodeStatusNames") {
  for (auto s : {NodeStatus::Pending, NodeStatus::Running, NodeStatus::Succeeded, NodeStatus::Failed,
                 NodeStatus::Errored, NodeStatus::Skipped, NodeStatus::Omitted, NodeStatus::Cancelled})
    CHECK(ctflow::node_status_from_string(ctflow::to_string(s)) == s);
  CHECK_FALSE(ctflow::node_status_from_string("Done").has_value());
  CHECK_FALSE(ctflow::is_terminal(NodeStatus::Pending));
  CHECK_FALSE(ctflow::is_terminal(NodeStatus::Running));
  CHECK(ctflow::is_terminal(NodeStatus::Skipped));
}

// ---- a plan that grows while it runs (docs/dag-growth.md)

namespace {
// Template steps as the Scheduler adds them: full names, needs/depends by the names in the template.
Step child(const std::string& scope, std::string name, std::vector<std::string> deps = {}) {
  Step s = needs(std::move(name), std::move(deps));
  s.name = scope + s.name;
  return s;
}
}  // namespace

TEST_CASE("PlanTest.AddStepsGrowsARunningPlanAndItsChildrenRunInOrder") {
  std::vector<Step> steps = {needs("call"), needs("after", {"call"})};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"call"});
  std::vector<Step> kids = {child("call/", "a"), child("call/", "b", {"a"})};
  p.add_steps("call", "call/", {&kids[0], &kids[1]});
  CHECK_FALSE(p.done());
  CHECK(p.take_ready() == Names{"call/a"});
  p.finish("call/a", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"call/b"});
  p.finish("call/b", NodeStatus::Succeeded);
  CHECK(p.take_ready().empty());  // `after` waits for the caller, which the Scheduler ends
  CHECK(p.scope_status("call/").status == NodeStatus::Succeeded);
  p.finish("call", NodeStatus::Succeeded);
  CHECK(p.take_ready() == Names{"after"});
  p.finish("after", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Succeeded");
}

TEST_CASE("PlanTest.AddedDependsNameSiblingsInTheirScope") {
  std::vector<Step> steps = {needs("a"), needs("x")};  // a top-level `a` the template's `a` must not mean
  Plan p(steps, false);
  CHECK(p.take_ready() == Names{"a", "x"});
  std::vector<Step> kids = {child("x/", "a"), depends("x/h", "a.Failed")};
  p.add_steps("x", "x/", {&kids[0], &kids[1]});
  CHECK(p.take_ready() == Names{"x/a"});
  p.finish("a", NodeStatus::Succeeded);
  CHECK(p.take_ready().empty());
  p.finish("x/a", NodeStatus::Failed);
  CHECK(p.take_ready() == Names{"x/h"});  // the failure is handled inside the template
  p.finish("x/h", NodeStatus::Succeeded);
  CHECK(p.scope_status("x/").status == NodeStatus::Succeeded);
}

TEST_CASE("PlanTest.AFailureInsideATemplateFailsItsScopeAndCountsThroughTheCaller") {
  std::vector<Step> steps = {needs("call"), needs("other")};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"call", "other"});
  std::vector<Step> kids = {child("call/", "a"), child("call/", "b", {"a"})};
  p.add_steps("call", "call/", {&kids[0], &kids[1]});
  CHECK(p.take_ready() == Names{"call/a"});
  p.finish("call/a", NodeStatus::Failed);
  // fail_fast: nothing new starts, inside the template or out.
  CHECK(p.status("call/b") == NodeStatus::Omitted);
  auto end = p.scope_status("call/");
  CHECK(end.status == NodeStatus::Failed);
  CHECK(end.step == "call/a");
  p.finish("call", NodeStatus::Failed);
  p.finish("other", NodeStatus::Succeeded);
  CHECK(p.done());
  CHECK(p.run_status() == "Failed");
  CHECK(p.failures() == Names{"call"});  // the caller carries its children's failure
}

TEST_CASE("PlanTest.FailFastSparesAChildFailureWhoseCallerIsHandled") {
  std::vector<Step> steps = {needs("call"), depends("rescue", "call.Failed")};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"call"});
  std::vector<Step> kids = {child("call/", "a"), child("call/", "b")};
  p.add_steps("call", "call/", {&kids[0], &kids[1]});
  CHECK(p.take_ready() == Names{"call/a", "call/b"});
  p.finish("call/a", NodeStatus::Failed);
  CHECK_FALSE(p.stopped());
  p.finish("call/b", NodeStatus::Succeeded);
  CHECK(p.scope_status("call/").status == NodeStatus::Failed);
  p.finish("call", NodeStatus::Failed);
  CHECK(p.take_ready() == Names{"rescue"});
  p.finish("rescue", NodeStatus::Succeeded);
  CHECK(p.run_status() == "Succeeded");
}

TEST_CASE("PlanTest.StepsAddedToAStoppedPlanAreOmittedWithItsMessage") {
  std::vector<Step> steps = {needs("call")};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"call"});
  p.stop("cancelled by the user", true);
  std::vector<Step> kids = {child("call/", "a")};
  p.add_steps("call", "call/", {&kids[0]});
  CHECK(p.take_ready().empty());
  CHECK(p.status("call/a") == NodeStatus::Cancelled);
  CHECK(p.take_omitted() == Omissions{{"call/a", "cancelled by the user"}});
  CHECK(p.scope_status("call/").status == NodeStatus::Cancelled);
}

TEST_CASE("PlanTest.NestedScopesAreTheirOwn") {
  std::vector<Step> steps = {needs("c")};
  Plan p(steps, true);
  CHECK(p.take_ready() == Names{"c"});
  std::vector<Step> kids = {child("c/", "d")};
  p.add_steps("c", "c/", {&kids[0]});
  CHECK(p.take_ready() == Names{"c/d"});
  std::vector<Step> grand = {child("c/d/", "e")};
  p.add_steps("c/d", "c/d/", {&grand[0]});
  CHECK(p.take_ready() == Names{"c/d/e"});
  p.finish("c/d/e", NodeStatus::Errored);
  CHECK(p.scope_status("c/d/").status == NodeStatus::Errored);
  CHECK(p.scope_status("c/").status == NodeStatus::Succeeded);  // c/d has not ended yet: nothing failed in c/
  p.finish("c/d", NodeStatus::Errored);
  CHECK(p.scope_status("c/").step == "c/d");
  p.finish("c", NodeStatus::Errored);
  CHECK(p.run_status() == "Errored");
}
