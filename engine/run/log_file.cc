#include "engine/run/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ctflow {

int LogFile::open() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_locked();
}

void LogFile::write(const char* data, size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_locked() >= 0) (void)!::write(fd_, data, n);
}

void LogFile::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int LogFile::open_locked() {
  if (fd_ >= 0 || closed_) return fd_;
  fd_ = open_append(path_);
  return fd_;
}

int open_append(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT) {  // its folder is made now
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (!ec) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    else errno = ec.value();
  }
  return fd;
}

std::error_code fresh_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (::mkdir(dir.c_str(), 0755) == 0) return ec;
  if (errno == EEXIST) std::filesystem::remove_all(dir, ec);
  if (ec) return ec;
  std::filesystem::create_directories(dir, ec);
  return ec;
}

std::error_code remove_attempt_files(const std::filesystem::path& work_dir, const std::filesystem::path& out_dir,
                                     const std::string& metrics_path) {
  std::error_code ec;
  std::filesystem::remove_all(work_dir, ec);
  if (!ec) std::filesystem::remove_all(out_dir, ec);
  if (!ec && !metrics_path.empty() && ::unlink(metrics_path.c_str()) != 0 && errno != ENOENT)
    ec.assign(errno, std::generic_category());
  return ec;
}

}  // namespace ctflow
