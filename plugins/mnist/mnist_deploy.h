// mnist.deploy: registers a model version in the run store's model registry.
#pragma once

#include "mnist_io.h"

namespace ctflow::mnist {

struct DeployOptions {
  fs::path store_dir;      // the run's store (.ctflow/)
  std::string model_name = "mnist-embedder";
  fs::path model, index, report;  // artifacts (folders or files)
  fs::path dataset;        // lineage only; may be empty
  double accuracy = 0;
  std::string run_id, step;
  Json params = Json::object();  // extra lineage
  // A running `ctflow serve` (http://HOST:PORT) that serves this store: when the
  // new version becomes Production it is loaded there, warmed up and made the
  // default. The bearer token, when the server wants one: $CTFLOW_SERVE_TOKEN.
  std::string server;
};
// Returns {"version": N, "stage": "Production"|"Staging", "promoted": bool, "previous": {...},
//          "served": N or null (the version the server takes traffic with)}.
Json deploy(const DeployOptions& o);

}  // namespace ctflow::mnist
