// Runs one plugin in this process: builds the host function table, gives the
// plugin its parameters (resolved, with declared defaults), collects outputs,
// artifacts, metrics and log lines. `ctflow step` calls this in a child
// process; `isolation: none` calls it inside the engine.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "engine/plugin_registry.h"

namespace ctflow {

struct PluginInvocation {
  const PluginInfo* plugin = nullptr;
  Value params = Value::object();          // resolved `with`
  std::filesystem::path out_dir;           // artifacts go to out_dir/artifacts/NAME
  std::filesystem::path work_dir;          // made on the plugin's first ask for it
  std::filesystem::path store_dir;
  std::string run_id;
  std::string step;
  int cpu_threads = 1;
  int gpus = 0;
  // The step's CTFLOW_METRICS file: the host's `progress` appends its lines
  // here (engine/step_progress.h); empty: progress goes nowhere.
  std::string metrics_path;
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(int level, const std::string&)> log;  // default: stderr
};

struct PluginOutcome {
  bool ok = false;
  std::string error;
  Value outputs = Value::object();
  std::map<std::string, std::filesystem::path> artifacts;  // written by the plugin
  Value metrics = Value::array();     // [{"name","kind","index","value"}]
  Value confusions = Value::array();  // [{"name","labels","counts"}]

  Value to_json() const;
  static PluginOutcome from_json(const Value& v);
};

PluginOutcome invoke_plugin(const PluginInvocation& inv);

}  // namespace ctflow
