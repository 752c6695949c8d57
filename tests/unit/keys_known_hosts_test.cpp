// keys/known_hosts and keys/paths: pins per HOST:PORT, changed-key
// detection, atomic edits; default configuration paths.
#include "keys/known_hosts.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "keys/paths.hpp"

namespace signet::keys {
namespace {

namespace fs = std::filesystem;
using test_support::mode_of;
using test_support::read_text;

// Each test file names its directories after itself.
struct TempDir : test_support::TempDir {
  TempDir() : test_support::TempDir("signet-known") {}
};

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

crypto::PublicKey fresh_key() {
  return crypto::PrivateKey::generate(crypto::KeyType::ed25519).value().public_key();
}

TEST(KnownHosts, NormalizesHostPort) {
  EXPECT_EQ(normalize_host_port("Example.COM:7000").value(), "example.com:7000");
  EXPECT_EQ(normalize_host_port("10.0.0.1:22").value(), "10.0.0.1:22");
  EXPECT_EQ(normalize_host_port("[0:0::1]:7000").value(), "[::1]:7000");
  EXPECT_EQ(normalize_host_port("[2001:DB8::1]:443").value(), "[2001:db8::1]:443");
  EXPECT_EQ(normalize_host_port("host:007").value(), "host:7");
  for (const char* bad :
       {"", "host", "host:", "host:0", "host:65536", "host:12a", "::1:7000", "[::1]", "[::1]7000",
        "[10.0.0.1]:7", "[::1:7000", "ho st:7", "host/x:7", ":7000", "host:-1", "host:+7"}) {
    auto r = normalize_host_port(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(Errc::config));
  }
  // A NUL inside the brackets does not end the address (found by fuzz_keys).
  EXPECT_FALSE(normalize_host_port(std::string_view("[::1\0junk]:7000", 15)));
}

// Every spelling the resolver reads as one address is that address's pin.
TEST(KnownHosts, NumericHostsAreTheAddressTheConnectionGoesTo) {
  for (const char* same : {"127.0.0.1:7000", "127.000.000.001:7000", "127.1:7000", "127.0.1:7000",
                           "0x7f.1:7000", "0X7F.0.0.1:7000", "0177.0.0.1:7000", "2130706433:7000",
                           "0x7f000001:7000", "[::ffff:127.0.0.1]:7000", "[::FFFF:7f00:1]:7000"}) {
    auto r = normalize_host_port(same);
    ASSERT_TRUE(r) << same << ": " << r.error().message();
    EXPECT_EQ(*r, "127.0.0.1:7000") << same;
  }
  // Leading zeros are octal, as for inet_aton.
  EXPECT_EQ(normalize_host_port("010.0.0.1:7").value(), "8.0.0.1:7");
  EXPECT_EQ(normalize_host_port("10.0.0.010:7").value(), "10.0.0.8:7");
  // What inet_aton refuses is a name, even when it starts with digits.
  for (const char* name : {"1password.example", "08.0.0.1", "1.2.3.4.5", "256.1.1.1", "4294967296",
                           "0x", "127.0.0.1a", "123", "1e3.example"}) {
    const std::string hp = std::string(name) + ":7";
    auto r = normalize_host_port(hp);
    if (std::string_view(name) == "123") {
      EXPECT_EQ(r.value(), "0.0.0.123:7");  // a plain number is an address too
      continue;
    }
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(*r, hp) << name;
  }
  // One trailing dot is dropped from a name; a numeric address with one is
  // refused, since the resolver looks that up as a name.
  EXPECT_EQ(normalize_host_port("Example.COM.:7000").value(), "example.com:7000");
  EXPECT_EQ(normalize_host_port("1password.example.:7000").value(), "1password.example:7000");
  for (const char* bad : {"127.0.0.1.:7000", "127.1.:7000", "0x7f.1.:7000", "example.com..:7000",
                          ".:7000", "..:7000"}) {
    auto r = normalize_host_port(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(Errc::config));
  }
  EXPECT_NE(normalize_host_port("127.0.0.1.:7000").error().detail.find("trailing dot"),
            std::string::npos);
  // Canonical forms are fixed points.
  for (const char* hp : {"127.0.0.1:7000", "8.0.0.1:7", "example.com:7000", "[::1]:7"}) {
    EXPECT_EQ(normalize_host_port(hp).value(), hp);
  }
}

TEST(KnownHosts, APinHoldsForEverySpellingOfTheHost) {
  TempDir dir;
  KnownHosts hosts(dir / "known_hosts");
  const auto pinned = fresh_key();
  const auto other = fresh_key();
  ASSERT_TRUE(hosts.add("127.0.0.1:7000", pinned));
  ASSERT_TRUE(hosts.add("example.com:7000", pinned));
  for (const char* spelling : {"127.000.000.001:7000", "127.1:7000", "0x7f.1:7000",
                               "2130706433:7000", "[::ffff:127.0.0.1]:7000", "EXAMPLE.com.:7000"}) {
    auto check = hosts.check(spelling, other);
    ASSERT_TRUE(check) << spelling;
    EXPECT_EQ(check->status, HostStatus::changed) << spelling;
    // --accept-new cannot pin a second key under another spelling.
    auto added = hosts.add(spelling, other);
    ASSERT_FALSE(added) << spelling;
    EXPECT_TRUE(added.error().is(Errc::host_key_changed));
  }
  // A pin written under another spelling by hand is found too.
  const fs::path path = dir / "hand_written";
  write_text(path, "0x7f.1:7000 " + crypto::format_public_key_line(pinned, "") + "\n");
  EXPECT_EQ(KnownHosts(path).check("127.0.0.1:7000", pinned)->status, HostStatus::known);
}

TEST(KnownHosts, AddLookupCheckAndChangedKey) {
  TempDir dir;
  KnownHosts hosts(dir / "known_hosts");
  const auto k1 = fresh_key();
  const auto k2 = fresh_key();

  // No file yet: unknown, not an error.
  auto none = hosts.lookup("server:7000");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(hosts.check("server:7000", k1)->status, HostStatus::unknown);

  ASSERT_TRUE(hosts.add("Server:7000", k1, "first seen 2025-06-15"));
  EXPECT_EQ(mode_of(hosts.path()), 0600u);
  EXPECT_EQ(read_text(hosts.path()),
            "server:7000 " + crypto::format_public_key_line(k1, "first seen 2025-06-15") + "\n");
  auto found = hosts.lookup("SERVER:7000");
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_TRUE(**found == k1);
  EXPECT_FALSE(hosts.lookup("server:7001")->has_value());

  auto same = hosts.check("server:7000", k1);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, HostStatus::known);
  EXPECT_EQ(same->line, 1u);

  auto changed = hosts.check("server:7000", k2);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->status, HostStatus::changed);
  ASSERT_TRUE(changed->pinned);
  EXPECT_EQ(changed->pinned->fingerprint(), k1.fingerprint());

  // Adding the same key again changes nothing; another key is refused.
  const std::string before = read_text(hosts.path());
  ASSERT_TRUE(hosts.add("server:7000", k1));
  EXPECT_EQ(read_text(hosts.path()), before);
  auto refused = hosts.add("server:7000", k2);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(Errc::host_key_changed));
  EXPECT_NE(refused.error().detail.find(k1.fingerprint()), std::string::npos);
  EXPECT_NE(refused.error().detail.find(k2.fingerprint()), std::string::npos);
  EXPECT_EQ(read_text(hosts.path()), before);

  // Other hosts are independent; replace swaps the pin and keeps the rest.
  ASSERT_TRUE(hosts.add("[::1]:7000", k2));
  ASSERT_TRUE(hosts.add("server:7000", k2, "", Replace::yes));
  EXPECT_TRUE(**hosts.lookup("server:7000") == k2);
  EXPECT_TRUE(**hosts.lookup("[0::1]:7000") == k2);
  EXPECT_EQ(read_text(hosts.path()), "[::1]:7000 " + crypto::format_public_key_line(k2, "") +
                                         "\nserver:7000 " + crypto::format_public_key_line(k2, "") +
                                         "\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);

  EXPECT_TRUE(hosts.lookup("nonsense").error().is(Errc::config));
}

TEST(KnownHosts, DamagedLineForTheHostIsAnErrorOthersAreIgnored) {
  TempDir dir;
  const auto k = fresh_key();
  const fs::path path = dir / "known_hosts";
  write_text(path,
             "# comment\n\nnot-a-host-port foo bar\nother:1 ssh-ed25519 AAAA\n"
             "good:1 " +
                 crypto::format_public_key_line(k, "c") + "\r\n" + "bad:1 ssh-ed25519 !!!\n" +
                 "dup:1 " + crypto::format_public_key_line(k, "") + "\n" + "dup:1 ssh-rsa AAAA\n");
  KnownHosts hosts(path);
  EXPECT_TRUE(**hosts.lookup("good:1") == k);
  EXPECT_TRUE(**hosts.lookup("dup:1") == k);  // first line wins
  auto bad = hosts.lookup("bad:1");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(Errc::malformed));
  EXPECT_NE(bad.error().detail.find("line 6"), std::string::npos);
  EXPECT_FALSE(hosts.check("other:1", k));
  EXPECT_FALSE(hosts.lookup("absent:1")->has_value());
}

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

void set_mode(const fs::path& p, unsigned mode) {
  fs::permissions(p, static_cast<fs::perms>(mode));
}

// A uid that is neither ours nor root's; only root may give files away, so
// the checks that need one are skipped otherwise.
constexpr uid_t kOtherUid = 54321;

bool give_away(const fs::path& p) {
  return ::geteuid() == 0 && ::lchown(p.c_str(), kOtherUid, kOtherUid) == 0;
}

std::string writable_by_others(const fs::path& p) {
  return p.string() + " is writable by group or others (run: chmod go-w " + p.string() + ")";
}

// Every use of the file (lookup, check, add) fails with config and `detail`,
// and add leaves the file as it was.
void expect_refused(const fs::path& path, const std::string& detail) {
  SCOPED_TRACE(path.string());
  const KnownHosts hosts(path);
  const auto k = fresh_key();
  const std::string before = read_text(path);
  auto lookup = hosts.lookup("server:7000");
  ASSERT_FALSE(lookup);
  EXPECT_TRUE(lookup.error().is(Errc::config));
  EXPECT_EQ(lookup.error().detail, detail);
  auto check = hosts.check("server:7000", k);
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().detail, detail);
  KnownHosts writer(path);
  auto add = writer.add("other:7000", k);
  ASSERT_FALSE(add);
  EXPECT_EQ(add.error().detail, detail);
  EXPECT_EQ(read_text(path), before);
}

TEST(KnownHosts, RefusesAFileOthersCouldHaveEdited) {
  TempDir dir;
  const fs::path path = dir / "known_hosts";
  const auto k = fresh_key();
  ASSERT_TRUE(KnownHosts(path).add("server:7000", k));
  const std::string untrusted = "; the pins in " + path.string() + " cannot be trusted";
  for (unsigned mode : {0620u, 0602u, 0666u}) {
    set_mode(path, mode);
    expect_refused(path, writable_by_others(path) + untrusted);
  }
  // Through a symlink, the file it leads to is judged.
  set_mode(path, 0600);
  const fs::path link = dir / "link";
  fs::create_symlink(path, link);
  EXPECT_TRUE(**KnownHosts(link).lookup("server:7000") == k);
  set_mode(path, 0666);
  expect_refused(
      link, writable_by_others(link) + "; the pins in " + link.string() + " cannot be trusted");
  set_mode(path, 0644);
  EXPECT_TRUE(**KnownHosts(path).lookup("server:7000") == k);

  if (!give_away(path)) GTEST_SKIP() << "chown needs root";
  expect_refused(path, path.string() + " belongs to uid 54321, neither this user (uid " +
                           std::to_string(::geteuid()) + ") nor root" + untrusted);
}

TEST(KnownHosts, RefusesAFileInAFolderOthersCanWrite) {
  TempDir dir;
  const auto k = fresh_key();
  const fs::path open = dir / "open";
  const fs::path below = open / "below";
  fs::create_directories(below);
  const fs::path path = below / "known_hosts";
  ASSERT_TRUE(KnownHosts(path).add("server:7000", k));
  const std::string untrusted = "; the pins in " + path.string() + " cannot be trusted";
  // Any folder above it, not only its own.
  for (unsigned mode : {0777u, 0775u, 0757u}) {
    set_mode(open, mode);
    expect_refused(path, writable_by_others(open) + untrusted);
    set_mode(open, 0755);
    set_mode(below, mode);
    expect_refused(path, writable_by_others(below) + untrusted);
    set_mode(below, 0700);
  }
  // A file not there yet is refused too: add would create it there.
  set_mode(below, 0777);
  const fs::path fresh = below / "fresh";
  auto add = KnownHosts(fresh).add("server:7000", k);
  ASSERT_FALSE(add);
  EXPECT_EQ(add.error().detail,
            writable_by_others(below) + "; the pins in " + fresh.string() + " cannot be trusted");
  EXPECT_FALSE(fs::exists(fresh));
  set_mode(below, 0700);

  // A symlinked folder, or a symlinked file, is judged where it leads.
  const fs::path shared = dir / "shared";
  fs::create_directory(shared);
  set_mode(shared, 0777);
  ASSERT_TRUE(fs::copy_file(path, shared / "known_hosts"));
  const fs::path folder_link = dir / "config";
  fs::create_directory_symlink(shared, folder_link);
  expect_refused(folder_link / "known_hosts", writable_by_others(shared) + "; the pins in " +
                                                  (folder_link / "known_hosts").string() +
                                                  " cannot be trusted");
  const fs::path file_link = below / "linked_hosts";
  fs::create_symlink(shared / "known_hosts", file_link);
  expect_refused(file_link, writable_by_others(shared) + "; the pins in " + file_link.string() +
                                " cannot be trusted");
  set_mode(shared, 0755);
  EXPECT_TRUE(**KnownHosts(file_link).lookup("server:7000") == k);
  // The folder that holds a symlink counts too: whoever can write it can
  // point the link elsewhere.
  const fs::path safe = dir / "safe";
  fs::create_directory(safe);
  ASSERT_TRUE(fs::copy_file(path, safe / "known_hosts"));
  fs::create_directory_symlink(safe, open / "to_safe");
  fs::create_symlink(safe / "known_hosts", open / "hosts_link");
  EXPECT_TRUE(**KnownHosts(open / "to_safe" / "known_hosts").lookup("server:7000") == k);
  set_mode(open, 0777);
  expect_refused(open / "to_safe" / "known_hosts", writable_by_others(open) + "; the pins in " +
                                                       (open / "to_safe" / "known_hosts").string() +
                                                       " cannot be trusted");
  expect_refused(open / "hosts_link", writable_by_others(open) + "; the pins in " +
                                          (open / "hosts_link").string() + " cannot be trusted");
  set_mode(open, 0755);

  // A folder of another user.
  if (!give_away(open)) GTEST_SKIP() << "chown needs root";
  expect_refused(path, open.string() + " belongs to uid 54321, neither this user (uid " +
                           std::to_string(::geteuid()) + ") nor root" + untrusted);
}

TEST(KnownHosts, TheWalkEndsAtAStickyRootFolderLikeTmp) {
  // The tests themselves live under /tmp (1777, root's): if it were judged,
  // nothing would pass.
  TempDir dir;
  const auto k = fresh_key();
  ASSERT_TRUE(KnownHosts(dir / "known_hosts").add("server:7000", k));
  if (::geteuid() != 0) GTEST_SKIP() << "a root-owned folder needs root";
  const fs::path open = dir / "open";
  const fs::path sticky = open / "sticky";
  const fs::path mine = sticky / "mine";
  fs::create_directories(mine);
  set_mode(open, 0777);
  set_mode(sticky, 01777);
  set_mode(mine, 0700);
  const fs::path path = mine / "known_hosts";
  EXPECT_TRUE(KnownHosts(path).add("server:7000", k));
  EXPECT_TRUE(**KnownHosts(path).lookup("server:7000") == k);
  // Only root's sticky folders: another user's is judged like any folder.
  ASSERT_TRUE(give_away(sticky));
  expect_refused(
      path, writable_by_others(sticky) + "; the pins in " + path.string() + " cannot be trusted");
}

TEST(Paths, XdgConfigHomeAndHomeFallback) {
  TempDir dir;
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", (dir / "xdg").c_str());
    EXPECT_EQ(config_dir_path().value(), dir / "xdg" / "signet");
    auto made = ensure_config_dir();
    ASSERT_TRUE(made) << made.error().message();
    EXPECT_TRUE(made->created);
    EXPECT_EQ(made->path, dir / "xdg" / "signet");
    EXPECT_EQ(mode_of(made->path), 0700u);
    EXPECT_EQ(mode_of(dir / "xdg"), 0700u);
    auto again = ensure_config_dir();
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->created);
  }
  {
    // A relative XDG_CONFIG_HOME is ignored, as the specification says.
    ScopedEnv xdg("XDG_CONFIG_HOME", "relative/path");
    ScopedEnv home("HOME", (dir / "home").c_str());
    EXPECT_EQ(config_dir_path().value(), dir / "home" / ".config" / "signet");
    auto made = ensure_config_dir();
    ASSERT_TRUE(made);
    EXPECT_TRUE(made->created);
  }
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", nullptr);
    ScopedEnv home("HOME", (dir / "file").c_str());
    write_text(dir / "file", "");
    auto blocked = ensure_config_dir();
    ASSERT_FALSE(blocked);
  }
  {
    // Refused when anyone else could change it or a folder above it.
    ScopedEnv xdg("XDG_CONFIG_HOME", (dir / "shared").c_str());
    ScopedEnv home("HOME", (dir / "home").c_str());
    fs::create_directories(dir / "shared" / "signet");
    set_mode(dir / "shared", 0777);
    const std::string refused = writable_by_others(dir / "shared") +
                                "; not using the configuration directory " +
                                (dir / "shared" / "signet").string();
    auto path = config_dir_path();
    ASSERT_FALSE(path);
    EXPECT_TRUE(path.error().is(Errc::config));
    EXPECT_EQ(path.error().detail, refused);
    auto made = ensure_config_dir();
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().detail, refused);
    set_mode(dir / "shared", 0755);
    EXPECT_TRUE(config_dir_path());
    EXPECT_TRUE(ensure_config_dir());
    // Also when it is created now, under such a folder.
    set_mode(dir / "shared", 0777);
    fs::remove(dir / "shared" / "signet");
    EXPECT_EQ(ensure_config_dir().error().detail, refused);
    set_mode(dir / "shared", 0755);
  }
  {
    // A symlinked configuration directory is judged where it leads.
    ScopedEnv xdg("XDG_CONFIG_HOME", (dir / "linked").c_str());
    fs::create_directories(dir / "linked");
    fs::create_directories(dir / "elsewhere");
    fs::create_directory_symlink(dir / "elsewhere", dir / "linked" / "signet");
    set_mode(dir / "elsewhere", 0770);
    auto path = config_dir_path();
    ASSERT_FALSE(path);
    EXPECT_TRUE(path.error().detail.starts_with(writable_by_others(dir / "elsewhere")))
        << path.error().detail;
    EXPECT_FALSE(ensure_config_dir());
    set_mode(dir / "elsewhere", 0700);
    EXPECT_EQ(config_dir_path().value(), dir / "linked" / "signet");
  }
  {
    // The walk stops at the home directory, as sshd's does: what is above
    // it is the system's business.
    fs::create_directories(dir / "open" / "home");
    set_mode(dir / "open", 0777);
    ScopedEnv xdg("XDG_CONFIG_HOME", nullptr);
    ScopedEnv home("HOME", (dir / "open" / "home").c_str());
    auto made = ensure_config_dir();
    ASSERT_TRUE(made) << made.error().message();
    EXPECT_EQ(made->path, dir / "open" / "home" / ".config" / "signet");
    // But the home directory itself counts.
    set_mode(dir / "open" / "home", 0775);
    EXPECT_FALSE(config_dir_path());
    set_mode(dir / "open" / "home", 0755);
    // A configuration directory outside the home directory is walked up
    // to the root (here: to /tmp).
    ScopedEnv xdg2("XDG_CONFIG_HOME", (dir / "open" / "xdg").c_str());
    auto outside = ensure_config_dir();
    ASSERT_FALSE(outside);
    EXPECT_TRUE(outside.error().detail.starts_with(writable_by_others(dir / "open")));
  }
  const fs::path d = "/x/signet";
  EXPECT_EQ(default_identity_path(d), "/x/signet/id_ed25519");
  EXPECT_EQ(identity_path(d, crypto::KeyType::rsa), "/x/signet/id_rsa");
  EXPECT_EQ(identity_path(d, crypto::KeyType::ecdsa_p256), "/x/signet/id_ecdsa");
  EXPECT_EQ(authorized_keys_path(d), "/x/signet/authorized_keys");
  EXPECT_EQ(known_hosts_path(d), "/x/signet/known_hosts");
  EXPECT_FALSE(find_default_identity(dir.path()));
  write_text(dir / "id_rsa", "");
  EXPECT_EQ(find_default_identity(dir.path()).value(), dir / "id_rsa");
  write_text(dir / "id_ed25519", "");
  EXPECT_EQ(find_default_identity(dir.path()).value(), dir / "id_ed25519");
}

}  // namespace
}  // namespace signet::keys
