// The embedding CNN, its ArcFace training loop and TorchScript export/inference.
//
// The network is written twice on purpose: as C++ ops (forward_native, used for
// training: no interpreter in the loop) and as TorchScript source (kModelSource,
// compiled into the saved module, so model.pt loads without any model code in
// C++ or Python). Both read the same named parameters; a unit test checks that
// they give the same embeddings.
#include "mnist_torch.h"

#include <malloc.h>
#include <time.h>
#include <omp.h>

#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

namespace ctflow::mnist {

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// Mixed precision on the GPU while it lives: CUDA ops on the autocast list run
// in bfloat16 (no loss scaling needed, unlike float16). Held around a forward
// pass only: its cache of weight casts is dropped when the outermost guard
// ends, so an optimizer step is never hidden behind a stale cast.
class CudaAutocast {
 public:
  explicit CudaAutocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    prev_ = at::autocast::is_autocast_enabled(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    prev_ = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~CudaAutocast() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, prev_);
#else
    at::autocast::set_enabled(prev_);
#endif
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool on_;
  bool prev_ = false;
};

// Input: N x 1 x 28 x 28 (or N x 28 x 28) floats in [0,1]. Output: N x D, unit L2 norm.
// Each convolution is max-pooled before its BatchNorm and ReLU: on the CPU those
// elementwise passes (forward and backward) took more time than the
// convolutions; after the pool they touch a quarter of the values. conv1's
// weight goes in with channels-last strides, so that oneDNN writes the largest
// tensor channels-last, where ATen's max-pool is vectorised (its planar kernel
// is not: 70% of inference time); memory_format=2 is torch.channels_last, a
// name define() does not resolve.
const char* kModelSource = R"JIT(
def forward(self, x: Tensor) -> Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(1)
    x = (x - self.in_mean) / self.in_std
    x = torch.max_pool2d(torch.conv2d(x, self.conv1_w.to(memory_format=2), None, [1, 1], [1, 1]), [2, 2])
    x = torch.relu(torch.batch_norm(x, self.bn1_w, self.bn1_b, self.bn1_mean, self.bn1_var, self.training, 0.1, 1e-5, False))
    x = torch.max_pool2d(torch.conv2d(x, self.conv2_w, None, [1, 1], [1, 1]), [2, 2])
    x = torch.relu(torch.batch_norm(x, self.bn2_w, self.bn2_b, self.bn2_mean, self.bn2_var, self.training, 0.1, 1e-5, False))
    x = torch.flatten(x, 1)
    x = torch.linear(x, self.fc1_w)
    x = torch.batch_norm(x, self.bn3_w, self.bn3_b, self.bn3_mean, self.bn3_var, self.training, 0.1, 1e-5, False)
    x = torch.relu(x)
    x = torch.linear(x, self.fc2_w, self.fc2_b)
    return x / torch.clamp_min(torch.norm(x, 2, [1], True), 1e-12)

def embedding_dim(self) -> int:
    return self.fc2_w.size(0)
)JIT";

const std::vector<std::string> kParamNames = {"conv1_w", "bn1_w", "bn1_b", "conv2_w", "bn2_w", "bn2_b",
                                              "fc1_w",   "bn3_w", "bn3_b", "fc2_w",   "fc2_b"};
const std::vector<std::string> kBufferNames = {"in_mean", "in_std",  "bn1_mean", "bn1_var",
                                               "bn2_mean", "bn2_var", "bn3_mean", "bn3_var"};

struct Net {
  std::map<std::string, torch::Tensor> t;  // parameters and buffers by name
  bool channels_last = false;

  static Net create(int64_t dim, double mean, double stdev) {
    Net n;
    auto kaiming = [](std::vector<int64_t> shape, int64_t fan_in) {
      return torch::randn(shape) * std::sqrt(2.0 / static_cast<double>(fan_in));
    };
    n.t["conv1_w"] = kaiming({32, 1, 3, 3}, 9);
    n.t["conv2_w"] = kaiming({64, 32, 3, 3}, 32 * 9);
    n.t["fc1_w"] = kaiming({128, 64 * 7 * 7}, 64 * 7 * 7);
    n.t["fc2_w"] = torch::randn({dim, 128}) * std::sqrt(1.0 / 128);
    n.t["fc2_b"] = torch::zeros({dim});
    const std::pair<const char*, int64_t> bns[] = {{"bn1", 32}, {"bn2", 64}, {"bn3", 128}};
    for (const auto& [bn, c] : bns) {
      n.t[std::string(bn) + "_w"] = torch::ones({c});
      n.t[std::string(bn) + "_b"] = torch::zeros({c});
      n.t[std::string(bn) + "_mean"] = torch::zeros({c});
      n.t[std::string(bn) + "_var"] = torch::ones({c});
    }
    n.t["in_mean"] = torch::full({1}, mean);
    n.t["in_std"] = torch::full({1}, stdev);
    for (const auto& p : kParamNames) n.t[p].set_requires_grad(true);
    return n;
  }

  static Net from_module(const torch::jit::Module& m) {
    Net n;
    for (const auto& name : kParamNames) n.t[name] = m.attr(name).toTensor().detach().clone();
    for (const auto& name : kBufferNames) n.t[name] = m.attr(name).toTensor().detach().clone();
    return n;
  }

  std::vector<torch::Tensor> parameters() const {
    std::vector<torch::Tensor> v;
    for (const auto& p : kParamNames) v.push_back(t.at(p));
    return v;
  }

  void to(const torch::Device& d) {
    for (auto& [name, v] : t) {
      const bool rg = v.requires_grad();
      v = v.detach().to(d);
      if (rg) v.set_requires_grad(true);
    }
  }

  // Channels-last strides for the convolution weights. Not contiguous(): for
  // conv1's single input channel a plain tensor already counts as channels-last
  // contiguous and is returned as it is, so oneDNN would write conv1's output
  // (the largest tensor) planar, and max-pool it with ATen's scalar planar
  // kernel: 13% of a step, 70% of inference.
  void use_channels_last() {
    channels_last = true;
    for (const char* name : {"conv1_w", "conv2_w"}) {
      const auto& w = t[name];
      auto v = torch::empty_like(w, at::MemoryFormat::ChannelsLast).copy_(w.detach());
      v.set_requires_grad(w.requires_grad());
      t[name] = v;
    }
  }

  torch::Tensor bn(const torch::Tensor& x, const char* name, bool training) const {
    const std::string s(name);
    return torch::batch_norm(x, t.at(s + "_w"), t.at(s + "_b"), t.at(s + "_mean"), t.at(s + "_var"), training, 0.1,
                             1e-5, false);
  }

  // Mirrors kModelSource.
  torch::Tensor forward(torch::Tensor x, bool training) const {
    if (x.dim() == 3) x = x.unsqueeze(1);
    x = (x - t.at("in_mean")) / t.at("in_std");
    x = torch::max_pool2d(torch::conv2d(x, t.at("conv1_w"), {}, 1, 1), 2);
    x = torch::relu(bn(x, "bn1", training));
    x = torch::max_pool2d(torch::conv2d(x, t.at("conv2_w"), {}, 1, 1), 2);
    x = torch::relu(bn(x, "bn2", training));
    x = torch::flatten(x.contiguous(), 1);
    x = torch::linear(x, t.at("fc1_w"));
    x = torch::relu(bn(x, "bn3", training));
    x = torch::linear(x, t.at("fc2_w"), t.at("fc2_b"));
    return x / torch::clamp_min(torch::norm(x, 2, {1}, true), 1e-12);
  }

  torch::jit::Module to_module() const {
    torch::jit::Module m("__torch__.ctflow.MnistEmbedder");
    m.register_attribute("training", c10::BoolType::get(), false);
    for (const auto& p : kParamNames) m.register_parameter(p, t.at(p).detach().to(torch::kCPU).contiguous().clone(), false);
    for (const auto& b : kBufferNames) m.register_buffer(b, t.at(b).detach().to(torch::kCPU).contiguous().clone());
    m.define(kModelSource);
    m.eval();
    return m;
  }
};

// ArcFace logits: s * cos(theta + m) for the true class, s * cos(theta) otherwise.
struct ArcFace {
  double s, m, cos_m, sin_m, th, mm;
  ArcFace(double scale, double margin)
      : s(scale), m(margin), cos_m(std::cos(margin)), sin_m(std::sin(margin)), th(std::cos(M_PI - margin)),
        mm(std::sin(M_PI - margin) * margin) {}
  // Returns {loss, cosine logits (unscaled, for accuracy)}.
  std::pair<torch::Tensor, torch::Tensor> operator()(const torch::Tensor& emb, const torch::Tensor& w,
                                                     const torch::Tensor& y) const {
    auto wn = w / torch::clamp_min(torch::norm(w, 2, {1}, true), 1e-12);
    auto cosine = torch::matmul(emb, wn.t());
    auto sine = torch::sqrt(torch::clamp(1.0 - cosine * cosine, 1e-7, 1.0));
    auto phi = cosine * cos_m - sine * sin_m;
    phi = torch::where(cosine > th, phi, cosine - mm);
    auto onehot = torch::zeros_like(cosine).scatter_(1, y.view({-1, 1}), 1.0);
    auto logits = (onehot * phi + (1.0 - onehot) * cosine) * s;
    return {torch::nn::functional::cross_entropy(logits, y), cosine};
  }
};

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name, std::vector<torch::Tensor> params,
                                                        double lr, double wd) {
  if (name == "adam") return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(lr).weight_decay(wd));
  if (name == "adamw")
    return std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(lr).weight_decay(wd));
  if (name == "sgd")
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(lr).momentum(0.9).nesterov(true).weight_decay(wd));
  throw DataError("parameter 'optimizer' must be adam, adamw or sgd; got '" + name + "'");
}

// Warm-up for the first 3% of the steps, then cosine decay to 1% of LR.
double lr_at(double lr, int64_t step, int64_t total) {
  const int64_t warm = std::max<int64_t>(1, total * 3 / 100);
  if (step < warm) return lr * static_cast<double>(step + 1) / static_cast<double>(warm);
  const double p = static_cast<double>(step - warm) / static_cast<double>(std::max<int64_t>(1, total - warm));
  return lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * p)));
}

// Makes the calling thread run ATen, oneDNN and OpenMP single-threaded. ATen
// initialises a thread's thread count on its first parallel op
// (lazy_init_num_threads: omp_set_num_threads(torch's count), and it rebuilds
// the pthreadpool, with new threads that spin); forcing that first means a
// later omp_set_num_threads(1) sticks.
void single_threaded_here() {
  at::internal::lazy_init_num_threads();
  omp_set_num_threads(1);
}

// Threads 1..N-1 of the data-parallel step, started once and kept: run(f)
// calls f(0) on the caller and f(w) on thread w, and returns when all are done.
// (A std::thread per step cost a thread start and ATen's per-thread
// initialisation every step: a pthreadpool rebuilt, and two OpenMP threads per
// worker on two cores.)
class WorkerThreads {
 public:
  explicit WorkerThreads(int n) {
    for (int w = 1; w < n; ++w) threads_.emplace_back([this, w] { loop(w); });
  }
  ~WorkerThreads() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  void run(const std::function<void(int)>& f) {
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = &f;
      pending_ = static_cast<int>(threads_.size());
      ++generation_;
    }
    cv_.notify_all();
    f(0);
    std::unique_lock<std::mutex> l(mu_);
    done_.wait(l, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(int w) {
    single_threaded_here();
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* f;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        f = job_;
      }
      (*f)(w);
      {
        std::lock_guard<std::mutex> l(mu_);
        --pending_;
      }
      done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// Training state shared by train() and train_throughput().
struct Trainer {
  TrainOptions o;
  torch::Device device{torch::kCPU};
  Net net;
  torch::Tensor head;  // C x D class centres (ArcFace weights)
  std::unique_ptr<torch::optim::Optimizer> opt;
  ArcFace arc;
  torch::Tensor xb_u8, xb, yb;  // preallocated batch tensors
  int64_t step = 0, total_steps = 1;
  // Data parallel on the CPU: WORKERS replicas of the net, each run by its own
  // thread with one intra-op thread on its slice of the batch; gradients are
  // averaged into replica 0, which the optimizer steps, then copied back out.
  // For a small CNN this beats intra-op threading (where Python is stuck by its
  // GIL); the gradient is the batch mean as before, only BatchNorm statistics
  // are per slice (as with DistributedDataParallel).
  int workers = 1;
  std::vector<Net> replicas;
  std::vector<torch::Tensor> heads;
  std::unique_ptr<WorkerThreads> pool;
  // Augmentation (Trainer::augment set by the caller): X stays on the CPU, the
  // batch is warped there, then moved to the device.
  bool augment = false;
  std::mt19937_64 aug_rng;

  Trainer(const TrainOptions& opts, double mean, double stdev, int num_classes)
      : o(opts), arc(opts.arcface_scale, opts.arcface_margin), aug_rng(opts.seed ^ 0x9E3779B97F4A7C15ULL) {
    torch::manual_seed(o.seed);
    if (o.cuda) {
      device = torch::Device(torch::kCUDA);
      at::globalContext().setBenchmarkCuDNN(true);  // fixed shapes: let cuDNN pick its fastest kernels
    }
    net = Net::create(o.embedding_dim, mean, stdev);
    head = torch::randn({num_classes, o.embedding_dim}) * std::sqrt(2.0 / static_cast<double>(num_classes + o.embedding_dim));
    net.to(device);
    if (o.channels_last || o.cuda) net.use_channels_last();
    head = head.to(device).set_requires_grad(true);
    auto params = net.parameters();
    params.push_back(head);
    opt = make_optimizer(o.optimizer, params, o.lr, o.weight_decay);
    workers = static_cast<int>(std::clamp<int64_t>(o.workers > 0 ? o.workers : o.threads, 1, std::max<int64_t>(1, o.batch_size / 8)));
    if (!device.is_cpu()) workers = 1;
    if (workers > 1) {
      // One thread per worker: OpenMP (and so mkldnn) and OpenBLAS run single-threaded in each.
      single_threaded_here();
      if (auto f = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")); f != nullptr) f(1);
      for (int w = 1; w < workers; ++w) {
        Net r;
        for (const auto& [name, v] : net.t) {
          auto c = v.detach().clone();
          if (v.requires_grad()) c.set_requires_grad(true);
          r.t[name] = c;
        }
        r.channels_last = net.channels_last;
        replicas.push_back(std::move(r));
        heads.push_back(head.detach().clone().set_requires_grad(true));
      }
      pool = std::make_unique<WorkerThreads>(workers);
    }
    xb_u8 = torch::empty({o.batch_size, 28, 28}, torch::kUInt8);
    xb = torch::empty({o.batch_size, 1, 28, 28}, torch::TensorOptions().dtype(torch::kFloat).device(device));
    yb = torch::empty({o.batch_size}, torch::TensorOptions().dtype(torch::kLong).device(device));
  }

  // One step on rows IDX of X (uint8 or float N x 28 x 28), labels Y (int64).
  std::pair<double, int64_t> step_on(const torch::Tensor& X, const torch::Tensor& Y, const torch::Tensor& idx) {
    const int64_t b = idx.size(0);
    torch::Tensor x, y;
    if (augment) {
      const auto idx_cpu = idx.to(torch::kCPU).contiguous();
      torch::Tensor dst = b == o.batch_size && device.is_cpu() ? xb : torch::empty({b, 1, 28, 28});
      if (X.scalar_type() == torch::kUInt8)
        augment_batch(X.data_ptr<uint8_t>(), idx_cpu.data_ptr<int64_t>(), b, 28, 28, dst.data_ptr<float>(), aug_rng,
                      o.augment_options);
      else
        augment_batch(X.data_ptr<float>(), idx_cpu.data_ptr<int64_t>(), b, 28, 28, dst.data_ptr<float>(), aug_rng,
                      o.augment_options);
      x = dst.to(device);
      y = Y.index_select(0, idx.to(Y.device())).to(device);
    } else if (b == o.batch_size && X.scalar_type() == torch::kUInt8 && device.is_cpu()) {
      torch::index_select_out(xb_u8, X, 0, idx);
      xb.view({b, 28, 28}).copy_(xb_u8).mul_(1.0f / 255.0f);
      torch::index_select_out(yb, Y, 0, idx);
      x = xb;
      y = yb;
    } else {
      x = X.index_select(0, idx).to(device).to(torch::kFloat);
      if (X.scalar_type() == torch::kUInt8) x = x.mul_(1.0f / 255.0f);
      x = x.view({b, 1, 28, 28});
      y = Y.index_select(0, idx).to(device);
    }
    for (auto& g : opt->param_groups()) g.options().set_lr(lr_at(o.lr, step, total_steps));
    opt->zero_grad();
    if (workers > 1 && b % workers == 0) return parallel_step(x, y);
    auto [loss, cosine] = arc(embed_batch(x, true), head, y);
    loss.backward();
    opt->step();
    ++step;
    const int64_t correct = cosine.argmax(1).eq(y).sum().item<int64_t>();
    return {loss.item<double>(), correct};
  }

  std::pair<double, int64_t> parallel_step(const torch::Tensor& x, const torch::Tensor& y) {
    const int64_t part = x.size(0) / workers;
    std::vector<double> losses(static_cast<size_t>(workers));
    std::vector<int64_t> correct(static_cast<size_t>(workers));
    std::vector<std::string> errors(static_cast<size_t>(workers));
    const std::function<void(int)> work = [&](int w) {
      try {
        const Net& n = w == 0 ? net : replicas[static_cast<size_t>(w - 1)];
        const torch::Tensor& h = w == 0 ? head : heads[static_cast<size_t>(w - 1)];
        if (w > 0) {
          for (const auto& p : n.parameters()) p.mutable_grad() = torch::Tensor();
          const_cast<torch::Tensor&>(h).mutable_grad() = torch::Tensor();
        }
        auto xs = x.slice(0, w * part, (w + 1) * part), ys = y.slice(0, w * part, (w + 1) * part);
        auto [loss, cosine] = arc(n.forward(xs, true), h, ys);
        loss.backward();
        losses[static_cast<size_t>(w)] = loss.item<double>();
        correct[static_cast<size_t>(w)] = cosine.argmax(1).eq(ys).sum().item<int64_t>();
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(w)] = e.what();
      }
    };
    pool->run(work);
    for (const auto& e : errors)
      if (!e.empty()) throw std::runtime_error("training worker: " + e);
    {
      torch::NoGradGuard ng;
      auto p0 = net.parameters();
      p0.push_back(head);
      for (int w = 1; w < workers; ++w) {
        auto pw = replicas[static_cast<size_t>(w - 1)].parameters();
        pw.push_back(heads[static_cast<size_t>(w - 1)]);
        for (size_t i = 0; i < p0.size(); ++i) p0[i].mutable_grad().add_(pw[i].grad());
      }
      for (auto& p : p0) p.mutable_grad().div_(workers);
    }
    opt->step();
    {
      torch::NoGradGuard ng;
      for (const auto& name : kBufferNames) {
        auto& b0 = net.t.at(name);
        for (auto& r : replicas) b0.add_(r.t.at(name));
        b0.div_(workers);
      }
      for (auto& r : replicas) {
        for (auto& [name, v] : r.t) v.copy_(net.t.at(name));
      }
      for (auto& h : heads) h.copy_(head);
    }
    ++step;
    double loss = 0;
    int64_t c = 0;
    for (int w = 0; w < workers; ++w) loss += losses[static_cast<size_t>(w)] / workers, c += correct[static_cast<size_t>(w)];
    return {loss, c};
  }

  // The net's embeddings of X, in float32 for the ArcFace head (whose margin
  // needs more digits than bfloat16 has); under autocast on the GPU.
  torch::Tensor embed_batch(const torch::Tensor& x, bool training) const {
    CudaAutocast amp(!device.is_cpu());
    return net.forward(x, training).to(torch::kFloat);
  }

  // Accuracy (nearest class centre) and ArcFace loss on a held-out set.
  std::pair<double, double> evaluate(const torch::Tensor& X, const torch::Tensor& Y) {
    torch::NoGradGuard ng;
    const int64_t n = X.size(0);
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t at = 0; at < n; at += 1000) {
      const int64_t b = std::min<int64_t>(1000, n - at);
      auto x = X.slice(0, at, at + b).to(device).to(torch::kFloat);
      if (X.scalar_type() == torch::kUInt8) x = x.mul_(1.0f / 255.0f);
      auto y = Y.slice(0, at, at + b).to(device);
      auto [loss, cosine] = arc(embed_batch(x.view({b, 1, 28, 28}), false), head, y);
      loss_sum += loss.item<double>() * static_cast<double>(b);
      correct += cosine.argmax(1).eq(y).sum().item<int64_t>();
    }
    return {n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0, n ? loss_sum / static_cast<double>(n) : 0.0};
  }
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// "epoch 3/4 loss 0.81", the progress message of training.
std::string epoch_text(int64_t epoch, int64_t epochs, double loss) {
  char b[80];
  std::snprintf(b, sizeof b, "epoch %lld/%lld loss %.2f", static_cast<long long>(epoch), static_cast<long long>(epochs),
                loss);
  return b;
}

torch::Tensor load_images_tensor(const Manifest& m, const Split& s, torch::Tensor& labels) {
  std::vector<int64_t> lab;
  torch::Tensor x;
  if (m.dtype == "uint8") {
    std::vector<uint8_t> im;
    load_split_u8(m, s, im, lab);
    x = torch::from_blob(im.data(), {static_cast<int64_t>(lab.size()), m.rows, m.cols}, torch::kUInt8).clone();
  } else {
    std::vector<float> im;
    load_split(m, s, im, lab);
    x = torch::from_blob(im.data(), {static_cast<int64_t>(lab.size()), m.rows, m.cols}, torch::kFloat).clone();
  }
  labels = torch::from_blob(lab.data(), {static_cast<int64_t>(lab.size())}, torch::kLong).clone();
  return x;
}

torch::jit::Module load_model(const fs::path& given) {
  const fs::path p = resolve_in(given, "model.pt");
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) throw DataError("model file " + q(p) + " does not exist");
  try {
    return torch::jit::load(p.string());
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    throw DataError("model file " + q(p) + " is not a TorchScript model (" + what + ")");
  }
}

}  // namespace

void apply_malloc_tunables() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void set_threads(int n) {
  n = std::max(1, n);
  torch::set_num_threads(n);
  omp_set_num_threads(n);
}

bool cuda_available() { return torch::cuda::is_available(); }

int64_t auto_epochs(int64_t train_images) {
  constexpr int64_t kImages = 300000, kMinEpochs = 4;
  if (train_images <= 0) return kMinEpochs;
  return std::max(kMinEpochs, (kImages + train_images - 1) / train_images);
}

bool augments(const TrainOptions& o, int64_t epochs) {
  return o.augment == "on" || (o.augment == "auto" && epochs >= kAugmentFromEpochs);
}

Json train(const TrainOptions& o, const TrainHooks& hooks) {
  if (o.embedding_dim < 2 || o.batch_size < 2 || o.epochs < 0 || o.lr <= 0)
    throw DataError("parameters: embedding_dim >= 2, batch_size >= 2, epochs >= 0 (0: auto) and lr > 0 are required");
  if (o.augment != "auto" && o.augment != "on" && o.augment != "off")
    throw DataError("parameter 'augment' must be auto, on or off; got '" + o.augment + "'");
  if (o.augment_options.shift < 0 || o.augment_options.rotate < 0 || o.augment_options.scale < 0 ||
      o.augment_options.scale >= 1)
    throw DataError("parameters: augment_shift >= 0, augment_rotate >= 0 and 0 <= augment_scale < 1 are required");
  const auto t0 = std::chrono::steady_clock::now();
  Manifest m = read_manifest(o.dataset);
  if (m.rows != 28 || m.cols != 28) throw DataError("dataset " + q(o.dataset) + ": the model needs 28 x 28 images");
  const Split* tr = m.find("train");
  if (tr == nullptr || tr->count < o.batch_size)
    throw DataError("dataset " + q(o.dataset) + ": the train split has fewer images than one batch");
  torch::Tensor Y, Yv;
  torch::Tensor X = load_images_tensor(m, *tr, Y);
  torch::Tensor Xv;
  if (const Split* va = m.find("val"); va != nullptr && va->count > 0) Xv = load_images_tensor(m, *va, Yv);
  // Input normalisation from the training images, stored in the model.
  auto xf = X.to(torch::kFloat);
  if (X.scalar_type() == torch::kUInt8) xf.mul_(1.0f / 255.0f);
  const double mean = xf.mean().item<double>(), stdev = std::max(1e-3, xf.std().item<double>());
  xf = torch::Tensor();

  const int64_t epochs = o.epochs > 0 ? o.epochs : auto_epochs(X.size(0));
  Trainer t(o, mean, stdev, m.num_classes);
  t.augment = augments(o, epochs);
  if (!t.device.is_cpu()) {  // the whole split on the GPU once, not a copy per batch (augmented: warped on the CPU)
    if (!t.augment) X = X.to(t.device);
    Y = Y.to(t.device);
    if (Xv.defined()) Xv = Xv.to(t.device), Yv = Yv.to(t.device);
  }
  const int64_t n = X.size(0);
  const int64_t per_epoch = n / o.batch_size;
  t.total_steps = per_epoch * epochs;
  if (hooks.log)
    hooks.log("training on " + std::to_string(n) + " images, " + std::to_string(epochs) + " epochs" +
              (o.epochs > 0 ? "" : " (auto)") + " of " + std::to_string(per_epoch) + " batches" +
              (t.augment ? ", augmented" : "") + ", device " + (o.cuda ? "cuda" : "cpu") + ", " +
              std::to_string(o.threads) + " threads, " + std::to_string(t.workers) + " data-parallel worker(s)");
  Json history = Json::array();
  double val_acc = 0, last_loss = 0, train_acc = 0;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const auto te = std::chrono::steady_clock::now();
    auto perm = torch::randperm(n, torch::kLong).to(t.device);  // drawn on the CPU: the same order on both
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < per_epoch; ++b) {
      if (hooks.cancelled && hooks.cancelled()) throw DataError("cancelled");
      auto [loss, c] = t.step_on(X, Y, perm.slice(0, b * o.batch_size, (b + 1) * o.batch_size));
      if (!std::isfinite(loss)) throw DataError("training diverged: the loss is " + std::to_string(loss) +
                                                " at epoch " + std::to_string(epoch) + " (lower 'lr')");
      loss_sum += loss;
      correct += c;
      if (hooks.series && hooks.batch_loss_every > 0 && t.step % hooks.batch_loss_every == 0)
        hooks.series("batch_loss", t.step, loss);
      if (hooks.progress) hooks.progress(static_cast<double>(t.step), static_cast<double>(t.total_steps),
                                         epoch_text(epoch, epochs, loss_sum / static_cast<double>(b + 1)));
    }
    last_loss = loss_sum / static_cast<double>(per_epoch);
    train_acc = static_cast<double>(correct) / static_cast<double>(per_epoch * o.batch_size);
    double val_loss = 0;
    if (Xv.defined()) std::tie(val_acc, val_loss) = t.evaluate(Xv, Yv);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    if (hooks.series) {
      hooks.series("loss", epoch, last_loss);
      hooks.series("accuracy", epoch, train_acc);
      if (Xv.defined()) {
        hooks.series("val_accuracy", epoch, val_acc);
        hooks.series("val_loss", epoch, val_loss);
      }
      hooks.series("images_per_s", epoch, static_cast<double>(per_epoch * o.batch_size) / secs);
    }
    history.push_back({{"epoch", epoch}, {"loss", last_loss}, {"accuracy", train_acc}, {"val_accuracy", val_acc},
                       {"val_loss", val_loss}, {"seconds", secs}});
    if (hooks.log) {
      char line[200];
      std::snprintf(line, sizeof line, "epoch %lld/%lld: loss %.4f, accuracy %.4f, val accuracy %.4f, %.0f images/s",
                    static_cast<long long>(epoch), static_cast<long long>(epochs), last_loss, train_acc, val_acc,
                    static_cast<double>(per_epoch * o.batch_size) / secs);
      hooks.log(line);
    }
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  auto module = t.net.to_module();
  const fs::path pt = o.out / "model.pt";
  module.save(pt.string());
  Json meta = {{"format", "torchscript"},
               {"file", "model.pt"},
               {"architecture", "conv32-pool-bn, conv64-pool-bn, fc128-bn, fc" + std::to_string(o.embedding_dim) + ", l2-norm"},
               {"input", {{"shape", {-1, 1, 28, 28}}, {"dtype", "float32"}, {"range", {0, 1}}}},
               {"embedding_dim", o.embedding_dim},
               {"params", {{"embedding_dim", o.embedding_dim}, {"arcface_scale", o.arcface_scale},
                           {"arcface_margin", o.arcface_margin}, {"epochs", epochs}, {"batch_size", o.batch_size},
                           {"lr", o.lr}, {"optimizer", o.optimizer}, {"weight_decay", o.weight_decay}, {"seed", o.seed},
                           {"workers", t.workers}, {"augment", t.augment},
                           {"augment_shift", o.augment_options.shift}, {"augment_rotate", o.augment_options.rotate},
                           {"augment_scale", o.augment_options.scale}}},
               {"train_images", n},
               {"input_mean", mean},
               {"input_std", stdev},
               {"final_loss", last_loss},
               {"train_accuracy", train_acc},
               {"val_accuracy", val_acc},
               {"history", history},
               {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
  write_json(o.out / "meta.json", meta);
  return meta;
}

double train_throughput(const uint8_t* images, const int64_t* labels, int64_t n, const TrainOptions& o, int warmup,
                        int steps, double* cpu_us_per_image) {
  auto X = torch::from_blob(const_cast<uint8_t*>(images), {n, 28, 28}, torch::kUInt8);
  auto Y = torch::from_blob(const_cast<int64_t*>(labels), {n}, torch::kLong);
  Trainer t(o, 0.286, 0.353, 10);
  t.augment = o.augment == "on";
  t.total_steps = warmup + steps;
  const int64_t per_epoch = n / o.batch_size;
  auto perm = torch::randperm(n, torch::kLong);
  std::chrono::steady_clock::time_point start;
  double cpu0 = 0;
  for (int s = 0; s < warmup + steps; ++s) {
    if (s == warmup) start = std::chrono::steady_clock::now(), cpu0 = process_cpu_seconds();
    const int64_t b = s % per_epoch;
    t.step_on(X, Y, perm.slice(0, b * o.batch_size, (b + 1) * o.batch_size));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (cpu_us_per_image != nullptr)
    *cpu_us_per_image = (process_cpu_seconds() - cpu0) * 1e6 / (static_cast<double>(steps) * static_cast<double>(o.batch_size));
  return static_cast<double>(steps) * static_cast<double>(o.batch_size) / secs;
}

Json embed(const EmbedOptions& o, const std::function<bool()>& cancelled, const ProgressFn& progress) {
  auto module = load_model(o.model);
  module.eval();
  torch::Device device = o.cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  module.to(device);
  Manifest m = read_manifest(o.dataset);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  torch::InferenceMode guard;
  int64_t dim = 0;
  {
    std::vector<torch::jit::IValue> in{torch::zeros({1, 1, m.rows, m.cols}, torch::TensorOptions().device(device))};
    try {
      dim = module.forward(in).toTensor().size(1);
    } catch (const std::exception& e) {
      throw DataError("model file " + q(resolve_in(o.model, "model.pt")) + " does not map 1 x 1 x " + std::to_string(m.rows) +
                      " x " + std::to_string(m.cols) + " images to embeddings: " + std::string(e.what()).substr(0, 300));
    }
  }
  Json out = {{"dim", dim}, {"normalized", true}, {"model", o.model.string()}, {"dataset", o.dataset.string()}, {"splits", Json::object()}};
  const int64_t px = m.rows * m.cols;
  auto xb = torch::empty({o.batch_size, 1, m.rows, m.cols});
  const auto t0 = std::chrono::steady_clock::now();
  int64_t total = 0;
  const Split* test_split = m.find("test");
  const double all = static_cast<double>(m.index_split().count + (test_split ? test_split->count : 0));
  for (const auto& [name, split] : {std::pair<std::string, const Split*>{"index", &m.index_split()},
                                    std::pair<std::string, const Split*>{"test", m.find("test")}}) {
    if (split == nullptr) throw DataError("dataset " + q(o.dataset) + " has no '" + name + "' split");
    NpyWriter ew(o.out / (name + ".npy"), "<f4", {split->count, dim});
    std::vector<int64_t> all_labels;
    int64_t done_in_split = 0;
    for (const auto& c : split->chunks) {
      std::vector<float> images;
      std::vector<int64_t> labels;
      Split one = *split;
      one.chunks = {c};
      one.count = c.rows;
      load_split(m, one, images, labels);  // one chunk at a time
      for (int64_t at = 0; at < c.rows; at += o.batch_size) {
        if (cancelled && cancelled()) throw DataError("cancelled");
        const int64_t b = std::min(o.batch_size, c.rows - at);
        auto src = torch::from_blob(images.data() + at * px, {b, 1, m.rows, m.cols}, torch::kFloat);
        torch::Tensor x = b == o.batch_size && device.is_cpu() ? xb.copy_(src) : src.to(device);
        torch::Tensor e;
        {
          CudaAutocast amp(!device.is_cpu());
          e = module.forward({x}).toTensor();
        }
        e = e.to(torch::kCPU).to(torch::kFloat).contiguous();
        ew.write(e.data_ptr<float>(), static_cast<size_t>(b * dim) * sizeof(float));
        if (progress)
          progress(static_cast<double>(total + done_in_split + at + b), all,
                   "embedding the " + name + " split");
      }
      all_labels.insert(all_labels.end(), labels.begin(), labels.end());
      done_in_split += c.rows;
    }
    ew.close();
    write_npy(o.out / (name + "_labels.npy"), "<i8", {static_cast<int64_t>(all_labels.size())}, all_labels.data());
    out["splits"][name] = {{"count", split->count}, {"embeddings", name + ".npy"}, {"labels", name + "_labels.npy"},
                           {"from_split", split->name}};
    total += split->count;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out["images_per_s"] = static_cast<double>(total) / secs;
  write_json(o.out / "meta.json", out);
  return out;
}

std::vector<float> embed_images(const fs::path& model, const float* images, int64_t n, int64_t* dim,
                                int64_t batch_size) {
  auto module = load_model(model);
  module.eval();
  torch::InferenceMode guard;
  std::vector<torch::Tensor> parts;
  for (int64_t at = 0; at < n; at += batch_size) {
    const int64_t b = std::min(batch_size, n - at);
    auto x = torch::from_blob(const_cast<float*>(images) + at * 784, {b, 1, 28, 28}, torch::kFloat);
    parts.push_back(module.forward({x}).toTensor().contiguous());
  }
  auto e = torch::cat(parts).contiguous();
  *dim = e.size(1);
  return {e.data_ptr<float>(), e.data_ptr<float>() + e.numel()};
}

struct Embedder::Impl {
  torch::jit::Module module;
  torch::Device device{torch::kCPU};
};

Embedder::Embedder(const fs::path& model, bool cuda) : impl_(std::make_unique<Impl>()) {
  impl_->module = load_model(model);
  impl_->module.eval();
  if (cuda) {
    if (!torch::cuda::is_available()) throw DataError("CUDA was asked for, but no CUDA device is available");
    impl_->device = torch::Device(torch::kCUDA);
    impl_->module.to(impl_->device);
  }
  std::vector<float> zero(784, 0.0f);
  try {
    auto e = embed(zero.data(), 1);
    dim_ = static_cast<int64_t>(e.size());
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw DataError("model file " + q(resolve_in(model, "model.pt")) + " does not map 1 x 1 x 28 x 28 images to embeddings: " +
                    what.substr(0, 300));
  }
}

Embedder::~Embedder() = default;

std::vector<float> Embedder::embed(const float* images, int64_t n) {
  torch::InferenceMode guard;
  auto x = torch::from_blob(const_cast<float*>(images), {n, 1, 28, 28}, torch::kFloat);
  if (!impl_->device.is_cpu()) x = x.to(impl_->device);
  auto e = impl_->module.forward({x}).toTensor().to(torch::kCPU).contiguous();
  return {e.data_ptr<float>(), e.data_ptr<float>() + e.numel()};
}

std::vector<float> embed_images_native(const fs::path& model, const float* images, int64_t n, int64_t* dim) {
  Net net = Net::from_module(load_model(model));
  torch::NoGradGuard ng;
  auto x = torch::from_blob(const_cast<float*>(images), {n, 1, 28, 28}, torch::kFloat);
  auto e = net.forward(x, false).contiguous();
  *dim = e.size(1);
  return {e.data_ptr<float>(), e.data_ptr<float>() + e.numel()};
}

}  // namespace ctflow::mnist
