#include "engine/triggers/tz.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ctflow::triggers {

int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2));
}

int weekday_from_days(int64_t z) { return static_cast<int>(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6); }

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool valid_zone_name(const std::string& n) {
  if (n.empty() || n.size() > 100 || n.front() == '/' || n.find("..") != std::string::npos) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
           c == '-' || c == '+';
  });
}

int64_t be(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

// Parses a POSIX TZ name: "CET" or "<+03>".
bool rule_name(const std::string& s, size_t& i, std::string& out) {
  if (i < s.size() && s[i] == '<') {
    size_t e = s.find('>', i);
    if (e == std::string::npos) return false;
    out = s.substr(i + 1, e - i - 1);
    i = e + 1;
    return true;
  }
  size_t b = i;
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
  out = s.substr(b, i - b);
  return out.size() >= 3;
}

// [+-]hh[:mm[:ss]], in seconds.
bool rule_time(const std::string& s, size_t& i, int& out) {
  int sign = 1;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
  int parts[3] = {0, 0, 0};
  for (int k = 0; k < 3; ++k) {
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (k == 0) return false;
      break;
    }
    int v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) v = v * 10 + (s[i++] - '0');
    parts[k] = v;
    if (k < 2 && i < s.size() && s[i] == ':') ++i;
    else break;
  }
  out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

bool rule_when(const std::string& s, size_t& i, TimeZone::Rule::When& w) {
  auto num = [&](int& v) {
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) v = v * 10 + (s[i++] - '0');
    return true;
  };
  if (i < s.size() && s[i] == 'M') {
    ++i;
    w.kind = 'M';
    if (!num(w.month) || i >= s.size() || s[i++] != '.' || !num(w.week) || i >= s.size() || s[i++] != '.' ||
        !num(w.day))
      return false;
    if (w.month < 1 || w.month > 12 || w.week < 1 || w.week > 5 || w.day > 6) return false;
  } else if (i < s.size() && s[i] == 'J') {
    ++i;
    w.kind = 'J';
    if (!num(w.day)) return false;
  } else {
    w.kind = 'N';
    if (!num(w.day)) return false;
  }
  w.time = 7200;
  if (i < s.size() && s[i] == '/') {
    ++i;
    if (!rule_time(s, i, w.time)) return false;
  }
  return true;
}

// Local seconds (since the epoch, read as UTC) at which W happens in YEAR.
int64_t when_local(const TimeZone::Rule::When& w, int year) {
  int64_t day = 0;
  if (w.kind == 'M') {
    const int64_t first = days_from_civil(year, static_cast<unsigned>(w.month), 1);
    const int wd = weekday_from_days(first);
    int64_t d = first + (w.day - wd + 7) % 7 + 7 * (w.week - 1);
    const int next_month = w.month == 12 ? 1 : w.month + 1;
    const int64_t month_end =
        days_from_civil(w.month == 12 ? year + 1 : year, static_cast<unsigned>(next_month), 1);
    while (d >= month_end) d -= 7;
    day = d;
  } else if (w.kind == 'J') {
    day = days_from_civil(year, 1, 1) + w.day - 1;
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (leap && w.day >= 60) ++day;
  } else {
    day = days_from_civil(year, 1, 1) + w.day;
  }
  return day * 86400 + w.time;
}

}  // namespace

bool TimeZone::parse_rule(const std::string& s, Rule& out) {
  size_t i = 0;
  int off = 0;
  if (!rule_name(s, i, out.std_type.abbr) || !rule_time(s, i, off)) return false;
  out.std_type.offset = -off;  // POSIX offsets are west of Greenwich
  out.has_dst = false;
  if (i == s.size()) return true;
  if (!rule_name(s, i, out.dst_type.abbr)) return false;
  out.dst_type.dst = true;
  out.dst_type.offset = out.std_type.offset + 3600;
  if (i < s.size() && s[i] != ',') {
    if (!rule_time(s, i, off)) return false;
    out.dst_type.offset = -off;
  }
  if (i >= s.size() || s[i++] != ',' || !rule_when(s, i, out.start) || i >= s.size() || s[i++] != ',' ||
      !rule_when(s, i, out.end))
    return false;
  out.has_dst = true;
  return i == s.size();
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const auto zone = [] {
    auto z = std::make_shared<TimeZone>();
    z->name_ = "UTC";
    z->types_.push_back({0, false, "UTC"});
    return z;
  }();
  return zone;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::load(const std::string& name) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC") return utc();
  if (!valid_zone_name(name))
    return Status::InvalidArgument("'" + name + "' is not an IANA time zone name (like Europe/Berlin or UTC)");
  const char* dir = std::getenv("TZDIR");
  const std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::NotFound("unknown time zone '" + name + "': no " + path +
                            " (an IANA name like Europe/Berlin; Debian: apt-get install tzdata)");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  auto bad = [&] { return Status::InvalidArgument("time zone file " + path + " is not a TZif file"); };
  auto u = [&](size_t at) { return reinterpret_cast<const unsigned char*>(data.data() + at); };
  if (data.size() < 44 || data.compare(0, 4, "TZif") != 0) return bad();
  auto z = std::make_shared<TimeZone>();
  z->name_ = name;
  size_t at = 0;
  const int version = data[4] ? data[4] - '0' : 1;
  for (int pass = 0; pass < (version >= 2 ? 2 : 1); ++pass) {
    if (data.size() < at + 44) return bad();
    const int64_t isut = be(u(at + 20), 4), isstd = be(u(at + 24), 4), leap = be(u(at + 28), 4);
    const int64_t timecnt = be(u(at + 32), 4), typecnt = be(u(at + 36), 4), charcnt = be(u(at + 40), 4);
    const int tsize = pass == 0 ? 4 : 8;
    const size_t body = static_cast<size_t>(timecnt * tsize + timecnt + typecnt * 6 + charcnt + leap * (tsize + 4) +
                                            isstd + isut);
    at += 44;
    if (data.size() < at + body || typecnt < 1) return bad();
    if (pass == 1 || version < 2) {
      z->transitions_.resize(static_cast<size_t>(timecnt));
      z->index_.resize(static_cast<size_t>(timecnt));
      for (int64_t k = 0; k < timecnt; ++k) z->transitions_[k] = be(u(at + k * tsize), tsize);
      const size_t idx = at + static_cast<size_t>(timecnt * tsize);
      for (int64_t k = 0; k < timecnt; ++k) {
        z->index_[k] = *u(idx + k);
        if (z->index_[k] >= typecnt) return bad();
      }
      const size_t types = idx + static_cast<size_t>(timecnt);
      const size_t chars = types + static_cast<size_t>(typecnt * 6);
      for (int64_t k = 0; k < typecnt; ++k) {
        Type t;
        t.offset = static_cast<int>(be(u(types + k * 6), 4));
        t.dst = *u(types + k * 6 + 4) != 0;
        const size_t ai = *u(types + k * 6 + 5);
        if (ai < static_cast<size_t>(charcnt)) t.abbr = std::string(data.c_str() + chars + ai);
        z->types_.push_back(t);
      }
    }
    at += body;
  }
  if (version >= 2 && at < data.size() && data[at] == '\n') {
    const size_t e = data.find('\n', at + 1);
    if (e != std::string::npos && e > at + 1) z->has_rule_ = parse_rule(data.substr(at + 1, e - at - 1), z->rule_);
  }
  return std::shared_ptr<const TimeZone>(std::move(z));
}

TimeZone::Type TimeZone::rule_type_at(int64_t t) const {
  if (!rule_.has_dst) return rule_.std_type;
  int y;
  unsigned m, d;
  civil_from_days(floor_div(t + rule_.std_type.offset, 86400), y, m, d);
  // DST starts at START local standard time and ends at END local daylight time.
  const int64_t start = when_local(rule_.start, y) - rule_.std_type.offset;
  const int64_t end = when_local(rule_.end, y) - rule_.dst_type.offset;
  const bool in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return in_dst ? rule_.dst_type : rule_.std_type;
}

const TimeZone::Type& TimeZone::type_at(int64_t t) const {
  if (transitions_.empty() || t < transitions_.front()) {
    // Before the first transition: the first standard type (RFC 8536 3.2).
    for (const auto& ty : types_)
      if (!ty.dst) return ty;
    return types_.front();
  }
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  return types_[index_[static_cast<size_t>(it - transitions_.begin() - 1)]];
}

int TimeZone::offset_at(int64_t t) const {
  if (has_rule_ && (transitions_.empty() || t >= transitions_.back())) return rule_type_at(t).offset;
  return type_at(t).offset;
}

std::string TimeZone::abbreviation_at(int64_t t) const {
  if (has_rule_ && (transitions_.empty() || t >= transitions_.back())) return rule_type_at(t).abbr;
  return type_at(t).abbr;
}

std::vector<int64_t> TimeZone::instants_of(int64_t local) const {
  // Transitions are months apart: the offsets a day either side cover both
  // readings of an overlap.
  std::vector<int64_t> out;
  for (int o : {offset_at(local - 86400), offset_at(local + 86400)}) {
    const int64_t t = local - o;
    if (offset_at(t) == o && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string TimeZone::format(int64_t t) const {
  const int off = offset_at(t);
  const int64_t local = t + off;
  int y;
  unsigned m, d;
  const int64_t days = floor_div(local, 86400);
  civil_from_days(days, y, m, d);
  const int64_t sec = local - days * 86400;
  char buf[64];
  const int ao = off < 0 ? -off : off;
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d%c%02d:%02d", y, m, d, static_cast<int>(sec / 3600),
                static_cast<int>(sec / 60 % 60), static_cast<int>(sec % 60), off < 0 ? '-' : '+', ao / 3600,
                ao / 60 % 60);
  std::string s = buf;
  const std::string abbr = abbreviation_at(t);
  if (!abbr.empty() && name_ != "UTC") s += " " + abbr;
  return s;
}

}  // namespace ctflow::triggers
