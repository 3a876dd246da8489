#include "mnist_profile.h"

#include <algorithm>
#include <numeric>

#include "base/drift.h"

namespace ctflow::mnist {

std::vector<double> split_intensity(const Manifest& m, const Split& s) {
  std::vector<double> hist(drift::kIntensityBins, 0.0);
  for (const Chunk& c : s.chunks) {  // one chunk in memory at a time
    Split one = s;
    one.chunks = {c};
    one.count = c.rows;
    std::vector<float> images;
    std::vector<int64_t> labels;
    load_split(m, one, images, labels);
    drift::add_intensity(images.data(), 1, static_cast<int64_t>(images.size()), hist);
  }
  return hist;
}

Json make_profile(const ProfileInputs& in) {
  const size_t nc = std::max<size_t>(in.names.size(), 1);
  std::vector<int64_t> predicted(nc, 0), labels(nc, 0);
  for (int64_t p : in.predicted)
    if (p >= 0 && static_cast<size_t>(p) < nc) ++predicted[static_cast<size_t>(p)];
  for (int64_t l : in.labels)
    if (l >= 0 && static_cast<size_t>(l) < nc) ++labels[static_cast<size_t>(l)];
  Json p = {{"format", drift::kProfileFormat},
            {"count", in.predicted.size()},
            {"class_balance", {{"names", in.names}, {"predicted", predicted}, {"labels", labels}}}};
  if (!in.dataset.empty()) {
    const Manifest m = read_manifest(in.dataset);
    const Split* test = m.find("test");
    if (test == nullptr) throw DataError("dataset " + in.dataset.string() + " has no 'test' split for the profile");
    p["intensity"] = {{"bins", drift::kIntensityBins}, {"range", {0.0, 1.0}}, {"split", "test"},
                      {"counts", split_intensity(m, *test)}};
  }
  if (!in.nn_distances.empty()) {
    std::vector<double> d = in.nn_distances;
    std::sort(d.begin(), d.end());
    auto at = [&](double q) { return d[std::min(d.size() - 1, static_cast<size_t>(q * static_cast<double>(d.size())))]; };
    p["neighbor_distance"] = {{"metric", "cosine"}, {"count", d.size()},
                              {"mean", std::accumulate(d.begin(), d.end(), 0.0) / static_cast<double>(d.size())},
                              {"p50", at(0.5)}, {"p95", at(0.95)}, {"sample", drift::quantile_sample(d)}};
  }
  return p;
}

Json dataset_drift(const fs::path& dataset, const Json& profile, const std::vector<double>& nn_distances) {
  const Manifest m = read_manifest(dataset);
  const Split* train = m.find("train");
  if (train == nullptr) throw DataError("dataset " + dataset.string() + " has no 'train' split to compare");
  drift::Observed ob;
  ob.count = train->count;
  ob.intensity = split_intensity(m, *train);
  ob.classes.assign(static_cast<size_t>(m.num_classes), 0.0);
  for (size_t c = 0; c < train->histogram.size() && c < ob.classes.size(); ++c)
    ob.classes[c] = static_cast<double>(train->histogram[c]);
  if (std::accumulate(ob.classes.begin(), ob.classes.end(), 0.0) <= 0) ob.classes.clear();
  ob.neighbor_distance = nn_distances;
  Json r = drift::compare(profile, ob, "labels");
  r["split"] = "train";
  r["compared"] = nn_distances.empty() ? "the train split's intensity and class balance (labels)"
                                       : "the train split's intensity and class balance (labels); the test split's neighbour distance";
  return r;
}

}  // namespace ctflow::mnist
