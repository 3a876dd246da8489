#!/usr/bin/env bash
# Gathers, on a Debian 12 machine (after scripts/setup.sh), what a machine
# without network needs to build and run ctflow there: a GPU box that has a
# compiler, CMake, Ninja, Python and a PyTorch wheel (its CUDA libtorch), but
# none of Debian's -dev packages and no way to fetch them.
#
#   scripts/offline-deps.sh [DIR]     default DIR: .deps (ignored by git)
#
# DIR gets deps.tar.xz (Boost, yaml-cpp, SQLite, spdlog, fmt, nlohmann-json,
# CLI11, doctest, OpenSSL, zlib, libpng, faiss and OpenBLAS from Debian 12's
# packages, unpacked, without docs and static libraries), fashion-mnist/
# (the workflow's default data) and mnist-digits/ (the 10,000 real digits the
# tests use, when data/mnist-digits is there). Carry DIR and the checkout to
# that machine and run scripts/offline-build.sh DIR there: nothing is
# installed, the libraries are found through the binaries' RPATH.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.deps}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

pkgs=(
  libboost1.74-dev libyaml-cpp-dev libyaml-cpp0.7 libsqlite3-dev libsqlite3-0
  libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 doctest-dev nlohmann-json3-dev libcli11-dev
  libssl-dev libssl3 zlib1g-dev zlib1g libpng-dev libpng16-16
  libfaiss-dev libopenblas0-pthread libgfortran5 libquadmath0
)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "${pkgs[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
for p in "${pkgs[@]}"; do
  ls "$work/${p}"_*.deb > /dev/null 2>&1 || { echo "offline-deps: could not download $p (apt-get update?)" >&2; exit 1; }
done
root="$work/root"
for d in "$work"/*.deb; do dpkg-deb -x "$d" "$root"; done
# Only what a build reads and what the binaries load.
rm -rf "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/lintian "$root"/usr/share/bug "$root"/etc
find "$root" -name '*.a' ! -name 'libfaiss.a' -delete
# faiss asks for libblas/liblapack, which Debian points at OpenBLAS through
# /etc/alternatives: the same links, relative, inside the folder.
lib="$root/usr/lib/x86_64-linux-gnu"
for l in blas lapack; do
  ln -sf "openblas-pthread/lib$l.so.3" "$lib/lib$l.so.3"
  ln -sf "lib$l.so.3" "$lib/lib$l.so"
done
ln -sf "openblas-pthread/libopenblas.so.0" "$lib/libopenblas.so.0"
ln -sf "libopenblas.so.0" "$lib/libopenblas.so"
tar -C "$root" -cJf "$dir/deps.tar.xz" .

if [ -d /usr/share/datasets/fashion-mnist ]; then
  rm -rf "$dir/fashion-mnist"
  cp -r /usr/share/datasets/fashion-mnist "$dir/fashion-mnist"
fi
if [ -f data/mnist-digits/t10k-labels-idx1-ubyte.gz ]; then
  rm -rf "$dir/mnist-digits"
  cp -r data/mnist-digits "$dir/mnist-digits"
fi
du -sh "$dir"/* | sed 's/^/offline-deps: /'
