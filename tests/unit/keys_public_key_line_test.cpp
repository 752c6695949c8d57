// keys/public_key_line and keys/ip_address: OpenSSH key lines, the options
// tokenizer, and address/network matching.
#include "keys/public_key_line.hpp"

#include <gtest/gtest.h>

#include <random>

#include "keys/ip_address.hpp"
#include "util/encoding.hpp"

namespace signet::keys {
namespace {

crypto::PublicKey fresh_key(crypto::KeyType t = crypto::KeyType::ed25519) {
  return crypto::PrivateKey::generate(t).value().public_key();
}

TEST(PublicKeyLine, ParsesPlainLineAndRoundTrips) {
  const auto key = fresh_key();
  const std::string text = crypto::format_public_key_line(key, "alice@host extra words");
  auto line = parse_public_key_line("  " + text + " \t");
  ASSERT_TRUE(line) << line.error().message();
  EXPECT_TRUE(line->key == key);
  EXPECT_EQ(line->comment, "alice@host extra words");
  EXPECT_TRUE(line->options.empty());
  EXPECT_TRUE(line->parsed_options.empty());
  EXPECT_EQ(format_line(*line), text);

  auto no_comment = parse_public_key_line(crypto::format_public_key_line(key, ""));
  ASSERT_TRUE(no_comment);
  EXPECT_EQ(no_comment->comment, "");
}

TEST(PublicKeyLine, ParsesOptionsWithQuotedCommasAndSpaces) {
  const auto key = fresh_key();
  const std::string opts = R"(from="10.0.0.0/8,::1",EXPIRY-time="20300101",x="a \"b\" c")";
  auto line = parse_public_key_line(opts + " " + crypto::format_public_key_line(key, "c"));
  ASSERT_TRUE(line) << line.error().message();
  EXPECT_EQ(line->options, opts);
  ASSERT_EQ(line->parsed_options.size(), 3u);
  EXPECT_EQ(line->parsed_options[0].name, "from");
  EXPECT_EQ(line->parsed_options[0].value, "10.0.0.0/8,::1");
  EXPECT_EQ(line->parsed_options[1].name, "expiry-time");
  EXPECT_EQ(line->parsed_options[1].value, "20300101");
  EXPECT_EQ(line->parsed_options[2].value, R"(a "b" c)");
  EXPECT_EQ(format_line(*line), opts + " " + crypto::format_public_key_line(key, "c"));

  auto flags = parse_options("no-pty,restrict");
  ASSERT_TRUE(flags);
  ASSERT_EQ(flags->size(), 2u);
  EXPECT_FALSE((*flags)[0].value.has_value());
}

TEST(PublicKeyLine, RejectsBadOptions) {
  for (const char* bad : {"", ",", "a,,b", "a,", "from=10.0.0.1", "from=\"x", "a=\"b\"c", "na me",
                          "a=\"b\",=\"c\""}) {
    EXPECT_FALSE(parse_options(bad)) << bad;
  }
  const auto key_text = crypto::format_public_key_line(fresh_key(), "");
  auto unterminated = parse_public_key_line("from=\"10.0.0.1 " + key_text);
  ASSERT_FALSE(unterminated);
  EXPECT_NE(unterminated.error().detail.find("unterminated"), std::string::npos);
}

TEST(PublicKeyLine, RejectsMalformedLines) {
  const auto key = fresh_key();
  const std::string b64 = util::base64_encode(key.ssh_blob());
  struct Case {
    std::string line;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"", "empty line"},
      {"ssh-ed25519", "missing key data"},
      {"ssh-ed25519 !!!notbase64", "not valid base64"},
      {"ssh-rsa " + b64, "does not match the encoded key"},
      {"ssh-dss AAAAB3NzaC1kc3M=", "unsupported key type"},
      {"ecdsa-sha2-nistp384 AAAA", "unsupported key type"},
      {"sk-ssh-ed25519@openssh.com AAAA", "unsupported key type"},
      {"from=\"1.2.3.4\" ssh-dss AAAA", "unsupported key type"},
      {"from=\"1.2.3.4\"", "not a key line"},
      {"ssh-ed25519 " + b64 + " bad\x01comment", "control character"},
      {"ssh-ed25519 " + b64.substr(0, b64.size() - 4), "truncated"},
  };
  for (const auto& c : cases) {
    auto r = parse_public_key_line(c.line);
    ASSERT_FALSE(r) << c.line;
    EXPECT_NE(r.error().detail.find(c.reason), std::string::npos)
        << c.line << " -> " << r.error().detail;
  }
  EXPECT_TRUE(
      parse_public_key_line(std::string(kMaxKeyLineLength + 1, 'a')).error().is(Errc::too_large));
}

TEST(PublicKeyLine, EveryTruncationOfALineFails) {
  const std::string text =
      crypto::format_public_key_line(fresh_key(crypto::KeyType::ecdsa_p256), "");
  for (std::size_t len = 0; len < text.size(); ++len) {
    EXPECT_FALSE(parse_public_key_line(text.substr(0, len))) << len;
  }
}

TEST(PublicKeyLine, RandomGarbageFails) {
  std::mt19937 rng(7);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \",-";
  for (int i = 0; i < 2000; ++i) {
    std::string s = i % 2 == 0 ? "ssh-ed25519 " : "";
    const std::size_t n = rng() % 120;
    for (std::size_t j = 0; j < n; ++j) s += alphabet[rng() % alphabet.size()];
    EXPECT_FALSE(parse_public_key_line(s)) << s;
  }
}

TEST(IpAddress, ParsesAndPrints) {
  EXPECT_EQ(IpAddress::parse("10.1.2.3")->to_string(), "10.1.2.3");
  EXPECT_TRUE(IpAddress::parse("10.1.2.3")->is_v4());
  EXPECT_EQ(IpAddress::parse("2001:DB8:0:0::1")->to_string(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::parse("2001:db8::1")->is_v4());
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "[::1]",
                          "fe80::1%eth0", "host.example", " 1.2.3.4", "1.2.3.4/8"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
  // An embedded NUL must not end the address early (found by fuzz_keys:
  // inet_pton stopped there, so "::ffff:10.1.2.0\0.../120" was a /120 network).
  using namespace std::string_view_literals;
  for (std::string_view bad : {"10.0.0.1\0"sv, "10.0.0.1\0junk"sv, "::1\0:2"sv}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad.size();
  }
  EXPECT_FALSE(IpNetwork::parse("::ffff:10.1.2.0\0\0/120"sv));
  EXPECT_FALSE(IpNetwork::parse("10.0.0.0\0/8"sv));
  const std::uint8_t v4[] = {192, 168, 0, 1};
  EXPECT_EQ(IpAddress::from_bytes(v4)->to_string(), "192.168.0.1");
  EXPECT_FALSE(IpAddress::from_bytes(util::ByteSpan(v4).first(3)));
  const auto mapped = IpAddress::parse("::ffff:10.1.2.3");
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(mapped->is_v4());
  EXPECT_EQ(mapped->unmapped(), *IpAddress::parse("10.1.2.3"));
  EXPECT_EQ(IpAddress::parse("::1")->unmapped(), *IpAddress::parse("::1"));
}

TEST(IpNetwork, MatchesV4V6CidrAndMapped) {
  const auto ip = [](const char* s) { return IpAddress::parse(s).value(); };
  const auto net = [](const char* s) { return IpNetwork::parse(s).value(); };
  EXPECT_TRUE(net("10.0.0.0/8").contains(ip("10.255.1.2")));
  EXPECT_FALSE(net("10.0.0.0/8").contains(ip("11.0.0.1")));
  EXPECT_TRUE(net("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")));
  EXPECT_FALSE(net("10.0.0.0/8").contains(ip("::ffff:11.9.9.9")));
  EXPECT_TRUE(net("192.168.1.128/25").contains(ip("192.168.1.200")));
  EXPECT_FALSE(net("192.168.1.128/25").contains(ip("192.168.1.100")));
  EXPECT_TRUE(net("10.1.2.3").contains(ip("10.1.2.3")));
  EXPECT_FALSE(net("10.1.2.3").contains(ip("10.1.2.4")));
  EXPECT_TRUE(net("0.0.0.0/0").contains(ip("8.8.8.8")));
  EXPECT_FALSE(net("0.0.0.0/0").contains(ip("2001:db8::1")));
  EXPECT_TRUE(net("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(net("2001:db8::/32").contains(ip("2001:db9::1")));
  EXPECT_FALSE(net("2001:db8::/32").contains(ip("10.0.0.1")));
  EXPECT_TRUE(net("::1").contains(ip("::1")));
  // An IPv6 network written in mapped form matches the mapped peer as is.
  EXPECT_TRUE(net("::ffff:10.0.0.0/104").contains(ip("::ffff:10.1.1.1")));
  EXPECT_EQ(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
  EXPECT_EQ(net("10.0.0.1").to_string(), "10.0.0.1");

  for (const char* bad : {"10.1.2.3/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
                          "::/129", "2001:db8::1/32", "host/8", "", "/8"}) {
    auto r = IpNetwork::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(Errc::malformed));
  }
}

}  // namespace
}  // namespace signet::keys
