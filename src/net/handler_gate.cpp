#include "net/handler_gate.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace signet::net {

// A request waiting for its turn: it sleeps on `wake`, on its own executor,
// until release() hands it the turn (granted) and cancels the timer there.
struct HandlerGate::Waiter {
  explicit Waiter(const asio::any_io_executor& ex)
      : wake(ex, std::chrono::steady_clock::time_point::max()) {}
  asio::steady_timer wake;
  bool granted = false;  // guarded by the gate's mutex
};

HandlerGate::HandlerGate(std::size_t concurrency, std::size_t queue)
    : concurrency_(std::max<std::size_t>(concurrency, 1)), queue_(queue) {}

HandlerGate::Permit::~Permit() {
  if (gate_ != nullptr) gate_->release();
}

asio::awaitable<Result<HandlerGate::Permit>> HandlerGate::acquire() {
  std::shared_ptr<Waiter> w;
  {
    std::lock_guard lock(mu_);
    if (running_ < concurrency_) {
      ++running_;
      co_return Permit(this);
    }
    if (waiting_.size() >= queue_) {
      co_return Error(Errc::busy, "the server is busy: " + std::to_string(running_) +
                                      " requests are being handled and " +
                                      std::to_string(waiting_.size()) +
                                      " are waiting; try again later");
    }
    w = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    waiting_.push_back(w);
  }
  // Destroyed with this coroutine if its connection goes away while waiting.
  struct Leave {
    HandlerGate* gate;
    std::shared_ptr<Waiter> waiter;
    bool done = false;
    ~Leave() {
      if (!done) gate->leave(waiter);
    }
  } leave{this, w};
  for (;;) {
    co_await w->wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mu_);
    if (w->granted) break;
  }
  leave.done = true;
  co_return Permit(this);
}

void HandlerGate::release() {
  std::lock_guard lock(mu_);
  release_locked();
}

void HandlerGate::release_locked() {
  if (waiting_.empty()) {
    --running_;
    return;
  }
  // The turn passes straight to the next in line: running_ stays the same.
  auto next = std::move(waiting_.front());
  waiting_.pop_front();
  next->granted = true;
  asio::post(next->wake.get_executor(), [next] { next->wake.cancel(); });
}

void HandlerGate::leave(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lock(mu_);
  if (w->granted) {
    release_locked();  // given a turn it will not use
    return;
  }
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), w), waiting_.end());
}

std::size_t HandlerGate::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

std::size_t HandlerGate::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

}  // namespace signet::net
