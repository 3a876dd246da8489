// How fast ArtifactStore::put stores a directory, against `cp -r` of the same
// data on the same disk. Makes a dataset (default 500 MB: 50 files of 10 MB of
// pseudo-random bytes) and, REPS times (default 3), times
//   cp:      `cp -r` of it (from the page cache; cp neither hashes nor syncs),
//   cp_fsync: the same followed by an fsync of every file and folder it wrote,
//   put:     put(kCopy) into an empty store: read once, hash, write, make
//            durable (fdatasync before each blob's rename, folders synced);
//   hash:    sha256 of every file and nothing else, on as many threads as put
//            uses: the floor that content addressing puts under put;
//   move:    put(kMove) of a fresh copy written just before and not synced, as
//            a step leaves its outputs: the engine's own path (hash, flush the
//            step's dirty data, rename; no copy).
// Each figure is the median of the REPS; what one rep wrote is removed before
// the next thing is timed, so no timing pays for another's writeback.
// Prints {"bench":"artifact_commit",...,"ratio":put_MBps/cp_MBps,...} with the
// 1-minute load average at the start and at the end.
// Usage: artifact_commit [TOTAL_MB] [FILES] [REPS]; the data goes under $TMPDIR (/tmp).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "store/artifact_store.h"
#include "store/blob_io.h"
#include "store/sha256.h"
#include "store/testing/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool write_dataset(const fs::path& dir, int files, size_t file_bytes, uint64_t seed, bool sync) {
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
    bool ok = ::write(fd, buf.data(), buf.size() * 8) == static_cast<ssize_t>(buf.size() * 8) &&
              (!sync || ::fsync(fd) == 0);
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

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

// sha256 of every file under DIR on THREADS threads.
bool hash_all(const fs::path& dir, unsigned threads) {
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  auto worker = [&] {
    for (size_t i; (i = next++) < files.size();)
      if (!ctflow::sha256_file(files[i]).ok()) ok = false;
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  return ok;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  long total_mb = argc > 1 ? std::atol(argv[1]) : 500;
  int files = argc > 2 ? std::atoi(argv[2]) : 50;
  int reps = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  size_t file_bytes = static_cast<size_t>(total_mb) * 1024 * 1024 / static_cast<size_t>(files) / 8 * 8;
  double mb = static_cast<double>(file_bytes) * files / (1024.0 * 1024.0);
  constexpr uint64_t kSeed = 0x9e3779b97f4a7c15ULL;
  double load_before = load_average();

  ctflow::testing::ScratchDir dir;
  if (!write_dataset(dir / "data", files, file_bytes, kSeed, true)) {
    std::fprintf(stderr, "artifact_commit: cannot write the dataset under %s\n", dir.path().c_str());
    return 1;
  }
  std::vector<double> cp_s, cp_fsync_s, put_s, hash_s, move_s;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    std::string cmd = "cp -r '" + (dir / "data").string() + "' '" + (dir / "cp-out").string() + "'";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "artifact_commit: %s failed\n", cmd.c_str());
      return 1;
    }
    cp_s.push_back(seconds_since(start));
    if (!fsync_tree(dir / "cp-out")) return 1;
    cp_fsync_s.push_back(seconds_since(start));
    ctflow::remove_tree(dir / "cp-out");

    ctflow::ArtifactStore store(dir / "blobs");
    start = std::chrono::steady_clock::now();
    auto put = store.put(dir / "data", ctflow::PutMode::kCopy);
    put_s.push_back(seconds_since(start));
    if (!put.ok()) {
      std::fprintf(stderr, "artifact_commit: %s\n", put.message().c_str());
      return 1;
    }
    ctflow::remove_tree(dir / "blobs");

    start = std::chrono::steady_clock::now();
    if (!hash_all(dir / "data", 4)) return 1;  // 4: kPutThreads in store/artifact_store.cc
    hash_s.push_back(seconds_since(start));

    if (!write_dataset(dir / "blobs-move" / "step-out", files, file_bytes, kSeed, false)) return 1;
    ctflow::ArtifactStore move_store(dir / "blobs-move");
    start = std::chrono::steady_clock::now();
    auto moved = move_store.put(dir / "blobs-move" / "step-out", ctflow::PutMode::kMove);
    move_s.push_back(seconds_since(start));
    if (!moved.ok()) {
      std::fprintf(stderr, "artifact_commit: %s\n", moved.message().c_str());
      return 1;
    }
    ctflow::remove_tree(dir / "blobs-move");
  }

  double cp = median(cp_s), cp_fsync = median(cp_fsync_s), put = median(put_s), hash = median(hash_s),
         move = median(move_s);
  std::printf(
      "{\"bench\":\"artifact_commit\",\"megabytes\":%.0f,\"files\":%d,\"reps\":%d,"
      "\"cp_seconds\":%.3f,\"cp_mb_per_s\":%.1f,\"cp_fsync_seconds\":%.3f,\"cp_fsync_mb_per_s\":%.1f,"
      "\"put_seconds\":%.3f,\"put_mb_per_s\":%.1f,\"hash_seconds\":%.3f,\"hash_mb_per_s\":%.1f,\"move_seconds\":%.3f,\"move_mb_per_s\":%.1f,"
      "\"ratio\":%.2f,\"ratio_vs_cp_fsync\":%.2f,\"move_ratio\":%.2f,\"load_before\":%.2f,\"load_after\":%.2f}\n",
      mb, files, reps, cp, mb / cp, cp_fsync, mb / cp_fsync, put, mb / put, hash, mb / hash, move, mb / move, cp / put,
      cp_fsync / put, cp / move, load_before, load_average());
  return 0;
}
