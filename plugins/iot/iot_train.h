// XGBoost training and scoring for the iot family, on the features of
// iot_data.h (what the workflow's preprocess step computes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "iot_data.h"

namespace ctflow::iot {

// Held-out scores of a binary classifier at THRESHOLD: f1, precision, recall,
// pr_auc (average precision), roc_auc, confusion [[tn, fp], [fn, tp]] and the
// curves roc and pr (see train).
nlohmann::json score(const std::vector<float>& prob, const std::vector<float>& y, double threshold);

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
