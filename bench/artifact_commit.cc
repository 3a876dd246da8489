// How fast ArtifactStore::put stores a directory, against `cp -r` of the same
// data on the same disk. Makes a dataset (default 500 MB: 50 files of 10 MB of
// pseudo-random bytes) twice, times `cp -r` of one copy and put(kCopy) of the
// other (both read from the page cache; put copies, it does not move). put also
// hashes every byte and fsyncs every blob; cp does neither, so the figures also
// give cp followed by an fsync of what it wrote.
// Prints {"bench":"artifact_commit",...,"ratio":put_MBps/cp_MBps}.
// Usage: artifact_commit [TOTAL_MB] [FILES]; the data goes under $TMPDIR (/tmp).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "store/artifact_store.h"
#include "store/testing/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool write_dataset(const fs::path& dir, int files, size_t file_bytes, uint64_t seed) {
  fs::create_directories(dir);
  std::vector<uint64_t> buf(file_bytes / 8);
  uint64_t x = seed;
  for (int f = 0; f < files; ++f) {
    for (auto& w : buf) {  // xorshift64: incompressible, cheap
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      w = x;
    }
    fs::path p = dir / ("part-" + std::to_string(f) + ".bin");
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    bool ok = ::write(fd, buf.data(), buf.size() * 8) == static_cast<ssize_t>(buf.size() * 8) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return false;
  }
  return true;
}

bool fsync_tree(const fs::path& dir) {
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) return false;
    ::close(fd);
  }
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool ok = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  long total_mb = argc > 1 ? std::atol(argv[1]) : 500;
  int files = argc > 2 ? std::atoi(argv[2]) : 50;
  size_t file_bytes = static_cast<size_t>(total_mb) * 1024 * 1024 / static_cast<size_t>(files) / 8 * 8;
  double mb = static_cast<double>(file_bytes) * files / (1024.0 * 1024.0);

  ctflow::testing::ScratchDir dir;
  if (!write_dataset(dir / "for-cp", files, file_bytes, 0x9e3779b97f4a7c15ULL) ||
      !write_dataset(dir / "for-put", files, file_bytes, 0x9e3779b97f4a7c15ULL)) {
    std::fprintf(stderr, "artifact_commit: cannot write the dataset under %s\n", dir.path().c_str());
    return 1;
  }

  auto start = std::chrono::steady_clock::now();
  std::string cmd = "cp -r '" + (dir / "for-cp").string() + "' '" + (dir / "cp-out").string() + "'";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "artifact_commit: %s failed\n", cmd.c_str());
    return 1;
  }
  double cp_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  if (!fsync_tree(dir / "cp-out")) return 1;
  double cp_fsync_s = cp_s + seconds_since(start);

  ctflow::ArtifactStore store(dir / "blobs");
  start = std::chrono::steady_clock::now();
  auto put = store.put(dir / "for-put", ctflow::PutMode::kCopy);
  double put_s = seconds_since(start);
  if (!put.ok()) {
    std::fprintf(stderr, "artifact_commit: %s\n", put.message().c_str());
    return 1;
  }

  double cp_mbps = mb / cp_s, cp_fsync_mbps = mb / cp_fsync_s, put_mbps = mb / put_s;
  std::printf(
      "{\"bench\":\"artifact_commit\",\"megabytes\":%.0f,\"files\":%d,\"cp_seconds\":%.3f,\"cp_mb_per_s\":%.1f,"
      "\"cp_fsync_seconds\":%.3f,\"cp_fsync_mb_per_s\":%.1f,\"put_seconds\":%.3f,\"put_mb_per_s\":%.1f,"
      "\"ratio\":%.2f,\"ratio_vs_cp_fsync\":%.2f}\n",
      mb, files, cp_s, cp_mbps, cp_fsync_s, cp_fsync_mbps, put_s, put_mbps, put_mbps / cp_mbps,
      put_mbps / cp_fsync_mbps);
  return 0;
}
