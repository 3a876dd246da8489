// Helpers for the MNIST plugin tests: synthetic IDX folders and temp dirs.
#pragma once

#include <string>

#include "mnist_io.h"

namespace ctflow::mnist::testing {

// A fresh empty folder under the system temp dir, removed at exit of the process.
fs::path temp_dir(const std::string& tag);

// Writes train-{images,labels} (N_TRAIN) and t10k-* (N_TEST) to DIR: class c is a
// bright 6x6 square at a class-specific place, plus seeded noise. GZ: gzipped.
void write_synthetic_idx(const fs::path& dir, int n_train, int n_test, bool gz = true, uint32_t seed = 1);

// A float32 IDX image file (type 0x0D) with a NaN at item NAN_AT (-1: none).
void write_float_idx(const fs::path& path, int n, int nan_at);

// Writes raw bytes to PATH.
void write_bytes(const fs::path& path, const std::string& bytes);
std::string read_bytes(const fs::path& path);

// Runs a shell command, returning its exit code; output into *OUT when given.
int run_cmd(const std::string& cmd, std::string* out = nullptr);

// /usr/bin/python3 with numpy (and torch, faiss when asked) importable.
bool have_python(const std::string& modules);

}  // namespace ctflow::mnist::testing
