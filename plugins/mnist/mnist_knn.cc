#include "mnist_knn.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

namespace ctflow::mnist {

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

struct Embeddings {
  NpyArray x, y;
  int64_t n = 0, dim = 0;
};

Embeddings load_embeddings(const fs::path& dir, const std::string& name) {
  Embeddings e;
  const fs::path xp = resolve_in(dir, name + ".npy"), yp = dir / (name + "_labels.npy");
  e.x = read_npy(xp);
  e.y = read_npy(yp);
  if (e.x.dtype != "<f4" || e.x.shape.size() != 2)
    throw DataError("embeddings file " + q(xp) + " must be float32 N x D, got dtype " + e.x.dtype);
  if (e.y.dtype != "<i8" || e.y.numel() != e.x.shape[0])
    throw DataError("labels file " + q(yp) + " must hold one int64 label per row of " + q(xp));
  e.n = e.x.shape[0];
  e.dim = e.x.shape[1];
  const float* p = e.x.as<float>();
  for (int64_t i = 0; i < e.x.numel(); ++i)
    if (!std::isfinite(p[i])) throw DataError("embeddings file " + q(xp) + " holds a NaN or Inf at row " + std::to_string(i / e.dim));
  return e;
}

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", v * 100);
  return b;
}

}  // namespace

Json build_index(const IndexOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  Embeddings e = load_embeddings(o.embeddings, "index");
  const int d = static_cast<int>(e.dim);
  std::unique_ptr<faiss::Index> index;
  Json meta = {{"type", o.type}, {"metric", "inner_product"}, {"dim", d}};
  if (o.type == "flat") {
    index = std::make_unique<faiss::IndexFlatIP>(d);
  } else if (o.type == "hnsw") {
    auto h = std::make_unique<faiss::IndexHNSWFlat>(d, o.hnsw_m, faiss::METRIC_INNER_PRODUCT);
    h->hnsw.efConstruction = o.ef_construction;
    h->hnsw.efSearch = o.ef_search;
    meta["hnsw_m"] = o.hnsw_m;
    meta["ef_search"] = o.ef_search;
    index = std::move(h);
  } else if (o.type == "ivf") {
    int nlist = o.nlist > 0 ? o.nlist : std::max(1, static_cast<int>(4 * std::sqrt(static_cast<double>(e.n))));
    nlist = static_cast<int>(std::min<int64_t>(nlist, std::max<int64_t>(1, e.n / 39)));
    auto quant = new faiss::IndexFlatIP(d);
    auto ivf = std::make_unique<faiss::IndexIVFFlat>(quant, d, static_cast<size_t>(nlist), faiss::METRIC_INNER_PRODUCT);
    ivf->own_fields = true;
    ivf->nprobe = static_cast<size_t>(std::min(o.nprobe, nlist));
    ivf->train(e.n, e.x.as<float>());
    meta["nlist"] = nlist;
    meta["nprobe"] = ivf->nprobe;
    index = std::move(ivf);
  } else {
    throw DataError("parameter 'type' must be flat, hnsw or ivf; got '" + o.type + "'");
  }
  // hnsw (the slow one) in slices, so that it shows how far it got.
  const bool sliced = o.progress && o.type == "hnsw";
  const int64_t slice = sliced ? std::max<int64_t>(1000, e.n / 50) : std::max<int64_t>(1, e.n);
  for (int64_t at = 0; at < e.n; at += slice) {
    const int64_t k = std::min(slice, e.n - at);
    index->add(k, e.x.as<float>() + at * d);
    if (o.progress) o.progress(static_cast<double>(at + k), static_cast<double>(e.n), "adding vectors to the " + o.type + " index");
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  faiss::write_index(index.get(), (o.out / "index.faiss").c_str());
  write_npy(o.out / "labels.npy", "<i8", {e.n}, e.y.data.data());
  meta["ntotal"] = index->ntotal;
  meta["file"] = "index.faiss";
  meta["labels"] = "labels.npy";
  meta["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_json(o.out / "meta.json", meta);
  return meta;
}

KnnVote knn_vote(const float* sims, const int64_t* ids, int k, const int64_t* labels, int num_classes) {
  // Small fixed arrays: K and the class count are small; no allocation per query.
  constexpr int kMaxClasses = 1024;
  double votes[kMaxClasses], sum[kMaxClasses];
  float best_sim[kMaxClasses];
  const int nc = std::min(num_classes, kMaxClasses);
  std::fill(votes, votes + nc, 0.0);
  std::fill(sum, sum + nc, 0.0);
  std::fill(best_sim, best_sim + nc, -std::numeric_limits<float>::infinity());
  for (int j = 0; j < k; ++j) {
    if (ids[j] < 0) continue;
    const auto c = labels[ids[j]];
    if (c < 0 || c >= nc) continue;
    votes[c] += 1;
    sum[c] += sims[j];
    best_sim[c] = std::max(best_sim[c], sims[j]);
  }
  int best = 0;
  for (int c = 1; c < nc; ++c)
    if (votes[c] > votes[best] || (votes[c] == votes[best] && sum[c] > sum[best])) best = c;
  KnnVote v;
  if (nc > 0 && votes[best] > 0) {
    v.label = best;
    v.score = best_sim[best];
  }
  return v;
}

struct KnnIndex::Impl {
  std::unique_ptr<faiss::Index> index;
};

KnnIndex::KnnIndex(const fs::path& index_dir) : impl_(std::make_unique<Impl>()) {
  const fs::path ip = resolve_in(index_dir, "index.faiss");
  std::error_code ec;
  if (!fs::is_regular_file(ip, ec)) throw DataError("index file " + q(ip) + " does not exist");
  try {
    impl_->index.reset(faiss::read_index(ip.c_str()));
  } catch (const faiss::FaissException& ex) {
    std::string w = ex.what();
    if (auto nl = w.find('\n'); nl != std::string::npos) w.resize(nl);
    throw DataError("index file " + q(ip) + " is not a faiss index (" + w + ")");
  }
  const fs::path lp = ip.parent_path() / "labels.npy";
  labels_ = read_npy(lp);
  if (labels_.dtype != "<i8" || labels_.numel() != impl_->index->ntotal)
    throw DataError("labels file " + q(lp) + " must hold " + std::to_string(impl_->index->ntotal) +
                    " int64 labels (one per indexed vector)");
  const int64_t* lab = labels_.as<int64_t>();
  for (int64_t i = 0; i < labels_.numel(); ++i) {
    if (lab[i] < 0 || lab[i] >= 1024) throw DataError("labels file " + q(lp) + " holds label " + std::to_string(lab[i]) + "; labels are 0..1023");
    num_classes_ = std::max<int>(num_classes_, static_cast<int>(lab[i]) + 1);
  }
}

KnnIndex::~KnnIndex() = default;

void KnnIndex::search(const float* queries, int64_t n, int k, float* sims, int64_t* ids) const {
  static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t));
  impl_->index->search(n, queries, k, sims, reinterpret_cast<faiss::Index::idx_t*>(ids));
}

int64_t KnnIndex::dim() const { return impl_->index->d; }
int64_t KnnIndex::size() const { return impl_->index->ntotal; }

AnalyzeResult analyze(const AnalyzeOptions& o) {
  if (o.k < 1) throw DataError("parameter 'k' must be at least 1");
  KnnIndex index(o.index);
  const fs::path ip = resolve_in(o.index, "index.faiss");
  Embeddings test = load_embeddings(o.embeddings, "test");
  if (test.dim != index.dim())
    throw DataError("test embeddings have dimension " + std::to_string(test.dim) + " but the index " + q(ip) + " has " +
                    std::to_string(index.dim()));
  const int k = static_cast<int>(std::min<int64_t>(o.k, index.size()));
  int nc = index.num_classes();
  for (int64_t i = 0; i < test.n; ++i) nc = std::max<int>(nc, static_cast<int>(test.y.as<int64_t>()[i]) + 1);
  if (!o.class_names.empty()) nc = std::max<int>(nc, static_cast<int>(o.class_names.size()));

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> dist(static_cast<size_t>(test.n * k));
  std::vector<int64_t> ids(static_cast<size_t>(test.n * k));
  index.search(test.x.as<float>(), test.n, k, dist.data(), ids.data());
  const double search_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  AnalyzeResult r;
  r.num_classes = nc;
  r.confusion.assign(static_cast<size_t>(nc * nc), 0);
  r.predictions.resize(static_cast<size_t>(test.n));
  int64_t correct = 0;
  for (int64_t i = 0; i < test.n; ++i) {
    const KnnVote v = knn_vote(dist.data() + i * k, ids.data() + i * k, k, index.labels(), nc);
    const auto best = static_cast<size_t>(std::max<int64_t>(v.label, 0));
    r.predictions[static_cast<size_t>(i)] = static_cast<int64_t>(best);
    const auto truth = static_cast<size_t>(test.y.as<int64_t>()[i]);
    r.truth.push_back(static_cast<int64_t>(truth));
    if (ids[static_cast<size_t>(i * k)] >= 0) r.nn_distances.push_back(1.0 - static_cast<double>(dist[static_cast<size_t>(i * k)]));
    r.confusion[truth * static_cast<size_t>(nc) + best]++;
    correct += truth == best;
  }
  r.accuracy = test.n ? static_cast<double>(correct) / static_cast<double>(test.n) : 0.0;
  for (int c = 0; c < nc; ++c) {
    r.labels.push_back(c < static_cast<int>(o.class_names.size()) ? o.class_names[static_cast<size_t>(c)] : std::to_string(c));
    int64_t row = 0;
    for (int p = 0; p < nc; ++p) row += r.confusion[static_cast<size_t>(c * nc + p)];
    r.per_class.push_back(row ? static_cast<double>(r.confusion[static_cast<size_t>(c * nc + c)]) / static_cast<double>(row) : 0.0);
  }
  Json per_class = Json::object();
  for (int c = 0; c < nc; ++c) per_class[r.labels[static_cast<size_t>(c)]] = r.per_class[static_cast<size_t>(c)];
  Json cm = Json::array();
  for (int c = 0; c < nc; ++c)
    cm.push_back(std::vector<int64_t>(r.confusion.begin() + c * nc, r.confusion.begin() + (c + 1) * nc));
  r.report = {{"accuracy", r.accuracy}, {"k", k}, {"test_count", test.n}, {"index_count", index.size()},
              {"dim", index.dim()}, {"per_class_accuracy", per_class}, {"labels", r.labels}, {"confusion_matrix", cm},
              {"search_seconds", search_s}, {"predictions", r.predictions}, {"queries_per_s", search_s > 0 ? static_cast<double>(test.n) / search_s : 0.0}};

  // Kubeflow Pipelines v1 output viewers.
  Json metrics = Json::array({{{"name", "accuracy-score"}, {"numberValue", r.accuracy}, {"format", "PERCENTAGE"}}});
  for (int c = 0; c < nc; ++c)
    metrics.push_back({{"name", "class-" + std::to_string(c) + "-accuracy"}, {"numberValue", r.per_class[static_cast<size_t>(c)]},
                       {"format", "PERCENTAGE"}});
  metrics.push_back({{"name", "knn-k"}, {"numberValue", k}, {"format", "RAW"}});
  r.kfp_metrics = {{"metrics", metrics}};
  std::string csv, table, md = "# kNN analysis\n\n**accuracy**: " + pct(r.accuracy) + " (k = " + std::to_string(k) + ", " +
                                std::to_string(test.n) + " test images, " + std::to_string(index.size()) + " indexed)\n";
  for (int t = 0; t < nc; ++t)
    for (int p = 0; p < nc; ++p)
      csv += r.labels[static_cast<size_t>(t)] + "," + r.labels[static_cast<size_t>(p)] + "," +
             std::to_string(r.confusion[static_cast<size_t>(t * nc + p)]) + "\n";
  for (int c = 0; c < nc; ++c) {
    char v[32];
    std::snprintf(v, sizeof v, "%.4f", r.per_class[static_cast<size_t>(c)]);
    table += r.labels[static_cast<size_t>(c)] + "," + v + "\n";
  }
  r.kfp_ui = {{"outputs",
               {{{"type", "confusion_matrix"},
                 {"format", "csv"},
                 {"schema", {{{"name", "target"}, {"type", "CATEGORY"}}, {{"name", "predicted"}, {"type", "CATEGORY"}},
                             {{"name", "count"}, {"type", "NUMBER"}}}},
                 {"storage", "inline"},
                 {"source", csv},
                 {"labels", r.labels}},
                {{"type", "table"}, {"format", "csv"}, {"header", {"class", "accuracy"}}, {"storage", "inline"}, {"source", table}},
                {{"type", "markdown"}, {"storage", "inline"}, {"source", md}}}}};
  return r;
}

}  // namespace ctflow::mnist
