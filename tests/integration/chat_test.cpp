// signet chat end to end: two real programs on loopback, not on a terminal
// (each line of standard input is a line of the conversation, each line of
// the peer's is printed on standard output), in both modes; a proxy between
// them that flips a byte or cuts the connection.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "harness.hpp"
#include "util/encoding.hpp"

namespace signet::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using Env = std::map<std::string, std::optional<std::string>>;

constexpr const char* kSharedKey = "chat test shared key, thirty-two+ bytes";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string first_fingerprint(const std::string& text) {
  static const std::regex re("SHA256:[A-Za-z0-9+/]{43}");
  std::smatch m;
  return std::regex_search(text, m, re) ? m.str() : std::string();
}

class ChatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  Env env(const std::string& role, std::optional<std::string> key = kSharedKey) {
    const std::string home = dir_ + "/" + role + "-config";
    fs::create_directories(home);
    return {{"XDG_CONFIG_HOME", home}, {"SHARED_SECRET_KEY", std::move(key)}};
  }

  // signet chat --listen on a port the kernel picks; port_ is set once it listens.
  std::unique_ptr<Process> listen(std::vector<std::string> extra = {}, Env e = {}) {
    std::vector<std::string> args = {"chat", "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p =
        std::make_unique<Process>(dir_, "listener", args, e.empty() ? env("listener") : e, true);
    const std::string needle = "listening on 127.0.0.1:";
    EXPECT_TRUE(wait_until([&] { return p->err().find(needle) != std::string::npos; })) << p->err();
    const auto err = p->err();
    port_ = static_cast<std::uint16_t>(std::stoi(err.substr(err.find(needle) + needle.size())));
    return p;
  }

  std::unique_ptr<Process> call(const std::string& address, std::vector<std::string> extra = {},
                                Env e = {}, const std::string& name = "caller") {
    std::vector<std::string> args = {"chat", address};
    args.insert(args.end(), extra.begin(), extra.end());
    if (std::find(extra.begin(), extra.end(), "--timeout") == extra.end()) {
      args.insert(args.end(), {"--timeout", "5"});
    }
    return std::make_unique<Process>(dir_, name, args, e.empty() ? env(name) : e, true);
  }

  std::string listener_address() const { return "127.0.0.1:" + std::to_string(port_); }

  static bool joined(Process& p, int times = 1) {
    return wait_until([&] {
      const auto err = p.err();
      return static_cast<int>(count(err, "joined by ")) >= times;
    });
  }

  std::string dir_;
  std::uint16_t port_ = 0;
};

TEST_F(ChatTest, BothWaysAtOnceEveryLineShownOnceInOrderAndAcknowledged) {
  auto alice = listen();
  auto bob = call(listener_address());
  ASSERT_TRUE(joined(*bob)) << bob->err();
  ASSERT_TRUE(joined(*alice)) << alice->err();
  constexpr int kLines = 30;
  for (int i = 0; i < kLines; ++i) {
    alice->write_stdin("from alice " + std::to_string(i) + "\n");
    bob->write_stdin("from bob " + std::to_string(i) + "\n");
  }
  ASSERT_TRUE(bob->wait_for_output("from alice " + std::to_string(kLines - 1) + "\n"))
      << bob->out() << bob->err();
  ASSERT_TRUE(alice->wait_for_output("from bob " + std::to_string(kLines - 1) + "\n"))
      << alice->out() << alice->err();
  bob->close_stdin();
  alice->close_stdin();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
  EXPECT_EQ(alice->wait(), 0) << alice->err();
  std::vector<std::string> want_at_bob, want_at_alice;
  for (int i = 0; i < kLines; ++i) {
    want_at_bob.push_back("from alice " + std::to_string(i));
    want_at_alice.push_back("from bob " + std::to_string(i));
  }
  EXPECT_EQ(lines_of(bob->out()), want_at_bob);
  EXPECT_EQ(lines_of(alice->out()), want_at_alice);
  EXPECT_THAT(bob->err(), HasSubstr("joined by peer 127.0.0.1:"));
  EXPECT_THAT(bob->err(), HasSubstr("encrypted"));
}

TEST_F(ChatTest, ThePeersControlCharactersArePrintedEscaped) {
  auto alice = listen();
  auto bob = call(listener_address());
  ASSERT_TRUE(joined(*bob)) << bob->err();
  const std::string hostile = "bell\a clear\x1b[2J rtl\xE2\x80\xAE end";
  bob->write_stdin(hostile + "\n");
  bob->close_stdin();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
  const auto out = alice->out();
  EXPECT_EQ(out, util::escape_for_display(hostile) + "\n");
  EXPECT_THAT(out, Not(HasSubstr("\x1b")));
  EXPECT_THAT(out, Not(HasSubstr("\a")));
}

TEST_F(ChatTest, AtTheEndOfInputLinesNotAcknowledgedAreCountedAndTheExitStatusSaysSo) {
  auto alice = listen();
  auto bob = call(listener_address(), {"--timeout", "2"});
  ASSERT_TRUE(joined(*bob)) << bob->err();
  ::kill(alice->pid(), SIGKILL);
  alice->wait();
  ASSERT_TRUE(wait_until([&] { return bob->err().find("connection lost") != std::string::npos; }))
      << bob->err();
  bob->write_stdin("one\ntwo\n");
  bob->close_stdin();
  EXPECT_EQ(bob->wait(), 1) << bob->err();
  EXPECT_THAT(bob->err(), HasSubstr("2 line(s) not acknowledged by the peer"));
  EXPECT_THAT(bob->err(), HasSubstr("reconnecting in"));
}

TEST_F(ChatTest, AWrongSharedKeyIsRefusedAndNothingIsShown) {
  auto alice = listen();
  auto bob = call(listener_address(), {}, env("caller", "another shared key entirely, 40 bytes"));
  bob->write_stdin("should never arrive\n");
  bob->close_stdin();
  EXPECT_EQ(bob->wait(), 4) << bob->err();
  EXPECT_EQ(alice->out(), "");
  EXPECT_THAT(alice->err(), Not(HasSubstr("joined by")));
}

TEST_F(ChatTest, ASecondCallerIsTurnedAwayAndTheConversationGoesOn) {
  auto alice = listen();
  auto bob = call(listener_address());
  ASSERT_TRUE(joined(*bob)) << bob->err();
  auto carol = call(listener_address(), {}, {}, "carol");
  EXPECT_EQ(carol->wait(), 5) << carol->err();
  EXPECT_THAT(carol->err(), HasSubstr("another conversation"));
  EXPECT_THAT(alice->err(), HasSubstr("turned away a call from"));
  bob->write_stdin("still here\n");
  ASSERT_TRUE(alice->wait_for_output("still here\n")) << alice->err();
  bob->close_stdin();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
}

TEST_F(ChatTest, ATamperedLineIsNeverShownTheErrorIsAndItArrivesOnceAfterReconnecting) {
  auto alice = listen({"--algorithms", "hmac-sha256"});
  Proxy proxy(port_, {});
  auto bob = call(proxy.address(), {"--algorithms", "hmac-sha256"});
  ASSERT_TRUE(joined(*bob)) << bob->err();
  ASSERT_TRUE(joined(*alice)) << alice->err();
  proxy.flip_next(false);  // the next bytes from alice to bob
  alice->write_stdin("the tampered line\n");
  // Bob's program refuses the frame, says so, reconnects, and gets the line
  // again, intact, once.
  ASSERT_TRUE(bob->wait_for_output("the tampered line\n", 20s)) << bob->err();
  ASSERT_TRUE(joined(*bob, 2)) << bob->err();
  EXPECT_THAT(bob->err(), HasSubstr("connection lost ("));
  EXPECT_EQ(proxy.connections(), 2);
  bob->write_stdin("after\n");
  ASSERT_TRUE(alice->wait_for_output("after\n")) << alice->err();
  alice->close_stdin();
  bob->close_stdin();
  EXPECT_EQ(alice->wait(), 0) << alice->err();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
  EXPECT_EQ(bob->out(), "the tampered line\n");
  EXPECT_EQ(alice->out(), "after\n");
}

TEST_F(ChatTest, ACutConnectionIsRestoredAndNothingIsLostOrDoubled) {
  auto alice = listen();
  Proxy proxy(port_, {});
  auto bob = call(proxy.address());
  ASSERT_TRUE(joined(*bob)) << bob->err();
  ASSERT_TRUE(joined(*alice)) << alice->err();
  alice->write_stdin("a1\n");
  bob->write_stdin("b1\n");
  ASSERT_TRUE(bob->wait_for_output("a1\n")) << bob->err();
  ASSERT_TRUE(alice->wait_for_output("b1\n")) << alice->err();
  for (int round = 0; round < 3; ++round) {
    proxy.cut();
    const std::string r = std::to_string(round);
    // Written while the connection is down or coming back.
    alice->write_stdin("a-" + r + "-x\na-" + r + "-y\n");
    bob->write_stdin("b-" + r + "-x\nb-" + r + "-y\n");
    ASSERT_TRUE(wait_until([&] { return proxy.connections() >= round + 2; })) << bob->err();
    ASSERT_TRUE(bob->wait_for_output("a-" + r + "-y\n", 20s)) << bob->err();
    ASSERT_TRUE(alice->wait_for_output("b-" + r + "-y\n", 20s)) << alice->err();
  }
  alice->close_stdin();
  bob->close_stdin();
  EXPECT_EQ(alice->wait(), 0) << alice->err();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
  EXPECT_EQ(lines_of(bob->out()),
            (std::vector<std::string>{"a1", "a-0-x", "a-0-y", "a-1-x", "a-1-y", "a-2-x", "a-2-y"}));
  EXPECT_EQ(lines_of(alice->out()),
            (std::vector<std::string>{"b1", "b-0-x", "b-0-y", "b-1-x", "b-1-y", "b-2-x", "b-2-y"}));
  EXPECT_GE(proxy.connections(), 4);
  EXPECT_THAT(bob->err(), HasSubstr("rejoined by"));
}

TEST_F(ChatTest, LogFilesHoldTheConversationWithTimesEscaped) {
  const std::string alice_log = dir_ + "/alice.log", bob_log = dir_ + "/bob.log";
  auto alice = listen({"--log", alice_log});
  auto bob = call(listener_address(), {"--log", bob_log});
  ASSERT_TRUE(joined(*bob)) << bob->err();
  bob->write_stdin("from bob\n");
  ASSERT_TRUE(alice->wait_for_output("from bob\n")) << alice->err();
  alice->write_stdin("from alice \x1b[1m\n");
  ASSERT_TRUE(bob->wait_for_output("from alice")) << bob->err();
  bob->close_stdin();
  alice->close_stdin();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
  EXPECT_EQ(alice->wait(), 0) << alice->err();
  const std::string a = read_file(alice_log), b = read_file(bob_log);
  const std::string t = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ";
  EXPECT_THAT(a, ::testing::ContainsRegex(t + "peer: from bob")) << a;
  EXPECT_THAT(a, ::testing::ContainsRegex(t + "you: from alice \\\\x1b\\[1m")) << a;
  EXPECT_THAT(b, ::testing::ContainsRegex(t + "you: from bob")) << b;
  EXPECT_THAT(b, ::testing::ContainsRegex(t + "--: joined by peer 127.0.0.1")) << b;
  EXPECT_THAT(b, Not(HasSubstr("\x1b")));
  EXPECT_EQ(fs::status(alice_log).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(ChatTest, ASilentListenerIsLeftAfterTheTimeoutAndTheLineArrivesOnceWhenItIsBack) {
  auto alice = listen();
  auto bob = call(listener_address(), {"--timeout", "1"});
  ASSERT_TRUE(joined(*bob)) << bob->err();
  ASSERT_TRUE(joined(*alice)) << alice->err();
  ::kill(alice->pid(), SIGSTOP);
  bob->write_stdin("while you were away\n");
  ASSERT_TRUE(wait_until([&] { return bob->err().find("connection lost (") != std::string::npos; }))
      << bob->err();
  ::kill(alice->pid(), SIGCONT);
  ASSERT_TRUE(alice->wait_for_output("while you were away\n", 20s)) << alice->err();
  ASSERT_TRUE(joined(*bob, 2)) << bob->err();
  bob->write_stdin("welcome back\n");
  ASSERT_TRUE(alice->wait_for_output("welcome back\n")) << alice->err();
  bob->close_stdin();
  alice->close_stdin();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
  EXPECT_EQ(alice->wait(), 0) << alice->err();
  EXPECT_EQ(alice->out(), "while you were away\nwelcome back\n");
}

TEST_F(ChatTest, ALineAboveTheLimitIsNotSentAndTheConversationGoesOn) {
  auto alice = listen({"--max-message", "100"});
  auto bob = call(listener_address(), {"--max-message", "100"});
  ASSERT_TRUE(joined(*bob)) << bob->err();
  bob->write_stdin(std::string(93, 'x') + "\n" + std::string(92, 'y') + "\nnot UTF-8 \xff\nok\n");
  bob->close_stdin();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
  EXPECT_THAT(bob->err(), HasSubstr("line of 93 bytes is above the limit of 92; not sent"));
  EXPECT_THAT(bob->err(), HasSubstr("line is not UTF-8; not sent"));
  ASSERT_TRUE(alice->wait_for_output("ok\n")) << alice->err();
  EXPECT_EQ(alice->out(), std::string(92, 'y') + "\nok\n");
}

TEST_F(ChatTest, AListenerWithASmallerLimitRefusesALargeLineAndTheCallerStopsTrying) {
  auto alice = listen({"--max-message", "64"});
  auto bob = call(listener_address());
  ASSERT_TRUE(joined(*bob)) << bob->err();
  bob->write_stdin(std::string(200, 'z') + "\n");
  EXPECT_EQ(bob->wait(), 5) << bob->err();
  EXPECT_THAT(bob->err(), HasSubstr("length above limit"));
  EXPECT_THAT(bob->err(), Not(HasSubstr("reconnecting")));
  EXPECT_EQ(alice->out(), "");
  // The listener is still there for the next caller.
  auto carol = call(listener_address(), {}, {}, "carol");
  ASSERT_TRUE(joined(*carol)) << carol->err();
  carol->write_stdin("small\n");
  ASSERT_TRUE(alice->wait_for_output("small\n")) << alice->err();
  carol->close_stdin();
  EXPECT_EQ(carol->wait(), 0) << carol->err();
}

// Key mode: the listener admits the caller's key only with chat allowed; the
// caller pins the listener's key.
class ChatKeyModeTest : public ChatTest {
 protected:
  void SetUp() override {
    ChatTest::SetUp();
    listener_key_ = keygen("listener_id");
    caller_key_ = keygen("caller_id");
    authorized_keys_ = dir_ + "/authorized_keys";
  }

  struct Key {
    std::string path;
    std::string fingerprint;
  };

  Key keygen(const std::string& name) {
    Process p(dir_, "keygen-" + name, {"keygen", "-f", dir_ + "/" + name, "-C", name + "@test"},
              env("keygen", std::nullopt));
    EXPECT_EQ(p.wait(), 0) << p.err();
    return {dir_ + "/" + name, first_fingerprint(p.out())};
  }

  void authorize(const std::string& options, const Key& k) {
    std::ofstream out(authorized_keys_, std::ios::trunc);
    out << options << (options.empty() ? "" : " ") << read_file(k.path + ".pub");
    out.close();
    fs::permissions(authorized_keys_, fs::perms::owner_read | fs::perms::owner_write);
  }

  std::unique_ptr<Process> listen_with_key() {
    return listen({"--identity", listener_key_.path, "--authorized-keys", authorized_keys_},
                  env("listener", std::nullopt));
  }

  std::unique_ptr<Process> call_with_key(const Key& k, const std::string& server_key,
                                         const std::string& name = "caller") {
    return call(listener_address(), {"--identity", k.path, "--server-key", server_key},
                env(name, std::nullopt), name);
  }

  Key listener_key_, caller_key_;
  std::string authorized_keys_;
};

TEST_F(ChatKeyModeTest, AnAuthorizedKeyChatsBothWaysAndEachSideSeesWhoTheOtherIs) {
  authorize("allow=\"chat\"", caller_key_);
  auto alice = listen_with_key();
  auto bob = call_with_key(caller_key_, listener_key_.fingerprint);
  ASSERT_TRUE(joined(*bob)) << bob->err();
  ASSERT_TRUE(joined(*alice)) << alice->err();
  EXPECT_THAT(alice->err(), HasSubstr("key " + caller_key_.fingerprint + " (caller_id@test)"));
  EXPECT_THAT(bob->err(), HasSubstr("key " + listener_key_.fingerprint));
  bob->write_stdin("hello alice\n");
  alice->write_stdin("hello bob\n");
  ASSERT_TRUE(alice->wait_for_output("hello alice\n")) << alice->err();
  ASSERT_TRUE(bob->wait_for_output("hello bob\n")) << bob->err();
  bob->close_stdin();
  alice->close_stdin();
  EXPECT_EQ(bob->wait(), 0) << bob->err();
  EXPECT_EQ(alice->wait(), 0) << alice->err();
}

TEST_F(ChatKeyModeTest, AKeyWithoutChatAnUnknownKeyAndAChangedListenerKeyAreRefused) {
  authorize("allow=\"message,put\"", caller_key_);
  auto alice = listen_with_key();
  {
    auto bob = call_with_key(caller_key_, listener_key_.fingerprint);
    EXPECT_EQ(bob->wait(), 4) << bob->err();
    EXPECT_THAT(bob->err(), HasSubstr("chat not allowed"));
  }
  {
    const Key stranger = keygen("stranger");
    auto s = call_with_key(stranger, listener_key_.fingerprint, "stranger");
    EXPECT_EQ(s->wait(), 4) << s->err();
    EXPECT_THAT(s->err(), HasSubstr("not authorized"));
  }
  {
    // The caller expects another key than the listener has.
    auto bob = call_with_key(caller_key_, caller_key_.fingerprint, "pinned");
    EXPECT_EQ(bob->wait(), 4) << bob->err();
    EXPECT_THAT(bob->err(), HasSubstr(listener_key_.fingerprint));
  }
  EXPECT_EQ(alice->out(), "");
  EXPECT_THAT(alice->err(), Not(HasSubstr("joined by")));
}

// A port nobody listens on right now (the listener binds it a moment later).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// The last non-empty row of a screen: the input line.
std::string input_rows(const std::string& screen, int rows) {
  auto lines = lines_of(screen);
  while (!lines.empty() && lines.back().find_first_not_of(' ') == std::string::npos) {
    lines.pop_back();
  }
  std::string out;
  for (int i = std::max(0, static_cast<int>(lines.size()) - rows);
       i < static_cast<int>(lines.size()); ++i) {
    out += lines[static_cast<std::size_t>(i)] + "\n";
  }
  return out;
}

// As a person sees it: both programs on terminals (tmux). A line arriving
// while one types appears above, and the half-typed line, wrapped over two
// rows, is still there, whole; Enter sends it, and the delivered mark appears.
TEST_F(ChatTest, OnATerminalALineArrivingWhileOneTypesLeavesTheTypedLineIntact) {
  const std::uint16_t port = free_port();
  Env e = env("listener");
  e["LC_ALL"] = "C.UTF-8";
  e["TERM"] = "xterm-256color";
  Terminal alice(dir_, "alice", {"chat", "--listen", "127.0.0.1:" + std::to_string(port)}, e);
  ASSERT_TRUE(alice.wait_for_screen("waiting for the peer")) << alice.screen();
  Env b = env("caller");
  b["LC_ALL"] = "C.UTF-8";
  b["TERM"] = "xterm-256color";
  Terminal bob(dir_, "bob", {"chat", "127.0.0.1:" + std::to_string(port)}, b);
  ASSERT_TRUE(bob.wait_for_screen("joined by")) << bob.screen();
  ASSERT_TRUE(alice.wait_for_screen("joined by")) << alice.screen();

  // Longer than the 200-column window: the input wraps onto a second row.
  const std::string half = "half typed " + std::string(200, 'x') + " and the end";
  bob.type(half, false);
  ASSERT_TRUE(bob.wait_for_screen("and the end")) << bob.screen();
  alice.type("hello from alice");
  ASSERT_TRUE(bob.wait_for_screen("hello from alice")) << bob.screen();
  const std::string screen = bob.screen();
  // The message is above the input; the input rows hold the half line whole.
  const std::string input = input_rows(screen, 2);
  std::string joined_rows;
  for (char c : input) {
    if (c != '\n') joined_rows += c;
  }
  EXPECT_THAT(joined_rows, HasSubstr("> " + half)) << screen;
  EXPECT_LT(screen.find("hello from alice"), screen.find("> half typed")) << screen;
  EXPECT_THAT(screen,
              ::testing::ContainsRegex("\\[[0-9][0-9]:[0-9][0-9]\\] peer: hello from alice"))
      << screen;

  // Enter sends it: alice sees it, bob's line gets the delivered mark.
  bob.type("", true);
  ASSERT_TRUE(alice.wait_for_screen("and the end")) << alice.screen();
  ASSERT_TRUE(bob.wait_for_screen("and the end \xE2\x9C\x93")) << bob.screen();
  EXPECT_THAT(alice.screen(), Not(HasSubstr("> half typed")));

  bob.type("/whois");
  ASSERT_TRUE(bob.wait_for_screen("peer 127.0.0.1:" + std::to_string(port))) << bob.screen();
  bob.type("/quit");
  alice.type("/quit");
  ASSERT_TRUE(wait_until([&] { return bob.exit_status().has_value(); })) << bob.screen();
  ASSERT_TRUE(wait_until([&] { return alice.exit_status().has_value(); })) << alice.screen();
  EXPECT_EQ(bob.exit_status(), 0) << bob.screen();
  EXPECT_EQ(alice.exit_status(), 0) << alice.screen();
}

// A peer that floods lines: the listener's screen keeps up with them, and the
// line its user types while they pour in is taken and drawn at once.
TEST_F(ChatTest, OnATerminalAFloodOfLinesDoesNotFreezeTheTypingLine) {
  const std::uint16_t port = free_port();
  Env e = env("listener");
  e["LC_ALL"] = "C.UTF-8";
  e["TERM"] = "xterm-256color";
  Terminal alice(dir_, "alice", {"chat", "--listen", "127.0.0.1:" + std::to_string(port)}, e);
  ASSERT_TRUE(alice.wait_for_screen("waiting for the peer")) << alice.screen();
  constexpr int kLines = 30000;
  {
    std::ofstream out(dir_ + "/flood.txt");
    for (int i = 1; i <= kLines; ++i) out << "flood line " << i << "\n";
  }
  auto bob = std::make_unique<Process>(
      dir_, "flood",
      std::vector<std::string>{"chat", "127.0.0.1:" + std::to_string(port), "--timeout", "120"},
      env("caller"), true);
  {
    std::ifstream in(dir_ + "/flood.txt");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bob->write_stdin(all);
  }
  ASSERT_TRUE(alice.wait_for_screen("flood line ")) << alice.screen();
  alice.type("typed during the flood", false);
  ASSERT_TRUE(alice.wait_for_screen("> typed during the flood", 3s)) << alice.screen();
  const std::string during = alice.screen();
  EXPECT_THAT(during, Not(HasSubstr("flood line " + std::to_string(kLines) + "\n"))) << during;
  bob->close_stdin();
  EXPECT_EQ(bob->wait(120s), 0) << bob->err();
  ASSERT_TRUE(alice.wait_for_screen("flood line " + std::to_string(kLines), 30s)) << alice.screen();
  EXPECT_EQ(input_rows(alice.screen(), 1), "> typed during the flood\n") << alice.screen();
}

// /send FILE: the file goes over the conversation's connection, is verified
// and stored whole in the receiver's --files folder, never replacing one;
// a peer without --files refuses it.
TEST_F(ChatTest, OnATerminalSendFileStoresItVerifiedInThePeersFolder) {
  const std::uint16_t port = free_port();
  const std::string inbox = dir_ + "/inbox";
  fs::create_directories(inbox);
  std::string content(300000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  const std::string file = dir_ + "/report.bin";
  {
    std::ofstream out(file, std::ios::binary);
    out << content;
  }
  Env e = env("listener");
  e["LC_ALL"] = "C.UTF-8";
  e["TERM"] = "xterm-256color";
  Terminal alice(dir_, "alice",
                 {"chat", "--listen", "127.0.0.1:" + std::to_string(port), "--files", inbox}, e);
  ASSERT_TRUE(alice.wait_for_screen("waiting for the peer")) << alice.screen();
  Env b = env("caller");
  b["LC_ALL"] = "C.UTF-8";
  b["TERM"] = "xterm-256color";
  Terminal bob(dir_, "bob", {"chat", "127.0.0.1:" + std::to_string(port)}, b);
  ASSERT_TRUE(bob.wait_for_screen("joined by")) << bob.screen();

  bob.type("/send " + file);
  ASSERT_TRUE(bob.wait_for_screen("the peer verified and stored it")) << bob.screen();
  ASSERT_TRUE(alice.wait_for_screen("received report.bin (300000 bytes)")) << alice.screen();
  EXPECT_EQ(read_file(inbox + "/report.bin"), content);
  // Nothing else in the folder: no part left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(inbox), fs::directory_iterator{}), 1);

  bob.type("/send " + file);
  ASSERT_TRUE(bob.wait_for_screen("already in the receiving folder")) << bob.screen();
  EXPECT_EQ(read_file(inbox + "/report.bin"), content);

  alice.type("/send " + file);
  ASSERT_TRUE(alice.wait_for_screen("the peer takes no files")) << alice.screen();
  bob.type("/quit");
  alice.type("/quit");
  ASSERT_TRUE(wait_until([&] { return bob.exit_status().has_value(); })) << bob.screen();
  EXPECT_EQ(bob.exit_status(), 0) << bob.screen();
}

}  // namespace
}  // namespace signet::testing
