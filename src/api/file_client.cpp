#include "api/file_client.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "api/link_sink.hpp"
#include "channel/psk_channel.hpp"  // channel::peer_error
#include "crypto/sshsig.hpp"
#include "files/source_digest.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet {
namespace {

using asio::awaitable;
using proto::FileStatus;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// A download's credit (docs/PROTOCOL.md, "Flow control"), granted back as
// it is written; the most one transfer can have in flight toward us.
constexpr std::uint32_t kDownloadWindow = 4u << 20;
constexpr std::uint32_t kGrantStep = kDownloadWindow / 4;
// The largest DATA this side sends. A frame stays under the TLS channel's
// kept plaintext buffer (64 KiB): larger ones made it allocate, fault in and
// free a fresh buffer per frame, which cost a factor of four in throughput
// (measured with 240 KiB frames, bench/files.sh).
constexpr std::size_t kChunk = 60 * 1024;
// A listing larger than this is refused (a server cannot make the client
// hold an unbounded list).
constexpr std::size_t kMaxListing = 64u << 20;

// What a file operation's REPLY status means here.
Error status_error(std::uint8_t status, std::string_view text) {
  const std::string said = "server says: " + util::escape_for_display(text);
  switch (static_cast<FileStatus>(status)) {
    case FileStatus::not_found:
      return Error(Errc::not_found, said);
    case FileStatus::exists:
      return Error(Errc::exists, said);
    case FileStatus::bad_name:
      return Error(Errc::malformed, said);
    case FileStatus::no_space:
      return Error(Errc::no_space, said);
    case FileStatus::not_verified:
    case FileStatus::changed:
      return Error(Errc::not_verified, said);
    default:
      return Error(Errc::refused, said + " (status " + std::to_string(status) + ")");
  }
}

// A CANCEL from the server. A refusal of this one operation (the key's
// allow= does not name it) is the server refusing, not a failed
// authentication: the connection itself was admitted.
Error cancel_error(const wire::ErrorRecord& r) {
  Error e = channel::peer_error(r);
  if (e.is(Errc::not_authorized)) return Error(Errc::refused, e.detail);
  return e;
}

}  // namespace

// One operation in progress: what the server has answered, and a signal
// its awaiting coroutine sleeps on.
struct FileClient::Op {
  explicit Op(const asio::any_io_executor& ex) : signal(ex, Clock::time_point::max()) {}
  virtual ~Op() = default;
  // DATA from the server on this operation.
  virtual Result<void> data(FileClient&, std::uint32_t, util::ByteSpan, bool) {
    return Error(Errc::unexpected_frame, "the server sent data on an upload");
  }
  void notify() { signal.cancel(); }

  asio::steady_timer signal;
  // The REPLY (status, text), or why none will come.
  std::optional<Result<std::pair<std::uint8_t, std::string>>> answer;
};

struct FileClient::Download : Op {
  Download(const asio::any_io_executor& ex, files::Upload f, ProgressFn p, bool asked_resume,
           bool asked_receipt)
      : Op(ex),
        file(std::move(f)),
        progress(std::move(p)),
        resumed(asked_resume),
        asks_receipt(asked_receipt),
        hash(crypto::Sha256::resume(file.resume_point().state)) {}
  // Cut off or failed: the part is kept with what has arrived, for the next
  // attempt (nothing for a published or abandoned one).
  ~Download() override { (void)file.checkpoint(hash.midstate()); }

  Result<void> data(FileClient& client, std::uint32_t id, util::ByteSpan bytes, bool fin) override {
    const std::size_t total = bytes.size();
    if (!stream) {
      const std::size_t header_size =
          resumed ? proto::kResumedFileHeaderSize : proto::kFileHeaderSize;
      const std::size_t n = std::min(bytes.size(), header_size - header.size());
      header.insert(header.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      bytes = bytes.subspan(n);
      if (header.size() == header_size) {
        auto h = proto::decode_file_header(header, resumed);
        if (!h) return h.error();
        if (auto s = start(*h); !s) return s;
      }
    }
    if (stream) {
      // With RECEIPT the signed receipt follows the digest.
      util::ByteSpan after;
      auto content = stream->take(bytes, asks_receipt ? &after : nullptr);
      if (!content) {
        file.abandon();
        return content.error();
      }
      if (receipt.size() + after.size() > 4 + 4096 + crypto::kMaxSshsigArmorSize) {
        return Error(Errc::too_large, "a receipt larger than any signet signs");
      }
      receipt.insert(receipt.end(), after.begin(), after.end());
      if (!content->empty()) {
        if (auto w = file.write(*content); !w) return w.error();
        hash.update(*content);
        if (progress) progress(stream->received(), stream->size());
        if (auto c = file.checkpoint_if_due(hash.midstate()); !c) {
          spdlog::debug("get: no checkpoint: {}", c.error().message());
        }
      }
    }
    if (fin) {
      if (!stream) return Error(Errc::truncated, "the file's header");
      if (auto f = stream->finish(); !f) {
        file.abandon();
        return f.error();
      }
      digest = hash.finish();
      if (!crypto::constant_time_equal(*digest, stream->digest())) {
        file.abandon();  // the part is not the file: the next attempt starts over
        digest.reset();
        return Error(Errc::not_verified,
                     "the file's SHA-256 is not the one the server sent; nothing written");
      }
      return {};
    }
    ungranted += static_cast<std::uint32_t>(total);
    if (ungranted >= kGrantStep) {
      LinkSink sink(*client.connection_);
      return client.session_.grant(id, std::exchange(ungranted, 0), sink);
    }
    return {};
  }

  // The header has arrived: go on from the part held, or start over.
  Result<void> start(const proto::FileHeader& h) {
    meta = h;
    const auto& point = file.resume_point();
    if (resumed && h.offset == point.offset && h.size == point.size && h.mtime == point.mtime) {
      resumed_from = h.offset;  // the hash goes on from the part's state
    } else if (h.offset != 0) {
      return Error(Errc::malformed,
                   "the server resumed at " + std::to_string(h.offset) + ", not where asked");
    } else {
      // A fresh download, or the server's file is not the one the part was
      // of (another size or time): from the start.
      started_over = resumed;
      hash = crypto::Sha256();
      if (auto s = file.start_over(h.size, h.mtime); !s) return s;
    }
    stream.emplace(h.size, h.offset);
    if (progress) progress(stream->received(), stream->size());
    return {};
  }

  files::Upload file;  // the part; kept for resuming, or removed, unless published
  ProgressFn progress;
  bool resumed;  // asked to resume (the header then has an offset)
  bool asks_receipt;
  util::Bytes receipt;  // as it arrives, after the digest
  util::Bytes header;
  proto::FileHeader meta;
  std::optional<proto::FileStream> stream;
  crypto::Sha256 hash;
  std::uint64_t resumed_from = 0;
  bool started_over = false;
  std::optional<crypto::Sha256Digest> digest;  // once complete and verified
  std::uint32_t ungranted = 0;
  std::optional<Result<void>> published;  // set by publish_batch()
};

// A PUT. With RESUME the server's first DATA says where to start (41
// bytes); with RECEIPT its last DATA is the signed receipt.
struct FileClient::Upload : Op {
  Upload(const asio::any_io_executor& ex, bool asked_resume, bool asked_receipt)
      : Op(ex), asks_resume(asked_resume), asks_receipt(asked_receipt) {}
  Result<void> data(FileClient&, std::uint32_t, util::ByteSpan bytes, bool) override {
    if (asks_resume && !resume) {
      const std::size_t n = std::min(bytes.size(), proto::kResumeAnswerSize - answer_bytes.size());
      answer_bytes.insert(answer_bytes.end(), bytes.begin(),
                          bytes.begin() + static_cast<std::ptrdiff_t>(n));
      bytes = bytes.subspan(n);
      if (answer_bytes.size() == proto::kResumeAnswerSize) {
        auto a = proto::decode_resume_answer(answer_bytes);
        if (!a) return a.error();
        resume = *a;
        notify();
      }
    }
    if (bytes.empty()) return {};
    if (!asks_receipt) {
      return Error(Errc::unexpected_frame, "the server sent more than where to resume");
    }
    if (receipt.size() + bytes.size() > 4 + 4096 + crypto::kMaxSshsigArmorSize) {
      return Error(Errc::too_large, "a receipt larger than any signet signs");
    }
    receipt.insert(receipt.end(), bytes.begin(), bytes.end());
    return {};
  }
  bool asks_resume;
  bool asks_receipt;
  util::Bytes answer_bytes;
  std::optional<proto::ResumeAnswer> resume;
  util::Bytes receipt;  // as it arrives
};

struct FileClient::Listing : Op {
  using Op::Op;
  Result<void> data(FileClient&, std::uint32_t, util::ByteSpan bytes, bool fin) override {
    received += bytes.size();
    if (received > kMaxListing) {
      return Error(Errc::too_large,
                   "a listing of more than " + std::to_string(kMaxListing) + " bytes");
    }
    pending.insert(pending.end(), bytes.begin(), bytes.end());
    std::size_t used = 0;
    for (;;) {
      auto e = proto::take_list_entry(util::ByteSpan(pending).subspan(used));
      if (!e) return e.error();
      if (!e->has_value()) break;
      entries.push_back(std::move((*e)->first));
      used += (*e)->second;
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
    if (fin && !pending.empty()) return Error(Errc::truncated, "the last entry of the listing");
    return {};
  }
  std::size_t received = 0;
  util::Bytes pending;
  std::vector<proto::ListEntry> entries;
};

Result<std::shared_ptr<FileClient>> FileClient::over(std::shared_ptr<net::Connection> connection) {
  if (connection->protocol_version() < proto::kVersion2) {
    return Error(Errc::unsupported_operation,
                 "the server speaks protocol version 1, which has no file transfer");
  }
  auto client = std::shared_ptr<FileClient>(new FileClient(std::move(connection)));
  client->connection_->on_close([weak = std::weak_ptr<FileClient>(client)](const Error& why) {
    if (auto c = weak.lock()) c->closed(why);
  });
  client->connection_->start(client);
  return client;
}

FileClient::FileClient(std::shared_ptr<net::Connection> connection)
    : connection_(std::move(connection)),
      session_(proto::Role::client, connection_->protocol_version()) {}

Result<std::uint32_t> FileClient::open(proto::Kind kind, util::ByteSpan body, bool fin,
                                       std::shared_ptr<Op> op, bool receipt) {
  if (const auto& e = connection_->error()) return *e;
  if (!connection_->is_open()) return Error(Errc::peer_closed, "the connection is closed");
  LinkSink sink(*connection_);
  auto id = session_.open(static_cast<std::uint8_t>(kind), body, fin, sink, receipt);
  if (!id) return id.error();
  ops_.emplace(*id, std::move(op));
  touch();
  return id;
}

awaitable<void> FileClient::wait(Op& op) {
  co_await op.signal.async_wait(kTuple);
  op.signal.expires_at(Clock::time_point::max());
}

void FileClient::touch() {
  // The server must show progress (credit, data, an answer) within
  // reply_timeout while an operation is open.
  if (ops_.empty()) {
    connection_->disarm();
  } else {
    connection_->arm(connection_->options().reply_timeout);
  }
}

awaitable<Result<void>> FileClient::receive(net::Link&) {
  auto r = take_frames();
  touch();
  co_return r;
}

Result<void> FileClient::take_frames() {
  LinkSink sink(*connection_);
  for (;;) {
    auto f = connection_->next_frame();
    if (!f) return f.error();
    if (!f->has_value()) return {};
    auto e = session_.receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, sink);
    if (!e) return e.error();
    if (!e->has_value()) continue;
    if (auto* d = std::get_if<proto::Received>(&**e)) {
      auto it = ops_.find(d->op);
      if (it == ops_.end()) continue;
      if (auto r = it->second->data(*this, d->op, d->bytes, d->fin); !r) {
        // This transfer failed here (a short or tampered stream, a local
        // disk error): the server stops sending it, the connection goes on.
        (void)session_.cancel(d->op, {wire::error_code_for(r.error()), r.error().message()}, sink);
        it->second->answer.emplace(r.error());
        it->second->notify();
        ops_.erase(it);
      }
    } else if (auto* w = std::get_if<proto::WindowGrown>(&**e)) {
      if (auto it = ops_.find(w->op); it != ops_.end()) it->second->notify();
    } else if (auto* a = std::get_if<proto::Answered>(&**e)) {
      if (auto it = ops_.find(a->op); it != ops_.end()) {
        it->second->answer.emplace(std::make_pair(a->status, std::string(util::as_chars(a->text))));
        it->second->notify();
        ops_.erase(it);
      }
    } else if (auto* c = std::get_if<proto::Cancelled>(&**e)) {
      if (auto it = ops_.find(c->op); it != ops_.end()) {
        it->second->answer.emplace(cancel_error(c->error));
        it->second->notify();
        ops_.erase(it);
      }
    } else if (auto* o = std::get_if<proto::Opened>(&**e)) {
      (void)session_.cancel(
          o->op, {wire::ErrorCode::unsupported_operation, "this client serves no operations"},
          sink);
    }
  }
}

void FileClient::closed(const Error& why) {
  auto ops = std::move(ops_);
  ops_.clear();
  for (auto& [id, op] : ops) {
    op->answer.emplace(why);
    op->notify();
  }
}

awaitable<Result<void>> FileClient::send_file(std::uint32_t id, Op& op, int fd, std::uint64_t size,
                                              std::uint64_t from, files::SourceDigest& source,
                                              const ProgressFn& progress) {
  const std::size_t limit = std::min<std::size_t>(kChunk, connection_->max_send_payload());
  util::Bytes buf(std::min<std::uint64_t>(limit, std::max<std::uint64_t>(size - from, 1)));
  std::uint64_t offset = from;
  std::optional<crypto::Sha256Digest> digest;
  std::size_t digest_sent = 0;
  LinkSink sink(*connection_);
  if (progress) progress(offset, size);
  for (;;) {
    if (op.answer) co_return Result<void>{};  // answered early: a refusal, or the connection's end
    const std::uint32_t window = session_.send_window(id);
    if (window == 0) {
      co_await wait(op);
      continue;
    }
    if (connection_->queued() >= net::kOutputHighWater) {
      if (auto d = co_await connection_->drained(); !d) co_return d.error();
      continue;
    }
    const std::size_t room = std::min<std::size_t>(window, limit);
    if (!digest) {
      // The part of the file before a resumed offset is hashed alongside.
      auto hashed = offset < size ? source.step(size - offset) : Result<void>{};
      if (hashed && offset == size) {
        auto d = source.finish();
        if (d) digest = *d;
        if (!d) hashed = d.error();
      }
      if (!hashed) {
        (void)session_.cancel(id, {wire::ErrorCode::cancelled, hashed.error().message()}, sink);
        ops_.erase(id);
        co_return hashed.error();
      }
    }
    if (offset < size) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(room, size - offset));
      ssize_t got = 0;
      do {
        got = ::read(fd, buf.data(), want);
      } while (got < 0 && errno == EINTR);
      if (got <= 0) {
        const Error e(Errc::io, got < 0
                                    ? std::string("cannot read the file: ") + std::strerror(errno)
                                    : std::string("the file became shorter while it was sent"));
        (void)session_.cancel(id, {wire::ErrorCode::cancelled, e.message()}, sink);
        ops_.erase(id);
        co_return e;
      }
      const util::ByteSpan bytes(buf.data(), static_cast<std::size_t>(got));
      source.sent(bytes, offset);
      offset += bytes.size();
      if (auto s = session_.send_data(id, bytes, false, sink); !s) co_return s.error();
      if (progress) progress(offset, size);
      continue;
    }
    const std::size_t n = std::min(room, digest->size() - digest_sent);
    const bool last = digest_sent + n == digest->size();
    if (auto s =
            session_.send_data(id, util::ByteSpan(*digest).subspan(digest_sent, n), last, sink);
        !s) {
      co_return s.error();
    }
    digest_sent += n;
    if (last) co_return Result<void>{};
  }
}

awaitable<Result<TransferResult>> FileClient::put(std::filesystem::path local, std::string remote,
                                                  bool replace, ProgressFn progress,
                                                  bool want_receipt) {
  if (want_receipt) {
    if (auto c = can_check_receipts(connection_->peer().identity, shared_receipt_key_.get()); !c) {
      co_return c.error();
    }
  }
  util::UniqueFd fd(::open(local.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) co_return Error(Errc::not_found, util::escape_for_display(local.string()));
    co_return Error(Errc::io, "cannot open " + util::escape_for_display(local.string()) + ": " +
                                  std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    co_return Error(Errc::io, "cannot stat " + util::escape_for_display(local.string()) + ": " +
                                  std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    co_return Error(Errc::config,
                    util::escape_for_display(local.string()) + " is not a regular file");
  }
  (void)::fcntl(fd.get(), F_SETFL, O_RDONLY);  // reads may block on a slow disk, not a FIFO
  if (remote.size() > proto::kMaxNameSize) {
    co_return Error(Errc::malformed,
                    "a name of more than " + std::to_string(proto::kMaxNameSize) + " bytes");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  proto::PutRequest request{replace,
                            size,
                            static_cast<std::uint32_t>(st.st_mode & 0777),
                            static_cast<std::int64_t>(st.st_mtime),
                            remote,
                            true};
  TransferResult result{size, {}, 0, false, nullptr};
  // The first attempt goes on from a part the server holds; a second, after
  // the server's part turned out not to be this file's beginning, does not.
  for (int attempt = 0;; ++attempt) {
    request.resume = attempt == 0;
    auto op = std::make_shared<Upload>(connection_->executor(), request.resume, want_receipt);
    const auto body = proto::encode(request);
    auto id = open(proto::Kind::put, body, false, op, want_receipt);
    if (!id) co_return id.error();
    std::uint64_t from = 0;
    std::optional<crypto::Sha256Digest> prefix;
    if (request.resume) {
      while (!op->answer && !op->resume) co_await wait(*op);
      if (op->resume) {
        if (op->resume->offset > size) {
          co_return Error(Errc::malformed, "the server resumes past the end of the file");
        }
        from = op->resume->offset;
        if (from > 0) prefix = op->resume->prefix;
        if (op->resume->outcome == proto::kResumeChanged) result.started_over = true;
      }
    }
    if (::lseek(fd.get(), static_cast<off_t>(from), SEEK_SET) < 0) {
      co_return Error(Errc::io, "cannot read " + util::escape_for_display(local.string()) + ": " +
                                    std::strerror(errno));
    }
    files::SourceDigest source(fd.get(), size, from, prefix);
    if (!op->answer) {
      auto s = co_await send_file(*id, *op, fd.get(), size, from, source, progress);
      if (!s && source.changed() && attempt == 0) {
        result.started_over = true;  // the cancel went out; the server keeps nothing of it
        continue;
      }
      if (!s) co_return s.error();
    }
    while (!op->answer) co_await wait(*op);
    if (!*op->answer) co_return op->answer->error();
    const auto& [status, text] = **op->answer;
    if (status != static_cast<std::uint8_t>(FileStatus::ok)) co_return status_error(status, text);
    // The server's answer names the SHA-256 it computed: the one sent.
    auto digest = util::from_hex(text);
    if (!digest || digest->size() != result.digest.size()) {
      co_return Error(Errc::not_verified, "the server's answer holds no SHA-256");
    }
    std::copy(digest->begin(), digest->end(), result.digest.begin());
    result.resumed_from = from;
    if (want_receipt) {
      auto r = check_receipt_for(
          op->receipt, connection_->peer().identity,
          ReceiptExpected{"put", remote, size, result.digest, wire::Reply{status, text}},
          shared_receipt_key_.get());
      if (!r) co_return r.error();
      result.receipt = std::make_shared<const Receipt>(std::move(*r));
    }
    co_return result;
  }
}

awaitable<Result<TransferResult>> FileClient::get(std::string remote, std::filesystem::path local,
                                                  bool replace, ProgressFn progress,
                                                  bool want_receipt) {
  // The file is written only in local's folder, under local's name, never
  // through a symbolic link; whatever the server sends cannot name another.
  auto folder = files::ServedFolder::open(util::parent_dir(local));
  if (!folder) co_return folder.error();
  co_return co_await get_into(std::move(remote), *folder, local.filename().string(), replace,
                              std::move(progress), want_receipt);
}

awaitable<Result<TransferResult>> FileClient::get_into(std::string remote,
                                                       const files::ServedFolder& into,
                                                       std::string name, bool replace,
                                                       ProgressFn progress, bool want_receipt) {
  if (want_receipt) {
    if (auto c = can_check_receipts(connection_->peer().identity, shared_receipt_key_.get()); !c) {
      co_return c.error();
    }
  }
  if (remote.size() > proto::kMaxNameSize) {
    co_return Error(Errc::malformed,
                    "a name of more than " + std::to_string(proto::kMaxNameSize) + " bytes");
  }
  // The part is this remote file's: the next attempt to fetch it here finds it.
  const std::string key = "get:" + remote;
  bool started_over = false;
  for (int attempt = 0;; ++attempt) {
    auto upload = into.begin_resumable(name, replace, util::as_bytes(key), 0, 0,
                                       /*resume=*/attempt == 0, /*any_source=*/true);
    if (!upload) co_return upload.error();
    proto::GetRequest request{remote, std::nullopt};
    const files::ResumePoint point = upload->resume_point();
    if (point.outcome == files::ResumePoint::Outcome::resumed) {
      request.resume = proto::GetResume{point.offset, point.size, point.mtime,
                                        crypto::Sha256::resume(point.state).peek()};
    }
    auto op = std::make_shared<Download>(connection_->executor(), std::move(*upload), progress,
                                         request.resume.has_value(), want_receipt);
    const auto body = proto::encode(request);
    auto id = open(proto::Kind::get, body, true, op, want_receipt);
    if (!id) co_return id.error();
    LinkSink sink(*connection_);
    if (auto g = session_.grant(*id, kDownloadWindow - proto::kInitialWindow, sink); !g) {
      co_return g.error();
    }
    while (!op->answer) co_await wait(*op);
    if (!*op->answer) co_return op->answer->error();
    const auto& [status, text] = **op->answer;
    if (status == static_cast<std::uint8_t>(FileStatus::changed) && attempt == 0) {
      // The part held is not the beginning of the server's file.
      op->file.abandon();
      started_over = true;
      continue;
    }
    if (status != static_cast<std::uint8_t>(FileStatus::ok)) co_return status_error(status, text);
    if (!op->digest) {
      co_return Error(Errc::not_verified, "the server answered before the file was complete");
    }
    if (text != util::to_hex(*op->digest)) {
      op->file.abandon();
      co_return Error(Errc::not_verified, "the server's answer names another SHA-256");
    }
    std::shared_ptr<const Receipt> receipt;
    if (want_receipt) {
      // Checked before the file is published: asked for, it is part of
      // what the download must bring.
      auto r = check_receipt_for(
          op->receipt, connection_->peer().identity,
          ReceiptExpected{"get", remote, op->meta.size, *op->digest, wire::Reply{status, text}},
          shared_receipt_key_.get());
      if (!r) co_return r.error();
      receipt = std::make_shared<const Receipt>(std::move(*r));
    }
    if (auto p = co_await publish(op); !p) co_return p.error();
    co_return TransferResult{op->meta.size, *op->digest, op->resumed_from,
                             started_over || op->started_over, std::move(receipt)};
  }
}

awaitable<Result<void>> FileClient::publish(std::shared_ptr<Download> op) {
  to_publish_.push_back(op);
  if (!publish_posted_) {
    // After the other downloads that finish in this turn have joined.
    publish_posted_ = true;
    asio::post(connection_->executor(), [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->publish_batch();
    });
  }
  while (!op->published) co_await wait(*op);
  co_return std::move(*op->published);
}

void FileClient::publish_batch() {
  publish_posted_ = false;
  auto batch = std::move(to_publish_);
  to_publish_.clear();
  std::vector<files::Finished> finished;
  for (const auto& d : batch)
    finished.push_back(files::Finished{&d->file, d->meta.mode, d->meta.mtime});
  const auto results = files::publish_together(finished);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i]->published.emplace(results[i]);
    batch[i]->notify();
  }
}

awaitable<Result<std::vector<proto::ListEntry>>> FileClient::list(std::string remote,
                                                                  bool recursive) {
  if (remote.size() > proto::kMaxNameSize) {
    co_return Error(Errc::malformed,
                    "a name of more than " + std::to_string(proto::kMaxNameSize) + " bytes");
  }
  auto op = std::make_shared<Listing>(connection_->executor());
  const auto body = proto::encode(proto::ListRequest{remote, recursive});
  auto id = open(proto::Kind::list, body, true, op);
  if (!id) co_return id.error();
  LinkSink sink(*connection_);
  // A listing is kept whole anyway (up to kMaxListing): all the credit at once.
  if (auto g = session_.grant(*id, proto::kMaxWindow - proto::kInitialWindow, sink); !g) {
    co_return g.error();
  }
  while (!op->answer) co_await wait(*op);
  if (!*op->answer) co_return op->answer->error();
  const auto& [status, text] = **op->answer;
  if (status != static_cast<std::uint8_t>(FileStatus::ok)) co_return status_error(status, text);
  co_return std::move(op->entries);
}

}  // namespace signet
