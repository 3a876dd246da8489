// The ctflow command line: one function per verb, each returning the exit code
// (0 ok, 1 the run ended badly, 2 bad usage or invalid workflow, 130 Ctrl-C).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/diag.h"
#include "engine/ir.h"
#include "engine/validate.h"
#include "store/run_store.h"

namespace ctflow::cli {

constexpr int kExitOk = 0;
constexpr int kExitRunFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

struct Global {
  std::string store;  // --store, CTFLOW_STORE, or ./.ctflow
  std::filesystem::path store_dir() const;
};

// Opens the store, printing the error on failure.
std::unique_ptr<RunStore> open_store(const Global& g);
// Resolves a run reference (id, unique prefix, @latest), printing the error on failure.
std::optional<std::string> resolve_run(RunStore& store, const std::string& ref);
// Loads and validates a workflow file (either frontend); prints diagnostics.
std::optional<Workflow> load_and_validate(const std::string& file, const HostCapacity& host, bool quiet = false,
                                          const std::vector<std::string>& params = {});
// lint of one file: its errors and warnings, printed; false when it has errors,
// or (strict) warnings.
bool lint_file(const std::string& file, const HostCapacity& host, bool strict,
               const std::vector<std::string>& params = {});
std::string self_path();
// Grows and tunes the heap before a big workflow file is read (see heap.cc).
void prepare_heap(std::uintmax_t workflow_bytes);
void print_error(const std::string& message);  // "ctflow: error: MESSAGE" on stderr

struct RunArgs {
  std::string file;
  std::vector<std::string> params;
  std::string params_file;  // -f: a YAML/JSON mapping of param -> value; -p wins over it
  std::string junit;        // --junit: JUnit XML of the step instances, written when the run ends
  int parallelism = 0;
  double cpus = 0;
  int gpus = -1;
  std::string memory;
  bool no_cache = false;
  std::string output;  // "" or "json"
  std::string executor;  // Argo workflows: "" (host), host, podman or docker
  bool resume_suspended = false;  // Argo workflows: suspend templates continue (after their duration)
  std::string trigger_event;  // --trigger-event: the JSON event of the firing that starts this run (ctflow daemon)
};
int cmd_run(const Global& g, const RunArgs& a);
int cmd_resume(const Global& g, const std::string& run, const std::string& output);
int cmd_lint(const std::vector<std::string>& files, double cpus, int gpus, bool strict,
             const std::vector<std::string>& params);

struct StepArgs {
  std::string plugin, params_file, params_json, out, work, store, run_id, step;
  std::vector<std::string> param_texts;       // --param KEY=TEXT, typed by the plugin's declaration
  std::vector<std::string> publish_params;    // --publish-param NAME=FILE (Kubeflow v2)
  std::vector<std::string> publish_artifacts; // --publish-artifact NAME=PATH (Kubeflow v2)
  int cpus = 1, gpus = 0;
};
int cmd_step(const StepArgs& a);

int cmd_list(const Global& g, const std::string& output, const std::string& status, const std::string& workflow);
int cmd_get(const Global& g, const std::string& run, const std::string& output);
int cmd_logs(const Global& g, const std::string& run, const std::string& step, bool follow);
int cmd_plugins(const std::string& name, const std::string& output);
int cmd_metrics(const Global& g, const std::string& run, const std::string& step, const std::string& output);
int cmd_models(const Global& g, const std::vector<std::string>& args, const std::string& output);
int cmd_artifacts(const Global& g, const std::string& run, const std::string& step, const std::string& name,
                  const std::string& out);

struct ExportArgs {
  std::string target;  // argo or kfp
  std::string file, out, image, artifacts = "pvc", pvc;
  std::vector<std::string> params;
  bool skip_triggers = false;  // --skip-triggers: leave out triggers the target cannot express
  bool sweep_as_fanout = false;  // --sweep-as-fanout: TPE as seeded random trials, early stopping left out
};
int cmd_export(const ExportArgs& a);

int cmd_lineage(const Global& g, const std::string& ref, const std::string& output);
int cmd_data(const Global& g, const std::vector<std::string>& args);
// SWEEP non-empty: the trials of that sweep step of the one run in REFS.
int cmd_compare(const Global& g, const std::vector<std::string>& refs, const std::string& sweep,
                const std::string& output);

int cmd_daemon(const Global& g, const std::vector<std::string>& files, const std::string& addr);
int cmd_triggers(const Global& g, const std::vector<std::string>& files, const std::string& output, int limit);
// Names RUN_ID as the run of the firing EVENT describes ({"workflow", "trigger",
// "slot", ...}); false (printed) when that firing already has another run.
bool attach_trigger_event(RunStore& store, const std::string& event_json, const std::string& workflow,
                          const std::string& run_id);

// The run document of the CLI spec.
Value run_document(RunStore& store, const std::string& run_id);

}  // namespace ctflow::cli
