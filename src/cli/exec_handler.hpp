// make_exec_handler: answers each verified message by running a command.
//
// For every message the server runs `/bin/sh -c COMMAND` (the command comes
// from the server's configuration; the message never reaches the command line,
// only the child's stdin, so a peer cannot inject shell syntax). The child:
//
//   - starts in a process group of its own, with every signal at its default
//     action and none blocked, and with no file descriptor of the server but
//     its three pipes (stdin, stdout, stderr);
//   - gets the server's environment minus SHARED_SECRET_KEY, plus
//     SIGNET_PEER_ADDRESS ("127.0.0.1:50412"), SIGNET_PEER_FINGERPRINT
//     ("SHA256:..." in key mode, empty in shared-key mode),
//     SIGNET_PEER_COMMENT (the authorized_keys comment, or empty) and
//     SIGNET_MODE (the channel description, e.g. "shared-key hmac-sha256").
//
// The reply:
//   - status: the command's exit status (0..255). kExecTimeoutStatus (124, as
//     timeout(1)) when it ran past the timeout; kExecFailedStatus (255) when it
//     was killed by a signal, could not be started, or its status was lost.
//   - text: what the command wrote to stdout. Every abnormal end adds a last
//     line starting with "signet: " that says what happened.
//
// Limits and policies:
//   - Output cap: stdout beyond max_output is read and dropped (the command is
//     not killed, so its exit status still means something, and it is not
//     blocked on a full pipe); the reply then ends with a "signet: output
//     truncated" line and the whole text, note included, stays within
//     max_output. The server itself cuts a reply to the channel's largest
//     message, so keep max_output below that (shared-key default: 1 MiB - 1).
//   - stderr goes to the server's log, escaped onto one line, at most 64 KiB
//     per command; the rest is read and dropped.
//   - Timeout: the whole process group gets SIGKILL. Our ends of the pipes are
//     closed 500 ms later if something outside the group (setsid) still holds
//     them, so a reply never waits on a stray process.
//   - When /bin/sh exits, whatever it left running in its process group is
//     killed (SIGKILL) before the child is reaped: a request leaves no process
//     behind.
//
// Everything is asynchronous, on a strand of the connection's executor: the pipes are
// asio::posix::stream_descriptors, the timeout is a steady_timer, and the exit
// is awaited on a pidfd (pidfd_open, Linux 5.3+) that becomes readable when
// the child exits, with no SIGCHLD handler. Where pidfd_open is unavailable
// (old kernel, seccomp filter) the exit is polled with waitid(WNOHANG) on a
// timer backing off from 1 to 20 ms. waitid(WNOWAIT) looks at the exit before
// the reap, so the group sweep above cannot hit a reused pid. Other
// connections keep being served while a command runs. The server must not
// ignore SIGCHLD or reap children with waitpid(-1): the status would be lost.
//
// Writing the message to a child that stopped reading would raise SIGPIPE;
// the handler blocks SIGPIPE in its own thread around each write(2) and
// consumes a signal it raised, so it neither dies nor changes the process-wide
// disposition. A command that does not read its input is not an error.
//
// If the server shuts down while a command runs, the command's process group
// is killed and the child reaped when the connection is destroyed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "net/server.hpp"

namespace signet::cli {

struct ExecOptions {
  std::string command;
  std::chrono::milliseconds timeout{10000};
  std::size_t max_output = 1 << 20;
};

// Reply statuses the handler chooses itself (see above).
inline constexpr std::uint8_t kExecTimeoutStatus = 124;
inline constexpr std::uint8_t kExecFailedStatus = 255;

// Returns the handler; it never fails at creation. A command that cannot be
// started is reported per message (kExecFailedStatus and a "signet: " line).
net::AsyncHandler make_exec_handler(ExecOptions options);

}  // namespace signet::cli
