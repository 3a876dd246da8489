// JUnit XML of a run (`ctflow run --junit FILE`), the format GitHub Actions
// test reporters, GitLab and Jenkins read:
//
//   <testsuites ...><testsuite name=WORKFLOW tests= failures= errors= skipped= time= timestamp=>
//     <testcase classname=WORKFLOW name=INSTANCE time=SECONDS/>            Succeeded
//     <testcase ...><skipped message="Omitted"/></testcase>                 Skipped, Omitted, Cancelled, never run
//     <testcase ...><failure message="Failed: ..." type="Failed">LOG TAIL</failure></testcase>
//     <testcase ...><error message="Errored: ..." type="Errored">LOG TAIL</error></testcase>
//
// One test case per step instance ("train", "shard[2]"; a fan-out's own row is
// left out when it has instances), in the order they started.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/run_store.h"

namespace ctflow {

// The XML for RUN and its step rows; `log_tail(step)` gives what a failed
// step's <failure>/<error> holds.
std::string junit_xml(const RunRecord& run, const std::vector<StepRecord>& steps,
                      const std::function<std::string(const StepRecord&)>& log_tail);

// The last `max_lines` lines of the file at PATH, at most `max_bytes` of them;
// "" when it cannot be read.
std::string log_tail(const std::string& path, size_t max_lines = 40, size_t max_bytes = 8192);

// Before a run: an error when OUT cannot be written (its folder cannot be made,
// or a file cannot be created there), so that nothing runs for a lost report.
Status check_junit_path(const std::string& out);

// Reads RUN_ID's rows from the store and writes the XML to OUT atomically (a
// temporary file in OUT's folder, then a rename): a reader never sees half a
// file. Missing folders on OUT's path are created.
Status write_junit(RunStore& store, const std::string& run_id, const std::string& out);

}  // namespace ctflow
