#include "engine/step_progress.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "base/json_text.h"
#include "engine/run/log_file.h"

namespace ctflow {

std::string progress_line(double done, double total, const std::string& message) {
  Json p = {{"done", done}};
  if (total > 0) p["total"] = total;
  if (!message.empty()) p["message"] = message;
  return json_text(Json{{"progress", p}}) + "\n";
}

std::string metric_line(const std::string& name, int64_t step, double value) {
  return json_text(Json{{"name", name}, {"value", value}, {"step", step}}) + "\n";
}

bool append_line(const std::string& path, const std::string& line) {
  const int fd = open_append(path);
  if (fd < 0) return false;
  ssize_t n = ::write(fd, line.data(), line.size());
  ::close(fd);
  return n == static_cast<ssize_t>(line.size());
}

bool ProgressWriter::report(double done, double total, const std::string& message, int64_t now_ms) {
  if (!std::isfinite(done) || !std::isfinite(total)) return false;
  if (path_.empty()) return true;
  if (now_ms < 0)
    now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  std::string line = progress_line(done, total, message);
  std::lock_guard<std::mutex> lock(mu_);
  if (last_write_ms_ && now_ms - *last_write_ms_ < min_interval_ms_) {
    pending_ = std::move(line);  // too soon: the latest waits
    return true;
  }
  pending_.clear();
  last_write_ms_ = now_ms;
  write_locked(line);
  return true;
}

void ProgressWriter::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_.empty()) return;
  write_locked(pending_);
  pending_.clear();
}

// Progress never fails a step: a line that cannot be written is dropped.
void ProgressWriter::write_locked(const std::string& line) {
  if (append_line(path_, line)) ++written_;
}

void ProgressBoard::update(const std::string& step, double done, double total, const std::string& message,
                           double now_s) {
  auto [it, fresh] = steps_.try_emplace(step);
  Entry& e = it->second;
  if (fresh || done < e.done) {  // a first report, or the step started over (a retry)
    e.first_done = done;
    e.first_s = now_s;
  }
  e.done = done;
  e.total = total;
  e.at_s = now_s;
  e.message = message;
}

std::optional<double> ProgressBoard::seconds_left(const std::string& step, double now_s) const {
  auto it = steps_.find(step);
  if (it == steps_.end()) return std::nullopt;
  const Entry& e = it->second;
  const double worked = e.done - e.first_done, took = e.at_s - e.first_s;
  if (e.total <= 0 || worked <= 0 || took <= 0) return std::nullopt;
  const double left = (e.total - e.done) / (worked / took) - (now_s - e.at_s);
  return std::max(0.0, left);
}

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char b[48];
  if (s < 60) std::snprintf(b, sizeof b, "%ld s", s);
  else if (s < 3600) std::snprintf(b, sizeof b, "%ld min %ld s", s / 60, s % 60);
  else std::snprintf(b, sizeof b, "%ld h %ld min", s / 3600, (s % 3600) / 60);
  return b;
}

std::string ProgressBoard::text(const std::string& step, double now_s) const {
  auto it = steps_.find(step);
  if (it == steps_.end()) return "";
  const Entry& e = it->second;
  std::string out;
  if (e.total > 0) {
    const double pct = std::clamp(100.0 * e.done / e.total, 0.0, 100.0);
    out = std::to_string(static_cast<int>(pct)) + "%";
  }
  if (!e.message.empty()) out += (out.empty() ? "" : " ") + e.message;
  if (out.empty()) {
    char b[48];
    std::snprintf(b, sizeof b, "%g done", e.done);
    out = b;
  }
  if (auto left = seconds_left(step, now_s)) out += ", " + format_duration(*left) + " left";
  return out;
}

}  // namespace ctflow
