// mnist.deploy: registers a model version in the run store's model registry
// (through the host functions) and rolls it out to a running `ctflow serve`.
#pragma once

#include <functional>

#include "mnist_io.h"

namespace ctflow::mnist {

struct DeployOptions {
  fs::path store_dir;      // the run's store (.ctflow/)
  std::string model_name = "mnist-embedder";
  fs::path model, index, report;  // artifacts (folders or files)
  fs::path profile;        // the drift reference profile (mnist.analyze); may be empty
  fs::path dataset;        // lineage only; may be empty
  double accuracy = 0;
  std::string run_id, step;
  Json params = Json::object();  // extra lineage
  // A running `ctflow serve` (http://HOST:PORT) that serves this store: when the
  // new version becomes Production it is loaded there, warmed up and made the
  // default. The bearer token, when the server wants one: $CTFLOW_SERVE_TOKEN.
  std::string server;
  // The model registry, reached through the host (ctflow/plugin.h): the plugin
  // links no store. DIGEST_FILE: the store's "sha256:<hex>" of a file.
  // REGISTER_PROMOTE: compares with Production, registers and promotes in one
  // transaction (model_register_promote's request and result). Both throw on error.
  std::function<std::string(const fs::path&)> digest_file;
  std::function<Json(const Json&)> register_promote;
};
// Returns {"version": N, "stage": "Production"|"Staging", "promoted": bool, "previous": {...},
//          "served": N or null (the version the server takes traffic with)}.
Json deploy(const DeployOptions& o);

}  // namespace ctflow::mnist
