// Key-mode channels back to back in memory: mutual authentication and frames
// both ways for each key type; the server's ClientKeyCheck refusing (with
// its reason reaching the server's log and the client's message) and
// admitting (its per-operation check travelling with the peer); refusals by
// authorized_keys through the check the library and the program give the
// channel (signet::authorized_keys_check: unknown, expired, wrong address,
// removed while running); a changed server key refused by the pin
// callback; the shared-key binding; garbage and every truncation of the
// first flight fed to a server.
#include "channel/tls_channel.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "api/signet.hpp"
#include "keys/authorized_keys.hpp"
#include "proto/frames.hpp"
#include "proto/session.hpp"

namespace signet::channel {
namespace {

namespace fs = std::filesystem;
using util::Bytes;
using util::ByteSpan;

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::path(testing::TempDir()) / "signet-tls-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_text(const fs::path& p, const std::string& s) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
  }
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

crypto::PrivateKey make_key(crypto::KeyType type = crypto::KeyType::ed25519) {
  auto k = crypto::PrivateKey::generate(type);
  if (!k) throw std::runtime_error(k.error().message());
  return std::move(*k);
}

std::string key_line(const crypto::PrivateKey& key, const std::string& options = {},
                     const std::string& comment = "client@test") {
  return (options.empty() ? "" : options + " ") +
         crypto::format_public_key_line(key.public_key(), comment) + "\n";
}

keys::IpAddress ip(const char* text) {
  return *keys::IpAddress::parse(text);
}

std::shared_ptr<const crypto::SecretBytes> psk_of(std::string_view s) {
  return std::make_shared<const crypto::SecretBytes>(util::as_bytes(s));
}

// Pins one server key, as known_hosts would.
ServerKeyCheck pin(const crypto::PublicKey& expected) {
  return [expected](const crypto::PublicKey& got) -> Result<ServerKeyTrust> {
    if (got == expected) return ServerKeyTrust::trusted;
    return Error(Errc::host_key_changed,
                 "pinned " + expected.fingerprint() + ", server presented " + got.fingerprint());
  };
}

// Shared by the tests: a server identity, a client identity and files.
class TlsChannelTest : public ::testing::Test {
 protected:
  TlsChannelTest() : server_key_(make_key()), client_key_(make_key()) {}

  // Writes authorized_keys, which check_from() then checks clients against.
  std::shared_ptr<const TlsServerContext> server_context(const std::string& authorized_keys,
                                                         TlsServerSettings s = {},
                                                         AuthorizedKeysPolicy policy = {}) {
    write_text(dir_ / "authorized_keys", authorized_keys);
    policy.file = std::make_shared<keys::AuthorizedKeysFile>(dir_ / "authorized_keys");
    policy_ = std::make_shared<const AuthorizedKeysPolicy>(std::move(policy));
    auto ctx = TlsServerContext::create(server_key_, std::move(s));
    if (!ctx) throw std::runtime_error(ctx.error().message());
    return *ctx;
  }

  // The authorized_keys check for a client connecting from this address.
  ClientKeyCheck check_from(const char* address) const {
    return authorized_keys_check(policy_, ip(address));
  }

  std::shared_ptr<const TlsClientContext> client_context(
      const crypto::PrivateKey& key, std::shared_ptr<const crypto::SecretBytes> psk = nullptr,
      ServerKeyCheck check = {}) {
    TlsClientSettings s;
    s.check_server_key = check ? check : pin(server_key_.public_key());
    s.psk = std::move(psk);
    auto ctx = TlsClientContext::create(key, std::move(s));
    if (!ctx) throw std::runtime_error(ctx.error().message());
    return *ctx;
  }

  TempDir dir_;
  std::shared_ptr<const AuthorizedKeysPolicy> policy_;
  crypto::PrivateKey server_key_;
  crypto::PrivateKey client_key_;
};

// Two channels and the bytes in flight between them.
struct Link {
  TlsClientChannel& client;
  TlsServerChannel& server;
  Bytes to_server, to_client;
  Result<void> client_result, server_result;

  // Delivers bytes both ways until nothing moves; a side that failed gets
  // nothing more but its last output is still delivered.
  void pump() {
    for (int round = 0; round < 20 && (!to_server.empty() || !to_client.empty()); ++round) {
      if (!to_server.empty()) {
        Bytes in;
        in.swap(to_server);
        if (server_result) server_result = server.receive(in, to_client);
      }
      if (!to_client.empty()) {
        Bytes in;
        in.swap(to_client);
        if (client_result) client_result = client.receive(in, to_server);
      }
    }
  }

  void handshake() {
    client.start(to_server);
    pump();
  }

  // Client sends a message; the server takes it and replies; the client reads the reply.
  Result<std::string> round_trip(std::string_view message) {
    client.send(wire::FrameType::message, {util::as_bytes(message)}, to_server);
    client.flush(to_server);  // as the network layer does before writing
    Bytes in;
    in.swap(to_server);
    if (auto r = server.receive(in, to_client); !r) return r.error();
    auto f = server.next_frame(to_client);
    if (!f) return f.error();
    if (!f->has_value()) return Error(Errc::truncated, "server: no frame");
    const std::string got(util::as_chars((*f)->payload));
    const std::string reply = "got: " + got;
    const std::uint8_t status = 0;
    server.send(wire::FrameType::reply, {ByteSpan(&status, 1), util::as_bytes(reply)}, to_client);
    server.flush(to_client);  // as the network layer does before writing
    if (auto more = server.next_frame(to_client); !more || more->has_value()) {
      return Error(Errc::unexpected_frame, "server: a second frame");
    }
    in.clear();
    in.swap(to_client);
    if (auto r = client.receive(in, to_server); !r) return r.error();
    auto rf = client.next_frame(to_server);
    if (!rf) return rf.error();
    if (!rf->has_value()) return Error(Errc::truncated, "client: no reply");
    EXPECT_EQ((*rf)->type, wire::FrameType::reply);
    auto decoded = wire::decode_reply_payload((*rf)->payload);
    if (!decoded) return decoded.error();
    EXPECT_EQ(got, message);
    return decoded->text;
  }

  // What the client learns when it next reads (in the CLI: waiting for its first reply).
  Result<std::optional<Frame>> client_reads() {
    Bytes in;
    in.swap(to_client);
    if (!in.empty()) {
      if (auto r = client.receive(in, to_server); !r) return r.error();
    }
    return client.next_frame(to_server);
  }
};

template <class T>
void expect_error(const Result<T>& r, Errc e, const std::string& what) {
  ASSERT_FALSE(r.ok()) << what << ": succeeded although it should fail";
  EXPECT_TRUE(r.error().is(e)) << what << ": got \"" << r.error().message() << "\"";
}

// --- Success --------------------------------------------------------------------------

class TlsKeyTypes : public TlsChannelTest, public ::testing::WithParamInterface<crypto::KeyType> {};

TEST_P(TlsKeyTypes, MutualAuthenticationAndFramesBothWays) {
  const auto client_key = make_key(GetParam());
  auto sctx = server_context(key_line(client_key, {}, "alice@laptop"));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  ASSERT_TRUE(link.server_result) << link.server_result.error().message();
  ASSERT_TRUE(link.client_result) << link.client_result.error().message();
  ASSERT_TRUE(client.established());
  ASSERT_TRUE(server.established());

  EXPECT_EQ(server.peer().fingerprint, client_key.public_key().fingerprint());
  EXPECT_EQ(server.peer().comment, "alice@laptop");
  EXPECT_EQ(client.peer().fingerprint, server_key_.public_key().fingerprint());
  EXPECT_NE(server.description().find("TLS_AES_256_GCM_SHA384"), std::string::npos)
      << server.description();
  EXPECT_EQ(client.description(), server.description());
  // Both ends hold the same session value (the TLS exporter), for binding
  // a receipt to this connection.
  EXPECT_EQ(server.peer().session.size(), kSessionSize);
  EXPECT_EQ(client.peer().session, server.peer().session);

  for (const std::string m : {"first", "", "third message"}) {
    auto reply = link.round_trip(m);
    ASSERT_TRUE(reply) << reply.error().message();
    EXPECT_EQ(*reply, "got: " + m);
  }
  // A message larger than one TLS record.
  const std::string big(200000, 'x');
  auto reply = link.round_trip(big);
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->size(), big.size() + 5);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, TlsKeyTypes,
                         ::testing::Values(crypto::KeyType::ed25519, crypto::KeyType::ecdsa_p256,
                                           crypto::KeyType::rsa),
                         [](const auto& param_info) {
                           return std::string(crypto::key_type_label(param_info.param));
                         });

TEST_F(TlsChannelTest, EachConnectionHasASessionValueOfItsOwn) {
  const auto client_key = make_key(crypto::KeyType::ed25519);
  auto sctx = server_context(key_line(client_key, {}, "alice"));
  util::Bytes first;
  for (int i = 0; i < 2; ++i) {
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    TlsClientChannel client(client_context(client_key));
    Link link{client, server, {}, {}, {}, {}};
    link.handshake();
    ASSERT_TRUE(link.server_result && link.client_result);
    ASSERT_EQ(client.peer().session, server.peer().session);
    if (i == 0) {
      first = server.peer().session;
    } else {
      EXPECT_NE(server.peer().session, first);
    }
  }
}

TEST_F(TlsChannelTest, NothingIsWrittenInClearAfterTheHello) {
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  ASSERT_TRUE(server.established());
  const std::string secret = "the launch code is 0000";
  client.send(wire::FrameType::message, {util::as_bytes(secret)}, link.to_server);
  client.flush(link.to_server);  // as the network layer does before writing
  const std::string wire_bytes(util::as_chars(link.to_server));
  EXPECT_EQ(wire_bytes.find("launch code"), std::string::npos);
  EXPECT_EQ(link.to_server[0], 0x17);  // a TLS application_data record
}

// --- Refusals by the server ------------------------------------------------------------

// The server refuses during the handshake; the client, whose handshake is
// already complete in TLS 1.3, learns it from the alert on its next read.
void expect_refused(Link& link, const crypto::PrivateKey& client_key, const std::string& reason) {
  link.handshake();
  ASSERT_FALSE(link.server_result.ok()) << "server admitted the client";
  const Error& e = link.server_result.error();
  EXPECT_TRUE(e.is(Errc::not_authorized)) << e.message();
  EXPECT_NE(e.message().find("not authorized: "), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(client_key.public_key().fingerprint()), std::string::npos)
      << e.message();
  EXPECT_NE(e.message().find(reason), std::string::npos) << e.message();
  EXPECT_FALSE(link.server.established());

  auto read = link.client_reads();
  ASSERT_FALSE(read.ok()) << "client did not notice the refusal";
  EXPECT_TRUE(read.error().is(Errc::not_authorized)) << read.error().message();
  EXPECT_EQ(read.error().detail, "not authorized by this server (your key " +
                                     client_key.public_key().fingerprint() + ")");
}

// --- The server's ClientKeyCheck ----------------------------------------------------------

// Hands a proto::Session's frames to a channel, as net's ChannelSink does.
class SendThrough : public proto::FrameSink {
 public:
  SendThrough(Channel& channel, Bytes& out) : channel_(channel), out_(out) {}
  void send_frame(std::uint8_t type, std::initializer_list<ByteSpan> parts) override {
    channel_.send(static_cast<wire::FrameType>(type), parts, out_);
  }

 private:
  Channel& channel_;
  Bytes& out_;
};

TEST_F(TlsChannelTest, AClientKeyCheckThatRefusesEndsTheHandshakeWithItsError) {
  auto sctx = server_context(key_line(client_key_));  // in the file, but the check decides
  const std::string fingerprint = client_key_.public_key().fingerprint();
  // Whatever the check's code, the server fails with the check's Error (its
  // log line); the client learns only that it was refused: TLS carries
  // the refusal as the bad_certificate alert, which has no text.
  for (const Errc code : {Errc::not_authorized, Errc::io}) {
    SCOPED_TRACE(Error(code).message());
    std::vector<std::string> checked;
    TlsServerChannel server(sctx, [&](const crypto::PublicKey& key) -> Result<ClientAdmission> {
      checked.push_back(key.fingerprint());
      return Error(code, "key " + key.fingerprint() + " refused by the test's check");
    });
    TlsClientChannel client(client_context(client_key_));
    Link link{client, server, {}, {}, {}, {}};
    link.handshake();
    EXPECT_EQ(checked, std::vector<std::string>{fingerprint});
    ASSERT_FALSE(link.server_result.ok()) << "server admitted the client";
    EXPECT_TRUE(link.server_result.error().is(code)) << link.server_result.error().message();
    EXPECT_EQ(link.server_result.error().detail,
              "key " + fingerprint + " refused by the test's check");
    EXPECT_FALSE(server.established());
    EXPECT_TRUE(server.peer().fingerprint.empty());

    auto read = link.client_reads();
    ASSERT_FALSE(read.ok()) << "client did not notice the refusal";
    EXPECT_TRUE(read.error().is(Errc::not_authorized)) << read.error().message();
    EXPECT_EQ(read.error().detail, not_authorized_message(client_key_.public_key()));
  }
}

TEST_F(TlsChannelTest, WithoutAClientKeyCheckEveryClientIsRefused) {
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, ClientKeyCheck{});
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  expect_error(link.server_result, Errc::not_authorized, "server");
  expect_error(link.client_reads(), Errc::not_authorized, "client");
}

TEST_F(TlsChannelTest, AnAdmittedPeerCarriesTheChecksOperationCheckToEveryOperation) {
  auto sctx = server_context("");  // nobody in the file: the check decides
  std::vector<std::uint8_t> asked;
  TlsServerChannel server(sctx, [&asked](const crypto::PublicKey&) -> Result<ClientAdmission> {
    return ClientAdmission{"admitted by the test",
                           [&asked](std::uint8_t kind) -> Result<void> {
                             asked.push_back(kind);
                             if (asked.size() == 1) return {};
                             return Error(Errc::not_authorized,
                                          "only one operation, said the test");
                           },
                           "inbox/of-the-test"};
  });
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  ASSERT_TRUE(link.server_result) << link.server_result.error().message();
  ASSERT_TRUE(server.established());
  EXPECT_EQ(server.peer().fingerprint, client_key_.public_key().fingerprint());
  EXPECT_EQ(server.peer().comment, "admitted by the test");
  EXPECT_EQ(server.peer().folder, "inbox/of-the-test");
  ASSERT_TRUE(server.peer().authorize);
  EXPECT_TRUE(asked.empty()) << "asked about an operation during the handshake";
  ASSERT_EQ(server.protocol_version(), proto::kVersion2);

  // The client opens two message operations; the server's session asks the
  // peer's check about each: the first is opened, the second cancelled with
  // the check's reason, which reaches the client.
  proto::Session client_session(proto::Role::client, proto::kVersion2);
  proto::Session server_session(proto::Role::server, proto::kVersion2, server.peer().authorize);
  SendThrough to_server(client, link.to_server);
  SendThrough to_client(server, link.to_client);
  const auto kind = static_cast<std::uint8_t>(proto::Kind::message);
  auto first = client_session.open(kind, util::as_bytes("one"), true, to_server);
  auto second = client_session.open(kind, util::as_bytes("two"), true, to_server);
  ASSERT_TRUE(first && second);
  client.flush(link.to_server);
  Bytes in;
  in.swap(link.to_server);
  ASSERT_TRUE(server.receive(in, link.to_client));
  std::vector<proto::Event> events;
  for (;;) {
    auto f = server.next_frame(link.to_client);
    ASSERT_TRUE(f) << f.error().message();
    if (!f->has_value()) break;
    auto e =
        server_session.receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, to_client);
    ASSERT_TRUE(e) << e.error().message();
    if (e->has_value()) events.push_back(std::move(**e));
  }
  EXPECT_EQ(asked, (std::vector<std::uint8_t>{kind, kind}));
  ASSERT_EQ(events.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<proto::Opened>(events[0]));
  EXPECT_EQ(std::get<proto::Opened>(events[0]).op, *first);
  ASSERT_TRUE(std::holds_alternative<proto::Refused>(events[1]));
  EXPECT_EQ(std::get<proto::Refused>(events[1]).op, *second);

  server.flush(link.to_client);
  in.clear();
  in.swap(link.to_client);
  ASSERT_TRUE(client.receive(in, link.to_server));
  auto f = client.next_frame(link.to_server);
  ASSERT_TRUE(f && f->has_value());
  auto e = client_session.receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, to_server);
  ASSERT_TRUE(e && e->has_value()) << (e ? "no event" : e.error().message());
  ASSERT_TRUE(std::holds_alternative<proto::Cancelled>(**e));
  const auto& cancelled = std::get<proto::Cancelled>(**e);
  EXPECT_EQ(cancelled.op, *second);
  EXPECT_EQ(cancelled.error.code, wire::ErrorCode::not_authorized);
  EXPECT_EQ(cancelled.error.reason, "only one operation, said the test");
}

// --- Refusals by authorized_keys -----------------------------------------------------------

TEST_F(TlsChannelTest, UnknownKeyIsRefusedWithItsFingerprint) {
  const auto other = make_key();
  auto sctx = server_context(key_line(other));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  expect_refused(link, client_key_, "is not in authorized_keys");
}

TEST_F(TlsChannelTest, EmptyOrMissingAuthorizedKeysAdmitsNobody) {
  auto sctx = server_context("");
  fs::remove(dir_ / "authorized_keys");
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  expect_refused(link, client_key_, "is not in authorized_keys");
}

TEST_F(TlsChannelTest, ExpiredKeyIsRefused) {
  AuthorizedKeysPolicy policy;
  keys::Clock::time_point now = *keys::parse_expiry_time("20300102");
  policy.now = [&now] { return now; };
  auto sctx =
      server_context(key_line(client_key_, "expiry-time=\"20300101\""), {}, std::move(policy));
  {
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    TlsClientChannel client(client_context(client_key_));
    Link link{client, server, {}, {}, {}, {}};
    expect_refused(link, client_key_, "expired at 2030-01-01T00:00:00Z");
  }
  now = *keys::parse_expiry_time("20291231");
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  EXPECT_TRUE(link.server_result) << link.server_result.error().message();
  EXPECT_TRUE(server.established());
}

TEST_F(TlsChannelTest, AddressOutsideFromIsRefused) {
  auto sctx = server_context(key_line(client_key_, "from=\"10.0.0.0/8\""));
  {
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    TlsClientChannel client(client_context(client_key_));
    Link link{client, server, {}, {}, {}, {}};
    expect_refused(link, client_key_, "address 127.0.0.1 not in from=\"10.0.0.0/8\"");
  }
  // An IPv4-mapped address in the network is admitted.
  TlsServerChannel server(sctx, check_from("::ffff:10.1.2.3"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  EXPECT_TRUE(link.server_result) << link.server_result.error().message();
}

TEST_F(TlsChannelTest, KeyRemovedWhileRunningIsRefusedOnTheNextConnection) {
  int reloads = 0;
  AuthorizedKeysPolicy policy;
  policy.on_reload = [&reloads](const keys::AuthorizedKeysFile::Snapshot&) { ++reloads; };
  auto sctx = server_context(key_line(client_key_) + key_line(make_key()), {}, std::move(policy));
  {
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    TlsClientChannel client(client_context(client_key_));
    Link link{client, server, {}, {}, {}, {}};
    link.handshake();
    ASSERT_TRUE(link.server_result) << link.server_result.error().message();
  }
  write_text(dir_ / "authorized_keys", "# nobody\n");
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  expect_refused(link, client_key_, "is not in authorized_keys");
  EXPECT_EQ(reloads, 2);
}

TEST_F(TlsChannelTest, ReloadWarningsAreReportedOncePerReload) {
  std::vector<std::string> warnings;
  AuthorizedKeysPolicy policy;
  policy.on_reload = [&warnings](const keys::AuthorizedKeysFile::Snapshot& snap) {
    warnings.insert(warnings.end(), snap.warnings.begin(), snap.warnings.end());
  };
  auto sctx = server_context("garbage line\n" + key_line(client_key_), {}, std::move(policy));
  for (int i = 0; i < 3; ++i) {
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    TlsClientChannel client(client_context(client_key_));
    Link link{client, server, {}, {}, {}, {}};
    link.handshake();
    ASSERT_TRUE(link.server_result) << link.server_result.error().message();
  }
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("line 1"), std::string::npos) << warnings[0];
}

// --- The client's pin --------------------------------------------------------------------

TEST_F(TlsChannelTest, ChangedServerKeyIsRefusedByThePin) {
  const auto pinned = make_key();
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_, nullptr, pin(pinned.public_key())));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  expect_error(link.client_result, Errc::host_key_changed, "client");
  EXPECT_NE(link.client_result.error().message().find(pinned.public_key().fingerprint()),
            std::string::npos);
  EXPECT_NE(link.client_result.error().message().find(server_key_.public_key().fingerprint()),
            std::string::npos);
  EXPECT_FALSE(client.established());
  // The server hears the client's alert and never sees a message.
  ASSERT_FALSE(link.server_result.ok());
  EXPECT_NE(link.server_result.error().message().find("did not accept this server's key"),
            std::string::npos)
      << link.server_result.error().message();
  EXPECT_FALSE(server.established());
}

// A check that leaves the decision to after the handshake, and counts confirmations.
struct DeferredTrust {
  int checked = 0;
  int confirmed = 0;
  bool refuse = false;
  TlsClientSettings settings() {
    TlsClientSettings s;
    s.check_server_key = [this](const crypto::PublicKey&) -> Result<ServerKeyTrust> {
      ++checked;
      return ServerKeyTrust::confirm;
    };
    s.confirm_server_key = [this](const crypto::PublicKey&) -> Result<void> {
      ++confirmed;
      if (refuse) return Error(Errc::host_key_unknown, "not trusted");
      return {};
    };
    return s;
  }
};

// A client context whose server key check is `trust`'s.
std::shared_ptr<const TlsClientContext> deferring_context(const crypto::PrivateKey& key,
                                                          DeferredTrust& trust) {
  auto ctx = TlsClientContext::create(key, trust.settings());
  if (!ctx) throw std::runtime_error(ctx.error().message());
  return *ctx;
}

// The TLS records (RFC 8446 section 5.1) in a byte stream: offset and length of each.
std::vector<std::pair<std::size_t, std::size_t>> tls_records(const Bytes& stream) {
  std::vector<std::pair<std::size_t, std::size_t>> records;
  for (std::size_t at = 0; at + 5 <= stream.size();) {
    const std::size_t len = util::load_u16(stream.data() + at + 3);
    records.emplace_back(at, 5 + len);
    at += 5 + len;
  }
  return records;
}

TEST_F(TlsChannelTest, ANewServerKeyIsConfirmedOnlyAfterTheServerProvedIt) {
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  DeferredTrust trust;
  TlsClientChannel client(deferring_context(client_key_, trust));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  ASSERT_TRUE(link.client_result) << link.client_result.error().message();
  ASSERT_TRUE(client.established());
  EXPECT_EQ(trust.confirmed, 0);  // not inside the handshake
  // Until confirmed, nothing from the server is taken.
  expect_error(client.next_frame(link.to_server), Errc::host_key_unknown, "unconfirmed");
}

TEST_F(TlsChannelTest, ConfirmedKeyCarriesFramesAndARefusalEndsTheChannel) {
  auto sctx = server_context(key_line(client_key_));
  for (const bool refuse : {false, true}) {
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    DeferredTrust trust;
    trust.refuse = refuse;
    TlsClientChannel client(deferring_context(client_key_, trust));
    Link link{client, server, {}, {}, {}, {}};
    link.handshake();
    ASSERT_TRUE(link.client_result);
    auto confirmed = client.confirm_peer();
    EXPECT_EQ(trust.confirmed, 1);
    if (refuse) {
      expect_error(confirmed, Errc::host_key_unknown, "refused at confirmation");
      continue;
    }
    ASSERT_TRUE(confirmed);
    auto r = link.round_trip("after the confirmation");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, "got: after the confirmation");
    EXPECT_TRUE(client.confirm_peer());  // once settled, nothing more to ask
    EXPECT_EQ(trust.confirmed, 1);
  }
}

TEST_F(TlsChannelTest, AServerThatFailsCertificateVerifyIsNeverConfirmed) {
  // The server's first flight: ServerHello, then encrypted records for
  // EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify
  // and Finished (one record each, as OpenSSL writes them). Spoiling the CertificateVerify
  // record is what a server without the key's private half comes to: the
  // client has seen the key (the check ran) but no proof that the server
  // holds it.
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  DeferredTrust trust;
  TlsClientChannel client(deferring_context(client_key_, trust));
  Bytes to_server, to_client;
  client.start(to_server);
  ASSERT_TRUE(server.receive(to_server, to_client));
  std::vector<std::size_t> encrypted;
  for (const auto& [at, len] : tls_records(to_client)) {
    if (to_client[at] == 0x17) encrypted.push_back(at);
  }
  ASSERT_EQ(encrypted.size(), 5u) << "expected one record per encrypted handshake message";
  to_client[encrypted[3] + 10] ^= 0x01;  // inside CertificateVerify
  Bytes back;
  auto r = client.receive(to_client, back);
  ASSERT_FALSE(r);
  EXPECT_FALSE(client.established());
  EXPECT_EQ(trust.checked, 1);  // the key was seen: deciding then would have been too early
  EXPECT_EQ(trust.confirmed, 0);
}

TEST_F(TlsChannelTest, ClientWithoutACheckRefusesEveryServer) {
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientSettings cs;  // no check_server_key
  auto cctx = TlsClientContext::create(client_key_, std::move(cs));
  ASSERT_TRUE(cctx);
  TlsClientChannel client(*cctx);
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  expect_error(link.client_result, Errc::host_key_unknown, "client");
}

// --- Shared-key binding --------------------------------------------------------------------

TEST_F(TlsChannelTest, RequiredBindingWithTheRightKeyIsAccepted) {
  TlsServerSettings s;
  s.psk = psk_of("a shared key of thirty-two bytes");
  s.require_psk = true;
  auto sctx = server_context(key_line(client_key_), std::move(s));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_, psk_of("a shared key of thirty-two bytes")));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  ASSERT_TRUE(link.server_result) << link.server_result.error().message();
  ASSERT_TRUE(link.client_result) << link.client_result.error().message();
  ASSERT_TRUE(server.established()) << "the binding frame travels with the client's Finished";
  EXPECT_NE(server.description().find("shared key bound"), std::string::npos);
  auto reply = link.round_trip("bound");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(*reply, "got: bound");
}

TEST_F(TlsChannelTest, BindingWithAWrongKeyIsRefused) {
  TlsServerSettings s;
  s.psk = psk_of("the server's shared key");
  s.require_psk = true;
  auto sctx = server_context(key_line(client_key_), std::move(s));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_, psk_of("another shared key")));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  expect_error(link.server_result, Errc::key_mismatch, "server");
  EXPECT_FALSE(server.established());
  auto read = link.client_reads();
  expect_error(read, Errc::key_mismatch, "client");
  EXPECT_NE(read.error().detail.find("peer says:"), std::string::npos) << read.error().message();
}

TEST_F(TlsChannelTest, MissingBindingIsRefusedWhenRequired) {
  TlsServerSettings s;
  s.psk = psk_of("the server's shared key");
  s.require_psk = true;
  auto sctx = server_context(key_line(client_key_), std::move(s));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  ASSERT_TRUE(link.server_result) << link.server_result.error().message();
  EXPECT_FALSE(server.established()) << "established before the binding arrived";
  // The client's first frame is a message: refused, and never handed out.
  client.send(wire::FrameType::message, {util::as_bytes("unbound")}, link.to_server);
  client.flush(link.to_server);  // as the network layer does before writing
  Bytes in;
  in.swap(link.to_server);
  expect_error(server.receive(in, link.to_client), Errc::key_mismatch, "server");
  auto f = server.next_frame(link.to_client);
  EXPECT_TRUE(f && !f->has_value());
  expect_error(link.client_reads(), Errc::key_mismatch, "client");
}

TEST_F(TlsChannelTest, OptionalBindingIsCheckedWhenPresent) {
  TlsServerSettings s;
  s.psk = psk_of("the server's shared key");
  auto sctx = server_context(key_line(client_key_), std::move(s));
  {
    // No binding: fine when not required.
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    TlsClientChannel client(client_context(client_key_));
    Link link{client, server, {}, {}, {}, {}};
    link.handshake();
    ASSERT_TRUE(server.established());
    auto reply = link.round_trip("unbound is fine");
    ASSERT_TRUE(reply) << reply.error().message();
  }
  {
    // A wrong binding is refused even when not required.
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    TlsClientChannel client(client_context(client_key_, psk_of("wrong")));
    Link link{client, server, {}, {}, {}, {}};
    link.handshake();
    ASSERT_TRUE(server.established());
    auto f = server.next_frame(link.to_client);
    expect_error(f, Errc::key_mismatch, "server");
  }
}

TEST_F(TlsChannelTest, ServerWithoutSharedKeySkipsTheBinding) {
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_, psk_of("client has one")));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  ASSERT_TRUE(server.established());
  auto reply = link.round_trip("still delivered");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(server.description().find("bound"), std::string::npos);
}

// --- Frames ----------------------------------------------------------------------------------

TEST_F(TlsChannelTest, ErrorFrameFromThePeerIsReported) {
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  ASSERT_TRUE(server.established());
  server.send_error(Error(Errc::idle_timeout), link.to_client);
  auto read = link.client_reads();
  expect_error(read, Errc::idle_timeout, "client");
}

TEST_F(TlsChannelTest, ApplicationFramesPassUpAsTheyCameWhicheverTheDirection) {
  // The channel is blind to the application protocol: a REPLY from a client
  // goes up unchanged (src/proto refuses it), as does a version 2 frame.
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  const std::uint8_t status = 0;
  client.send(wire::FrameType::reply, {ByteSpan(&status, 1)}, link.to_server);
  client.send(static_cast<wire::FrameType>(0x13), {util::as_bytes("v2")}, link.to_server);
  client.flush(link.to_server);  // as the network layer does before writing
  Bytes in;
  in.swap(link.to_server);
  ASSERT_TRUE(server.receive(in, link.to_client));
  auto f = server.next_frame(link.to_client);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->type, wire::FrameType::reply);
  f = server.next_frame(link.to_client);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ(static_cast<int>((*f)->type), 0x13);
  EXPECT_EQ(util::as_chars((*f)->payload), "v2");
}

TEST_F(TlsChannelTest, AlpnSelectsProtocolVersion2OnlyWhenBothSpeakIt) {
  for (int client_max : {1, 2}) {
    for (int server_max : {1, 2}) {
      SCOPED_TRACE("client " + std::to_string(client_max) + ", server " +
                   std::to_string(server_max));
      TlsServerSettings ss;
      ss.max_protocol = server_max;
      auto sctx = server_context(key_line(client_key_), std::move(ss));
      TlsClientSettings cs;
      cs.check_server_key = pin(server_key_.public_key());
      cs.max_protocol = client_max;
      auto cctx = TlsClientContext::create(client_key_, std::move(cs));
      ASSERT_TRUE(cctx.ok());
      TlsServerChannel server(sctx, check_from("127.0.0.1"));
      TlsClientChannel client(*cctx);
      Link link{client, server, {}, {}, {}, {}};
      link.handshake();
      const int expected = client_max == 2 && server_max == 2 ? 2 : 1;
      EXPECT_EQ(client.protocol_version(), expected);
      EXPECT_EQ(server.protocol_version(), expected);
    }
  }
}

TEST_F(TlsChannelTest, OversizeFrameIsRefusedFromItsHeader) {
  TlsServerSettings s;
  s.max_payload = 100;
  auto sctx = server_context(key_line(client_key_), std::move(s));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  const std::string big(101, 'x');
  client.send(wire::FrameType::message, {util::as_bytes(big)}, link.to_server);
  client.flush(link.to_server);  // as the network layer does before writing
  Bytes in;
  in.swap(link.to_server);
  ASSERT_TRUE(server.receive(in, link.to_client));
  expect_error(server.next_frame(link.to_client), Errc::too_large, "server");
}

TEST_F(TlsChannelTest, AlteredRecordFailsAuthentication) {
  auto sctx = server_context(key_line(client_key_));
  TlsServerChannel server(sctx, check_from("127.0.0.1"));
  TlsClientChannel client(client_context(client_key_));
  Link link{client, server, {}, {}, {}, {}};
  link.handshake();
  client.send(wire::FrameType::message, {util::as_bytes("pay alice 10")}, link.to_server);
  client.flush(link.to_server);  // as the network layer does before writing
  link.to_server[10] ^= 0x01;
  Bytes in;
  in.swap(link.to_server);
  ASSERT_TRUE(server.receive(in, link.to_client));
  expect_error(server.next_frame(link.to_client), Errc::bad_tag, "server");
}

// --- Hostile first flights -------------------------------------------------------------------

TEST_F(TlsChannelTest, EveryTruncationOfTheClientHelloWaitsAndGarbageAfterItFails) {
  auto sctx = server_context(key_line(client_key_));
  TlsClientChannel client(client_context(client_key_));
  Bytes hello;
  client.start(hello);
  ASSERT_GT(hello.size(), 100u);
  ASSERT_EQ(hello[0], 0x16);
  const Bytes garbage(4096, 0xff);
  for (std::size_t len = 1; len < hello.size(); ++len) {
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    Bytes out;
    auto r = server.receive(ByteSpan(hello).first(len), out);
    ASSERT_TRUE(r) << "len " << len << ": " << r.error().message();
    EXPECT_TRUE(out.empty()) << "len " << len;
    EXPECT_FALSE(server.established());
    auto g = server.receive(garbage, out);
    EXPECT_FALSE(g.ok()) << "len " << len << ": garbage accepted";
    EXPECT_FALSE(server.established());
    // A failed channel stays failed.
    EXPECT_FALSE(server.receive(hello, out).ok());
  }
}

TEST_F(TlsChannelTest, RandomGarbageNeverEstablishes) {
  auto sctx = server_context(key_line(client_key_));
  std::mt19937 rng(20240607);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> size(1, 3000);
  for (int i = 0; i < 500; ++i) {
    Bytes junk(size(rng));
    for (auto& b : junk) b = static_cast<std::uint8_t>(byte(rng));
    if (i % 2 == 0) {
      junk[0] = 0x16;  // looks like a TLS handshake record
      if (junk.size() > 2) junk[1] = 0x03;
    }
    TlsServerChannel server(sctx, check_from("127.0.0.1"));
    Bytes out;
    (void)server.receive(junk, out);
    EXPECT_FALSE(server.established());
    auto f = server.next_frame(out);
    EXPECT_TRUE(f && !f->has_value());
  }
}

}  // namespace
}  // namespace signet::channel
