// Reference profiles for drift (base/drift.h): what mnist.analyze records of
// the held-out test split with each model (profile.json, registered by
// mnist.deploy, read by `ctflow serve`), and mnist.validate's comparison of a
// new dataset with the Production model's profile.
#pragma once

#include <string>
#include <vector>

#include "mnist_io.h"

namespace ctflow::mnist {

// The pixel-intensity histogram of a split (base/drift.h bins over [0, 1]).
std::vector<double> split_intensity(const Manifest& m, const Split& s);

struct ProfileInputs {
  fs::path dataset;                   // for the intensity histogram of its test split; empty: none
  std::vector<int64_t> predicted;     // the kNN answer for each held-out image
  std::vector<int64_t> labels;        // their true labels
  std::vector<std::string> names;     // class names
  std::vector<double> nn_distances;   // cosine distance of each to its nearest indexed image
};
// {"format": "ctflow-drift-profile-v1", "count", "intensity": {"bins", "range",
//  "counts"}, "class_balance": {"names", "predicted", "labels"},
//  "neighbor_distance": {"metric": "cosine", "count", "mean", "p50", "p95",
//  "sample": [at most 1,000 quantiles]}}
Json make_profile(const ProfileInputs& in);

// A dataset's train split against PROFILE: intensity (PSI) and label balance
// (PSI against the profile's true labels); with NN_DISTANCES (the distances of
// some of its held-out images to their nearest neighbour in the profiled
// model's index), the neighbour distance (KS). The result of drift::compare.
Json dataset_drift(const fs::path& dataset, const Json& profile, const std::vector<double>& nn_distances = {});

}  // namespace ctflow::mnist
