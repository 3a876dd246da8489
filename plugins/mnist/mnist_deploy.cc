#include "mnist_deploy.h"

#include <regex>

#include "base/serve_rollout.h"

namespace ctflow::mnist {

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// The content digest of an artifact: taken from its blob path when it lies in the
// store (".../trees/<hex>" or ".../sha256/ab/<rest>"), else computed from the file.
std::string digest_of(const DeployOptions& o, const fs::path& p, const std::string& main_file) {
  static const std::regex tree(R"(/trees/([0-9a-f]{64})(/|$))"), file(R"(/sha256/([0-9a-f]{2})/([0-9a-f]{62})x?$)");
  std::smatch m;
  const std::string s = p.string();
  if (std::regex_search(s, m, tree)) return "sha256:" + m[1].str();
  if (std::regex_search(s, m, file)) return "sha256:" + m[1].str() + m[2].str();
  const fs::path f = resolve_in(p, main_file);
  std::error_code ec;
  if (!fs::is_regular_file(f, ec)) throw DataError("artifact " + q(f) + " does not exist");
  return o.digest_file(f);
}

}  // namespace

Json deploy(const DeployOptions& o) {
  if (!o.digest_file || !o.register_promote) throw DataError("mnist.deploy: no model registry to register with");
  Json artifacts = {{"model", digest_of(o, o.model, "model.pt")}, {"index", digest_of(o, o.index, "index.faiss")}};
  if (!o.report.empty()) artifacts["report"] = digest_of(o, o.report, "report.json");
  if (!o.profile.empty()) artifacts["profile"] = digest_of(o, o.profile, "profile.json");
  Json metrics = {{"accuracy", o.accuracy}};
  std::error_code ec;
  if (!o.report.empty() && fs::is_regular_file(o.report, ec)) {
    Json rep = read_json(o.report);
    if (rep.contains("per_class_accuracy")) metrics["per_class_accuracy"] = rep["per_class_accuracy"];
    if (rep.contains("k")) metrics["k"] = rep["k"];
  }
  Json lineage = o.params;
  lineage["run_id"] = o.run_id;
  lineage["handler"] = "mnist.knn";  // what `ctflow serve` runs it with
  lineage["step"] = o.step;
  lineage["paths"] = {{"model", o.model.string()}, {"index", o.index.string()}, {"report", o.report.string()}, {"profile", o.profile.string()}};
  if (!o.dataset.empty()) lineage["dataset"] = o.dataset.string();
  const fs::path meta = resolve_in(o.model, "meta.json").parent_path() / "meta.json";
  if (fs::is_regular_file(meta, ec)) {
    Json mm = read_json(meta);
    if (mm.contains("params")) lineage["train_params"] = mm["params"];
  }

  // Compare with Production, register, promote: one transaction in the host.
  Json r = o.register_promote({{"name", o.model_name},
                               {"artifacts", artifacts},
                               {"metrics", metrics},
                               {"params", lineage},
                               {"compare", {{"metric", "accuracy"}, {"higher_is_better", true}}}});
  const int version = r.value("version", 0);
  const bool promote = r.value("promoted", false);
  Json out = {{"name", o.model_name}, {"version", version}, {"stage", r.value("stage", std::string())},
              {"promoted", promote}};
  if (r.contains("previous") && r["previous"].is_object()) {
    const Json& prev = r["previous"];
    out["previous"] = {{"version", prev.value("version", 0)},
                       {"accuracy", prev.contains("metrics") && prev["metrics"].is_object()
                                        ? prev["metrics"].value("accuracy", 0.0) : 0.0}};
  }
  out["served"] = nullptr;
  if (!o.server.empty() && promote) {
    try {
      rollout::roll_out(o.server, o.model_name, version);
    } catch (const rollout::RolloutError& e) {
      throw DataError("registered " + o.model_name + " v" + std::to_string(version) + ", but " + e.what());
    }
    out["served"] = version;
  }
  return out;
}

}  // namespace ctflow::mnist
