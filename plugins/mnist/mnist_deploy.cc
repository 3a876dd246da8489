#include "mnist_deploy.h"

#include <regex>

#include "store/artifact_store.h"
#include "store/run_store.h"

namespace ctflow::mnist {

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// The content digest of an artifact: taken from its blob path when it lies in the
// store (".../trees/<hex>" or ".../sha256/ab/<rest>"), else computed from the file.
std::string digest_of(const fs::path& p, const std::string& main_file) {
  static const std::regex tree(R"(/trees/([0-9a-f]{64})(/|$))"), file(R"(/sha256/([0-9a-f]{2})/([0-9a-f]{62})x?$)");
  std::smatch m;
  const std::string s = p.string();
  if (std::regex_search(s, m, tree)) return "sha256:" + m[1].str();
  if (std::regex_search(s, m, file)) return "sha256:" + m[1].str() + m[2].str();
  const fs::path f = resolve_in(p, main_file);
  std::error_code ec;
  if (!fs::is_regular_file(f, ec)) throw DataError("artifact " + q(f) + " does not exist");
  auto d = ArtifactStore::digest_file(f);
  if (!d.ok()) throw DataError("cannot hash " + q(f) + ": " + d.message());
  return *d;
}

}  // namespace

Json deploy(const DeployOptions& o) {
  auto store = RunStore::open(o.store_dir);
  if (!store.ok()) throw DataError("cannot open the model registry in " + q(o.store_dir) + ": " + store.message());
  auto& rs = **store;
  Json artifacts = {{"model", digest_of(o.model, "model.pt")}, {"index", digest_of(o.index, "index.faiss")}};
  if (!o.report.empty()) artifacts["report"] = digest_of(o.report, "report.json");
  Json metrics = {{"accuracy", o.accuracy}};
  std::error_code ec;
  if (!o.report.empty() && fs::is_regular_file(o.report, ec)) {
    Json rep = read_json(o.report);
    if (rep.contains("per_class_accuracy")) metrics["per_class_accuracy"] = rep["per_class_accuracy"];
    if (rep.contains("k")) metrics["k"] = rep["k"];
  }
  Json lineage = o.params;
  lineage["run_id"] = o.run_id;
  lineage["step"] = o.step;
  lineage["paths"] = {{"model", o.model.string()}, {"index", o.index.string()}, {"report", o.report.string()}};
  if (!o.dataset.empty()) lineage["dataset"] = o.dataset.string();
  const fs::path meta = resolve_in(o.model, "meta.json").parent_path() / "meta.json";
  if (fs::is_regular_file(meta, ec)) {
    Json mm = read_json(meta);
    if (mm.contains("params")) lineage["train_params"] = mm["params"];
  }

  // The current Production version, if any.
  std::optional<ModelVersion> prod;
  auto all = rs.list_models(o.model_name);
  if (!all.ok()) throw DataError("model registry: " + all.message());
  for (const auto& v : *all)
    if (v.stage == "Production") prod = v;
  const double prod_acc = prod ? prod->metrics.value("accuracy", 0.0) : -1.0;
  const bool promote = !prod || o.accuracy > prod_acc;

  ModelVersion mv;
  mv.name = o.model_name;
  mv.stage = "None";
  mv.run_id = o.run_id;
  mv.step = o.step;
  mv.artifacts = artifacts;
  mv.metrics = metrics;
  mv.params = lineage;
  auto reg = rs.register_model(mv);
  if (!reg.ok()) throw DataError("model registry: cannot register " + o.model_name + ": " + reg.message());
  const int version = reg->version;
  const std::string stage = promote ? "Production" : "Staging";
  if (auto st = rs.set_model_stage(o.model_name, version, stage); !st.ok())
    throw DataError("model registry: cannot move " + o.model_name + " v" + std::to_string(version) + " to " + stage + ": " + st.message());
  Json out = {{"name", o.model_name}, {"version", version}, {"stage", stage}, {"promoted", promote}};
  if (prod) out["previous"] = {{"version", prod->version}, {"accuracy", prod_acc}};
  return out;
}

}  // namespace ctflow::mnist
