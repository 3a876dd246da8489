// Metrics from any step, read while it runs. The engine gives every step
// CTFLOW_METRICS, a file to which the step appends JSON lines
//   {"name": "val_accuracy", "value": 0.91, "step": 3}      (step optional)
// or, written whole at its end, Kubeflow's mlpipeline-metrics.json:
//   {"metrics": [{"name": "accuracy", "numberValue": 0.91, "format": "PERCENTAGE"}]}
// A line {"progress": {"done": 3, "total": 10, "message": "epoch 3/4"}}
// reports progress instead (total and message optional; the last one wins).
// Bad lines are warnings (line number and why), never errors: a step's
// metrics never fail it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace ctflow {

struct StepMetricPoint {
  std::string name;
  double value = 0;
  std::optional<int64_t> step;  // none: the step did not say
  int64_t line = 0;             // where it was read (1-based)
};

struct MetricsWarning {
  int64_t line = 0;  // 1-based; 0: the file as a whole
  std::string message;
  std::string text() const;  // "metrics line 3: ..." or "metrics: ..."
};

// What a step said of how far it is: DONE of TOTAL (0: unknown), a short message.
struct StepProgress {
  double done = 0;
  double total = 0;
  std::string message;
  bool operator==(const StepProgress&) const = default;
};

struct MetricsBatch {
  std::vector<StepMetricPoint> points;
  std::vector<MetricsWarning> warnings;
  std::optional<StepProgress> progress;  // the latest progress line, if any
  bool empty() const { return points.empty() && warnings.empty() && !progress; }
  void append(MetricsBatch&& other);
};

// Parses the metrics file as its bytes arrive. feed() takes the bytes
// appended since the last call and returns the points of the lines they
// complete; a line without its newline yet waits for the next feed.
// finish() (the step has ended) reads what is left, the last line with or
// without its newline. A file whose first line is not a JSON line but starts
// a JSON document ("{" alone, as a pretty-printed mlpipeline-metrics.json) is
// kept whole and read at finish(): Kubeflow's format, or, when it is not,
// line by line with a warning for each bad line.
class MetricsParser {
 public:
  static constexpr size_t kMaxLine = 1 << 20;        // longer lines are skipped with a warning
  static constexpr size_t kMaxDocument = 16 << 20;   // a whole-file document at most this big

  MetricsBatch feed(std::string_view bytes);
  MetricsBatch finish();

 private:
  void take_line(std::string_view line, MetricsBatch& out);
  void replay_lines(const std::string& text, MetricsBatch& out);  // TEXT's lines from document_line_

  std::string partial_;       // the bytes of the line not yet ended
  bool skipping_ = false;     // inside an over-long line: drop bytes up to its newline
  int64_t line_ = 0;          // lines completed so far
  bool seen_content_ = false; // a non-blank line has been read
  bool document_ = false;     // keeping the whole file for finish()
  std::string document_text_;
  int64_t document_line_ = 0; // where the document began
};

// The object under "progress" of a progress line; its warning otherwise.
Result<StepProgress> parse_progress(const nlohmann::json& j);

// One JSON line; its warning otherwise ("not JSON: ...", "missing 'value'").
Result<StepMetricPoint> parse_metric_line(std::string_view line);

// Kubeflow's mlpipeline-metrics.json. A malformed entry is a warning and the
// others are still read; a text that is not that format at all is an error.
// "format" (RAW or PERCENTAGE) only says how Kubeflow shows the number: the
// value is kept as written.
Result<MetricsBatch> parse_kfp_metrics(std::string_view text);

// Reads the metrics file at PATH as it grows: poll() parses what was
// appended since the last poll (nothing when the file does not exist yet);
// finish() then reads what is left. A file that shrank (rewritten) is read
// again from its start, with a warning.
class MetricsFileReader {
 public:
  explicit MetricsFileReader(std::string path) : path_(std::move(path)) {}
  MetricsBatch poll();
  MetricsBatch finish();
  uint64_t offset() const { return offset_; }

 private:
  std::string path_;
  uint64_t offset_ = 0;
  MetricsParser parser_;
};

}  // namespace ctflow
