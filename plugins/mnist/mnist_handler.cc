// mnist.knn: the model handler `ctflow serve` uses for the models mnist.deploy
// registers (plugins/sdk/include/ctflow/handler.h). The TorchScript embedder
// maps images to L2-normalised embeddings; the faiss index finds the K nearest
// indexed images; their labels vote as in mnist.analyze (knn_vote), so the
// server answers exactly what the analysis measured.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ctflow/handler.h"
#include "mnist_knn.h"
#include "mnist_torch.h"

namespace {

namespace mn = ctflow::mnist;
using mn::Json;

struct Model {
  std::unique_ptr<mn::Embedder> embedder;
  std::unique_ptr<mn::KnnIndex> index;
  int k = 10;
  std::vector<float> sims;
  std::vector<int64_t> ids;
};

char* dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

std::string artifact(const Json& config, const char* name) {
  const Json& a = config.value("artifacts", Json::object());
  if (!a.contains(name) || !a[name].is_string())
    throw mn::DataError(std::string("the model version has no '") + name +
                        "' artifact; mnist.knn needs the 'model' and 'index' artifacts of mnist.deploy");
  return a[name].get<std::string>();
}

ctflow_model* load(const char* config_json, char** error) noexcept {
  try {
    const Json config = Json::parse(config_json);
    auto m = std::make_unique<Model>();
    mn::set_threads(config.value("threads", 1));
    m->embedder = std::make_unique<mn::Embedder>(artifact(config, "model"), config.value("cuda", false));
    m->index = std::make_unique<mn::KnnIndex>(artifact(config, "index"));
    if (m->embedder->dim() != m->index->dim())
      throw mn::DataError("the model makes " + std::to_string(m->embedder->dim()) + "-dimensional embeddings but the index holds " +
                          std::to_string(m->index->dim()) + "-dimensional ones");
    // K as the analysis used it (registered with the metrics), unless the params say.
    const Json metrics = config.value("metrics", Json::object()), params = config.value("params", Json::object());
    int k = metrics.value("k", 10);
    if (params.contains("k") && params["k"].is_number_integer()) k = params["k"].get<int>();
    m->k = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(k, m->index->size())));
    return reinterpret_cast<ctflow_model*>(m.release());
  } catch (const std::exception& e) {
    if (error != nullptr) *error = dup(e.what());
  }
  return nullptr;
}

// NN (may be NULL): the cosine distance to the nearest indexed image, 1 - its similarity.
int predict_nn(ctflow_model* model, const float* inputs, int64_t n, char** results, int64_t* classes, double* nn,
               char** error) noexcept {
  auto* m = reinterpret_cast<Model*>(model);
  try {
    const std::vector<float> emb = m->embedder->embed(inputs, n);
    const int k = m->k;
    m->sims.resize(static_cast<size_t>(n * k));
    m->ids.resize(static_cast<size_t>(n * k));
    m->index->search(emb.data(), n, k, m->sims.data(), m->ids.data());
    std::string out;
    char buf[96];
    for (int64_t i = 0; i < n; ++i) {
      const float* s = m->sims.data() + i * k;
      const int64_t* id = m->ids.data() + i * k;
      const mn::KnnVote v = mn::knn_vote(s, id, k, m->index->labels(), m->index->num_classes());
      classes[i] = v.label;
      if (nn != nullptr) nn[i] = id[0] >= 0 ? 1.0 - static_cast<double>(s[0]) : std::nan("");
      std::snprintf(buf, sizeof buf, "{\"pred\":%lld,\"dist\":%.6g,\"neighbors\":[", static_cast<long long>(v.label),
                    static_cast<double>(v.score));
      out = buf;
      bool first = true;
      for (int j = 0; j < k; ++j) {
        if (id[j] < 0) continue;
        std::snprintf(buf, sizeof buf, "%s{\"label\":%lld,\"dist\":%.6g,\"id\":%lld}", first ? "" : ",",
                      static_cast<long long>(m->index->labels()[id[j]]), static_cast<double>(s[j]),
                      static_cast<long long>(id[j]));
        out += buf;
        first = false;
      }
      out += "]}";
      results[i] = dup(out);
    }
    return 0;
  } catch (const std::exception& e) {
    if (error != nullptr) *error = dup(e.what());
  }
  return 1;
}

int predict(ctflow_model* model, const float* inputs, int64_t n, char** results, int64_t* classes, char** error) noexcept {
  return predict_nn(model, inputs, n, results, classes, nullptr, error);
}

void unload(ctflow_model* model) noexcept { delete reinterpret_cast<Model*>(model); }

const ctflow_handler_desc kKnn = {CTFLOW_HANDLER_ABI_VERSION,
                                  sizeof(ctflow_handler_desc),
                                  "mnist.knn",
                                  "embeds 28 x 28 grayscale images and classifies them by a kNN vote in the faiss index",
                                  28,
                                  28,
                                  load,
                                  predict,
                                  unload,
                                  predict_nn};

}  // namespace

CTFLOW_EXPORT_HANDLERS(&kKnn)
