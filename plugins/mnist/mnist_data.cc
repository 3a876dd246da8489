#include "mnist_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <cstring>
#include <map>

namespace ctflow::mnist {

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

struct SourceFiles {
  IdxPair pair;
  std::vector<uint8_t> labels;
  int64_t count = 0, rows = 0, cols = 0;
  uint8_t type = 0;
};

SourceFiles open_source(const fs::path& dir, const std::string& prefix, int num_classes) {
  SourceFiles s;
  s.pair = find_idx_pair(dir, prefix);
  s.labels = read_idx_labels(s.pair.labels, num_classes);
  IdxReader r(s.pair.images);
  const auto& h = r.header();
  if (h.dims.size() != 3)
    throw DataError("IDX file " + q(s.pair.images) + " is not an image file: expected 3 dimensions (magic 0x00000803), got " +
                    std::to_string(h.dims.size()));
  if (h.count() != static_cast<int64_t>(s.labels.size()))
    throw DataError("image and label counts disagree: " + q(s.pair.images) + " has " + std::to_string(h.count()) +
                    " images but " + q(s.pair.labels) + " has " + std::to_string(s.labels.size()) + " labels");
  s.count = h.count();
  s.rows = h.dims[1];
  s.cols = h.dims[2];
  s.type = h.type;
  return s;
}

// Streams the images of SRC whose assignment equals WANT into chunk files.
Json write_split(const SourceFiles& src, const std::vector<uint8_t>& assign, uint8_t want, const std::string& name,
                 const fs::path& out, int64_t chunk_rows, int num_classes) {
  const int64_t px = src.rows * src.cols;
  const bool is_float = src.type == 0x0D;
  const size_t esz = is_float ? 4 : 1;
  int64_t total = 0;
  for (auto a : assign) total += a == want;
  Json split = {{"count", total}, {"chunks", Json::array()}};
  std::vector<int64_t> hist(static_cast<size_t>(num_classes), 0);
  IdxReader r(src.pair.images);
  std::vector<char> chunk(static_cast<size_t>(std::min(chunk_rows, std::max<int64_t>(total, 1)) * px) * esz);
  std::vector<uint8_t> chunk_labels;
  int64_t in_chunk = 0, written = 0;
  int chunk_no = 0;
  auto flush = [&]() {
    if (in_chunk == 0) return;
    char base[96];
    std::snprintf(base, sizeof base, "%s-%05d", name.c_str(), chunk_no++);
    const std::string im = std::string(base) + "-images.npy", lb = std::string(base) + "-labels.npy";
    write_npy(out / im, is_float ? "<f4" : "|u1", {in_chunk, src.rows, src.cols}, chunk.data());
    write_npy(out / lb, "|u1", {in_chunk}, chunk_labels.data());
    split["chunks"].push_back({{"images", im}, {"labels", lb}, {"rows", in_chunk}});
    written += in_chunk;
    in_chunk = 0;
    chunk_labels.clear();
  };
  const int64_t block = 512;
  std::vector<float> fbuf(static_cast<size_t>(block * px));
  std::vector<uint8_t> ubuf(static_cast<size_t>(block * px));
  for (int64_t at = 0; at < src.count; at += block) {
    const int64_t n = std::min(block, src.count - at);
    if (is_float) r.read(n, fbuf.data()); else r.read_u8(n, ubuf.data());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t item = at + i;
      if (is_float) {
        const float* f = fbuf.data() + i * px;
        for (int64_t k = 0; k < px; ++k)
          if (!std::isfinite(f[k]))
            throw DataError("IDX file " + q(src.pair.images) + " holds a NaN or Inf value at image " + std::to_string(item) +
                            ", pixel " + std::to_string(k));
      }
      if (assign[static_cast<size_t>(item)] != want) continue;
      const char* from = is_float ? reinterpret_cast<const char*>(fbuf.data() + i * px)
                                  : reinterpret_cast<const char*>(ubuf.data() + i * px);
      std::memcpy(chunk.data() + static_cast<size_t>(in_chunk * px) * esz, from, static_cast<size_t>(px) * esz);
      const uint8_t label = src.labels[static_cast<size_t>(item)];
      chunk_labels.push_back(label);
      hist[label]++;
      if (++in_chunk == chunk_rows) flush();
    }
  }
  flush();
  split["class_histogram"] = hist;
  return split;
}

}  // namespace

Json ingest(const IngestOptions& o, const LogFn& log) {
  if (o.chunk_rows <= 0) throw DataError("parameter 'chunk_rows' must be positive");
  if (o.val_fraction < 0 || o.index_fraction < 0 || o.val_fraction + o.index_fraction >= 1)
    throw DataError("parameters 'val_fraction' and 'index_fraction' must be >= 0 and sum to less than 1");
  SourceFiles train = open_source(o.source, "train", o.num_classes);
  SourceFiles test = open_source(o.source, "t10k", o.num_classes);
  if (train.rows != test.rows || train.cols != test.cols || train.type != test.type)
    throw DataError("IDX file " + q(test.pair.images) + " has images of another shape or type than " + q(train.pair.images));
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw DataError("cannot create " + q(o.out) + ": " + ec.message());

  // Seeded assignment of each training image: 0 train, 1 val, 2 index, 255 unused.
  std::vector<int64_t> perm(static_cast<size_t>(train.count));
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(o.seed);
  std::shuffle(perm.begin(), perm.end(), rng);
  const int64_t used = o.limit > 0 ? std::min(o.limit, train.count) : train.count;
  const auto nval = static_cast<int64_t>(std::llround(static_cast<double>(used) * o.val_fraction));
  const auto nidx = static_cast<int64_t>(std::llround(static_cast<double>(used) * o.index_fraction));
  std::vector<uint8_t> assign(static_cast<size_t>(train.count), 255);
  for (int64_t i = 0; i < used; ++i) assign[static_cast<size_t>(perm[static_cast<size_t>(i)])] = i < nval ? 1 : i < nval + nidx ? 2 : 0;
  std::vector<uint8_t> test_assign(static_cast<size_t>(test.count), 0);

  Json m = {{"format", "ctflow-mnist-dataset/1"},
            {"source", fs::absolute(o.source).string()},
            {"files", {{"train_images", train.pair.images.string()}, {"train_labels", train.pair.labels.string()},
                       {"test_images", test.pair.images.string()}, {"test_labels", test.pair.labels.string()}}},
            {"dtype", train.type == 0x0D ? "float32" : "uint8"},
            {"value_range", train.type == 0x0D ? Json::array({0.0, 1.0}) : Json::array({0, 255})},
            {"image_shape", {train.rows, train.cols}},
            {"num_classes", o.num_classes},
            {"seed", o.seed},
            {"val_fraction", o.val_fraction},
            {"index_fraction", o.index_fraction},
            {"limit", o.limit},
            {"chunk_rows", o.chunk_rows},
            {"splits", Json::object()}};
  auto& splits = m["splits"];
  splits["train"] = write_split(train, assign, 0, "train", o.out, o.chunk_rows, o.num_classes);
  splits["val"] = write_split(train, assign, 1, "val", o.out, o.chunk_rows, o.num_classes);
  if (nidx > 0) splits["index"] = write_split(train, assign, 2, "index", o.out, o.chunk_rows, o.num_classes);
  splits["test"] = write_split(test, test_assign, 0, "test", o.out, o.chunk_rows, o.num_classes);
  write_json(o.out / "manifest.json", m);
  if (log) {
    std::string s = "ingested " + q(o.source) + ":";
    for (const auto& [k, v] : splits.items()) s += " " + k + "=" + std::to_string(v["count"].get<int64_t>());
    log(s);
  }
  return m;
}

double psi(const std::vector<double>& expected, const std::vector<double>& actual) {
  const double se = std::accumulate(expected.begin(), expected.end(), 0.0);
  const double sa = std::accumulate(actual.begin(), actual.end(), 0.0);
  if (se <= 0 || sa <= 0) return 0;
  double v = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double e = std::max(expected[i] / se, 1e-4), a = std::max(actual[i] / sa, 1e-4);
    v += (a - e) * std::log(a / e);
  }
  return v;
}

namespace {

struct SplitStats {
  int64_t count = 0;
  std::vector<int64_t> hist;
  std::vector<double> pixel_hist;                 // psi_bins over [0,1]
  std::vector<std::vector<double>> class_pixel;   // per class
  double sum = 0, sum2 = 0;
  double vmin = INFINITY, vmax = -INFINITY;
};

// Checks every chunk of every split; fills stats; appends errors.
std::map<std::string, SplitStats> scan(const Manifest& m, int bins, std::vector<std::string>& errors) {
  std::map<std::string, SplitStats> out;
  const int64_t px = m.rows * m.cols;
  const std::string want_dtype = m.dtype == "uint8" ? "|u1" : m.dtype == "float32" ? "<f4" : "?";
  if (want_dtype == "?") errors.push_back("manifest: dtype '" + m.dtype + "' is neither uint8 nor float32");
  if (m.rows <= 0 || m.cols <= 0) errors.push_back("manifest: image_shape must be positive");
  for (const auto& s : m.splits) {
    SplitStats st;
    st.hist.assign(static_cast<size_t>(m.num_classes), 0);
    st.pixel_hist.assign(static_cast<size_t>(bins), 0);
    st.class_pixel.assign(static_cast<size_t>(m.num_classes), std::vector<double>(static_cast<size_t>(bins), 0));
    for (const auto& c : s.chunks) {
      NpyArray im, lb;
      try {
        im = read_npy(m.dir / c.images);
        lb = read_npy(m.dir / c.labels);
      } catch (const DataError& e) {
        errors.push_back(e.what());
        continue;
      }
      const std::string fi = c.images, fl = c.labels;
      if (im.dtype != want_dtype) {
        errors.push_back(fi + ": dtype " + im.dtype + ", the manifest says " + m.dtype);
        continue;
      }
      if (im.shape.size() != 3 || im.shape[0] != c.rows || im.shape[1] != m.rows || im.shape[2] != m.cols) {
        std::string sh;
        for (auto d : im.shape) sh += (sh.empty() ? "" : " x ") + std::to_string(d);
        errors.push_back(fi + ": shape " + sh + ", expected " + std::to_string(c.rows) + " x " + std::to_string(m.rows) +
                         " x " + std::to_string(m.cols));
        continue;
      }
      if (lb.shape.size() != 1 || lb.shape[0] != c.rows) {
        errors.push_back(fl + ": expected " + std::to_string(c.rows) + " labels in one dimension");
        continue;
      }
      int64_t bad_label = 0, nonfinite = 0, out_of_range = 0;
      for (int64_t i = 0; i < c.rows; ++i) {
        const int64_t label = lb.dtype == "|u1" ? lb.as<uint8_t>()[i] : lb.dtype == "<i8" ? lb.as<int64_t>()[i] : -1;
        const bool label_ok = label >= 0 && label < m.num_classes;
        if (!label_ok) {
          if (bad_label++ == 0)
            errors.push_back(fl + ": label " + std::to_string(label) + " at row " + std::to_string(i) + " is outside 0.." +
                             std::to_string(m.num_classes - 1));
        } else {
          st.hist[static_cast<size_t>(label)]++;
        }
        for (int64_t k = 0; k < px; ++k) {
          double v;
          if (want_dtype == "|u1") {
            v = im.as<uint8_t>()[i * px + k] / 255.0;
          } else {
            v = im.as<float>()[i * px + k];
            if (!std::isfinite(v)) {
              if (nonfinite++ == 0)
                errors.push_back(fi + ": " + (std::isnan(v) ? "NaN" : "Inf") + " at image " + std::to_string(i) + ", pixel " +
                                 std::to_string(k));
              continue;
            }
            if (v < 0 || v > 1) {
              if (out_of_range++ == 0)
                errors.push_back(fi + ": value " + fmt(v) + " at image " + std::to_string(i) + " is outside [0, 1]");
              continue;
            }
          }
          st.sum += v;
          st.sum2 += v * v;
          st.vmin = std::min(st.vmin, v);
          st.vmax = std::max(st.vmax, v);
          const int b = std::min(bins - 1, static_cast<int>(v * bins));
          st.pixel_hist[static_cast<size_t>(b)]++;
          if (label_ok) st.class_pixel[static_cast<size_t>(label)][static_cast<size_t>(b)]++;
        }
      }
      if (nonfinite > 1) errors.push_back(fi + ": " + std::to_string(nonfinite) + " NaN/Inf values in all");
      st.count += c.rows;
    }
    if (st.count != s.count)
      errors.push_back("split '" + s.name + "': the chunks hold " + std::to_string(st.count) + " images, the manifest says " +
                       std::to_string(s.count));
    if (st.hist != s.histogram && static_cast<int64_t>(s.histogram.size()) == m.num_classes)
      errors.push_back("split '" + s.name + "': the class histogram of the labels does not match the manifest");
    out[s.name] = std::move(st);
  }
  return out;
}

std::vector<double> to_d(const std::vector<int64_t>& v) { return {v.begin(), v.end()}; }

}  // namespace

Json validate(const ValidateOptions& o) {
  std::vector<std::string> errors, warnings;
  Json report = {{"dataset", o.dataset.string()}};
  Manifest m;
  try {
    m = read_manifest(o.dataset);
  } catch (const DataError& e) {
    report["ok"] = false;
    report["errors"] = {e.what()};
    return report;
  }
  for (const char* need : {"train", "test"})
    if (m.find(need) == nullptr) errors.push_back(std::string("manifest: split '") + need + "' is missing");
  auto stats = scan(m, o.psi_bins, errors);
  Json js = Json::object();
  for (const auto& [name, st] : stats) {
    const double n = static_cast<double>(st.count * m.rows * m.cols);
    const double mean = n > 0 ? st.sum / n : 0;
    js[name] = {{"count", st.count}, {"class_histogram", st.hist}, {"pixel_mean", mean},
                {"pixel_std", n > 0 ? std::sqrt(std::max(0.0, st.sum2 / n - mean * mean)) : 0},
                {"pixel_min", n > 0 ? st.vmin : 0}, {"pixel_max", n > 0 ? st.vmax : 0}};
  }
  report["splits"] = js;
  // Class balance in train.
  if (auto it = stats.find("train"); it != stats.end() && it->second.count > 0) {
    const auto& h = it->second.hist;
    const int64_t mx = *std::max_element(h.begin(), h.end());
    for (size_t c = 0; c < h.size(); ++c) {
      const double ratio = static_cast<double>(h[c]) / static_cast<double>(mx);
      if (ratio < o.min_class_ratio)
        errors.push_back("class balance: class " + std::to_string(c) + " has " + std::to_string(h[c]) +
                         " training images, " + fmt(ratio) + " of the largest class (minimum ratio " + fmt(o.min_class_ratio) + ")");
    }
  }
  // Drift against a reference dataset.
  if (!o.reference.empty()) {
    try {
      Manifest ref = read_manifest(o.reference);
      std::vector<std::string> ref_errors;
      auto rstats = scan(ref, o.psi_bins, ref_errors);
      for (const auto& e : ref_errors) warnings.push_back("reference: " + e);
      Json drift = Json::object();
      for (const char* split : {"train", "test"}) {
        auto a = stats.find(split), b = rstats.find(split);
        if (a == stats.end() || b == rstats.end() || b->second.count == 0) continue;
        Json d;
        d["label_psi"] = psi(to_d(b->second.hist), to_d(a->second.hist));
        const double ne = static_cast<double>(b->second.count), na = static_cast<double>(std::max<int64_t>(a->second.count, 1));
        std::vector<double> per_class;
        for (size_t c = 0; c < a->second.hist.size() && c < b->second.hist.size(); ++c) {
          const double e = std::max(b->second.hist[c] / ne, 1e-4), x = std::max(a->second.hist[c] / na, 1e-4);
          per_class.push_back((x - e) * std::log(x / e));
        }
        d["label_psi_per_class"] = per_class;
        d["pixel_psi"] = psi(b->second.pixel_hist, a->second.pixel_hist);
        std::vector<double> pix_class;
        for (size_t c = 0; c < a->second.class_pixel.size() && c < b->second.class_pixel.size(); ++c)
          pix_class.push_back(psi(b->second.class_pixel[c], a->second.class_pixel[c]));
        d["pixel_psi_per_class"] = pix_class;
        if (d["label_psi"].get<double>() > o.psi_threshold)
          errors.push_back(std::string("drift: split '") + split + "' label distribution PSI " + fmt(d["label_psi"]) +
                           " exceeds " + fmt(o.psi_threshold));
        if (d["pixel_psi"].get<double>() > o.psi_threshold)
          errors.push_back(std::string("drift: split '") + split + "' pixel intensity PSI " + fmt(d["pixel_psi"]) +
                           " exceeds " + fmt(o.psi_threshold));
        for (size_t c = 0; c < pix_class.size(); ++c)
          if (pix_class[c] > o.psi_threshold)
            warnings.push_back(std::string("drift: split '") + split + "' class " + std::to_string(c) +
                               " pixel intensity PSI " + fmt(pix_class[c]) + " exceeds " + fmt(o.psi_threshold));
        drift[split] = d;
      }
      report["drift"] = drift;
      report["reference"] = o.reference.string();
    } catch (const DataError& e) {
      errors.push_back(std::string("reference dataset: ") + e.what());
    }
  }
  report["ok"] = errors.empty();
  report["errors"] = errors;
  report["warnings"] = warnings;
  return report;
}

}  // namespace ctflow::mnist
