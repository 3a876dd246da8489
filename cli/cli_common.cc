#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/cli.h"
#include "engine/frontend_v1.h"
#include "engine/lint.h"
#include "engine/plugin_registry.h"

namespace ctflow::cli {
namespace fs = std::filesystem;

fs::path Global::store_dir() const {
  // Absolute: step processes run in their own working folders and get this path.
  if (!store.empty()) return fs::absolute(store);
  if (const char* env = std::getenv("CTFLOW_STORE"); env && *env) return fs::absolute(env);
  return fs::current_path() / ".ctflow";
}

void print_error(const std::string& message) { std::cerr << "ctflow: error: " << message << "\n"; }

std::unique_ptr<RunStore> open_store(const Global& g) {
  auto s = RunStore::open(g.store_dir());
  if (!s) {
    print_error(s.message());
    return nullptr;
  }
  return std::move(*s);
}

std::optional<std::string> resolve_run(RunStore& store, const std::string& ref) {
  auto id = store.resolve_run_id(ref);
  if (!id) {
    print_error(id.message());
    return std::nullopt;
  }
  return *id;
}

std::string self_path() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "ctflow" : p.string();
}

namespace {

LoadResult load_checked(const std::string& file, const HostCapacity& host, const std::vector<std::string>& params) {
  std::error_code ec;
  if (auto size = fs::file_size(file, ec); !ec) prepare_heap(size);
  LoadResult r = load_workflow_file(file, shape_params(params));
  if (r.workflow) {
    PluginRegistry plugins;
    ValidateOptions opt;
    opt.plugins = &plugins;
    opt.host = host;
    validate_workflow(*r.workflow, opt, r.diags);
  }
  return r;
}

}  // namespace

std::optional<Workflow> load_and_validate(const std::string& file, const HostCapacity& host, bool quiet,
                                          const std::vector<std::string>& params) {
  LoadResult r = load_checked(file, host, params);
  if (!r.diags.empty()) {
    if (!quiet) std::cerr << r.diags.render();
    return std::nullopt;
  }
  return std::move(r.workflow);
}

bool lint_file(const std::string& file, const HostCapacity& host, bool strict,
               const std::vector<std::string>& params) {
  LoadResult r = load_checked(file, host, params);
  if (r.workflow && r.diags.empty()) lint_warnings(*r.workflow, r.diags);  // warnings are about valid workflows
  std::cerr << r.diags.render();
  return r.diags.empty() && (!strict || r.diags.warnings().empty());
}

}  // namespace ctflow::cli
