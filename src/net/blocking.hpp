// Runs one awaitable to completion on an io_context from ordinary blocking code.
#pragma once

#include <exception>
#include <optional>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

namespace signet::net {

// Drives ctx on the calling thread until op completes, then returns its value.
// Other work queued on ctx (timers, other connections) runs meanwhile.
// Rethrows an exception escaping op. ctx must not be run by another thread.
template <class T>
T run_blocking(asio::io_context& ctx, asio::awaitable<T> op) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  // co_spawn wants a default-constructible result; a void wrapper stores ours.
  auto store = [](asio::awaitable<T> inner, std::optional<T>& out) -> asio::awaitable<void> {
    out.emplace(co_await std::move(inner));
  };
  asio::co_spawn(ctx, store(std::move(op), result), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  if (ctx.stopped()) ctx.restart();
  while (!done && ctx.run_one() > 0) {
  }
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace signet::net
