// Progress of long work: the host's `progress` function appends rate-limited
// JSON lines to the step's CTFLOW_METRICS file (the last report always lands),
// and the status line's text with the time left.
#include "engine/step_progress.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/json_text.h"
#include "engine/plugin_host.h"
#include "store/testing/scratch_dir.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;
namespace fs = std::filesystem;

namespace {

std::vector<Json> lines_of(const fs::path& p) {
  std::vector<Json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(json_parse(line));
  return out;
}

int g_reports = 0;
int g_bad_rc = 0;
int g_has = 0;

// A plugin that reports after every one of its 1,000 "batches", as mnist.train does.
int busy_plugin_run(ctflow_ctx* ctx, const ctflow_host_api* host, char**) {
  g_has = CTFLOW_HOST_HAS(host, progress) ? 1 : 0;
  if (!g_has) return 1;
  g_bad_rc = host->progress(ctx, std::nan(""), 10, "bad");
  for (int i = 1; i <= g_reports; ++i)
    host->progress(ctx, i, g_reports, ("batch " + std::to_string(i)).c_str());
  return 0;
}

PluginOutcome run_busy_plugin(const std::string& metrics_path, int reports) {
  static const ctflow_plugin_desc kDesc = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "test.busy", "1",
                                           "", nullptr, 0, nullptr, 0, busy_plugin_run};
  PluginInfo info;
  info.name = "test.busy";
  info.desc = LazyDesc(&kDesc);
  PluginInvocation inv;
  inv.plugin = &info;
  inv.step = "train";
  inv.metrics_path = metrics_path;
  inv.log = [](int, const std::string&) {};
  g_reports = reports;
  return invoke_plugin(inv);
}

}  // namespace

TEST_CASE("StepProgress.LineFormat") {
  CHECK(json_parse(progress_line(3, 10, "epoch 3/4 loss 0.81")) ==
        Json::parse(R"({"progress": {"done": 3, "total": 10, "message": "epoch 3/4 loss 0.81"}})"));
  // No total, no message: left out. A newline ends the line.
  CHECK(progress_line(7, 0, "") == "{\"progress\":{\"done\":7.0}}\n");
  // Bytes that are not UTF-8 do not throw.
  CHECK(json_parse(progress_line(1, 2, "bad \xff byte")).at("progress").at("message") == "bad \xEF\xBF\xBD byte");
}

TEST_CASE("StepProgress.WriterRateLimitsAndTheLastReportLands") {
  ScratchDir dir;
  const fs::path file = dir / "metrics.jsonl";
  {
    ProgressWriter w(file.string(), 100);
    CHECK(w.report(1, 10, "a", 1000));   // written
    CHECK(w.report(2, 10, "b", 1050));   // too soon: waits
    CHECK(w.report(3, 10, "c", 1090));   // replaces b
    CHECK(w.report(4, 10, "d", 1100));   // 100 ms after the first: written, c dropped
    CHECK(w.report(5, 10, "e", 1150));   // waits for the end
    CHECK_FALSE(w.report(INFINITY, 10, "x", 1500));
    CHECK(w.lines_written() == 2);
    w.flush();
    CHECK(w.lines_written() == 3);
  }
  auto lines = lines_of(file);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["progress"]["message"] == "a");
  CHECK(lines[1]["progress"]["done"] == 4);
  CHECK(lines[2]["progress"]["done"] == 5);
  // No file given: nothing written, no error.
  ProgressWriter none("");
  CHECK(none.report(1, 2, "x"));
  CHECK(none.lines_written() == 0);
}

TEST_CASE("StepProgress.HostFunctionAppendsToTheMetricsFile") {
  ScratchDir dir;
  const fs::path file = dir / "metrics.jsonl";
  {
    std::ofstream(file) << "{\"name\": \"loss\", \"value\": 0.5}\n";  // the step's own metric line stays
  }
  PluginOutcome out = run_busy_plugin(file.string(), 1000);
  REQUIRE(out.ok);
  CHECK(g_has == 1);
  CHECK(g_bad_rc == -1);
  auto lines = lines_of(file);
  // 1,000 reports in well under a second: a handful of lines, not 1,000.
  REQUIRE(lines.size() >= 3);
  CHECK(lines.size() < 50);
  CHECK(lines[0]["name"] == "loss");
  CHECK(lines[1]["progress"]["done"] == 1);
  CHECK(lines.back() == Json::parse(R"({"progress": {"done": 1000, "total": 1000, "message": "batch 1000"}})"));
  // Without a metrics file (a plugin run by hand) progress is a no-op.
  PluginOutcome quiet = run_busy_plugin("", 5);
  CHECK(quiet.ok);
}

TEST_CASE("StepProgress.BoardTextWithTimeLeft") {
  ProgressBoard b;
  CHECK(b.text("train", 0).empty());
  b.update("train", 10, 100, "epoch 1/4 loss 2.10", 5.0);
  CHECK(b.text("train", 5.0) == "10% epoch 1/4 loss 2.10");  // one report: no rate yet
  b.update("train", 63, 100, "epoch 3/4 loss 0.81", 58.0);   // 53 units in 53 s
  CHECK(b.text("train", 58.0) == "63% epoch 3/4 loss 0.81, 37 s left");
  CHECK(b.text("train", 60.0) == "63% epoch 3/4 loss 0.81, 35 s left");
  CHECK(*b.seconds_left("train", 1000.0) == 0);
  // No total: the count and message, no percentage or time left.
  b.update("embed", 120, 0, "", 1.0);
  b.update("embed", 240, 0, "", 2.0);
  CHECK(b.text("embed", 2.0) == "240 done");
  // A retry starts over: the rate is measured anew.
  b.update("train", 5, 100, "epoch 1/4", 100.0);
  CHECK(b.text("train", 100.0) == "5% epoch 1/4");
  b.erase("train");
  CHECK_FALSE(b.has("train"));
  CHECK(format_duration(200) == "3 min 20 s");
  CHECK(format_duration(3900) == "1 h 5 min");
}
