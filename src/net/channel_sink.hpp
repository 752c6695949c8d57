// Where a connection's protocol session writes its frames: through the
// channel (which tags or encrypts them) into the connection's output buffer.
#pragma once

#include <initializer_list>

#include "channel/channel.hpp"
#include "proto/session.hpp"

namespace signet::net {

class ChannelSink : public proto::FrameSink {
 public:
  ChannelSink(channel::Channel& channel, util::Bytes& out) : channel_(channel), out_(out) {}
  void send_frame(std::uint8_t type, std::initializer_list<util::ByteSpan> parts) override {
    channel_.send(static_cast<wire::FrameType>(type), parts, out_);
  }

 private:
  channel::Channel& channel_;
  util::Bytes& out_;
};

}  // namespace signet::net
