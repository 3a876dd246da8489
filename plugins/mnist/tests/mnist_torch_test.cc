// Training, TorchScript export, embeddings and interop with Python (libtorch).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>

#include "mnist_data.h"
#include "mnist_knn.h"
#include "mnist_test_util.h"
#include "mnist_torch.h"

using namespace ctflow::mnist;
using namespace ctflow::mnist::testing;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// One small trained model shared by the test cases.
struct Fixture {
  fs::path src, dataset, model, emb, index;
  Json meta;
  Fixture() {
    apply_malloc_tunables();
    set_threads(2);
    src = temp_dir("tsrc");
    write_synthetic_idx(src, 1200, 300);
    dataset = temp_dir("tds") / "dataset";
    ingest({.source = src, .out = dataset, .chunk_rows = 500});
    model = temp_dir("tmodel") / "model";
    TrainOptions o;
    o.dataset = dataset;
    o.out = model;
    o.epochs = 3;
    o.embedding_dim = 16;
    o.batch_size = 64;
    meta = train(o, {});
    emb = temp_dir("temb") / "embeddings";
    embed({.model = model, .dataset = dataset, .out = emb, .batch_size = 128});
    index = temp_dir("tidx") / "index";
    build_index({.embeddings = emb, .out = index});
  }
};
Fixture& fx() {
  static Fixture f;
  return f;
}

}  // namespace

TEST_CASE("train writes TorchScript that learns the synthetic classes") {
  auto& f = fx();
  CHECK(fs::is_regular_file(f.model / "model.pt"));
  CHECK(f.meta["history"].size() == 3);
  CHECK(f.meta["val_accuracy"].get<double>() > 0.9);
  auto r = analyze({.index = f.index, .embeddings = f.emb, .k = 5});
  CHECK(r.accuracy > 0.9);
}

TEST_CASE("the TorchScript forward equals the C++ training forward") {
  auto& f = fx();
  std::vector<float> images(20 * 784);
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>((i * 37) % 255) / 255.0f;
  int64_t d1 = 0, d2 = 0;
  auto a = embed_images(f.model, images.data(), 20, &d1);
  auto b = embed_images_native(f.model, images.data(), 20, &d2);
  REQUIRE(d1 == 16);
  REQUIRE(d2 == 16);
  double maxdiff = 0;
  for (size_t i = 0; i < a.size(); ++i) maxdiff = std::max(maxdiff, static_cast<double>(std::fabs(a[i] - b[i])));
  CHECK(maxdiff < 1e-5);
}

TEST_CASE("embeddings: shapes, unit norm, labels") {
  auto& f = fx();
  auto x = read_npy(f.emb / "test.npy");
  auto y = read_npy(f.emb / "test_labels.npy");
  CHECK(x.shape == std::vector<int64_t>{300, 16});
  CHECK(y.shape == std::vector<int64_t>{300});
  double n = 0;
  for (int k = 0; k < 16; ++k) n += x.as<float>()[k] * x.as<float>()[k];
  CHECK(n == doctest::Approx(1.0).epsilon(1e-4));
  CHECK(read_npy(f.emb / "index.npy").shape[0] == 1080);  // train split = 90%
}

TEST_CASE("Python: torch.jit.load gives the C++ embeddings; numpy and faiss read every file") {
  if (!have_python("torch, numpy, faiss")) {
    MESSAGE("skipped: /usr/bin/python3 lacks torch, numpy or faiss");
    return;
  }
  auto& f = fx();
  const std::string script = std::string(CTFLOW_MNIST_TESTS_DIR) + "/interop_check.py";
  std::string out;
  const int rc = run_cmd("/usr/bin/python3 " + script + " " + f.dataset.string() + " " + f.model.string() + " " +
                         f.emb.string() + " " + f.index.string(), &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("max_abs_diff") != std::string::npos);
}

TEST_CASE("a model file that is not TorchScript fails with its name") {
  auto d = temp_dir("notts");
  write_bytes(d / "model.pt", "this is not a zip archive");
  const std::string e = error_of([&] { embed({.model = d, .dataset = fx().dataset, .out = d / "emb"}); });
  CHECK(e.rfind("model file '" + (d / "model.pt").string() + "' is not a TorchScript model (", 0) == 0);
  CHECK(error_of([&] { embed({.model = d / "missing.pt", .dataset = fx().dataset, .out = d / "emb"}); }) ==
        "model file '" + (d / "missing.pt").string() + "' does not exist");
}

TEST_CASE("auto epochs: at least 4 and 300,000 images; augmentation from 8 epochs") {
  CHECK(auto_epochs(54000) == 6);
  CHECK(auto_epochs(7200) == 42);
  CHECK(auto_epochs(1800) == 167);
  CHECK(auto_epochs(200000) == 4);
  CHECK(auto_epochs(0) == 4);
  TrainOptions o;
  CHECK(o.epochs == 0);
  CHECK_FALSE(augments(o, 4));
  CHECK(augments(o, 8));
  o.augment = "off";
  CHECK_FALSE(augments(o, 42));
  o.augment = "on";
  CHECK(augments(o, 1));
}

TEST_CASE("train augments when asked and says so in meta.json") {
  TrainOptions o;
  o.dataset = fx().dataset;
  o.out = temp_dir("aug") / "model";
  o.epochs = 2;
  o.embedding_dim = 16;
  o.batch_size = 64;
  o.augment = "on";
  o.augment_options.scale = 0.1;
  const Json meta = train(o, {});
  CHECK(meta["params"]["augment"] == true);
  CHECK(meta["params"]["epochs"] == 2);
  CHECK(meta["val_accuracy"].get<double>() > 0.5);
}

TEST_CASE("train rejects bad parameters") {
  TrainOptions o;
  o.dataset = fx().dataset;
  o.out = temp_dir("bad") / "m";
  o.optimizer = "rmsprop";
  o.epochs = 1;
  CHECK(error_of([&] { train(o, {}); }) == "parameter 'optimizer' must be adam, adamw or sgd; got 'rmsprop'");
  o.optimizer = "adam";
  o.augment = "sometimes";
  CHECK(error_of([&] { train(o, {}); }) == "parameter 'augment' must be auto, on or off; got 'sometimes'");
  o.augment = "on";
  o.augment_options.scale = 1;
  CHECK(error_of([&] { train(o, {}); }) ==
        "parameters: augment_shift >= 0, augment_rotate >= 0 and 0 <= augment_scale < 1 are required");
}
