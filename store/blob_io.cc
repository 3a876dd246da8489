#include "store/blob_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "store/sha256.h"

namespace ctflow {

namespace fs = std::filesystem;

Status fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open " + dir.string() + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::Error("cannot sync " + dir.string() + ": " + std::strerror(err));
  return Status::Ok();
}

int copy_and_hash(int in, int out, Sha256& hash, int64_t& size) {
  // 256 KiB: a chunk is still in the core's L2 cache when it is hashed and
  // written after the read that brought it in.
  constexpr size_t kChunk = 256 << 10;
  // Writeback is started every 8 MiB: large enough for big sequential writes,
  // small enough that the disk starts early.
  constexpr int64_t kWritebackEvery = 8 << 20;
  thread_local std::vector<char> buf(kChunk);
  size = 0;
  int64_t started = 0;
  for (;;) {
    ssize_t n = ::pread(in, buf.data(), kChunk, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) break;
    hash.update(buf.data(), static_cast<size_t>(n));
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::pwrite(out, buf.data() + done, static_cast<size_t>(n - done), size + done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return errno;
      done += w;
    }
    size += n;
    if (size - started >= kWritebackEvery) {
      start_writeback(out, started, size - started);
      started = size;
    }
  }
  return 0;
}

void start_writeback(int fd, int64_t from, int64_t len) {
  // Errors are ignored: the fdatasync that must follow reports them.
  (void)::sync_file_range(fd, from, len, SYNC_FILE_RANGE_WRITE);
}

Status write_error(int err, const std::string& what) {
  std::string reason = std::strerror(err);
  if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
  return Status::Error(reason + " while writing artifact " + what);
}

fs::path temp_name(const fs::path& dir, const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  thread_local std::mt19937 rng(std::random_device{}());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%d-%u-%08x", prefix.c_str(), static_cast<int>(::getpid()), counter++,
                static_cast<unsigned>(rng()));
  return dir / buf;
}

Result<int> create_temp_file(const fs::path& dir, fs::path& path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    path = temp_name(dir, "blob-");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    if (errno != EEXIST) return Status::Error("cannot create a file in " + dir.string() + ": " + std::strerror(errno));
  }
  return Status::Error("cannot create a file in " + dir.string() + ": too many name clashes");
}

Status remove_tree(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return Status::Ok();
  if (fs::is_directory(fs::symlink_status(path, ec))) {
    ::chmod(path.c_str(), 0755);
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0755);
    }
  }
  fs::remove_all(path, ec);
  if (ec) return Status::Error("cannot remove " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace ctflow
