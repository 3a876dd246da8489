// RunStore: trigger firings (ctflow daemon) and the counts behind /metrics.
#include <sqlite3.h>

#include "store/run_store.h"
#include "store/sqlite_util.h"
#include "store/store_internal.h"

namespace ctflow {

namespace {

constexpr const char* kFiringColumns =
    "f.workflow, f.trigger_name, f.slot, f.slot_time, f.fired_at, f.event, f.outcome, f.reason, f.run_id, f.pid";

TriggerFiring read_firing(const Statement& r) {
  TriggerFiring f;
  f.workflow = r.text(0);
  f.trigger = r.text(1);
  f.slot = r.text(2);
  f.slot_time = r.int64(3);
  f.fired_at = r.int64(4);
  f.event = parse_json_column(r.text(5));
  f.outcome = r.text(6);
  f.reason = r.text(7);
  f.run_id = r.text(8);
  f.pid = r.int64(9);
  return f;
}

Result<std::vector<TriggerFiring>> collect_firings(Statement& st) {
  std::vector<TriggerFiring> out;
  for (;;) {
    auto row = st.next();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(read_firing(st));
  }
}

Result<std::optional<TriggerFiring>> first_firing(Statement& st) {
  auto all = collect_firings(st);
  if (!all.ok()) return all.status();
  if (all->empty()) return std::optional<TriggerFiring>();
  return std::optional<TriggerFiring>(all->front());
}

}  // namespace

Result<bool> RunStore::record_firing(const TriggerFiring& f) {
  auto st = prepare(
      "INSERT INTO trigger_firings(workflow, trigger_name, slot, slot_time, fired_at, event, outcome, reason, run_id, pid) "
      "VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(workflow, trigger_name, slot) DO NOTHING");
  if (!st.ok()) return st.status();
  st->bind(1, f.workflow).bind(2, f.trigger).bind(3, f.slot).bind(4, f.slot_time);
  st->bind(5, f.fired_at ? f.fired_at : now_ms()).bind(6, json_text(f.event)).bind(7, f.outcome).bind(8, f.reason);
  st->bind(9, f.run_id).bind(10, f.pid);
  if (Status s = st->run(); !s) return s;
  return sqlite3_changes(conn_->db()) > 0;
}

Status RunStore::update_firing(const TriggerFiring& f) {
  auto st = prepare(
      "UPDATE trigger_firings SET outcome = ?, reason = ?, run_id = ?, pid = ?, event = ? "
      "WHERE workflow = ? AND trigger_name = ? AND slot = ?");
  if (!st.ok()) return st.status();
  st->bind(1, f.outcome).bind(2, f.reason).bind(3, f.run_id).bind(4, f.pid).bind(5, json_text(f.event));
  st->bind(6, f.workflow).bind(7, f.trigger).bind(8, f.slot);
  return st->run();
}

Result<bool> RunStore::attach_firing_run(const std::string& workflow, const std::string& trigger,
                                         const std::string& slot, const std::string& run_id) {
  auto st = prepare(
      "UPDATE trigger_firings SET run_id = ?4, outcome = 'started' "
      "WHERE workflow = ?1 AND trigger_name = ?2 AND slot = ?3 AND (run_id = '' OR run_id = ?4)");
  if (!st.ok()) return st.status();
  st->bind(1, workflow).bind(2, trigger).bind(3, slot).bind(4, run_id);
  if (Status s = st->run(); !s) return s;
  return sqlite3_changes(conn_->db()) > 0;
}

Result<std::optional<TriggerFiring>> RunStore::get_firing(const std::string& workflow, const std::string& trigger,
                                                          const std::string& slot) {
  auto st = prepare(std::string("SELECT ") + kFiringColumns +
                    " FROM trigger_firings f WHERE f.workflow = ? AND f.trigger_name = ? AND f.slot = ?");
  if (!st.ok()) return st.status();
  st->bind(1, workflow).bind(2, trigger).bind(3, slot);
  return first_firing(*st);
}

Result<std::vector<TriggerFiring>> RunStore::list_firings(const std::string& workflow, const std::string& trigger,
                                                          int limit) {
  auto st = prepare(std::string("SELECT ") + kFiringColumns +
                    " FROM trigger_firings f WHERE (?1 = '' OR f.workflow = ?1) AND (?2 = '' OR f.trigger_name = ?2) "
                    "AND f.outcome != 'baseline' ORDER BY f.slot_time DESC, f.fired_at DESC LIMIT ?3");
  if (!st.ok()) return st.status();
  st->bind(1, workflow).bind(2, trigger).bind(3, static_cast<int64_t>(limit));
  return collect_firings(*st);
}

Result<std::optional<TriggerFiring>> RunStore::latest_firing(const std::string& workflow, const std::string& trigger,
                                                             const std::string& outcome) {
  auto st = prepare(std::string("SELECT ") + kFiringColumns +
                    " FROM trigger_firings f WHERE f.workflow = ?1 AND f.trigger_name = ?2 AND "
                    "(?3 = '' AND f.outcome != 'baseline' OR f.outcome = ?3) ORDER BY f.slot_time DESC LIMIT 1");
  if (!st.ok()) return st.status();
  st->bind(1, workflow).bind(2, trigger).bind(3, outcome);
  return first_firing(*st);
}

Result<std::optional<TriggerFiring>> RunStore::firing_for_run(const std::string& run_id) {
  auto st = prepare(std::string("SELECT ") + kFiringColumns + " FROM trigger_firings f WHERE f.run_id = ? LIMIT 1");
  if (!st.ok()) return st.status();
  st->bind(1, run_id);
  return first_firing(*st);
}

Result<std::vector<TriggerFiring>> RunStore::open_firings(const std::string& workflow) {
  auto st = prepare(std::string("SELECT ") + kFiringColumns +
                    " FROM trigger_firings f LEFT JOIN runs r ON r.id = f.run_id WHERE f.workflow = ? AND "
                    "(f.outcome = 'pending' OR (f.outcome = 'started' AND (r.id IS NULL OR r.status IN "
                    "('Pending','Running')))) ORDER BY f.slot_time");
  if (!st.ok()) return st.status();
  st->bind(1, workflow);
  return collect_firings(*st);
}

Result<EngineCounts> RunStore::engine_counts(const std::vector<double>& buckets) {
  EngineCounts c;
  {
    auto st = prepare("SELECT workflow, status, COUNT(*) FROM runs GROUP BY workflow, status ORDER BY 1, 2");
    if (!st.ok()) return st.status();
    for (;;) {
      auto row = st->next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      c.runs.push_back({st->text(0), st->text(1), st->int64(2)});
    }
  }
  {
    auto st = prepare("SELECT workflow, MAX(finished_at) FROM runs WHERE status = 'Succeeded' GROUP BY workflow");
    if (!st.ok()) return st.status();
    for (;;) {
      auto row = st->next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      c.last_success.push_back({st->text(0), st->int64(1)});
    }
  }
  {
    auto st = prepare(
        "SELECT workflow, trigger_name, outcome, COUNT(*) FROM trigger_firings WHERE outcome != 'baseline' "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    if (!st.ok()) return st.status();
    for (;;) {
      auto row = st->next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      c.firings.push_back({st->text(0), st->text(1), st->text(2), st->int64(3)});
    }
  }
  // Step durations: one pass, the buckets summed in SQL (no row per step leaves SQLite).
  std::string sql = "SELECT r.workflow, COUNT(*), COALESCE(SUM(d), 0)";
  for (double b : buckets) sql += ", SUM(d <= " + std::to_string(b) + ")";
  sql += " FROM (SELECT run_id, (finished_at - started_at) / 1000.0 AS d FROM steps WHERE started_at > 0 AND "
         "finished_at >= started_at AND status IN ('Succeeded','Failed','Errored')) s JOIN runs r ON r.id = s.run_id "
         "GROUP BY r.workflow ORDER BY 1";
  auto st = prepare(sql);
  if (!st.ok()) return st.status();
  for (;;) {
    auto row = st->next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    EngineCounts::Durations d;
    d.workflow = st->text(0);
    d.count = st->int64(1);
    d.sum_s = st->real(2);
    for (size_t i = 0; i < buckets.size(); ++i) d.le.push_back(st->int64(static_cast<int>(3 + i)));
    c.step_durations.push_back(std::move(d));
  }
  return c;
}

Status RunStore::record_drift_sample(const DriftSample& s) {
  auto st = prepare("INSERT INTO drift_samples(workflow, trigger_name, model, version, at, score, above, signals) "
                    "VALUES (?,?,?,?,?,?,?,?)");
  if (!st.ok()) return st.status();
  st->bind(1, s.workflow).bind(2, s.trigger).bind(3, s.model).bind(4, static_cast<int64_t>(s.version));
  st->bind(5, s.at ? s.at : now_ms()).bind(6, s.score).bind(7, s.above).bind(8, json_text(s.signals));
  return st->run();
}

Result<std::vector<DriftSample>> RunStore::list_drift_samples(const std::string& model, int limit) {
  auto st = prepare(
      "SELECT workflow, trigger_name, model, version, at, score, above, signals FROM ("
      " SELECT d.rowid AS rid, d.*, ROW_NUMBER() OVER (PARTITION BY model ORDER BY at DESC, d.rowid DESC) AS n"
      " FROM drift_samples d WHERE ?1 = '' OR model = ?1) WHERE n <= ?2 ORDER BY model, at, rid");
  if (!st.ok()) return st.status();
  st->bind(1, model).bind(2, static_cast<int64_t>(limit));
  std::vector<DriftSample> out;
  for (;;) {
    auto row = st->next();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    DriftSample d;
    d.workflow = st->text(0);
    d.trigger = st->text(1);
    d.model = st->text(2);
    d.version = static_cast<int>(st->int64(3));
    d.at = st->int64(4);
    d.score = st->real(5);
    d.above = st->real(6);
    d.signals = parse_json_column(st->text(7));
    out.push_back(std::move(d));
  }
}

}  // namespace ctflow
