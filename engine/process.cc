#include "engine/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>
#include <map>

extern char** environ;

namespace ctflow {

Result<pid_t> spawn_process(const SpawnOptions& o) {
  if (o.argv.empty()) return Status::Error("cannot start a command: the argv is empty");
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (o.stdout_fd >= 0) posix_spawn_file_actions_adddup2(&fa, o.stdout_fd, 1);
  else posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  int err_fd = o.stderr_fd >= 0 ? o.stderr_fd : o.stdout_fd;
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  else posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  if (!o.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, o.cwd.c_str());
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : o.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), o.env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::Error("cannot start '" + o.argv[0] + "': " + std::strerror(rc));
  return pid;
}

void signal_group(pid_t pid, int sig) {
  if (pid > 0) ::kill(-pid, sig);
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string s = *e;
    env[s.substr(0, s.find('='))] = s;
  }
  for (const auto& s : extra) env[s.substr(0, s.find('='))] = s;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (auto& [k, v] : env) out.push_back(std::move(v));
  return out;
}

namespace {

bool has_run_env(pid_t pid, const std::string& needle) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  if (!in) return false;
  std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0;
  while (at < env.size()) {
    size_t end = env.find('\0', at);
    if (end == std::string::npos) end = env.size();
    if (env.compare(at, end - at, needle) == 0) return true;
    at = end + 1;
  }
  return false;
}

std::vector<pid_t> run_processes(const std::string& needle) {
  std::vector<pid_t> out;
  const pid_t self = getpid();
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(n));
    if (pid != self && has_run_env(pid, needle)) out.push_back(pid);
  }
  return out;
}

}  // namespace

int kill_run_orphans(const std::string& run_id, int wait_ms) {
  if (run_id.empty()) return 0;
  const std::string needle = "CTFLOW_RUN_ID=" + run_id;
  const auto found = run_processes(needle);
  const pid_t own_group = getpgrp();
  for (pid_t pid : found) {
    const pid_t g = getpgid(pid);
    if (g > 0 && g != own_group) ::kill(-g, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  for (int waited = 0; waited < wait_ms && !found.empty(); waited += 20) {
    bool alive = false;
    for (pid_t pid : found)
      if (::kill(pid, 0) == 0 && has_run_env(pid, needle)) alive = true;  // a zombie has no environ
    if (!alive) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return static_cast<int>(found.size());
}

}  // namespace ctflow
