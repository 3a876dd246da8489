// Internal to the store: the manifest that names a directory artifact, and the
// paths of blobs (see the layout in artifact_store.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace ctflow {

struct ManifestEntry {
  std::string path;  // relative, '/'-separated
  bool exec = false;
  int64_t size = 0;
  std::string hex;   // sha256 of the file's bytes
};

// ENTRIES sorted by path, as text; its sha256 is the directory's digest.
std::string encode_manifest(std::vector<ManifestEntry> entries);
Result<std::vector<ManifestEntry>> decode_manifest(const std::string& text);

// The 64 hex characters of "sha256:<hex>", or nothing when DIGEST is malformed.
std::optional<std::string> digest_hex(const std::string& digest);

std::filesystem::path file_blob_path(const std::filesystem::path& blobs, const std::string& hex, bool exec = false);
std::filesystem::path tree_path(const std::filesystem::path& blobs, const std::string& hex);

}  // namespace ctflow
