// Live metrics from a step's CTFLOW_METRICS file: JSON lines fed in pieces,
// bad lines as warnings with their line number, and Kubeflow's
// mlpipeline-metrics.json format.
#include "engine/step_metrics.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "store/testing/scratch_dir.h"

using namespace ctflow;

namespace {

std::string warnings_of(const MetricsBatch& b) {
  std::string out;
  for (const auto& w : b.warnings) out += w.text() + "\n";
  return out;
}

void append_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out << text;
}

}  // namespace

TEST_CASE("StepMetrics.PartialLinesWaitForTheirNewline") {
  MetricsParser p;
  auto a = p.feed(R"({"name": "loss", "value": 0.5, "step": 1})" "\n" R"({"name": "lo)");
  REQUIRE(a.points.size() == 1);
  CHECK(a.points[0].name == "loss");
  CHECK(a.points[0].value == 0.5);
  CHECK(a.points[0].step == 1);
  CHECK(a.points[0].line == 1);
  CHECK(a.warnings.empty());
  auto b = p.feed(R"(ss", "value": 0.25)");  // still no newline
  CHECK(b.empty());
  auto c = p.feed("}\n{\"name\": \"acc\", \"value\": 1}\n");
  REQUIRE(c.points.size() == 2);
  CHECK(c.points[0].name == "loss");
  CHECK(c.points[0].value == 0.25);
  CHECK_FALSE(c.points[0].step.has_value());
  CHECK(c.points[0].line == 2);
  CHECK(c.points[1].name == "acc");
  CHECK(c.points[1].line == 3);
  // The last line without a newline is read when the step ends.
  CHECK(p.feed(R"({"name": "acc", "value": 0.75, "step": 2.0})").empty());
  auto d = p.finish();
  REQUIRE(d.points.size() == 1);
  CHECK(d.points[0].value == 0.75);
  CHECK(d.points[0].step == 2);
  CHECK(d.points[0].line == 4);
}

TEST_CASE("StepMetrics.FeedByteByByteGivesTheSamePoints") {
  const std::string text = "{\"name\": \"a\", \"value\": 1, \"step\": 0}\r\n\n{\"name\": \"b\", \"value\": -2.5e-3}\n";
  MetricsParser p;
  std::vector<StepMetricPoint> points;
  for (char c : text) {
    auto b = p.feed(std::string_view(&c, 1));
    CHECK(b.warnings.empty());
    points.insert(points.end(), b.points.begin(), b.points.end());
  }
  CHECK(p.finish().empty());
  REQUIRE(points.size() == 2);
  CHECK(points[0].name == "a");
  CHECK(points[0].step == 0);
  CHECK(points[1].value == -2.5e-3);
  CHECK(points[1].line == 3);  // the blank line 2 counts but gives nothing
}

TEST_CASE("StepMetrics.BadLinesAreWarningsWithTheirLineNumber") {
  MetricsParser p;
  auto b = p.feed(
      "{\"name\": \"ok\", \"value\": 1}\n"
      "epoch 3 done\n"
      "{\"value\": 1}\n"
      "{\"name\": \"x\"}\n"
      "{\"name\": \"x\", \"value\": \"0.9\"}\n"
      "{\"name\": \"x\", \"value\": 1, \"step\": -1}\n"
      "{\"name\": \"x\", \"value\": NaN}\n"
      "[1, 2]\n"
      "{\"name\": \"ok\", \"value\": 2}\n");
  REQUIRE(b.points.size() == 2);
  CHECK(b.points[1].line == 9);
  CHECK(warnings_of(b) ==
        "metrics line 2: not JSON: expected a JSON object like {\"name\": \"val_accuracy\", \"value\": 0.91, "
        "\"step\": 3}; got 'epoch 3 done'\n"
        "metrics line 3: missing 'name' (expected a JSON object like {\"name\": \"val_accuracy\", \"value\": 0.91, "
        "\"step\": 3})\n"
        "metrics line 4: missing 'value' for metric 'x'\n"
        "metrics line 5: 'value' of metric 'x' must be a number; got a string\n"
        "metrics line 6: 'step' of metric 'x' must be a non-negative integer; got -1\n"
        "metrics line 7: not JSON: NaN and Infinity are not JSON numbers (Python's json.dumps writes them): leave "
        "such a point out; got '{\"name\": \"x\", \"value\": NaN}'\n"
        "metrics line 8: expected a JSON object like {\"name\": \"val_accuracy\", \"value\": 0.91, \"step\": 3}; "
        "got a list\n");
}

TEST_CASE("StepMetrics.AnOverlongLineIsSkipped") {
  MetricsParser p;
  std::string big(MetricsParser::kMaxLine + 10, 'x');
  auto a = p.feed(big);
  REQUIRE(a.warnings.size() == 1);
  CHECK(a.warnings[0].text() == "metrics line 1: longer than 1 MiB: skipped");
  auto b = p.feed("yyy\n{\"name\": \"a\", \"value\": 3}\n");
  CHECK(b.warnings.empty());
  REQUIRE(b.points.size() == 1);
  CHECK(b.points[0].line == 2);
}

TEST_CASE("StepMetrics.KubeflowMetricsFile") {
  const std::string kfp = R"({"metrics": [
    {"name": "accuracy-score", "numberValue": 0.91, "format": "PERCENTAGE"},
    {"name": "loss", "numberValue": "0.25"},
    {"name": "bad", "numberValue": "high"},
    {"numberValue": 1},
    {"name": "odd", "numberValue": 2, "format": "PERCENT"}
  ]})";
  auto r = parse_kfp_metrics(kfp);
  REQUIRE(r.ok());
  REQUIRE(r->points.size() == 3);
  CHECK(r->points[0].name == "accuracy-score");
  CHECK(r->points[0].value == 0.91);  // kept as written: PERCENTAGE is how Kubeflow shows it
  CHECK(r->points[1].value == 0.25);
  CHECK(r->points[2].name == "odd");
  CHECK(warnings_of(*r) ==
        "metrics: metrics[2]: 'numberValue' of 'bad' must be a number\n"
        "metrics: metrics[3]: needs a 'name' (a non-empty string)\n"
        "metrics: metrics[4]: 'format' of 'odd' must be RAW or PERCENTAGE; the value is kept as written\n");
  auto bad = parse_kfp_metrics(R"({"metric": []})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.message().find("an object without a 'metrics' list") != std::string::npos);

  // The same document written to CTFLOW_METRICS, pretty-printed: kept whole
  // while the step runs, read at its end.
  MetricsParser p;
  CHECK(p.feed(kfp.substr(0, 40)).empty());
  CHECK(p.feed(kfp.substr(40)).empty());
  auto end = p.finish();
  CHECK(end.points.size() == 3);
  CHECK(end.warnings.size() == 3);
  // On one line, it is read as it arrives.
  MetricsParser one;
  auto b = one.feed(R"({"metrics": [{"name": "acc", "numberValue": 0.5, "format": "RAW"}]})" "\n");
  REQUIRE(b.points.size() == 1);
  CHECK(b.points[0].line == 1);
}

TEST_CASE("StepMetrics.AFirstLineThatOpensNoDocumentIsReadLineByLine") {
  MetricsParser p;
  CHECK(p.feed("{\n").empty());  // could be a pretty-printed document: wait
  CHECK(p.feed("{\"name\": \"a\", \"value\": 1}\n").empty());
  auto end = p.finish();  // it was not: each line on its own
  REQUIRE(end.points.size() == 1);
  CHECK(end.points[0].line == 2);
  REQUIRE(end.warnings.size() == 1);
  CHECK(end.warnings[0].line == 1);
}

TEST_CASE("StepMetrics.FileReaderReadsWhatWasAppended") {
  ctflow::testing::ScratchDir dir;
  const auto path = dir / "metrics.jsonl";
  MetricsFileReader r(path.string());
  CHECK(r.poll().empty());  // not written yet: nothing, no warning
  append_file(path, "{\"name\": \"loss\", \"value\": 1, \"step\": 1}\n{\"name\": \"lo");
  auto a = r.poll();
  REQUIRE(a.points.size() == 1);
  CHECK(r.offset() > 0);
  CHECK(r.poll().empty());
  append_file(path, "ss\", \"value\": 0.5, \"step\": 2}\nnot json");
  auto b = r.poll();
  REQUIRE(b.points.size() == 1);
  CHECK(b.points[0].value == 0.5);
  auto c = r.finish();
  CHECK(c.points.empty());
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].line == 3);
}
