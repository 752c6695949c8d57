// net::HandlerGate: how many handlers may run at once, across every worker
// thread, and how many requests may wait for a turn.
//
// A handler may be expensive (`signet server --exec` starts a process per
// message); without a bound, 300 connections made 300 processes at once. The
// gate lets `concurrency` handlers run; up to `queue` more requests wait in
// arrival order; beyond that a request is refused with busy at once, so a
// flood is shed instead of piling up. A request waits on its own connection's
// executor, so other connections keep being served meanwhile.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include <asio/awaitable.hpp>

#include "util/error.hpp"

namespace signet::net {

class HandlerGate {
 public:
  // concurrency >= 1.
  HandlerGate(std::size_t concurrency, std::size_t queue);
  HandlerGate(const HandlerGate&) = delete;
  HandlerGate& operator=(const HandlerGate&) = delete;

  // A turn to run a handler; gives it back when destroyed.
  class Permit {
   public:
    Permit(Permit&& o) noexcept : gate_(o.gate_) { o.gate_ = nullptr; }
    Permit& operator=(Permit&&) = delete;
    Permit(const Permit&) = delete;
    ~Permit();

   private:
    friend class HandlerGate;
    explicit Permit(HandlerGate* gate) : gate_(gate) {}
    HandlerGate* gate_;
  };

  // Waits for a turn. Fails with busy when `queue` requests are waiting
  // already. If the waiting coroutine is destroyed (its connection closed),
  // its place, or the turn it was just given, goes to the next in line.
  asio::awaitable<Result<Permit>> acquire();

  std::size_t running() const;
  std::size_t waiting() const;

 private:
  struct Waiter;
  void release();
  void release_locked();
  void leave(const std::shared_ptr<Waiter>& w);

  const std::size_t concurrency_;
  const std::size_t queue_;
  mutable std::mutex mu_;
  std::size_t running_ = 0;
  std::deque<std::shared_ptr<Waiter>> waiting_;
};

}  // namespace signet::net
