// ArtifactStore: files and directories stored by content (sha256) under
// .ctflow/blobs/. A blob is written under a temporary name, fsynced, and renamed
// into place, so a crash never leaves half a blob visible. Blobs are read-only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"

namespace ctflow {

struct StoredArtifact {
  std::string digest;   // "sha256:<hex>"; for a directory, the digest of its manifest
  int64_t size = 0;     // bytes of content (a directory: sum of its files)
  std::string kind;     // "file" or "dir"
  std::filesystem::path path;  // the read-only blob (file, or directory tree)
};

// Layout under the blobs folder:
//   sha256/ab/cdef...      a file's bytes (0444); "...x" the same bytes, executable (0555)
//   trees/<hex>/           a directory: hard links to its files' blobs (folders 0555);
//                          <hex> is the sha256 of its manifest, itself a blob in sha256/
//   tmp/                   temporaries, renamed into place when complete
// A manifest is "ctflow-tree-v1\n" then one line per file, sorted by path:
//   "<sha256 hex> <size> <x|-> <relative path>\n" (in the path, '\' and newline
//   are escaped as "\\" and "\n").
enum class PutMode {
  kMove,  // like mv: renamed in when possible, else copied; SOURCE is gone afterwards
  kCopy,  // like cp: SOURCE is left as it was
};

class ArtifactStore {
 public:
  explicit ArtifactStore(std::filesystem::path blobs_dir);

  // Stores the file or directory at SOURCE (moving it in when it lies on the same
  // filesystem, copying otherwise). Deduplicates by content. Default kMove: on
  // success SOURCE no longer exists; use materialize() to get it back.
  Result<StoredArtifact> put(const std::filesystem::path& source, PutMode mode = PutMode::kMove);
  // The blob for DIGEST, after checking that it exists and that its content still
  // matches DIGEST (a blob found changed is never served). A blob checked before
  // and untouched since (same inode, size, mtime and ctime) is not read again.
  Result<StoredArtifact> get(const std::string& digest) const;
  // Recomputes the digest of a stored blob; an error when it no longer matches.
  Status verify(const std::string& digest) const;
  // Places a read-only view of DIGEST at DEST (hard links; never a copy of data).
  Status materialize(const std::string& digest, const std::filesystem::path& dest) const;

  static Result<std::string> digest_file(const std::filesystem::path& file);
  // Where the blob of DIGEST lives (kind "dir": its tree), without touching the
  // disk; empty for a malformed digest.
  static std::filesystem::path blob_path(const std::filesystem::path& blobs_dir, const std::string& digest,
                                         const std::string& kind);
  // The digest, kind and path of the blob that PATH names under BLOBS_DIR (a
  // file's blob or a directory's tree, as blob_path gives them), without
  // touching the disk (size is left 0); nullopt when PATH is not such a blob.
  static std::optional<StoredArtifact> blob_at(const std::filesystem::path& blobs_dir, const std::filesystem::path& path);
  const std::filesystem::path& dir() const { return dir_; }

  struct VerifiedStamps;  // artifact_store.cc

 private:
  Result<StoredArtifact> get_checked(const std::string& digest, bool use_stamps) const;

  std::filesystem::path dir_;
  std::shared_ptr<VerifiedStamps> verified_;  // shared by copies of this store
};

}  // namespace ctflow
