// The mnist plugin family: ingest, validate, train, embed, index, analyze, deploy.
// This file is only glue between the plugin SDK and the plain functions in
// mnist_data.h, mnist_torch.h, mnist_knn.h and mnist_deploy.h.
#include <algorithm>
#include <string_view>

#include "ctflow/plugin.hpp"
#include "mnist_data.h"
#include "mnist_deploy.h"
#include "mnist_knn.h"
#include "mnist_profile.h"
#include "mnist_torch.h"

namespace {

using ctflow::sdk::Context;
using ctflow::sdk::PluginError;
namespace mn = ctflow::mnist;

std::string opt_str(const Context& c, const char* name) {
  auto v = c.param(name);
  if (!v || v->is_null()) return "";
  return v->is_string() ? v->get<std::string>() : v->dump();
}

int threads_of(const Context& c) { return std::max(1, c.cpu_threads()); }

// DataError and friends become the step's error message, unchanged.
template <class F>
void guarded(F&& f) {
  try {
    f();
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(e.what());
  }
}

void ingest(const Context& c) {
  guarded([&] {
    mn::IngestOptions o;
    o.source = c.str("source");
    o.out = c.artifact_path("dataset");
    o.val_fraction = c.number("val_fraction");
    o.index_fraction = c.number("index_fraction");
    o.limit = c.integer("limit");
    o.chunk_rows = c.integer("chunk_rows");
    o.seed = static_cast<uint64_t>(c.integer("seed"));
    auto m = mn::ingest(o, [&](const std::string& s) { c.info(s); });
    mn::Json counts = mn::Json::object();
    for (const auto& [k, v] : m["splits"].items()) counts[k] = v["count"];
    c.output("counts", counts);
  });
}

// The blob of artifact NAME of a registered version (store/artifact_store.h:
// a folder is trees/<hex>, a file sha256/<2>/<62>, "x" when executable).
mn::fs::path artifact_blob(const Context& c, const mn::Json& version, const char* name) {
  const mn::Json a = version.value("artifacts", mn::Json::object());
  if (!a.contains(name) || !a[name].is_string()) return {};
  const std::string d = a[name].get<std::string>();
  const std::string hex = d.substr(d.find(':') + 1);
  if (hex.size() != 64) throw mn::DataError(std::string("artifact '") + name + "' has a malformed digest '" + d + "'");
  const mn::fs::path blobs = mn::fs::path(c.store_dir()) / "blobs";
  std::error_code ec;
  if (mn::fs::is_directory(blobs / "trees" / hex, ec)) return blobs / "trees" / hex;
  mn::fs::path f = blobs / "sha256" / hex.substr(0, 2) / hex.substr(2);
  if (!mn::fs::exists(f, ec)) f += "x";
  return f;
}

// The cosine distances of up to 1,000 held-out images of DATASET to their
// nearest neighbour in the index of VERSION, embedded by its model.
std::vector<double> neighbor_distances(const Context& c, const mn::Json& version, const mn::fs::path& dataset) {
  const mn::fs::path model = artifact_blob(c, version, "model"), index = artifact_blob(c, version, "index");
  if (model.empty() || index.empty()) return {};
  const mn::Manifest m = mn::read_manifest(dataset);
  const mn::Split* test = m.find("test");
  if (test == nullptr) return {};
  std::vector<float> images;
  std::vector<int64_t> labels;
  mn::load_split(m, *test, images, labels, 1000);
  const int64_t n = static_cast<int64_t>(labels.size());
  mn::set_threads(threads_of(c));
  mn::Embedder embedder(model);
  mn::KnnIndex knn(index);
  const std::vector<float> emb = embedder.embed(images.data(), n);
  std::vector<float> sims(static_cast<size_t>(n));
  std::vector<int64_t> ids(static_cast<size_t>(n));
  knn.search(emb.data(), n, 1, sims.data(), ids.data());
  std::vector<double> out;
  for (int64_t i = 0; i < n; ++i)
    if (ids[static_cast<size_t>(i)] >= 0) out.push_back(1.0 - static_cast<double>(sims[static_cast<size_t>(i)]));
  return out;
}

// Drift of DATASET against the file PROFILE, else against the 'profile'
// artifact of MODEL's Production version (and its model's neighbour distances).
// Null (and WHY) when there is none.
mn::Json profile_drift(const Context& c, const std::string& profile, const std::string& model, const mn::fs::path& dataset,
                       std::string& why) {
  if (!profile.empty()) return mn::dataset_drift(dataset, mn::read_json(mn::resolve_in(profile, "profile.json")));
  const mn::Json cur = c.model_current(model.c_str());
  if (!cur.is_object()) {
    why = "'" + model + "' has no Production version yet";
    return nullptr;
  }
  const mn::fs::path p = artifact_blob(c, cur, "profile");
  if (p.empty()) {
    why = "'" + model + "' v" + cur.value("version", mn::Json(0)).dump() + " was registered without a profile";
    return nullptr;
  }
  std::vector<double> nn;
  try {  // a model that cannot embed this data costs the signal, not the validation
    nn = neighbor_distances(c, cur, dataset);
  } catch (const std::exception& e) {
    c.warn("drift: no neighbour distances from '" + model + "' v" + cur.value("version", mn::Json(0)).dump() + ": " + e.what());
  }
  return mn::dataset_drift(dataset, mn::read_json(mn::resolve_in(p, "profile.json")), nn);
}

void validate(const Context& c) {
  guarded([&] {
    mn::ValidateOptions o;
    o.dataset = c.str("dataset");
    o.reference = opt_str(c, "reference");
    o.min_class_ratio = c.number("min_class_ratio");
    o.psi_threshold = c.number("psi_threshold");
    auto report = mn::validate(o);
    // Drift against the Production model's reference profile (base/drift.h).
    std::string why;
    mn::Json drift = nullptr;
    if (report["ok"].get<bool>()) {
      drift = profile_drift(c, opt_str(c, "profile"), c.str("model_name"), o.dataset, why);
      if (const int64_t want = c.integer("production_version"); want > 0 && drift.is_object()) {
        const mn::Json cur = c.model_current(c.str("model_name").c_str());
        if (cur.is_object() && cur.value("version", int64_t{0}) != want)
          c.warn("compared with v" + cur["version"].dump() + ", the Production version now, not v" + std::to_string(want));
      }
      if (!drift.is_null()) {
        report["profile_drift"] = drift;
        if (drift["score"].is_null()) why = drift.value("reason", std::string("no signal to compare"));
      }
    }
    if (!why.empty()) report["profile_drift"] = {{"score", nullptr}, {"drifted", false}, {"reason", why}};
    const bool drifted = drift.is_object() && drift["drifted"].is_boolean() && drift["drifted"].get<bool>();
    c.output("drift", drift.is_object() ? drift["score"] : mn::Json(nullptr));
    c.output("drifted", drifted);
    if (drift.is_object() && drift["score"].is_number())
      c.info("drift against the Production profile: " + drift["score"].dump() + (drifted ? " (drifted)" : " (no drift)"));
    else if (!why.empty())
      c.info("no drift check: " + why);
    mn::write_json(c.artifact_path("report"), report);
    const bool ok = report["ok"].get<bool>();
    c.output("ok", ok);
    for (const auto& w : report["warnings"]) c.warn(w.get<std::string>());
    if (!ok && c.boolean("fail")) {
      std::string msg = "dataset " + o.dataset.string() + " failed validation:";
      for (const auto& e : report["errors"]) msg += "\n  - " + e.get<std::string>();
      throw PluginError(msg);
    }
    c.info(ok ? "dataset is valid" : "dataset has problems (fail=false)");
  });
}

void train(const Context& c) {
  mn::apply_malloc_tunables();
  guarded([&] {
    mn::TrainOptions o;
    o.dataset = c.str("dataset");
    o.out = c.artifact_path("model");
    o.embedding_dim = c.integer("embedding_dim");
    o.arcface_scale = c.number("arcface_scale");
    o.arcface_margin = c.number("arcface_margin");
    o.epochs = c.integer("epochs");
    o.batch_size = c.integer("batch_size");
    o.lr = c.number("lr");
    o.optimizer = c.str("optimizer");
    o.weight_decay = c.number("weight_decay");
    o.seed = static_cast<uint64_t>(c.integer("seed"));
    o.channels_last = c.boolean("channels_last");
    o.workers = static_cast<int>(c.integer("workers"));
    o.augment = c.str("augment");
    o.augment_options.shift = c.number("augment_shift");
    o.augment_options.rotate = c.number("augment_rotate");
    o.augment_options.scale = c.number("augment_scale");
    o.threads = threads_of(c);
    o.cuda = c.gpus() > 0 && mn::cuda_available();
    mn::set_threads(o.threads);
    mn::TrainHooks h;
    h.log = [&](const std::string& s) { c.info(s); };
    bool val_series = false;  // val_accuracy per epoch; then no scalar of that name (one series in the store)
    h.series = [&](const char* name, int64_t step, double v) {
      val_series = val_series || std::string_view(name) == "val_accuracy";
      c.series(name, step, v);
    };
    h.cancelled = [&] { return c.cancelled(); };
    h.progress = [&](double done, double total, const std::string& m) { c.progress(done, total, m); };
    auto meta = mn::train(o, h);
    if (!val_series) c.scalar("val_accuracy", meta["val_accuracy"].get<double>());
    c.scalar("train_seconds", meta["seconds"].get<double>());
    c.output("val_accuracy", meta["val_accuracy"]);
  });
}

void embed(const Context& c) {
  mn::apply_malloc_tunables();
  guarded([&] {
    mn::EmbedOptions o;
    o.model = c.str("model");
    o.dataset = c.str("dataset");
    o.out = c.artifact_path("embeddings");
    o.batch_size = c.integer("batch_size");
    o.threads = threads_of(c);
    o.cuda = c.gpus() > 0 && mn::cuda_available();
    mn::set_threads(o.threads);
    auto meta = mn::embed(o, [&] { return c.cancelled(); },
                          [&](double done, double total, const std::string& m) { c.progress(done, total, m); });
    c.scalar("embed_images_per_s", meta["images_per_s"].get<double>());
    c.info("embedded " + meta["splits"].dump() + " at " + std::to_string(meta["images_per_s"].get<double>()) + " images/s");
  });
}

void index(const Context& c) {
  guarded([&] {
    mn::IndexOptions o;
    o.embeddings = c.str("embeddings");
    o.out = c.artifact_path("index");
    o.type = c.str("type");
    o.hnsw_m = static_cast<int>(c.integer("hnsw_m"));
    o.ef_search = static_cast<int>(c.integer("ef_search"));
    o.nlist = static_cast<int>(c.integer("nlist"));
    o.nprobe = static_cast<int>(c.integer("nprobe"));
    o.progress = [&](double done, double total, const std::string& m) { c.progress(done, total, m); };
    auto meta = mn::build_index(o);
    c.output("ntotal", meta["ntotal"]);
    c.info("built a " + o.type + " index of " + meta["ntotal"].dump() + " vectors");
  });
}

void analyze(const Context& c) {
  guarded([&] {
    mn::AnalyzeOptions o;
    o.index = c.str("index");
    o.embeddings = c.str("embeddings");
    o.k = static_cast<int>(c.integer("k"));
    if (auto names = c.param("class_names"); names && names->is_array())
      for (const auto& n : *names) o.class_names.push_back(n.is_string() ? n.get<std::string>() : n.dump());
    auto r = mn::analyze(o);
    mn::write_json(c.artifact_path("report"), r.report);
    mn::ProfileInputs pi{opt_str(c, "dataset"), r.predictions, r.truth, r.labels, r.nn_distances};
    mn::write_json(c.artifact_path("profile"), mn::make_profile(pi));
    mn::write_json(c.artifact_path("mlpipeline-metrics"), r.kfp_metrics);
    mn::write_json(c.artifact_path("mlpipeline-ui-metadata"), r.kfp_ui);
    c.scalar("accuracy", r.accuracy);
    for (size_t i = 0; i < r.per_class.size(); ++i) c.scalar(("accuracy_class_" + r.labels[i]).c_str(), r.per_class[i]);
    c.confusion("confusion_matrix", r.labels, r.confusion);
    c.output("accuracy", r.accuracy);
    c.info("kNN accuracy " + std::to_string(r.accuracy) + " (k=" + std::to_string(o.k) + ")");
  });
}

void deploy(const Context& c) {
  guarded([&] {
    mn::DeployOptions o;
    o.store_dir = c.store_dir();
    o.model_name = c.str("model_name");
    o.model = c.str("model");
    o.index = c.str("index");
    o.report = opt_str(c, "report");
    o.profile = opt_str(c, "profile");
    o.dataset = opt_str(c, "dataset");
    o.accuracy = c.number("accuracy");
    o.run_id = c.run_id();
    o.step = c.step_name();
    o.server = opt_str(c, "server");
    o.digest_file = [&c](const mn::fs::path& f) { return c.artifact_digest(f.string()); };
    o.register_promote = [&c](const mn::Json& request) { return c.model_register_promote(request); };
    auto r = mn::deploy(o);
    c.output("version", r["version"]);
    c.output("stage", r["stage"]);
    c.output("promoted", r["promoted"]);
    c.output("served", r["served"]);
    if (!o.server.empty())
      c.info(r["served"].is_null() ? "not promoted: the server at " + o.server + " keeps its version"
                                   : "the server at " + o.server + " now answers with v" + r["served"].dump());
    c.info("registered " + o.model_name + " v" + r["version"].dump() + " as " + r["stage"].get<std::string>());
  });
}

const ctflow_param_decl kIngestParams[] = {
    {"source", "path", "\"/usr/share/datasets/fashion-mnist\"", "folder with train-* and t10k-* IDX files (gzipped or not)"},
    {"val_fraction", "float", "0.1", "fraction of the training images held out for validation"},
    {"index_fraction", "float", "0", "fraction held out as a separate kNN index set (0: index = train split)"},
    {"limit", "int", "0", "use at most N training images (0: all)"},
    {"chunk_rows", "int", "10000", "images per .npy chunk (at most one chunk in memory)"},
    {"seed", "int", "42", "seed of the split"}};
const ctflow_output_decl kIngestOutputs[] = {{"dataset", "artifact", "folder: manifest.json and .npy chunks"},
                                             {"counts", "parameter", "images per split"}};

const ctflow_param_decl kValidateParams[] = {
    {"dataset", "path", nullptr, "the dataset artifact of mnist.ingest"},
    {"reference", "path", "\"\"", "a reference dataset for drift (PSI); empty: no drift check"},
    {"min_class_ratio", "float", "0.5", "smallest / largest class in train below this fails"},
    {"psi_threshold", "float", "0.25", "PSI above this is drift from 'reference' (an error)"},
    {"fail", "bool", "true", "fail the step when a check fails (else output ok=false)"},
    {"model_name", "string", "\"mnist-embedder\"", "compare with the reference profile of this model's Production version"},
    {"profile", "path", "\"\"", "a profile.json to compare with instead (mnist.analyze's 'profile')"},
    {"production_version", "int", "0", "the Production version it compares with (core.production's 'version'): a new one makes the step run again instead of reusing a cached answer"}};
const ctflow_output_decl kValidateOutputs[] = {
    {"report", "artifact", "JSON report"},
    {"ok", "parameter", "true when every check passed"},
    {"drift", "parameter", "share of signals (pixel-intensity PSI, class-balance PSI, neighbour-distance KS in the Production model) that drift against the Production profile, 0..1; null without a profile"},
    {"drifted", "parameter", "true when at least half the signals drift (PSI >= 0.1, KS p < 0.05: Evidently's defaults); false without a profile"}};

const ctflow_param_decl kTrainParams[] = {
    {"dataset", "path", nullptr, "the dataset artifact of mnist.ingest"},
    {"embedding_dim", "int", "64", "embedding size"},
    {"arcface_scale", "float", "30", "ArcFace scale s"},
    {"arcface_margin", "float", "0.3", "ArcFace additive angular margin m (radians)"},
    {"epochs", "int", "0", "passes over the train split (0: auto, at least 4 passes and 300,000 images: 6 for Fashion-MNIST, 42 for 8,000 digits)"},
    {"batch_size", "int", "128", "images per step"},
    {"lr", "float", "0.003", "peak learning rate (warm-up, then cosine decay)"},
    {"optimizer", "string", "\"adam\"", "adam, adamw or sgd"},
    {"weight_decay", "float", "0", "weight decay"},
    {"seed", "int", "42", "seed of initialisation and shuffling"},
    {"channels_last", "bool", "true", "channels-last memory format for the convolutions (false: planar NCHW, slower on the CPU)"},
    {"workers", "int", "0", "CPU data-parallel replicas, one thread each (0: one per granted CPU; 1: intra-op threads)"},
    {"augment", "string", "\"auto\"", "random shifts and rotations of the training images: on, off, or auto (on from 8 epochs: small data sets)"},
    {"augment_shift", "float", "2", "augmentation: largest shift, pixels"},
    {"augment_rotate", "float", "10", "augmentation: largest rotation, degrees"},
    {"augment_scale", "float", "0", "augmentation: largest zoom in or out, a fraction"}};
const ctflow_output_decl kTrainOutputs[] = {{"model", "artifact", "folder: model.pt (TorchScript) and meta.json"},
                                            {"val_accuracy", "parameter", "nearest-centre accuracy on the val split"}};

const ctflow_param_decl kEmbedParams[] = {{"model", "path", nullptr, "the model artifact (folder or model.pt)"},
                                          {"dataset", "path", nullptr, "the dataset artifact"},
                                          {"batch_size", "int", "1000", "images per forward pass"}};
const ctflow_output_decl kEmbedOutputs[] = {{"embeddings", "artifact", "folder: index.npy, test.npy and labels"}};

const ctflow_param_decl kIndexParams[] = {{"embeddings", "path", nullptr, "the embeddings artifact"},
                                          {"type", "string", "\"flat\"", "flat, hnsw or ivf"},
                                          {"hnsw_m", "int", "32", "HNSW: links per node"},
                                          {"ef_search", "int", "64", "HNSW: search depth"},
                                          {"nlist", "int", "0", "IVF: lists (0: 4 sqrt(N))"},
                                          {"nprobe", "int", "8", "IVF: lists searched"}};
const ctflow_output_decl kIndexOutputs[] = {{"index", "artifact", "folder: index.faiss, labels.npy, meta.json"},
                                            {"ntotal", "parameter", "vectors in the index"}};

const ctflow_param_decl kAnalyzeParams[] = {{"index", "path", nullptr, "the index artifact"},
                                            {"embeddings", "path", nullptr, "the embeddings artifact (test set)"},
                                            {"k", "int", "10", "neighbours that vote"},
                                            {"class_names", "json", "null", "names of the classes (list), default 0..C-1"},
                                            {"dataset", "path", "\"\"", "the dataset artifact: its test split's pixel intensities go into the profile"}};
const ctflow_output_decl kAnalyzeOutputs[] = {
    {"accuracy", "parameter", "kNN accuracy on the test set"},
    {"report", "artifact", "JSON: accuracy, per-class accuracy, confusion matrix"},
    {"mlpipeline-metrics", "artifact", "Kubeflow metrics JSON"},
    {"mlpipeline-ui-metadata", "artifact", "Kubeflow output viewers JSON"},
    {"profile", "artifact", "profile.json: the drift reference (class balance, pixel intensities, nearest-neighbour distances of the test set)"}};

const ctflow_param_decl kDeployParams[] = {{"model", "path", nullptr, "the model artifact"},
                                           {"index", "path", nullptr, "the index artifact"},
                                           {"report", "path", "\"\"", "the analysis report artifact"},
                                           {"profile", "path", "\"\"", "the drift reference profile (mnist.analyze): registered with the model, read by ctflow serve"},
                                           {"dataset", "path", "\"\"", "the dataset artifact (lineage)"},
                                           {"accuracy", "float", nullptr, "the accuracy to compare with Production"},
                                           {"model_name", "string", "\"mnist-embedder\"", "registry name"},
                                           {"server", "string", "\"\"", "a running `ctflow serve` (http://HOST:PORT): roll a new Production version out to it"}};
const ctflow_output_decl kDeployOutputs[] = {{"version", "parameter", "the registered version"},
                                             {"stage", "parameter", "Production or Staging"},
                                             {"promoted", "parameter", "true when it became Production"},
                                             {"served", "parameter", "the version the server now answers with (null: no rollout)"}};

#define MNIST_PLUGIN(var, name, desc, fn, params, outputs)                                                      \
  const ctflow_plugin_desc var = {CTFLOW_PLUGIN_ABI_VERSION, sizeof(ctflow_plugin_desc), name, "1.0.0", desc,   \
                                  params, sizeof(params) / sizeof(params[0]), outputs,                          \
                                  sizeof(outputs) / sizeof(outputs[0]), ctflow::sdk::run_adapter<fn>}

MNIST_PLUGIN(kIngest, "mnist.ingest", "reads MNIST IDX files into .npy chunks with a seeded val split", ingest,
             kIngestParams, kIngestOutputs);
MNIST_PLUGIN(kValidate, "mnist.validate", "checks a dataset (shapes, values, labels, balance, drift)", validate,
             kValidateParams, kValidateOutputs);
MNIST_PLUGIN(kTrain, "mnist.train", "trains an embedding CNN with ArcFace; saves TorchScript", train, kTrainParams,
             kTrainOutputs);
MNIST_PLUGIN(kEmbed, "mnist.embed", "embeds the index and test sets with a TorchScript model", embed, kEmbedParams,
             kEmbedOutputs);
MNIST_PLUGIN(kIndex, "mnist.index", "builds a faiss index (flat, hnsw, ivf) of the embeddings", index, kIndexParams,
             kIndexOutputs);
MNIST_PLUGIN(kAnalyze, "mnist.analyze", "kNN classification of the test set: accuracy, confusion matrix", analyze,
             kAnalyzeParams, kAnalyzeOutputs);
MNIST_PLUGIN(kDeploy, "mnist.deploy", "registers the model in the registry; promotes it when it is better", deploy,
             kDeployParams, kDeployOutputs);

}  // namespace

CTFLOW_EXPORT_PLUGINS(&kIngest, &kValidate, &kTrain, &kEmbed, &kIndex, &kAnalyze, &kDeploy)
