#include "net/log_limiter.hpp"

#include <spdlog/spdlog.h>

namespace signet::net {

LogLimiter::LogLimiter(std::string what, unsigned burst, std::chrono::milliseconds interval)
    : what_(std::move(what)), burst_(burst), interval_(interval) {}

bool LogLimiter::admit(Clock::time_point now) {
  std::lock_guard lock(mu_);
  flush_locked(now);
  if (admitted_ < burst_) {
    ++admitted_;
    return true;
  }
  ++held_;
  ++suppressed_total_;
  return false;
}

void LogLimiter::flush(Clock::time_point now) {
  std::lock_guard lock(mu_);
  flush_locked(now);
}

void LogLimiter::flush_locked(Clock::time_point now) {
  if (now - window_start_ < interval_) return;
  if (held_ > 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - window_start_);
    spdlog::warn("{} more {} not logged in the last {:.1f} s", held_, what_,
                 static_cast<double>(ms.count()) / 1000.0);
  }
  window_start_ = now;
  admitted_ = 0;
  held_ = 0;
}

std::uint64_t LogLimiter::suppressed_total() const {
  std::lock_guard lock(mu_);
  return suppressed_total_;
}

}  // namespace signet::net
