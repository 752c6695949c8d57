// net::LogLimiter: a bound on how many lines one kind of event may write to
// the log.
//
// Anyone who can reach the port can make the server refuse connections, and
// each refusal is worth a line; without a bound one attacking process wrote
// over a megabyte of log a second. A limiter lets `burst` lines through per
// interval and counts the rest; the count goes out as one summary line
// ("412 more refused connections not logged in the last 1 s") when the
// interval is over, so the operator still learns the scale of what happened.
// Thread-safe: the server's worker threads share one limiter per kind.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace signet::net {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // what: the events, plural, for the summary line ("refused connections").
  explicit LogLimiter(std::string what, unsigned burst = 10,
                      std::chrono::milliseconds interval = std::chrono::seconds(1));

  // True if this event may be logged now; false if it was counted instead.
  // Writes the summary of the previous interval first, if it is due.
  bool admit(Clock::time_point now = Clock::now());
  // Writes the summary if the interval is over and something was held back.
  // The server calls it from a timer, so the last burst of an attack is
  // reported even when no further event comes.
  void flush(Clock::time_point now = Clock::now());

  // Events held back so far, over the limiter's life (for tests and stats).
  std::uint64_t suppressed_total() const;

 private:
  void flush_locked(Clock::time_point now);

  const std::string what_;
  const unsigned burst_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  Clock::time_point window_start_{};
  unsigned admitted_ = 0;
  std::uint64_t held_ = 0;  // in the current window
  std::uint64_t suppressed_total_ = 0;
};

}  // namespace signet::net
