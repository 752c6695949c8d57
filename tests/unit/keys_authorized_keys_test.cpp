// keys/authorized_keys: options, the authorization decision, reload on
// change, and editing (add, remove, import) by atomic rewrite.
#include "keys/authorized_keys.hpp"
#include "test_support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace signet::keys {
namespace {

namespace fs = std::filesystem;
using test_support::dir_names;
using test_support::mode_of;
using test_support::read_text;

// Each test file names its directories after itself.
struct TempDir : test_support::TempDir {
  TempDir() : test_support::TempDir("signet-authkeys") {}
};
using namespace std::chrono_literals;

void write_text(const fs::path& p, const std::string& s, unsigned mode = 0600) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
  }
  fs::permissions(p, static_cast<fs::perms>(mode));
}

// Moves the file's mtime so a rewrite within the same clock tick is still
// seen as a change even on file systems with coarse timestamps.
void bump_mtime(const fs::path& p, int seconds) {
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = 1'700'000'000 + seconds;
  times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
}

struct TestKey {
  crypto::PublicKey key;
  std::string line;  // "ssh-ed25519 AAAA... comment"
};

TestKey make_key(const std::string& comment) {
  auto k = crypto::PrivateKey::generate(crypto::KeyType::ed25519).value().public_key();
  return {k, crypto::format_public_key_line(k, comment)};
}

IpAddress ip(const char* s) {
  return IpAddress::parse(s).value();
}

const Clock::time_point kNow =
    Clock::time_point(std::chrono::sys_days{std::chrono::year{2025} / std::chrono::June / 15});

TEST(ExpiryTime, ParsesUtcAndRejectsNonsense) {
  EXPECT_EQ(format_utc(parse_expiry_time("20260101").value()), "2026-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(parse_expiry_time("202601021304").value()), "2026-01-02T13:04:00Z");
  EXPECT_EQ(format_utc(parse_expiry_time("20260102130405").value()), "2026-01-02T13:04:05Z");
  EXPECT_EQ(format_utc(parse_expiry_time("20260102130405Z").value()), "2026-01-02T13:04:05Z");
  EXPECT_EQ(format_utc(parse_expiry_time("20240229").value()), "2024-02-29T00:00:00Z");
  for (const char* bad :
       {"", "2026", "202601011", "20260230", "20251301", "20260101246000", "20260101236000",
        "2026010112", "2026-01-01", "20260101ZZ", "Z", "+0260101"}) {
    EXPECT_FALSE(parse_expiry_time(bad)) << bad;
  }
  // Years Clock cannot represent are refused, not wrapped (found by
  // fuzz_keys: "15000101" overflowed to a time in 2084, admitting a key
  // meant to be expired; "00300101" is the fuzzer's input).
  for (const char* out_of_range :
       {"15000101", "00300101123029Z", "00000101", "99991231235959", "23000101", "16770101"}) {
    EXPECT_FALSE(parse_expiry_time(out_of_range)) << out_of_range;
  }
  EXPECT_EQ(format_utc(parse_expiry_time("22620101").value()), "2262-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(parse_expiry_time("16800101").value()), "1680-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(parse_expiry_time("19700101").value()), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(parse_expiry_time("19691231235959").value()), "1969-12-31T23:59:59Z");
}

TEST(AuthorizedKeys, ParsesOptionsAndDecides) {
  const auto alice = make_key("alice@laptop");
  const auto bob = make_key("bob@desk");
  const auto carol = make_key("carol");
  const auto dave = make_key("dave");
  const auto stranger = make_key("stranger");
  const std::string text =
      "# team keys\n"
      "\n" +
      alice.line + "\n" +  // line 3
      "from=\"10.0.0.0/8,192.168.1.7,2001:db8::/32\",allow=\"get,message\" " + bob.line +
      "\n" +                                                                   // line 4
      "expiry-time=\"20250101\" " + carol.line + "\n" +                        // line 5
      "  expiry-time=\"20300101120000\",allow=\"put\" " + dave.line + "  \n";  // line 6
  const auto keys = AuthorizedKeys::parse(text);
  EXPECT_TRUE(keys.warnings().empty()) << keys.warnings().front().to_string();
  ASSERT_EQ(keys.entries().size(), 4u);
  EXPECT_EQ(keys.entries()[0].line, 3u);
  EXPECT_EQ(keys.entries()[0].comment, "alice@laptop");
  EXPECT_EQ(keys.entries()[1].options,
            "from=\"10.0.0.0/8,192.168.1.7,2001:db8::/32\",allow=\"get,message\"");
  EXPECT_EQ(keys.entries()[1].from.size(), 3u);
  EXPECT_EQ(keys.entries()[1].allow->to_string(), "message,get");

  // No restrictions: anything goes.
  auto a = keys.authorize(alice.key, ip("203.0.113.9"), kNow, Operation::put);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->comment, "alice@laptop");
  EXPECT_TRUE(keys.authorize(alice.key.fingerprint(), ip("::1"), kNow));

  // from= and allow=.
  EXPECT_TRUE(keys.authorize(bob.key, ip("10.20.30.40"), kNow, Operation::get));
  EXPECT_TRUE(keys.authorize(bob.key, ip("192.168.1.7"), kNow));
  EXPECT_TRUE(keys.authorize(bob.key, ip("::ffff:10.1.1.1"), kNow));
  EXPECT_TRUE(keys.authorize(bob.key, ip("2001:db8::5"), kNow));
  auto far = keys.authorize(bob.key, ip("192.168.1.8"), kNow);
  ASSERT_FALSE(far);
  EXPECT_TRUE(far.error().is(Errc::not_authorized));
  EXPECT_EQ(far.error().detail,
            "address 192.168.1.8 not in from=\"10.0.0.0/8,192.168.1.7,"
            "2001:db8::/32\" (key " +
                bob.key.fingerprint() + ")");
  auto mapped_far = keys.authorize(bob.key, ip("::ffff:11.1.1.1"), kNow);
  ASSERT_FALSE(mapped_far);
  EXPECT_TRUE(mapped_far.error().detail.starts_with("address 11.1.1.1 not in from="));
  auto put = keys.authorize(bob.key, ip("10.0.0.1"), kNow, Operation::put);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().detail, "operation put not allowed for key " + bob.key.fingerprint() +
                                    " (allow=\"message,get\")");
  EXPECT_TRUE(keys.entries()[1].allows(Operation::message));
  EXPECT_FALSE(keys.entries()[1].allows(Operation::chat));

  // expiry-time in the past and in the future.
  auto expired = keys.authorize(carol.key, ip("10.0.0.1"), kNow);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().detail,
            "key " + carol.key.fingerprint() + " expired at 2025-01-01T00:00:00Z");
  EXPECT_TRUE(keys.authorize(dave.key, ip("10.0.0.1"), kNow, Operation::put));
  EXPECT_FALSE(keys.authorize(dave.key, ip("10.0.0.1"), kNow, Operation::get));
  const auto at_expiry = parse_expiry_time("20300101120000").value();
  EXPECT_TRUE(keys.authorize(dave.key, ip("10.0.0.1"), at_expiry - 1s));
  EXPECT_FALSE(keys.authorize(dave.key, ip("10.0.0.1"), at_expiry));

  // Unknown key.
  auto unknown = keys.authorize(stranger.key, ip("10.0.0.1"), kNow);
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.error().is(Errc::not_authorized));
  EXPECT_EQ(unknown.error().detail,
            "key " + stranger.key.fingerprint() + " is not in authorized_keys");
  EXPECT_FALSE(keys.authorize(stranger.key.fingerprint(), ip("10.0.0.1"), kNow));
}

TEST(AuthorizedKeys, BadLinesAreReportedAndSkippedOthersStillWork) {
  const auto good1 = make_key("good1");
  const auto good2 = make_key("good2");
  const auto k3 = make_key("k3");
  const auto k4 = make_key("k4");
  const auto k5 = make_key("k5");
  const auto k6 = make_key("k6");
  const auto k7 = make_key("k7");
  const std::string text = good1.line + "\n" +                           // 1
                           "no-pty " + k3.line + "\n" +                  // 2 unknown option
                           "ssh-ed25519 AAAA garbage\n" +                // 3 bad key
                           "from=\"example.com\" " + k4.line + "\n" +    // 4 host name
                           "from=\"!10.0.0.1\" " + k5.line + "\n" +      // 5 negation
                           "allow=\"put,delete\" " + k6.line + "\n" +    // 6 unknown operation
                           "expiry-time=\"2026\" " + k7.line + "\n" +    // 7 bad time
                           "from=\"10.0.0.0/8\" " + good1.line + "\n" +  // 8 duplicate
                           "from=\"1.2.3.4\",from=\"5.6.7.8\" " + k3.line + "\n" +  // 9 twice
                           "from=10.0.0.1 " + k4.line + "\n" +                      // 10 unquoted
                           good2.line + "\r\n";  // 11 CRLF is fine
  const auto keys = AuthorizedKeys::parse(text);
  ASSERT_EQ(keys.entries().size(), 2u);
  EXPECT_EQ(keys.entries()[0].comment, "good1");
  EXPECT_EQ(keys.entries()[1].comment, "good2");
  EXPECT_EQ(keys.entries()[1].line, 11u);
  // The duplicate line 8 (with a from= restriction) does not replace line 1.
  EXPECT_TRUE(keys.authorize(good1.key, ip("203.0.113.1"), kNow));

  std::vector<std::pair<std::size_t, std::string>> expected = {
      {2, "unknown option \"no-pty\""},       {3, "public key truncated"},
      {4, "host names are not supported"},    {5, "negation and wildcards are not supported"},
      {6, "unknown operation \"delete\""},    {7, "expiry-time=\"2026\" is not YYYYMMDD"},
      {8, "already appears on line 1"},       {9, "option from given twice"},
      {10, "needs a value in double quotes"},
  };
  ASSERT_EQ(keys.warnings().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& w = keys.warnings()[i];
    EXPECT_EQ(w.line, expected[i].first);
    EXPECT_NE(w.message.find(expected[i].second), std::string::npos) << w.to_string();
    EXPECT_TRUE(w.to_string().starts_with("line " + std::to_string(w.line) + ": "));
  }
  // Every rejected key is refused, not admitted without its restriction.
  for (const auto* k : {&k3, &k4, &k5, &k6, &k7}) {
    EXPECT_FALSE(keys.authorize(k->key, ip("10.0.0.1"), kNow)) << k->line;
  }
}

// dir= confines a key's file operations to a folder below --files: a
// relative name; anything that could point elsewhere refuses the line.
TEST(AuthorizedKeys, DirIsARelativeFolderOrTheLineIsRefused) {
  const auto inbox = make_key("inbox");
  const auto nested = make_key("nested");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "names no folder"}, {"/srv/x", "is absolute"},     {"../x", "component"},
      {"a/../b", "component"}, {"a//b", "component"},         {"a/", "component"},
      {".", "component"},      {"a\tb", "control character"},
  };
  std::string text = "dir=\"alice\" " + inbox.line + "\n" + "dir=\"teams/ops/in\",allow=\"put\" " +
                     nested.line + "\n";
  std::vector<TestKey> refused;
  for (const auto& [value, why] : bad) {
    refused.push_back(make_key("bad"));
    text += "dir=\"" + value + "\" " + refused.back().line + "\n";
  }
  const auto keys = AuthorizedKeys::parse(text);
  ASSERT_EQ(keys.entries().size(), 2u);
  EXPECT_EQ(keys.entries()[0].dir, "alice");
  EXPECT_EQ(keys.entries()[1].dir, "teams/ops/in");
  ASSERT_EQ(keys.warnings().size(), bad.size());
  for (std::size_t i = 0; i < bad.size(); ++i) {
    EXPECT_NE(keys.warnings()[i].message.find(bad[i].second), std::string::npos)
        << bad[i].first << ": " << keys.warnings()[i].message;
    EXPECT_FALSE(keys.authorize(refused[i].key, ip("10.0.0.1"), kNow));
  }
  // Twice is refused too, and a dir= in the comment is caught.
  const auto twice = AuthorizedKeys::parse("dir=\"a\",dir=\"b\" " + inbox.line + "\n");
  EXPECT_TRUE(twice.entries().empty());
  const auto after = AuthorizedKeys::parse(inbox.line + " dir=\"a\"\n");
  EXPECT_TRUE(after.entries().empty());
}

// Options written after the key would only be its comment: the key would be
// admitted without them. Such a line is refused like a bad option.
TEST(AuthorizedKeys, OptionsAfterTheKeyRefuseTheLine) {
  const auto k = make_key("");
  const std::string bare = crypto::format_public_key_line(k.key, "");
  for (const std::string comment :
       {"from=\"10.0.0.0/8\"", "alice@laptop expiry-time=\"20200101\"", "no-pty", "restrict",
        "RESTRICT", "restrict,command=\"true\"", "x,allow=\"get\"", "from=10.0.0.1",
        "laptop\tFrom=\"10.0.0.1\"", "cert-authority", "no-x11-forwarding", "2024-01-01 from="}) {
    const std::string line = bare + " " + comment;
    const auto keys = AuthorizedKeys::parse("# keys\n" + line + "\n");
    EXPECT_TRUE(keys.empty()) << comment;
    ASSERT_EQ(keys.warnings().size(), 1u) << comment;
    EXPECT_EQ(keys.warnings()[0].line, 2u);
    EXPECT_TRUE(keys.warnings()[0].skipped);
    EXPECT_NE(keys.warnings()[0].message.find(
                  " after the key reads as an option: options must come before the key type "
                  "(after it they are only a comment and restrict nothing); line ignored"),
              std::string::npos)
        << keys.warnings()[0].message;
    EXPECT_FALSE(keys.authorize(k.key, ip("203.0.113.1"), kNow)) << comment;
    EXPECT_FALSE(parse_authorized_key(line)) << comment;
  }
  EXPECT_EQ(AuthorizedKeys::parse(bare + " from=\"10.0.0.0/8\"\n").warnings()[0].message,
            "from=\"10.0.0.0/8\" after the key reads as an option: options must come before "
            "the key type (after it they are only a comment and restrict nothing); line "
            "ignored");
  // Comments that merely mention such words are comments.
  for (const std::string comment :
       {"alice@laptop", "from laptop", "key from the build box", "no-ptys", "restricted",
        "fromage=brie", "x@from.example", "pty-less", "allow", ""}) {
    const auto keys = AuthorizedKeys::parse(bare + " " + comment + "\n");
    EXPECT_TRUE(keys.warnings().empty()) << comment << ": " << keys.warnings()[0].message;
    EXPECT_TRUE(keys.authorize(k.key, ip("203.0.113.1"), kNow)) << comment;
  }
  // The option in its place works, comment and all.
  const auto placed = AuthorizedKeys::parse("from=\"10.0.0.0/8\" " + bare + " alice@laptop\n");
  EXPECT_TRUE(placed.warnings().empty());
  EXPECT_TRUE(placed.authorize(k.key, ip("10.0.0.1"), kNow));
  EXPECT_FALSE(placed.authorize(k.key, ip("203.0.113.1"), kNow));
}

// Peers are compared as IPv4 addresses (peer_address() unmaps them), so a
// mapped from= entry is read as its IPv4 network, and an IPv6 entry that
// looks like "anywhere" comes with a warning that it is not.
TEST(AuthorizedKeys, MappedFromEntriesMatchIpv4Clients) {
  const auto a = make_key("a");
  const auto b = make_key("b");
  const auto c = make_key("c");
  const auto d = make_key("d");
  const auto e = make_key("e");
  const std::string text = "from=\"::ffff:10.0.0.0/104,::FFFF:192.168.1.7\" " + a.line +
                           "\n" +                                                        // 1
                           "from=\"::/0\" " + b.line + "\n" +                            // 2
                           "from=\"::/0,0.0.0.0/0\" " + c.line + "\n" +                  // 3
                           "from=\"2001:db8::/32,::/80\" " + d.line + "\n" +             // 4
                           "from=\"2001:db8::/32,::ffff:0.0.0.0/96\" " + e.line + "\n";  // 5
  const auto keys = AuthorizedKeys::parse(text);
  ASSERT_EQ(keys.entries().size(), 5u);
  ASSERT_EQ(keys.entries()[0].from.size(), 2u);
  EXPECT_EQ(keys.entries()[0].from[0].to_string(), "10.0.0.0/8");
  EXPECT_EQ(keys.entries()[0].from[1].to_string(), "192.168.1.7");
  EXPECT_EQ(keys.entries()[4].from[1].to_string(), "0.0.0.0/0");
  EXPECT_TRUE(keys.authorize(a.key, ip("10.1.2.3"), kNow));
  EXPECT_TRUE(keys.authorize(a.key, ip("::ffff:10.1.2.3"), kNow));
  EXPECT_TRUE(keys.authorize(a.key, ip("192.168.1.7"), kNow));
  auto outside = keys.authorize(a.key, ip("11.0.0.1"), kNow);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().detail,
            "address 11.0.0.1 not in from=\"::ffff:10.0.0.0/104,"
            "::FFFF:192.168.1.7\" (key " +
                a.key.fingerprint() + ")");
  EXPECT_FALSE(keys.authorize(a.key, ip("::a00:1"), kNow));

  // ::/0 admits IPv6 clients only; the warning says so (lines 2 and 4).
  EXPECT_TRUE(keys.authorize(b.key, ip("2001:db8::1"), kNow));
  EXPECT_FALSE(keys.authorize(b.key, ip("10.0.0.1"), kNow));
  EXPECT_TRUE(keys.authorize(c.key, ip("10.0.0.1"), kNow));
  EXPECT_TRUE(keys.authorize(e.key, ip("10.0.0.1"), kNow));
  ASSERT_EQ(keys.warnings().size(), 2u);
  EXPECT_EQ(keys.warnings()[0].to_string(),
            "line 2: from= entry ::/0 matches IPv6 clients only, not IPv4 ones; add 0.0.0.0/0 "
            "(or the IPv4 networks meant) to admit those too");
  EXPECT_FALSE(keys.warnings()[0].skipped);
  EXPECT_EQ(keys.warnings()[1].line, 4u);
  EXPECT_NE(keys.warnings()[1].message.find("from= entry ::/80 matches IPv6 clients only"),
            std::string::npos);

  // The server logs them on each load.
  TempDir dir;
  write_text(dir / "authorized_keys", "from=\"::/0\" " + b.line + "\n");
  AuthorizedKeysFile file(dir / "authorized_keys");
  auto snap = file.current();
  EXPECT_TRUE(snap.keys->find(b.key));
  ASSERT_EQ(snap.warnings.size(), 1u);
  EXPECT_TRUE(snap.warnings[0].starts_with((dir / "authorized_keys").string() +
                                           ": line 1: from= entry ::/0 matches IPv6 clients only"))
      << snap.warnings[0];
}

class AuthorizedKeysFileTest : public testing::Test {
 protected:
  TempDir dir_;
  fs::path path_ = dir_ / "authorized_keys";
};

TEST_F(AuthorizedKeysFileTest, ReloadsWhenTheFileChanges) {
  const auto a = make_key("a");
  const auto b = make_key("b");
  write_text(path_, a.line + "\nbogus line\n");
  AuthorizedKeysFile file(path_);

  auto s1 = file.current();
  EXPECT_TRUE(s1.reloaded);
  ASSERT_EQ(s1.warnings.size(), 1u);
  EXPECT_TRUE(s1.warnings[0].starts_with(path_.string() + ": line 2: ")) << s1.warnings[0];
  EXPECT_TRUE(s1.keys->find(a.key));

  // Unchanged: the same snapshot, no warnings repeated.
  auto s2 = file.current();
  EXPECT_FALSE(s2.reloaded);
  EXPECT_TRUE(s2.warnings.empty());
  EXPECT_EQ(s2.keys.get(), s1.keys.get());

  // Rewritten in place with the same size and the same mtime second.
  write_text(path_, b.line + "\nbogus line\n");
  bump_mtime(path_, 1);
  auto s3 = file.current();
  EXPECT_TRUE(s3.reloaded);
  EXPECT_FALSE(s3.keys->find(a.key));
  EXPECT_TRUE(s3.keys->find(b.key));
  // The old snapshot is still valid for whoever holds it.
  EXPECT_TRUE(s1.keys->find(a.key));

  // Replaced by rename (a new inode), as editors and `signet keys` do.
  ASSERT_TRUE(add_authorized_key(path_, a.line));
  auto s4 = file.current();
  EXPECT_TRUE(s4.reloaded);
  EXPECT_TRUE(s4.keys->find(a.key));
  EXPECT_TRUE(s4.keys->find(b.key));
}

TEST_F(AuthorizedKeysFileTest, RemovedFileAdmitsNobody) {
  const auto a = make_key("a");
  write_text(path_, a.line + "\n");
  AuthorizedKeysFile file(path_);
  EXPECT_TRUE(file.current().keys->find(a.key));
  fs::remove(path_);
  auto gone = file.current();
  EXPECT_TRUE(gone.reloaded);
  EXPECT_TRUE(gone.keys->empty());
  ASSERT_EQ(gone.warnings.size(), 1u);
  EXPECT_NE(gone.warnings[0].find("does not exist; no key is admitted"), std::string::npos);
  auto still_gone = file.current();
  EXPECT_FALSE(still_gone.reloaded);
  EXPECT_TRUE(still_gone.keys->empty());
  EXPECT_FALSE(still_gone.keys->authorize(a.key, ip("10.0.0.1"), kNow));
  // And back.
  write_text(path_, a.line + "\n");
  auto back = file.current();
  EXPECT_TRUE(back.reloaded);
  EXPECT_TRUE(back.keys->find(a.key));
}

TEST_F(AuthorizedKeysFileTest, WritableByOthersAdmitsNobody) {
  const auto a = make_key("a");
  write_text(path_, a.line + "\n", 0664);
  AuthorizedKeysFile file(path_);
  auto s = file.current();
  EXPECT_TRUE(s.keys->empty());
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("chmod go-w"), std::string::npos);
  fs::permissions(path_, static_cast<fs::perms>(0644));  // ctime changes
  auto fixed = file.current();
  EXPECT_TRUE(fixed.reloaded);
  EXPECT_TRUE(fixed.keys->find(a.key));
}

TEST_F(AuthorizedKeysFileTest, ConcurrentReadersSeeConsistentSnapshots) {
  const auto a = make_key("a");
  const auto b = make_key("b");
  write_text(path_, a.line + "\n");
  AuthorizedKeysFile file(path_);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        auto s = file.current();
        // Each snapshot is one version of the file: exactly one key.
        if (s.keys->entries().size() != 1) ++bad;
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    const auto& k = i % 2 == 0 ? b : a;
    ASSERT_TRUE(crypto::write_file_atomic(path_, util::as_bytes(k.line + "\n"), 0600,
                                          crypto::Overwrite::yes));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad, 0);
}

TEST_F(AuthorizedKeysFileTest, AddRemoveListPreserveOtherLinesAndMode) {
  const auto a = make_key("alice@host");
  const auto b = make_key("bob@host");
  const std::string original = "# keep this comment\n\nno-pty " + b.line + "\nbroken line\n";
  write_text(path_, original, 0640);

  auto added = add_authorized_key(path_, "allow=\"get\" " + a.line);
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_EQ(added->status, AddStatus::added);
  EXPECT_EQ(added->fingerprint, a.key.fingerprint());
  EXPECT_EQ(added->comment, "alice@host");
  EXPECT_EQ(added->line, 5u);
  EXPECT_EQ(read_text(path_), original + "allow=\"get\" " + a.line + "\n");
  EXPECT_EQ(mode_of(path_), 0640u);

  // Same key again, even with other options: already present, file untouched.
  auto again = add_authorized_key(path_, a.line);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, AddStatus::already_present);
  EXPECT_EQ(again->line, 5u);
  EXPECT_EQ(read_text(path_), original + "allow=\"get\" " + a.line + "\n");

  // Invalid entries are refused before anything is written.
  auto bad = add_authorized_key(path_, "no-pty " + b.line);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().detail.find("unknown option"), std::string::npos);
  std::vector<std::string> batch = {b.line, "garbage"};
  auto bad_batch = add_authorized_keys(path_, batch);
  ASSERT_FALSE(bad_batch);
  EXPECT_TRUE(bad_batch.error().detail.starts_with("entry 2: "));
  EXPECT_EQ(read_text(path_), original + "allow=\"get\" " + a.line + "\n");

  auto listed = read_authorized_keys(path_);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->entries().size(), 1u);
  EXPECT_EQ(listed->entries()[0].options, "allow=\"get\"");
  EXPECT_EQ(listed->warnings().size(), 2u);

  // Remove by fingerprint; also matches the line with the unknown option.
  auto removed = remove_authorized_key(path_, b.key.fingerprint());
  ASSERT_TRUE(removed) << removed.error().message();
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ((*removed)[0].line, 3u);
  EXPECT_EQ(read_text(path_), "# keep this comment\n\nbroken line\nallow=\"get\" " + a.line + "\n");
  // Remove by key line.
  auto removed_a = remove_authorized_key(path_, a.line);
  ASSERT_TRUE(removed_a);
  EXPECT_EQ((*removed_a)[0].comment, "alice@host");
  EXPECT_EQ(read_text(path_), "# keep this comment\n\nbroken line\n");
  EXPECT_EQ(mode_of(path_), 0640u);

  auto missing = remove_authorized_key(path_, a.key.fingerprint());
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(Errc::not_authorized));
  EXPECT_EQ(missing.error().detail, "key " + a.key.fingerprint() + " is not in " + path_.string());
  EXPECT_FALSE(remove_authorized_key(path_, "not a key"));

  EXPECT_EQ(dir_names(dir_.path()), std::vector<std::string>{"authorized_keys"});
}

TEST_F(AuthorizedKeysFileTest, AddCreatesFileAndRemovesAllDuplicates) {
  const auto a = make_key("a");
  ASSERT_FALSE(read_authorized_keys(path_));
  auto added = add_authorized_key(path_, a.line);
  ASSERT_TRUE(added);
  EXPECT_EQ(mode_of(path_), 0600u);
  EXPECT_EQ(read_text(path_), a.line + "\n");

  // A file without a final newline gets one before the appended line.
  const auto b = make_key("b");
  write_text(path_, a.line + "\n" + "from=\"10.0.0.1\" " + a.line);
  ASSERT_TRUE(add_authorized_key(path_, b.line));
  EXPECT_EQ(read_text(path_), a.line + "\n" + "from=\"10.0.0.1\" " + a.line + "\n" + b.line + "\n");
  auto removed = remove_authorized_key(path_, a.key.fingerprint());
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->size(), 2u);
  EXPECT_EQ(read_text(path_), b.line + "\n");

  // Batch with a duplicate inside it.
  std::vector<std::string> batch = {a.line, b.line, a.line};
  auto outcomes = add_authorized_keys(path_, batch);
  ASSERT_TRUE(outcomes);
  ASSERT_EQ(outcomes->size(), 3u);
  EXPECT_EQ((*outcomes)[0].status, AddStatus::added);
  EXPECT_EQ((*outcomes)[1].status, AddStatus::already_present);
  EXPECT_EQ((*outcomes)[2].status, AddStatus::already_present);
  EXPECT_EQ(read_text(path_), b.line + "\n" + a.line + "\n");
  EXPECT_EQ(dir_names(dir_.path()), std::vector<std::string>{"authorized_keys"});
}

TEST_F(AuthorizedKeysFileTest, ImportDirectory) {
  const auto a = make_key("alice@host");
  const auto b = make_key("bob@host");
  const auto c = make_key("carol@host");
  const fs::path incoming = dir_ / "incoming";
  fs::create_directory(incoming);
  write_text(incoming / "alice.pub", a.line + "\n", 0644);
  write_text(incoming / "bob.pub", "# bob's key\n" + b.line + "\n", 0644);
  write_text(incoming / "bob-again.pub", b.line + "\n", 0644);
  write_text(incoming / "bad.pub", "ssh-ed25519 AAAA\n", 0644);
  write_text(incoming / "empty.pub", "\n", 0644);
  write_text(incoming / "two.pub", a.line + "\n" + c.line + "\n", 0644);
  write_text(incoming / "carol.txt", c.line + "\n", 0644);  // not *.pub: ignored
  fs::create_directory(incoming / "dir.pub");
  ASSERT_TRUE(add_authorized_key(path_, a.line));

  auto report = import_directory(path_, incoming);
  ASSERT_TRUE(report) << report.error().message();
  ASSERT_EQ(report->added.size(), 1u);
  EXPECT_EQ(report->added[0].file, "bob-again.pub");  // name order: bob-again before bob
  EXPECT_EQ(report->added[0].fingerprint, b.key.fingerprint());
  EXPECT_EQ(report->added[0].comment, "bob@host");
  ASSERT_EQ(report->already_present.size(), 2u);
  EXPECT_EQ(report->already_present[0].file, "alice.pub");
  EXPECT_EQ(report->already_present[1].file, "bob.pub");
  ASSERT_EQ(report->bad.size(), 4u);
  EXPECT_EQ(report->bad[0].file, "bad.pub");
  EXPECT_NE(report->bad[0].reason.find("truncated"), std::string::npos);
  EXPECT_EQ(report->bad[1].file, "dir.pub");
  EXPECT_EQ(report->bad[2].file, "empty.pub");
  EXPECT_EQ(report->bad[2].reason, "holds no key");
  EXPECT_EQ(report->bad[3].file, "two.pub");
  EXPECT_EQ(report->bad[3].reason, "holds 2 key lines; expected one");

  EXPECT_EQ(read_text(path_), a.line + "\n" + b.line + "\n");
  EXPECT_FALSE(import_directory(path_, dir_ / "nope"));
  EXPECT_EQ(dir_names(dir_.path()), (std::vector<std::string>{"authorized_keys", "incoming"}));
}

// A uid that is neither ours nor root's, for chown (only root may give a file
// away, so the tests that need one skip when not run as root).
constexpr uid_t kOtherUid = 54321;

bool give_away(const fs::path& p) {
  return ::geteuid() == 0 && ::lchown(p.c_str(), kOtherUid, kOtherUid) == 0;
}

TEST_F(AuthorizedKeysFileTest, ImportRefusesAFolderOthersCanWrite) {
  const auto a = make_key("alice@host");
  const fs::path incoming = dir_ / "incoming";
  fs::create_directory(incoming);
  write_text(incoming / "alice.pub", a.line + "\n", 0644);
  for (unsigned mode : {0777u, 0775u, 0757u, 01777u}) {
    fs::permissions(incoming, static_cast<fs::perms>(mode));
    auto report = import_directory(path_, incoming);
    ASSERT_FALSE(report) << std::oct << mode;
    EXPECT_TRUE(report.error().is(Errc::config));
    EXPECT_EQ(report.error().detail, incoming.string() +
                                         " is writable by group or others (run: chmod go-w " +
                                         incoming.string() + "); no key was imported");
    EXPECT_FALSE(fs::exists(path_));
  }
  // Through a symlink, the folder it points to is judged.
  const fs::path link = dir_ / "link";
  fs::create_directory_symlink(incoming, link);
  EXPECT_FALSE(import_directory(path_, link));
  EXPECT_FALSE(fs::exists(path_));

  fs::permissions(incoming, static_cast<fs::perms>(0755));
  auto fixed = import_directory(path_, link);
  ASSERT_TRUE(fixed) << fixed.error().message();
  EXPECT_EQ(fixed->added.size(), 1u);

  if (!give_away(incoming)) GTEST_SKIP() << "chown needs root";
  fs::remove(path_);
  auto foreign = import_directory(path_, incoming);
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().detail,
            incoming.string() + " belongs to uid 54321, neither this user (uid " +
                std::to_string(::geteuid()) + ") nor root; no key was imported");
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(AuthorizedKeysFileTest, ImportSkipsKeyFilesOthersCouldWrite) {
  const auto a = make_key("alice@host");
  const auto b = make_key("bob@host");
  const auto c = make_key("carol@host");
  const auto d = make_key("dave@host");
  const auto e = make_key("erin@host");
  const fs::path incoming = dir_ / "incoming";
  const fs::path elsewhere = dir_ / "elsewhere";
  fs::create_directory(incoming);
  fs::create_directory(elsewhere);
  write_text(incoming / "alice.pub", a.line + "\n", 0666);
  write_text(incoming / "bob.pub", b.line + "\n", 0620);
  // A symlink is judged by the file it leads to.
  write_text(elsewhere / "carol", c.line + "\n", 0666);
  fs::create_symlink(elsewhere / "carol", incoming / "carol.pub");
  write_text(elsewhere / "dave", d.line + "\n", 0644);
  fs::create_symlink(elsewhere / "dave", incoming / "dave.pub");
  write_text(incoming / "erin.pub", e.line + "\n", 0644);

  auto report = import_directory(path_, incoming);
  ASSERT_TRUE(report) << report.error().message();
  ASSERT_EQ(report->added.size(), 2u);
  EXPECT_EQ(report->added[0].file, "dave.pub");
  EXPECT_EQ(report->added[1].file, "erin.pub");
  ASSERT_EQ(report->bad.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string name = std::vector<std::string>{"alice.pub", "bob.pub", "carol.pub"}[i];
    const fs::path shown = incoming / name;
    EXPECT_EQ(report->bad[i].file, name);
    EXPECT_EQ(report->bad[i].reason, shown.string() +
                                         " is writable by group or others (run: chmod go-w " +
                                         shown.string() + "); not imported");
  }
  EXPECT_EQ(read_text(path_), d.line + "\n" + e.line + "\n");

  if (!give_away(elsewhere / "dave")) GTEST_SKIP() << "chown needs root";
  give_away(incoming / "erin.pub");
  fs::remove(path_);
  auto foreign = import_directory(path_, incoming);
  ASSERT_TRUE(foreign);
  EXPECT_TRUE(foreign->added.empty());
  ASSERT_EQ(foreign->bad.size(), 5u);
  EXPECT_EQ(foreign->bad[3].file, "dave.pub");
  EXPECT_NE(foreign->bad[3].reason.find("belongs to uid 54321, neither this user"),
            std::string::npos);
  EXPECT_NE(foreign->bad[4].reason.find("belongs to uid 54321"), std::string::npos);
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(AuthorizedKeysFileTest, OwnedByAnotherUserAdmitsNobody) {
  const auto a = make_key("a");
  write_text(path_, a.line + "\n", 0644);
  if (!give_away(path_)) GTEST_SKIP() << "chown needs root";
  AuthorizedKeysFile file(path_);
  auto s = file.current();
  EXPECT_TRUE(s.keys->empty());
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_EQ(s.warnings[0], path_.string() + " belongs to uid 54321, neither this user (uid " +
                               std::to_string(::geteuid()) + ") nor root; no key is admitted");
}

}  // namespace
}  // namespace signet::keys
