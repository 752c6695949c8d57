// Where a connection's protocol session writes its frames: the connection's
// link, which protects them and queues them for the peer.
#pragma once

#include <initializer_list>

#include "net/link.hpp"
#include "proto/session.hpp"

namespace signet {

class LinkSink : public proto::FrameSink {
 public:
  explicit LinkSink(net::Link& link) : link_(link) {}
  void send_frame(std::uint8_t type, std::initializer_list<util::ByteSpan> parts) override {
    link_.send(static_cast<wire::FrameType>(type), parts);
  }

 private:
  net::Link& link_;
};

}  // namespace signet
