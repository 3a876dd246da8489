#!/usr/bin/env bash
# Builds ctflow (the engine and the MNIST plugins) on a machine that cannot
# reach Debian's mirrors, from what scripts/offline-deps.sh gathered on a
# Debian 12 machine. Nothing is installed: the libraries are unpacked into a
# folder and found through the binaries' RPATH. libtorch comes from
# CMAKE_PREFIX_PATH, else from python3's torch (a PyTorch wheel: with CUDA
# when it has it).
#
#   scripts/offline-build.sh DEPS_DIR [BUILD_DIR] [CMAKE_ARGS...]
#       DEPS_DIR: what offline-deps.sh wrote (deps.tar.xz)
#       BUILD_DIR: default build-cuda
# Also makes DEPS_DIR's data the workflow's default data when that folder is
# missing (/usr/share/datasets/fashion-mnist), and data/mnist-digits, which the
# tests read.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/offline-build.sh DEPS_DIR [BUILD_DIR] [CMAKE_ARGS...]" >&2; exit 2; }
deps="$(cd "$1" && pwd)"
build="${2:-build-cuda}"
shift $(( $# >= 2 ? 2 : 1 ))
[ -f "$deps/deps.tar.xz" ] || { echo "offline-build: $deps/deps.tar.xz is missing: run scripts/offline-deps.sh on a Debian 12 machine first" >&2; exit 2; }
for t in cmake ninja c++; do
  command -v "$t" > /dev/null || { echo "offline-build: '$t' is not on PATH" >&2; exit 2; }
done

root="${CTFLOW_DEPS_ROOT:-$PWD/$build.deps}"
if [ ! -f "$root/.unpacked" ] || [ "$deps/deps.tar.xz" -nt "$root/.unpacked" ]; then
  rm -rf "$root"
  mkdir -p "$root"
  tar -C "$root" -xJf "$deps/deps.tar.xz"
  touch "$root/.unpacked"
fi
lib="$root/usr/lib/x86_64-linux-gnu"

torch="${TORCH_PREFIX:-}"
if [ -z "$torch" ]; then
  torch="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)" ||
    { echo "offline-build: python3 has no torch: set TORCH_PREFIX to a libtorch's CMake folder" >&2; exit 2; }
fi

# The compiler looks for multiarch headers (OpenSSL's configuration.h) in
# /usr/include/x86_64-linux-gnu only: the folder's own comes first.
# DT_RPATH (not RUNPATH): it also finds what the libraries need (spdlog's fmt,
# faiss's OpenBLAS), and the plugins loaded with dlopen.
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$torch;$root/usr" \
  -DCMAKE_C_FLAGS="-isystem $root/usr/include/x86_64-linux-gnu" \
  -DCMAKE_CXX_FLAGS="-isystem $root/usr/include/x86_64-linux-gnu" \
  -DCMAKE_BUILD_RPATH="$lib;$lib/openblas-pthread" \
  -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags \
  -DCMAKE_SHARED_LINKER_FLAGS=-Wl,--disable-new-dtags \
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DCTFLOW_MNIST=ON "$@"
# The engine and the plugins a workflow runs; the tests' own binaries are not
# needed for the shell tests (ctest -R ...).
cmake --build "$build" --target ctflow ctflow_mnist

if [ -d "$deps/fashion-mnist" ] && [ ! -d /usr/share/datasets/fashion-mnist ] && [ -w /usr/share ]; then
  mkdir -p /usr/share/datasets
  cp -r "$deps/fashion-mnist" /usr/share/datasets/fashion-mnist
fi
if [ -d "$deps/mnist-digits" ] && [ ! -f data/mnist-digits/t10k-labels-idx1-ubyte.gz ]; then
  mkdir -p data
  rm -rf data/mnist-digits
  cp -r "$deps/mnist-digits" data/mnist-digits
fi
echo "offline-build: built $build/ctflow and its MNIST plugins against $torch"
