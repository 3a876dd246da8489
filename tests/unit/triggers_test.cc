// Triggers: cron parsing and next firings (time zones, DST), catch-up of
// missed slots, concurrency policies, settle logic, params from events, and
// the positioned errors of the `triggers:` block.
#include <doctest/doctest.h>

#include "engine/export/argo.h"
#include "engine/frontend_v1.h"
#include "engine/triggers/cron.h"
#include "engine/triggers/logic.h"

using namespace ctflow;            // NOLINT: test file
using namespace ctflow::triggers;  // NOLINT: test file

namespace {

int64_t utc(int y, unsigned m, unsigned d, int h, int mi) { return days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60; }

CronSchedule cron(const std::string& text, const std::string& zone = "UTC") {
  auto z = TimeZone::load(zone);
  REQUIRE_MESSAGE(z.ok(), z.message());
  auto c = parse_cron(text, *z);
  REQUIRE_MESSAGE(c.ok(), c.message());
  return *c;
}

}  // namespace

TEST_CASE("Europe/Berlin from the TZif file: offsets either side of both changes, and after 2037 (the footer rule)") {
  auto z = TimeZone::load("Europe/Berlin");
  REQUIRE(z.ok());
  CHECK((*z)->offset_at(utc(2026, 3, 29, 0, 59)) == 3600);
  CHECK((*z)->offset_at(utc(2026, 3, 29, 1, 0)) == 7200);
  CHECK((*z)->offset_at(utc(2026, 10, 25, 0, 59)) == 7200);
  CHECK((*z)->offset_at(utc(2026, 10, 25, 1, 0)) == 3600);
  CHECK((*z)->offset_at(utc(2045, 7, 1, 12, 0)) == 7200);
  CHECK((*z)->offset_at(utc(2045, 12, 1, 12, 0)) == 3600);
  CHECK((*z)->format(utc(2026, 7, 1, 10, 0)) == "2026-07-01T12:00:00+02:00 CEST");
  CHECK(!TimeZone::load("Europe/Atlantis").ok());
  CHECK(!TimeZone::load("../etc/passwd").ok());
}

TEST_CASE("cron fields: lists, ranges, steps, names, macros; errors say which field") {
  CronSchedule c = cron("*/15 9-17 * * MON-FRI");
  CHECK(c.minute.count() == 4);
  CHECK(c.hour.count() == 9);
  CHECK(c.dow.count() == 5);
  CHECK(cron("@daily").hour.count() == 1);
  CHECK(cron("0 0 * * 7").dow[0]);  // 7 is Sunday
  CHECK(cron("@every 1h30m").every_s == 5400);
  auto bad = parse_cron("61 * * * *", nullptr);
  REQUIRE(!bad.ok());
  CHECK(bad.message().find("minute") != std::string::npos);
  CHECK(!parse_cron("0 0 * *", nullptr).ok());
  CHECK(!parse_cron("@every 0s", nullptr).ok());
  CHECK(!parse_cron("@sometimes", nullptr).ok());
  CHECK(!parse_cron("5-1 * * * *", nullptr).ok());
}

TEST_CASE("a schedule that can never fire is found; a leap day can") {
  CHECK(!cron("0 0 31 2 *").can_fire());
  CHECK(!cron("0 0 31 4,6,9,11 *").can_fire());
  CHECK(cron("0 0 29 2 *").can_fire());
  CHECK(cron("0 0 29 2 *").next_after(utc(2026, 1, 1, 0, 0)) == utc(2028, 2, 29, 0, 0));
  CHECK(cron("0 0 31 2 1").can_fire());  // day-of-month OR day-of-week: Mondays in February
}

TEST_CASE("next firings in UTC: day fields (robfig's OR when both are set), @every on epoch multiples") {
  CHECK(cron("0 3 * * *").next_after(utc(2026, 12, 7, 3, 0)) == utc(2026, 12, 8, 3, 0));
  CHECK(cron("0 3 * * *").next_after(utc(2026, 12, 7, 2, 59)) == utc(2026, 12, 7, 3, 0));
  // 2026-11-13 is a Friday; "13th or Friday": the next after Nov 10 is Fri Nov 13, then Fri Nov 20.
  auto c = cron("0 0 13 * 5");
  CHECK(c.next_after(utc(2026, 11, 10, 0, 0)) == utc(2026, 11, 13, 0, 0));
  CHECK(c.next_after(utc(2026, 11, 13, 0, 0)) == utc(2026, 11, 20, 0, 0));
  CHECK(cron("@every 30s").next_after(100) == 120);
  CHECK(cron("@every 30s").next_after(120) == 150);
}

TEST_CASE("Europe/Berlin spring forward (2026-03-29 02:00 -> 03:00): a time in the gap is skipped that day") {
  auto c = cron("30 2 * * *", "Europe/Berlin");
  CHECK(c.next_after(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 30, 0, 30));  // 02:30 CEST on the 30th
  CHECK(cron("0 3 * * *", "Europe/Berlin").next_after(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 0));
  CHECK(cron("0 1 * * *", "Europe/Berlin").next_after(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 0, 0));
}

TEST_CASE("Europe/Berlin fall back (2026-10-25 03:00 -> 02:00): a fixed time fires once, an hourly job every hour") {
  auto c = cron("30 2 * * *", "Europe/Berlin");
  const int64_t first = *c.next_after(utc(2026, 10, 24, 12, 0));
  CHECK(first == utc(2026, 10, 25, 0, 30));                      // 02:30 CEST
  CHECK(*c.next_after(first) == utc(2026, 10, 26, 1, 30));       // not 02:30 CET the same night
  auto h = cron("0 * * * *", "Europe/Berlin");
  int64_t t = utc(2026, 10, 24, 23, 30);
  std::vector<int64_t> got;
  for (int i = 0; i < 3; ++i) got.push_back(t = *h.next_after(t));
  CHECK(got == std::vector<int64_t>{utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 2, 0)});
}

TEST_CASE("missed slots: catchup latest, all, none, and starting_deadline") {
  Trigger t;
  t.schedules = {"@every 1s"};
  auto crons = compile_schedules(t);
  REQUIRE(crons.ok());
  auto fired = [&](const std::vector<SlotDecision>& ds) {
    std::vector<int64_t> out;
    for (const auto& d : ds)
      if (d.fire) out.push_back(d.slot_s);
    return out;
  };
  auto due = plan_due_slots(t, *crons, 100, 110, 1000, nullptr, 0);
  CHECK(due.size() == 10);
  CHECK(fired(due) == std::vector<int64_t>{110});
  CHECK(due[0].reason.find("catchup is latest") != std::string::npos);
  t.catchup = Catchup::All;
  CHECK(fired(plan_due_slots(t, *crons, 100, 110, 1000, nullptr, 0)).size() == 10);
  t.starting_deadline_s = 3;
  CHECK(fired(plan_due_slots(t, *crons, 100, 110, 1000, nullptr, 0)) == std::vector<int64_t>{107, 108, 109, 110});
  t.starting_deadline_s = 0;
  t.catchup = Catchup::None;
  CHECK(fired(plan_due_slots(t, *crons, 100, 110, 1000, nullptr, 0)) == std::vector<int64_t>{110});
  CHECK(fired(plan_due_slots(t, *crons, 100, 110, 1000, nullptr, 0)).size() == 1);
  CHECK(fired(plan_due_slots(t, *crons, 100, 100, 1000, nullptr, 0)).empty());
  int64_t older = 0;
  auto capped = plan_due_slots(t, *crons, 0, 100000, 50, &older, 0);
  CHECK(capped.size() == 50);
  CHECK(older == 100000 - 50);
  CHECK(capped.back().slot_s == 100000);
}

TEST_CASE("concurrency: allow up to max_active, forbid, replace") {
  Trigger t;
  CHECK(decide_concurrency(t, {}).action == ConcurrencyDecision::Action::Start);
  CHECK(decide_concurrency(t, {"r1", "r2"}).action == ConcurrencyDecision::Action::Start);
  auto capped = decide_concurrency(t, {"r1", "r2", "r3"});
  CHECK(capped.action == ConcurrencyDecision::Action::Skip);
  CHECK(capped.reason.find("max_active 3") != std::string::npos);
  t.concurrency = Concurrency::Forbid;
  CHECK(decide_concurrency(t, {"r1"}).action == ConcurrencyDecision::Action::Skip);
  CHECK(decide_concurrency(t, {}).action == ConcurrencyDecision::Action::Start);
  t.concurrency = Concurrency::Replace;
  CHECK(decide_concurrency(t, {"r1"}).action == ConcurrencyDecision::Action::Replace);
}

TEST_CASE("settle: an entry fires once it stopped changing for the settle time, and again only after a change") {
  SettleTracker s;
  s.observe("a", "1:10:5", 0);
  CHECK(s.settled(400, 500).empty());
  s.observe("a", "1:20:6", 400);  // still being written
  CHECK(s.settled(800, 500).empty());
  CHECK(s.settled(900, 500) == std::vector<std::string>{"a"});
  CHECK(s.settled(5000, 500).empty());  // fired with this signature
  s.observe("a", "1:30:7", 6000);
  CHECK(s.settled(6500, 500) == std::vector<std::string>{"a"});
  s.forget_missing({});
  CHECK(s.signature("a").empty());
}

TEST_CASE("a trigger's params from its event") {
  Trigger t;
  t.name = "hook";
  t.params = {{"data", "{{event.body.data}}"}, {"note", "at {{event.time}}"}, {"n", "{{event.body.n}}"}};
  Value ev = {{"time", "2026-12-07T03:00:00Z"}, {"body", {{"data", "/srv/x"}, {"n", 3}}}};
  auto p = render_params(t, ev);
  REQUIRE_MESSAGE(p.ok(), p.message());
  CHECK(p->at("data") == "/srv/x");
  CHECK(p->at("note") == "at 2026-12-07T03:00:00Z");
  CHECK(p->at("n") == "3");
  auto missing = render_params(t, Value{{"time", "x"}, {"body", Value::object()}});
  CHECK(!missing.ok());
}

TEST_CASE("the triggers: block: every mistake with its line and column") {
  const std::string text = R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: t}
params: {data: ""}
triggers:
  a: {schedule: "0 0 31 2 *"}
  b: {schedule: "0 3 * * *", timezone: Mars/Olympus}
  c: {watch: /tmp/in, settle: forever}
  d: {webhook: {token: X}}
  e: {schedule: "@daily", concurrency: sometimes}
  f: {watch: /tmp/in, params: {dat: "{{event.path}}"}}
  g: {webhook: {}, params: {data: "{{event.path}}"}}
  h: {drift: {server: "http://127.0.0.1:8081", model: m}}
  i: {schedule: "@hourly", settle: 5s}
  ok: {schedule: ["0 3 * * *", "@every 30s"], timezone: Europe/Berlin, catchup: all, starting_deadline: 1h}
steps:
  s: {run: [echo]}
)";
  LoadResult r = parse_workflow_text(text, "wf.yaml", {});
  std::map<int, std::string> by_line;
  for (const auto& d : r.diags.items()) by_line[d.pos.line] += d.message + "\n";
  CHECK(by_line[6].find("can never fire") != std::string::npos);
  CHECK(by_line[7].find("Mars/Olympus") != std::string::npos);
  CHECK(by_line[8].find("'settle'") != std::string::npos);
  CHECK(by_line[9].find("unknown key 'token'") != std::string::npos);
  CHECK(by_line[10].find("allow, forbid or replace") != std::string::npos);
  CHECK(by_line[11].find("does not declare") != std::string::npos);
  CHECK(by_line[12].find("event.path") != std::string::npos);
  CHECK(by_line[13].find("needs 'above'") != std::string::npos);
  CHECK(by_line[14].find("belongs to a watch trigger") != std::string::npos);
  CHECK(by_line.count(15) == 0);
  CHECK(r.diags.items()[0].pos.col > 1);
  REQUIRE(r.workflow);
  const Trigger& ok = r.workflow->triggers.back();
  CHECK(ok.schedules.size() == 2);
  CHECK(ok.catchup == Catchup::All);
  CHECK(ok.starting_deadline_s == 3600);
}

TEST_CASE("export argo: schedule triggers make a CronWorkflow; a watch trigger is an error with its position") {
  const std::string text = R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: nightly}
triggers:
  a: {schedule: "0 3 * * *", timezone: Europe/Berlin, concurrency: replace, starting_deadline: 90s}
  b: {schedule: "@hourly", timezone: Europe/Berlin, concurrency: replace, starting_deadline: 90s}
steps:
  s: {run: [echo]}
)";
  LoadResult r = parse_workflow_text(text, "wf.yaml", {});
  REQUIRE(r.ok());
  auto y = export_argo(*r.workflow, Value::object());
  REQUIRE_MESSAGE(y.ok(), y.message());
  CHECK(y->find("kind: CronWorkflow") != std::string::npos);
  CHECK(y->find("schedules:\n    - '0 3 * * *'\n    - '@hourly'") != std::string::npos);
  CHECK(y->find("timezone: Europe/Berlin") != std::string::npos);
  CHECK(y->find("concurrencyPolicy: Replace") != std::string::npos);
  CHECK(y->find("startingDeadlineSeconds: 90") != std::string::npos);
  CHECK(y->find("workflowSpec:") != std::string::npos);

  LoadResult w = parse_workflow_text(R"(apiVersion: ctflow/v1
kind: Workflow
metadata: {name: w}
triggers:
  drop: {watch: /srv/in}
steps:
  s: {run: [echo]}
)", "w.yaml", {});
  REQUIRE(w.ok());
  auto bad = export_argo(*w.workflow, Value::object());
  REQUIRE(!bad.ok());
  CHECK(bad.message().find("w.yaml:5:3") != std::string::npos);
  ArgoExportOptions skip;
  skip.skip_triggers = true;
  auto plain = export_argo(*w.workflow, Value::object(), skip);
  REQUIRE(plain.ok());
  CHECK(plain->find("kind: Workflow") != std::string::npos);
}
