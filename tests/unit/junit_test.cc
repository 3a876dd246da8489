// JUnit XML of a run: counts, one case per instance, failures with the log tail,
// skipped steps, and text that stays well-formed XML whatever a log holds.
#include "engine/junit.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace ctflow;

namespace {

StepRecord row(const std::string& name, const std::string& step, const std::string& status, int64_t start,
               int64_t end, const std::string& message = "") {
  StepRecord s;
  s.name = name;
  s.step = step;
  s.status = status;
  s.started_at = start;
  s.finished_at = end;
  s.message = message;
  return s;
}

RunRecord run() {
  RunRecord r;
  r.id = "r-1";
  r.workflow = "ci<&>";
  r.status = "Failed";
  r.started_at = 1000;
  r.finished_at = 5500;
  return r;
}

}  // namespace

TEST_CASE("Junit.CountsCasesFailuresAndSkips") {
  std::vector<StepRecord> rows = {
      row("ok", "ok", "Succeeded", 1000, 2250),
      row("fan", "fan", "Succeeded", 1000, 3000),  // the fan-out's own row: left out
      row("fan[0]", "fan", "Succeeded", 1100, 1200),
      row("fan[1]", "fan", "Failed", 1100, 1300, "exit code 3"),
      row("crash", "crash", "Errored", 2000, 2100, "cannot start"),
      row("maybe", "maybe", "Skipped", 0, 0, "skipped: when was false"),
      row("after", "after", "Omitted", 0, 0),
  };
  const std::string xml = junit_xml(run(), rows, [](const StepRecord& s) { return "tail of " + s.name + " \x1b[1;31m<x>\x1b[0m\x01"; });
  CHECK(xml.find("<testsuite name=\"ci&lt;&amp;&gt;\" tests=\"6\" failures=\"1\" errors=\"1\" skipped=\"2\" time=\"4.500\"") !=
        std::string::npos);
  CHECK(xml.find("<testcase classname=\"ci&lt;&amp;&gt;\" name=\"ok\" time=\"1.250\"/>") != std::string::npos);
  CHECK(xml.find("name=\"fan\"") == std::string::npos);
  CHECK(xml.find("<failure message=\"Failed: exit code 3\" type=\"Failed\">tail of fan[1] &lt;x&gt;\xEF\xBF\xBD</failure>") !=
        std::string::npos);
  CHECK(xml.find("<error message=\"Errored: cannot start\" type=\"Errored\">tail of crash") != std::string::npos);
  CHECK(xml.find("<skipped message=\"skipped: when was false\"/>") != std::string::npos);
  CHECK(xml.find("<skipped message=\"Omitted\"/>") != std::string::npos);
  // Started steps first, in start order; never-started ones after.
  CHECK(xml.find("name=\"fan[0]\"") < xml.find("name=\"crash\""));
  CHECK(xml.find("name=\"crash\"") < xml.find("name=\"maybe\""));
}

TEST_CASE("Junit.LogTailKeepsTheLastLines") {
  const std::string path = (std::filesystem::temp_directory_path() / ("ctflow-junit-" + std::to_string(::getpid()))).string();
  {
    std::ofstream f(path);
    for (int i = 1; i <= 100; ++i) f << "line " << i << "\n";
  }
  CHECK(log_tail(path, 3) == "line 98\nline 99\nline 100");
  CHECK(log_tail(path, 1000, 20) == "line 99\nline 100");  // a partial first line is dropped
  CHECK(log_tail("/nonexistent/log") == "");
  std::filesystem::remove(path);
}

TEST_CASE("Junit.CheckPathMakesFoldersAndRefusesWhatCannotBeWritten") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ctflow-junit-dir-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  CHECK(check_junit_path((dir / "a" / "b" / "r.xml").string()).ok());
  CHECK(fs::is_directory(dir / "a" / "b"));
  CHECK(fs::is_empty(dir / "a" / "b"));  // no file is left behind
  std::ofstream(dir / "file") << "x";
  Status st = check_junit_path((dir / "file" / "r.xml").string());
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("--junit " + (dir / "file" / "r.xml").string() + ": cannot create the folder") == 0);
  fs::remove_all(dir);
}
