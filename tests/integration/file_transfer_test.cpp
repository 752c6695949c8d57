// File transfer end to end: `signet server --files` with `signet put`, `get`
// and `ls`, the real processes on loopback, in both modes. What a user
// checks is checked the same way: the sha256sum lines are fed to
// `sha256sum -c`, the served folder is read back from the disk.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "api/file_client.hpp"
#include "api/link_sink.hpp"
#include "api/signet.hpp"
#include "crypto/primitives.hpp"
#include "files/folder.hpp"
#include "harness.hpp"
#include "net/blocking.hpp"
#include "proto/file_frames.hpp"
#include "proto/session.hpp"
#include "util/encoding.hpp"

namespace signet::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr const char* kSharedKey = "file transfer test shared key, 40 bytes";

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    const auto v = rng();
    for (std::size_t j = 0; j < 8 && i + j < n; ++j) s[i + j] = static_cast<char>(v >> (8 * j));
  }
  return s;
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The entries of a folder, recursively, as relative names.
std::set<std::string> tree(const fs::path& root) {
  std::set<std::string> names;
  if (!fs::exists(root)) return names;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    names.insert(e.path().lexically_relative(root).string());  // links not resolved
  }
  return names;
}

// tree() without the hidden parts of interrupted transfers and their records.
std::set<std::string> visible(const std::set<std::string>& names) {
  std::set<std::string> out;
  for (const auto& n : names) {
    const auto slash = n.find_last_of('/');
    const std::string leaf = slash == std::string::npos ? n : n.substr(slash + 1);
    if (leaf.rfind(".signet-part-", 0) != 0) out.insert(n);
  }
  return out;
}

// Waits (bounded) until a part's record (a checkpoint) exists in dir.
bool wait_for_record(const fs::path& dir, std::chrono::seconds timeout = 30s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    for (const auto& n : tree(dir)) {
      if (n.size() > 7 && n.compare(n.size() - 7, 7, ".resume") == 0) return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::string sha_hex(const std::string& data) {
  return util::to_hex(crypto::sha256({util::as_bytes(data)}));
}

// The bytes a resumed transfer found already there, from its note on stderr.
std::optional<std::uint64_t> resumed_bytes(const std::string& err) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex("resumed; ([0-9]+) of [0-9]+ bytes"))) {
    return std::nullopt;
  }
  return std::stoull(m[1].str());
}

class FileTransferTest : public ::testing::Test {
 protected:
  using Env = std::map<std::string, std::optional<std::string>>;

  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    served_ = dir_ + "/served";
    local_ = dir_ + "/local";
    fs::create_directories(served_);
    fs::create_directories(local_);
  }

  Env env() const {
    return {{"SHARED_SECRET_KEY", kSharedKey}, {"XDG_CONFIG_HOME", dir_ + "/cfg"}};
  }

  std::unique_ptr<ServerProcess> start_server(std::vector<std::string> extra = {},
                                              std::vector<std::string> wrapper = {}) {
    std::vector<std::string> args = {"--files", served_};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ServerProcess>(dir_, args, env(), std::move(wrapper));
  }

  struct Run {
    int status = -1;
    std::string out, err;
  };
  // A signet command run in the local folder (relative names land there).
  Run signet(std::vector<std::string> args, std::optional<Env> environment = std::nullopt) {
    Process p(dir_, "client" + std::to_string(runs_++), std::move(args),
              environment ? *environment : env());
    Run r;
    r.status = p.wait(60s);
    r.out = p.out();
    r.err = p.err();
    return r;
  }
  // Cuts a transfer part way: runs `args` ("@" stands for the address)
  // through a proxy that stops forwarding one direction (upload: client to
  // server) after `at` bytes, then SIGKILLs the client or, with
  // kill_server, the server. Returns once the receiver's checkpoint record
  // is in record_dir: written before the kill when the receiver is killed
  // (only its periodic checkpoints count), at the cut when it is not.
  void cut(ServerProcess& server, bool upload, std::size_t at, std::vector<std::string> args,
           const std::string& record_dir, bool kill_server = false) {
    Proxy::Options o{.record = false};
    (upload ? o.stall_client_to_server : o.stall_server_to_client) = at;
    Proxy stall(server.port(), o);
    for (auto& a : args) {
      if (a == "@") a = stall.address();
    }
    Process p(dir_, "cut" + std::to_string(runs_++), std::move(args), env());
    ASSERT_TRUE(stall.wait_forwarded(upload, at, 60s));
    const bool receiver_killed = kill_server == upload;
    if (receiver_killed) {
      ASSERT_TRUE(wait_for_record(record_dir));
    }
    if (kill_server) {
      ::kill(server.process().pid(), SIGKILL);
      server.process().wait();
      EXPECT_NE(p.wait(30s), 0);
    } else {
      ::kill(p.pid(), SIGKILL);
      p.wait();
    }
    if (!receiver_killed) {
      ASSERT_TRUE(wait_for_record(record_dir));
    }
  }

  // Runs `args` ("@": the address) through a counting proxy and checks it
  // resumed: it succeeded, said it found at least min_held bytes there,
  // and moved (upload: client to server) less than the rest plus 1 MiB.
  void run_resumed(ServerProcess& server, bool upload, std::vector<std::string> args,
                   const std::string& data, std::uint64_t min_held) {
    Proxy count(server.port(), {.record = false});
    for (auto& a : args) {
      if (a == "@") a = count.address();
    }
    auto r = signet(std::move(args));
    ASSERT_EQ(r.status, 0) << r.err;
    const auto held = resumed_bytes(r.err);
    ASSERT_TRUE(held) << r.err;
    EXPECT_GE(*held, min_held);
    const std::size_t moved =
        upload ? count.forwarded_client_bytes() : count.forwarded_server_bytes();
    EXPECT_LT(moved, data.size() - *held + (1u << 20));
    EXPECT_THAT(r.out, HasSubstr(sha_hex(data)));
  }

  // A shell command, bounded in time; its exit status.
  static int shell(const std::string& command) {
    const int rc = std::system(("timeout 60 sh -c '" + command + "' >/dev/null 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  std::string dir_, served_, local_;
  int runs_ = 0;
};

TEST_F(FileTransferTest, FilesOfEverySizeGoBothWaysAndTheirSha256sumLinesCheck) {
  auto server = start_server();
  const std::vector<std::pair<std::string, std::size_t>> files = {
      {"empty", 0}, {"one", 1}, {"mib", 1 << 20}, {"large.bin", (160u << 20) + 7}};
  unsigned seed = 1;
  for (const auto& [name, size] : files)
    write_file(local_ + "/" + name, random_bytes(size, seed++));
  ::chmod((local_ + "/mib").c_str(), 0640);
  // Whole seconds, as scp -p keeps them.
  const auto mtime = std::chrono::floor<std::chrono::seconds>(fs::last_write_time(local_ + "/mib") -
                                                              std::chrono::hours(48));
  fs::last_write_time(local_ + "/mib", mtime);

  std::string sums;
  for (const auto& [name, size] : files) {
    auto r = signet({"put", server->address(), local_ + "/" + name, "-q"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_THAT(r.out, ::testing::MatchesRegex("[0-9a-f]{64}  " + local_ + "/" + name + "\n"));
    sums += r.out;
    EXPECT_EQ(read_file(served_ + "/" + name), read_file(local_ + "/" + name)) << name;
  }
  write_file(dir_ + "/put.sums", sums);
  EXPECT_EQ(shell("sha256sum -c " + dir_ + "/put.sums"), 0) << sums;
  // Mode and modification time come along; nothing else is in the folder.
  EXPECT_EQ(fs::status(served_ + "/mib").permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(fs::last_write_time(served_ + "/mib"), mtime);
  EXPECT_EQ(tree(served_), (std::set<std::string>{"empty", "one", "mib", "large.bin"}));

  // And back, to another folder, checked the same way.
  fs::create_directories(dir_ + "/back");
  std::string back;
  for (const auto& [name, size] : files) {
    auto r = signet({"get", server->address(), name, "-o", dir_ + "/back/" + name});
    ASSERT_EQ(r.status, 0) << r.err;
    back += r.out;
    EXPECT_EQ(read_file(dir_ + "/back/" + name), read_file(local_ + "/" + name)) << name;
  }
  write_file(dir_ + "/get.sums", back);
  EXPECT_EQ(shell("sha256sum -c " + dir_ + "/get.sums"), 0) << back;
  EXPECT_EQ(fs::last_write_time(dir_ + "/back/mib"), mtime);
  EXPECT_EQ(tree(dir_ + "/back"), (std::set<std::string>{"empty", "one", "mib", "large.bin"}));
  // Not on a terminal and without --progress: nothing but the log lines on stderr.
  auto r = signet({"get", server->address(), "one", "-o", dir_ + "/back/one2"});
  EXPECT_THAT(r.err, Not(HasSubstr("%")));
}

// On a terminal a transfer shows its progress, and ends on a full line.
TEST_F(FileTransferTest, ATerminalShowsProgressAndSha256) {
  auto server = start_server();
  write_file(served_ + "/big.bin", random_bytes(48 << 20, 5));
  Terminal t(dir_, "progress", {"get", server->address(), "big.bin", "-o", local_ + "/big.bin"},
             env());
  ASSERT_TRUE(t.wait_for_screen("big.bin", 30s)) << t.screen();
  for (int i = 0; i < 300 && !t.exit_status(); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(t.exit_status(), 0) << t.screen();
  const std::string screen = t.screen();
  EXPECT_THAT(screen, HasSubstr("100%  48.0 MiB of 48.0 MiB")) << screen;
  EXPECT_THAT(screen, ::testing::ContainsRegex("[0-9a-f]{64}  " + local_ + "/big.bin")) << screen;
  EXPECT_EQ(read_file(local_ + "/big.bin"), read_file(served_ + "/big.bin"));
}

TEST_F(FileTransferTest, NamesFoldersAndListing) {
  auto server = start_server();
  write_file(local_ + "/r.pdf", "report");
  auto r = signet({"put", server->address(), local_ + "/r.pdf", "--as", "in/2026/r.pdf"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(served_ + "/in/2026/r.pdf"), "report");
  // get's default: the last part of the name, in the current folder (-o names another).
  // -o a folder: the file keeps its name there.
  fs::remove(local_ + "/r.pdf");
  r = signet({"get", server->address(), "in/2026/r.pdf", "-o", local_});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("  " + local_ + "/r.pdf\n"));
  EXPECT_EQ(read_file(local_ + "/r.pdf"), "report");

  write_file(served_ + "/in/na\x1b]0;pwned\x07me", "x");
  r = signet({"ls", server->address(), "in"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out,
              ::testing::MatchesRegex(
                  "drwxr-xr-x +[0-9]+ .*  2026/\n-rw-r--r-- +1 .*  na\\\\x1b]0;pwned\\\\x07me\n"));
  r = signet({"ls", server->address()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("  in/\n"));
  r = signet({"ls", server->address(), "nowhere"});
  EXPECT_EQ(r.status, 5);
  EXPECT_THAT(r.err, HasSubstr("no such file"));
}

TEST_F(FileTransferTest, AnExistingFileIsReplacedOnlyWithForce) {
  auto server = start_server();
  write_file(local_ + "/a", "new");
  write_file(served_ + "/a", "old");
  auto r = signet({"put", server->address(), local_ + "/a"});
  EXPECT_EQ(r.status, 5);
  EXPECT_THAT(r.err, HasSubstr("--force"));
  EXPECT_EQ(read_file(served_ + "/a"), "old");
  r = signet({"put", server->address(), local_ + "/a", "--force"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(served_ + "/a"), "new");

  // The same on the receiving end of get.
  write_file(local_ + "/b", "mine");
  write_file(served_ + "/b", "theirs");
  r = signet({"get", server->address(), "b", "-o", local_ + "/b"});
  EXPECT_EQ(r.status, 5);
  EXPECT_THAT(r.err, HasSubstr("--force"));
  EXPECT_EQ(read_file(local_ + "/b"), "mine");
  r = signet({"get", server->address(), "b", "-o", local_ + "/b", "-f"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(local_ + "/b"), "theirs");
  EXPECT_EQ(tree(local_), (std::set<std::string>{"a", "b"}));
}

TEST_F(FileTransferTest, HostileNamesAreRefusedAndNothingIsTouched) {
  auto server = start_server();
  write_file(dir_ + "/secret", "outside");
  write_file(local_ + "/f", "payload");
  const std::vector<std::string> names = {"/etc/evil",
                                          "../evil",
                                          "in/../../evil",
                                          "a//b",
                                          "a/",
                                          ".",
                                          "a/./b",
                                          "ctl\x01x",
                                          "tab\tname",
                                          std::string(256, 'n'),
                                          ".signet-part-1234"};
  for (const auto& name : names) {
    auto r = signet({"put", server->address(), local_ + "/f", "--as", name});
    EXPECT_EQ(r.status, 5) << name << ": " << r.err;
    r = signet(
        {"get", server->address(), name == "../evil" ? "../secret" : name, "-o", local_ + "/got"});
    EXPECT_NE(r.status, 0) << name;
  }
  std::string deep;
  for (int i = 0; i < 1100; ++i) deep += "abc/";
  auto r = signet({"put", server->address(), local_ + "/f", "--as", deep + "x"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(tree(served_), IsEmpty());
  EXPECT_EQ(tree(dir_ + "/..").count("evil"), 0u);
  EXPECT_FALSE(fs::exists(dir_ + "/evil"));
  EXPECT_FALSE(fs::exists(local_ + "/got"));
  EXPECT_EQ(read_file(dir_ + "/secret"), "outside");
  // The server serves on, and says why in its log, the name escaped.
  EXPECT_THAT(server->process().err(), HasSubstr("has a \"..\" component"));
  EXPECT_THAT(server->process().err(), HasSubstr("ctl\\x01x"));
  EXPECT_THAT(server->process().err(), Not(HasSubstr("ctl\x01x")));
}

TEST_F(FileTransferTest, SymbolicLinksInsideTheFolderAreNotFollowed) {
  auto server = start_server();
  fs::create_directories(dir_ + "/outside");
  write_file(dir_ + "/outside/secret", "outside");
  fs::create_directory_symlink(dir_ + "/outside", served_ + "/link");
  fs::create_symlink(dir_ + "/outside/secret", served_ + "/flink");
  write_file(local_ + "/f", "payload");

  auto r = signet({"get", server->address(), "link/secret", "-o", local_ + "/x"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("symbolic link"));
  r = signet({"get", server->address(), "flink", "-o", local_ + "/x"});
  EXPECT_EQ(r.status, 5) << r.err;
  r = signet({"put", server->address(), local_ + "/f", "--as", "link/planted"});
  EXPECT_EQ(r.status, 5) << r.err;
  r = signet({"put", server->address(), local_ + "/f", "--as", "flink", "--force"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_EQ(tree(dir_ + "/outside"), (std::set<std::string>{"secret"}));
  EXPECT_EQ(read_file(dir_ + "/outside/secret"), "outside");
  EXPECT_FALSE(fs::exists(local_ + "/x"));

  // On the client: -o through a symbolic link to a file is not written through.
  write_file(served_ + "/plain", "data");
  fs::create_symlink(dir_ + "/outside/secret", local_ + "/trap");
  r = signet({"get", server->address(), "plain", "-o", local_ + "/trap", "--force"});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(read_file(dir_ + "/outside/secret"), "outside");
}

TEST_F(FileTransferTest, ATamperedChunkFailsTheTransferAndNothingIsPublished) {
  auto server = start_server();
  const std::string big = random_bytes(4 << 20, 9);
  write_file(local_ + "/big", big);
  Proxy proxy(server->port(), {.flip_client_to_server = 2u << 20});
  auto r = signet({"put", proxy.address(), local_ + "/big"});
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.err, HasSubstr("tag"));
  // Nothing under the name; what is kept is the hidden part of the bytes
  // before the flipped frame (each frame verified), for the next attempt.
  EXPECT_TRUE(wait_for_record(served_)) << ::testing::PrintToString(tree(served_));
  EXPECT_THAT(visible(tree(served_)), IsEmpty());
  r = signet({"put", server->address(), local_ + "/big"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_GT(resumed_bytes(r.err).value_or(0), 0u) << r.err;
  EXPECT_EQ(read_file(served_ + "/big"), big);
  EXPECT_EQ(tree(served_), (std::set<std::string>{"big"}));

  // The other way: a flipped byte in what the server sends.
  const std::string down = random_bytes(4 << 20, 10);
  write_file(served_ + "/down", down);
  Proxy back(server->port(), {.flip_server_to_client = 2u << 20});
  r = signet({"get", back.address(), "down", "-o", local_ + "/down"});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(visible(tree(local_)), (std::set<std::string>{"big"}));
  r = signet({"get", server->address(), "down", "-o", local_ + "/down"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_GT(resumed_bytes(r.err).value_or(0), 0u) << r.err;
  EXPECT_EQ(read_file(local_ + "/down"), down);
  EXPECT_EQ(tree(local_), (std::set<std::string>{"big", "down"}));
}

// Resuming (docs/PROTOCOL.md, "Resuming"): an upload cut by SIGKILL of the
// server goes on from the server's last checkpoint (every 64 MiB), one cut
// by SIGKILL of the client from all the server received; the bytes already
// there are not sent again and the file is whole.
TEST_F(FileTransferTest, AnUploadCutByKillingEitherSideResumes) {
  const std::string data = random_bytes(80u << 20, 31);
  write_file(local_ + "/big", data);
  auto server = start_server();
  // The server's last checkpoint is at 64 MiB.
  ASSERT_NO_FATAL_FAILURE(
      cut(*server, true, 72u << 20, {"put", "@", local_ + "/big", "-q"}, served_, true));
  EXPECT_THAT(visible(tree(served_)), IsEmpty());
  server = start_server();
  ASSERT_NO_FATAL_FAILURE(
      run_resumed(*server, true, {"put", "@", local_ + "/big"}, data, 64u << 20));
  EXPECT_EQ(read_file(served_ + "/big"), data);
  EXPECT_EQ(tree(served_), (std::set<std::string>{"big"}));

  // Killing the client: the server keeps what it received.
  ASSERT_NO_FATAL_FAILURE(
      cut(*server, true, 40u << 20, {"put", "@", local_ + "/big", "--as", "again", "-q"}, served_));
  ASSERT_NO_FATAL_FAILURE(
      run_resumed(*server, true, {"put", "@", local_ + "/big", "--as", "again"}, data, 32u << 20));
  EXPECT_EQ(read_file(served_ + "/again"), data);
  EXPECT_EQ(tree(served_), (std::set<std::string>{"again", "big"}));
}

TEST_F(FileTransferTest, ADownloadCutByKillingTheClientResumes) {
  const std::string data = random_bytes(80u << 20, 32);
  write_file(served_ + "/big", data);
  auto server = start_server();
  // The client's last checkpoint is at 64 MiB.
  ASSERT_NO_FATAL_FAILURE(
      cut(*server, false, 72u << 20, {"get", "@", "big", "-o", local_ + "/big", "-q"}, local_));
  EXPECT_THAT(visible(tree(local_)), IsEmpty());
  ASSERT_NO_FATAL_FAILURE(
      run_resumed(*server, false, {"get", "@", "big", "-o", local_ + "/big"}, data, 64u << 20));
  EXPECT_EQ(read_file(local_ + "/big"), data);
  EXPECT_EQ(tree(local_), (std::set<std::string>{"big"}));
}

// A part of another version of the file (changed since the cut, even with
// the same size and time) is never completed with the new version's rest:
// the transfer starts over, says so, and the file is the new version whole.
TEST_F(FileTransferTest, ASourceChangedSinceTheCutStartsOverAndSaysSo) {
  std::string data = random_bytes(24u << 20, 33);
  write_file(local_ + "/f", data);
  auto server = start_server();
  ASSERT_NO_FATAL_FAILURE(
      cut(*server, true, 16u << 20, {"put", "@", local_ + "/f", "-q"}, served_));
  // The same size and modification time, other bytes at the start.
  const auto when = fs::last_write_time(local_ + "/f");
  data[100] ^= 0x55;
  write_file(local_ + "/f", data);
  fs::last_write_time(local_ + "/f", when);
  auto r = signet({"put", server->address(), local_ + "/f"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("another version"));
  EXPECT_EQ(read_file(served_ + "/f"), data);
  EXPECT_EQ(tree(served_), (std::set<std::string>{"f"}));

  // A download whose file changed on the server since the cut.
  std::string down = random_bytes(80u << 20, 34);
  write_file(served_ + "/d", down);
  ASSERT_NO_FATAL_FAILURE(
      cut(*server, false, 72u << 20, {"get", "@", "d", "-o", local_ + "/d", "-q"}, local_));
  const auto dwhen = fs::last_write_time(served_ + "/d");
  down[7] ^= 0x55;
  write_file(served_ + "/d", down);
  fs::last_write_time(served_ + "/d", dwhen);
  r = signet({"get", server->address(), "d", "-o", local_ + "/d"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("another version"));
  EXPECT_EQ(read_file(local_ + "/d"), down);
  EXPECT_EQ(visible(tree(local_)), (std::set<std::string>{"d", "f"}));
  EXPECT_EQ(tree(local_), (std::set<std::string>{"d", "f"}));
}

TEST_F(FileTransferTest, AFullDiskEndsThatUploadAndTheServerServesOn) {
  // The server may write files of at most 1 MB (RLIMIT_FSIZE): a larger
  // upload fails as a full disk would.
  auto server = start_server({}, {"/usr/bin/prlimit", "--fsize=1000000", "--"});
  write_file(local_ + "/big", random_bytes(3 << 20, 3));
  write_file(local_ + "/small", "fits");
  auto r = signet({"put", server->address(), local_ + "/big"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no room"));
  EXPECT_THAT(tree(served_), IsEmpty());
  r = signet({"put", server->address(), local_ + "/small"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(tree(served_), (std::set<std::string>{"small"}));

  // --max-file-size refuses before any data moves.
  auto limited = start_server({"--max-file-size", "1000"});
  r = signet({"put", limited->address(), local_ + "/big"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("above this server's limit of 1000"));
}

// --max-total: what the folder holds (counted at start), what was published
// since (a replaced file no longer counts) and what is being uploaded.
TEST_F(FileTransferTest, TheFolderTotalLimitRefusesAnUploadThatWouldGoBeyondIt) {
  write_file(served_ + "/existing", random_bytes(1u << 20, 41));
  auto server = start_server({"--max-total", "3M"});
  write_file(local_ + "/a", random_bytes(1536u << 10, 42));
  write_file(local_ + "/b", random_bytes(1u << 20, 43));
  write_file(local_ + "/small", random_bytes(512u << 10, 44));
  auto r = signet({"put", server->address(), local_ + "/a"});
  ASSERT_EQ(r.status, 0) << r.err;  // 2.5 of 3 MiB
  r = signet({"put", server->address(), local_ + "/b"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("may hold 3145728 bytes in all"));
  EXPECT_EQ(visible(tree(served_)), (std::set<std::string>{"a", "existing"}));
  // Replacing a with something smaller makes room.
  r = signet({"put", server->address(), local_ + "/small", "--as", "a", "--force"});
  ASSERT_EQ(r.status, 0) << r.err;  // 1.5 MiB
  r = signet({"put", server->address(), local_ + "/b"});
  ASSERT_EQ(r.status, 0) << r.err;  // 2.5 MiB
  EXPECT_EQ(tree(served_), (std::set<std::string>{"a", "b", "existing"}));
}

// Shared-key receipts (issue 10): the statement names "shared-key" for both
// keys and FILE.sig holds an HMAC by a key derived from the shared key;
// verify-receipt checks it with that key only, and any change, another key
// or no key fails.
TEST_F(FileTransferTest, InSharedKeyModeAReceiptIsAMacThatOnlyTheSharedKeyChecks) {
  auto server = start_server();
  const std::string data = "payload " + std::string(70000, 'p');
  write_file(local_ + "/f", data);
  const std::string receipt = dir_ + "/r.txt";
  auto r = signet({"put", server->address(), local_ + "/f", "--receipt", receipt});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string statement = read_file(receipt);
  const std::string digest = util::to_hex(crypto::sha256({util::as_bytes(data)}));
  EXPECT_THAT(statement, HasSubstr("server-key shared-key\nclient-key shared-key\n"));
  EXPECT_THAT(statement, HasSubstr("operation put\nname f\nsize " + std::to_string(data.size()) +
                                   "\nsha256 " + digest + "\n"));
  EXPECT_THAT(read_file(receipt + ".sig"),
              ::testing::StartsWith("signet-receipt-mac hmac-sha256 "));
  r = signet({"verify-receipt", receipt, "--file", local_ + "/f"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("receipt verified: put of"));
  // Another shared key, or none, or a server key in its place.
  Env other = env();
  other["SHARED_SECRET_KEY"] = "another shared key of forty bytes, ok ok";
  r = signet({"verify-receipt", receipt}, other);
  EXPECT_EQ(r.status, 4);
  EXPECT_THAT(r.err, HasSubstr("MAC"));
  Env none = env();
  none["SHARED_SECRET_KEY"] = std::nullopt;
  r = signet({"verify-receipt", receipt}, none);
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("shared key"));
  r = signet({"verify-receipt", receipt, "--server-key", "SHA256:" + std::string(43, 'A')});
  EXPECT_EQ(r.status, 2);
  // One changed byte.
  std::string changed = statement;
  changed[changed.find("status 0") + 7] = '1';
  write_file(receipt, changed);
  EXPECT_EQ(signet({"verify-receipt", receipt}).status, 4);

  // A download's receipt, the same way.
  r = signet({"get", server->address(), "f", "-o", local_ + "/back", "--receipt", receipt});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(local_ + "/back"), data);
  EXPECT_THAT(read_file(receipt), HasSubstr("operation get\nname f\n"));
  r = signet({"verify-receipt", receipt, "--file", local_ + "/back"});
  EXPECT_EQ(r.status, 0) << r.err;

  // And a message's.
  r = signet({"send", server->address(), "pay invoice 1234", "--receipt", receipt});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(read_file(receipt), HasSubstr("client-key shared-key\n"));
  r = signet({"verify-receipt", receipt, "--message", "pay invoice 1234"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = signet({"verify-receipt", receipt, "--message", "pay invoice 1235"});
  EXPECT_EQ(r.status, 4);
}

// A shared-key server's audit log: its checkpoints carry a MAC that
// signet audit verify checks with the shared key, and fails without it.
TEST_F(FileTransferTest, ASharedKeyServersAuditLogChecksWithTheSharedKey) {
  const std::string log = dir_ + "/audit.log";
  auto server = start_server({"--audit-log", log});
  write_file(local_ + "/f", "payload");
  ASSERT_EQ(signet({"put", server->address(), local_ + "/f"}).status, 0);
  ASSERT_EQ(signet({"send", server->address(), "hello"}).status, 0);
  Env wrong = env();
  wrong["SHARED_SECRET_KEY"] = "a wrong shared key, forty bytes long...";
  EXPECT_EQ(signet({"send", server->address(), "hello"}, wrong).status, 4);
  server->process().terminate();
  EXPECT_THAT(read_file(log), HasSubstr("\"operation\":\"put\",\"outcome\":\"answered\""));
  EXPECT_THAT(read_file(log), HasSubstr("\"event\":\"refused\""));
  auto r = signet({"audit", "verify", log});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("intact"));
  EXPECT_THAT(r.out, HasSubstr("by shared-key"));
  Env none = env();
  none["SHARED_SECRET_KEY"] = std::nullopt;
  r = signet({"audit", "verify", log}, none);
  EXPECT_EQ(r.status, 4);
  EXPECT_THAT(r.out, HasSubstr("needs the shared key"));
}

// get removes the parts of its own downloads that were cut off long ago
// (--stale-parts, a week by default) from the folder it writes into, and
// only there unless -r: recent parts, and parts in folders below, stay.
TEST_F(FileTransferTest, GetRemovesPartsOfDownloadsCutOffLongAgo) {
  auto server = start_server();
  write_file(served_ + "/f", "payload");
  const std::string old_part = local_ + "/.signet-part-" + std::string(32, 'a');
  const std::string old_record = old_part + ".resume";
  const std::string new_part = local_ + "/.signet-part-" + std::string(32, 'b');
  fs::create_directories(local_ + "/sub");
  const std::string deep_part = local_ + "/sub/.signet-part-" + std::string(32, 'c');
  for (const auto& p : {old_part, old_record, new_part, deep_part}) write_file(p, "part");
  const auto eight_days_ago = fs::file_time_type::clock::now() - std::chrono::hours(24 * 8);
  for (const auto& p : {old_part, old_record, deep_part}) fs::last_write_time(p, eight_days_ago);

  auto r = signet({"get", server->address(), "f", "-o", local_ + "/f", "--stale-parts", "0"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(old_part));  // 0: never
  r = signet({"get", server->address(), "f", "-o", local_ + "/g"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("removed 2 part file(s)"));
  EXPECT_FALSE(fs::exists(old_part));
  EXPECT_FALSE(fs::exists(old_record));
  EXPECT_TRUE(fs::exists(new_part));
  EXPECT_TRUE(fs::exists(deep_part));  // not below, without -r
  EXPECT_EQ(read_file(local_ + "/g"), "payload");
}

TEST_F(FileTransferTest, TwoUploadsOfOneNameNeverMix) {
  auto server = start_server();
  const std::string a = random_bytes(24 << 20, 21), b = random_bytes(24 << 20, 22);
  write_file(local_ + "/a", a);
  write_file(local_ + "/b", b);
  for (const bool force : {false, true}) {
    fs::remove(served_ + "/same");  // not the folder: the server holds it open
    std::vector<std::string> extra = {"--as", "same", "-q"};
    if (force) extra.push_back("--force");
    auto args = [&](const std::string& f) {
      std::vector<std::string> v = {"put", server->address(), local_ + "/" + f};
      v.insert(v.end(), extra.begin(), extra.end());
      return v;
    };
    Process pa(dir_, "put-a" + std::to_string(force), args("a"), env());
    Process pb(dir_, "put-b" + std::to_string(force), args("b"), env());
    const int sa = pa.wait(60s), sb = pb.wait(60s);
    if (force) {
      EXPECT_EQ(sa, 0) << pa.err();
      EXPECT_EQ(sb, 0) << pb.err();
    } else {
      // One wins whole; the other is told the name exists.
      EXPECT_EQ((sa == 0) + (sb == 0), 1) << pa.err() << pb.err();
      EXPECT_THAT(sa == 0 ? pb.err() : pa.err(), HasSubstr("exists"));
    }
    const std::string got = read_file(served_ + "/same");
    EXPECT_TRUE(got == a || got == b) << "a mix of " << got.size() << " bytes";
    EXPECT_EQ(tree(served_), (std::set<std::string>{"same"}));
  }
}

TEST_F(FileTransferTest, AServerWithoutFilesAndAVersion1PeerSayWhatIsMissing) {
  auto plain = std::make_unique<ServerProcess>(dir_, std::vector<std::string>{}, env());
  write_file(local_ + "/f", "x");
  auto r = signet({"put", plain->address(), local_ + "/f"});
  EXPECT_EQ(r.status, 5);
  EXPECT_THAT(r.err, HasSubstr("serves no files (start it with --files DIR)"));
  auto server = start_server();
  r = signet({"put", server->address(), local_ + "/f", "--protocol", "1"});
  EXPECT_EQ(r.status, 5);
  EXPECT_THAT(r.err, HasSubstr("protocol version 1"));
  EXPECT_THAT(tree(served_), IsEmpty());
}

TEST_F(FileTransferTest, FoldersGoRecursivelyBothWaysPipelinedOnOneConnection) {
  auto server = start_server();
  const fs::path src = local_ + "/build";
  fs::create_directories(src / "lib/deep");
  fs::create_directories(src / "bin");
  for (int i = 0; i < 200; ++i) {
    write_file(src / "lib" / ("f" + std::to_string(i)), random_bytes(100 + 37 * i, 100 + i));
  }
  write_file(src / "lib/deep/x.txt", "deep");
  write_file(src / "bin/tool", random_bytes(3 << 20, 7));
  ::chmod((src / "bin/tool").c_str(), 0755);
  fs::create_symlink("/etc/passwd", src / "bin/link");  // not a regular file: skipped

  auto r = signet({"put", server->address(), "-r", src.string() + "/", "--to", "releases/1.4"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 202);
  EXPECT_THAT(r.err, HasSubstr("skipped " + (src / "bin/link").string() + ": not a regular file"));
  EXPECT_EQ(read_file(served_ + "/releases/1.4/lib/deep/x.txt"), "deep");
  EXPECT_EQ(read_file(served_ + "/releases/1.4/bin/tool"), read_file((src / "bin/tool").string()));
  EXPECT_EQ(fs::status(served_ + "/releases/1.4/bin/tool").permissions() & fs::perms::all,
            fs::perms(0755));
  // One connection for all of them.
  std::string log = server->process().err();
  std::size_t handshakes = 0;
  for (auto pos = log.find("handshake ok"); pos != std::string::npos;
       pos = log.find("handshake ok", pos + 1)) {
    ++handshakes;
  }
  EXPECT_EQ(handshakes, 1u);

  // An empty folder comes too (the server's tree has one put -r did not make).
  fs::create_directories(served_ + "/releases/1.4/empty/inner");
  r = signet({"get", server->address(), "-r", "releases/1.4", "--to", dir_ + "/back"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_directory(dir_ + "/back/empty/inner"));
  write_file(dir_ + "/back.sums", r.out);
  EXPECT_EQ(shell("sha256sum -c " + dir_ + "/back.sums"), 0) << r.out;
  auto expected = tree(src);
  expected.erase("bin/link");
  expected.insert({"empty", "empty/inner"});
  EXPECT_EQ(tree(dir_ + "/back"), expected);
  EXPECT_EQ(read_file(dir_ + "/back/bin/tool"), read_file((src / "bin/tool").string()));
  // Without -r a folder is refused, saying how.
  r = signet({"put", server->address(), src.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("is a folder; put -r sends one"));
}

// A server that lies: its recursive listing names files outside the folder
// asked for, and it answers one download with a SHA-256 that does not match.
class LyingServer : public net::Application {
 public:
  explicit LyingServer(net::Link& link)
      : session_(proto::Role::server, link.peer().protocol), sink_(link) {}
  asio::awaitable<Result<void>> receive(net::Link& link) override {
    for (;;) {
      auto f = link.next_frame();
      if (!f) co_return f.error();
      if (!f->has_value()) co_return Result<void>{};
      auto e = session_.receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, sink_);
      if (!e) co_return e.error();
      if (!e->has_value()) continue;
      auto* o = std::get_if<proto::Opened>(&**e);
      if (o == nullptr) continue;
      if (o->kind == static_cast<std::uint8_t>(proto::Kind::list)) {
        util::Bytes entries;
        for (const char* name : {"../escaped", "/etc/abs", "ok.txt", "sub/../../up", "bad.txt"}) {
          proto::append(entries, proto::ListEntry{proto::EntryType::file, 5, 0644, 0, name});
        }
        (void)session_.send_data(o->op, entries, true, sink_);
        (void)session_.reply(o->op, 0, {}, sink_);
        continue;
      }
      auto g = proto::decode_get(o->body);
      if (!g) co_return g.error();
      const std::string content = "hello";
      auto digest = crypto::sha256({util::as_bytes(content)});
      const auto header = proto::encode(proto::FileHeader{5, 0644, 0});
      util::Bytes stream(header.begin(), header.end());
      stream.insert(stream.end(), content.begin(), content.end());
      if (g->name.ends_with("bad.txt")) digest[0] ^= 1;  // the lie
      stream.insert(stream.end(), digest.begin(), digest.end());
      (void)session_.send_data(o->op, stream, true, sink_);
      const std::string hex = util::to_hex(digest);
      (void)session_.reply(o->op, 0, util::as_bytes(hex), sink_);
    }
  }

 private:
  proto::Session session_;
  LinkSink sink_;
};

TEST_F(FileTransferTest, NamesAndDigestsFromALyingServerAreNotTrusted) {
  Server server({}, shared_key_server(crypto::SecretBytes(util::as_bytes(std::string(kSharedKey)))),
                net::ApplicationFactory([](net::Link& link) -> std::unique_ptr<net::Application> {
                  return std::make_unique<LyingServer>(link);
                }));
  ASSERT_TRUE(server.start().ok());
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  fs::create_directories(dir_ + "/deep/into");
  auto r = signet({"get", address, "-r", "folder", "--to", dir_ + "/deep/into"});
  EXPECT_EQ(r.status, 6) << r.err;  // bad.txt did not verify
  EXPECT_THAT(r.err, HasSubstr("skipped a name the server sent"));
  EXPECT_THAT(r.err, HasSubstr("did not verify"));
  EXPECT_EQ(tree(dir_ + "/deep/into"), (std::set<std::string>{"ok.txt"}));
  EXPECT_EQ(read_file(dir_ + "/deep/into/ok.txt"), "hello");
  EXPECT_FALSE(fs::exists(dir_ + "/deep/escaped"));
  EXPECT_FALSE(fs::exists(dir_ + "/up"));
  EXPECT_FALSE(fs::exists("/etc/abs"));
  // A single download that does not verify: exit 6, nothing under the name.
  r = signet({"get", address, "bad.txt", "-o", dir_ + "/bad.txt"});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/bad.txt"));
  EXPECT_THAT(tree(dir_), Not(::testing::Contains(::testing::HasSubstr(".signet-part"))));
  server.stop();
}

// Each transfer holds an open file: one connection may have at most 128 in
// progress, or a few connections could use up the server's descriptors.
// Beyond that an operation is refused as busy; the rest go on.
TEST_F(FileTransferTest, OneConnectionHoldsAtMost128TransfersAndTheRestAreRefused) {
  auto server = start_server();
  write_file(served_ + "/small", "tiny file");
  fs::create_directories(local_ + "/many");
  asio::io_context ctx(1);
  auto conn = net::run_blocking(
      ctx,
      net::Connection::open(
          net::HostPort{"127.0.0.1", server->port()},
          shared_key_client(crypto::SecretBytes(util::as_bytes(std::string(kSharedKey)))), {}));
  ASSERT_TRUE(conn) << conn.error().message();
  auto client = FileClient::over(*conn);
  ASSERT_TRUE(client) << client.error().message();
  auto into = files::ServedFolder::open(local_ + "/many");
  ASSERT_TRUE(into);
  constexpr int kTransfers = 300;
  int ok = 0, busy = 0, other = 0, done = 0;
  auto all = [&]() -> asio::awaitable<bool> {  // run_blocking wants a value
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer finished(ex, std::chrono::steady_clock::time_point::max());
    for (int i = 0; i < kTransfers; ++i) {
      asio::co_spawn(
          ex,
          [&, i]() -> asio::awaitable<void> {
            auto r = co_await (*client)->get_into("small", *into, "f" + std::to_string(i), false);
            if (r) {
              ++ok;
            } else if (r.error().is(Errc::busy)) {
              ++busy;
            } else {
              ++other;
              ADD_FAILURE() << r.error().message();
            }
            if (++done == kTransfers) finished.cancel();
          },
          asio::detached);
    }
    while (done < kTransfers) {
      co_await finished.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      finished.expires_at(std::chrono::steady_clock::time_point::max());
    }
    co_return true;
  };
  EXPECT_TRUE(net::run_blocking(ctx, all()));
  EXPECT_EQ(ok + busy, kTransfers);
  EXPECT_GE(ok, 128);
  EXPECT_GT(busy, 0);
  EXPECT_EQ(other, 0);
  EXPECT_THAT(server->process().err(), HasSubstr("more than 128 file transfers at once"));
  // The connection goes on: one more works.
  auto again = net::run_blocking(ctx, (*client)->get_into("small", *into, "again", false));
  EXPECT_TRUE(again) << again.error().message();
  (*client)->close();
  EXPECT_EQ(read_file(local_ + "/many/again"), "tiny file");
  EXPECT_EQ(tree(local_ + "/many").size(), static_cast<std::size_t>(ok) + 1);
}

}  // namespace
}  // namespace signet::testing
