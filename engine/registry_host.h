// What the plugin host functions for the model registry do, over the store
// (ctflow/plugin.h: model_current, model_register_promote, artifact_digest,
// data_tag).
// Plugins reach the registry only through these: no plugin links the store.
#pragma once

#include <filesystem>
#include <string>

#include "base/json_text.h"
#include "base/status.h"

namespace ctflow {

// The Production version of NAME in the store at STORE_DIR as JSON; null when none.
Result<Json> registry_current(const std::filesystem::path& store_dir, const std::string& name);

// Registers REQUEST ({"name", "artifacts", "metrics", "params", "compare"}) as
// made by RUN_ID/STEP and promotes it when it beats Production, in one store
// transaction. Returns {"name", "version", "stage", "promoted", "previous"}.
Result<Json> registry_register_promote(const std::filesystem::path& store_dir, const Json& request,
                                       const std::string& run_id, const std::string& step);

// Names DIGEST as data version TAG ("NAME@VERSION") in the store at STORE_DIR.
Status registry_data_tag(const std::filesystem::path& store_dir, const std::string& tag, const std::string& digest);

// The store's digest ("sha256:<hex>") of the regular file at PATH.
Result<std::string> registry_file_digest(const std::filesystem::path& path);

}  // namespace ctflow
