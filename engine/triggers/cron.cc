#include "engine/triggers/cron.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "engine/ir.h"

namespace ctflow::triggers {
namespace {

const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Field {
  const char* name;
  int lo, hi;
  const char* const* names;  // nullptr or NAME_COUNT names, the first for LO
  int name_count = 0;
};

std::optional<int> field_value(const std::string& s, const Field& f) {
  if (f.names) {
    for (int i = 0; i < f.name_count; ++i)
      if (lower(s) == f.names[i]) return f.lo + i;
  }
  if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  return std::stoi(s);
}

// One field: a comma list of *, N, N-M, each optionally /STEP. Sets BITS[lo..hi].
Status parse_field(const std::string& text, const Field& f, std::vector<bool>& bits, bool& star) {
  bits.assign(static_cast<size_t>(f.hi + 1), false);
  star = false;
  std::stringstream ss(text);
  std::string part;
  const std::string where = std::string("the ") + f.name + " field '" + text + "'";
  while (std::getline(ss, part, ',')) {
    if (part.empty()) return Status::InvalidArgument(where + " has an empty list entry");
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      auto st = field_value(part.substr(slash + 1), {f.name, 1, 1000, nullptr});
      if (!st || *st < 1) return Status::InvalidArgument(where + ": the step after '/' must be a positive number");
      step = *st;
      part = part.substr(0, slash);
      if (part.find('-') == std::string::npos && part != "*" && part != "?") part += "-" + std::to_string(f.hi);
    }
    int a = f.lo, b = f.hi;
    if (part == "*" || part == "?") {
      if (step == 1) star = true;
    } else if (auto dash = part.find('-'); dash != std::string::npos) {
      auto x = field_value(part.substr(0, dash), f), y = field_value(part.substr(dash + 1), f);
      if (!x || !y) return Status::InvalidArgument(where + ": '" + part + "' is not a range like 1-5");
      a = *x;
      b = *y;
    } else {
      auto x = field_value(part, f);
      if (!x) return Status::InvalidArgument(where + ": '" + part + "' is not a number" + (f.names ? " or a name" : ""));
      a = b = *x;
    }
    if (f.lo == 0 && f.hi == 6 && b == 7) b = a == 7 ? (a = 0) : 6;  // 7 is Sunday too
    if (a < f.lo || b > f.hi)
      return Status::InvalidArgument(where + ": " + std::to_string(a < f.lo ? a : b) + " is out of range " +
                                     std::to_string(f.lo) + "-" + std::to_string(f.hi));
    if (a > b) return Status::InvalidArgument(where + ": the range " + part + " runs backwards");
    for (int v = a; v <= b; v += step) bits[static_cast<size_t>(v)] = true;
  }
  return Status::Ok();
}

template <size_t N>
void to_bits(const std::vector<bool>& v, std::bitset<N>& out) {
  for (size_t i = 0; i < N && i < v.size(); ++i) out[i] = v[i];
}

int days_in_month(int y, unsigned m) {
  static const int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDaysIn[m - 1];
}

}  // namespace

Result<CronSchedule> parse_cron(const std::string& raw, std::shared_ptr<const TimeZone> zone) {
  CronSchedule s;
  s.text = raw;
  s.zone = zone ? std::move(zone) : TimeZone::utc();
  std::string text = raw;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
  if (text.rfind("@every", 0) == 0) {
    std::string d = text.substr(6);
    while (!d.empty() && d.front() == ' ') d.erase(0, 1);
    auto secs = parse_duration(d);
    if (d.empty() || !secs || *secs < 1)
      return Status::InvalidArgument("'@every' takes a duration of at least 1s, like '@every 30s' or '@every 1h'");
    s.every_s = static_cast<int64_t>(*secs);
    return s;
  }
  if (!text.empty() && text[0] == '@') {
    static const std::pair<const char*, const char*> kMacros[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}};
    const char* found = nullptr;
    for (const auto& [k, v] : kMacros)
      if (lower(text) == k) found = v;
    if (!found)
      return Status::InvalidArgument("unknown schedule macro '" + text +
                                     "': use @yearly, @monthly, @weekly, @daily, @hourly or '@every 30s'");
    text = found;
  }
  std::vector<std::string> fields;
  std::stringstream ss(text);
  for (std::string f; ss >> f;) fields.push_back(f);
  if (fields.size() != 5)
    return Status::InvalidArgument("a schedule has 5 fields (minute hour day-of-month month day-of-week), like "
                                   "'0 3 * * *'; got " + std::to_string(fields.size()));
  const Field kFields[] = {{"minute", 0, 59, nullptr},
                           {"hour", 0, 23, nullptr},
                           {"day-of-month", 1, 31, nullptr},
                           {"month", 1, 12, kMonths, 12},
                           {"day-of-week", 0, 6, kDays, 7}};
  std::vector<bool> bits;
  bool star = false;
  for (int i = 0; i < 5; ++i) {
    // Day of week 7 (Sunday) is allowed: widen the range while parsing.
    Field f = kFields[i];
    if (i == 4) f.hi = 7;
    if (Status st = parse_field(fields[static_cast<size_t>(i)], f, bits, star); !st) return st;
    switch (i) {
      case 0: to_bits(bits, s.minute); break;
      case 1: to_bits(bits, s.hour); s.hour_star = star; break;
      case 2: to_bits(bits, s.dom); s.dom_star = star; break;
      case 3: to_bits(bits, s.month); break;
      default:
        if (bits.size() > 7 && bits[7]) bits[0] = true;
        to_bits(bits, s.dow);
        s.dow_star = star;
    }
  }
  return s;
}

bool CronSchedule::can_fire() const {
  if (every_s > 0) return true;
  if (!dow_star && !dom_star) return true;  // either matches: some weekday always comes
  if (dom_star) return dow.any() && month.any();
  for (unsigned m = 1; m <= 12; ++m) {
    if (!month[m]) continue;
    for (int d = 1; d <= days_in_month(2000, m); ++d)  // 2000: a leap year
      if (dom[static_cast<size_t>(d)]) return true;
  }
  return false;
}

std::optional<int64_t> CronSchedule::next_after(int64_t t) const {
  if (every_s > 0) return (t >= 0 ? t / every_s + 1 : -((-t) / every_s)) * every_s;
  const auto& z = zone ? *zone : *TimeZone::utc();
  // Walk local dates from the day before T's (an offset can move it), in wall time.
  int64_t day = (t + z.offset_at(t)) / 86400 - 1;
  for (int n = 0; n < 366 * 10 + 3; ++n, ++day) {
    int y;
    unsigned m, d;
    civil_from_days(day, y, m, d);
    if (!month[m]) continue;
    const bool dom_ok = dom[d], dow_ok = dow[static_cast<size_t>(weekday_from_days(day))];
    // robfig: when either day field is *, both must match; else either.
    if (dom_star || dow_star ? !(dom_ok && dow_ok) : !(dom_ok || dow_ok)) continue;
    // The earliest instant after T this day (an overlap puts instants out of wall order).
    std::optional<int64_t> best;
    for (int h = 0; h < 24; ++h) {
      if (!hour[static_cast<size_t>(h)]) continue;
      for (int mi = 0; mi < 60; ++mi) {
        if (!minute[static_cast<size_t>(mi)]) continue;
        const int64_t local = day * 86400 + h * 3600 + mi * 60;
        const auto instants = z.instants_of(local);
        for (size_t k = 0; k < instants.size(); ++k) {
          if (k > 0 && !hour_star) break;  // a fixed-time job fires once in an overlap
          if (instants[k] > t && (!best || instants[k] < *best)) best = instants[k];
        }
      }
    }
    if (best) return best;
  }
  return std::nullopt;
}

std::string schedule_problem(const std::string& text, std::shared_ptr<const TimeZone> zone) {
  auto c = parse_cron(text, std::move(zone));
  if (!c) return "bad schedule '" + text + "': " + c.message();
  if (!c->can_fire())
    return "schedule '" + text + "' can never fire: no month has that day (check day-of-month and month)";
  return "";
}

}  // namespace ctflow::triggers
