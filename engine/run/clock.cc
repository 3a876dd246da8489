#include "engine/run/clock.h"

#include <boost/asio/steady_timer.hpp>

#include "base/time.h"

namespace ctflow {
namespace {

class SteadyTimer final : public TimerHandle {
 public:
  SteadyTimer(boost::asio::any_io_executor ex, double seconds, std::function<void()> fn)
      : timer_(std::move(ex), std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6))) {
    timer_.async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }
  ~SteadyTimer() override { timer_.cancel(); }
  void cancel() override { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace

int64_t SystemClock::now_ms() { return ctflow::now_ms(); }

std::unique_ptr<TimerHandle> SystemClock::after(boost::asio::any_io_executor ex, double seconds,
                                                std::function<void()> fn, bool) {
  return std::make_unique<SteadyTimer>(std::move(ex), seconds < 0 ? 0 : seconds, std::move(fn));
}

}  // namespace ctflow
