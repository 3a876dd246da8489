// SHA-256 over OpenSSL's EVP interface (SHA-NI where the CPU has it).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ctflow {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::string hex_digest();  // 64 lowercase hex characters; ends the hash

  static std::string hex_of(std::string_view data);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// The hex sha256 of the file at PATH, and its size in bytes.
struct FileHash {
  std::string hex;
  int64_t size = 0;
};
Result<FileHash> sha256_file(const std::filesystem::path& path);
// As above, for an open file descriptor (read from offset 0 with pread).
Result<FileHash> sha256_fd(int fd, const std::filesystem::path& path_for_errors);

}  // namespace ctflow
