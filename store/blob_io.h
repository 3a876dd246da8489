// Internal to the store: the file-system steps of writing blobs safely.
#pragma once

#include <filesystem>
#include <string>

#include "base/status.h"

namespace ctflow {

// fsync(2) on a folder, so that the names created in it survive a crash.
Status fsync_dir(const std::filesystem::path& dir);

class Sha256;

// Copies all of IN to OUT (both from offset 0) in one pass: each chunk is read
// once, hashed into HASH and written, so the bytes cross the memory bus as
// often as with `cp` and the hash costs no second read. Writeback of OUT is
// started as it goes (see start_writeback), so that the fdatasync that follows
// finds little left to wait for and the disk works while the CPU hashes.
// SIZE gets the number of bytes copied. Returns 0 or an errno value.
int copy_and_hash(int in, int out, Sha256& hash, int64_t& size);

// Asks the kernel to start writing FD's dirty pages in [FROM, FROM+LEN) (LEN 0:
// to the end) and returns without waiting. Only a head start for a later
// fdatasync, never a substitute for it.
void start_writeback(int fd, int64_t from, int64_t len);

// "<strerror, lower case> while writing artifact WHAT", e.g.
// "no space left on device while writing artifact model.pt".
Status write_error(int err, const std::string& what);

// Opens a new, empty file with a unique name in DIR (mode 0600); returns its fd
// and puts its path in PATH.
Result<int> create_temp_file(const std::filesystem::path& dir, std::filesystem::path& path);
// A unique name in DIR (not created).
std::filesystem::path temp_name(const std::filesystem::path& dir, const std::string& prefix);

// Removes PATH and everything under it, making read-only folders writable first.
Status remove_tree(const std::filesystem::path& path);

}  // namespace ctflow
