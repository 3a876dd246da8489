// The daemon's decisions, apart from its timers and processes so they can be
// tested alone: which schedule slots are due after a gap (catchup and
// starting_deadline), what a concurrency policy does with the runs still
// going, when a watched entry has settled, and a trigger's params from its event.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/ir.h"
#include "engine/triggers/cron.h"

namespace ctflow::triggers {

// "2026-12-07T03:00:00Z": a schedule slot's key in the store.
std::string slot_key(int64_t t_s);

// The cron schedules of a schedule trigger, in its zone.
Result<std::vector<CronSchedule>> compile_schedules(const Trigger& t);
// The first slot of any of them strictly after AFTER (Unix seconds).
std::optional<int64_t> next_slot(const std::vector<CronSchedule>& crons, int64_t after_s);
// The next COUNT firings of a schedule trigger after NOW_S, each as
// {"local": in its zone, "utc": its slot key}; empty for other kinds.
Value next_firings(const Trigger& t, int64_t now_s, int count = 3);

// A slot that came due, and what to do with it.
struct SlotDecision {
  int64_t slot_s = 0;
  bool fire = false;
  std::string reason;  // why not, when not
};
// The slots in (LAST_S, NOW_S] (LAST_S: the last slot recorded) and, by the
// trigger's catchup and starting_deadline, which of them start a run. A slot
// within ON_TIME_S of now is on time, not missed. At most CAP slots, the
// newest; OLDER gets how many older ones were left out.
std::vector<SlotDecision> plan_due_slots(const Trigger& t, const std::vector<CronSchedule>& crons, int64_t last_s,
                                         int64_t now_s, size_t cap = 1000, int64_t* older = nullptr,
                                         int64_t on_time_s = 5);

// What the concurrency policy says about a new firing while ACTIVE runs of
// the workflow that triggers started are still going.
struct ConcurrencyDecision {
  enum class Action { Start, Skip, Replace } action = Action::Start;
  std::string reason;
};
ConcurrencyDecision decide_concurrency(const Trigger& t, const std::vector<std::string>& active_runs);

// A watched folder's entries: an entry fires once it has stopped changing
// for the settle time, and again only when it changes after that.
class SettleTracker {
 public:
  // SIGNATURE: what changes when the entry does (sizes and times).
  void observe(const std::string& entry, const std::string& signature, int64_t now_ms);
  void forget_missing(const std::vector<std::string>& present);
  // The entries settled at NOW_MS that have not fired with their current signature.
  std::vector<std::string> settled(int64_t now_ms, int64_t settle_ms);
  const std::string& signature(const std::string& entry) const;

 private:
  struct State {
    std::string signature, fired;
    int64_t changed_at = 0;
  };
  std::map<std::string, State> entries_;
};

// The entries directly under DIR (files and folders, hidden ones left out),
// each with a signature over everything inside it: count, bytes, newest mtime.
// NEWEST_NS gets each entry's newest modification time.
std::map<std::string, std::string> scan_watched(const std::string& dir, std::map<std::string, int64_t>* newest_ns);

// The trigger's params with {{event.X}} filled from EVENT, as -p texts.
Result<std::map<std::string, std::string>> render_params(const Trigger& t, const Value& event);

}  // namespace ctflow::triggers
