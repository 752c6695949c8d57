#include "api/file_service.hpp"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <variant>

#include "api/receipt.hpp"
#include "crypto/primitives.hpp"
#include "files/source_digest.hpp"
#include "util/encoding.hpp"

namespace signet {
namespace {

using proto::FileStatus;

// The credit an upload gets (docs/PROTOCOL.md, "Flow control"): enough to
// keep a fast link busy between WINDOW frames, granted back as it is written.
constexpr std::uint32_t kUploadWindow = 4u << 20;
constexpr std::uint32_t kGrantStep = kUploadWindow / 4;
// The largest DATA this side sends. A frame stays under the TLS channel's
// kept plaintext buffer (64 KiB): larger ones made it allocate, fault in and
// free a fresh buffer per frame, which cost a factor of four in throughput
// (measured with 240 KiB frames, bench/files.sh).
constexpr std::size_t kChunk = 60 * 1024;

// File transfers one connection may have in progress at once: each holds an
// open file, so a peer that opened the protocol's 1024 operations on each
// of a few connections would otherwise use up the server's descriptors.
constexpr std::size_t kMaxTransfers = 128;

// A recursive listing is held whole while it is sent: this bounds it.
constexpr std::size_t kMaxTreeEntries = 1'000'000;

FileStatus status_for(const Error& e) {
  if (e.is(Errc::malformed)) return FileStatus::bad_name;
  if (e.is(Errc::too_large)) return FileStatus::no_space;
  if (e.is(Errc::not_found)) return FileStatus::not_found;
  if (e.is(Errc::exists)) return FileStatus::exists;
  if (e.is(Errc::config)) return FileStatus::not_permitted;
  if (e.is(Errc::no_space)) return FileStatus::no_space;
  return FileStatus::failed;
}

// What the peer is told of a failure: the sentence, without the category's
// words that the status already says.
std::string reason(const Error& e) {
  return e.detail.empty() ? e.message() : e.detail;
}

std::string shown(std::string_view name) {
  return name.empty() ? std::string("the folder") : util::escape_for_display(name);
}

}  // namespace

bool FolderUsage::reserve(std::uint64_t n, std::uint64_t limit, std::uint64_t& now) {
  std::lock_guard lock(mu_);
  now = used_ + reserved_;
  if (now > limit || n > limit - now) return false;
  reserved_ += n;
  return true;
}

void FolderUsage::release(std::uint64_t n) {
  std::lock_guard lock(mu_);
  reserved_ -= std::min(reserved_, n);
}

void FolderUsage::published(std::uint64_t n, std::uint64_t replaced) {
  std::lock_guard lock(mu_);
  reserved_ -= std::min(reserved_, n);
  used_ += n;
  used_ -= std::min(used_, replaced);
}

void FolderUsage::rescanned(std::uint64_t used) {
  std::lock_guard lock(mu_);
  used_ = used;
}

std::uint64_t FolderUsage::used() const {
  std::lock_guard lock(mu_);
  return used_;
}

struct FileOperations::Op {
  virtual ~Op() = default;
};

struct FileOperations::Upload : Op {
  Upload(files::Upload u, const proto::PutRequest& r)
      : file(std::move(u)),
        request(r),
        stream(r.size, file.resume_point().offset),
        hash(crypto::Sha256::resume(file.resume_point().state)) {}
  // Cut off (the connection ended, the peer cancelled): the part is kept
  // with what has arrived, for the next attempt (nothing for a published
  // or abandoned upload); its reservation against --max-total goes.
  ~Upload() override {
    (void)file.checkpoint(hash.midstate());
    if (usage) usage->release(reserved);
  }
  files::Upload file;  // a part kept for resuming, or removed, unless published
  proto::PutRequest request;
  proto::FileStream stream;
  crypto::Sha256 hash;
  std::uint32_t ungranted = 0;    // DATA bytes taken and not yet granted back
  crypto::Sha256Digest digest{};  // once verified
  FolderUsage* usage = nullptr;   // with --max-total: what this upload reserved
  std::uint64_t reserved = 0;
  std::uint64_t replaced = 0;  // the size of the file it replaces
  bool receipt = false;        // the client asked for a signed receipt
};

// A download or a listing: a prefix (the file header, or the whole
// listing), then for a download the file's bytes and their SHA-256.
struct FileOperations::Outgoing : Op {
  std::string name;
  util::Bytes prefix;
  std::size_t prefix_sent = 0;
  std::optional<files::FileForReading> file;  // downloads
  std::uint64_t offset = 0;
  std::optional<files::SourceDigest> source;   // downloads: the whole file's SHA-256
  std::optional<crypto::Sha256Digest> digest;  // once the content is sent
  // What follows the content: the digest, and a receipt if asked for.
  util::Bytes tail;
  std::size_t tail_sent = 0;
  bool receipt = false;     // downloads: the client asked for a signed receipt
  std::size_t entries = 0;  // listings
};

FileOperations::FileOperations(std::shared_ptr<const FileServiceShared> shared,
                               proto::Session& session, net::Link& link, proto::FrameSink& sink,
                               ReceiptKeys receipts, AuditTrail* audit)
    : shared_(std::move(shared)),
      receipts_(std::move(receipts)),
      audit_(audit),
      session_(session),
      link_(link),
      sink_(sink) {}

FileOperations::~FileOperations() {
  for (const auto& [op, o] : ops_) {
    if (dynamic_cast<const Upload*>(o.get()) != nullptr) {
      spdlog::info("{}: upload {} cut off; nothing published", link_.peer().address, op);
    }
  }
}

Result<void> FileOperations::refuse(std::uint32_t op, FileStatus status, const std::string& why) {
  spdlog::warn("{}: file operation {} refused ({}): {}", link_.peer().address, op,
               proto::file_status_name(static_cast<std::uint8_t>(status)), why);
  ops_.erase(op);
  return session_.reply(op, static_cast<std::uint8_t>(status), util::as_bytes(why), sink_);
}

const files::ServedFolder* FileOperations::folder() {
  const std::string& dir = link_.peer().identity.folder;
  if (dir.empty()) return &shared_->folder;
  if (!own_folder_) {
    own_folder_.emplace(shared_->folder.subfolder(dir));
    if (!*own_folder_) {
      spdlog::error("{}: the key's folder dir=\"{}\" cannot be served: {}", link_.peer().address,
                    util::escape_for_display(dir), own_folder_->error().message());
    }
  }
  return *own_folder_ ? &**own_folder_ : nullptr;
}

Result<void> FileOperations::opened(const proto::Opened& o) {
  if (folder() == nullptr) {
    return refuse(o.op, FileStatus::failed, "this key's folder cannot be served");
  }
  if (ops_.size() + verified_.size() >= kMaxTransfers) {
    const std::string why =
        "more than " + std::to_string(kMaxTransfers) + " file transfers at once on one connection";
    spdlog::warn("{}: file operation {} refused: {}", link_.peer().address, o.op, why);
    return session_.cancel(o.op, {wire::ErrorCode::server_busy, why}, sink_);
  }
  switch (static_cast<proto::Kind>(o.kind)) {
    case proto::Kind::put:
      return start_put(o);
    case proto::Kind::get:
      return start_get(o);
    case proto::Kind::list:
      return start_list(o);
    default:
      throw std::logic_error("not a file operation");
  }
}

Result<void> FileOperations::start_put(const proto::Opened& o) {
  auto r = proto::decode_put(o.body);
  if (!r) return refuse(o.op, FileStatus::bad_name, "PUT request: " + r.error().message());
  if (audit_) audit_->file(o.op, o.kind, r->name, r->size);
  if (o.receipt && !receipts_.can_sign(link_.peer())) {
    const Error e(Errc::unsupported_operation,
                  "this server makes no receipts on this connection; nothing was written");
    spdlog::warn("{}: refused put {}: {}", link_.peer().address, o.op, e.detail);
    return session_.cancel(o.op, {wire::error_code_for(e), e.detail}, sink_);
  }
  if (o.fin) {
    return refuse(o.op, FileStatus::not_verified,
                  "a PUT sends the file and its SHA-256 as DATA; this one sent none");
  }
  const auto& limits = shared_->options;
  if (limits.max_file_size != 0 && r->size > limits.max_file_size) {
    return refuse(o.op, FileStatus::no_space,
                  shown(r->name) + " is " + std::to_string(r->size) +
                      " bytes, above this server's limit of " +
                      std::to_string(limits.max_file_size));
  }
  struct statvfs fs {};
  if (::statvfs(folder()->root().c_str(), &fs) == 0) {
    const std::uint64_t room = std::uint64_t{fs.f_bavail} * fs.f_frsize;
    if (r->size > room) {
      return refuse(o.op, FileStatus::no_space,
                    "no room for " + shown(r->name) + " (" + std::to_string(r->size) + " bytes; " +
                        std::to_string(room) + " free)");
    }
  }
  // The folder's total: the upload's whole size is reserved until it is
  // published or ends (a file it replaces counts until then).
  std::uint64_t replaced = 0;
  if (shared_->usage) {
    if (r->replace) {
      if (auto old = folder()->open_for_reading(r->name)) replaced = old->size;
    }
    std::uint64_t now = 0;
    if (!shared_->usage->reserve(r->size, limits.max_total, now)) {
      return refuse(o.op, FileStatus::no_space,
                    "no room for " + shown(r->name) + " (" + std::to_string(r->size) +
                        " bytes): the served folder may hold " + std::to_string(limits.max_total) +
                        " bytes in all and holds or expects " + std::to_string(now));
    }
  }
  // From here the reservation is the operation's to release.
  struct Reservation {
    FolderUsage* usage;
    std::uint64_t n;
    ~Reservation() {
      if (usage) usage->release(n);
    }
  } reservation{shared_->usage.get(), r->size};
  // The part is this sender's for this name: its next attempt finds it.
  const std::string key = "put:" + link_.peer().identity.fingerprint;
  auto upload = folder()->begin_resumable(r->name, r->replace, util::as_bytes(key), r->size,
                                          r->mtime, r->resume);
  if (!upload) return refuse(o.op, status_for(upload.error()), reason(upload.error()));
  const files::ResumePoint point = upload->resume_point();
  if (point.outcome == files::ResumePoint::Outcome::resumed) {
    spdlog::info("{}: put {} resumed at {} of {} bytes", link_.peer().address, shown(r->name),
                 point.offset, r->size);
  } else {
    spdlog::debug("{}: put {} started ({} bytes)", link_.peer().address, shown(r->name), r->size);
  }
  auto op = std::make_unique<Upload>(std::move(*upload), *r);
  op->usage = std::exchange(reservation.usage, nullptr);
  op->reserved = r->size;
  op->replaced = replaced;
  op->receipt = o.receipt;
  ops_.emplace(o.op, std::move(op));
  if (r->resume) {
    proto::ResumeAnswer a;
    if (point.outcome == files::ResumePoint::Outcome::resumed) {
      a.outcome = proto::kResumeResumed;
      a.offset = point.offset;
      a.prefix = crypto::Sha256::resume(point.state).peek();
    } else if (point.outcome == files::ResumePoint::Outcome::changed) {
      a.outcome = proto::kResumeChanged;
    }
    // A receipt, if asked for, follows at the end on the same stream.
    if (auto s = session_.send_data(o.op, proto::encode(a), !o.receipt, sink_); !s) return s;
  }
  return session_.grant(o.op, kUploadWindow - proto::kInitialWindow, sink_);
}

Result<bool> FileOperations::received(const proto::Received& r) {
  auto it = ops_.find(r.op);
  if (it == ops_.end()) return false;
  auto* u = dynamic_cast<Upload*>(it->second.get());
  if (u == nullptr) return false;  // DATA on a download: the peer sends none; ignored
  auto content = u->stream.take(r.bytes);
  if (!content) {
    u->file.abandon();
    if (auto f = refuse(r.op, FileStatus::not_verified, content.error().message()); !f) {
      return f.error();
    }
    return true;
  }
  if (!content->empty()) {
    if (auto w = u->file.write(*content); !w) {
      u->file.abandon();  // no room: keeping the part would hold on to it
      if (auto f = refuse(r.op, status_for(w.error()), reason(w.error())); !f) return f.error();
      return true;
    }
    u->hash.update(*content);
    if (auto c = u->file.checkpoint_if_due(u->hash.midstate()); !c) {
      spdlog::debug("{}: put {}: no checkpoint: {}", link_.peer().address, r.op,
                    c.error().message());
    }
  }
  if (r.fin) {
    if (auto f = finish_put(r.op, *u); !f) return f.error();
    return true;
  }
  // Credit back once written: a slow disk slows the sender.
  u->ungranted += static_cast<std::uint32_t>(r.bytes.size());
  if (u->ungranted >= kGrantStep) {
    const std::uint32_t n = std::exchange(u->ungranted, 0);
    if (auto g = session_.grant(r.op, n, sink_); !g) return g.error();
  }
  return true;
}

Result<void> FileOperations::finish_put(std::uint32_t op, Upload& u) {
  const std::string name = u.request.name;
  if (auto f = u.stream.finish(); !f) {
    u.file.abandon();
    return refuse(op, FileStatus::not_verified, shown(name) + ": " + f.error().message());
  }
  const auto digest = u.hash.finish();
  if (!crypto::constant_time_equal(digest, u.stream.digest())) {
    // The part (resumed or not) is not the file: the next attempt starts over.
    u.file.abandon();
    return refuse(op, FileStatus::not_verified,
                  shown(name) + " did not verify: its SHA-256 is not the one the sender sent");
  }
  u.digest = digest;
  // Published, and answered, by commit() at the end of this batch of frames.
  auto it = ops_.find(op);
  verified_.emplace_back(op, std::move(it->second));
  ops_.erase(it);
  return {};
}

Result<void> FileOperations::commit() {
  if (verified_.empty()) return {};
  auto batch = std::move(verified_);
  verified_.clear();
  std::vector<files::Finished> finished;
  for (auto& [op, o] : batch) {
    auto& u = static_cast<Upload&>(*o);
    finished.push_back(files::Finished{&u.file, u.request.mode, u.request.mtime});
  }
  const auto results = files::publish_together(finished);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::uint32_t op = batch[i].first;
    auto& u = static_cast<Upload&>(*batch[i].second);
    if (!results[i]) {
      u.file.abandon();
      if (auto f = refuse(op, status_for(results[i].error()), reason(results[i].error())); !f) {
        return f;
      }
      continue;
    }
    if (u.usage) {
      u.usage->published(u.reserved, u.replaced);
      u.usage = nullptr;
    }
    const std::string hex = util::to_hex(u.digest);
    spdlog::info("{}: put {} ({} bytes, sha256 {})", link_.peer().address, shown(u.request.name),
                 u.request.size, hex);
    if (u.receipt) {
      if (auto s = send_receipt(op, u, hex); !s) return s;
    }
    link_.served();
    auto r =
        session_.reply(op, static_cast<std::uint8_t>(FileStatus::ok), util::as_bytes(hex), sink_);
    if (!r) return r;
  }
  return {};
}

Result<void> FileOperations::send_receipt(std::uint32_t op, const Upload& u,
                                          const std::string& reply_text) {
  const auto& peer = link_.peer();
  auto r = receipts_.sign(peer, "put", u.request.name, u.request.size, u.digest,
                          static_cast<int>(FileStatus::ok), reply_text);
  if (!r) {
    // The file is published; the client learns it has no receipt (the
    // REPLY comes without one) and says so.
    spdlog::error("{}: cannot sign a receipt: {}", peer.address, r.error().message());
    return {};
  }
  const auto bytes = encode_receipt(*r);
  return session_.send_data(op, bytes, true, sink_);
}

void FileOperations::append_receipt(Outgoing& o) {
  const auto& peer = link_.peer();
  auto r = receipts_.sign(peer, "get", o.name, o.file->size, *o.digest,
                          static_cast<int>(FileStatus::ok), util::to_hex(*o.digest));
  if (!r) {
    // The file goes all the same; the client learns it has no receipt.
    spdlog::error("{}: cannot sign a receipt: {}", peer.address, r.error().message());
    return;
  }
  const auto bytes = encode_receipt(*r);
  o.tail.insert(o.tail.end(), bytes.begin(), bytes.end());
}

Result<void> FileOperations::start_get(const proto::Opened& o) {
  auto r = proto::decode_get(o.body);
  if (!r) return refuse(o.op, FileStatus::bad_name, "GET request: " + r.error().message());
  if (audit_) audit_->file(o.op, o.kind, r->name, std::nullopt);
  if (o.receipt && !receipts_.can_sign(link_.peer())) {
    const Error e(Errc::unsupported_operation,
                  "this server makes no receipts on this connection; nothing was sent");
    spdlog::warn("{}: refused get {}: {}", link_.peer().address, o.op, e.detail);
    return session_.cancel(o.op, {wire::error_code_for(e), e.detail}, sink_);
  }
  auto file = folder()->open_for_reading(r->name);
  if (!file) return refuse(o.op, status_for(file.error()), reason(file.error()));
  if (audit_) audit_->file(o.op, o.kind, r->name, file->size);
  auto out = std::make_unique<Outgoing>();
  out->name = r->name;
  out->receipt = o.receipt;
  // A client holding a part of this very file (same size and time) gets the
  // rest; of another, the whole file again (offset 0 says so).
  std::uint64_t from = 0;
  std::optional<crypto::Sha256Digest> prefix;
  if (r->resume && r->resume->size == file->size && r->resume->mtime == file->mtime) {
    from = r->resume->offset;
    if (from > 0) prefix = r->resume->prefix;
  }
  const proto::FileHeader h{file->size, file->mode, file->mtime, from};
  if (r->resume) {
    const auto header = proto::encode_resumed(h);
    out->prefix.assign(header.begin(), header.end());
  } else {
    const auto header = proto::encode(h);
    out->prefix.assign(header.begin(), header.end());
  }
  out->file.emplace(std::move(*file));
  out->offset = from;
  out->source.emplace(out->file->fd.get(), out->file->size, from, prefix);
  if (from > 0) {
    spdlog::info("{}: get {} resumed at {} of {} bytes", link_.peer().address, shown(r->name), from,
                 out->file->size);
  } else {
    spdlog::debug("{}: get {} started ({} bytes)", link_.peer().address, shown(r->name),
                  out->file->size);
  }
  ops_.emplace(o.op, std::move(out));
  return {};
}

Result<void> FileOperations::start_list(const proto::Opened& o) {
  if (o.receipt) {
    const std::string why = "a listing has no receipt (receipts are for messages, put and get)";
    spdlog::warn("{}: refused list {}: {}", link_.peer().address, o.op, why);
    return session_.cancel(o.op, {wire::ErrorCode::unsupported_operation, why}, sink_);
  }
  auto r = proto::decode_list(o.body);
  if (!r) return refuse(o.op, FileStatus::bad_name, "LIST request: " + r.error().message());
  if (audit_) audit_->file(o.op, o.kind, r->name, std::nullopt);
  auto entries =
      r->recursive ? folder()->list_tree(r->name, kMaxTreeEntries) : folder()->list(r->name);
  if (!entries) return refuse(o.op, status_for(entries.error()), reason(entries.error()));
  auto out = std::make_unique<Outgoing>();
  out->name = r->name;
  for (const auto& e : *entries) {
    proto::append(out->prefix, proto::ListEntry{static_cast<proto::EntryType>(e.type), e.size,
                                                e.mode, e.mtime, e.name});
  }
  out->entries = entries->size();
  ops_.emplace(o.op, std::move(out));
  return {};
}

bool FileOperations::forget(std::uint32_t op) {
  return ops_.erase(op) != 0;
}

Result<bool> FileOperations::pump() {
  bool waits_for_output = false;
  for (auto it = ops_.begin(); it != ops_.end();) {
    auto* o = dynamic_cast<Outgoing*>(it->second.get());
    const std::uint32_t op = it->first;
    ++it;  // pump_one may end op
    if (o == nullptr) continue;
    auto r = pump_one(op, *o);
    if (!r) return r.error();
    if (!*r) waits_for_output = true;
  }
  return waits_for_output;
}

Result<bool> FileOperations::pump_one(std::uint32_t op, Outgoing& o) {
  const std::size_t limit = std::min<std::size_t>(kChunk, link_.max_send_payload());
  for (;;) {
    const std::uint32_t window = session_.send_window(op);
    if (window == 0) return true;  // the peer's credit, not the output, holds it
    if (link_.queued() >= net::kOutputHighWater) return false;
    const std::size_t room = std::min<std::size_t>(window, limit);
    if (o.prefix_sent < o.prefix.size()) {
      const std::size_t n = std::min(room, o.prefix.size() - o.prefix_sent);
      const bool last = !o.file && o.prefix_sent + n == o.prefix.size();
      if (auto s = session_.send_data(op, util::ByteSpan(o.prefix).subspan(o.prefix_sent, n), last,
                                      sink_);
          !s) {
        return s.error();
      }
      o.prefix_sent += n;
      if (!last) continue;
      spdlog::debug("{}: listed {} ({} entries)", link_.peer().address, shown(o.name), o.entries);
      ops_.erase(op);
      link_.served();
      if (auto rep = session_.reply(op, static_cast<std::uint8_t>(FileStatus::ok), {}, sink_);
          !rep) {
        return rep.error();
      }
      return true;
    }
    if (!o.digest) {
      const std::uint64_t left = o.file->size - o.offset;
      // The part of the file before a resumed offset is hashed alongside.
      Result<void> hashed;
      if (left == 0) {
        auto d = o.source->finish();
        if (d) {
          o.digest = *d;
          o.tail.assign(d->begin(), d->end());
          if (o.receipt) append_receipt(o);
        }
        hashed = d ? Result<void>{} : Result<void>(d.error());
      } else {
        hashed = o.source->step(left);
      }
      if (!hashed) {
        if (o.source->changed()) {
          // The client's part is not this file's beginning: it starts over.
          auto f = refuse(op, FileStatus::changed, shown(o.name) + ": " + hashed.error().detail);
          if (!f) return f.error();
          return true;
        }
        spdlog::warn("{}: get {}: {}", link_.peer().address, op, hashed.error().message());
        const std::string why = hashed.error().message();
        ops_.erase(op);
        if (auto c = session_.cancel(op, {wire::ErrorCode::internal, why}, sink_); !c) {
          return c.error();
        }
        return true;
      }
      if (left == 0) continue;
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(room, left));
      chunk_.resize(std::max(chunk_.size(), n));
      ssize_t got = 0;
      do {
        got = ::pread(o.file->fd.get(), chunk_.data(), n, static_cast<off_t>(o.offset));
      } while (got < 0 && errno == EINTR);
      if (got <= 0) {
        const std::string why =
            got < 0 ? std::string("cannot read ") + shown(o.name) + ": " + std::strerror(errno)
                    : shown(o.name) + " became shorter while it was sent";
        spdlog::warn("{}: get {}: {}", link_.peer().address, op, why);
        ops_.erase(op);
        if (auto c = session_.cancel(op, {wire::ErrorCode::internal, why}, sink_); !c) {
          return c.error();
        }
        return true;
      }
      const util::ByteSpan bytes(chunk_.data(), static_cast<std::size_t>(got));
      o.source->sent(bytes, o.offset);
      o.offset += bytes.size();
      if (auto s = session_.send_data(op, bytes, false, sink_); !s) return s.error();
      continue;
    }
    const std::size_t n = std::min(room, o.tail.size() - o.tail_sent);
    const bool last = o.tail_sent + n == o.tail.size();
    if (auto s =
            session_.send_data(op, util::ByteSpan(o.tail).subspan(o.tail_sent, n), last, sink_);
        !s) {
      return s.error();
    }
    o.tail_sent += n;
    if (!last) continue;
    const std::string hex = util::to_hex(*o.digest);
    spdlog::info("{}: get {} ({} bytes, sha256 {})", link_.peer().address, shown(o.name),
                 o.file->size, hex);
    ops_.erase(op);  // o is gone
    link_.served();
    auto rep =
        session_.reply(op, static_cast<std::uint8_t>(FileStatus::ok), util::as_bytes(hex), sink_);
    if (!rep) return rep.error();
    return true;
  }
}

}  // namespace signet
