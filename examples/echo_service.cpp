// echo_service: a signet server and client in one process.
//
// Starts a shared-key mode server on 127.0.0.1 (a port the kernel picks) whose
// coroutine handler upper-cases each message, then sends to it with
// signet::Client: once blocking, then several requests in flight at once from
// coroutines. Prints each reply, stops the server and exits 0 (1 on any
// failure), so CTest runs it as a test.
//
// The key: SHARED_SECRET_KEY if it is set (its bytes as they are, as the
// signet program reads it), otherwise 32 random bytes made for this run.
#include <algorithm>
#include <cctype>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "api/signet.hpp"
#include "crypto/primitives.hpp"

namespace {

asio::awaitable<signet::wire::Reply> upper_case(const signet::net::PeerInfo& peer,
                                                signet::util::ByteSpan message) {
  std::string text(signet::util::as_chars(message));
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  (void)peer;  // peer.address, peer.mode, peer.identity: who sent it, verified
  co_return signet::wire::Reply{0, std::move(text)};
}

}  // namespace

int main() {
  std::string key_source = "SHARED_SECRET_KEY";
  auto key = signet::take_shared_key_from_environment();
  if (!key) {
    key_source = "a random key made for this run";
    key.emplace(32);
    signet::crypto::random_bytes(key->mutable_span());
  }

  signet::ServerConfig server_config;
  server_config.listen = {"127.0.0.1", 0};
  server_config.threads = 2;
  signet::Server server(server_config, key->clone(), upper_case);
  auto bound = server.start();
  if (!bound) {
    std::cerr << "echo_service: " << bound.error().message() << "\n";
    return 1;
  }
  std::cout << "server: shared-key mode with " << key_source
            << ", listening on 127.0.0.1:" << bound->port() << "\n";

  signet::ClientConfig client_config;
  client_config.server = {"127.0.0.1", bound->port()};
  signet::Client client(client_config, std::move(*key));
  bool ok = true;

  // Blocking, from main's thread.
  auto reply = client.send("hello, signet");
  if (!reply) {
    std::cerr << "echo_service: " << reply.error().message() << "\n";
    return 1;
  }
  std::cout << "blocking:  status " << int{reply->status} << ", \"" << reply->text << "\"\n";
  ok = ok && reply->text == "HELLO, SIGNET";

  // co_await, several in flight at once, on an io_context of our own.
  const std::vector<std::string> words = {"alpha", "bravo", "charlie", "delta", "echo"};
  std::vector<std::optional<signet::Result<signet::wire::Reply>>> results(words.size());
  asio::io_context ctx;
  for (std::size_t i = 0; i < words.size(); ++i) {
    asio::co_spawn(
        ctx,
        [&client, &words, &results, i]() -> asio::awaitable<void> {
          results[i].emplace(co_await client.async_send(words[i]));
        },
        asio::detached);
  }
  ctx.run();
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto& r = *results[i];
    if (!r) {
      std::cerr << "echo_service: " << words[i] << ": " << r.error().message() << "\n";
      ok = false;
      continue;
    }
    std::cout << "co_await:  " << words[i] << " -> status " << int{r->status} << ", \"" << r->text
              << "\"\n";
    std::string want = words[i];
    std::transform(want.begin(), want.end(), want.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    ok = ok && r->status == 0 && r->text == want;
  }

  server.stop();
  std::cout << "server stopped after " << server.stats().messages.load() << " message(s)\n";
  return ok ? 0 : 1;
}
