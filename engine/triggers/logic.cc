#include "engine/triggers/logic.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "engine/template.h"

namespace ctflow::triggers {

std::string slot_key(int64_t t_s) { return TimeZone::utc()->format(t_s).substr(0, 19) + "Z"; }

Value next_firings(const Trigger& t, int64_t now_s, int count) {
  Value next = Value::array();
  if (t.kind != TriggerKind::Schedule) return next;
  auto crons = compile_schedules(t);
  if (!crons) return next;
  for (int64_t at = now_s; static_cast<int>(next.size()) < count;) {
    auto n = next_slot(*crons, at);
    if (!n) break;
    next.push_back({{"local", crons->front().zone->format(*n)}, {"utc", slot_key(*n)}});
    at = *n;
  }
  return next;
}

Result<std::vector<CronSchedule>> compile_schedules(const Trigger& t) {
  auto zone = TimeZone::load(t.timezone);
  if (!zone) return zone.status();
  std::vector<CronSchedule> out;
  for (const auto& s : t.schedules) {
    auto c = parse_cron(s, *zone);
    if (!c) return c.status();
    out.push_back(std::move(*c));
  }
  return out;
}

std::optional<int64_t> next_slot(const std::vector<CronSchedule>& crons, int64_t after_s) {
  std::optional<int64_t> best;
  for (const auto& c : crons)
    if (auto n = c.next_after(after_s); n && (!best || *n < *best)) best = n;
  return best;
}

std::vector<SlotDecision> plan_due_slots(const Trigger& t, const std::vector<CronSchedule>& crons, int64_t last_s,
                                         int64_t now_s, size_t cap, int64_t* older, int64_t on_time_s) {
  std::vector<SlotDecision> due;
  if (older) *older = 0;
  // Walk forward from LAST_S; a long gap of a frequent schedule keeps only the newest CAP.
  int64_t from = last_s;
  if (crons.size() == 1 && crons[0].every_s > 0 && (now_s - last_s) / crons[0].every_s > static_cast<int64_t>(cap)) {
    const int64_t skip = (now_s - last_s) / crons[0].every_s - static_cast<int64_t>(cap);
    if (older) *older = skip;
    from = last_s + skip * crons[0].every_s;
  }
  for (auto n = next_slot(crons, from); n && *n <= now_s; n = next_slot(crons, *n)) {
    due.push_back({*n, false, ""});
    if (due.size() > cap) {
      due.erase(due.begin());
      if (older) ++*older;
    }
  }
  const int64_t deadline = t.starting_deadline_s > 0 ? static_cast<int64_t>(t.starting_deadline_s) : 0;
  std::vector<size_t> eligible;
  for (size_t i = 0; i < due.size(); ++i) {
    auto& d = due[i];
    const int64_t late = now_s - d.slot_s;
    if (deadline > 0 && late > deadline) d.reason = "missed: past its starting_deadline";
    else if (late > on_time_s && t.catchup == Catchup::None) d.reason = "missed: catchup is none";
    else eligible.push_back(i);
  }
  if (t.catchup == Catchup::All) {
    for (size_t i : eligible) due[i].fire = true;
  } else if (!eligible.empty()) {
    // latest (and none, whose only eligible slot is the one on time): the newest runs.
    const size_t last = eligible.back();
    due[last].fire = true;
    for (size_t i : eligible)
      if (i != last) due[i].reason = "missed: catchup is latest, slot " + slot_key(due[last].slot_s) + " ran instead";
  }
  return due;
}

ConcurrencyDecision decide_concurrency(const Trigger& t, const std::vector<std::string>& active) {
  ConcurrencyDecision d;
  auto list = [&] {
    std::string s;
    for (size_t i = 0; i < active.size() && i < 5; ++i) s += (i ? ", " : "") + active[i];
    if (active.size() > 5) s += ", ...";
    return s;
  };
  if (active.empty()) return d;
  if (t.concurrency == Concurrency::Forbid) {
    d.action = ConcurrencyDecision::Action::Skip;
    d.reason = "concurrency forbid: run " + list() + " is still going";
  } else if (t.concurrency == Concurrency::Replace) {
    d.action = ConcurrencyDecision::Action::Replace;
    d.reason = "concurrency replace: cancelled " + list();
  } else if (static_cast<int>(active.size()) >= t.max_active) {
    d.action = ConcurrencyDecision::Action::Skip;
    d.reason = "max_active " + std::to_string(t.max_active) + " reached: " + list() + " still going";
  }
  return d;
}

void SettleTracker::observe(const std::string& entry, const std::string& signature, int64_t now_ms) {
  auto [it, fresh] = entries_.try_emplace(entry);
  if (fresh || it->second.signature != signature) {
    it->second.signature = signature;
    it->second.changed_at = now_ms;
  }
}

void SettleTracker::forget_missing(const std::vector<std::string>& present) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = std::find(present.begin(), present.end(), it->first) == present.end() ? entries_.erase(it) : std::next(it);
}

std::vector<std::string> SettleTracker::settled(int64_t now_ms, int64_t settle_ms) {
  std::vector<std::string> out;
  for (auto& [name, s] : entries_)
    if (s.fired != s.signature && now_ms - s.changed_at >= settle_ms) {
      s.fired = s.signature;
      out.push_back(name);
    }
  return out;
}

const std::string& SettleTracker::signature(const std::string& entry) const {
  static const std::string kNone;
  auto it = entries_.find(entry);
  return it == entries_.end() ? kNone : it->second.signature;
}

std::map<std::string, std::string> scan_watched(const std::string& dir, std::map<std::string, int64_t>* newest_ns) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  std::error_code ec;
  // The later of mtime and ctime: a file moved in keeps its mtime, but its ctime is the move's.
  auto mtime_ns = [](const fs::path& p) -> int64_t {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return 0;
    const int64_t m = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    const int64_t c = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    return std::max(m, c);
  };
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // editors' and copiers' temporaries
    int64_t count = 1, bytes = 0, newest = mtime_ns(it->path());
    std::error_code e2;
    if (it->is_directory(e2)) {
      for (fs::recursive_directory_iterator r(it->path(), e2), rend; !e2 && r != rend; r.increment(e2)) {
        ++count;
        std::error_code e3;
        if (r->is_regular_file(e3)) bytes += static_cast<int64_t>(r->file_size(e3));
        newest = std::max(newest, mtime_ns(r->path()));
      }
    } else {
      bytes = static_cast<int64_t>(it->file_size(e2));
    }
    out[name] = std::to_string(count) + ":" + std::to_string(bytes) + ":" + std::to_string(newest);
    if (newest_ns) (*newest_ns)[name] = newest;
  }
  return out;
}

Result<std::map<std::string, std::string>> render_params(const Trigger& t, const Value& event) {
  std::map<std::string, std::string> out;
  auto resolve = [&](const std::string& ref) -> Result<Value> {
    if (ref.rfind("event.", 0) != 0) return Status::InvalidArgument("unknown reference '" + ref + "'");
    const Value* v = &event;
    size_t at = 6;
    while (true) {
      const size_t dot = ref.find('.', at);
      const std::string key = ref.substr(at, dot == std::string::npos ? std::string::npos : dot - at);
      if (!v->is_object() || !v->contains(key))
        return Status::InvalidArgument("the event has no '" + ref.substr(6) + "' (its fields: " +
                                       (event.is_object() ? [&] {
                                         std::string f;
                                         for (auto it = event.begin(); it != event.end(); ++it) f += (f.empty() ? "" : ", ") + it.key();
                                         return f;
                                       }() : std::string()) + ")");
      v = &(*v)[key];
      if (dot == std::string::npos) break;
      at = dot + 1;
    }
    return *v;
  };
  for (const auto& [name, text] : t.params) {
    auto v = tmpl::render(text, resolve);
    if (!v) return Status::InvalidArgument("param '" + name + "' of trigger '" + t.name + "': " + v.message());
    out[name] = v->is_string() ? v->get<std::string>() : v->dump();
  }
  return out;
}

}  // namespace ctflow::triggers
