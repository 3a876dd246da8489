// Finds plugin libraries, loads them (dlopen), checks their ABI, and describes
// their plugins. Search order: CTFLOW_PLUGIN_PATH (':'-separated), then
// <dir of ctflow>/plugins, then <dir of ctflow>/../lib/ctflow/plugins.
//
// Descriptions are cached (like ninja's .ninja_deps): loading a library such as
// libtorch's takes seconds, so what a library declares is kept in
// $XDG_CACHE_HOME/ctflow/plugins-v1.json (or ~/.cache/...), keyed by the
// library's path, size and modification time, and a library is loaded only to
// run a plugin in process. CTFLOW_PLUGIN_CACHE=off turns the cache off.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctflow/plugin.h"
#include "engine/ir.h"
#include "base/status.h"

namespace ctflow {

struct PluginParamInfo {
  std::string name;
  ParamType type = ParamType::String;
  std::optional<Value> default_value;  // none: required
  std::string description;
};

struct PluginOutputInfo {
  std::string name;
  bool artifact = false;
  std::string description;
};

// A plugin's descriptor, loaded on first use: describing plugins (lint, run's
// validation) reads a cache and never loads the library; running one in
// process does. `info.desc->run(...)` loads it then.
class LazyDesc {
 public:
  LazyDesc() = default;
  LazyDesc(const ctflow_plugin_desc* d) : desc_(d) {}  // NOLINT: loaded already
  LazyDesc(std::filesystem::path library, std::string name) : library_(std::move(library)), name_(std::move(name)) {}
  LazyDesc(const LazyDesc& o) : library_(o.library_), name_(o.name_), desc_(o.desc_.load()) {}
  LazyDesc& operator=(const LazyDesc& o) {
    library_ = o.library_;
    name_ = o.name_;
    desc_ = o.desc_.load();
    return *this;
  }
  // The descriptor; loads the library when needed. Throws std::runtime_error
  // when the library cannot be loaded or no longer has the plugin.
  const ctflow_plugin_desc* get() const;
  const ctflow_plugin_desc* operator->() const { return get(); }
  bool loaded() const { return desc_.load() != nullptr; }

 private:
  std::filesystem::path library_;
  std::string name_;
  mutable std::atomic<const ctflow_plugin_desc*> desc_{nullptr};
};

struct PluginInfo {
  std::string name;
  std::string version;
  std::string description;
  std::filesystem::path library;
  std::vector<PluginParamInfo> params;
  std::vector<PluginOutputInfo> outputs;
  LazyDesc desc;

  const PluginParamInfo* find_param(const std::string& n) const;
  const PluginOutputInfo* find_output(const std::string& n) const;
};

// The plugin libraries on SEARCH_PATH, in search order: with FAMILY, only the
// libctflow_FAMILY.so files that exist (where "family.name" is looked for
// first); without, every .so, sorted within each folder. Model handlers
// (web/serve) are found the same way.
std::vector<std::filesystem::path> plugin_libraries(const std::vector<std::filesystem::path>& search_path,
                                                    const std::string& family = "");

class PluginRegistry {
 public:
  explicit PluginRegistry(std::vector<std::filesystem::path> search_path = default_search_path());
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  static std::vector<std::filesystem::path> default_search_path();

  // The plugin NAME ("family.name"): tries libctflow_<family>.so first, then
  // every library on the path. nullptr when not found.
  const PluginInfo* find(const std::string& name);
  // Loads every library on the path and lists all plugins, sorted by name.
  std::vector<const PluginInfo*> all();
  // Problems met while loading libraries (a library that is not a plugin, an ABI mismatch).
  const std::vector<std::string>& load_errors() const { return errors_; }
  const std::vector<std::filesystem::path>& search_path() const { return path_; }

 private:
  void load_library(const std::filesystem::path& lib);
  void read_cache();
  bool load_cached(const std::string& key, const std::filesystem::path& lib);
  void save_cache();
  std::filesystem::path cache_file_;
  nlohmann::json cache_;  // key -> {"size", "mtime", "plugins": [...]}
  bool cache_loaded_ = false, cache_dirty_ = false;
  std::vector<std::filesystem::path> path_;
  std::vector<void*> handles_;
  std::map<std::string, std::filesystem::path> loaded_;  // canonical path -> path
  std::map<std::string, PluginInfo> plugins_;
  std::vector<std::string> errors_;
  bool scanned_all_ = false;
};

}  // namespace ctflow
