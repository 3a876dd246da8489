// Trigger firings in a real store: a (workflow, trigger, slot) key is recorded
// once, a firing gets one run, open firings are the ones still going, and the
// counts behind /metrics.
#include <doctest/doctest.h>

#include "store/run_store.h"
#include "store/testing/scratch_dir.h"

using namespace ctflow;  // NOLINT: test file
using ctflow::testing::ScratchDir;

TEST_CASE("a firing's key is recorded once and gets one run") {
  ScratchDir dir;
  auto store = RunStore::open(dir.path() / ".ctflow");
  REQUIRE_MESSAGE(store.ok(), store.message());
  RunStore& s = **store;
  TriggerFiring f;
  f.workflow = "wf";
  f.trigger = "nightly";
  f.slot = "2026-12-07T03:00:00Z";
  f.slot_time = 1000;
  f.outcome = "pending";
  f.event = Json{{"type", "schedule"}};
  CHECK(*s.record_firing(f) == true);
  CHECK(*s.record_firing(f) == false);  // a restarted daemon does not fire it again
  auto r1 = s.create_run("wf", "wf.yaml", Json::object(), "");
  auto r2 = s.create_run("wf", "wf.yaml", Json::object(), "");
  REQUIRE(r1.ok());
  REQUIRE(r2.ok());
  CHECK(*s.attach_firing_run("wf", "nightly", f.slot, *r1) == true);
  CHECK(*s.attach_firing_run("wf", "nightly", f.slot, *r2) == false);  // a second process for it
  CHECK(*s.attach_firing_run("wf", "nightly", "no-such-slot", *r2) == false);
  auto back = s.firing_for_run(*r1);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK((*back)->outcome == "started");
  CHECK((*back)->event["type"] == "schedule");
  auto open = s.open_firings("wf");
  REQUIRE(open.ok());
  CHECK(open->size() == 1);  // its run is Running
  REQUIRE(s.finish_run(*r1, "Succeeded", "").ok());
  CHECK(s.open_firings("wf")->empty());

  TriggerFiring skipped = f;
  skipped.slot = "2026-12-08T03:00:00Z";
  skipped.slot_time = 2000;
  skipped.outcome = "skipped";
  skipped.reason = "concurrency forbid";
  CHECK(*s.record_firing(skipped));
  auto latest = s.latest_firing("wf", "nightly");
  REQUIRE(latest.ok());
  CHECK((*latest)->slot == skipped.slot);
  CHECK((*s.latest_firing("wf", "nightly", "started"))->slot == f.slot);
  CHECK(s.list_firings("wf")->size() == 2);

  auto c = s.engine_counts({1, 10});
  REQUIRE(c.ok());
  int64_t firings = 0;
  for (const auto& x : c->firings) firings += x.count;
  CHECK(firings == 2);
  REQUIRE(c->last_success.size() == 1);
  CHECK(c->last_success[0].workflow == "wf");
}

TEST_CASE("drift samples come back per model, oldest first, the last N of each") {
  ScratchDir dir;
  auto store = RunStore::open(dir.path() / ".ctflow");
  REQUIRE_MESSAGE(store.ok(), store.message());
  RunStore& s = **store;
  for (int i = 0; i < 5; ++i) {
    DriftSample d{"retrain", "drifted", "digits", 1, 1000 + i, 0.1 * i, 0.4};
    d.signals = Json{{"intensity", {{"score", 0.01 * i}, {"threshold", 0.1}}}};
    REQUIRE(s.record_drift_sample(d).ok());
  }
  REQUIRE(s.record_drift_sample(DriftSample{"other", "d", "cats", 2, 500, 0.9, 0.5}).ok());
  auto all = s.list_drift_samples();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 6);
  CHECK((*all)[0].model == "cats");
  CHECK((*all)[1].at == 1000);
  CHECK((*all)[5].score == doctest::Approx(0.4));
  CHECK((*all)[5].signals["intensity"]["score"] == doctest::Approx(0.04));
  CHECK((*all)[5].above == 0.4);
  auto last2 = s.list_drift_samples("digits", 2);
  REQUIRE(last2.ok());
  REQUIRE(last2->size() == 2);
  CHECK((*last2)[0].at == 1003);
  CHECK((*last2)[1].at == 1004);
  CHECK((*last2)[1].workflow == "retrain");
  CHECK((*last2)[1].trigger == "drifted");
  CHECK((*last2)[1].version == 1);
}
