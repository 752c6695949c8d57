// net::Deadline: one connection's deadline and the coroutine that watches it,
// for the server's sessions and the client's connections alike.
//
// arm() sets the deadline (or moves it, earlier or later), disarm() lifts it.
// start() begins watching: the first time the deadline passes while armed,
// the watcher calls on_expiry once, on the connection's executor, and stops.
// stop() (or destruction) ends the watch without calling it. Moving the
// deadline later costs nothing (the watcher notices when it wakes); moving it
// earlier wakes the watcher. The watcher shares its state with the Deadline,
// so it never touches a Deadline that is gone, and the owner's on_expiry
// should hold the owner weakly.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

namespace signet::net {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(const asio::any_io_executor& executor);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void arm(std::chrono::milliseconds timeout);
  void disarm() noexcept;
  bool armed() const noexcept;
  // At most once per Deadline.
  void start(std::function<void()> on_expiry);
  void stop() noexcept;

 private:
  struct State {
    explicit State(const asio::any_io_executor& ex) : timer(ex, Clock::time_point::max()) {}
    asio::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    bool armed = false;
    bool stopped = false;
    std::function<void()> on_expiry;
  };
  static asio::awaitable<void> watch(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace signet::net
