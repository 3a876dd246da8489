#include "engine/plugin_registry.h"

#include <dlfcn.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>

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

const ctflow_plugin_desc* LazyDesc::get() const {
  if (auto* d = desc_.load()) return d;
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (auto* d = desc_.load()) return d;
  void* h = dlopen(library_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) throw std::runtime_error(library_.string() + ": cannot load: " + dlerror());
  auto entry = reinterpret_cast<ctflow_plugins_v1_fn>(dlsym(h, CTFLOW_PLUGIN_ENTRY));
  const ctflow_plugin_desc* const* list = nullptr;
  size_t count = 0;
  if (entry == nullptr || entry(CTFLOW_PLUGIN_ABI_VERSION, &list, &count) != 0)
    throw std::runtime_error(library_.string() + ": not a ctflow plugin library for this ABI");
  for (size_t i = 0; i < count; ++i)
    if (list[i] != nullptr && list[i]->name != nullptr && name_ == list[i]->name) {
      desc_ = list[i];
      return list[i];
    }
  throw std::runtime_error(library_.string() + " no longer has the plugin " + name_ + "; rebuild it or clear the plugin cache");
}

PluginRegistry::PluginRegistry(std::vector<fs::path> search_path) : path_(std::move(search_path)) {
  const char* off = std::getenv("CTFLOW_PLUGIN_CACHE");
  if (off != nullptr && (std::string(off) == "off" || std::string(off) == "0")) return;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x == '/')
    cache_file_ = fs::path(x) / "ctflow" / "plugins-v1.json";
  else if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/')
    cache_file_ = fs::path(home) / ".cache" / "ctflow" / "plugins-v1.json";
}

namespace {

// The identity of a library file for the cache: size and modification time.
bool file_stamp(const fs::path& lib, int64_t& size, int64_t& mtime_ns) {
  struct stat st {};
  if (::stat(lib.c_str(), &st) != 0) return false;
  size = static_cast<int64_t>(st.st_size);
  mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

}  // namespace

void PluginRegistry::read_cache() {
  if (cache_loaded_) return;
  cache_loaded_ = true;
  std::ifstream in(cache_file_);
  if (in) cache_ = Value::parse(in, nullptr, false);
  if (!cache_.is_object()) cache_ = Value::object();
}

bool PluginRegistry::load_cached(const std::string& key, const fs::path& lib) {
  if (cache_file_.empty()) return false;
  read_cache();
  int64_t size = 0, mtime = 0;
  if (!cache_.contains(key) || !file_stamp(lib, size, mtime)) return false;
  const Value& e = cache_[key];
  if (!e.is_object() || e.value("size", int64_t{-1}) != size || e.value("mtime", int64_t{-1}) != mtime ||
      !e.contains("plugins") || !e["plugins"].is_array())
    return false;
  try {
    for (const auto& d : e["plugins"]) {
      const std::string name = d.at("name").get<std::string>();
      if (plugins_.count(name)) continue;  // the first on the search path wins
      PluginInfo info;
      info.name = name;
      info.version = d.at("version").get<std::string>();
      info.description = d.at("description").get<std::string>();
      info.library = lib;
      info.desc = LazyDesc(lib, name);
      for (const auto& p : d.at("params")) {
        PluginParamInfo pi;
        pi.name = p.at("name").get<std::string>();
        pi.type = param_type_from_string(p.at("type").get<std::string>()).value_or(ParamType::Json);
        if (p.contains("default")) pi.default_value = p["default"];
        pi.description = p.at("description").get<std::string>();
        info.params.push_back(std::move(pi));
      }
      for (const auto& o : d.at("outputs"))
        info.outputs.push_back({o.at("name").get<std::string>(), o.at("artifact").get<bool>(), o.at("description").get<std::string>()});
      plugins_.emplace(info.name, std::move(info));
    }
  } catch (const std::exception&) {
    return false;  // a damaged entry: load the library instead
  }
  return true;
}

void PluginRegistry::save_cache() {
  if (cache_file_.empty() || !cache_dirty_) return;
  cache_dirty_ = false;
  std::error_code ec;
  fs::create_directories(cache_file_.parent_path(), ec);
  // Write then rename: concurrent ctflow processes never read half a file.
  const fs::path tmp = cache_file_.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    if (!out) return;
    out << cache_.dump(-1, ' ', false, Value::error_handler_t::replace);
    if (!out) {
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, cache_file_, ec);
  if (ec) fs::remove(tmp, ec);
}

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
  if (load_cached(key, lib)) return;
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
  Value described = Value::array();
  for (size_t i = 0; i < count; ++i) {
    const ctflow_plugin_desc* d = list[i];
    if (d == nullptr || d->name == nullptr || d->run == nullptr) continue;
    if (d->abi_version > CTFLOW_PLUGIN_ABI_VERSION) {
      errors_.push_back(lib.string() + ": plugin " + d->name + " needs plugin ABI " +
                        std::to_string(d->abi_version) + "; this ctflow has " +
                        std::to_string(CTFLOW_PLUGIN_ABI_VERSION) + ": upgrade ctflow");
      continue;
    }
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
    Value params = Value::array(), outputs = Value::array();
    for (size_t p = 0; p < d->n_params; ++p) {
      const ctflow_param_decl& pd = d->params[p];
      Value pj = {{"name", pd.name}, {"type", pd.type ? pd.type : "json"}, {"description", pd.description ? pd.description : ""}};
      if (info.params[p].default_value) pj["default"] = *info.params[p].default_value;
      params.push_back(std::move(pj));
    }
    for (const auto& o : info.outputs) outputs.push_back({{"name", o.name}, {"artifact", o.artifact}, {"description", o.description}});
    described.push_back({{"name", info.name}, {"version", info.version}, {"description", info.description},
                         {"params", std::move(params)}, {"outputs", std::move(outputs)}});
    if (!plugins_.count(info.name)) plugins_.emplace(info.name, std::move(info));  // the first on the path wins
  }
  int64_t size = 0, mtime = 0;
  if (!cache_file_.empty() && file_stamp(lib, size, mtime)) {
    read_cache();  // other libraries' entries are kept
    cache_[key] = {{"size", size}, {"mtime", mtime}, {"plugins", std::move(described)}};
    cache_dirty_ = true;
    save_cache();
  }
}

std::vector<fs::path> plugin_libraries(const std::vector<fs::path>& search_path, const std::string& family) {
  std::vector<fs::path> out;
  for (const auto& dir : search_path) {
    std::error_code ec;
    if (!family.empty()) {
      fs::path lib = dir / ("libctflow_" + family + ".so");
      if (fs::exists(lib, ec)) out.push_back(lib);
      continue;
    }
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> libs;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".so") libs.push_back(it->path());
    std::sort(libs.begin(), libs.end());
    out.insert(out.end(), libs.begin(), libs.end());
  }
  return out;
}

const PluginInfo* PluginRegistry::find(const std::string& name) {
  auto it = plugins_.find(name);
  if (it != plugins_.end()) return &it->second;
  for (const auto& lib : plugin_libraries(path_, name.substr(0, name.find('.')))) {
    load_library(lib);
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
    for (const auto& lib : plugin_libraries(path_)) load_library(lib);
  }
  std::vector<const PluginInfo*> out;
  for (const auto& [n, p] : plugins_) out.push_back(&p);
  return out;
}

}  // namespace ctflow
