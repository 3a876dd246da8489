// The drift window of `ctflow serve` (web/serve/drift_window.h): what it
// counts, when it forgets, which version's profile it compares with, and the
// route and metric names a user (and the daemon) relies on.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/drift.h"
#include "web/serve/drift_window.h"
#include "web/serve/handler_host.h"
#include "web/serve/route.h"

using namespace ctflow::serve;
using Json = nlohmann::json;

namespace {

// A profile of dark images (every pixel 0) split evenly over two classes.
Json dark_profile() {
  std::vector<double> counts(ctflow::drift::kIntensityBins, 0.0);
  counts[0] = 1000;
  return {{"format", ctflow::drift::kProfileFormat},
          {"intensity", {{"counts", counts}}},
          {"class_balance", {{"predicted", {50, 50}}}}};
}

// N images of 4 pixels of value V, classes alternating 0, 1 (or all CLS >= 0).
void feed(DriftWindows& w, int version, int n, float v, int cls = -1) {
  std::vector<float> px(static_cast<size_t>(n) * 4, v);
  std::vector<int64_t> classes(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) classes[static_cast<size_t>(i)] = cls >= 0 ? cls : i % 2;
  w.add("m", version, px.data(), n, 4, classes.data(), nullptr);
}

}  // namespace

TEST_CASE("the window scores against the default version's profile and slides") {
  DriftWindows w;
  w.set_window(100);
  CHECK(w.report("m").is_null());  // unknown model
  w.set_profile("m", 1, dark_profile(), "");
  w.set_default("m", 1);
  Json r = w.report("m");
  CHECK(r["score"].is_null());
  CHECK(r["reason"].get<std::string>().find("needs at least 100") != std::string::npos);
  feed(w, 1, 100, 0.0f);
  r = w.report("m");
  CHECK(r["model"] == "m");
  CHECK(r["version"] == 1);
  CHECK(r["window"] == 100);
  CHECK(r["count"] == 100);
  CHECK(r["score"].get<double>() == 0.0);
  CHECK(r["drifted"] == false);
  CHECK_FALSE(r["signals"].contains("neighbor_distance"));  // the handler gave no distances
  // Bright images of one class push the dark ones out of the window.
  feed(w, 1, 100, 1.0f, 0);
  r = w.report("m");
  CHECK(r["count"] == 100);
  CHECK(r["signals"]["intensity"]["drifted"] == true);
  CHECK(r["signals"]["class_balance"]["drifted"] == true);
  CHECK(r["drifted"] == true);
  // And dark ones push them out again.
  feed(w, 1, 100, 0.0f);
  CHECK(w.report("m")["drifted"] == false);
  // Another version's traffic does not count.
  feed(w, 2, 100, 1.0f, 0);
  CHECK(w.report("m")["drifted"] == false);
  const std::string m = w.render();
  CHECK(m.find("ctflow_serve_drift_overall{model=\"m\"} 0\n") != std::string::npos);
  CHECK(m.find("ctflow_serve_drift_score{model=\"m\",signal=\"intensity\"} ") != std::string::npos);
  CHECK(m.find("ctflow_serve_drift_detected{model=\"m\"} 0\n") != std::string::npos);
}

TEST_CASE("a new default version starts an empty window; a version without a profile says so") {
  DriftWindows w;
  w.set_window(10);
  w.set_profile("m", 1, dark_profile(), "");
  w.set_default("m", 1);
  feed(w, 1, 10, 0.0f);
  CHECK(w.report("m")["score"].is_number());
  w.set_profile("m", 2, nullptr, "'m' v2 was registered without a reference profile");
  w.set_default("m", 2);
  Json r = w.report("m");
  CHECK(r["version"] == 2);
  CHECK(r["count"] == 0);
  CHECK(r["score"].is_null());
  CHECK(r["reason"].get<std::string>().find("without a reference profile") != std::string::npos);
  CHECK(w.render().find("ctflow_serve_drift_overall{model=\"m\"}") == std::string::npos);
  w.forget("m", 2);
  w.forget("m", 1);
  CHECK(w.report("m").is_null());
}

TEST_CASE("GET /models/{model}/drift is routed; other methods are refused") {
  Route r = route("GET", "/models/mnist-embedder/drift");
  CHECK(r.endpoint == Endpoint::kDrift);
  CHECK(r.model == "mnist-embedder");
  r = route("POST", "/models/mnist-embedder/drift");
  CHECK(r.endpoint == Endpoint::kError);
  CHECK(r.status == 405);
  CHECK(route("GET", "/models/mnist-embedder/3").endpoint == Endpoint::kDescribe);  // versions are unchanged
}

namespace {
// A handler whose answer is "{}", class 1, and (with predict_nn) distance 0.25.
ctflow_model* h_load(const char*, char**) noexcept { return reinterpret_cast<ctflow_model*>(new int(0)); }
int h_predict(ctflow_model*, const float*, int64_t n, char** results, int64_t* classes, char**) noexcept {
  for (int64_t i = 0; i < n; ++i) {
    results[i] = static_cast<char*>(std::malloc(3));
    std::memcpy(results[i], "{}", 3);
    classes[i] = 1;
  }
  return 0;
}
int h_predict_nn(ctflow_model* m, const float* in, int64_t n, char** results, int64_t* classes, double* nn, char** e) noexcept {
  for (int64_t i = 0; i < n; ++i) nn[i] = 0.25;
  return h_predict(m, in, n, results, classes, e);
}
void h_unload(ctflow_model* m) noexcept { delete reinterpret_cast<int*>(m); }
}  // namespace

TEST_CASE("handler ABI: predict_nn hands distances over; a version 1 handler (without it) still serves") {
  const ctflow_handler_desc v2 = {CTFLOW_HANDLER_ABI_VERSION, sizeof(ctflow_handler_desc), "t.nn", "", 1, 1,
                                  h_load, h_predict, h_unload, h_predict_nn};
  ctflow_handler_desc v1 = v2;
  v1.size = static_cast<uint32_t>(CTFLOW_HANDLER_V1_SIZE);  // built against the header before predict_nn
  v1.predict_nn = h_predict_nn;                             // beyond its size: must not be called
  CHECK(CTFLOW_HANDLER_V1_SIZE < sizeof(ctflow_handler_desc));
  const float px[2] = {0, 0};
  std::vector<std::string> answers;
  std::vector<int64_t> classes;
  std::vector<double> nn;
  auto m2 = LoadedModel::load(&v2, "{}");
  REQUIRE(m2.ok());
  REQUIRE((*m2)->predict(px, 2, answers, classes, &nn).ok());
  CHECK(nn == std::vector<double>{0.25, 0.25});
  CHECK(answers == std::vector<std::string>{"{}", "{}"});
  auto m1 = LoadedModel::load(&v1, "{}");
  REQUIRE(m1.ok());
  REQUIRE((*m1)->predict(px, 2, answers, classes, &nn).ok());
  REQUIRE(nn.size() == 2);
  CHECK(std::isnan(nn[0]));
  CHECK(classes == std::vector<int64_t>{1, 1});
}
