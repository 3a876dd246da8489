// xgboost: the model handler `ctflow serve` uses for the models iot.deploy
// registers (plugins/sdk/include/ctflow/handler.h). An input is one row of raw
// readings as a JSON object of named fields ({"type": "L", "air_temp_k": 300.1,
// ...}); decode_row turns it into iot.train's features, so the server scores
// exactly what the training measured. The answer: the failure probability and
// the label at the threshold the model was trained and scored with.
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctflow/handler.h"
#include "iot_train.h"

namespace {

namespace iot = ctflow::iot;
using Json = nlohmann::json;

struct Model {
  BoosterHandle booster = nullptr;
  double threshold = 0.5;
  ~Model() {
    if (booster != nullptr) XGBoosterFree(booster);
  }
};

char* dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

std::string fields_list() {
  std::string s = "type";
  for (const auto& c : iot::raw_columns()) s += ", " + c;
  return s;
}

ctflow_model* load(const char* config_json, char** error) noexcept {
  try {
    const Json config = Json::parse(config_json);
    const Json a = config.value("artifacts", Json::object());
    if (!a.contains("model") || !a["model"].is_string())
      throw std::runtime_error("the model version has no 'model' artifact; xgboost serves the model folder iot.deploy registers");
    const std::filesystem::path dir = a["model"].get<std::string>();
    auto m = std::make_unique<Model>();
    if (XGBoosterCreate(nullptr, 0, &m->booster) != 0 ||
        XGBoosterLoadModel(m->booster, (dir / "model.json").string().c_str()) != 0)
      throw std::runtime_error("cannot load " + (dir / "model.json").string() + ": " + XGBGetLastError());
    XGBoosterSetParam(m->booster, "nthread", std::to_string(std::max(1, config.value("threads", 1))).c_str());
    std::ifstream mf(dir / "metrics.json");
    const Json metrics = mf ? Json::parse(mf, nullptr, false) : Json();
    if (metrics.is_object() && metrics.contains("threshold") && metrics["threshold"].is_number())
      m->threshold = metrics["threshold"].get<double>();
    return reinterpret_cast<ctflow_model*>(m.release());
  } catch (const std::exception& e) {
    if (error != nullptr) *error = dup(e.what());
    return nullptr;
  }
}

// One row: the product type and the raw readings, by name. Every problem names
// the field and what it must hold.
int decode_row(const char* row_json, float* out, char** error) noexcept {
  auto fail = [&](const std::string& m) {
    if (error != nullptr) *error = dup(m);
    return 1;
  };
  try {
    const Json row = Json::parse(row_json);
    if (!row.is_object()) return fail("a row must be a JSON object with the fields " + fields_list());
    if (!row.contains("type")) return fail("field 'type' is missing; a row needs " + fields_list());
    const Json& t = row["type"];
    if (!t.is_string() || (t != "L" && t != "M" && t != "H"))
      return fail("field 'type' is " + t.dump() + "; the product type is \"L\", \"M\" or \"H\"");
    double raw[5];
    for (size_t k = 0; k < 5; ++k) {
      const std::string& name = iot::raw_columns()[k];
      if (!row.contains(name)) return fail("field '" + name + "' is missing; a row needs " + fields_list());
      const Json& v = row[name];
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        return fail("field '" + name + "' must be a number, got " + v.dump());
      raw[k] = v.get<double>();
    }
    iot::row_features(t.get<std::string>()[0], raw, out);
    return 0;
  } catch (const std::exception& e) {
    return fail(std::string("a row must be a JSON object: ") + e.what());
  }
}

int predict(ctflow_model* model, const float* inputs, int64_t n, char** results, int64_t* classes, char** error) noexcept {
  auto* m = reinterpret_cast<Model*>(model);
  DMatrixHandle d = nullptr;
  bst_ulong got = 0;
  const float* prob = nullptr;
  if (XGDMatrixCreateFromMat(inputs, bst_ulong(n), iot::feature_names().size(), NAN, &d) != 0 ||
      XGBoosterPredict(m->booster, d, 0, 0, 0, &got, &prob) != 0 || got != bst_ulong(n)) {
    if (error != nullptr) *error = dup(std::string("xgboost: ") + XGBGetLastError());
    if (d != nullptr) XGDMatrixFree(d);
    return 1;
  }
  for (int64_t i = 0; i < n; ++i) {
    const bool failure = prob[i] >= m->threshold;
    classes[i] = failure ? 1 : 0;
    results[i] = dup(Json{{"failure_probability", prob[i]}, {"failure", failure}, {"label", failure ? "failure" : "ok"},
                          {"threshold", m->threshold}}
                         .dump());
  }
  XGDMatrixFree(d);
  return 0;
}

void unload(ctflow_model* model) { delete reinterpret_cast<Model*>(model); }

const ctflow_handler_desc kXgboost = {CTFLOW_HANDLER_ABI_VERSION,
                                      sizeof(ctflow_handler_desc),
                                      "xgboost",
                                      "XGBoost failure classifier (iot.train): JSON rows of named readings in, "
                                      "failure probability and label out",
                                      1,
                                      iot::kFeatureCount,
                                      load,
                                      predict,
                                      unload,
                                      nullptr,
                                      decode_row};

}  // namespace

CTFLOW_EXPORT_HANDLERS(&kXgboost)
