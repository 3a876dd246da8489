// Time zones from the system's IANA database (TZif files under
// /usr/share/zoneinfo, or $TZDIR): what a schedule's `timezone` names.
// GCC 12's libstdc++ has no std::chrono tzdb, so this reads TZif itself:
// the 64-bit transition table, and the POSIX TZ rule in the footer for
// times after the last transition.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace ctflow::triggers {

class TimeZone {
 public:
  // "UTC" (or "") needs no file. NAME must look like an IANA name
  // (Europe/Berlin, America/New_York, Etc/GMT+2).
  static Result<std::shared_ptr<const TimeZone>> load(const std::string& name);
  static std::shared_ptr<const TimeZone> utc();

  const std::string& name() const { return name_; }
  // Offset from UTC in seconds at instant T (Unix seconds), and its abbreviation.
  int offset_at(int64_t t) const;
  std::string abbreviation_at(int64_t t) const;
  // The instants whose local wall time is LOCAL (seconds since the epoch read
  // as if UTC): none in a spring-forward gap, two in a fall-back overlap.
  std::vector<int64_t> instants_of(int64_t local) const;
  // "2026-03-29T03:00:00+02:00 CEST" for instant T.
  std::string format(int64_t t) const;

  struct Type {
    int offset = 0;
    bool dst = false;
    std::string abbr;
  };
  // A POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"); public for the parser.
  struct Rule {
    Type std_type, dst_type;
    bool has_dst = false;
    // Mm.w.d (kind 'M'), Jn (kind 'J', 1..365 without Feb 29) or n (kind 'N', 0..365)
    struct When {
      char kind = 'M';
      int month = 0, week = 0, day = 0;
      int time = 7200;  // seconds after local midnight
    } start, end;
  };
  // Parses a POSIX TZ string; false when it is not one.
  static bool parse_rule(const std::string& text, Rule& out);

 private:
  std::string name_;
  std::vector<int64_t> transitions_;
  std::vector<uint8_t> index_;  // type of each transition
  std::vector<Type> types_;
  bool has_rule_ = false;
  Rule rule_;
  const Type& type_at(int64_t t) const;
  Type rule_type_at(int64_t t) const;
};

// Civil-date helpers (proleptic Gregorian, UTC).
int64_t days_from_civil(int y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d);
// 0 = Sunday.
int weekday_from_days(int64_t z);

}  // namespace ctflow::triggers
