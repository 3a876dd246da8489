// Fills a store for the dashboard's benchmark and browser test, through the
// RunStore API (so it follows schema changes):
//   ui runs STORE N FILE     N finished runs of the workflow FILE (statuses mixed,
//                            4 steps each, a log, metrics), for bench/ui.sh
//   ui metrics STORE RUN     loss/accuracy series, a scalar, a confusion matrix
//   ui drift STORE RUN       drift scores and two drift firings (RUN: the one started)
//                            and a registered model "demo-model" for RUN, as a
//                            training plugin would record them (ui_browser.sh)
// Prints what it made as JSON.
#include <fstream>
#include <iostream>
#include <sstream>

#include <cmath>

#include "store/run_store.h"

using ctflow::Json;

namespace {

int fail(const std::string& msg) {
  std::cerr << "ui: " << msg << "\n";
  return 1;
}

int seed_runs(ctflow::RunStore& store, int n, const std::string& file) {
  std::ifstream in(file);
  if (!in) return fail("cannot read " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string source = ss.str();
  std::filesystem::path log = store.logs_dir() / "bench-ui.log";
  std::ofstream(log) << "line 1\nline 2\nline 3\n";
  int64_t t0 = ctflow::now_ms();
  for (int i = 0; i < n; ++i) {
    auto id = store.create_run("hello", file, Json{{"who", "user" + std::to_string(i)}, {"i", i}}, source);
    if (!id) return fail(id.message());
    const char* status = i % 7 == 0 ? "Failed" : (i % 11 == 0 ? "Cancelled" : "Succeeded");
    ctflow::RunStore::Transaction tx(store);
    int64_t start = ctflow::now_ms();
    for (const char* step : {"greet", "count", "report", "done"}) {
      ctflow::StepRecord s;
      s.run_id = *id;
      s.name = s.step = step;
      s.status = "Succeeded";
      s.attempts = 1;
      s.started_at = start;
      s.finished_at = start + 1000;
      s.outputs = Json{{"result", std::string("output of ") + step}};
      s.log_path = log.string();
      if (auto st = store.upsert_step(s); !st) return fail(st.message());
    }
    std::vector<ctflow::MetricPoint> pts;
    for (int e = 0; e < 5; ++e) pts.push_back({*id, "count", "loss", "series", e, 2.0 / (e + 1), start});
    if (auto st = store.add_metrics(pts); !st) return fail(st.message());
    if (auto st = store.finish_run(*id, status, ""); !st) return fail(st.message());
    if (auto st = tx.commit(); !st) return fail(st.message());
  }
  std::cout << Json{{"runs", n}, {"seconds", (ctflow::now_ms() - t0) / 1000.0}}.dump() << "\n";
  return 0;
}

int seed_metrics(ctflow::RunStore& store, const std::string& run) {
  std::vector<ctflow::MetricPoint> pts;
  int64_t ts = ctflow::now_ms();
  for (int e = 0; e < 5; ++e) {
    pts.push_back({run, "train", "loss", "series", e, 2.3 * std::exp(-0.6 * e) + 0.05, ts});
    pts.push_back({run, "train", "val_loss", "series", e, 2.4 * std::exp(-0.5 * e) + 0.12, ts});
    pts.push_back({run, "train", "accuracy", "series", e, 0.95 - 0.6 * std::exp(-0.8 * e), ts});
  }
  pts.push_back({run, "evaluate", "accuracy", "scalar", 0, 0.91, ts});
  if (auto st = store.add_metrics(pts); !st) return fail(st.message());
  ctflow::ConfusionRecord c{run, "evaluate", "test", {"cat", "dog", "bird"}, {50, 3, 2, 4, 45, 1, 0, 2, 48}};
  if (auto st = store.add_confusion(c); !st) return fail(st.message());
  ctflow::ModelVersion m;
  m.name = "demo-model";
  m.stage = "None";
  m.run_id = run;
  m.step = "train";
  m.metrics = Json{{"accuracy", 0.91}};
  auto v = store.register_model(m);
  if (!v) return fail(v.message());
  std::cout << Json{{"run", run}, {"points", pts.size()}, {"model", "demo-model:" + std::to_string(v->version)}}.dump()
            << "\n";
  return 0;
}

// What a daemon's drift trigger records for the Drift and Triggers pages: 40
// drift scores (one every 10 s) that cross 0.4 at the 30th, the firing that
// started RUN and one the cooldown held back.
int seed_drift(ctflow::RunStore& store, const std::string& run) {
  const int64_t t0 = ctflow::now_ms() - 400'000;
  for (int i = 0; i < 40; ++i) {
    ctflow::DriftSample d{"retrain", "drifted", "digits", 1, t0 + i * 10'000, i < 30 ? 0.0 : 2.0 / 3, 0.4};
    const double psi = i < 30 ? 0.01 + 0.001 * i : 1.5 + 0.05 * (i - 30);
    d.signals = Json{{"intensity", {{"method", "psi"}, {"score", psi}, {"threshold", 0.1}, {"drifted", psi >= 0.1}}},
                     {"neighbor_distance", {{"method", "ks"}, {"score", i < 30 ? 0.05 : 0.6}, {"threshold", 0.05},
                                            {"drifted", i >= 30}}}};
    if (auto st = store.record_drift_sample(d); !st) return fail(st.message());
  }
  ctflow::TriggerFiring f{"retrain", "drifted", "drift:1", t0 + 300'000, t0 + 300'000,
                          Json{{"type", "drift"}, {"trigger", "drifted"}, {"score", 2.0 / 3}, {"model", "digits"}},
                          "started", "", run, 0};
  ctflow::TriggerFiring held = f;
  held.slot = "drift:2";
  held.slot_time = held.fired_at = t0 + 310'000;
  held.outcome = "skipped";
  held.reason = "cooldown: a run started at most once per 1h";
  held.run_id = "";
  for (const auto* x : {&f, &held})
    if (auto st = store.record_firing(*x); !st) return fail(st.message());
  std::cout << Json{{"samples", 40}, {"firings", 2}}.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return fail("usage: ui runs STORE N FILE | ui metrics STORE RUN | ui drift STORE RUN");
  std::string verb = argv[1];
  auto store = ctflow::RunStore::open(argv[2]);
  if (!store) return fail(store.message());
  if (verb == "runs" && argc == 5) return seed_runs(**store, std::atoi(argv[3]), argv[4]);
  if (verb == "metrics") return seed_metrics(**store, argv[3]);
  if (verb == "drift") return seed_drift(**store, argv[3]);
  return fail("usage: ui runs STORE N FILE | ui metrics STORE RUN | ui drift STORE RUN");
}
