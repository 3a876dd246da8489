// ArtifactStore: reading blobs back (get, verify, materialize).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "store/artifact_store.h"
#include "store/run_store.h"
#include "store/sha256.h"
#include "store/tree_manifest.h"

namespace ctflow {

namespace fs = std::filesystem;

// Blobs whose content was hashed and found right, with the stat they had then.
// A later stat that is identical means the content is too, provided the file
// had not been changed within the clock's granularity of that check (the "racy
// clean" rule git uses for its index): only such stamps are kept.
struct ArtifactStore::VerifiedStamps {
  struct Stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    int64_t ctime_ns;
    bool operator==(const Stamp&) const = default;
  };
  std::mutex mu;
  std::unordered_map<std::string, Stamp> by_path;

  static Stamp of(const struct stat& st) {
    return {st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
            st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
  }
};

namespace {

constexpr int64_t kRacyWindowNs = 2'000'000'000;  // 2 s

Status missing_error(const std::string& digest, const fs::path& path) {
  return Status::Error("artifact " + digest + " is missing from the store (" + path.string() + ")");
}

// Checks that the file blob at PATH holds bytes whose sha256 is HEX.
// WHAT names it in messages ("artifact sha256:..." or "file x of artifact ...").
Status check_file(const fs::path& path, const std::string& hex, const std::string& what,
                  ArtifactStore::VerifiedStamps* stamps) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status::Error(what + " is missing from the store (" + path.string() + ")");
  auto stamp = ArtifactStore::VerifiedStamps::of(st);
  if (stamps != nullptr) {
    std::lock_guard<std::mutex> lock(stamps->mu);
    auto it = stamps->by_path.find(path.string());
    if (it != stamps->by_path.end() && it->second == stamp) return Status::Ok();
  }
  auto hash = sha256_file(path);
  if (!hash.ok()) return hash.status();
  if (hash->hex != hex)
    return Status::Error(what + " is corrupt: " + path.string() + " now hashes to sha256:" + hash->hex);
  if (stamps != nullptr && now_ms() * 1000000LL - stamp.ctime_ns > kRacyWindowNs &&
      now_ms() * 1000000LL - stamp.mtime_ns > kRacyWindowNs) {
    std::lock_guard<std::mutex> lock(stamps->mu);
    stamps->by_path[path.string()] = stamp;
  }
  return Status::Ok();
}

Result<std::string> read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The manifest of the tree HEX, after checking the manifest blob itself.
Result<std::vector<ManifestEntry>> read_manifest(const fs::path& blobs, const std::string& hex,
                                                 const std::string& digest, ArtifactStore::VerifiedStamps* stamps) {
  fs::path path = file_blob_path(blobs, hex);
  if (Status s = check_file(path, hex, "the manifest of artifact " + digest, stamps); !s) return s;
  auto text = read_small_file(path);
  if (!text.ok()) return text.status();
  auto entries = decode_manifest(*text);
  if (!entries.ok()) return Status::Error("artifact " + digest + " is corrupt: " + entries.message());
  return entries;
}

}  // namespace

ArtifactStore::ArtifactStore(fs::path blobs_dir)
    : dir_(std::move(blobs_dir)), verified_(std::make_shared<VerifiedStamps>()) {}

Result<StoredArtifact> ArtifactStore::get(const std::string& digest) const { return get_checked(digest, true); }

Status ArtifactStore::verify(const std::string& digest) const { return get_checked(digest, false).status(); }

Result<StoredArtifact> ArtifactStore::get_checked(const std::string& digest, bool use_stamps) const {
  auto hex = digest_hex(digest);
  if (!hex) return Status::Error("invalid artifact digest '" + digest + "' (want sha256:<64 hex digits>)");
  VerifiedStamps* stamps = use_stamps ? verified_.get() : nullptr;
  fs::path tree = tree_path(dir_, *hex);
  std::error_code ec;
  if (fs::is_directory(tree, ec)) {
    auto entries = read_manifest(dir_, *hex, digest, stamps);
    if (!entries.ok()) return entries.status();
    StoredArtifact out{digest, 0, "dir", tree};
    std::set<std::string> expected;
    for (const auto& e : *entries) {
      if (Status s = check_file(tree / e.path, e.hex, "file " + e.path + " of artifact " + digest, stamps); !s)
        return s;
      out.size += e.size;
      expected.insert(e.path);
    }
    for (auto it = fs::recursive_directory_iterator(tree, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory(ec)) continue;
      std::string rel = fs::relative(it->path(), tree).generic_string();
      if (!expected.count(rel)) return Status::Error("artifact " + digest + " is corrupt: unexpected file " + rel);
    }
    if (ec) return Status::Error("cannot read " + tree.string() + ": " + ec.message());
    return out;
  }
  fs::path blob = file_blob_path(dir_, *hex);
  struct stat st {};
  if (::stat(blob.c_str(), &st) != 0) return missing_error(digest, blob);
  if (Status s = check_file(blob, *hex, "artifact " + digest, stamps); !s) return s;
  return StoredArtifact{digest, static_cast<int64_t>(st.st_size), "file", blob};
}

namespace {
bool link_or_symlink(const fs::path& target, const fs::path& dest) {
  if (::link(target.c_str(), dest.c_str()) == 0) return true;
  // Another filesystem, an inode at its link limit, or links not allowed here.
  if (errno != EXDEV && errno != EMLINK && errno != EPERM) return false;
  return ::symlink(target.c_str(), dest.c_str()) == 0;
}
}  // namespace

Status ArtifactStore::materialize(const std::string& digest, const fs::path& dest) const {
  auto art = get(digest);
  if (!art.ok()) return art.status();
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dest, ec)))
    return Status::Error("cannot place artifact " + digest + " at " + dest.string() + ": it already exists");
  if (dest.has_parent_path()) {
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return Status::Error("cannot create " + dest.parent_path().string() + ": " + ec.message());
  }
  auto fail = [&](const fs::path& p) {
    return Status::Error("cannot place artifact " + digest + " at " + p.string() + ": " + std::strerror(errno));
  };
  if (art->kind == "file") return link_or_symlink(art->path, dest) ? Status::Ok() : fail(dest);

  auto hex = digest_hex(digest);
  auto entries = read_manifest(dir_, *hex, digest, verified_.get());
  if (!entries.ok()) return entries.status();
  if (!fs::create_directory(dest, ec)) return Status::Error("cannot create " + dest.string() + ": " + ec.message());
  for (const auto& e : *entries) {
    fs::path to = dest / e.path;
    fs::create_directories(to.parent_path(), ec);
    if (ec) return Status::Error("cannot create " + to.parent_path().string() + ": " + ec.message());
    fs::path from = art->path / e.path;
    if (::link(from.c_str(), to.c_str()) == 0) continue;
    if (errno == EXDEV) {  // another filesystem: one link to the whole tree
      fs::remove_all(dest, ec);
      return ::symlink(art->path.c_str(), dest.c_str()) == 0 ? Status::Ok() : fail(dest);
    }
    if (!link_or_symlink(from, to)) return fail(to);
  }
  return Status::Ok();
}

}  // namespace ctflow
