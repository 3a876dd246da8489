#include "mnist_test_util.h"

#include <zlib.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <random>
#include <unistd.h>
#include <vector>

namespace ctflow::mnist::testing {

namespace {
struct Cleanup {
  std::vector<fs::path> dirs;
  ~Cleanup() {
    if (std::getenv("MNIST_TEST_KEEP") != nullptr) return;
    std::error_code ec;
    for (const auto& d : dirs) fs::remove_all(d, ec);
  }
};
Cleanup& cleanup() {
  static Cleanup c;
  return c;
}
}  // namespace

fs::path temp_dir(const std::string& tag) {
  static int n = 0;
  fs::path d = fs::temp_directory_path() / ("ctflow-mnist-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  std::error_code ec;
  fs::remove_all(d, ec);
  fs::create_directories(d);
  cleanup().dirs.push_back(d);
  return d;
}

static void make_images(int n, std::mt19937& rng, std::vector<uint8_t>& images, std::vector<uint8_t>& labels) {
  images.assign(static_cast<size_t>(n) * 784, 0);
  labels.resize(static_cast<size_t>(n));
  std::uniform_int_distribution<int> noise(0, 60), jitter(-1, 1);
  for (int i = 0; i < n; ++i) {
    const int c = i % 10;
    labels[static_cast<size_t>(i)] = static_cast<uint8_t>(c);
    uint8_t* im = images.data() + static_cast<size_t>(i) * 784;
    for (int k = 0; k < 784; ++k) im[k] = static_cast<uint8_t>(noise(rng));
    const int r0 = 3 + (c / 5) * 12 + jitter(rng), c0 = 2 + (c % 5) * 5 + jitter(rng);
    for (int r = r0; r < r0 + 6; ++r)
      for (int cc = c0; cc < c0 + 4; ++cc)
        if (r >= 0 && r < 28 && cc >= 0 && cc < 28) im[r * 28 + cc] = 230;
  }
}

void write_synthetic_idx(const fs::path& dir, int n_train, int n_test, bool gz, uint32_t seed) {
  fs::create_directories(dir);
  std::mt19937 rng(seed);
  const std::string ext = gz ? ".gz" : "";
  for (auto [prefix, n] : {std::pair<const char*, int>{"train", n_train}, {"t10k", n_test}}) {
    std::vector<uint8_t> images, labels;
    make_images(n, rng, images, labels);
    write_idx_u8(dir / (std::string(prefix) + "-images-idx3-ubyte" + ext), {n, 28, 28}, images.data(), images.size());
    write_idx_u8(dir / (std::string(prefix) + "-labels-idx1-ubyte" + ext), {n}, labels.data(), labels.size());
  }
}

void write_float_idx(const fs::path& path, int n, int nan_at) {
  std::string b;
  b += std::string("\0\0\x0D\x03", 4);
  auto be = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b += static_cast<char>((v >> s) & 0xff);
  };
  be(static_cast<uint32_t>(n));
  be(28);
  be(28);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 784; ++k) {
      float f = i == nan_at && k == 100 ? NAN : 0.5f;
      uint32_t u;
      std::memcpy(&u, &f, 4);
      be(u);
    }
  write_bytes(path, b);
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

int run_cmd(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf{};
  std::string s;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) s.append(buf.data(), n);
  int rc = pclose(p);
  if (out != nullptr) *out = s;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool have_python(const std::string& modules) {
  return run_cmd("/usr/bin/python3 -c 'import " + modules + "'") == 0;
}

}  // namespace ctflow::mnist::testing
