// The core plugins: noop, echo, sleep, fail, production, data. Small on
// purpose; the tests and the engine benchmark use them.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
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
  if (mode == "error") {
    const std::string message = c.str("message");
    throw PluginError(message.empty() ? "core.fail asked to fail with an error" : message);
  }
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

// A UTC time of day for a message, from milliseconds since the epoch.
std::string utc(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// A data set between the step that makes it and the steps that read it. Given
// the artifact PATH of this run's producer, it versions it (NAME@<first 12 hex
// of its digest>, and NAME@latest) and passes it on; given no PATH (the
// producer did not run: a later stage run alone), it gives version VERSION of
// NAME from the store. Run it uncached (cache: false): NAME@latest moves.
void data(const Context& c) {
  const std::string name = c.str("name"), path = c.str("path"), version = c.str("version"), hint = c.str("hint");
  if (name.empty() || name.find('@') != std::string::npos || name.find('/') != std::string::npos)
    throw PluginError("parameter 'name' must be a data set name (no '@' or '/'), got '" + name + "'");
  const std::string ref = path.empty() ? name + "@" + version : path;
  const nlohmann::json v = c.data_resolve(ref);
  if (v.is_null() && !path.empty())
    throw PluginError("parameter 'path': '" + path + "' is not an artifact in the run's store "
                      "(give {{steps.STEP.artifacts.NAME}}, or \"\" for the newest version of '" + name + "')");
  if (v.is_null())
    throw PluginError("no data version " + (version == "latest" ? name : ref) + " yet" + (hint.empty() ? "" : ": " + hint));
  const std::string digest = v["digest"].get<std::string>(), tag = name + "@" + digest.substr(7, 12);
  std::string how;
  if (!path.empty()) {
    c.data_tag(tag, digest);
    c.data_tag(name + "@latest", digest);
    how = "this run's, tagged " + tag + " and " + name + "@latest";
  } else {
    how = ref;
    for (const auto& t : v["tags"])
      if (t["tag"] == ref) how += ", tagged " + utc(t["created_at"].get<int64_t>());
    if (v["made_by"].is_object())
      how += ", made by run " + v["made_by"]["run_id"].get<std::string>() + " step " + v["made_by"]["step"].get<std::string>();
    how += "; its producer did not run in this run";
  }
  nlohmann::json files = nlohmann::json::array();
  if (v["kind"] == "dir") {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(v["path"].get<std::string>()))
      if (e.is_regular_file()) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    files = names;
  }
  c.output("path", v["path"]);
  c.output("version", tag);
  c.output("digest", digest);
  c.output("files", files);
  c.output("made_by", v["made_by"].is_object() ? v["made_by"]["run_id"] : nlohmann::json(nullptr));
  c.info("data set " + name + ": " + tag + " (" + digest + ", " + v["kind"].get<std::string>() + " of " +
         v["size"].dump() + " bytes): " + how);
}

const ctflow_param_decl kNoopParams[] = {
    {"metrics", "json", "null", "metrics to record, a map of name to number (series points at step 1)"}};
const ctflow_param_decl kProductionParams[] = {{"model", "string", nullptr, "the registered model's name"}};
const ctflow_output_decl kProductionOutputs[] = {{"version", "parameter", "its Production version (0: none)"}};
const ctflow_param_decl kDataParams[] = {
    {"name", "string", nullptr, "the data set's name: its versions are NAME@<first 12 hex of the digest> and NAME@latest"},
    {"path", "string", "\"\"", "an artifact of this run ({{steps.S.artifacts.A}}) to version and pass on; \"\": give version VERSION from the store"},
    {"version", "string", "\"latest\"", "which version of NAME to give when 'path' is \"\""},
    {"hint", "string", "\"\"", "what to run first, added to the error when there is no such version"}};
const ctflow_output_decl kDataOutputs[] = {
    {"path", "parameter", "the read-only path of the data set in the store (a file or a folder)"},
    {"version", "parameter", "NAME@<first 12 hex of the digest>"},
    {"digest", "parameter", "its content digest (sha256:<hex>)"},
    {"files", "parameter", "a folder's file names, sorted (a file: [])"},
    {"made_by", "parameter", "the run that first made it (null: not recorded yet, as for this run's own)"}};
const ctflow_param_decl kEchoParams[] = {{"message", "json", nullptr, "the value to log and return"}};
const ctflow_output_decl kEchoOutputs[] = {{"message", "parameter", "the message, unchanged"}};
const ctflow_param_decl kSleepParams[] = {{"seconds", "float", "1", "how long to sleep"}};
const ctflow_param_decl kFailParams[] = {
    {"mode", "string", "\"exit\"", "exit, crash (SIGSEGV), abort, hang, or error"},
    {"code", "int", "1", "exit code for mode=exit"},
    {"message", "string", "\"\"", "the error's message for mode=error"}};

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
                                  "fails on purpose: exits, crashes, aborts, hangs or gives an error", kFailParams, 3, nullptr,
                                  0, ctflow::sdk::run_adapter<fail>};
const ctflow_plugin_desc kProduction = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "core.production", "1.0.0",
                                        "outputs the Production version of a model in the registry", kProductionParams, 1,
                                        kProductionOutputs, 1, ctflow::sdk::run_adapter<production>};

const ctflow_plugin_desc kData = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "core.data", "1.0.0",
                                  "versions a data set this run made, or gives its newest version from the store",
                                  kDataParams, sizeof(kDataParams) / sizeof(kDataParams[0]), kDataOutputs,
                                  sizeof(kDataOutputs) / sizeof(kDataOutputs[0]), ctflow::sdk::run_adapter<data>};

}  // namespace

CTFLOW_EXPORT_PLUGINS(&kNoop, &kEcho, &kSleep, &kFail, &kProduction, &kData)
