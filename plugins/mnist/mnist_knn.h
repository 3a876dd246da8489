// mnist.index and mnist.analyze: faiss index and kNN classification (no libtorch).
#pragma once

#include <memory>
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
  ProgressFn progress;        // vectors added of all
};
Json build_index(const IndexOptions& o);

// The kNN vote analyze and the inference server share: the class with the most
// of the K neighbours wins; a tie goes to the larger summed similarity. IDS < 0
// (fewer vectors than K) are skipped. SCORE: the similarity of the nearest
// neighbour of the winning class.
struct KnnVote {
  int64_t label = -1;
  float score = 0;
};
KnnVote knn_vote(const float* sims, const int64_t* ids, int k, const int64_t* labels, int num_classes);

// A faiss index folder (index.faiss, labels.npy) loaded for searching.
class KnnIndex {
 public:
  explicit KnnIndex(const fs::path& index_dir);  // folder or index.faiss; throws DataError
  ~KnnIndex();
  KnnIndex(const KnnIndex&) = delete;
  KnnIndex& operator=(const KnnIndex&) = delete;
  // N queries of dim() floats: K similarities and ids each (row-major).
  void search(const float* queries, int64_t n, int k, float* sims, int64_t* ids) const;
  int64_t dim() const;
  int64_t size() const;
  int num_classes() const { return num_classes_; }
  const int64_t* labels() const { return labels_.as<int64_t>(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  NpyArray labels_;
  int num_classes_ = 0;
};

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
  std::vector<int64_t> predictions;  // one per test image, in order
  std::vector<int64_t> truth;        // their labels
  std::vector<double> nn_distances;  // cosine distance of each to its nearest indexed image (1 - similarity)
  Json report;
  Json kfp_metrics;
  Json kfp_ui;
};
AnalyzeResult analyze(const AnalyzeOptions& o);

}  // namespace ctflow::mnist
