// What the plugin host functions for the model registry do, over the store
// (ctflow/plugin.h: model_current, model_register_promote, artifact_digest,
// data_tag, data_resolve).
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

// What REF names in the store at STORE_DIR: a data version "NAME@VERSION", or
// (REF holds a '/') the path of a stored artifact. Returns {"ref", "digest",
// "kind" ("file" or "dir"), "size", "path" (the read-only blob), "tags" (every
// tag naming the digest, newest first: [{"tag", "created_at"}]), "made_by"
// ({"run_id", "step"} of the first run that output it, or null)}; null when
// REF names nothing (no such tag, or a path that is not a stored blob).
Result<Json> registry_data_resolve(const std::filesystem::path& store_dir, const std::string& ref);

// The store's digest ("sha256:<hex>") of the regular file at PATH.
Result<std::string> registry_file_digest(const std::filesystem::path& path);

}  // namespace ctflow
