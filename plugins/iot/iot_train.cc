#include "iot_train.h"

#include <sqlite3.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>

namespace ctflow::iot {

namespace {

constexpr double kPi = 3.14159265358979323846;

void xg(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string("xgboost: ") + what + ": " + XGBGetLastError());
}

// Evenly spaced points of a curve (at most 101), the last one always kept.
nlohmann::json thin(const std::vector<std::array<double, 3>>& pts) {
  nlohmann::json out = nlohmann::json::array();
  const size_t step = std::max<size_t>(1, pts.size() / 100);
  for (size_t i = 0; i < pts.size(); i += step) out.push_back(pts[i]);
  if (!pts.empty() && (pts.size() - 1) % step != 0) out.push_back(pts.back());
  return out;
}

}  // namespace

void row_features(char type, const double v[5], float* out) {
  const double power = v[3] * v[2] * 2 * kPi / 60.0, strain = v[4] * v[3];
  const double limit = type == 'L' ? 11000 : type == 'M' ? 12000 : 13000;  // the overstrain limit of the type
  const float f[] = {float(v[0]), float(v[1]), float(v[2]), float(v[3]), float(v[4]), float(power),
                     float(v[1] - v[0]), float(strain), float(strain / limit), type == 'L' ? 1.f : 0.f,
                     type == 'M' ? 1.f : 0.f, type == 'H' ? 1.f : 0.f};
  static_assert(sizeof(f) / sizeof(f[0]) == kFeatureCount);
  std::copy(std::begin(f), std::end(f), out);
}

nlohmann::json score(const std::vector<float>& prob, const std::vector<float>& y, double threshold) {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  std::vector<std::pair<float, float>> scored;
  for (size_t i = 0; i < prob.size(); ++i) {
    const bool yhat = prob[i] >= threshold, pos = y[i] > 0.5f;
    tp += yhat && pos;
    fp += yhat && !pos;
    fn += !yhat && pos;
    tn += !yhat && !pos;
    scored.emplace_back(prob[i], y[i]);
  }
  // Average precision (PR-AUC), ROC-AUC (trapezoids) and the curves, walking
  // the rows from the most to the least likely failure.
  std::sort(scored.begin(), scored.end(), [](auto& a, auto& c) { return a.first > c.first; });
  const double npos = double(tp + fn), nneg = double(tn + fp);
  double ap = 0, auc = 0, hits = 0, falses = 0;
  std::vector<std::array<double, 3>> roc = {{0, 0, 1}}, pr;
  for (size_t i = 0; i < scored.size(); ++i) {
    const double prev_fpr = falses / std::max(1.0, nneg), prev_tpr = hits / std::max(1.0, npos);
    if (scored[i].second > 0.5f) {
      ++hits;
      ap += hits / double(i + 1) / std::max(1.0, npos);
    } else {
      ++falses;
    }
    const double fpr = falses / std::max(1.0, nneg), tpr = hits / std::max(1.0, npos);
    auc += (fpr - prev_fpr) * (tpr + prev_tpr) / 2;
    if (i + 1 == scored.size() || scored[i + 1].first != scored[i].first) {
      roc.push_back({fpr, tpr, scored[i].first});
      pr.push_back({tpr, hits / double(i + 1), scored[i].first});
    }
  }
  const double prec = tp + fp ? double(tp) / double(tp + fp) : 0, rec = tp + fn ? double(tp) / double(tp + fn) : 0;
  return {{"f1", prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0},
          {"precision", prec},
          {"recall", rec},
          {"pr_auc", ap},
          {"roc_auc", auc},
          {"threshold", threshold},
          {"confusion", {{tn, fp}, {fn, tp}}},
          {"roc", thin(roc)},
          {"pr", thin(pr)}};
}

Table load_features(const std::string& db, const std::string& query) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string m = h ? sqlite3_errmsg(h) : "out of memory";
    sqlite3_close(h);
    throw std::runtime_error("cannot open the SQLite file '" + db + "': " + m);
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, query.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    const std::string m = sqlite3_errmsg(h);
    sqlite3_close(h);
    throw std::runtime_error("the query '" + query + "' is not valid SQL for '" + db + "': " + m);
  }
  const char* want[] = {"type", "air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min", "machine_failure"};
  int col[7];
  for (int k = 0; k < 7; ++k) {
    col[k] = -1;
    for (int c = 0; c < sqlite3_column_count(st); ++c)
      if (std::string(sqlite3_column_name(st, c)) == want[k]) col[k] = c;
    if (col[k] < 0) {
      sqlite3_finalize(st);
      sqlite3_close(h);
      throw std::runtime_error("the query '" + query + "' returns no column '" + want[k] +
                               "'; select type, air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, machine_failure");
    }
  }
  Table t;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char* ty = sqlite3_column_text(st, col[0]);
    const std::string type = ty ? reinterpret_cast<const char*>(ty) : "";
    double v[5];
    for (int k = 0; k < 5; ++k) {
      if (sqlite3_column_type(st, col[k + 1]) == SQLITE_NULL) {
        sqlite3_finalize(st);
        sqlite3_close(h);
        throw std::runtime_error("row " + std::to_string(t.rows + 1) + " of the query has NULL in '" + want[k + 1] + "'");
      }
      v[k] = sqlite3_column_double(st, col[k + 1]);
    }
    if (type != "L" && type != "M" && type != "H") {
      sqlite3_finalize(st);
      sqlite3_close(h);
      throw std::runtime_error("row " + std::to_string(t.rows + 1) + " has product type '" + type + "'; types are L, M, H");
    }
    const size_t at = t.x.size();
    t.x.resize(at + feature_names().size());
    row_features(type[0], v, t.x.data() + at);
    t.y.push_back(sqlite3_column_int(st, col[6]) != 0 ? 1.f : 0.f);
    ++t.rows;
  }
  const std::string err = rc == SQLITE_DONE ? "" : sqlite3_errmsg(h);
  sqlite3_finalize(st);
  sqlite3_close(h);
  if (!err.empty()) throw std::runtime_error("the query '" + query + "' failed: " + err);
  if (t.rows == 0) throw std::runtime_error("the query '" + query + "' returned no rows");
  return t;
}

nlohmann::json train(const Table& t, const TrainOptions& o, const std::string& model_path) {
  const size_t nf = feature_names().size();
  // Stratified seeded split: each class shuffled, its last test_fraction held out.
  std::vector<int64_t> tr, te;
  std::mt19937_64 rng(o.seed);
  for (float cls : {0.f, 1.f}) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < t.rows; ++i)
      if (t.y[size_t(i)] == cls) idx.push_back(i);
    std::shuffle(idx.begin(), idx.end(), rng);
    const size_t cut = idx.size() - size_t(std::llround(double(idx.size()) * o.test_fraction));
    tr.insert(tr.end(), idx.begin(), idx.begin() + long(cut));
    te.insert(te.end(), idx.begin() + long(cut), idx.end());
  }
  auto gather = [&](const std::vector<int64_t>& ix, std::vector<float>& x, std::vector<float>& y) {
    for (int64_t i : ix) {
      x.insert(x.end(), t.x.begin() + long(size_t(i) * nf), t.x.begin() + long(size_t(i + 1) * nf));
      y.push_back(t.y[size_t(i)]);
    }
  };
  std::vector<float> xtr, ytr, xte, yte;
  gather(tr, xtr, ytr);
  gather(te, xte, yte);
  const double pos = std::accumulate(ytr.begin(), ytr.end(), 0.0);
  if (pos == 0 || pos == double(ytr.size())) throw std::runtime_error("the training rows hold only one class");
  const double spw = o.pos_weight > 0 ? o.pos_weight : (double(ytr.size()) - pos) / pos;
  DMatrixHandle dtr = nullptr, dte = nullptr;
  BoosterHandle b = nullptr;
  xg(XGDMatrixCreateFromMat(xtr.data(), ytr.size(), nf, NAN, &dtr), "training matrix");
  xg(XGDMatrixSetFloatInfo(dtr, "label", ytr.data(), ytr.size()), "labels");
  xg(XGDMatrixCreateFromMat(xte.data(), yte.size(), nf, NAN, &dte), "test matrix");
  xg(XGBoosterCreate(&dtr, 1, &b), "booster");
  const std::map<std::string, std::string> p = {{"objective", "binary:logistic"}, {"eval_metric", "aucpr"},
      {"max_depth", std::to_string(o.max_depth)}, {"eta", std::to_string(o.eta)},
      {"subsample", std::to_string(o.subsample)}, {"seed", std::to_string(o.seed)},
      {"nthread", std::to_string(std::max(1, o.threads))}, {"tree_method", "hist"},
      {"scale_pos_weight", std::to_string(spw)}};
  for (const auto& [k, v] : p) xg(XGBoosterSetParam(b, k.c_str(), v.c_str()), k.c_str());
  for (int i = 0; i < o.rounds; ++i) xg(XGBoosterUpdateOneIter(b, i, dtr), "training round");
  bst_ulong n = 0;
  const float* prob = nullptr;
  xg(XGBoosterPredict(b, dte, 0, 0, 0, &n, &prob), "predict");
  const std::vector<float> probs(prob, prob + n);  // the booster owns PROB
  // The held-out rows with their probabilities: what the interop test compares
  // Python's xgboost against (tests/integration/iot_smoke.sh).
  if (!o.holdout_csv.empty()) {
    std::FILE* f = std::fopen(o.holdout_csv.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write '" + o.holdout_csv + "'");
    for (const auto& name : feature_names()) std::fprintf(f, "%s,", name.c_str());
    std::fprintf(f, "machine_failure,probability\n");
    for (bst_ulong i = 0; i < n; ++i) {
      for (size_t k = 0; k < nf; ++k) std::fprintf(f, "%.9g,", double(xte[i * nf + k]));
      std::fprintf(f, "%d,%.9g\n", int(yte[i]), double(prob[i]));
    }
    std::fclose(f);
  }
  nlohmann::json imp = nlohmann::json::object();
  std::vector<const char*> names;
  for (const auto& s : feature_names()) names.push_back(s.c_str());
  xg(XGBoosterSetStrFeatureInfo(b, "feature_name", names.data(), names.size()), "feature names");
  bst_ulong nk = 0;
  const char** keys = nullptr;
  bst_ulong ndim = 0;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  xg(XGBoosterFeatureScore(b, R"({"importance_type": "gain"})", &nk, &keys, &ndim, &shape, &scores), "importance");
  for (bst_ulong i = 0; i < nk; ++i) imp[keys[i]] = scores[i];
  xg(XGBoosterSaveModel(b, model_path.c_str()), "save model");
  XGBoosterFree(b);
  XGDMatrixFree(dtr);
  XGDMatrixFree(dte);
  nlohmann::json m = score(probs, yte, o.threshold);
  m["importance"] = imp;
  m["train_rows"] = ytr.size();
  m["test_rows"] = yte.size();
  m["scale_pos_weight"] = spw;
  return m;
}

std::vector<float> predict(const std::string& model_json, const std::vector<float>& x, int64_t rows, int threads) {
  BoosterHandle b = nullptr;
  DMatrixHandle d = nullptr;
  xg(XGBoosterCreate(nullptr, 0, &b), "booster");
  if (XGBoosterLoadModel(b, model_json.c_str()) != 0) {
    const std::string m = XGBGetLastError();
    XGBoosterFree(b);
    throw std::runtime_error("cannot load the XGBoost model '" + model_json + "': " + m);
  }
  std::vector<float> out;
  try {
    xg(XGBoosterSetParam(b, "nthread", std::to_string(std::max(1, threads)).c_str()), "nthread");
    xg(XGDMatrixCreateFromMat(x.data(), bst_ulong(rows), feature_names().size(), NAN, &d), "matrix");
    bst_ulong n = 0;
    const float* prob = nullptr;
    xg(XGBoosterPredict(b, d, 0, 0, 0, &n, &prob), "predict");
    out.assign(prob, prob + n);
  } catch (...) {
    XGDMatrixFree(d);
    XGBoosterFree(b);
    throw;
  }
  XGDMatrixFree(d);
  XGBoosterFree(b);
  return out;
}

}  // namespace ctflow::iot
