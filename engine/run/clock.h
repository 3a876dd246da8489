// Clock: what the scheduler asks of time (LevelDB's Env, for time only). The
// real clock is the system clock for records and asio's steady_timer for
// waits; a test's fake clock has virtual time that moves only when it fires
// its next timer, so a run under it is deterministic and never sleeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

namespace ctflow {

// A pending timer; cancel() (or dropping the last handle) means its callback never runs.
class TimerHandle {
 public:
  virtual ~TimerHandle() = default;
  virtual void cancel() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, for what is recorded.
  virtual int64_t now_ms() = 0;
  // Monotonic time, for intervals.
  virtual std::chrono::steady_clock::time_point steady_now() = 0;
  // Runs FN on EX after SECONDS unless cancelled first. A BACKGROUND timer
  // (a heartbeat) is one a run never waits for: a virtual clock does not
  // advance time only to fire it.
  virtual std::unique_ptr<TimerHandle> after(boost::asio::any_io_executor ex, double seconds, std::function<void()> fn,
                                             bool background = false) = 0;
  // Virtual time: moves to the next timer that is not a background one and
  // fires every timer due by then; false when there is none. A real clock
  // returns false: its timers fire by themselves.
  virtual bool advance() { return false; }
  virtual bool is_virtual() const { return false; }
};

// The system clock and asio's steady_timer.
class SystemClock final : public Clock {
 public:
  int64_t now_ms() override;
  std::chrono::steady_clock::time_point steady_now() override { return std::chrono::steady_clock::now(); }
  std::unique_ptr<TimerHandle> after(boost::asio::any_io_executor ex, double seconds, std::function<void()> fn,
                                     bool background) override;
};

}  // namespace ctflow
