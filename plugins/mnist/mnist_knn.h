// mnist.index and mnist.analyze: faiss index and kNN classification (no libtorch).
#pragma once

#include <string>
#include <vector>

#include "mnist_io.h"

namespace ctflow::mnist {

struct IndexOptions {
  fs::path embeddings;        // the embeddings folder (index.npy, index_labels.npy)
  fs::path out;               // the index folder: index.faiss, labels.npy, meta.json
  std::string type = "flat";  // flat, hnsw, ivf
  int hnsw_m = 32;
  int ef_construction = 64;
  int ef_search = 64;
  int nlist = 0;              // ivf: 0 = about 4 * sqrt(N)
  int nprobe = 8;
};
Json build_index(const IndexOptions& o);

struct AnalyzeOptions {
  fs::path index;       // the index folder
  fs::path embeddings;  // the embeddings folder (test.npy, test_labels.npy)
  int k = 10;
  std::vector<std::string> class_names;  // empty: "0".."C-1"
};
struct AnalyzeResult {
  double accuracy = 0;
  int num_classes = 0;
  std::vector<std::string> labels;
  std::vector<int64_t> confusion;  // row = true, column = predicted
  std::vector<double> per_class;
  Json report;
  Json kfp_metrics;
  Json kfp_ui;
};
AnalyzeResult analyze(const AnalyzeOptions& o);

}  // namespace ctflow::mnist
