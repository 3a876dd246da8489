// Resource admission (cpu, gpu, memory, the workflow's and a fan-out's
// parallelism) and the job pool that runs blocking work off the strand.
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>

#include "engine/scheduler_impl.h"

namespace ctflow {
namespace asio = boost::asio;

bool Scheduler::Impl::fits(const Instance& inst) const {
  const Step& st = *inst.step->step;
  int limit = opt_.parallelism > 0 ? opt_.parallelism : wf_.parallelism;
  if (limit > 0 && running_ >= limit) return false;
  if (st.parallelism > 0 && inst.step->running >= st.parallelism) return false;
  if (in_process(st) && jobs_running_ >= kWorkers) return false;
  const Resources& r = st.resources;
  if (r.cpu > 0 && used_cpu_ > 0 && used_cpu_ + r.cpu > opt_.host.cpus + 1e-9) return false;
  if (r.gpu > 0 && free_gpus() < r.gpu) return false;
  if (r.memory > 0 && opt_.host.memory > 0 && used_mem_ > 0 && used_mem_ + r.memory > opt_.host.memory) return false;
  return true;
}

void Scheduler::Impl::try_dispatch() {
  if (cancelling_ || plan().stopped()) return;  // queued instances never start: the run stopped
  const int limit = opt_.parallelism > 0 ? opt_.parallelism : wf_.parallelism;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (limit > 0 && running_ >= limit) return;  // nothing more fits: no need to look further
    Instance& inst = **it;
    if (!fits(inst)) {
      ++it;
      continue;
    }
    it = queue_.erase(it);
    take_slot(inst);
    guarded(&inst, nullptr, [&] { start_attempt(inst); });
    // start_attempt may have ended steps and changed the queue: look at it anew.
    it = queue_.begin();
  }
}

int Scheduler::Impl::free_gpus() const {
  int busy = 0;
  for (bool b : gpu_busy_) busy += b ? 1 : 0;
  return opt_.host.gpus - busy;
}

// GPUs are slots with an index, not a count: a step holds particular ones
// (the lowest free), and its process sees only those (CUDA_VISIBLE_DEVICES),
// so two GPU steps never share a device.
void Scheduler::Impl::take_slot(Instance& inst) {
  const Resources& r = inst.step->step->resources;
  inst.cpu = r.cpu;
  inst.mem = r.memory;
  inst.gpus.clear();
  if (gpu_busy_.size() < static_cast<size_t>(std::max(0, opt_.host.gpus)))
    gpu_busy_.resize(static_cast<size_t>(opt_.host.gpus), false);
  for (size_t i = 0; i < gpu_busy_.size() && static_cast<int>(inst.gpus.size()) < r.gpu; ++i)
    if (!gpu_busy_[i]) {
      gpu_busy_[i] = true;
      inst.gpus.push_back(static_cast<int>(i));
    }
  used_cpu_ += inst.cpu;
  used_mem_ += inst.mem;
  ++running_;
  ++inst.step->running;
  inst.holds_slot = true;
}

void Scheduler::Impl::release(Instance& inst) {
  if (!inst.holds_slot) return;
  inst.holds_slot = false;
  used_cpu_ -= inst.cpu;
  for (int g : inst.gpus) gpu_busy_[static_cast<size_t>(g)] = false;
  inst.gpus.clear();
  used_mem_ -= inst.mem;
  --running_;
  --inst.step->running;
}

void Scheduler::Impl::run(std::function<void()> work, std::function<void()> then) {
  ++busy_;
  auto job = [this, work = std::move(work), then = std::move(then)]() mutable {
    std::string error;
    try {
      work();
    } catch (const std::exception& e) {  // a job catches its own; nothing may escape a worker
      error = e.what();
    } catch (...) {
      error = "an unknown exception";
    }
    asio::dispatch(strand_, [this, error, then = std::move(then)] {
      job_done();
      if (!error.empty()) return handler_failed(nullptr, nullptr, error);
      then();
    });
  };
  if (jobs_running_ >= kWorkers) {
    jobs_waiting_.push_back(std::move(job));
    return;
  }
  ++jobs_running_;
  asio::defer(io_, std::move(job));
}

void Scheduler::Impl::job_done() {
  --busy_;
  --jobs_running_;
  if (!jobs_waiting_.empty()) {
    ++jobs_running_;
    asio::defer(io_, std::move(jobs_waiting_.front()));
    jobs_waiting_.pop_front();
  }
  // A worker is free: a queued in-process step may start; and with no step
  // running, the job may have been the run's last work (a timed-out plugin
  // that has now returned). Otherwise the job's own completion moves the run
  // on, and a chain of steps costs no extra handler per step.
  if (!queue_.empty() || running_ == 0)
    defer(nullptr, nullptr, [this] {
      try_dispatch();
      maybe_finish();
    });
}

}  // namespace ctflow
