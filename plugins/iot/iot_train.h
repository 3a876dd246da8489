// Features and XGBoost training for the iot family. The features are what the
// workflow's preprocess step computes: the AI4I readings plus power (W),
// temperature difference (K), wear x torque (min Nm) and the product type one-hot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctflow::iot {

inline const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> k = {"air_temp_k", "process_temp_k", "rpm",      "torque_nm", "tool_wear_min",
                                             "power_w",    "temp_diff_k",    "strain",   "type_l",    "type_m",
                                             "type_h"};
  return k;
}

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
  uint64_t seed = 42;
  int threads = 1;
  std::string holdout_csv;  // when set: the held-out features, labels and probabilities as CSV
};

// Splits seeded (stratified) into train and held-out test, trains XGBoost
// (binary:logistic, scale_pos_weight = negatives / positives), saves the model
// as JSON at MODEL_PATH and returns the held-out metrics: f1, precision,
// recall, pr_auc, confusion [[tn, fp], [fn, tp]], importance (gain per feature).
nlohmann::json train(const Table& t, const TrainOptions& o, const std::string& model_path);

}  // namespace ctflow::iot
