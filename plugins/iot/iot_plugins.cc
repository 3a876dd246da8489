// The iot plugin family. This file is only glue between the plugin SDK and the
// plain functions in iot_sim.h.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "ctflow/plugin.hpp"
#include "iot_sim.h"
#include "iot_train.h"

namespace {

using ctflow::sdk::Context;
using ctflow::sdk::PluginError;
namespace iot = ctflow::iot;

void simulate(const Context& c) {
  try {
    iot::SimOptions o;
    o.rows = c.integer("rows");
    o.seed = static_cast<uint64_t>(c.integer("seed"));
    o.drift_rows = c.integer("drift_rows");
    o.drift_offset = c.number("drift_offset");
    o.drift_h_share = c.number("drift_h_share");
    if (o.drift_rows < 0 || o.drift_rows > o.rows)
      throw PluginError("parameter 'drift_rows' must be between 0 and rows (" + std::to_string(o.rows) + "), got " +
                        std::to_string(o.drift_rows));
    if (o.drift_h_share < 0 || o.drift_h_share > 1)
      throw PluginError("parameter 'drift_h_share' must be in [0, 1]");
    const auto readings = iot::simulate(o);
    const std::string db = c.artifact_path("database");
    iot::write_sqlite(db, readings);
    const auto n = iot::count_failures(readings);
    c.output("rows", n.rows);
    c.output("failures", n.failures);
    c.scalar("failure_rate", static_cast<double>(n.failures) / static_cast<double>(n.rows));
    c.info("wrote " + std::to_string(n.rows) + " readings (" + std::to_string(n.failures) + " failures: TWF " +
           std::to_string(n.twf) + ", HDF " + std::to_string(n.hdf) + ", PWF " + std::to_string(n.pwf) + ", OSF " +
           std::to_string(n.osf) + ", RNF " + std::to_string(n.rnf) + ") to table readings of " + db);
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(e.what());
  }
}

void train(const Context& c) {
  try {
    const auto table = iot::load_features(c.str("database"), c.str("query"));
    iot::TrainOptions o;
    o.max_depth = static_cast<int>(c.integer("max_depth"));
    o.rounds = static_cast<int>(c.integer("rounds"));
    o.eta = c.number("eta");
    o.subsample = c.number("subsample");
    o.test_fraction = c.number("test_fraction");
    o.seed = static_cast<uint64_t>(c.integer("seed"));
    o.threads = std::max(1, c.cpu_threads());
    if (o.max_depth < 1 || o.rounds < 1) throw PluginError("parameters 'max_depth' and 'rounds' must be at least 1");
    if (!(o.test_fraction > 0 && o.test_fraction < 1)) throw PluginError("parameter 'test_fraction' must be in (0, 1)");
    const std::filesystem::path dir = c.artifact_path("model");
    std::filesystem::create_directories(dir);
    o.holdout_csv = (dir / "holdout.csv").string();
    auto m = iot::train(table, o, (dir / "model.json").string());
    m["params"] = {{"max_depth", o.max_depth}, {"rounds", o.rounds}, {"eta", o.eta}, {"subsample", o.subsample},
                   {"seed", o.seed}, {"features", iot::feature_names()}};
    std::ofstream(dir / "metrics.json") << m.dump(2) << "\n";
    for (const char* k : {"f1", "precision", "recall", "pr_auc"}) c.scalar(k, m[k].get<double>());
    const auto& cm = m["confusion"];
    c.confusion("confusion_matrix", {"ok", "failure"},
                {cm[0][0].get<int64_t>(), cm[0][1].get<int64_t>(), cm[1][0].get<int64_t>(), cm[1][1].get<int64_t>()});
    c.output("f1", m["f1"]);
    c.info("held-out F1 " + m["f1"].dump() + ", precision " + m["precision"].dump() + ", recall " + m["recall"].dump() +
           ", PR-AUC " + m["pr_auc"].dump() + " on " + m["test_rows"].dump() + " rows; confusion " + cm.dump());
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(e.what());
  }
}

// The registry's digest of an artifact folder: the store keeps a folder as
// ".../trees/<hex>", its digest "sha256:<hex>".
std::string tree_digest(const std::string& path) {
  static const std::regex tree(R"(/trees/([0-9a-f]{64})/?$)");
  std::smatch m;
  if (!std::regex_search(path, m, tree))
    throw PluginError("parameter 'model' must be the model artifact of iot.train ({{steps.train.artifacts.model}}), not '" +
                      path + "'");
  return "sha256:" + m[1].str();
}

void deploy(const Context& c) {
  const std::string model = c.str("model"), name = c.str("model_name");
  const double f1 = c.number("f1");
  nlohmann::json params = {{"handler", "xgboost"}, {"run_id", c.run_id()}, {"step", c.step_name()}};
  std::ifstream mf(std::filesystem::path(model) / "metrics.json");
  nlohmann::json metrics = {{"f1", f1}};
  if (mf) {
    const auto m = nlohmann::json::parse(mf, nullptr, false);
    if (m.is_object()) {
      for (const char* k : {"precision", "recall", "pr_auc"})
        if (m.contains(k)) metrics[k] = m[k];
      if (m.contains("params")) params["train_params"] = m["params"];
    }
  }
  auto r = c.model_register_promote({{"name", name},
                                     {"artifacts", {{"model", tree_digest(model)}}},
                                     {"metrics", metrics},
                                     {"params", params},
                                     {"compare", {{"metric", "f1"}, {"higher_is_better", true}}}});
  c.output("version", r.value("version", 0));
  c.output("stage", r.value("stage", std::string()));
  c.output("promoted", r.value("promoted", false));
  c.info("registered " + name + " v" + std::to_string(r.value("version", 0)) + " as " + r.value("stage", std::string()) +
         " (F1 " + std::to_string(f1) + ")");
}

const ctflow_param_decl kSimulateParams[] = {
    {"rows", "int", "10000", "readings to generate, one process a minute"},
    {"seed", "int", "42", "seed of the generator"},
    {"drift_rows", "int", "0", "the last N rows drift (0: none)"},
    {"drift_offset", "float", "0", "kelvin added to the process temperature in the drift period"},
    {"drift_h_share", "float", "0.2", "share of H products in the drift period (L:M stay 5:3)"}};
const ctflow_output_decl kSimulateOutputs[] = {
    {"database", "artifact", "SQLite file with table readings (the AI4I 2020 columns and a timestamp ts)"},
    {"rows", "parameter", "readings written"},
    {"failures", "parameter", "readings with a machine failure"}};

const ctflow_plugin_desc kSimulate = {CTFLOW_PLUGIN_ABI_VERSION,
                                      sizeof(ctflow_plugin_desc),
                                      "iot.simulate",
                                      "1.0.0",
                                      "generates AI4I 2020 predictive-maintenance readings (seeded) into SQLite",
                                      kSimulateParams,
                                      sizeof(kSimulateParams) / sizeof(kSimulateParams[0]),
                                      kSimulateOutputs,
                                      sizeof(kSimulateOutputs) / sizeof(kSimulateOutputs[0]),
                                      ctflow::sdk::run_adapter<simulate>};

const ctflow_param_decl kTrainParams[] = {
    {"database", "path", nullptr, "SQLite file (the database artifact of iot.simulate)"},
    {"query", "string", "\"SELECT * FROM readings\"", "SQL returning type, air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, machine_failure"},
    {"max_depth", "int", "6", "XGBoost tree depth"},
    {"rounds", "int", "200", "boosting rounds"},
    {"eta", "float", "0.1", "learning rate"},
    {"subsample", "float", "0.9", "row subsample per tree"},
    {"test_fraction", "float", "0.2", "stratified held-out fraction"},
    {"seed", "int", "42", "seed of the split and of XGBoost"}};
const ctflow_output_decl kTrainOutputs[] = {
    {"model", "artifact", "folder: model.json (XGBoost JSON), metrics.json, holdout.csv (held-out features, label, probability)"},
    {"f1", "parameter", "F1 of the failure class on the held-out rows"}};

const ctflow_plugin_desc kTrain = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.train", "1.0.0",
                                   "trains XGBoost on the engineered features; held-out F1, precision, recall, PR-AUC",
                                   kTrainParams, sizeof(kTrainParams) / sizeof(kTrainParams[0]), kTrainOutputs,
                                   sizeof(kTrainOutputs) / sizeof(kTrainOutputs[0]), ctflow::sdk::run_adapter<train>};

const ctflow_param_decl kDeployParams[] = {
    {"model", "path", nullptr, "the model artifact of iot.train"},
    {"f1", "float", nullptr, "the held-out F1 to compare with Production"},
    {"model_name", "string", "\"iot-maintenance\"", "registry name"}};
const ctflow_output_decl kDeployOutputs[] = {{"version", "parameter", "the registered version"},
                                             {"stage", "parameter", "Production or Staging"},
                                             {"promoted", "parameter", "true when it became Production (better F1)"}};

const ctflow_plugin_desc kDeploy = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.deploy", "1.0.0",
                                    "registers the model; promotes it to Production when its F1 is better",
                                    kDeployParams, sizeof(kDeployParams) / sizeof(kDeployParams[0]), kDeployOutputs,
                                    sizeof(kDeployOutputs) / sizeof(kDeployOutputs[0]),
                                    ctflow::sdk::run_adapter<deploy>};

}  // namespace

CTFLOW_EXPORT_PLUGINS(&kSimulate, &kTrain, &kDeploy)
