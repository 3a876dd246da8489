#include "store/blob_io.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

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

namespace {
int copy_read_write(int in, int out, off_t from, int64_t size) {
  std::vector<char> buf(1 << 20);
  off_t off = from;
  while (off < size) {
    ssize_t n = ::pread(in, buf.data(), buf.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;  // the source shrank while it was copied
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::pwrite(out, buf.data() + done, static_cast<size_t>(n - done), off + done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return errno;
      done += w;
    }
    off += n;
  }
  return 0;
}
}  // namespace

int copy_fd(int in, int out, int64_t size) {
  loff_t in_off = 0, out_off = 0;
  bool fast = true;
  while (fast && in_off < size) {
    ssize_t n = ::copy_file_range(in, &in_off, out, &out_off, static_cast<size_t>(size - in_off), 0);
    if (n > 0) continue;
    if (n == 0) return EIO;  // the source shrank while it was copied
    if (errno == EINTR) continue;
    // Not supported here (another filesystem, an old kernel): try the next way.
    if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) {
      fast = false;
      break;
    }
    return errno;
  }
  if (in_off >= size) return 0;
  if (::lseek(out, in_off, SEEK_SET) < 0) return errno;
  off_t off = in_off;
  while (off < size) {
    ssize_t n = ::sendfile(out, in, &off, static_cast<size_t>(size - off));
    if (n > 0) continue;
    if (n == 0) return EIO;
    if (errno == EINTR) continue;
    if (errno == EINVAL || errno == ENOSYS) return copy_read_write(in, out, off, size);
    return errno;
  }
  return 0;
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
