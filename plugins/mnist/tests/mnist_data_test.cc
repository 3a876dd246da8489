// Formats, ingest, validate, faiss index/analyze, registry, and bad input, without libtorch.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "mnist_augment.h"
#include "mnist_data.h"
#include "mnist_deploy.h"
#include "mnist_knn.h"
#include "mnist_test_util.h"

using namespace ctflow::mnist;
using namespace ctflow::mnist::testing;

static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("npy files round-trip and numpy reads them") {
  auto d = temp_dir("npy");
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f};
  write_npy(d / "a.npy", "<f4", {2, 3}, a.data());
  std::vector<int64_t> b = {7, 8, 9};
  write_npy(d / "b.npy", "<i8", {3}, b.data());
  auto ra = read_npy(d / "a.npy");
  CHECK(ra.dtype == "<f4");
  CHECK(ra.shape == std::vector<int64_t>{2, 3});
  CHECK(ra.as<float>()[2] == 3.25f);
  CHECK(read_npy(d / "b.npy").shape == std::vector<int64_t>{3});
  CHECK(read_bytes(d / "a.npy").size() % 64 == 24 % 64);  // 64-byte header + 24 bytes
  if (have_python("numpy")) {
    std::string out;
    CHECK(run_cmd("/usr/bin/python3 -c \"import numpy as np; a=np.load('" + (d / "a.npy").string() +
                  "'); b=np.load('" + (d / "b.npy").string() + "'); print(a.shape, a.dtype, a[0,2], b.tolist())\"",
                  &out) == 0);
    CHECK(out == "(2, 3) float32 3.25 [7, 8, 9]\n");
  }
}

TEST_CASE("augment_batch: the plain copy without options, exact shifts, a seeded draw") {
  // Two 28 x 28 images: a 4 x 4 block of 255 at rows 10..13, columns 8..11; and its float twin.
  std::vector<uint8_t> u8(2 * 784, 0);
  for (int r = 10; r < 14; ++r)
    for (int c = 8; c < 12; ++c) u8[r * 28 + c] = 255, u8[784 + r * 28 + c] = 51;
  std::vector<float> f32(u8.size());
  for (size_t i = 0; i < u8.size(); ++i) f32[i] = u8[i] / 255.0f;
  const int64_t idx[] = {1, 0};
  std::vector<float> out(2 * 784);
  std::mt19937_64 rng(7);
  augment_batch(u8.data(), idx, 2, 28, 28, out.data(), rng, {.shift = 0, .rotate = 0, .scale = 0});
  for (int i = 0; i < 784; ++i) {
    REQUIRE(out[i] == doctest::Approx(f32[784 + i]));  // row 0 of the batch is image 1
    REQUIRE(out[784 + i] == doctest::Approx(f32[i]));
  }
  // A shift drawn from [-2, 2] on each axis moves the block's mass by that much.
  auto centre = [](const float* im) {
    double m = 0, r = 0, c = 0;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) m += im[y * 28 + x], r += y * im[y * 28 + x], c += x * im[y * 28 + x];
    return std::pair<double, double>{r / m, c / m};
  };
  const int64_t one[] = {0};
  std::vector<double> rows, cols;
  for (int k = 0; k < 50; ++k) {
    augment_batch(f32.data(), one, 1, 28, 28, out.data(), rng, {.shift = 2, .rotate = 0, .scale = 0});
    const auto [r, c] = centre(out.data());
    CHECK(std::abs(r - 11.5) <= 2.0 + 1e-6);
    CHECK(std::abs(c - 9.5) <= 2.0 + 1e-6);
    rows.push_back(r), cols.push_back(c);
  }
  CHECK(*std::max_element(rows.begin(), rows.end()) - *std::min_element(rows.begin(), rows.end()) > 2.0);
  // Rotation about the image centre keeps the mass (the block stays inside) and moves it.
  augment_batch(f32.data(), one, 1, 28, 28, out.data(), rng, {.shift = 0, .rotate = 30, .scale = 0});
  double mass = 0;
  for (int i = 0; i < 784; ++i) mass += out[i];
  CHECK(mass == doctest::Approx(16.0).epsilon(0.05));
  // The same seed draws the same maps; uint8 and float sources agree.
  std::vector<float> a(784), b(784);
  std::mt19937_64 r1(3), r2(3);
  augment_batch(u8.data(), one, 1, 28, 28, a.data(), r1, {});
  augment_batch(f32.data(), one, 1, 28, 28, b.data(), r2, {});
  for (int i = 0; i < 784; ++i) REQUIRE(a[i] == doctest::Approx(b[i]).epsilon(1e-5));
}

TEST_CASE("ingest writes chunks, a seeded split and a manifest") {
  auto src = temp_dir("src");
  write_synthetic_idx(src, 1000, 200);
  auto out = temp_dir("ds") / "dataset";
  IngestOptions o;
  o.source = src;
  o.out = out;
  o.chunk_rows = 300;
  o.index_fraction = 0.2;
  auto m = ingest(o);
  CHECK(m["splits"]["train"]["count"] == 700);
  CHECK(m["splits"]["val"]["count"] == 100);
  CHECK(m["splits"]["index"]["count"] == 200);
  CHECK(m["splits"]["test"]["count"] == 200);
  CHECK(m["splits"]["train"]["chunks"].size() == 3);  // 300 + 300 + 100
  CHECK(m["splits"]["test"]["class_histogram"][3] == 20);
  auto man = read_manifest(out);
  CHECK(man.index_split().name == "index");
  std::vector<float> im;
  std::vector<int64_t> lab;
  load_split(man, *man.find("train"), im, lab);
  CHECK(lab.size() == 700);
  CHECK(im.size() == 700 * 784);
  // Same seed, same split; limit applies to training images only.
  auto out2 = temp_dir("ds2") / "dataset";
  o.out = out2;
  o.limit = 500;
  o.index_fraction = 0;
  auto m2 = ingest(o);
  CHECK(m2["splits"]["train"]["count"] == 450);
  CHECK(m2["splits"]["val"]["count"] == 50);
  CHECK(!m2["splits"].contains("index"));
  CHECK(m2["splits"]["test"]["count"] == 200);
  // Plain (not gzipped) IDX works too.
  auto plain = temp_dir("plain");
  write_synthetic_idx(plain, 100, 20, false);
  o.source = plain;
  o.out = temp_dir("ds3") / "dataset";
  o.limit = 0;
  CHECK(ingest(o)["splits"]["test"]["count"] == 20);
  auto rep = validate({.dataset = out});
  CHECK(rep["ok"] == true);
  CHECK(rep["errors"].empty());
}

TEST_CASE("bad IDX input fails with the file and the problem") {
  auto src = temp_dir("bad");
  write_synthetic_idx(src, 100, 20, false);
  IngestOptions o;
  o.source = src;
  o.out = temp_dir("badout") / "dataset";
  const fs::path images = src / "train-images-idx3-ubyte";
  const std::string good = read_bytes(images);

  SUBCASE("truncated") {
    write_bytes(images, good.substr(0, 16 + 784 * 50 + 10));
    CHECK(error_of([&] { ingest(o); }) ==
          "IDX file '" + images.string() + "' is truncated: the header announces 100 items but the data ends after item 0");
  }
  SUBCASE("truncated gzip") {
    fs::remove(images);
    write_idx_u8(src / "train-images-idx3-ubyte.gz", {100, 28, 28}, reinterpret_cast<const uint8_t*>(good.data()) + 16, 100 * 784);
    std::string gz = read_bytes(src / "train-images-idx3-ubyte.gz");
    write_bytes(src / "train-images-idx3-ubyte.gz", gz.substr(0, gz.size() / 2));
    const std::string e = error_of([&] { ingest(o); });
    CHECK(e.find("IDX file '" + (src / "train-images-idx3-ubyte.gz").string() + "'") == 0);
    CHECK(e.find("truncated") != std::string::npos);
  }
  SUBCASE("wrong magic") {
    std::string bad = good;
    bad[2] = 0x09;
    write_bytes(images, bad);
    CHECK(error_of([&] { ingest(o); }) ==
          "IDX file '" + images.string() + "' has a wrong magic number 0x00000903 (expected 0x00000801 for labels or "
          "0x00000803 for images; unsigned byte or float data)");
  }
  SUBCASE("image and label counts disagree") {
    std::vector<uint8_t> labels(90, 1);
    write_idx_u8(src / "train-labels-idx1-ubyte", {90}, labels.data(), labels.size());
    CHECK(error_of([&] { ingest(o); }) == "image and label counts disagree: '" + images.string() +
                                              "' has 100 images but '" + (src / "train-labels-idx1-ubyte").string() +
                                              "' has 90 labels");
  }
  SUBCASE("label out of range") {
    std::vector<uint8_t> labels(100, 1);
    labels[7] = 12;
    write_idx_u8(src / "train-labels-idx1-ubyte", {100}, labels.data(), labels.size());
    CHECK(error_of([&] { ingest(o); }) ==
          "IDX file '" + (src / "train-labels-idx1-ubyte").string() + "' has label 12 at item 7, outside 0..9");
  }
  SUBCASE("folder without the files") {
    auto empty = temp_dir("empty");
    o.source = empty;
    CHECK(error_of([&] { ingest(o); }) ==
          "data folder '" + empty.string() + "' has no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] "
          "(expected MNIST IDX files such as train-images-idx3-ubyte.gz)");
    o.source = empty / "nope";
    CHECK(error_of([&] { ingest(o); }) == "data folder '" + (empty / "nope").string() + "' does not exist or is not a folder");
  }
  SUBCASE("NaN in float images") {
    fs::remove(images);
    fs::remove(src / "t10k-images-idx3-ubyte");
    write_float_idx(images, 100, 42);
    write_float_idx(src / "t10k-images-idx3-ubyte", 20, -1);
    CHECK(error_of([&] { ingest(o); }) ==
          "IDX file '" + images.string() + "' holds a NaN or Inf value at image 42, pixel 100");
  }
}

TEST_CASE("validate finds NaN, bad labels, wrong counts, imbalance and drift") {
  auto src = temp_dir("vsrc");
  write_synthetic_idx(src, 500, 100);
  auto ds = temp_dir("vds") / "dataset";
  ingest({.source = src, .out = ds});
  auto man = read_json(ds / "manifest.json");
  const std::string chunk = man["splits"]["train"]["chunks"][0]["images"];
  const std::string lchunk = man["splits"]["train"]["chunks"][0]["labels"];

  SUBCASE("NaN in a float chunk") {
    auto a = read_npy(ds / chunk);
    std::vector<float> f(a.data.size());
    for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<uint8_t>(a.data[i]) / 255.0f;
    f[784 * 3 + 5] = NAN;
    write_npy(ds / chunk, "<f4", a.shape, f.data());
    man["dtype"] = "float32";
    for (auto& [k, s] : man["splits"].items())
      if (k != "train") s["chunks"] = Json::array(), s["count"] = 0, s["class_histogram"] = std::vector<int>(10, 0);
    write_json(ds / "manifest.json", man);
    auto r = validate({.dataset = ds});
    CHECK(r["ok"] == false);
    CHECK(r["errors"][0] == chunk + ": NaN at image 3, pixel 5");
  }
  SUBCASE("label out of range") {
    auto l = read_npy(ds / lchunk);
    l.data[4] = 11;
    write_npy(ds / lchunk, "|u1", l.shape, l.data.data());
    auto r = validate({.dataset = ds});
    CHECK(r["ok"] == false);
    CHECK(r["errors"][0] == lchunk + ": label 11 at row 4 is outside 0..9");
  }
  SUBCASE("counts against the manifest") {
    man["splits"]["test"]["count"] = 101;
    write_json(ds / "manifest.json", man);
    auto r = validate({.dataset = ds});
    CHECK(r["errors"][0] == "split 'test': the chunks hold 100 images, the manifest says 101");
  }
  SUBCASE("class balance") {
    auto l = read_npy(ds / lchunk);
    for (auto& v : l.data)
      if (v == 3) v = 4;
    write_npy(ds / lchunk, "|u1", l.shape, l.data.data());
    auto r = validate({.dataset = ds, .min_class_ratio = 0.5});
    bool found = false;
    for (const auto& e : r["errors"])
      found |= e.get<std::string>().rfind("class balance: class 3 has 0 training images", 0) == 0;
    CHECK(found);
  }
  SUBCASE("drift against a reference") {
    auto same = validate({.dataset = ds, .reference = ds});
    CHECK(same["ok"] == true);
    CHECK(same["drift"]["train"]["label_psi"].get<double>() < 1e-9);
    // A reference whose images are much brighter: pixel PSI flags it.
    auto src2 = temp_dir("vsrc2");
    write_synthetic_idx(src2, 500, 100);
    auto ds2 = temp_dir("vds2") / "dataset";
    ingest({.source = src2, .out = ds2});
    const Json man2 = read_json(ds2 / "manifest.json");
    for (const auto& c : man2["splits"]["train"]["chunks"]) {
      auto a = read_npy(ds2 / c["images"].get<std::string>());
      for (auto& v : a.data) v = static_cast<char>(std::min(255, static_cast<uint8_t>(v) + 120));
      write_npy(ds2 / c["images"].get<std::string>(), "|u1", a.shape, a.data.data());
    }
    auto r = validate({.dataset = ds, .reference = ds2});
    CHECK(r["ok"] == false);
    CHECK(r["drift"]["train"]["pixel_psi"].get<double>() > 0.25);
    CHECK(r["drift"]["train"]["pixel_psi_per_class"].size() == 10);
    CHECK(r["errors"][0].get<std::string>().rfind("drift: split 'train' pixel intensity PSI", 0) == 0);
  }
  SUBCASE("missing manifest") {
    auto r = validate({.dataset = src});
    CHECK(r["errors"][0] == "dataset '" + src.string() + "' has no manifest.json (is it the output of mnist.ingest?)");
  }
}

TEST_CASE("psi") {
  CHECK(psi({1, 1}, {1, 1}) == doctest::Approx(0));
  CHECK(psi({0.5, 0.5}, {0.9, 0.1}) == doctest::Approx(0.4 * std::log(0.9 / 0.5) - 0.4 * std::log(0.1 / 0.5)));
}

// Embeddings that cluster by class, to test index + analyze without a model.
static fs::path fake_embeddings(int n_index, int n_test, int dim, double noise) {
  auto d = temp_dir("emb");
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0, static_cast<float>(noise));
  auto make = [&](const std::string& name, int n) {
    std::vector<float> x(static_cast<size_t>(n * dim));
    std::vector<int64_t> y(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      y[static_cast<size_t>(i)] = i % 10;
      double norm = 0;
      for (int k = 0; k < dim; ++k) {
        float v = (k == i % 10 ? 1.0f : 0.0f) + g(rng);
        x[static_cast<size_t>(i * dim + k)] = v;
        norm += v * v;
      }
      for (int k = 0; k < dim; ++k) x[static_cast<size_t>(i * dim + k)] /= static_cast<float>(std::sqrt(norm));
    }
    write_npy(d / (name + ".npy"), "<f4", {n, dim}, x.data());
    write_npy(d / (name + "_labels.npy"), "<i8", {n}, y.data());
  };
  make("index", n_index);
  make("test", n_test);
  return d;
}

TEST_CASE("index and analyze: flat, hnsw, ivf; Kubeflow JSON") {
  auto emb = fake_embeddings(2000, 300, 16, 0.05);
  for (const char* type : {"flat", "hnsw", "ivf"}) {
    CAPTURE(type);
    auto out = temp_dir("idx") / "index";
    auto meta = build_index({.embeddings = emb, .out = out, .type = type});
    CHECK(meta["ntotal"] == 2000);
    auto r = analyze({.index = out, .embeddings = emb, .k = 5});
    CHECK(r.accuracy == doctest::Approx(1.0));
    CHECK(r.confusion.size() == 100);
    CHECK(r.kfp_metrics["metrics"][0]["name"] == "accuracy-score");
    CHECK(r.kfp_metrics["metrics"][0]["format"] == "PERCENTAGE");
    CHECK(r.kfp_ui["outputs"][0]["type"] == "confusion_matrix");
    CHECK(r.kfp_ui["outputs"][0]["labels"].size() == 10);
    CHECK(r.kfp_ui["outputs"][0]["source"].get<std::string>().rfind("0,0,30\n0,1,0\n", 0) == 0);
    for (const auto& m : r.kfp_metrics["metrics"]) {
      const std::string name = m["name"];
      CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos);
    }
    if (std::string(type) == "flat" && have_python("faiss, numpy")) {
      std::string o;
      CHECK(run_cmd("/usr/bin/python3 -c \"import faiss, numpy as np; i=faiss.read_index('" + (out / "index.faiss").string() +
                    "'); l=np.load('" + (out / "labels.npy").string() + "'); print(i.ntotal, l.shape[0])\"", &o) == 0);
      CHECK(o == "2000 2000\n");
    }
  }
  SUBCASE("not a faiss index") {
    auto out = temp_dir("idxbad");
    write_bytes(out / "index.faiss", "hello, not an index");
    std::vector<int64_t> l(3, 0);
    write_npy(out / "labels.npy", "<i8", {3}, l.data());
    const std::string e = error_of([&] { analyze({.index = out, .embeddings = emb}); });
    CHECK(e.rfind("index file '" + (out / "index.faiss").string() + "' is not a faiss index (", 0) == 0);
  }
  SUBCASE("unknown index type") {
    CHECK(error_of([&] { build_index({.embeddings = emb, .out = temp_dir("x") / "i", .type = "lsh"}); }) ==
          "parameter 'type' must be flat, hnsw or ivf; got 'lsh'");
  }
}

// The registry itself (compare, register, promote in one transaction) is the
// host's: tests/unit/registry_host_test.cc. Here: what deploy asks it and how
// it reports the answer.
TEST_CASE("deploy asks the registry to compare on accuracy, with digests and lineage") {
  auto model = temp_dir("model");
  write_bytes(model / "model.pt", "weights");
  write_json(model / "meta.json", {{"params", {{"epochs", 1}}}});
  auto index = temp_dir("index");
  write_bytes(index / "index.faiss", "index");
  std::vector<Json> requests;
  std::vector<fs::path> hashed;
  DeployOptions o{.model = model, .index = index, .accuracy = 0.95, .run_id = "r-1", .step = "deploy"};
  o.digest_file = [&](const fs::path& f) {
    hashed.push_back(f);
    return "sha256:" + std::string(64, static_cast<char>('a' + hashed.size()));
  };
  o.register_promote = [&](const Json& request) {
    requests.push_back(request);
    return Json{{"name", request["name"]}, {"version", 3}, {"stage", "Production"}, {"promoted", true},
                {"previous", {{"version", 1}, {"metrics", {{"accuracy", 0.9}}}}}};
  };
  auto out = deploy(o);
  REQUIRE(requests.size() == 1);
  const Json& r = requests[0];
  CHECK(r["name"] == "mnist-embedder");
  CHECK(r["compare"] == Json{{"metric", "accuracy"}, {"higher_is_better", true}});
  CHECK(r["metrics"]["accuracy"] == 0.95);
  CHECK(hashed == std::vector<fs::path>{model / "model.pt", index / "index.faiss"});  // the main file of each folder
  CHECK(r["artifacts"] == Json{{"model", "sha256:" + std::string(64, 'b')}, {"index", "sha256:" + std::string(64, 'c')}});
  CHECK(r["params"]["run_id"] == "r-1");
  CHECK(r["params"]["handler"] == "mnist.knn");
  CHECK(r["params"]["train_params"] == Json{{"epochs", 1}});
  CHECK(out["version"] == 3);
  CHECK(out["stage"] == "Production");
  CHECK(out["promoted"] == true);
  CHECK(out["previous"] == Json{{"version", 1}, {"accuracy", 0.9}});
  CHECK(out["served"].is_null());
}

TEST_CASE("deploy takes the digest of an artifact already in the store from its path") {
  const std::string hex(64, 'e');
  auto blobs = temp_dir("blobs");
  auto model = blobs / "trees" / hex;
  fs::create_directories(model);
  write_bytes(model / "model.pt", "weights");
  auto index = temp_dir("index");
  write_bytes(index / "index.faiss", "index");
  int hashes = 0;
  Json request;
  DeployOptions o{.model = model, .index = index, .accuracy = 0.5, .run_id = "r-2", .step = "deploy"};
  o.digest_file = [&](const fs::path&) { return "sha256:" + std::string(64, static_cast<char>('0' + ++hashes)); };
  o.register_promote = [&](const Json& req) {
    request = req;
    return Json{{"version", 1}, {"stage", "Staging"}, {"promoted", false}, {"previous", nullptr}};
  };
  auto out = deploy(o);
  CHECK(hashes == 1);  // only the index was read
  CHECK(request["artifacts"]["model"] == "sha256:" + hex);
  CHECK(out["stage"] == "Staging");
  CHECK(!out.contains("previous"));
}

TEST_CASE("deploy reports a registry that refuses, and one that is missing") {
  auto model = temp_dir("model");
  write_bytes(model / "model.pt", "weights");
  auto index = temp_dir("index");
  write_bytes(index / "index.faiss", "index");
  DeployOptions o{.model = model, .index = index, .accuracy = 0.5, .run_id = "r-3", .step = "deploy"};
  CHECK(error_of([&] { deploy(o); }) == "mnist.deploy: no model registry to register with");
  o.digest_file = [](const fs::path&) { return std::string("sha256:") + std::string(64, '1'); };
  o.register_promote = [](const Json&) -> Json { throw DataError("model registry: the store is read-only"); };
  CHECK(error_of([&] { deploy(o); }) == "model registry: the store is read-only");
}
