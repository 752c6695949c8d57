// net::Link and net::Application: a server application that is more than a
// message handler. The server's connection has a reader and a writer, so its
// application may send at any moment: here it opens an operation of its own
// long after the client's last request, which only arrives if nothing waits
// for the client to speak first.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "api/link_sink.hpp"
#include "api/signet.hpp"
#include "proto/session.hpp"

namespace signet {
namespace {

using namespace std::chrono_literals;

const std::string_view kKey = "net link test key, 32 bytes or more";

// What the test learns from the server's side.
struct Seen {
  std::mutex mu;
  std::promise<wire::ErrorRecord> cancelled;  // the client's CANCEL of the server's operation
  bool set = false;
};

// Answers messages ("pong"), and 200 ms after the first one opens a message
// operation of its own, which a client that serves nothing cancels.
class PushingApp : public net::Application {
 public:
  PushingApp(net::Link& link, std::shared_ptr<Seen> seen)
      : session_(proto::Role::server, link.peer().protocol),
        sink_(link),
        seen_(std::move(seen)),
        alive_(std::make_shared<bool>(true)) {}
  ~PushingApp() override { *alive_ = false; }

  asio::awaitable<Result<void>> receive(net::Link& link) override {
    for (;;) {
      auto f = link.next_frame();
      if (!f) co_return f.error();
      if (!f->has_value()) co_return Result<void>{};
      auto e = session_.receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, sink_);
      if (!e) co_return e.error();
      if (!e->has_value()) continue;
      if (auto* o = std::get_if<proto::Opened>(&**e)) {
        if (auto r = session_.reply(o->op, 0, util::as_bytes(std::string_view("pong")), sink_);
            !r) {
          co_return r.error();
        }
        if (!pushed_) {
          pushed_ = true;
          asio::co_spawn(link.executor(), push_later(alive_), asio::detached);
        }
      } else if (auto* c = std::get_if<proto::Cancelled>(&**e)) {
        std::lock_guard lock(seen_->mu);
        if (!seen_->set) {
          seen_->set = true;
          seen_->cancelled.set_value(c->error);
        }
      }
    }
  }

 private:
  asio::awaitable<void> push_later(std::shared_ptr<bool> alive) {
    asio::steady_timer t(co_await asio::this_coro::executor, 200ms);
    co_await t.async_wait(asio::use_awaitable);
    if (!*alive) co_return;
    (void)session_.open(static_cast<std::uint8_t>(proto::Kind::message),
                        util::as_bytes(std::string_view("from the server")), true, sink_);
  }

  proto::Session session_;
  LinkSink sink_;
  std::shared_ptr<Seen> seen_;
  std::shared_ptr<bool> alive_;
  bool pushed_ = false;
};

ServerConfig local_server() {
  ServerConfig c;
  c.listen = {"127.0.0.1", 0};
  c.threads = 1;
  return c;
}

ClientConfig client_for(std::uint16_t port) {
  ClientConfig c;
  c.server = {"127.0.0.1", port};
  c.reply_timeout = 4s;
  return c;
}

TEST(NetLink, TheServersApplicationSendsWhenItWantsNotOnlyInAnswer) {
  auto seen = std::make_shared<Seen>();
  auto cancelled = seen->cancelled.get_future();
  Server server(local_server(), shared_key_server(crypto::SecretBytes(util::as_bytes(kKey))),
                [seen](net::Link& link) -> std::unique_ptr<net::Application> {
                  return std::make_unique<PushingApp>(link, seen);
                });
  ASSERT_TRUE(server.start());
  Client client(client_for(server.port()), crypto::SecretBytes(util::as_bytes(kKey)));
  auto reply = client.send("ping");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->text, "pong");
  // Nothing more is asked; the server's own operation arrives 200 ms later,
  // and the client (which serves none) cancels it.
  ASSERT_EQ(cancelled.wait_for(5s), std::future_status::ready);
  const auto why = cancelled.get();
  EXPECT_EQ(why.code, wire::ErrorCode::unsupported_operation);
  EXPECT_EQ(why.reason, "this client serves no operations");
  // The connection goes on.
  auto again = client.send("ping");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->text, "pong");
}

}  // namespace
}  // namespace signet
