// Receipts (api/receipt.hpp): the statement's one canonical text, its
// signature by the server's key, and what a client checks of the receipt
// that comes with its reply, a session's value above all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/receipt.hpp"
#include "crypto/primitives.hpp"
#include "util/encoding.hpp"

namespace signet {
namespace {

using ::testing::HasSubstr;

const crypto::PrivateKey& server_key() {
  static const auto k = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
  return *k;
}
const crypto::PrivateKey& other_key() {
  static const auto k = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
  return *k;
}

const std::string kMessage = "pay invoice 1234";
const wire::Reply kReply{0, "verified 16 bytes"};

util::Bytes session_of(std::uint8_t b) {
  return util::Bytes(32, b);
}

ReceiptFacts facts_for(const util::Bytes& session) {
  ReceiptFacts f;
  f.server_key = server_key().public_key().fingerprint();
  f.client_key = other_key().public_key().fingerprint();
  f.session = util::to_hex(session);
  f.time = "2026-12-02T12:34:56Z";
  f.operation = "message";
  f.size = kMessage.size();
  f.sha256 = util::to_hex(crypto::sha256({util::as_bytes(kMessage)}));
  f.status = kReply.status;
  f.reply_sha256 = util::to_hex(crypto::sha256({util::as_bytes(kReply.text)}));
  return f;
}

TEST(Receipt, TheStatementHasOneTextAndParsesBackToIt) {
  const auto f = facts_for(session_of(7));
  const std::string text = format_receipt(f);
  EXPECT_THAT(text, ::testing::StartsWith("signet receipt v1\nprotocol 2\nserver-key SHA256:"));
  EXPECT_THAT(text, HasSubstr("\ntime 2026-12-02T12:34:56Z\noperation message\nsize 16\n"));
  auto back = parse_receipt(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(format_receipt(*back), text);
  EXPECT_EQ(back->session, f.session);
  EXPECT_EQ(back->size, 16u);

  // Every way of writing the same facts otherwise is refused.
  const auto refused = [](std::string t) { return !parse_receipt(t).ok(); };
  std::string t = text;
  EXPECT_TRUE(refused(t.substr(0, t.size() - 1)));  // no last line end
  EXPECT_TRUE(refused(t + "extra 1\n"));            // a line more
  EXPECT_TRUE(refused(std::string(t).replace(t.find("size 16"), 7, "size 016")));  // not canonical
  EXPECT_TRUE(refused(std::string(t).replace(t.find("size 16"), 7, "size  16")));
  EXPECT_TRUE(refused(std::string(t).replace(t.find("status 0"), 8, "status 256")));
  EXPECT_TRUE(refused(std::string(t).replace(t.find("operation message"), 17, "operation other")));
  EXPECT_TRUE(
      refused(std::string(t).replace(t.find("server-key SHA256:"), 18, "server-key MD5:xx")));
  EXPECT_TRUE(
      refused(std::string(t).replace(t.find("signet receipt v1"), 17, "signet receipt v2")));
  std::string upper = t;
  upper[upper.find("sha256 ") + 7] = 'A';  // hex is lowercase
  EXPECT_TRUE(refused(upper));
  std::string swapped = t;  // two lines in the other order
  const auto a = swapped.find("size 16\n");
  const auto b = swapped.find("sha256 ");
  const auto b_end = swapped.find('\n', b) + 1;
  swapped =
      swapped.substr(0, a) + swapped.substr(b, b_end - b) + "size 16\n" + swapped.substr(b_end);
  EXPECT_TRUE(refused(swapped));
}

TEST(Receipt, ASignedReceiptChecksOnlyWithItsOwnStatementAndItsNamedSigner) {
  const auto f = facts_for(session_of(1));
  auto r = sign_receipt(server_key(), f);
  ASSERT_TRUE(r) << r.error().message();
  auto checked = check_receipt(*r);
  ASSERT_TRUE(checked) << checked.error().message();
  EXPECT_EQ(checked->server_key, f.server_key);

  Receipt changed = *r;
  changed.statement[changed.statement.find("status 0") + 7] = '1';
  EXPECT_TRUE(check_receipt(changed).error().is(Errc::bad_tag));
  // Signed by a key other than the server key it names.
  auto forged = sign_receipt(other_key(), f);
  ASSERT_TRUE(forged);
  auto e = check_receipt(*forged);
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().is(Errc::not_verified));
  EXPECT_THAT(e.error().message(), HasSubstr("not by the server key it names"));
}

ReceiptExpected expect(std::uint64_t size, const wire::Reply& reply) {
  return ReceiptExpected{"message", {}, size, crypto::sha256({util::as_bytes(kMessage)}), reply};
}

TEST(Receipt, AClientRefusesAReceiptOfAnotherSessionMessageOrReply) {
  channel::PeerIdentity server;
  server.fingerprint = server_key().public_key().fingerprint();
  server.session = session_of(1);
  const auto data_for = [](const ReceiptFacts& f) {
    return encode_receipt(*sign_receipt(server_key(), f));
  };
  auto ok = check_receipt_for(data_for(facts_for(session_of(1))), server,
                              expect(kMessage.size(), kReply));
  ASSERT_TRUE(ok) << ok.error().message();

  // The same server's receipt from another connection.
  auto other = check_receipt_for(data_for(facts_for(session_of(2))), server,
                                 expect(kMessage.size(), kReply));
  ASSERT_FALSE(other);
  EXPECT_TRUE(other.error().is(Errc::not_verified));
  EXPECT_THAT(other.error().message(), HasSubstr("another session"));

  const auto good = data_for(facts_for(session_of(1)));
  EXPECT_THAT(
      check_receipt_for(good, server, expect(kMessage.size() + 1, kReply)).error().message(),
      HasSubstr("another message"));
  EXPECT_THAT(check_receipt_for(good, server, expect(kMessage.size(), wire::Reply{1, kReply.text}))
                  .error()
                  .message(),
              HasSubstr("another reply"));
  channel::PeerIdentity elsewhere = server;
  elsewhere.fingerprint = other_key().public_key().fingerprint();
  EXPECT_THAT(check_receipt_for(good, elsewhere, expect(kMessage.size(), kReply)).error().message(),
              HasSubstr("another server key"));
  EXPECT_TRUE(check_receipt_for({}, server, expect(kMessage.size(), kReply))
                  .error()
                  .is(Errc::not_verified));
  // Cut anywhere in its framing or statement: refused, never read past.
  for (std::size_t n = 0; n < 4 + 40; ++n) {
    EXPECT_FALSE(
        check_receipt_for(util::ByteSpan(good).first(n), server, expect(kMessage.size(), kReply)))
        << n;
  }
}

TEST(Receipt, APutsStatementNamesItsFileAndOnlyAPutsDoes) {
  auto f = facts_for(session_of(3));
  f.operation = "put";
  f.name = "releases/1.4/signet.tar.gz";
  const std::string text = format_receipt(f);
  EXPECT_THAT(text, HasSubstr("\noperation put\nname releases/1.4/signet.tar.gz\nsize "));
  auto back = parse_receipt(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->name, f.name);
  // A name line on a message, or a put without one, is refused.
  std::string t = text;
  EXPECT_FALSE(parse_receipt(t.replace(t.find("operation put"), 13, "operation message")));
  f.name.clear();
  EXPECT_FALSE(parse_receipt(format_receipt(f)));
}

// Shared-key receipts: a MAC by a key derived from the shared key, checked
// only with that key; a connection takes only its own mode's kind.
TEST(Receipt, ASharedKeyReceiptChecksOnlyWithTheSharedKey) {
  const crypto::SecretBytes psk(util::as_bytes("the shared key of this test, 37 bytes"));
  const crypto::SecretBytes other_psk(util::as_bytes("another shared key, also quite long"));
  const SharedReceiptKey key(psk), other(other_psk);
  auto f = facts_for(session_of(5));
  f.server_key = std::string(kSharedKeyName);
  f.client_key = std::string(kSharedKeyName);
  const Receipt r = sign_receipt(key, f);
  EXPECT_TRUE(is_shared_key_receipt(r.signature));
  EXPECT_THAT(r.signature,
              ::testing::MatchesRegex("signet-receipt-mac hmac-sha256 [0-9a-f]{64}\n"));
  auto checked = check_receipt(r, &key);
  ASSERT_TRUE(checked) << checked.error().message();
  EXPECT_EQ(checked->server_key, "shared-key");
  EXPECT_TRUE(check_receipt(r, &other).error().is(Errc::bad_tag));
  EXPECT_TRUE(check_receipt(r).error().is(Errc::not_verified));
  Receipt changed = r;
  changed.statement[changed.statement.find("status 0") + 7] = '1';
  EXPECT_TRUE(check_receipt(changed, &key).error().is(Errc::bad_tag));
  // One key fingerprint and one "shared-key" is no statement.
  f.client_key = other_key().public_key().fingerprint();
  EXPECT_FALSE(parse_receipt(format_receipt(f)));

  // What a shared-key client checks: its session, and the MAC kind only.
  channel::PeerIdentity server;  // shared-key mode: no fingerprint
  server.session = session_of(5);
  auto ok = check_receipt_for(encode_receipt(r), server, expect(kMessage.size(), kReply), &key);
  ASSERT_TRUE(ok) << ok.error().message();
  server.session = session_of(6);
  EXPECT_THAT(check_receipt_for(encode_receipt(r), server, expect(kMessage.size(), kReply), &key)
                  .error()
                  .message(),
              HasSubstr("another session"));
  server.session = session_of(1);
  auto signed_one = sign_receipt(server_key(), facts_for(session_of(1)));
  ASSERT_TRUE(signed_one);
  EXPECT_THAT(
      check_receipt_for(encode_receipt(*signed_one), server, expect(kMessage.size(), kReply), &key)
          .error()
          .message(),
      HasSubstr("a shared-key server sent a signed receipt"));
  channel::PeerIdentity key_mode;
  key_mode.fingerprint = server_key().public_key().fingerprint();
  key_mode.session = session_of(5);
  EXPECT_THAT(check_receipt_for(encode_receipt(r), key_mode, expect(kMessage.size(), kReply), &key)
                  .error()
                  .message(),
              HasSubstr("shared-key receipt"));
}

TEST(Receipt, AGetsStatementNamesItsFileToo) {
  auto f = facts_for(session_of(4));
  f.operation = "get";
  f.name = "logs/app.log";
  const std::string text = format_receipt(f);
  EXPECT_THAT(text, HasSubstr("\noperation get\nname logs/app.log\nsize "));
  auto back = parse_receipt(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->operation, "get");
  EXPECT_EQ(back->name, "logs/app.log");
  f.name.clear();
  EXPECT_FALSE(parse_receipt(format_receipt(f)));
  // Other operations are not receipts' (yet).
  f.operation = "list";
  f.name = "logs";
  EXPECT_FALSE(parse_receipt(format_receipt(f)));
}

TEST(Receipt, TheFramingRoundTrips) {
  const Receipt r{"statement\n", "-----BEGIN SSH SIGNATURE-----\n"};
  auto back = decode_receipt(encode_receipt(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->statement, r.statement);
  EXPECT_EQ(back->signature, r.signature);
  util::Bytes huge(8, 0);
  util::store_u32(huge.data(), 5000);  // a statement over 4096 bytes
  EXPECT_TRUE(decode_receipt(huge).error().is(Errc::malformed));
}

}  // namespace
}  // namespace signet
