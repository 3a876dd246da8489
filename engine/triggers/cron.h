// Schedules as Argo's CronWorkflow reads them (robfig/cron): five fields
// (minute hour day-of-month month day-of-week) with *, lists, ranges, steps,
// month and day names, `?`; the macros @yearly @annually @monthly @weekly
// @daily @midnight @hourly; and `@every DURATION`.
//
// Next firings are computed in the schedule's time zone, in wall-clock time:
// - a wall time skipped by a spring-forward change does not fire that day (as robfig);
// - a wall time that happens twice at a fall-back change fires once (the
//   first), unless the hour field is `*`: then every hour fires, both times
//   (robfig fires a fixed-time job twice there; that is argo's double firing).
// `@every D` fires at the multiples of D since the Unix epoch, so a slot's
// time is the same whichever process computes it.
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/triggers/tz.h"

namespace ctflow::triggers {

struct CronSchedule {
  std::string text;
  int64_t every_s = 0;  // @every: the interval in seconds; 0: a cron expression
  std::bitset<60> minute;
  std::bitset<24> hour;
  std::bitset<32> dom;  // 1..31
  std::bitset<13> month;  // 1..12
  std::bitset<7> dow;   // 0 = Sunday
  bool dom_star = false, dow_star = false, hour_star = false;
  std::shared_ptr<const TimeZone> zone;

  // The first firing strictly after instant T (Unix seconds); nullopt when
  // none within 10 years.
  std::optional<int64_t> next_after(int64_t t) const;
  // Whether some date matches (a leap day counts): `0 0 31 2 *` never fires.
  bool can_fire() const;
};

// Parses TEXT; the error says which field is wrong and why.
Result<CronSchedule> parse_cron(const std::string& text, std::shared_ptr<const TimeZone> zone);
// What is wrong with TEXT as a schedule in ZONE, as a workflow's reader reports
// it (a bad field, or a schedule that can never fire); empty when it is good.
std::string schedule_problem(const std::string& text, std::shared_ptr<const TimeZone> zone);

}  // namespace ctflow::triggers
