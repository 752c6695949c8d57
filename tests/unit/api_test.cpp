// The library API: signet::Server and signet::Client in one process, on
// 127.0.0.1 with ports the kernel picks, in shared-key mode (and key mode
// where a test says so: identities, pinning, receipts).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "api/message_service.hpp"
#include "api/signet.hpp"
#include "net/blocking.hpp"
#include "util/encoding.hpp"

namespace signet {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

crypto::SecretBytes key_of(std::string_view s) {
  return crypto::SecretBytes(util::as_bytes(s));
}
const std::string_view kKey = "api test key, 32 bytes or more..";

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

ServerConfig local_server(std::uint16_t port = 0) {
  ServerConfig c;
  c.listen = {"127.0.0.1", port};
  c.threads = 2;
  return c;
}

ClientConfig client_for(std::uint16_t port) {
  ClientConfig c;
  c.server = {"127.0.0.1", port};
  c.connect_timeout = 2s;
  c.handshake_timeout = 2s;
  c.reply_timeout = 4s;
  c.retry.attempts = 3;
  c.retry.initial_backoff = 20ms;
  c.retry.max_backoff = 50ms;
  return c;
}

// Upper-cases; "slow" waits 3 s first (to keep a request in flight).
asio::awaitable<wire::Reply> upper_handler(const net::PeerInfo&, util::ByteSpan message) {
  const auto text = util::as_chars(message);
  if (text == "slow") {
    asio::steady_timer t(co_await asio::this_coro::executor, 3s);
    co_await t.async_wait(asio::use_awaitable);
  }
  co_return wire::Reply{0, upper(text)};
}

// Polls cond for up to 2 s.
template <class F>
bool eventually(F cond) {
  const auto end = Clock::now() + 2s;
  while (Clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

// Key mode through the library: identities, authorized_keys, a pinned server key.
TEST(Api, KeyModeHandlerSeesTheClientsFingerprint) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "signet-api-key-mode";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto server_key = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
  auto client_key = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
  auto stranger = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
  ASSERT_TRUE(server_key && client_key && stranger);
  const auto ak = dir / "authorized_keys";
  {
    std::ofstream(ak) << crypto::format_public_key_line(client_key->public_key(), "alice") << "\n";
  }
  std::filesystem::permissions(
      ak, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  auto factory = key_mode_server(
      *server_key, KeyModeServerOptions{std::make_shared<keys::AuthorizedKeysFile>(ak)});
  ASSERT_TRUE(factory) << factory.error().message();
  Server server(local_server(), *factory, [](const net::PeerInfo& peer, util::ByteSpan) {
    return wire::Reply{0, peer.identity.fingerprint + " " + peer.identity.comment};
  });
  ASSERT_TRUE(server.start());

  const auto pin = pin_server_key(server_key->public_key().fingerprint());
  auto maker = key_mode_client(*client_key, KeyModeClientOptions{pin});
  ASSERT_TRUE(maker);
  Client client(client_for(server.port()), *maker);
  auto reply = client.send("hello");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->text, client_key->public_key().fingerprint() + " alice");

  // A key not in authorized_keys is refused, and not retried.
  auto other = key_mode_client(*stranger, KeyModeClientOptions{pin});
  ASSERT_TRUE(other);
  Client refused(client_for(server.port()), *other);
  auto denied = refused.send("hello");
  ASSERT_FALSE(denied);
  EXPECT_TRUE(denied.error().is(Errc::not_authorized)) << denied.error().message();

  // A client that pinned another server key refuses this server.
  auto wrong_pin = key_mode_client(
      *client_key, KeyModeClientOptions{pin_server_key(stranger->public_key().fingerprint())});
  ASSERT_TRUE(wrong_pin);
  Client suspicious(client_for(server.port()), *wrong_pin);
  auto changed = suspicious.send("hello");
  ASSERT_FALSE(changed);
  EXPECT_TRUE(changed.error().is(Errc::host_key_changed)) << changed.error().message();
  std::filesystem::remove_all(dir);
}

// A key-mode server and a client key it admits, with their files in a
// folder of their own (removed at the end).
struct KeyModePeers {
  explicit KeyModePeers(const std::string& name)
      : dir(std::filesystem::path(::testing::TempDir()) / name) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto s = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
    auto c = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
    EXPECT_TRUE(s && c);
    server_key = std::make_shared<const crypto::PrivateKey>(std::move(*s));
    client_key = std::make_shared<const crypto::PrivateKey>(std::move(*c));
    const auto ak = dir / "authorized_keys";
    {
      std::ofstream(ak) << crypto::format_public_key_line(client_key->public_key(), "alice")
                        << "\n";
    }
    std::filesystem::permissions(
        ak, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    authorized_keys = std::make_shared<keys::AuthorizedKeysFile>(ak);
  }
  ~KeyModePeers() { std::filesystem::remove_all(dir); }
  net::ChannelFactory server_channels() const {
    auto f = key_mode_server(*server_key, KeyModeServerOptions{authorized_keys});
    EXPECT_TRUE(f) << f.error().message();
    return *f;
  }
  net::Connection::ChannelMaker client_channels() const {
    auto m = key_mode_client(
        *client_key, KeyModeClientOptions{pin_server_key(server_key->public_key().fingerprint())});
    EXPECT_TRUE(m) << m.error().message();
    return *m;
  }
  // A client connected to a server on this machine's port.
  Result<std::shared_ptr<MessageClient>> connect(asio::io_context& ctx, std::uint16_t port) const {
    return net::run_blocking(ctx, MessageClient::open({"127.0.0.1", port}, client_channels()));
  }

  std::filesystem::path dir;
  std::shared_ptr<const crypto::PrivateKey> server_key;
  std::shared_ptr<const crypto::PrivateKey> client_key;
  std::shared_ptr<keys::AuthorizedKeysFile> authorized_keys;
};

crypto::Sha256Digest sha256_of(std::string_view s) {
  return crypto::sha256({util::as_bytes(s)});
}

// Pipelining with receipts (MessageClient::queue(m, true), next_answer,
// poll_answer): several messages in flight on one connection, each answered
// with a receipt that names its own message (so receipts handed to the wrong
// message would fail), one message without a receipt among them.
TEST(Api, PipelinedMessagesEachGetAReceiptThatNamesTheirOwnMessage) {
  KeyModePeers peers("signet-api-pipelined-receipts");
  MessageServiceOptions options;
  options.receipt_key = peers.server_key;
  Server server(local_server(), peers.server_channels(),
                message_service(net::SyncHandler([](const net::PeerInfo&, util::ByteSpan m) {
                                  return wire::Reply{0, upper(util::as_chars(m))};
                                }),
                                options));
  ASSERT_TRUE(server.start());

  asio::io_context ctx(1);
  auto conn = peers.connect(ctx, server.port());
  ASSERT_TRUE(conn) << conn.error().message();
  auto& client = **conn;
  ASSERT_EQ(client.protocol_version(), proto::kVersion2);

  // Messages of different sizes, so that even their sizes differ.
  std::vector<std::string> messages;
  for (int i = 0; i < 12; ++i) {
    messages.push_back("message " + std::to_string(i) +
                       std::string(static_cast<std::size_t>(i), '.'));
  }
  constexpr std::size_t kWithout = 5;  // this one asks for no receipt
  for (std::size_t i = 0; i < messages.size(); ++i) {
    ASSERT_TRUE(client.queue(util::as_bytes(messages[i]), i != kWithout));
  }
  ASSERT_TRUE(net::run_blocking(ctx, client.flush()));

  std::vector<MessageClient::Answer> answers;
  while (answers.size() < messages.size()) {
    auto first = net::run_blocking(ctx, client.next_answer());
    ASSERT_TRUE(first) << first.error().message();
    answers.push_back(std::move(*first));
    for (;;) {
      auto more = client.poll_answer();
      ASSERT_TRUE(more) << more.error().message();
      if (!more->has_value()) break;
      answers.push_back(std::move(**more));
    }
  }
  const std::string client_fp = peers.client_key->public_key().fingerprint();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    const auto& a = answers[i];
    EXPECT_EQ(a.reply.status, 0);
    EXPECT_EQ(a.reply.text, upper(m));
    if (i == kWithout) {
      EXPECT_TRUE(a.receipt.empty()) << "a receipt for a message that asked for none";
      auto none = client.check_message_receipt(a.receipt, m.size(), sha256_of(m), a.reply);
      ASSERT_FALSE(none);
      EXPECT_TRUE(none.error().is(Errc::not_verified));
      continue;
    }
    auto checked = client.check_message_receipt(a.receipt, m.size(), sha256_of(m), a.reply);
    ASSERT_TRUE(checked) << i << ": " << checked.error().message();
    auto facts = parse_receipt(checked->statement);
    ASSERT_TRUE(facts) << facts.error().message();
    EXPECT_EQ(facts->sha256, util::to_hex(sha256_of(m))) << i;
    EXPECT_EQ(facts->size, m.size());
    EXPECT_EQ(facts->reply_sha256, util::to_hex(sha256_of(upper(m))));
    EXPECT_EQ(facts->client_key, client_fp);
    // Held against its neighbour's message and reply, it does not check.
    const auto& other = messages[(i + 1) % messages.size()];
    auto wrong = client.check_message_receipt(a.receipt, other.size(), sha256_of(other),
                                              wire::Reply{0, upper(other)});
    ASSERT_FALSE(wrong) << i;
    EXPECT_TRUE(wrong.error().is(Errc::not_verified)) << wrong.error().message();
  }
  // No two receipts are alike, and request_with_receipt still works after them.
  for (std::size_t i = 1; i < answers.size(); ++i)
    EXPECT_NE(answers[i].receipt, answers[i - 1].receipt);
  auto one = net::run_blocking(ctx, client.request_with_receipt(util::as_bytes("one more")));
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(one->first.text, "ONE MORE");
  client.close();
}

// A receipt asked for in the pipelined path from a key-mode server that
// signs none: that message fails with the server's reason and is not
// delivered; the messages around it and the connection go on.
TEST(Api, APipelinedReceiptRequestToAServerWithoutAReceiptKeyFailsClearly) {
  KeyModePeers peers("signet-api-pipelined-no-receipt-key");
  std::atomic<int> delivered{0};
  Server server(local_server(), peers.server_channels(),
                [&](const net::PeerInfo&, util::ByteSpan m) {
                  ++delivered;
                  return wire::Reply{0, upper(util::as_chars(m))};
                });
  ASSERT_TRUE(server.start());

  asio::io_context ctx(1);
  auto conn = peers.connect(ctx, server.port());
  ASSERT_TRUE(conn) << conn.error().message();
  auto& client = **conn;
  ASSERT_TRUE(client.queue(util::as_bytes("before")));
  ASSERT_TRUE(client.queue(util::as_bytes("sign this"), true));
  ASSERT_TRUE(client.queue(util::as_bytes("after")));
  ASSERT_TRUE(net::run_blocking(ctx, client.flush()));
  auto before = net::run_blocking(ctx, client.next_answer());
  ASSERT_TRUE(before) << before.error().message();
  EXPECT_EQ(before->reply.text, "BEFORE");
  auto refused = net::run_blocking(ctx, client.next_answer());
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(Errc::unsupported_operation)) << refused.error().message();
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("no receipts"));
  EXPECT_THAT(refused.error().message(), ::testing::HasSubstr("not delivered"));
  auto after = net::run_blocking(ctx, client.next_answer());
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->reply.text, "AFTER");
  EXPECT_TRUE(after->receipt.empty());
  EXPECT_EQ(delivered.load(), 2);
  client.close();
}

TEST(Api, SyncHandlerRoundTrip) {
  Server server(local_server(), key_of(kKey), [](const net::PeerInfo&, util::ByteSpan message) {
    return wire::Reply{7, "got " + std::string(util::as_chars(message))};
  });
  auto bound = server.start();
  ASSERT_TRUE(bound) << bound.error().message();
  EXPECT_EQ(server.port(), bound->port());
  EXPECT_NE(server.port(), 0);

  Client client(client_for(server.port()), key_of(kKey));
  EXPECT_FALSE(client.connected());
  auto reply = client.send("ping");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 7);  // the handler's status, not an Error
  EXPECT_EQ(reply->text, "got ping");
  EXPECT_TRUE(client.connected());
}

TEST(Api, HandlersSeeTheVerifiedPeer) {
  const auto describe = [](const net::PeerInfo& peer) {
    return peer.address + "|" + peer.mode + "|" + peer.identity.fingerprint + "|" +
           peer.identity.comment;
  };
  Server sync_server(local_server(), key_of(kKey), [&](const net::PeerInfo& peer, util::ByteSpan) {
    return wire::Reply{0, describe(peer)};
  });
  Server async_server(
      local_server(), key_of(kKey),
      [&](const net::PeerInfo& peer, util::ByteSpan) -> asio::awaitable<wire::Reply> {
        co_return wire::Reply{0, describe(peer)};
      });
  ASSERT_TRUE(sync_server.start());
  ASSERT_TRUE(async_server.start());
  for (auto* s : {&sync_server, &async_server}) {
    Client client(client_for(s->port()), key_of(kKey));
    auto reply = client.send("who am I");
    ASSERT_TRUE(reply) << reply.error().message();
    // Shared-key mode proves the key, not a key identity: no fingerprint.
    EXPECT_EQ(reply->text.rfind("127.0.0.1:", 0), 0u) << reply->text;
    EXPECT_NE(reply->text.find("|shared-key aes-256-gcm, encrypted||"), std::string::npos)
        << reply->text;
  }
}

TEST(Api, ThousandRequestsSixtyFourInFlightEachGetsItsOwnReplyInOrder) {
  std::atomic<int> seq{0};
  Server server(
      local_server(), key_of(kKey),
      [&](const net::PeerInfo&, util::ByteSpan message) -> asio::awaitable<wire::Reply> {
        co_return wire::Reply{0, upper(util::as_chars(message)) + "#" + std::to_string(seq++)};
      });
  ASSERT_TRUE(server.start());
  Client client(client_for(server.port()), key_of(kKey));

  constexpr int kRequests = 1000;
  constexpr int kWorkers = 64;
  asio::io_context ctx;
  int next = 0, in_flight = 0, max_in_flight = 0, answered = 0;
  std::vector<int> delivered;  // server sequence numbers, in the order callers resumed
  std::vector<std::string> failures;
  for (int w = 0; w < kWorkers; ++w) {
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          while (next < kRequests) {
            const std::string message = "request-" + std::to_string(next++);
            ++in_flight;
            max_in_flight = std::max(max_in_flight, in_flight);
            auto reply = co_await client.async_send(message);
            --in_flight;
            if (!reply) {
              failures.push_back(message + ": " + reply.error().message());
              continue;
            }
            const auto hash = reply->text.find('#');
            if (reply->status != 0 || reply->text.substr(0, hash) != upper(message)) {
              failures.push_back(message + " got " + reply->text);
              continue;
            }
            delivered.push_back(std::stoi(reply->text.substr(hash + 1)));
            ++answered;
          }
        },
        asio::detached);
  }
  const auto start = Clock::now();
  ctx.run();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();
  EXPECT_EQ(answered, kRequests);
  EXPECT_EQ(max_in_flight, kWorkers);
  // One connection, and the replies reached their callers in the order the
  // server answered.
  EXPECT_TRUE(std::is_sorted(delivered.begin(), delivered.end()));
  EXPECT_EQ(server.stats().connections.load(), 1u);
  EXPECT_EQ(server.stats().messages.load(), static_cast<std::uint64_t>(kRequests));
}

// Version 2: a slow handler holds up no other message of its connection.
// "slow" waits (up to 3 s) until "fast", sent after it on the same
// connection, has reached its handler; answered one at a time, it never
// would, and its reply would say so.
TEST(Api, ASlowHandlerHoldsUpNoOtherMessageOfItsConnection) {
  std::atomic<bool> fast_called{false};
  Server server(local_server(), key_of(kKey),
                [&](const net::PeerInfo&, util::ByteSpan message) -> asio::awaitable<wire::Reply> {
                  const auto text = std::string(util::as_chars(message));
                  if (text == "fast") {
                    fast_called = true;
                    co_return wire::Reply{0, "FAST"};
                  }
                  asio::steady_timer t(co_await asio::this_coro::executor);
                  for (int i = 0; i < 300 && !fast_called; ++i) {
                    t.expires_after(10ms);
                    co_await t.async_wait(asio::use_awaitable);
                  }
                  co_return wire::Reply{0, fast_called ? "SLOW saw fast" : "SLOW alone"};
                });
  ASSERT_TRUE(server.start());
  asio::io_context ctx(1);
  auto conn = net::run_blocking(
      ctx, MessageClient::open({"127.0.0.1", server.port()}, shared_key_client(key_of(kKey))));
  ASSERT_TRUE(conn) << conn.error().message();
  auto& client = **conn;
  ASSERT_EQ(client.protocol_version(), proto::kVersion2);
  ASSERT_TRUE(client.queue(util::as_bytes("slow")));
  ASSERT_TRUE(client.queue(util::as_bytes("fast")));
  ASSERT_TRUE(net::run_blocking(ctx, client.flush()));
  auto slow = net::run_blocking(ctx, client.next_reply());
  auto fast = net::run_blocking(ctx, client.next_reply());
  ASSERT_TRUE(slow && fast);
  EXPECT_EQ(slow->text, "SLOW saw fast");
  EXPECT_EQ(fast->text, "FAST");

  // A connection that ends while its handler runs: the handler's answer is
  // dropped, and the server goes on serving.
  ASSERT_TRUE(client.queue(util::as_bytes("slow")));
  ASSERT_TRUE(net::run_blocking(ctx, client.flush()));
  client.close();
  fast_called = false;
  std::this_thread::sleep_for(100ms);
  Client again(client_for(server.port()), key_of(kKey));
  auto r = again.send("fast");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->text, "FAST");
}

TEST(Api, BlockingSendsFromOtherThreads) {
  Server server(local_server(), key_of(kKey), upper_handler);
  ASSERT_TRUE(server.start());
  Client client(client_for(server.port()), key_of(kKey));
  ASSERT_TRUE(client.connect());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string m = "thread" + std::to_string(t) + "-" + std::to_string(i);
        auto r = client.send(m);
        if (r && r->text == upper(m)) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 200);
}

TEST(Api, BlockingSendOnTheClientsOwnThreadIsRefused) {
  Server server(local_server(), key_of(kKey), upper_handler);
  ASSERT_TRUE(server.start());
  Client client(client_for(server.port()), key_of(kKey));
  std::promise<Result<wire::Reply>> result;
  asio::co_spawn(
      client.executor(),
      [&]() -> asio::awaitable<void> {
        result.set_value(client.send("deadlock?"));
        co_return;
      },
      asio::detached);
  auto r = result.get_future().get();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::config)) << r.error().message();
  // co_await from that same thread is fine.
  std::promise<Result<wire::Reply>> awaited;
  asio::co_spawn(
      client.executor(),
      [&]() -> asio::awaitable<void> { awaited.set_value(co_await client.async_send("fine")); },
      asio::detached);
  auto a = awaited.get_future().get();
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->text, "FINE");
}

TEST(Api, ServerRestartRequestsDuringTheOutageFailThenTheClientReconnects) {
  auto first = std::make_unique<Server>(local_server(), key_of(kKey), upper_handler);
  ASSERT_TRUE(first->start());
  const std::uint16_t port = first->port();
  Client client(client_for(port), key_of(kKey));
  ASSERT_TRUE(client.send("before"));

  first->stop();
  ASSERT_TRUE(eventually([&] { return !client.connected(); }));
  // Nobody listens: three connection attempts, then a clear failure.
  const auto start = Clock::now();
  auto during = client.send("during");
  ASSERT_FALSE(during);
  EXPECT_TRUE(during.error().is(Errc::unreachable)) << during.error().message();
  EXPECT_NE(during.error().message().find("gave up after 3 attempts"), std::string::npos)
      << during.error().message();
  EXPECT_LT(Clock::now() - start, 1s);

  Server second(local_server(port), key_of(kKey), upper_handler);
  ASSERT_TRUE(second.start());
  auto after = client.send("after");
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->text, "AFTER");
  EXPECT_EQ(second.stats().messages.load(), 1u);
}

TEST(Api, RetriesBridgeAShortOutage) {
  std::uint16_t port = 0;
  {
    Server probe(local_server(), key_of(kKey), upper_handler);
    ASSERT_TRUE(probe.start());
    port = probe.port();
  }
  auto config = client_for(port);
  config.retry.attempts = 40;
  config.retry.initial_backoff = 25ms;
  config.retry.max_backoff = 50ms;
  Client client(config, key_of(kKey));
  std::unique_ptr<Server> late;
  std::thread starter([&] {
    std::this_thread::sleep_for(300ms);
    late = std::make_unique<Server>(local_server(port), key_of(kKey), upper_handler);
    (void)late->start();
  });
  auto reply = client.send("eventually");
  starter.join();
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->text, "EVENTUALLY");
}

TEST(Api, RequestInFlightWhenTheServerGoesFailsAndIsNotResent) {
  auto first = std::make_unique<Server>(local_server(), key_of(kKey), upper_handler);
  ASSERT_TRUE(first->start());
  const std::uint16_t port = first->port();
  Client client(client_for(port), key_of(kKey));
  ASSERT_TRUE(client.connect());

  auto slow = std::async(std::launch::async, [&] { return client.send("slow"); });
  ASSERT_TRUE(eventually([&] { return first->stats().active.load() == 1; }));
  std::this_thread::sleep_for(100ms);  // the message is in the handler now
  const auto start = Clock::now();
  first->stop();
  auto r = slow.get();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::peer_closed)) << r.error().message();
  EXPECT_LT(Clock::now() - start, 1s);

  Server second(local_server(port), key_of(kKey), upper_handler);
  ASSERT_TRUE(second.start());
  auto next = client.send("next");
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(next->text, "NEXT");
  EXPECT_EQ(second.stats().messages.load(), 1u);  // "slow" was not sent again
}

TEST(Api, AReplyThatDoesNotComeTimesOut) {
  Server server(local_server(), key_of(kKey), upper_handler);
  ASSERT_TRUE(server.start());
  auto config = client_for(server.port());
  config.reply_timeout = 300ms;
  Client client(config, key_of(kKey));
  const auto start = Clock::now();
  auto r = client.send("slow");  // the handler takes 3 s
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::idle_timeout)) << r.error().message();
  EXPECT_LT(Clock::now() - start, 2500ms);
}

TEST(Api, AServerSilentInTheHandshakeTimesOut) {
  // Accepts connections (the kernel does, from the backlog) and never answers.
  asio::io_context ctx;
  asio::ip::tcp::acceptor silent(ctx, {asio::ip::make_address("127.0.0.1"), 0});
  auto config = client_for(silent.local_endpoint().port());
  config.handshake_timeout = 300ms;
  config.retry.attempts = 1;
  Client client(config, key_of(kKey));
  const auto start = Clock::now();
  auto r = client.send("hello");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::idle_timeout)) << r.error().message();
  EXPECT_LT(Clock::now() - start, 2500ms);
}

TEST(Api, DisconnectFailsRequestsInFlight) {
  Server server(local_server(), key_of(kKey), upper_handler);
  ASSERT_TRUE(server.start());
  Client client(client_for(server.port()), key_of(kKey));
  ASSERT_TRUE(client.connect());
  auto slow = std::async(std::launch::async, [&] { return client.send("slow"); });
  std::this_thread::sleep_for(100ms);
  client.disconnect();
  auto r = slow.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::make_error_code(std::errc::operation_canceled))
      << r.error().message();
  auto again = client.send("again");  // reconnects
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->text, "AGAIN");
}

TEST(Api, WrongKeyIsAnAuthenticationErrorAndIsNotRetried) {
  Server server(local_server(), key_of(kKey), upper_handler);
  ASSERT_TRUE(server.start());
  auto config = client_for(server.port());
  config.retry.attempts = 5;
  config.retry.initial_backoff = 500ms;
  Client client(config, key_of("another key, also 32 bytes long!"));
  const auto start = Clock::now();
  auto r = client.send("let me in");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::key_mismatch)) << r.error().message();
  EXPECT_LT(Clock::now() - start, 400ms);  // a retry would have waited 500 ms
  EXPECT_EQ(server.stats().messages.load(), 0u);
}

TEST(Api, FactoryConstructorsAndAnOversizeMessageFailsAlone) {
  SharedKeyOptions small;
  small.max_message = 1024;
  small.algorithms = {crypto::Suite::hmac_sha512};
  Server server(local_server(), shared_key_server(key_of(kKey), small), upper_handler);
  ASSERT_TRUE(server.start());
  Client client(client_for(server.port()), shared_key_client(key_of(kKey), small));
  auto big = client.send(std::string(2000, 'x'));
  ASSERT_FALSE(big);
  EXPECT_TRUE(big.error().is(Errc::too_large)) << big.error().message();
  auto fine = client.send("fits");
  ASSERT_TRUE(fine) << fine.error().message();
  EXPECT_EQ(fine->text, "FITS");
  EXPECT_EQ(server.stats().connections.load(), 1u);
}

TEST(Api, StartTwiceAndStopTwice) {
  Server server(local_server(), key_of(kKey), upper_handler);
  ASSERT_TRUE(server.start());
  auto again = server.start();
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(Errc::config));
  server.stop();
  server.stop();
}

TEST(Api, StopBeforeStartAndNoServer) {
  { Server never(local_server(), key_of(kKey), upper_handler); }
  // A port with nobody listening.
  std::uint16_t port = 0;
  {
    Server probe(local_server(), key_of(kKey), upper_handler);
    ASSERT_TRUE(probe.start());
    port = probe.port();
  }
  auto config = client_for(port);
  config.retry.attempts = 1;
  Client client(config, key_of(kKey));
  auto r = client.connect();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::unreachable)) << r.error().message();
}

TEST(Api, SharedKeyFromTheEnvironmentIsTakenAndWiped) {
  ::setenv("SHARED_SECRET_KEY", "from the environment", 1);
  auto key = take_shared_key_from_environment();
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(util::as_chars(key->span()), "from the environment");
  EXPECT_EQ(std::getenv("SHARED_SECRET_KEY"), nullptr);
  EXPECT_FALSE(take_shared_key_from_environment().has_value());
}

}  // namespace
}  // namespace signet
