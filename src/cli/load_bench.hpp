// signet bench --connections N --messages M: many connections at once against
// a server run with --echo, each reply checked against its own message.
#pragma once

#include <cstddef>

#include "cli/mode.hpp"
#include "net/address.hpp"

namespace signet::cli {

struct LoadOptions {
  std::size_t connections = 1;
  std::size_t messages = 1000;  // per connection
  std::size_t size = 64;        // bytes per message (at least enough for its id)
  std::size_t window = 16;      // messages in flight per connection
  unsigned threads = 2;         // client threads
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  bool receipt = false;  // every message asks for a signed receipt (key mode), checked
};

// Every connection sends `messages` distinct messages ("c<conn>:m<seq>:"
// padded to `size`) with up to `window` in flight and checks each reply: the
// echo of the message it answers (confirmed), of one already confirmed
// (duplicated), or anything else (mismatched). A message sent whose own echo
// never came is lost. With receipt, every message asks for a signed receipt,
// checked against the message the reply answers (MessageClient::
// check_message_receipt); one that does not check is a failed receipt.
// Connecting is retried while the server answers busy (its handshake
// admission), as a patient client would. Prints the counts, the rate and
// latency percentiles; exit status 0 only when every message was confirmed
// exactly once (and, with receipt, every receipt checked).
int run_load_bench(const net::HostPort& server, const ClientMode& mode, const LoadOptions& options);

}  // namespace signet::cli
