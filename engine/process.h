// Starting child processes: posix_spawn (vfork-fast), each child in a process
// group of its own so a timeout or Ctrl-C can end it with all its children.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace ctflow {

struct SpawnOptions {
  std::vector<std::string> argv;     // argv[0] is looked up on PATH when it has no '/'
  std::vector<std::string> env;      // "NAME=VALUE"; empty: inherit this process's environment
  std::filesystem::path cwd;         // empty: inherit
  int stdout_fd = -1;                // -1: /dev/null
  int stderr_fd = -1;                // -1: same as stdout
};

// Starts the process; the error says why it could not start ("cannot start 'x': No such file or directory").
Result<pid_t> spawn_process(const SpawnOptions& options);
// Sends SIG to the whole process group of PID (the child leads its own group).
void signal_group(pid_t pid, int sig);

// Kills what a dead engine left running for RUN_ID: every process of this user
// whose environment holds CTFLOW_RUN_ID=RUN_ID (the engine sets it for every
// step, so pid reuse cannot fool it), with its process group, then waits up to
// WAIT_MS for them to be gone. Steps run in process groups of their own, so a
// SIGKILL of the engine alone leaves them running. Returns how many it found.
int kill_run_orphans(const std::string& run_id, int wait_ms = 3000);
// "exit code 3", "killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);
// The current environment plus EXTRA ("NAME=VALUE" entries override).
std::vector<std::string> environment_with(const std::vector<std::string>& extra);

}  // namespace ctflow
