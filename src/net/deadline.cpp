#include "net/deadline.hpp"

#include <stdexcept>
#include <tuple>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace signet::net {

Deadline::Deadline(const asio::any_io_executor& executor)
    : state_(std::make_shared<State>(executor)) {}

Deadline::~Deadline() {
  stop();
}

void Deadline::arm(std::chrono::milliseconds timeout) {
  State& s = *state_;
  s.deadline = Clock::now() + timeout;
  s.armed = true;
  // Only an earlier deadline needs the sleeping watcher woken up.
  if (s.timer.expiry() > s.deadline) s.timer.expires_at(s.deadline);
}

void Deadline::disarm() noexcept {
  state_->armed = false;
}

bool Deadline::armed() const noexcept {
  return state_->armed;
}

void Deadline::start(std::function<void()> on_expiry) {
  if (state_->on_expiry) throw std::logic_error("Deadline::start called twice");
  state_->on_expiry = std::move(on_expiry);
  asio::co_spawn(state_->timer.get_executor(), watch(state_), asio::detached);
}

void Deadline::stop() noexcept {
  state_->stopped = true;
  state_->on_expiry = nullptr;  // drops what it holds of the owner
  state_->timer.cancel();
}

asio::awaitable<void> Deadline::watch(std::shared_ptr<State> state) {
  constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
  State& s = *state;
  while (!s.stopped) {
    s.timer.expires_at(s.armed ? s.deadline : Clock::time_point::max());
    (void)co_await s.timer.async_wait(kTuple);
    if (s.stopped) break;
    if (s.armed && Clock::now() >= s.deadline) {
      auto expired = std::move(s.on_expiry);
      s.stopped = true;
      if (expired) expired();
      break;
    }
  }
}

}  // namespace signet::net
