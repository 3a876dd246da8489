#include "engine/container.h"

#include <cstdlib>
#include <sstream>

#include <unistd.h>

namespace ctflow {
namespace fs = std::filesystem;

namespace {
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    fs::path p = fs::path(dir) / name;
    std::error_code ec;
    if (!dir.empty() && fs::exists(p, ec) && access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}
}  // namespace

Result<std::string> container_runtime() {
  if (const char* rt = std::getenv("CTFLOW_CONTAINER_RUNTIME"); rt && *rt) {
    std::string p = std::string(rt).find('/') == std::string::npos ? find_on_path(rt) : std::string(rt);
    if (p.empty()) return Status::Error("CTFLOW_CONTAINER_RUNTIME is '" + std::string(rt) + "' but it is not on PATH");
    return p;
  }
  for (const char* name : {"podman", "docker"}) {
    std::string p = find_on_path(name);
    if (!p.empty()) return p;
  }
  return Status::Error("this step has an 'image' but neither podman nor docker is on PATH: install podman "
                       "(apt-get install podman) or set CTFLOW_CONTAINER_RUNTIME");
}

Result<std::vector<std::string>> container_command(const ContainerSpec& c) {
  auto rt = container_runtime();
  if (!rt) return rt.status();
  std::vector<std::string> cmd = {*rt, "run", "--rm", "--init", "--name", c.name};
  if (!c.network) cmd.insert(cmd.end(), {"--network", "none"});
  for (const auto& m : c.mounts_rw) cmd.insert(cmd.end(), {"-v", m.string() + ":" + m.string() + ":rw"});
  for (const auto& m : c.mounts_ro) cmd.insert(cmd.end(), {"-v", m.string() + ":" + m.string() + ":ro"});
  if (!c.work_dir.empty()) cmd.insert(cmd.end(), {"-w", c.work_dir.string()});
  for (const auto& e : c.env) cmd.insert(cmd.end(), {"-e", e});
  if (c.gpus > 0) {
    const bool docker = fs::path(*rt).filename() == "docker";
    if (c.gpu_devices.empty()) {
      if (docker) cmd.insert(cmd.end(), {"--gpus", std::to_string(c.gpus)});
      else cmd.insert(cmd.end(), {"--device", "nvidia.com/gpu=all"});
    } else if (docker) {  // "device=0,1", quoted as docker's own docs write it
      std::string list;
      for (const auto& d : c.gpu_devices) list += (list.empty() ? "" : ",") + d;
      cmd.insert(cmd.end(), {"--gpus", "\"device=" + list + "\""});
    } else {  // podman: one CDI device each
      for (const auto& d : c.gpu_devices) cmd.insert(cmd.end(), {"--device", "nvidia.com/gpu=" + d});
    }
  }
  // The step's argv is what runs: it replaces the image's ENTRYPOINT (an image
  // with one would otherwise be given the argv as its arguments).
  if (!c.argv.empty()) cmd.insert(cmd.end(), {"--entrypoint", c.argv[0]});
  cmd.push_back(c.image);
  if (!c.argv.empty()) cmd.insert(cmd.end(), c.argv.begin() + 1, c.argv.end());
  return cmd;
}

}  // namespace ctflow
