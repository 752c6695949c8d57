// Known-answer tests for the OpenSSL wrappers: RFC 4231 (HMAC-SHA256/512),
// RFC 5869 (HKDF-SHA256); keyed BLAKE2b checked for key dependence.
#include <gtest/gtest.h>

#include "crypto/mac.hpp"
#include "crypto/primitives.hpp"
#include "util/encoding.hpp"

namespace signet::crypto {
namespace {

using util::Bytes;

Bytes hex(std::string_view s) {
  auto b = util::from_hex(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(Bytes{});
}

std::string tag_hex(MacAlgorithm alg, const Bytes& key, const Bytes& data) {
  Mac mac(alg, key);
  Bytes out(mac.tag_size());
  mac.compute({data}, out);
  return util::to_hex(out);
}

// Cases 6 and 7 use a 131-byte key of 0xaa.
#define SIGNET_AA10 "aaaaaaaaaaaaaaaaaaaa"
const char kAa131[] = SIGNET_AA10 SIGNET_AA10 SIGNET_AA10 SIGNET_AA10 SIGNET_AA10 SIGNET_AA10
    SIGNET_AA10 SIGNET_AA10 SIGNET_AA10 SIGNET_AA10 SIGNET_AA10 SIGNET_AA10 SIGNET_AA10 "aa";
#undef SIGNET_AA10
static_assert(sizeof(kAa131) - 1 == 262);

struct Rfc4231Case {
  const char* key;
  const char* data;
  const char* sha256;
  const char* sha512;
};

// RFC 4231 section 4, test cases 1-4, 6 and 7 (case 5 tests truncated output).
const Rfc4231Case kRfc4231[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
     "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
     "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
    {"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
     "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
     "dddddddddddddddd",
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
     "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
     "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819",
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
     "cdcdcdcdcdcdcdcd",
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
     "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
     "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
    {kAa131,
     "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048"
     "617368204b6579204669727374",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
     "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
     "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
    {kAa131,
     "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73"
     "697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a652064617461"
     "2e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e67"
     "20757365642062792074686520484d414320616c676f726974686d2e",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
     "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
     "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},
};

TEST(HmacTest, Rfc4231Sha256) {
  for (const auto& c : kRfc4231) {
    EXPECT_EQ(tag_hex(MacAlgorithm::hmac_sha256, hex(c.key), hex(c.data)), c.sha256);
  }
}

TEST(HmacTest, Rfc4231Sha512) {
  for (const auto& c : kRfc4231) {
    EXPECT_EQ(tag_hex(MacAlgorithm::hmac_sha512, hex(c.key), hex(c.data)), c.sha512);
  }
}

TEST(HmacTest, ReusedContextGivesSameTagAndVerifyRejectsChange) {
  const Bytes key = hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  const Bytes data = hex("4869205468657265");
  Mac mac(MacAlgorithm::hmac_sha256, key);
  Bytes t1(32), t2(32);
  mac.compute({data}, t1);
  mac.compute({std::span(data).first(3), std::span(data).subspan(3)}, t2);
  EXPECT_EQ(t1, t2);
  EXPECT_TRUE(mac.verify({data}, t1));
  t1[31] ^= 1;
  EXPECT_FALSE(mac.verify({data}, t1));
  EXPECT_FALSE(mac.verify({data}, std::span(t2).first(31)));
}

// Keyed BLAKE2b: the tag depends on the key and is not an HMAC tag.
TEST(MacTest, Blake2bIsKeyedAndDiffersFromHmac) {
  Bytes key(32);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  const Bytes data = {'a', 'b', 'c'};
  const auto b1 = tag_hex(MacAlgorithm::blake2b_256, key, data);
  key[0] ^= 1;
  const auto b2 = tag_hex(MacAlgorithm::blake2b_256, key, data);
  EXPECT_EQ(b1.size(), 64u);
  EXPECT_NE(b1, b2);
  EXPECT_NE(b1, tag_hex(MacAlgorithm::hmac_sha256, key, data));
}

// RFC 5869 appendix A.1.
TEST(HkdfTest, Rfc5869Case1) {
  const Bytes ikm = hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  const Bytes salt = hex("000102030405060708090a0b0c");
  const Bytes info = hex("f0f1f2f3f4f5f6f7f8f9");
  Bytes okm(42);
  hkdf_sha256(salt, ikm, info, okm);
  EXPECT_EQ(util::to_hex(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(PrimitivesTest, Sha256AndConstantTimeCompare) {
  const auto d = sha256({util::as_bytes("abc")});
  EXPECT_EQ(util::to_hex(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const Bytes a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4};
  EXPECT_TRUE(constant_time_equal(a, b));
  EXPECT_FALSE(constant_time_equal(a, c));
  EXPECT_FALSE(constant_time_equal(a, std::span(b).first(2)));
}

TEST(PrimitivesTest, Sha256InPiecesEqualsSha256AtOnceAndStartsOverAfterFinish) {
  // FIPS 180-2's two-block example, fed in uneven pieces.
  const std::string msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  Sha256 h;
  h.update(util::as_bytes(std::string_view(msg).substr(0, 1)));
  h.update(util::as_bytes(std::string_view(msg).substr(1, 40)));
  h.update({});
  h.update(util::as_bytes(std::string_view(msg).substr(41)));
  EXPECT_EQ(util::to_hex(h.finish()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  h.update(util::as_bytes("abc"));
  EXPECT_EQ(h.finish(), sha256({util::as_bytes("abc")}));
  Sha256 moved = std::move(h);
  EXPECT_EQ(util::to_hex(moved.finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(PrimitivesTest, RandomBytesDiffer) {
  Bytes a(32), b(32);
  random_bytes(a);
  random_bytes(b);
  EXPECT_NE(a, b);
}

// A midstate taken anywhere, restored in a new hasher, gives the digest of
// the whole stream: what resuming a transfer relies on.
TEST(PrimitivesTest, Sha256ResumedFromAMidstateGivesTheDigestOfTheWholeStream) {
  Bytes data(5000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const auto whole = sha256({data});
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64},
                          std::size_t{65}, std::size_t{4095}, std::size_t{4999}}) {
    Sha256 h;
    h.update(util::ByteSpan(data).first(cut));
    EXPECT_EQ(h.length(), cut);
    EXPECT_EQ(h.peek(), sha256({util::ByteSpan(data).first(cut)})) << cut;
    const Sha256Midstate m = h.midstate();
    EXPECT_EQ(m.length, cut / 64 * 64) << cut;
    Sha256 resumed = Sha256::resume(m);
    EXPECT_EQ(resumed.length(), m.length);
    resumed.update(util::ByteSpan(data).subspan(m.length));
    EXPECT_EQ(resumed.finish(), whole) << cut;
    // peek() left the original going on.
    h.update(util::ByteSpan(data).subspan(cut));
    EXPECT_EQ(h.finish(), whole) << cut;
  }
  // More than 2^32 bits: the length's high word is restored too.
  Sha256Midstate big;
  big.length = (std::uint64_t{1} << 32) + 64;
  big.h = Sha256().midstate().h;
  Sha256 a = Sha256::resume(big);
  Sha256 b = Sha256::resume(big);
  EXPECT_EQ(a.midstate().length, big.length);
  a.update(util::as_bytes("x"));
  b.update(util::as_bytes("y"));
  EXPECT_NE(a.finish(), b.finish());
  Sha256Midstate odd;
  odd.length = 100;
  EXPECT_THROW(Sha256::resume(odd), std::invalid_argument);
}

TEST(PrimitivesTest, ACopiedSha256GoesOnOnItsOwn) {
  Sha256 a;
  a.update(util::as_bytes("ab"));
  Sha256 b = a;
  b.update(util::as_bytes("c"));
  a.update(util::as_bytes("x"));
  EXPECT_EQ(b.finish(), sha256({util::as_bytes("abc")}));
  EXPECT_EQ(a.finish(), sha256({util::as_bytes("abx")}));
}

}  // namespace
}  // namespace signet::crypto
