// Pruners: scripted sequences of reports and exactly which trials stop
// where. The expectations are worked out by hand in the comments.
#include "engine/sweep/pruner.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace ctflow;
using namespace ctflow::sweep;

namespace {
constexpr Decision C = Decision::Continue;
constexpr Decision S = Decision::Stop;
}  // namespace

TEST_CASE("SweepPruner.AshaStopsAllButTheTopThirdAtEachRung") {
  // maximize, min_steps 1, reduction 3: rungs at steps 1, 3, 9. A trial goes
  // on when it is among the best max(1, n / 3) of the n values at the rung.
  AshaPruner p(SweepGoal::Maximize, 1, 3);
  CHECK(p.rung_step(0) == 1);
  CHECK(p.rung_step(1) == 3);
  CHECK(p.rung_step(2) == 9);
  // Rung 1 (step 1):
  CHECK(p.report(0, 1, 0.50) == C);  // [.50]: keep 1, it is the best
  CHECK(p.report(1, 1, 0.40) == S);  // [.50 .40]: keep 1; .50 is better
  CHECK(p.report(2, 1, 0.60) == C);  // 3 values, keep 1: .60 is the best
  CHECK(p.report(3, 1, 0.55) == S);  // 4 values, keep 1: .60 is better
  CHECK(p.report(4, 1, 0.45) == S);  // 5 values, keep 1: three are better
  CHECK(p.report(5, 1, 0.58) == C);  // 6 values, keep 2: only .60 is better
  // Between rungs nothing is judged.
  CHECK(p.report(0, 2, 0.10) == C);
  // Rung 2 (step 3):
  CHECK(p.report(0, 3, 0.65) == C);  // [.65]
  CHECK(p.report(2, 3, 0.70) == C);  // [.65 .70]: keep 1, .70 is the best
  CHECK(p.report(5, 3, 0.62) == S);  // 3 values, keep 1: two are better
  // A stopped trial stays stopped.
  CHECK(p.report(1, 2, 0.99) == S);
  // Rung 3 (step 9): trial 0 arrives first and goes on; trial 2, better at
  // step 3, is now behind it.
  CHECK(p.report(0, 9, 0.72) == C);
  CHECK(p.report(2, 9, 0.71) == S);
  // A first report at step 3 passes rungs 1 and 3 and is judged at both:
  // rung 1 has 7 values then, keep 2, none better than .64: go on; rung 2
  // has [.65 .70 .62 .64], keep 1, two better: stop.
  CHECK(p.report(6, 3, 0.64) == S);
}

TEST_CASE("SweepPruner.AshaMinimizesAndRungsStartAtMinSteps") {
  // minimize, min_steps 2, reduction 2: rungs at 2, 4, 8; keep max(1, n / 2).
  AshaPruner p(SweepGoal::Minimize, 2, 2);
  CHECK(p.report(0, 1, 9.0) == C);   // before the first rung: never judged
  CHECK(p.report(1, 1, 0.1) == C);
  CHECK(p.report(0, 2, 1.0) == C);   // [1.0]
  CHECK(p.report(1, 2, 2.0) == S);   // [1.0 2.0]: keep 1, 1.0 is lower
  CHECK(p.report(2, 2, 0.5) == C);   // keep 1 of 3: 0.5 is the lowest
  CHECK(p.report(3, 2, 1.0) == C);   // keep 2 of 4: only 0.5 is lower (ties go on)
  CHECK(p.report(4, 2, NAN) == S);   // not a number: the worst
  CHECK(p.report(0, 4, 0.9) == C);   // rung 4: [0.9]
  CHECK(p.report(3, 4, 0.8) == C);   // [0.9 0.8]: 0.8 is the lowest
  CHECK(p.report(2, 5, 0.95) == S);  // 3 values, keep 1: two are lower
}

TEST_CASE("SweepPruner.MedianRuleComparesBestSoFarWithTheOthersMedian") {
  // maximize, min_steps 2, warm-up 2: from step 2 on, once two other trials
  // reported at a step, a trial whose best so far is below their median stops.
  MedianPruner p(SweepGoal::Maximize, 2, 2);
  CHECK(p.report(0, 1, 0.3) == C);   // before min_steps
  CHECK(p.report(0, 2, 0.5) == C);   // no other trial at step 2
  CHECK(p.report(0, 3, 0.6) == C);
  CHECK(p.report(1, 1, 0.2) == C);
  CHECK(p.report(1, 2, 0.4) == C);   // others at 2: [.5], fewer than 2
  CHECK(p.report(1, 3, 0.7) == C);   // others at 3: [.6]
  CHECK(p.report(2, 1, 0.1) == C);   // before min_steps, however bad
  CHECK(p.report(2, 2, 0.35) == S);  // others at 2: [.5 .4], median .45 > best .35
  CHECK(p.report(3, 2, 0.45) == C);  // others: [.5 .4 .35], median .4 <= .45
  CHECK(p.report(3, 3, 0.5) == S);   // others at 3: [.6 .7], median .65 > best .5
  CHECK(p.report(4, 2, 0.9) == C);   // others: [.5 .4 .35 .45], median .425
  CHECK(p.report(4, 3, 0.1) == C);   // others at 3: [.6 .7 .5], median .6; best so far .9
  CHECK(p.report(2, 3, 0.99) == S);  // stopped stays stopped
}

TEST_CASE("SweepPruner.MedianRuleMinimizes") {
  MedianPruner p(SweepGoal::Minimize, 1, 1);
  CHECK(p.report(0, 1, 1.0) == C);  // no others
  CHECK(p.report(1, 1, 2.0) == S);  // others [1.0]: best 2.0 is worse (higher)
  CHECK(p.report(2, 1, 1.5) == C);  // others [1.0 2.0]: median 1.5, not worse
  CHECK(p.report(3, 1, 1.6) == S);  // others [1.0 2.0 1.5]: median 1.5 < 1.6
}

TEST_CASE("SweepPruner.MadeFromTheSpec") {
  SweepSpec spec;
  CHECK(make_pruner(spec) == nullptr);
  spec.early_stop = EarlyStopSpec{};
  spec.early_stop->method = EarlyStopMethod::Asha;
  spec.early_stop->min_steps = 1;
  spec.early_stop->reduction = 2;
  auto asha = make_pruner(spec);
  REQUIRE(asha);
  CHECK(asha->report(0, 1, 1.0) == C);
  CHECK(asha->report(1, 1, 0.5) == S);  // maximize by default: 0.5 is behind 1.0
  spec.early_stop->method = EarlyStopMethod::Median;
  spec.early_stop->warmup_trials = 1;
  auto med = make_pruner(spec);
  REQUIRE(med);
  CHECK(med->report(0, 1, 1.0) == C);
  CHECK(med->report(1, 1, 0.5) == S);
}
