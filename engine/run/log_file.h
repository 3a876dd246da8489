// An attempt's log file, opened on the first write: most in-process steps never
// log, and then cost no file. Process steps open it before the spawn (it is the
// child's stderr). Writes may come from a plugin's threads; after close() they
// are dropped (a timed-out in-process plugin that goes on).
#pragma once

#include <mutex>
#include <string>
#include <system_error>
#include <filesystem>

namespace ctflow {

class LogFile {
 public:
  explicit LogFile(std::string path) : path_(std::move(path)) {}
  ~LogFile() { close(); }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // The descriptor, opening the file if needed; -1 (and errno) when it cannot be opened.
  int open();
  void write(const char* data, size_t n);
  void write(const std::string& text) { write(text.data(), text.size()); }
  void close();
  const std::string& path() const { return path_; }

 private:
  int open_locked();
  std::string path_;
  std::mutex mu_;
  int fd_ = -1;
  bool closed_ = false;
};

// PATH opened to append (O_APPEND, O_CLOEXEC, made 0644 if missing), its
// folders made first when they are not there yet (the run's first log or
// metrics file); -1 with errno when it cannot be opened.
int open_append(const std::string& path);

// Makes DIR anew and empty: one mkdir when it is not there (the common case),
// else removes what an earlier attempt left.
std::error_code fresh_dir(const std::filesystem::path& dir);

// Removes an earlier attempt's working folder, out folder and metrics file (those there).
std::error_code remove_attempt_files(const std::filesystem::path& work_dir, const std::filesystem::path& out_dir,
                                     const std::string& metrics_path);

}  // namespace ctflow
