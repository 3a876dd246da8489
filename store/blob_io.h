// Internal to the store: the file-system steps of writing blobs safely.
#pragma once

#include <filesystem>
#include <string>

#include "engine/status.h"

namespace ctflow {

// fsync(2) on a folder, so that the names created in it survive a crash.
Status fsync_dir(const std::filesystem::path& dir);

// Copies SIZE bytes from IN to OUT (both at offset 0) with copy_file_range,
// falling back to sendfile and then read/write. Returns 0 or an errno value.
int copy_fd(int in, int out, int64_t size);

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
