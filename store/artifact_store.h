// ArtifactStore: files and directories stored by content (sha256) under
// .ctflow/blobs/. A blob is written under a temporary name, fsynced, and renamed
// into place, so a crash never leaves half a blob visible. Blobs are read-only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "engine/status.h"

namespace ctflow {

struct StoredArtifact {
  std::string digest;   // "sha256:<hex>"; for a directory, the digest of its manifest
  int64_t size = 0;     // bytes of content (a directory: sum of its files)
  std::string kind;     // "file" or "dir"
  std::filesystem::path path;  // the read-only blob (file, or directory tree)
};

class ArtifactStore {
 public:
  explicit ArtifactStore(std::filesystem::path blobs_dir);

  // Stores the file or directory at SOURCE (moving it in when it lies on the same
  // filesystem, copying otherwise). Deduplicates by content.
  Result<StoredArtifact> put(const std::filesystem::path& source);
  // The blob for DIGEST, after checking that it exists.
  Result<StoredArtifact> get(const std::string& digest) const;
  // Recomputes the digest of a stored blob; an error when it no longer matches.
  Status verify(const std::string& digest) const;
  // Places a read-only view of DIGEST at DEST (hard links; never a copy of data).
  Status materialize(const std::string& digest, const std::filesystem::path& dest) const;

  static Result<std::string> digest_file(const std::filesystem::path& file);

 private:
  std::filesystem::path dir_;
};

}  // namespace ctflow
