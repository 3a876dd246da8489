// bench/train_throughput: images/s of the C++ training loop of mnist.train against
// the same model and loop in Python PyTorch (bench/train_throughput.py), both with
// the same threads, the same malloc settings and the data already in memory,
// measured in one run. Prints
//   {"cpp_images_per_s": ..., "python_images_per_s": ..., "ratio": ...}
// Usage: train_throughput [--data DIR] [--threads N] [--batch B] [--steps S]
//        [--warmup W] [--n IMAGES] [--rounds R] [--workers N] [--planar] [--augment]
//        [--python PATH] [--no-python]
// --workers 1 measures the single net with intra-op threads (as Python does);
// the default (one replica per thread) is what mnist.train uses; --planar
// measures NCHW convolutions instead of mnist.train's channels-last; --augment
// adds the C++ loop's augmentation (the Python loop has none).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "mnist_io.h"
#include "mnist_torch.h"

using namespace ctflow::mnist;

int main(int argc, char** argv) {
  // Python gets the same setting through GLIBC_TUNABLES (below).
  apply_malloc_tunables();
  std::string data = "/usr/share/datasets/fashion-mnist", python = "/usr/bin/python3";
  std::string script = std::string(CTFLOW_SOURCE_DIR) + "/bench/train_throughput.py";
  int threads = 2, batch = 128, steps = 200, warmup = 20, rounds = 2;
  int64_t n = 10000;
  bool run_python = true;
  bool channels_last = true;
  bool augment = false;
  int workers = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value after " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data") data = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--steps") steps = std::stoi(next());
    else if (a == "--warmup") warmup = std::stoi(next());
    else if (a == "--n") n = std::stoll(next());
    else if (a == "--rounds") rounds = std::stoi(next());
    else if (a == "--python") python = next();
    else if (a == "--script") script = next();
    else if (a == "--no-python") run_python = false;
    else if (a == "--planar") channels_last = false;
    else if (a == "--augment") augment = true;
    else if (a == "--workers") workers = std::stoi(next());
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  set_threads(threads);
  auto pair = find_idx_pair(data, "train");
  IdxReader r(pair.images);
  n = std::min(n, r.header().count());
  std::vector<uint8_t> images(static_cast<size_t>(n * 784));
  r.read_u8(n, images.data());
  auto lab8 = read_idx_labels(pair.labels, 10);
  std::vector<int64_t> labels(lab8.begin(), lab8.begin() + n);

  TrainOptions o;
  o.batch_size = batch;
  o.threads = threads;
  o.channels_last = channels_last;
  o.augment = augment ? "on" : "off";
  o.workers = workers;
  double cpp = 0, py = 0, cpp_cpu = 0, py_cpu = 0;
  std::string py_out;
  // Alternate the two loops; keep each one's best round (least disturbed by other load).
  for (int round = 0; round < rounds; ++round) {
    double cpu_us = 0;
    const double ips = train_throughput(images.data(), labels.data(), n, o, warmup, steps, &cpu_us);
    if (ips > cpp) cpp = ips, cpp_cpu = cpu_us;
    if (!run_python) continue;
    const std::string cmd =
        "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824 OMP_NUM_THREADS=" +
        std::to_string(threads) + " " + python + " " + script + " --data '" + data + "' --threads " +
        std::to_string(threads) + " --batch " + std::to_string(batch) + " --steps " + std::to_string(steps) +
        " --warmup " + std::to_string(warmup) + " --n " + std::to_string(n) + (channels_last ? "" : " --planar");
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) {
      std::cerr << "cannot run " << cmd << "\n";
      return 1;
    }
    char buf[4096];
    py_out.clear();
    while (fgets(buf, sizeof buf, p) != nullptr) py_out += buf;
    if (pclose(p) != 0) {
      std::cerr << "the Python baseline failed: " << cmd << "\n" << py_out << "\n";
      return 1;
    }
    const Json pj = Json::parse(py_out);
    if (pj["images_per_s"].get<double>() > py) py = pj["images_per_s"].get<double>(), py_cpu = pj["cpu_us_per_image"].get<double>();
  }
  Json out = {{"cpp_images_per_s", cpp},
              {"python_images_per_s", run_python ? Json(py) : Json(nullptr)},
              {"ratio", run_python && py > 0 ? Json(cpp / py) : Json(nullptr)},
              {"cpp_cpu_us_per_image", cpp_cpu},
              {"python_cpu_us_per_image", run_python ? Json(py_cpu) : Json(nullptr)},
              {"threads", threads},
              {"batch_size", batch},
              {"steps", steps},
              {"rounds", rounds},
              {"images_in_memory", n},
              {"channels_last", channels_last},
              {"augment", augment},
              {"workers", workers > 0 ? workers : threads}};
  std::cout << out.dump() << std::endl;
  return 0;
}
