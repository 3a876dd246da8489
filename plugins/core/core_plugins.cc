// The core plugins: noop, echo, sleep, fail, production. Small on purpose; the
// tests and the engine benchmark use them.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "ctflow/plugin.hpp"

namespace {

using ctflow::sdk::Context;
using ctflow::sdk::PluginError;

// Records METRICS (a map of name to number, as series points at step 1) if
// given: a trivial sweep trial that reports its objective.
void noop(const Context& c) {
  auto metrics = c.param("metrics");
  if (!metrics || !metrics->is_object()) return;
  for (auto it = metrics->begin(); it != metrics->end(); ++it)
    if (it.value().is_number()) c.series(it.key().c_str(), 1, it.value().get<double>());
}

void echo(const Context& c) {
  auto message = c.require("message");
  c.info(message.is_string() ? message.get<std::string>() : message.dump());
  c.output("message", message);
}

void sleep_for(const Context& c) {
  const double seconds = c.number("seconds");
  if (seconds < 0) throw PluginError("parameter 'seconds' must not be negative");
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (c.cancelled()) throw PluginError("cancelled");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void fail(const Context& c) {
  const std::string mode = c.str("mode");
  const int code = static_cast<int>(c.integer("code"));
  if (mode == "exit") std::_Exit(code);
  if (mode == "crash") std::raise(SIGSEGV);
  if (mode == "abort") std::abort();
  if (mode == "hang") {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (mode == "error") throw PluginError("core.fail asked to fail with an error");
  throw PluginError("parameter 'mode' must be one of exit, crash, abort, hang, error; got '" + mode + "'");
}

// Which version of a model is Production now. Run it uncached (cache: false): a
// step that takes its output as a parameter is then cached per version (the
// MNIST workflow's validate compares data with the Production profile).
void production(const Context& c) {
  const std::string model = c.str("model");
  const nlohmann::json cur = c.model_current(model.c_str());
  const int64_t v = cur.is_object() ? cur.value("version", int64_t{0}) : 0;
  c.output("version", v);
  c.info(v > 0 ? model + " v" + std::to_string(v) + " is Production" : model + " has no Production version");
}

const ctflow_param_decl kNoopParams[] = {
    {"metrics", "json", "null", "metrics to record, a map of name to number (series points at step 1)"}};
const ctflow_param_decl kProductionParams[] = {{"model", "string", nullptr, "the registered model's name"}};
const ctflow_output_decl kProductionOutputs[] = {{"version", "parameter", "its Production version (0: none)"}};
const ctflow_param_decl kEchoParams[] = {{"message", "json", nullptr, "the value to log and return"}};
const ctflow_output_decl kEchoOutputs[] = {{"message", "parameter", "the message, unchanged"}};
const ctflow_param_decl kSleepParams[] = {{"seconds", "float", "1", "how long to sleep"}};
const ctflow_param_decl kFailParams[] = {
    {"mode", "string", "\"exit\"", "exit, crash (SIGSEGV), abort, hang, or error"},
    {"code", "int", "1", "exit code for mode=exit"}};

const ctflow_plugin_desc kNoop = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "core.noop", "1.0.0",
                                  "does nothing and succeeds (records 'metrics' if given)", kNoopParams, 1,
                                  nullptr, 0,
                                  ctflow::sdk::run_adapter<noop>};
const ctflow_plugin_desc kEcho = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "core.echo", "1.0.0",
                                  "logs a message and returns it as output 'message'", kEchoParams, 1,
                                  kEchoOutputs, 1, ctflow::sdk::run_adapter<echo>};
const ctflow_plugin_desc kSleep = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "core.sleep", "1.0.0",
                                   "sleeps, polling for cancellation", kSleepParams, 1, nullptr, 0,
                                   ctflow::sdk::run_adapter<sleep_for>};
const ctflow_plugin_desc kFail = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "core.fail", "1.0.0",
                                  "fails on purpose: exits, crashes, aborts or hangs", kFailParams, 2, nullptr,
                                  0, ctflow::sdk::run_adapter<fail>};
const ctflow_plugin_desc kProduction = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "core.production", "1.0.0",
                                        "outputs the Production version of a model in the registry", kProductionParams, 1,
                                        kProductionOutputs, 1, ctflow::sdk::run_adapter<production>};

}  // namespace

CTFLOW_EXPORT_PLUGINS(&kNoop, &kEcho, &kSleep, &kFail, &kProduction)
