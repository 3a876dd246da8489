// Features and XGBoost training for the iot family. The features are what the
// workflow's preprocess step computes: the AI4I readings plus power (W),
// temperature difference (K), wear x torque (min Nm), wear x torque as a share
// of the product type's overstrain limit, and the product type one-hot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctflow::iot {

inline constexpr int kFeatureCount = 12;  // feature_names().size(), the width a served row has
inline const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> k = {"air_temp_k", "process_temp_k", "rpm",      "torque_nm", "tool_wear_min",
                                             "power_w",    "temp_diff_k",    "strain",   "strain_ratio", "type_l",
                                             "type_m",     "type_h"};
  return k;
}

// The raw readings a row needs, in this order (and `type`, L, M or H).
inline const std::vector<std::string>& raw_columns() {
  static const std::vector<std::string> k = {"air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min"};
  return k;
}

// The features of one row (feature_names().size() floats at OUT) from its
// product TYPE ('L', 'M' or 'H') and RAW readings (raw_columns() order).
void row_features(char type, const double raw[5], float* out);

// Held-out scores of a binary classifier at THRESHOLD: f1, precision, recall,
// pr_auc (average precision), roc_auc, confusion [[tn, fp], [fn, tp]] and the
// curves roc and pr (see train).
nlohmann::json score(const std::vector<float>& prob, const std::vector<float>& y, double threshold);

struct Table {
  std::vector<float> x;  // rows x feature_names().size(), row-major
  std::vector<float> y;  // machine_failure 0/1
  int64_t rows = 0;
};

// Runs QUERY against the SQLite file DB (it must return the columns type,
// air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, machine_failure)
// and computes the features. Throws std::runtime_error naming the query, the
// missing column or the bad row.
Table load_features(const std::string& db, const std::string& query);

struct TrainOptions {
  int max_depth = 6, rounds = 200;
  double eta = 0.1, subsample = 0.9, test_fraction = 0.2;
  // The weight of a failure row against an ok row (XGBoost's scale_pos_weight);
  // <= 0: negatives / positives of the training rows.
  double pos_weight = 1.0;
  double threshold = 0.5;  // a row is a failure when its probability is at least this
  uint64_t seed = 42;
  int threads = 1;
  std::string holdout_csv;  // when set: the held-out features, labels and probabilities as CSV
};

// Splits seeded (stratified) into train and held-out test, trains XGBoost
// (binary:logistic, scale_pos_weight = negatives / positives), saves the model
// as JSON at MODEL_PATH and returns the held-out metrics: f1, precision,
// recall, pr_auc, roc_auc, confusion [[tn, fp], [fn, tp]], importance (gain per
// feature), and the curves roc [[fpr, tpr, threshold]...] and pr [[recall,
// precision, threshold]...] (at most 101 points each).
nlohmann::json train(const Table& t, const TrainOptions& o, const std::string& model_path);

// The failure probability of each of ROWS rows of features (X, row-major) by
// the XGBoost model saved at MODEL_JSON. Throws std::runtime_error naming the file.
std::vector<float> predict(const std::string& model_json, const std::vector<float>& x, int64_t rows, int threads);

}  // namespace ctflow::iot
