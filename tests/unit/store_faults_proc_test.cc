// Store faults that need real processes or a small filesystem: a write that
// fails (file size limit, full disk) and a run owner that has died.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "store/artifact_store.h"
#include "store/run_store.h"
#include "store/testing/scratch_dir.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;
namespace fs = std::filesystem;

namespace {

void write_bytes(const fs::path& path, size_t n) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  std::string chunk(4096, '\0');
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 7 + 3);
  for (size_t done = 0; done < n; done += chunk.size()) out.write(chunk.data(), std::min(chunk.size(), n - done));
}

// Runs FN in a forked child and returns what it wrote to the pipe.
template <class F>
std::string in_child(F fn) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = fn();
    ssize_t unused = ::write(fds[1], out.data(), out.size());
    (void)unused;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  return out;
}

}  // namespace

TEST_CASE("ArtifactStoreFaults.AFailedWriteLeavesNoTemporaryAndSaysWhy") {
  ScratchDir dir;
  write_bytes(dir / "big.bin", 1 << 20);
  std::string message = in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    ArtifactStore store(dir / "blobs");
    return store.put(dir / "big.bin", PutMode::kCopy).message();
  });
  CHECK(message == "file too large while writing artifact " + (dir / "big.bin").string());
  CHECK(fs::is_empty(dir / "blobs/tmp"));
  size_t blobs = 0;
  for (auto& e : fs::recursive_directory_iterator(dir / "blobs")) blobs += e.is_regular_file() ? 1 : 0;
  CHECK(blobs == 0);
  CHECK(fs::file_size(dir / "big.bin") == (1 << 20));
}

TEST_CASE("ArtifactStoreFaults.AFullDiskSaysSoAndKeepsTheSource") {
  ScratchDir dir;
  fs::create_directories(dir / "blobs");
  if (::mount("tmpfs", (dir / "blobs").c_str(), "tmpfs", 0, "size=1m") != 0) {
    MESSAGE("skipped: cannot mount a small tmpfs here (needs root); the file-size-limit test covers the path");
    return;
  }
  write_bytes(dir / "data/big.bin", 2 << 20);
  write_bytes(dir / "data/small.bin", 1000);
  ArtifactStore store(dir / "blobs");
  auto put = store.put(dir / "data");  // another filesystem: copied, then the source removed
  CHECK(put.message() == "no space left on device while writing artifact " + (dir / "data/big.bin").string());
  CHECK(fs::is_empty(dir / "blobs/tmp"));
  CHECK(fs::file_size(dir / "data/big.bin") == (2 << 20));  // a failed put leaves the source alone
  auto small = store.put(dir / "data/small.bin");  // what fits still goes in
  CHECK(small.ok());
  ::umount2((dir / "blobs").c_str(), MNT_DETACH);
}

TEST_CASE("RunStoreProc.ClaimTakesOverFromADeadOwner") {
  ScratchDir dir;
  auto store = RunStore::open(dir / "s");
  REQUIRE(store.ok());
  auto id = (*store)->create_run("wf", "wf.yaml", Json::object(), "");
  REQUIRE(id.ok());
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // reaped: the pid is dead, its heartbeat fresh
  REQUIRE((*store)->release_run(*id, ::getpid()).ok());
  REQUIRE((*store)->claim_run(*id, child).ok());
  REQUIRE((*store)->heartbeat(*id, child).ok());
  CHECK((*store)->claim_run(*id, ::getpid()).ok());
  CHECK((*store)->get_run(*id)->owner_pid == ::getpid());

  // A live owner (a sleeping child) with a fresh heartbeat keeps it.
  pid_t sleeper = ::fork();
  if (sleeper == 0) {
    ::pause();
    ::_exit(0);
  }
  struct Reaper {
    pid_t pid;
    void kill_now() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
      pid = 0;
    }
    ~Reaper() { kill_now(); }
  } reaper{sleeper};
  REQUIRE((*store)->release_run(*id, ::getpid()).ok());
  REQUIRE((*store)->claim_run(*id, sleeper).ok());
  CHECK(!(*store)->claim_run(*id, ::getpid()).ok());
  reaper.kill_now();
  CHECK((*store)->claim_run(*id, ::getpid()).ok());
}
