// The iot plugin family. This file is only glue between the plugin SDK and the
// plain functions in iot_sim.h.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "base/drift.h"
#include "base/serve_rollout.h"
#include "iot_data.h"
#include "ctflow/plugin.hpp"
#include "iot_sim.h"
#include "iot_train.h"
#include "iot_validate.h"

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

// iot.extract: the rows of the SQL query, in chunks of chunk_rows, for the
// preprocess fan-out.
void extract(const Context& c) {
  const std::string db = c.str("database"), query = c.str("query");
  const int64_t chunk_rows = c.integer("chunk_rows");
  if (chunk_rows < 1) throw PluginError("parameter 'chunk_rows' must be at least 1, got " + std::to_string(chunk_rows));
  int64_t rows = 0;
  std::vector<std::string> parts;
  try {
    parts = iot::extract_chunks(db, query, chunk_rows, c.artifact_path("chunks"), &rows);
  } catch (const std::exception& e) {
    throw PluginError(std::string("parameter 'query': ") + e.what());
  }
  c.output("parts", parts);
  c.output("rows", rows);
  c.info("extracted " + std::to_string(rows) + " rows of '" + query + "' in " + std::to_string(parts.size()) +
         " chunks of at most " + std::to_string(chunk_rows));
}

// The path of the file a digest names in the run's store (store/artifact_store.h:
// a file is blobs/sha256/<2 hex>/<62 hex>).
std::filesystem::path file_blob(const Context& c, const std::string& digest) {
  const std::string hex = digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : "";
  if (hex.size() != 64)
    throw PluginError("parameter 'features' must list the digest outputs of iot.preprocess "
                      "({{steps.preprocess.outputs.digest}}), not '" + digest + "'");
  return std::filesystem::path(c.store_dir()) / "blobs" / "sha256" / hex.substr(0, 2) / hex.substr(2);
}

// The data version of the features of the chunk whose digest is CHUNK_DIGEST:
// NAME@<first 12 hex of the chunk's digest>.
std::string features_tag(const std::string& name, const std::string& chunk_digest) {
  return name + "@" + chunk_digest.substr(7, 12);
}

// iot.preprocess: the features of one chunk of iot.extract.
void preprocess(const Context& c) {
  try {
    const std::string part = c.str("part");
    if (part.empty() || part.find('/') != std::string::npos)
      throw PluginError("parameter 'part' must be one name of iot.extract's 'parts' output ({{item}}), not '" + part + "'");
    const std::string chunk = (std::filesystem::path(c.str("chunks")) / part).string();
    const auto t = iot::chunk_features(chunk);
    const std::string out = c.artifact_path("features");
    iot::write_features_csv(t, out);
    const std::string digest = c.artifact_digest(out), tag = features_tag(c.str("name"), c.artifact_digest(chunk));
    // The features of these rows, for a run of merge alone: keyed by the chunk's content.
    c.data_tag(tag, digest);
    c.output("rows", t.rows);
    c.output("digest", digest);
    c.info(part + ": features of " + std::to_string(t.rows) + " rows, tagged " + tag);
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(e.what());
  }
}

// Merge without this run's preprocess (a run of merge alone): the features of
// each chunk of 'chunks', as iot.preprocess tagged them.
std::vector<std::string> tagged_features(const Context& c) {
  const std::string chunks = c.str("chunks"), name = c.str("features_name"), hint = c.str("hint");
  if (chunks.empty())
    throw PluginError("parameter 'features' is null (preprocess did not run) and no 'chunks' were given to find their "
                      "features by: give {{steps.preprocess.outputs.digest}}, or the chunks");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(chunks))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw PluginError("parameter 'chunks': no chunk files in " + chunks);
  std::vector<std::string> parts;
  for (const auto& f : files) {
    const std::string tag = features_tag(name, c.artifact_digest(f.string()));
    const auto v = c.data_resolve(tag);
    if (v.is_null())
      throw PluginError("no data version " + tag + " (the features of chunk " + f.filename().string() + ") yet" +
                        (hint.empty() ? "" : ": " + hint));
    parts.push_back(v["path"].get<std::string>());
  }
  c.info("preprocess did not run in this run: merging the features it tagged for the " + std::to_string(files.size()) +
         " chunks of " + chunks + " (" + name + "@<first 12 hex of each chunk's digest>)");
  return parts;
}

// iot.merge: the chunks' features as one data set, tagged as a data version.
void merge(const Context& c) {
  try {
    const auto digests = c.param("features").value_or(nullptr);
    std::vector<std::string> parts;
    if (digests.is_null()) {
      parts = tagged_features(c);
    } else {
      if (!digests.is_array() || digests.empty())
        throw PluginError("parameter 'features' must be the non-empty list {{steps.preprocess.outputs.digest}}");
      for (const auto& d : digests) parts.push_back(file_blob(c, d.is_string() ? d.get<std::string>() : d.dump()).string());
    }
    const auto t = iot::merge_tables(parts);
    const std::string out = c.artifact_path("dataset");
    iot::write_features_csv(t, out);
    const std::string digest = c.artifact_digest(out), name = c.str("name");
    // DVC-like: the version is the content's digest; NAME@latest follows the newest.
    const std::string tag = name + "@" + digest.substr(7, 12);
    c.data_tag(tag, digest);
    c.data_tag(name + "@latest", digest);
    const int64_t failures = static_cast<int64_t>(std::count(t.y.begin(), t.y.end(), 1.f));
    c.output("rows", t.rows);
    c.output("failures", failures);
    c.output("version", tag);
    c.info("merged " + std::to_string(parts.size()) + " chunks: " + std::to_string(t.rows) + " rows (" +
           std::to_string(failures) + " failures), data version " + tag);
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(e.what());
  }
}

// Kubeflow's output viewers for a held-out score (iot::score): the confusion
// matrix, the ROC curve, the precision-recall curve as a table, a summary.
nlohmann::json ui_metadata(const nlohmann::json& m) {
  const auto& cm = m["confusion"];
  const char* labels[] = {"ok", "failure"};
  std::string conf, roc, pr;
  for (int t = 0; t < 2; ++t)
    for (int p = 0; p < 2; ++p) conf += std::string(labels[t]) + "," + labels[p] + "," + cm[t][p].dump() + "\n";
  for (const auto& pt : m["roc"]) roc += pt[0].dump() + "," + pt[1].dump() + "," + pt[2].dump() + "\n";
  for (const auto& pt : m["pr"]) pr += pt[0].dump() + "," + pt[1].dump() + "," + pt[2].dump() + "\n";
  const std::string md = "# iot.train, held-out rows\n\n**F1** " + m["f1"].dump() + ", precision " + m["precision"].dump() +
                         ", recall " + m["recall"].dump() + ", PR-AUC " + m["pr_auc"].dump() + ", ROC-AUC " +
                         m["roc_auc"].dump() + " at threshold " + m["threshold"].dump() + "\n";
  auto col = [](const char* name, const char* type) { return nlohmann::json{{"name", name}, {"type", type}}; };
  return {{"outputs",
           {{{"type", "confusion_matrix"}, {"format", "csv"}, {"storage", "inline"}, {"labels", {"ok", "failure"}},
             {"schema", {col("target", "CATEGORY"), col("predicted", "CATEGORY"), col("count", "NUMBER")}},
             {"source", conf}},
            {{"type", "roc"}, {"format", "csv"}, {"storage", "inline"},
             {"schema", {col("fpr", "NUMBER"), col("tpr", "NUMBER"), col("thresholds", "NUMBER")}}, {"source", roc}},
            {{"type", "table"}, {"format", "csv"}, {"storage", "inline"}, {"header", {"recall", "precision", "threshold"}},
             {"source", pr}},
            {{"type", "markdown"}, {"storage", "inline"}, {"source", md}}}}};
}

// The drift reference of a model: per feature, up to 1,000 evenly spaced order
// statistics of the rows it was trained on (base/drift.h quantile_sample).
nlohmann::json feature_profile(const iot::Table& t) {
  const size_t nf = iot::feature_names().size();
  nlohmann::json features = nlohmann::json::object();
  for (size_t k = 0; k < nf; ++k) {
    std::vector<double> v(static_cast<size_t>(t.rows));
    for (int64_t i = 0; i < t.rows; ++i) v[static_cast<size_t>(i)] = t.x[static_cast<size_t>(i) * nf + k];
    features[iot::feature_names()[k]] = ctflow::drift::quantile_sample(std::move(v));
  }
  return {{"format", "iot-feature-profile-v1"}, {"rows", t.rows}, {"features", features}};
}

void train(const Context& c) {
  try {
    const auto table = iot::read_features_csv(c.str("dataset"));
    iot::TrainOptions o;
    o.max_depth = static_cast<int>(c.integer("max_depth"));
    o.rounds = static_cast<int>(c.integer("rounds"));
    o.eta = c.number("eta");
    o.subsample = c.number("subsample");
    o.test_fraction = c.number("test_fraction");
    o.pos_weight = c.number("pos_weight");
    o.threshold = c.number("threshold");
    o.seed = static_cast<uint64_t>(c.integer("seed"));
    o.threads = std::max(1, c.cpu_threads());
    if (o.max_depth < 1 || o.rounds < 1) throw PluginError("parameters 'max_depth' and 'rounds' must be at least 1");
    if (!(o.test_fraction > 0 && o.test_fraction < 1)) throw PluginError("parameter 'test_fraction' must be in (0, 1)");
    if (!(o.threshold > 0 && o.threshold < 1)) throw PluginError("parameter 'threshold' must be in (0, 1)");
    const std::filesystem::path dir = c.artifact_path("model");
    std::filesystem::create_directories(dir);
    o.holdout_csv = (dir / "holdout.csv").string();
    auto m = iot::train(table, o, (dir / "model.json").string());
    m["params"] = {{"max_depth", o.max_depth}, {"rounds", o.rounds}, {"eta", o.eta}, {"subsample", o.subsample},
                   {"pos_weight", m["scale_pos_weight"]}, {"seed", o.seed}, {"features", iot::feature_names()}};
    std::ofstream(dir / "metrics.json") << m.dump(2) << "\n";
    std::ofstream(dir / "profile.json") << feature_profile(table).dump() << "\n";
    std::ofstream(c.artifact_path("mlpipeline-ui-metadata")) << ui_metadata(m).dump(2) << "\n";
    for (const char* k : {"f1", "precision", "recall", "pr_auc", "roc_auc"}) c.scalar(k, m[k].get<double>());
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

// "NAME vN (STAGE, F1 x, registered by run R)" for a registry version V.
std::string version_text(const std::string& name, const nlohmann::json& v) {
  const auto m = v.value("metrics", nlohmann::json::object());
  return name + " v" + v.value("version", nlohmann::json(0)).dump() + " (" + v.value("stage", std::string("?")) +
         (m.contains("f1") ? ", F1 " + m["f1"].dump() : std::string()) + ", registered by run " +
         v.value("run_id", std::string("?")) + ")";
}

// Rolls VERSION of NAME out to the running `ctflow serve` at SERVER
// (base/serve_rollout.h, as mnist.deploy does); WHAT says what was done before.
void roll_out(const std::string& server, const std::string& name, int version, const std::string& what) {
  try {
    ctflow::rollout::roll_out(server, name, version);
  } catch (const ctflow::rollout::RolloutError& e) {
    throw PluginError(what + ", but " + e.what());
  }
}

// iot.deploy: registers the trained model and promotes it when its F1 beats
// Production's; a new Production version is rolled out to 'server' when given.
// Without a model (train did not run: deploy alone), the registry's Production
// version is what is deployed: rolled out to 'server', or only reported.
void deploy(const Context& c) {
  const std::string model = c.str("model"), name = c.str("model_name"), server = c.str("server");
  const nlohmann::json cur = c.model_current(name.c_str());
  nlohmann::json served = nullptr;
  const std::string to = server.empty() ? "" : " out to " + server;
  // The Production version is deployed as it is: no new version.
  auto production = [&](const std::string& why) {
    const int version = cur.value("version", 0);
    if (!server.empty()) {
      roll_out(server, name, version, why);
      served = version;
    }
    c.output("version", version);
    c.output("stage", "Production");
    c.output("promoted", false);
    c.output("served", served);
    c.info(why + ": " + version_text(name, cur) + (server.empty() ? " stays in Production (no 'server' to roll it out to)"
                                                                  : " is rolled" + to));
  };
  if (model.empty()) {
    if (!cur.is_object())
      throw PluginError("nothing to deploy: no 'model' was given (train did not run in this run) and '" + name +
                        "' has no Production version yet: run with -p stages=all first, which trains and deploys one");
    return production("train did not run in this run, so nothing new is registered");
  }
  const auto f1 = c.param("f1").value_or(nullptr);
  if (!f1.is_number()) throw PluginError("parameter 'f1' must be the held-out F1 of 'model' ({{steps.train.outputs.f1}})");
  const std::string digest = tree_digest(model);
  if (cur.is_object() && cur.value("artifacts", nlohmann::json::object()).value("model", std::string()) == digest)
    return production("this model is Production already, so it is not registered again");
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
                                     {"artifacts", {{"model", digest}}},
                                     {"metrics", metrics},
                                     {"params", params},
                                     {"compare", {{"metric", "f1"}, {"higher_is_better", true}}}});
  const int version = r.value("version", 0);
  const bool promoted = r.value("promoted", false);
  const std::string registered = "registered " + name + " v" + std::to_string(version) + " as " +
                                 r.value("stage", std::string()) + " (F1 " + f1.dump() + ")";
  if (promoted && !server.empty()) {
    roll_out(server, name, version, registered);
    served = version;
  }
  c.output("version", version);
  c.output("stage", r.value("stage", std::string()));
  c.output("promoted", promoted);
  c.output("served", served);
  std::string why;
  if (!promoted && r["previous"].is_object())
    why = ": not better than Production v" + r["previous"].value("version", nlohmann::json(0)).dump() + "'s F1 " +
          r["previous"]["metrics"].value("f1", nlohmann::json(nullptr)).dump();
  c.info(registered + why +
         (server.empty() ? "" : promoted ? "; rolled" + to : "; not rolled out: the server at " + server + " keeps its version"));
}

// The folder of artifact 'model' of a registered version, in the store's
// blobs (store/artifact_store.h: a folder is blobs/trees/<hex>).
std::filesystem::path model_blob(const Context& c, const nlohmann::json& version) {
  const auto a = version.value("artifacts", nlohmann::json::object());
  const std::string d = a.contains("model") && a["model"].is_string() ? a["model"].get<std::string>() : "";
  const std::string hex = d.substr(d.find(':') + 1);
  if (hex.size() != 64) throw PluginError("the registered version has no model artifact (digest '" + d + "')");
  return std::filesystem::path(c.store_dir()) / "blobs" / "trees" / hex;
}

// The held-out score of the model in folder DIR on the rows of TABLE, at the
// threshold its metrics.json records (else 0.5).
nlohmann::json score_model(const Context& c, const std::filesystem::path& dir, const iot::Table& t) {
  double threshold = 0.5;
  std::ifstream mf(dir / "metrics.json");
  if (mf) {
    const auto m = nlohmann::json::parse(mf, nullptr, false);
    if (m.is_object() && m.contains("threshold") && m["threshold"].is_number()) threshold = m["threshold"].get<double>();
  }
  const auto prob = iot::predict((dir / "model.json").string(), t.x, t.rows, std::max(1, c.cpu_threads()));
  return iot::score(prob, t.y, threshold);
}

// iot.test: the candidate model (iot.train's) and the Production model, scored
// on the most recent rows of the SQL source.
void test(const Context& c) {
  try {
    const auto table = iot::load_features(c.str("database"), c.str("query"));
    const std::string name = c.str("model_name"), model = c.str("model");
    nlohmann::json cand = nullptr, prod = nullptr;
    if (!model.empty()) cand = score_model(c, model, table);
    const auto cur = c.model_current(name.c_str());
    if (cur.is_object()) prod = score_model(c, model_blob(c, cur), table);
    if (cand.is_null() && prod.is_null())
      throw PluginError("nothing to test: no 'model' was given (train did not run in this run) and '" + name +
                        "' has no Production version yet: run with -p stages=all first, which trains and deploys one");
    if (cand.is_null()) c.info("no trained model to test (train did not run in this run): the Production version only");
    const auto& shown = cand.is_null() ? prod : cand;
    for (const char* k : {"f1", "precision", "recall", "pr_auc"}) c.scalar(k, shown[k].get<double>());
    c.output("f1", shown["f1"]);
    c.output("rows", table.rows);
    c.output("production_f1", prod.is_null() ? nlohmann::json(nullptr) : prod["f1"]);
    c.output("production_version", cur.is_object() ? cur.value("version", nlohmann::json(nullptr)) : nlohmann::json(nullptr));
    auto line = [](const nlohmann::json& m) {
      return "F1 " + m["f1"].dump() + " (precision " + m["precision"].dump() + ", recall " + m["recall"].dump() +
             ", confusion " + m["confusion"].dump() + ")";
    };
    if (!cand.is_null()) c.info("the trained model on " + std::to_string(table.rows) + " recent rows: " + line(cand));
    if (!prod.is_null())
      c.info(version_text(name, cur) + " on the same rows: " + line(prod));
    else
      c.info("no Production version of '" + name + "' yet");
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(e.what());
  }
}

// iot.validate: schema, NULLs and ranges of the rows a query returns, then the
// drift of their features against the Production model's reference profile.
void validate(const Context& c) {
  try {
    const std::string db = c.str("database"), query = c.str("query"), name = c.str("model_name");
    nlohmann::json report = iot::check_source(db, query);
    const bool ok = report["errors"].empty();
    nlohmann::json drift = nullptr;
    std::string why;
    if (ok) {
      const auto cur = c.model_current(name.c_str());
      std::ifstream pf(cur.is_object() ? model_blob(c, cur) / "profile.json" : std::filesystem::path());
      if (!cur.is_object())
        why = "'" + name + "' has no Production version yet";
      else if (!pf)
        why = "'" + name + "' v" + cur.value("version", nlohmann::json(0)).dump() + " was registered without a profile";
      else
        drift = iot::feature_drift(iot::load_features(db, query), nlohmann::json::parse(pf));
    }
    report["ok"] = ok;
    report["drift"] = drift.is_null() ? nlohmann::json{{"score", nullptr}, {"drifted", false}, {"reason", why}} : drift;
    std::ofstream(c.artifact_path("report")) << report.dump(2) << "\n";
    nlohmann::json drifted = nlohmann::json::array();
    if (drift.is_object())
      for (const auto& [f, v] : drift["features"].items())
        if (v["drifted"].get<bool>()) drifted.push_back(f);
    c.output("ok", ok);
    c.output("drift", drift.is_object() ? drift["score"] : nlohmann::json(nullptr));
    c.output("drifted", drift.is_object() && drift["drifted"].get<bool>());
    c.output("drifted_features", drifted);
    if (drift.is_object())
      c.info("drift against the Production profile: " + drift["score"].dump() + " of the features (" + drifted.dump() + ")");
    else if (ok)
      c.info("no drift check: " + why);
    if (!ok && c.boolean("fail")) {
      std::string msg = "the rows of '" + query + "' in " + db + " failed validation:";
      for (const auto& e : report["errors"]) msg += "\n  - " + e.get<std::string>();
      throw PluginError(msg);
    }
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(e.what());
  }
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

const ctflow_param_decl kExtractParams[] = {
    {"database", "path", nullptr, "SQLite file (the database artifact of iot.simulate)"},
    {"query", "string", "\"SELECT * FROM readings\"", "SQL returning type, air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, machine_failure"},
    {"chunk_rows", "int", "2500", "rows per chunk (one preprocess instance each)"}};
const ctflow_output_decl kExtractOutputs[] = {
    {"chunks", "artifact", "folder of part-NNNNN.csv: type, the raw readings, machine_failure"},
    {"parts", "parameter", "the chunks' file names, in order: the items of the preprocess fan-out"},
    {"rows", "parameter", "rows extracted"}};

const ctflow_plugin_desc kExtract = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.extract", "1.0.0",
                                     "runs a SQL query against the SQLite source; writes its rows in chunks",
                                     kExtractParams, sizeof(kExtractParams) / sizeof(kExtractParams[0]),
                                     kExtractOutputs, sizeof(kExtractOutputs) / sizeof(kExtractOutputs[0]),
                                     ctflow::sdk::run_adapter<extract>};

const ctflow_param_decl kPreprocessParams[] = {
    {"chunks", "path", nullptr, "the chunks artifact of iot.extract"},
    {"part", "string", nullptr, "one chunk: an item of iot.extract's parts output"},
    {"name", "string", "\"iot-maintenance-features\"", "the features are tagged NAME@<first 12 hex of the chunk's digest>, for iot.merge alone"}};
const ctflow_output_decl kPreprocessOutputs[] = {
    {"features", "artifact", "CSV: the engineered features of the chunk's rows and machine_failure"},
    {"rows", "parameter", "rows of the chunk"},
    {"digest", "parameter", "the store's digest of the features file, for iot.merge"}};

const ctflow_plugin_desc kPreprocess = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.preprocess", "1.0.0",
                                        "engineered features (power, temperature difference, wear x torque) of a chunk",
                                        kPreprocessParams, sizeof(kPreprocessParams) / sizeof(kPreprocessParams[0]),
                                        kPreprocessOutputs, sizeof(kPreprocessOutputs) / sizeof(kPreprocessOutputs[0]),
                                        ctflow::sdk::run_adapter<preprocess>};

const ctflow_param_decl kMergeParams[] = {
    {"features", "json", "null", "the digest outputs of the preprocess fan-out ({{steps.preprocess.outputs.digest}}); null: the features iot.preprocess tagged for each of 'chunks'"},
    {"chunks", "path", "\"\"", "with 'features' null: the chunks artifact of iot.extract whose features to merge"},
    {"features_name", "string", "\"iot-maintenance-features\"", "with 'features' null: the name iot.preprocess tagged the features with"},
    {"hint", "string", "\"run iot.preprocess on the chunks first\"", "with 'features' null: what to run first, added to the error when a chunk has no features"},
    {"name", "string", "\"iot-maintenance-data\"", "data set name: tagged NAME@<digest prefix> and NAME@latest"}};
const ctflow_output_decl kMergeOutputs[] = {
    {"dataset", "artifact", "CSV: the features of every chunk, in order, and machine_failure"},
    {"rows", "parameter", "rows in the data set"},
    {"failures", "parameter", "rows with a machine failure"},
    {"version", "parameter", "the data version tagged (NAME@<first 12 hex of the digest>)"}};

const ctflow_plugin_desc kMerge = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.merge", "1.0.0",
                                   "merges the preprocessed chunks into one data set, tagged as a data version",
                                   kMergeParams, sizeof(kMergeParams) / sizeof(kMergeParams[0]), kMergeOutputs,
                                   sizeof(kMergeOutputs) / sizeof(kMergeOutputs[0]), ctflow::sdk::run_adapter<merge>};

const ctflow_param_decl kTrainParams[] = {
    {"dataset", "path", nullptr, "features CSV (the dataset artifact of iot.merge)"},
    {"max_depth", "int", "6", "XGBoost tree depth"},
    {"rounds", "int", "200", "boosting rounds"},
    {"eta", "float", "0.1", "learning rate"},
    {"subsample", "float", "0.9", "row subsample per tree"},
    {"test_fraction", "float", "0.2", "stratified held-out fraction"},
    {"pos_weight", "float", "1", "weight of a failure row against an ok row (scale_pos_weight); 0: negatives / positives"},
    {"threshold", "float", "0.5", "a row is predicted a failure when its probability is at least this"},
    {"seed", "int", "42", "seed of the split and of XGBoost"}};
const ctflow_output_decl kTrainOutputs[] = {
    {"model", "artifact", "folder: model.json (XGBoost JSON), metrics.json, profile.json (per-feature drift reference), holdout.csv (held-out features, label, probability)"},
    {"mlpipeline-ui-metadata", "artifact", "Kubeflow output viewers: confusion matrix, ROC curve, precision-recall table"},
    {"f1", "parameter", "F1 of the failure class on the held-out rows"}};

const ctflow_plugin_desc kTrain = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.train", "1.0.0",
                                   "trains XGBoost on the engineered features; held-out F1, precision, recall, PR-AUC",
                                   kTrainParams, sizeof(kTrainParams) / sizeof(kTrainParams[0]), kTrainOutputs,
                                   sizeof(kTrainOutputs) / sizeof(kTrainOutputs[0]), ctflow::sdk::run_adapter<train>};

const ctflow_param_decl kValidateParams[] = {
    {"database", "path", nullptr, "SQLite file of raw readings"},
    {"query", "string", "\"SELECT * FROM readings\"", "SQL selecting the rows to check (columns as iot.train's)"},
    {"model_name", "string", "\"iot-maintenance\"", "compare with the reference profile of this model's Production version"},
    {"fail", "bool", "true", "fail the step when a check fails (false: report only)"}};
const ctflow_output_decl kValidateOutputs[] = {
    {"report", "artifact", "report.json: rows, per column NULLs, min, max and plausible range, errors, per-feature drift"},
    {"ok", "parameter", "true when the schema, NULL and range checks pass"},
    {"drift", "parameter", "share of the features that drift (PSI >= 0.1) against the Production profile; null without one"},
    {"drifted", "parameter", "true when at least half the features drift"},
    {"drifted_features", "parameter", "the names of the features that drift"}};

const ctflow_plugin_desc kValidate = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.validate", "1.0.0",
                                      "checks schema, NULLs, ranges and per-feature drift (PSI, KS) of the rows of a query",
                                      kValidateParams, sizeof(kValidateParams) / sizeof(kValidateParams[0]),
                                      kValidateOutputs, sizeof(kValidateOutputs) / sizeof(kValidateOutputs[0]),
                                      ctflow::sdk::run_adapter<validate>};

const ctflow_param_decl kTestParams[] = {
    {"database", "path", nullptr, "SQLite file of raw readings"},
    {"query", "string", "\"SELECT * FROM readings ORDER BY ts DESC LIMIT 2000\"", "SQL selecting the most recent rows (columns as iot.train's)"},
    {"model", "path", "\"\"", "the model artifact of iot.train to test beside Production (\"\": Production only)"},
    {"model_name", "string", "\"iot-maintenance\"", "registry name of the Production model"}};
const ctflow_output_decl kTestOutputs[] = {
    {"f1", "parameter", "F1 of the failure class on the rows: the given model's, else Production's"},
    {"rows", "parameter", "rows scored"},
    {"production_f1", "parameter", "the Production model's F1 on the same rows; null when there is none"},
    {"production_version", "parameter", "the Production version tested; null when there is none"}};

const ctflow_plugin_desc kTest = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.test", "1.0.0",
                                  "scores the trained and the Production model on the most recent rows by query",
                                  kTestParams, sizeof(kTestParams) / sizeof(kTestParams[0]), kTestOutputs,
                                  sizeof(kTestOutputs) / sizeof(kTestOutputs[0]), ctflow::sdk::run_adapter<test>};

const ctflow_param_decl kDeployParams[] = {
    {"model", "path", nullptr, "the model artifact of iot.train; \"\" (train did not run): deploy the Production version"},
    {"f1", "float", "null", "the held-out F1 of 'model', compared with Production's"},
    {"model_name", "string", "\"iot-maintenance\"", "registry name"},
    {"server", "string", "\"\"", "a running `ctflow serve` (http://HOST:PORT): roll a new Production version out to it"}};
const ctflow_output_decl kDeployOutputs[] = {{"version", "parameter", "the registered version (no model: the Production one)"},
                                             {"stage", "parameter", "Production or Staging"},
                                             {"promoted", "parameter", "true when it became Production (better F1)"},
                                             {"served", "parameter", "the version the server now answers with (null: no rollout)"}};

const ctflow_plugin_desc kDeploy = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), "iot.deploy", "1.0.0",
                                    "registers the model; promotes it to Production when its F1 is better",
                                    kDeployParams, sizeof(kDeployParams) / sizeof(kDeployParams[0]), kDeployOutputs,
                                    sizeof(kDeployOutputs) / sizeof(kDeployOutputs[0]),
                                    ctflow::sdk::run_adapter<deploy>};

}  // namespace

CTFLOW_EXPORT_PLUGINS(&kSimulate, &kExtract, &kPreprocess, &kMerge, &kValidate, &kTrain, &kTest, &kDeploy)
