#include "web/serve/batcher.h"

#include <algorithm>

namespace ctflow::serve {

using Clock = std::chrono::steady_clock;

Batcher::Batcher(std::shared_ptr<LoadedModel> model, BatchOptions options, Metrics& metrics, std::string model_name,
                 int version)
    : model_(std::move(model)),
      options_(options),
      metrics_(metrics),
      model_name_(std::move(model_name)),
      version_(version),
      // No arrivals seen yet: assume they are slower than max_delay (a lone
      // request must not wait); a few quick ones bring the average below it.
      light_gap_us_(std::max(1000.0, static_cast<double>(options.max_delay.count()))),
      gap_ewma_us_(2.0 * light_gap_us_),
      worker_([this] { loop(); }) {}

Batcher::~Batcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void Batcher::submit(Job job) {
  const auto now = Clock::now();
  job.enqueued = now;
  bool inline_run = false;
  {
    std::lock_guard lock(mu_);
    if (last_arrival_ != Clock::time_point{}) {
      const double gap = std::chrono::duration<double, std::micro>(now - last_arrival_).count();
      gap_ewma_us_ = 0.8 * gap_ewma_us_ + 0.2 * std::min(gap, 1e9);
    }
    last_arrival_ = now;
    // Light load (nothing queued or running, arrivals further apart than
    // max_delay and 1 ms): run here, on the caller's thread. Two thread
    // hand-offs cost more than the model at batch 1; under load requests queue
    // and batch as below.
    if (!busy_ && queue_.empty() && gap_ewma_us_ >= light_gap_us_ && !stop_) {
      busy_ = true;
      inline_run = true;
    } else {
      metrics_.queue_add(job.n);
      queued_ += job.n;
      queue_.push_back(std::move(job));
    }
  }
  if (!inline_run) return cv_.notify_one();
  std::vector<std::string> answers;
  std::vector<int64_t> classes;
  const Status st = run_batch(job.pixels.data(), job.n, answers, classes);
  {
    std::lock_guard lock(mu_);
    busy_ = false;
  }
  cv_.notify_one();  // what queued meanwhile
  job.done(st, st ? std::move(answers) : std::vector<std::string>{});
}

Status Batcher::run_batch(const float* pixels, int64_t n, std::vector<std::string>& answers,
                          std::vector<int64_t>& classes) {
  Status st;
  std::vector<double> distances;
  {
    std::lock_guard mlock(model_mu_);
    st = model_->predict(pixels, n, answers, classes, &distances);
  }
  metrics_.batch(n);
  const int64_t px = static_cast<int64_t>(model_->height()) * model_->width();
  if (st) metrics_.inputs(model_name_, version_, pixels, n, px, classes.data(), distances.data());
  return st;
}

Status Batcher::run_direct(const float* pixels, int64_t n) {
  std::vector<std::string> answers;
  std::vector<int64_t> classes;
  std::lock_guard lock(model_mu_);
  return model_->predict(pixels, n, answers, classes);
}

void Batcher::loop() {
  const size_t px = static_cast<size_t>(model_->height()) * static_cast<size_t>(model_->width());
  std::vector<Job> jobs;
  std::vector<float> batch;
  std::vector<std::string> answers;
  std::vector<int64_t> classes;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || (!queue_.empty() && !busy_); });
    if (queue_.empty()) return;  // stop_, and nothing left to run
    const double delay_us = static_cast<double>(options_.max_delay.count());
    if (!stop_ && delay_us > 0 && queued_ < options_.max_batch && gap_ewma_us_ < delay_us) {
      const auto deadline = queue_.front().enqueued + options_.max_delay;
      cv_.wait_until(lock, deadline, [&] { return stop_ || queued_ >= options_.max_batch; });
    }
    int64_t total = 0;
    jobs.clear();
    while (!queue_.empty() && (jobs.empty() || total + queue_.front().n <= options_.max_batch)) {
      total += queue_.front().n;
      jobs.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queued_ -= total;
    busy_ = true;
    lock.unlock();

    metrics_.queue_add(-total);
    const float* data = jobs[0].pixels.data();
    if (jobs.size() > 1) {
      batch.resize(static_cast<size_t>(total) * px);
      size_t at = 0;
      for (const auto& j : jobs) {
        std::copy(j.pixels.begin(), j.pixels.end(), batch.begin() + static_cast<std::ptrdiff_t>(at));
        at += j.pixels.size();
      }
      data = batch.data();
    }
    const Status st = run_batch(data, total, answers, classes);
    size_t at = 0;
    for (auto& j : jobs) {
      std::vector<std::string> mine;
      if (st)
        mine.assign(std::make_move_iterator(answers.begin() + static_cast<std::ptrdiff_t>(at)),
                    std::make_move_iterator(answers.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(j.n))));
      at += static_cast<size_t>(j.n);
      j.done(st, std::move(mine));
    }
    jobs.clear();  // the callbacks' captures go now, on this thread
    lock.lock();
    busy_ = false;
  }
}

}  // namespace ctflow::serve
