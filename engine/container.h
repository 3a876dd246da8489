// Container steps: the command line that runs a step in an OCI image through
// podman or docker (CTFLOW_CONTAINER_RUNTIME, else the first found on PATH).
// Paths are mounted at the same place inside the container, so the step sees
// the same working directory and input blobs it would see on the host.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace ctflow {

struct ContainerSpec {
  std::string image;
  std::string name;                              // container name (for kill on timeout)
  std::vector<std::string> argv;                 // the command inside the image (replaces its ENTRYPOINT)
  std::vector<std::string> env;                  // "NAME=VALUE"
  std::filesystem::path work_dir;                // -w
  std::vector<std::filesystem::path> mounts_rw;  // bind mounts, read-write
  std::vector<std::filesystem::path> mounts_ro;  // bind mounts, read-only
  bool network = false;                          // false: --network none
  int gpus = 0;
  std::vector<std::string> gpu_devices;  // which host GPUs (as many as gpus); empty: any
};

// The runtime to use ("podman" or "docker", as a path), or an error that says how to get one.
Result<std::string> container_runtime();
Result<std::vector<std::string>> container_command(const ContainerSpec& spec);

}  // namespace ctflow
