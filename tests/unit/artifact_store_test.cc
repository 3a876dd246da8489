// ArtifactStore on a real filesystem: digests, dedupe, directory trees,
// read-only blobs, verify, materialize, and moving vs copying in.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "store/artifact_store.h"
#include "store/sha256.h"
#include "store/testing/scratch_dir.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& text, bool exec = false) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  if (exec) fs::permissions(path, fs::perms::owner_exec, fs::perm_options::add);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

size_t count_files(const fs::path& dir) {
  size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) ++n;
  return n;
}

bool writable_by_anyone(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return (st.st_mode & 0222) != 0;
}

// "hello\n" hashes to this (sha256sum).
const std::string kHelloHex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

}  // namespace

TEST_CASE("Sha256.KnownVectors") {
  CHECK(Sha256::hex_of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256::hex_of("hello\n") == kHelloHex);
}

TEST_CASE("ArtifactStore.PutFileGivesItsSha256AndDedupes") {
  ScratchDir dir;
  ArtifactStore store(dir / "blobs");
  write_file(dir / "a.txt", "hello\n");
  write_file(dir / "b.txt", "hello\n");
  CHECK(*ArtifactStore::digest_file(dir / "a.txt") == "sha256:" + kHelloHex);

  auto a = store.put(dir / "a.txt", PutMode::kCopy);
  REQUIRE_MESSAGE(a.ok(), a.message());
  CHECK(a->digest == "sha256:" + kHelloHex);
  CHECK(a->size == 6);
  CHECK(a->kind == "file");
  CHECK(a->path == dir / "blobs/sha256/58" / kHelloHex.substr(2));
  CHECK(read_file(a->path) == "hello\n");
  CHECK(!writable_by_anyone(a->path));
  CHECK(fs::exists(dir / "a.txt"));  // copied, not moved

  auto b = store.put(dir / "b.txt");  // same content: the same blob
  REQUIRE(b.ok());
  CHECK(b->digest == a->digest);
  CHECK(count_files(dir / "blobs/sha256") == 1);
  CHECK(fs::is_empty(dir / "blobs/tmp"));
  CHECK(ArtifactStore::blob_path(dir / "blobs", a->digest, "file") == a->path);
}

TEST_CASE("ArtifactStore.PutMovesAFreshFileOnTheSameFilesystem") {
  ScratchDir dir;
  ArtifactStore store(dir / "blobs");
  write_file(dir / "model.pt", "weights");
  struct stat before {};
  ::stat((dir / "model.pt").c_str(), &before);
  auto a = store.put(dir / "model.pt");
  REQUIRE(a.ok());
  CHECK(!fs::exists(dir / "model.pt"));
  struct stat after {};
  ::stat(a->path.c_str(), &after);
  CHECK(after.st_ino == before.st_ino);  // renamed, not copied
  CHECK(!writable_by_anyone(a->path));

  write_file(dir / "again.pt", "weights");  // known content: the source still goes, like mv
  REQUIRE(store.put(dir / "again.pt").ok());
  CHECK(!fs::exists(dir / "again.pt"));
}

TEST_CASE("ArtifactStore.DirectoryDigestIsStableAndFilesDedupe") {
  ScratchDir dir;
  ArtifactStore store(dir / "blobs");
  // The same content made in two different orders.
  write_file(dir / "one/b/c.txt", "C");
  write_file(dir / "one/a.txt", "A");
  write_file(dir / "one/run.sh", "#!/bin/sh\n", true);
  write_file(dir / "two/run.sh", "#!/bin/sh\n", true);
  write_file(dir / "two/a.txt", "A");
  write_file(dir / "two/b/c.txt", "C");
  write_file(dir / "three/a.txt", "A");  // differs in one x bit
  write_file(dir / "three/b/c.txt", "C");
  write_file(dir / "three/run.sh", "#!/bin/sh\n", false);

  auto one = store.put(dir / "one", PutMode::kCopy);
  REQUIRE_MESSAGE(one.ok(), one.message());
  auto two = store.put(dir / "two", PutMode::kCopy);
  auto three = store.put(dir / "three", PutMode::kCopy);
  REQUIRE(two.ok());
  REQUIRE(three.ok());
  CHECK(one->kind == "dir");
  CHECK(one->size == 12);
  CHECK(one->digest == two->digest);
  CHECK(one->digest != three->digest);
  CHECK(one->path == dir / "blobs/trees" / one->digest.substr(7));

  // The digest is the sha256 of the manifest, which is stored as a blob too.
  std::string manifest = read_file(ArtifactStore::blob_path(dir / "blobs", one->digest, "file"));
  CHECK(manifest == "ctflow-tree-v1\n" + Sha256::hex_of("A") + " 1 - a.txt\n" + Sha256::hex_of("C") +
                        " 1 - b/c.txt\n" + Sha256::hex_of("#!/bin/sh\n") + " 10 x run.sh\n");
  CHECK("sha256:" + Sha256::hex_of(manifest) == one->digest);

  // The tree holds hard links to the file blobs: nothing is stored twice.
  struct stat blob {}, in_tree {};
  ::stat(ArtifactStore::blob_path(dir / "blobs", "sha256:" + Sha256::hex_of("A"), "file").c_str(), &blob);
  ::stat((one->path / "a.txt").c_str(), &in_tree);
  CHECK(blob.st_ino == in_tree.st_ino);
  CHECK(!writable_by_anyone(one->path));
  CHECK(!writable_by_anyone(one->path / "b"));
  CHECK(!writable_by_anyone(one->path / "a.txt"));
  CHECK((fs::status(one->path / "run.sh").permissions() & fs::perms::owner_exec) != fs::perms::none);
  CHECK((fs::status(dir / "blobs/trees" / three->digest.substr(7) / "run.sh").permissions() &
         fs::perms::owner_exec) == fs::perms::none);
}

TEST_CASE("ArtifactStore.GetAndMaterialize") {
  ScratchDir dir;
  ArtifactStore store(dir / "blobs");
  write_file(dir / "data/x/y.bin", "payload");
  write_file(dir / "data/z.txt", "zzz");
  auto d = store.put(dir / "data");
  REQUIRE(d.ok());
  CHECK(!fs::exists(dir / "data"));  // moved in

  auto got = store.get(d->digest);
  REQUIRE_MESSAGE(got.ok(), got.message());
  CHECK(got->kind == "dir");
  CHECK(got->size == 10);
  REQUIRE(store.materialize(d->digest, dir / "work/in/data").ok());
  CHECK(read_file(dir / "work/in/data/x/y.bin") == "payload");
  struct stat a {}, b {};
  ::stat((dir / "work/in/data/z.txt").c_str(), &a);
  ::stat((got->path / "z.txt").c_str(), &b);
  CHECK(a.st_ino == b.st_ino);  // a hard link, not a copy
  CHECK(store.materialize(d->digest, dir / "work/in/data").message() ==
        "cannot place artifact " + d->digest + " at " + (dir / "work/in/data").string() + ": it already exists");

  auto f = store.put(dir / "work/in/data/z.txt", PutMode::kCopy);
  REQUIRE(store.materialize(f->digest, dir / "work/z2.txt").ok());
  CHECK(read_file(dir / "work/z2.txt") == "zzz");

  std::string unknown = "sha256:" + std::string(64, '0');
  CHECK(store.get(unknown).message() == "artifact " + unknown + " is missing from the store (" +
                                            (dir / "blobs/sha256/00" / std::string(62, '0')).string() + ")");
  CHECK(store.get("md5:abc").message() == "invalid artifact digest 'md5:abc' (want sha256:<64 hex digits>)");
}

TEST_CASE("ArtifactStore.VerifyCatchesATamperedBlobAndGetRefusesIt") {
  ScratchDir dir;
  ArtifactStore store(dir / "blobs");
  write_file(dir / "f.txt", "hello\n");
  auto f = store.put(dir / "f.txt");
  REQUIRE(f.ok());
  CHECK(store.verify(f->digest).ok());
  REQUIRE(store.get(f->digest).ok());

  fs::permissions(f->path, fs::perms::owner_write, fs::perm_options::add);
  write_file(f->path, "HELLO\n");  // same size, other bytes
  std::string expected = "artifact " + f->digest + " is corrupt: " + f->path.string() +
                         " now hashes to sha256:" + Sha256::hex_of("HELLO\n");
  CHECK(store.verify(f->digest).message() == expected);
  CHECK(store.get(f->digest).message() == expected);
  CHECK(store.materialize(f->digest, dir / "out.txt").message() == expected);
  CHECK(!fs::exists(dir / "out.txt"));
}

TEST_CASE("ArtifactStore.VerifyCatchesTamperedAndMissingFilesInATree") {
  ScratchDir dir;
  ArtifactStore store(dir / "blobs");
  write_file(dir / "d/a.txt", "A");
  write_file(dir / "d/b.txt", "B");
  auto d = store.put(dir / "d");
  REQUIRE(d.ok());
  REQUIRE(store.verify(d->digest).ok());

  SUBCASE("a changed file") {
    fs::permissions(d->path / "a.txt", fs::perms::owner_write, fs::perm_options::add);
    write_file(d->path / "a.txt", "Z");
    CHECK(store.verify(d->digest).message() == "file a.txt of artifact " + d->digest + " is corrupt: " +
                                                   (d->path / "a.txt").string() +
                                                   " now hashes to sha256:" + Sha256::hex_of("Z"));
    CHECK(!store.get(d->digest).ok());
  }
  SUBCASE("a missing file") {
    fs::permissions(d->path, fs::perms::owner_write, fs::perm_options::add);
    fs::remove(d->path / "b.txt");
    CHECK(store.verify(d->digest).message() == "file b.txt of artifact " + d->digest +
                                                   " is missing from the store (" + (d->path / "b.txt").string() +
                                                   ")");
  }
  SUBCASE("an extra file") {
    fs::permissions(d->path, fs::perms::owner_write, fs::perm_options::add);
    write_file(d->path / "extra.txt", "E");
    CHECK(store.verify(d->digest).message() == "artifact " + d->digest + " is corrupt: unexpected file extra.txt");
  }
}

TEST_CASE("ArtifactStore.PutRejectsWhatItCannotStore") {
  ScratchDir dir;
  ArtifactStore store(dir / "blobs");
  CHECK(store.put(dir / "nope").message() ==
        "cannot store " + (dir / "nope").string() + ": no such file or folder");
}
