// ArtifactStore: putting files and directories in. Reading them back (get,
// verify, materialize) is in artifact_read.cc.
#include "store/artifact_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "store/blob_io.h"
#include "store/sha256.h"
#include "store/tree_manifest.h"

namespace ctflow {

namespace fs = std::filesystem;

namespace {

Status sys_error(const std::string& what, const fs::path& path, int err) {
  return Status::Error(what + " " + path.string() + ": " + std::strerror(err));
}

bool same_stat(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// The state of one put: what to sync at the end.
struct PutContext {
  fs::path blobs;
  PutMode mode;
  dev_t blobs_dev;
  std::mutex mu;  // guards dirs_to_sync: the files of a folder are stored in parallel
  std::set<fs::path> dirs_to_sync;

  void sync_later(const fs::path& dir) {
    std::lock_guard<std::mutex> lock(mu);
    dirs_to_sync.insert(dir);
  }
};

// Threads storing the files of one folder: while one waits for its fdatasync,
// others read, hash and write, so the disk and both CPUs are kept busy.
constexpr unsigned kPutThreads = 4;

Status ensure_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Error("cannot create " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

// Durability. A blob's name is its promise: whatever has the name
// sha256/ab/cdef... holds exactly those bytes, even after a power loss. So a
// blob's data is made durable (fdatasync) *before* the rename that gives it its
// name, and the folders that received names are fsynced before put() returns,
// that is before the database commit that records the artifact. The costs are
// kept down without weakening that:
//   - writeback is started while the data is still being hashed and written
//     (start_writeback), so the fdatasync mostly finds the work done and the
//     disk runs alongside the CPUs;
//   - folders are fsynced once each, at the end, not once per file (on ext4
//     the first of them commits the journal for all the renames; the others
//     return at once);
//   - fdatasync, not fsync: the size and blocks of the file are flushed with
//     its data; its mode and times travel with the folder fsyncs.
// A syncfs() at the end instead of the per-file fdatasync would be one call,
// but it also waits for every other dirty file on the filesystem (other
// steps' outputs, other runs), and a rename before the data is durable would
// let a power loss leave a name with the wrong bytes (ext4 does not order a
// rename to a new name after the file's data).

// Stores the regular file SOURCE as a file blob; its hash and size.
Result<FileHash> put_file_blob(PutContext& ctx, const fs::path& source, bool exec) {
  int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return sys_error("cannot read", source, errno);
  struct stat before {};
  ::fstat(in, &before);
  ::posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
  mode_t mode = exec ? 0555 : 0444;
  // Same filesystem, one name, and ours to take: hash it and rename it in, no
  // data copied.
  if (ctx.mode == PutMode::kMove && before.st_dev == ctx.blobs_dev && before.st_nlink == 1) {
    start_writeback(in, 0, 0);  // a step has usually just written it: let the disk start
    auto hash = sha256_fd(in, source);
    if (!hash.ok()) {
      ::close(in);
      return hash.status();
    }
    fs::path target = file_blob_path(ctx.blobs, hash->hex, exec);
    if (Status s = ensure_dir(target.parent_path()); !s) {
      ::close(in);
      return s;
    }
    if (::access(target.c_str(), F_OK) == 0) {  // already stored: nothing to write
      ::close(in);
      return hash;
    }
    struct stat after {};
    ::fstat(in, &after);
    if (!same_stat(before, after)) {
      ::close(in);
      return Status::Error("cannot store " + source.string() + ": it changed while it was being read");
    }
    int rc = ::fchmod(in, mode) == 0 && ::fdatasync(in) == 0 ? 0 : errno;
    ::close(in);
    if (rc != 0) return write_error(rc, source.string());
    if (::rename(source.c_str(), target.c_str()) != 0) return sys_error("cannot move in", source, errno);
    ctx.sync_later(target.parent_path());
    return hash;
  }
  // Otherwise copy it in one pass, hashing on the way; the name is known at
  // the end.
  fs::path tmp;
  auto out = create_temp_file(ctx.blobs / "tmp", tmp);
  if (!out.ok()) {
    ::close(in);
    return out.status();
  }
  Sha256 h;
  FileHash hash;
  int err = copy_and_hash(in, *out, h, hash.size);
  hash.hex = h.hex_digest();
  struct stat after {};
  ::fstat(in, &after);
  ::close(in);
  if (err == 0 && !same_stat(before, after)) {
    ::close(*out);
    ::unlink(tmp.c_str());
    return Status::Error("cannot store " + source.string() + ": it changed while it was being copied");
  }
  fs::path target = file_blob_path(ctx.blobs, hash.hex, exec);
  if (err == 0) {
    if (Status s = ensure_dir(target.parent_path()); !s) {
      ::close(*out);
      ::unlink(tmp.c_str());
      return s;
    }
    if (::access(target.c_str(), F_OK) == 0) {  // already stored: the copy was not needed
      ::close(*out);
      ::unlink(tmp.c_str());
      return hash;
    }
  }
  if (err == 0 && ::fchmod(*out, mode) != 0) err = errno;
  if (err == 0 && ::fdatasync(*out) != 0) err = errno;
  if (::close(*out) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), target.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return write_error(err, source.string());
  }
  ctx.sync_later(target.parent_path());
  return hash;
}

// Writes BYTES as a file blob (used for manifests).
Status put_bytes_blob(PutContext& ctx, const std::string& bytes, const std::string& hex, const std::string& what) {
  fs::path target = file_blob_path(ctx.blobs, hex);
  if (Status s = ensure_dir(target.parent_path()); !s) return s;
  if (::access(target.c_str(), F_OK) == 0) return Status::Ok();
  fs::path tmp;
  auto out = create_temp_file(ctx.blobs / "tmp", tmp);
  if (!out.ok()) return out.status();
  int err = 0;
  for (size_t done = 0; err == 0 && done < bytes.size();) {
    ssize_t n = ::write(*out, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno != EINTR) err = errno;
    if (n > 0) done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fchmod(*out, 0444) != 0) err = errno;
  if (err == 0 && ::fsync(*out) != 0) err = errno;
  if (::close(*out) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), target.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return write_error(err, what);
  }
  ctx.sync_later(target.parent_path());
  return Status::Ok();
}

Status sync_dirs(PutContext& ctx) {
  for (const auto& d : ctx.dirs_to_sync)
    if (Status s = fsync_dir(d); !s) return s;
  ctx.dirs_to_sync.clear();
  return Status::Ok();
}

struct SourceFile {
  std::string rel;
  fs::path abs;
  bool exec;
};

Result<std::vector<SourceFile>> list_files(const fs::path& root) {
  std::vector<SourceFile> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    auto st = it->status(ec);  // follows symlinks: a link to a file stores the file
    if (ec) return Status::Error("cannot store " + it->path().string() + ": " + ec.message());
    if (fs::is_directory(st)) {
      if (it->is_symlink()) return Status::Error("cannot store " + it->path().string() + ": a link to a folder");
      continue;
    }
    if (!fs::is_regular_file(st))
      return Status::Error("cannot store " + it->path().string() + ": not a regular file or folder");
    bool exec = (st.permissions() & fs::perms::owner_exec) != fs::perms::none;
    files.push_back({fs::relative(it->path(), root).generic_string(), it->path(), exec});
  }
  if (ec) return Status::Error("cannot read folder " + root.string() + ": " + ec.message());
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.rel < b.rel; });
  return files;
}

// Builds the tree of hard links for ENTRIES and renames it to trees/<hex>.
Status build_tree(PutContext& ctx, const std::vector<ManifestEntry>& entries, const std::string& hex) {
  fs::path final_path = tree_path(ctx.blobs, hex);
  if (Status s = ensure_dir(final_path.parent_path()); !s) return s;
  fs::path tmp = temp_name(ctx.blobs / "tmp", "tree-");
  if (Status s = ensure_dir(tmp); !s) return s;
  std::set<fs::path> dirs{tmp};
  for (const auto& e : entries) {
    fs::path dest = tmp / e.path;
    if (!dirs.count(dest.parent_path())) {
      if (Status s = ensure_dir(dest.parent_path()); !s) return s;
      for (fs::path p = dest.parent_path(); p != tmp && dirs.insert(p).second; p = p.parent_path()) {
      }
    }
    fs::path blob = file_blob_path(ctx.blobs, e.hex, e.exec);
    if (::link(blob.c_str(), dest.c_str()) != 0) {
      // An inode at its link limit: give the tree its own copy.
      if (errno != EMLINK) return sys_error("cannot link into the store", dest, errno);
      std::error_code ec;
      fs::copy_file(blob, dest, ec);
      if (ec) return Status::Error("cannot copy " + blob.string() + ": " + ec.message());
    }
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (Status s = fsync_dir(*it); !s) return s;
    if (*it != tmp) ::chmod(it->c_str(), 0555);
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    remove_tree(tmp);
    if (err == EEXIST || err == ENOTEMPTY) return Status::Ok();  // another process stored it first
    return sys_error("cannot move into the store", final_path, err);
  }
  ::chmod(final_path.c_str(), 0555);
  return fsync_dir(final_path.parent_path());
}

}  // namespace

Result<StoredArtifact> ArtifactStore::put(const fs::path& source, PutMode mode) {
  if (Status s = ensure_dir(dir_ / "tmp"); !s) return s;
  struct stat blobs_st {};
  if (::stat(dir_.c_str(), &blobs_st) != 0) return sys_error("cannot use store folder", dir_, errno);
  PutContext ctx{dir_, mode, blobs_st.st_dev, {}, {}};
  std::error_code ec;
  auto st = fs::status(source, ec);
  if (ec || !fs::exists(st)) return Status::Error("cannot store " + source.string() + ": no such file or folder");

  StoredArtifact out;
  if (fs::is_regular_file(st)) {
    // A lone file's blob is never executable; only a tree keeps the x bit.
    auto hash = put_file_blob(ctx, source, false);
    if (!hash.ok()) return hash.status();
    if (Status s = sync_dirs(ctx); !s) return s;
    out = {"sha256:" + hash->hex, hash->size, "file", file_blob_path(dir_, hash->hex)};
  } else if (fs::is_directory(st)) {
    auto files = list_files(source);
    if (!files.ok()) return files.status();
    std::vector<ManifestEntry> entries(files->size());
    std::vector<Status> errors(files->size());
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    auto worker = [&] {
      for (size_t i; !failed && (i = next++) < files->size();) {
        const auto& f = (*files)[i];
        auto hash = put_file_blob(ctx, f.abs, f.exec);
        if (!hash.ok()) {
          errors[i] = hash.status();
          failed = true;
          continue;
        }
        entries[i] = {f.rel, f.exec, hash->size, hash->hex};
      }
    };
    std::vector<std::thread> threads;
    for (unsigned t = 1; t < std::min<size_t>(kPutThreads, files->size()); ++t) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    for (const auto& e : errors)
      if (!e) return e;  // the first file that failed, in path order
    int64_t total = 0;
    for (const auto& e : entries) total += e.size;
    std::string manifest = encode_manifest(entries);
    std::string hex = Sha256::hex_of(manifest);
    if (Status s = put_bytes_blob(ctx, manifest, hex, source.string() + " (manifest)"); !s) return s;
    if (Status s = sync_dirs(ctx); !s) return s;
    if (!fs::is_directory(tree_path(dir_, hex), ec))
      if (Status s = build_tree(ctx, entries, hex); !s) return s;
    out = {"sha256:" + hex, total, "dir", tree_path(dir_, hex)};
  } else {
    return Status::Error("cannot store " + source.string() + ": not a regular file or folder");
  }
  // Like mv: what was not renamed in goes once it is safely stored.
  if (mode == PutMode::kMove && fs::exists(fs::symlink_status(source, ec))) {
    if (Status s = remove_tree(source); !s) return s;
  }
  return out;
}

Result<std::string> ArtifactStore::digest_file(const fs::path& file) {
  auto hash = sha256_file(file);
  if (!hash.ok()) return hash.status();
  return "sha256:" + hash->hex;
}

fs::path ArtifactStore::blob_path(const fs::path& blobs_dir, const std::string& digest, const std::string& kind) {
  auto hex = digest_hex(digest);
  if (!hex) return {};
  return kind == "dir" ? tree_path(blobs_dir, *hex) : file_blob_path(blobs_dir, *hex);
}

std::optional<StoredArtifact> ArtifactStore::blob_at(const fs::path& blobs_dir, const fs::path& path) {
  auto named = [&](const fs::path& blobs, const fs::path& p) -> std::optional<StoredArtifact> {
    const fs::path rel = p.lexically_normal().lexically_relative(blobs.lexically_normal());
    std::vector<std::string> parts;
    for (const auto& e : rel)
      if (!e.empty() && e != ".") parts.push_back(e.string());
    std::string hex, kind;
    if (parts.size() == 2 && parts[0] == "trees") {
      hex = parts[1];
      kind = "dir";
    } else if (parts.size() == 3 && parts[0] == "sha256" && parts[1].size() == 2) {
      std::string rest = parts[2];
      if (rest.size() == 63 && rest.back() == 'x') rest.pop_back();
      hex = parts[1] + rest;
      kind = "file";
    }
    if (!digest_hex("sha256:" + hex)) return std::nullopt;
    return StoredArtifact{"sha256:" + hex, 0, kind, p.lexically_normal()};
  };
  if (auto b = named(blobs_dir, path)) return b;
  std::error_code e1, e2;
  const fs::path cb = fs::weakly_canonical(blobs_dir, e1), cp = fs::weakly_canonical(path, e2);
  if (e1 || e2) return std::nullopt;
  return named(cb, cp);
}

}  // namespace ctflow
