// mnist.ingest and mnist.validate, as plain functions (no libtorch, no faiss).
#pragma once

#include <functional>
#include <string>

#include "mnist_io.h"

namespace ctflow::mnist {

using LogFn = std::function<void(const std::string&)>;

struct IngestOptions {
  fs::path source;            // folder with train-* and t10k-* IDX files
  fs::path out;               // the dataset folder to create
  double val_fraction = 0.1;  // of the (limited) training images
  double index_fraction = 0;  // a separate part for the kNN index (0: the index uses the train split)
  int64_t limit = 0;          // use at most this many training images (0: all)
  int64_t chunk_rows = 10000; // images per .npy chunk; at most one chunk is held in memory
  uint64_t seed = 42;
  int num_classes = 10;
};
// Writes OUT/manifest.json and the chunks; returns the manifest.
Json ingest(const IngestOptions& o, const LogFn& log = {});

struct ValidateOptions {
  fs::path dataset;
  fs::path reference;            // another dataset folder, for drift; empty: none
  double min_class_ratio = 0.5;  // smallest class / largest class in train
  double psi_threshold = 0.25;   // above: drift is an error
  int psi_bins = 16;
};
// Returns the report: {"ok": bool, "errors": [...], "warnings": [...], ...}.
Json validate(const ValidateOptions& o);

// Population stability index of two histograms (normalised inside).
double psi(const std::vector<double>& expected, const std::vector<double>& actual);

}  // namespace ctflow::mnist
