// Progress of long work, both ends of it.
//
// A step reports progress by appending a line to its CTFLOW_METRICS file
// (engine/step_metrics.h) beside its metric lines:
//   {"progress": {"done": 3, "total": 10, "message": "epoch 3/4 loss 0.81"}}
// ("total" and "message" optional). ProgressWriter writes those lines for
// plugins (the host's `progress` function), rate-limited so that a plugin
// may report after every batch. ProgressBoard turns the reports the engine
// passes on into the text a person reads: "63% epoch 3/4 loss 0.81, 40 s
// left", the time left from the rate since the step's first report.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace ctflow {

// The JSON line (with its newline) for one report; total <= 0 and an empty
// message are left out. Bytes of MESSAGE that are not UTF-8 become U+FFFD.
std::string progress_line(double done, double total, const std::string& message);

// The JSON line (with its newline) of one metric point, as a step writes it:
// {"name": NAME, "value": VALUE, "step": STEP}.
std::string metric_line(const std::string& name, int64_t step, double value);

// Appends LINE to PATH with one write(2) on an O_APPEND descriptor, so that the
// engine, reading the file while the step runs, never sees two lines
// interleaved. False when it could not be written whole.
bool append_line(const std::string& path, const std::string& line);

// Appends progress lines to PATH: at most one per MIN_INTERVAL_MS; a report
// that comes sooner waits, replaced by any later one, and is written by the
// next report after the interval or by flush() (the step's end), so the last
// report always lands. An empty PATH makes every call a no-op. Safe to call
// from several threads.
class ProgressWriter {
 public:
  explicit ProgressWriter(std::string path, int64_t min_interval_ms = 100)
      : path_(std::move(path)), min_interval_ms_(min_interval_ms) {}
  ~ProgressWriter() { flush(); }
  ProgressWriter(const ProgressWriter&) = delete;
  ProgressWriter& operator=(const ProgressWriter&) = delete;

  // False when DONE or TOTAL is not finite (nothing is recorded). NOW_MS:
  // a steady clock in milliseconds; -1 reads the real one.
  bool report(double done, double total, const std::string& message, int64_t now_ms = -1);
  void flush();
  int64_t lines_written() const { return written_; }

 private:
  void write_locked(const std::string& line);

  std::string path_;
  int64_t min_interval_ms_;
  std::mutex mu_;
  std::optional<int64_t> last_write_ms_;
  std::string pending_;  // a report not yet written ("" when none)
  int64_t written_ = 0;
};

// The latest progress of each running step and the text that shows it.
class ProgressBoard {
 public:
  // Records a report of STEP at NOW_S (seconds on any steady clock).
  void update(const std::string& step, double done, double total, const std::string& message, double now_s);
  void erase(const std::string& step) { steps_.erase(step); }
  bool has(const std::string& step) const { return steps_.contains(step); }
  // "63% epoch 3/4 loss 0.81, 40 s left"; without a total "batch 120 ...";
  // "" when STEP has not reported. The time left needs two reports apart in
  // time with work done between them and a total.
  std::string text(const std::string& step, double now_s) const;
  // Seconds left for STEP at NOW_S, when it can be told.
  std::optional<double> seconds_left(const std::string& step, double now_s) const;

 private:
  struct Entry {
    double first_done = 0, first_s = 0;  // the first report
    double done = 0, total = 0, at_s = 0;  // the latest
    std::string message;
  };
  std::map<std::string, Entry> steps_;
};

// "40 s", "3 min 20 s", "1 h 5 min".
std::string format_duration(double seconds);

}  // namespace ctflow
