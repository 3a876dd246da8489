// mnist.train and mnist.embed: the only part of the plugins that includes libtorch
// (mnist_torch.cc). This header has no libtorch types, so other translation units
// stay cheap to compile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mnist_augment.h"
#include "mnist_io.h"

namespace ctflow::mnist {

// glibc keeps freed memory instead of a fresh mmap/munmap per large tensor
// (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD = 1 GB). Call first thing in the step.
void apply_malloc_tunables();
// torch intra-op threads and OpenMP threads.
void set_threads(int n);
bool cuda_available();

struct TrainOptions {
  fs::path dataset;
  fs::path out;  // the model folder: model.pt (TorchScript) and meta.json
  int64_t embedding_dim = 64;
  double arcface_scale = 30.0;
  double arcface_margin = 0.3;
  int64_t epochs = 0;  // 0: auto_epochs() of the train split's size
  int64_t batch_size = 128;
  double lr = 0.003;
  std::string optimizer = "adam";  // adam, adamw, sgd
  double weight_decay = 0.0;
  uint64_t seed = 42;
  int threads = 2;
  // On the GPU (cuda): the data lives on the device, convolutions and matmuls
  // run in bfloat16 under autocast (the ArcFace head and the weights stay
  // float32), channels-last memory, cuDNN autotuning.
  bool cuda = false;
  bool channels_last = true;  // on the CPU: channels-last memory (always on the GPU)
  // CPU data parallelism: replicas of the net, each on one thread (0: one per
  // thread; 1: a single net using intra-op threads).
  int workers = 0;
  // Random shifts, rotations (and zoom) of each training image: "on", "off",
  // or "auto": on when the training makes at least kAugmentFromEpochs passes
  // over the train split (small data sets, which auto epochs give many passes).
  std::string augment = "auto";
  AugmentOptions augment_options;
};

// Auto epochs: at least 4 passes and at least 300,000 images seen; full
// Fashion-MNIST (54,000 train images) gets 6, 7,200 digits 42. Measured on
// 2 cores (bench/mnist_cpu.py): Fashion 4 epochs 0.924, 6 epochs 0.928; digits
// 21 epochs worst split 0.9885, 42 epochs worst 0.9915.
int64_t auto_epochs(int64_t train_images);
constexpr int64_t kAugmentFromEpochs = 8;
// Whether training with O for EPOCHS passes augments.
bool augments(const TrainOptions& o, int64_t epochs);

struct TrainHooks {
  std::function<void(const std::string&)> log;
  std::function<void(const char*, int64_t, double)> series;
  std::function<bool()> cancelled;
  ProgressFn progress;  // after every batch: steps done of all epochs', "epoch 3/4 loss 0.81"
  int64_t batch_loss_every = 20;  // "batch_loss" series every N batches (0: never)
};

// Trains on the dataset's train split (validation on val), writes OUT/model.pt and
// OUT/meta.json; returns the summary (also in meta.json).
Json train(const TrainOptions& o, const TrainHooks& hooks);

// The training loop alone, on images already in memory (uint8 N x 28 x 28): the
// images per second of STEPS steps after WARMUP steps. For bench/train_throughput.
// CPU_US_PER_IMAGE (when given): the process's CPU time per image over those
// steps, all threads (a figure that load from other processes disturbs less).
double train_throughput(const uint8_t* images, const int64_t* labels, int64_t n, const TrainOptions& o, int warmup,
                        int steps, double* cpu_us_per_image = nullptr);

struct EmbedOptions {
  fs::path model;    // model folder or model.pt
  fs::path dataset;  // dataset folder
  fs::path out;      // embeddings folder
  int64_t batch_size = 1000;
  int threads = 2;
  bool cuda = false;  // on the GPU, under bfloat16 autocast; the files hold float32
};
// Embeds the index split (or train) and the test split: OUT/{index,test}.npy
// (float32 N x D, L2-normalised) and OUT/{index,test}_labels.npy (int64).
// PROGRESS gets the images done of both splits.
Json embed(const EmbedOptions& o, const std::function<bool()>& cancelled = {}, const ProgressFn& progress = {});

// Embeds N images (float32 in [0,1], N x 28 x 28) with a TorchScript model file.
std::vector<float> embed_images(const fs::path& model, const float* images, int64_t n, int64_t* dim,
                                int64_t batch_size = 1000);

// A TorchScript embedder kept in memory, for serving: eval mode, inference mode,
// one caller at a time. embed() returns N x dim() L2-normalised floats.
class Embedder {
 public:
  Embedder(const fs::path& model, bool cuda = false);
  ~Embedder();
  Embedder(const Embedder&) = delete;
  Embedder& operator=(const Embedder&) = delete;
  std::vector<float> embed(const float* images, int64_t n);  // N x 28 x 28 in [0,1]
  int64_t dim() const { return dim_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t dim_ = 0;
};

// The model's forward in C++ (the code used for training) on the same images, in
// eval mode, for the test that it matches the TorchScript forward.
std::vector<float> embed_images_native(const fs::path& model, const float* images, int64_t n, int64_t* dim);

}  // namespace ctflow::mnist
