// Finds plugin libraries, loads them (dlopen), checks their ABI, and describes
// their plugins. Search order: CTFLOW_PLUGIN_PATH (':'-separated), then
// <dir of ctflow>/plugins, then <dir of ctflow>/../lib/ctflow/plugins.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctflow/plugin.h"
#include "engine/ir.h"
#include "engine/status.h"

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

struct PluginInfo {
  std::string name;
  std::string version;
  std::string description;
  std::filesystem::path library;
  std::vector<PluginParamInfo> params;
  std::vector<PluginOutputInfo> outputs;
  const ctflow_plugin_desc* desc = nullptr;

  const PluginParamInfo* find_param(const std::string& n) const;
  const PluginOutputInfo* find_output(const std::string& n) const;
};

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
  std::vector<std::filesystem::path> path_;
  std::vector<void*> handles_;
  std::map<std::string, std::filesystem::path> loaded_;  // canonical path -> path
  std::map<std::string, PluginInfo> plugins_;
  std::vector<std::string> errors_;
  bool scanned_all_ = false;
};

}  // namespace ctflow
