#include "engine/plugin_registry.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace ctflow {
namespace fs = std::filesystem;

const PluginParamInfo* PluginInfo::find_param(const std::string& n) const {
  for (const auto& p : params)
    if (p.name == n) return &p;
  return nullptr;
}

const PluginOutputInfo* PluginInfo::find_output(const std::string& n) const {
  for (const auto& o : outputs)
    if (o.name == n) return &o;
  return nullptr;
}

PluginRegistry::PluginRegistry(std::vector<fs::path> search_path) : path_(std::move(search_path)) {}

PluginRegistry::~PluginRegistry() {
  // Libraries stay loaded until exit: plugins may have registered atexit
  // handlers or thread-local state (libtorch, OpenMP) that dlclose would break.
}

std::vector<fs::path> PluginRegistry::default_search_path() {
  std::vector<fs::path> out;
  if (const char* env = std::getenv("CTFLOW_PLUGIN_PATH")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      size_t colon = s.find(':', start);
      std::string part = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!part.empty()) out.emplace_back(part);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back(exe.parent_path() / "plugins");
    out.push_back(exe.parent_path().parent_path() / "lib" / "ctflow" / "plugins");
  }
  return out;
}

void PluginRegistry::load_library(const fs::path& lib) {
  std::error_code ec;
  std::string key = fs::weakly_canonical(lib, ec).string();
  if (loaded_.count(key)) return;
  loaded_[key] = lib;
  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    errors_.push_back(lib.string() + ": cannot load: " + dlerror());
    return;
  }
  auto entry = reinterpret_cast<ctflow_plugins_v1_fn>(dlsym(h, CTFLOW_PLUGIN_ENTRY));
  if (entry == nullptr) {
    errors_.push_back(lib.string() + ": not a ctflow plugin library (no " CTFLOW_PLUGIN_ENTRY ")");
    dlclose(h);
    return;
  }
  const ctflow_plugin_desc* const* list = nullptr;
  size_t count = 0;
  if (entry(CTFLOW_PLUGIN_ABI_VERSION, &list, &count) != 0) {
    errors_.push_back(lib.string() + ": the library refused this ctflow's plugin ABI version " +
                      std::to_string(CTFLOW_PLUGIN_ABI_VERSION));
    return;
  }
  handles_.push_back(h);
  for (size_t i = 0; i < count; ++i) {
    const ctflow_plugin_desc* d = list[i];
    if (d == nullptr || d->name == nullptr || d->run == nullptr) continue;
    if (d->abi_version > CTFLOW_PLUGIN_ABI_VERSION) {
      errors_.push_back(lib.string() + ": plugin " + d->name + " needs plugin ABI " +
                        std::to_string(d->abi_version) + "; this ctflow has " +
                        std::to_string(CTFLOW_PLUGIN_ABI_VERSION) + ": upgrade ctflow");
      continue;
    }
    if (plugins_.count(d->name)) continue;  // the first on the search path wins
    PluginInfo info;
    info.name = d->name;
    info.version = d->version ? d->version : "0";
    info.description = d->description ? d->description : "";
    info.library = lib;
    info.desc = d;
    for (size_t p = 0; p < d->n_params; ++p) {
      const ctflow_param_decl& pd = d->params[p];
      PluginParamInfo pi;
      pi.name = pd.name;
      pi.type = param_type_from_string(pd.type ? pd.type : "json").value_or(ParamType::Json);
      if (pd.default_json != nullptr) pi.default_value = Value::parse(pd.default_json, nullptr, false);
      pi.description = pd.description ? pd.description : "";
      info.params.push_back(std::move(pi));
    }
    for (size_t o = 0; o < d->n_outputs; ++o) {
      const ctflow_output_decl& od = d->outputs[o];
      info.outputs.push_back({od.name, od.kind != nullptr && std::string(od.kind) == "artifact",
                              od.description ? od.description : ""});
    }
    plugins_.emplace(info.name, std::move(info));
  }
}

const PluginInfo* PluginRegistry::find(const std::string& name) {
  auto it = plugins_.find(name);
  if (it != plugins_.end()) return &it->second;
  std::string family = name.substr(0, name.find('.'));
  for (const auto& dir : path_) {
    fs::path lib = dir / ("libctflow_" + family + ".so");
    std::error_code ec;
    if (fs::exists(lib, ec)) load_library(lib);
    it = plugins_.find(name);
    if (it != plugins_.end()) return &it->second;
  }
  all();
  it = plugins_.find(name);
  return it == plugins_.end() ? nullptr : &it->second;
}

std::vector<const PluginInfo*> PluginRegistry::all() {
  if (!scanned_all_) {
    scanned_all_ = true;
    for (const auto& dir : path_) {
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) continue;
      std::vector<fs::path> libs;
      for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".so") libs.push_back(e.path());
      std::sort(libs.begin(), libs.end());
      for (const auto& lib : libs) load_library(lib);
    }
  }
  std::vector<const PluginInfo*> out;
  for (const auto& [n, p] : plugins_) out.push_back(&p);
  return out;
}

}  // namespace ctflow
