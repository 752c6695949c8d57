#include "api/audit_log.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <system_error>

#include "crypto/sshsig.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet {
namespace {

using Json = nlohmann::ordered_json;

const std::string kZeroHash(64, '0');
// The longest line the server reads back or verify accepts: far above any
// real one (a checkpoint with a 16384-bit RSA signature is under 4 KiB; an
// operation line with a 4096-byte name escaped is under 20 KiB).
constexpr std::size_t kMaxLine = std::size_t{1} << 20;

std::string shown(const std::filesystem::path& p) {
  return util::escape_for_display(p.string());
}

Error errno_error(const std::string& what, const std::filesystem::path& p, int err) {
  return Error(Errc::io, what + " " + shown(p) + ": " + std::generic_category().message(err));
}

// UTC with milliseconds: "2026-12-02T15:04:05.123Z".
std::string time_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

std::string line_hash(std::string_view line) {
  return util::to_hex(crypto::sha256({util::as_bytes(line)}));
}

bool is_hex64(const Json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A line (without its LF) as a JSON object; nullopt if it is not one.
std::optional<Json> parse_line(std::string_view text) {
  try {
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

struct AuditLog::Queued {
  std::string time;
  std::string event;  // "operation": entry; otherwise: fields
  AuditEntry entry;
  Json fields;
};

namespace {

// The most lines that may wait for the writer; beyond, lines are dropped
// (and counted) rather than let a stalled disk take the server's memory.
constexpr std::size_t kMaxQueued = 1000000;

void put_entry(Json& f, const AuditEntry& e) {
  f["peer"] = e.peer;
  if (!e.mode.empty()) f["mode"] = e.mode;
  if (!e.key.empty()) f["key"] = e.key;
  if (!e.comment.empty()) f["comment"] = e.comment;
  f["op"] = e.op;
  f["operation"] = e.operation;
  f["outcome"] = e.outcome;
  if (e.status) f["status"] = *e.status;
  if (!e.name.empty()) f["name"] = e.name;
  if (e.size) f["size"] = *e.size;
  if (!e.sha256.empty()) f["sha256"] = e.sha256;
  if (!e.reply_sha256.empty()) f["reply_sha256"] = e.reply_sha256;
  if (!e.reason.empty()) f["reason"] = e.reason;
}

}  // namespace

std::string audit_checkpoint_statement(std::string_view server_key, std::uint64_t seq,
                                       std::string_view prev, std::string_view time) {
  std::string s = "signet audit checkpoint v1\nserver-key ";
  s.append(server_key);
  s += "\nseq " + std::to_string(seq) + "\nprev ";
  s.append(prev);
  s += "\ntime ";
  s.append(time);
  s += '\n';
  return s;
}

AuditLog::AuditLog(util::UniqueFd fd, std::filesystem::path path,
                   std::shared_ptr<const crypto::PrivateKey> key,
                   std::shared_ptr<const SharedMacKey> shared)
    : fd_(std::move(fd)), path_(std::move(path)), key_(std::move(key)) {
  if (key_) {
    key_fingerprint_ = key_->public_key().fingerprint();
  } else if (shared) {
    shared_ = std::move(shared);
    key_fingerprint_ = std::string(kSharedKeyName);
  }
}

std::shared_ptr<const SharedMacKey> audit_shared_key(const crypto::SecretBytes& psk) {
  return std::make_shared<const SharedMacKey>(psk, "signet audit v1");
}

AuditLog::~AuditLog() {
  close();
}

Result<std::shared_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& path,
                                                 std::shared_ptr<const crypto::PrivateKey> key,
                                                 std::chrono::milliseconds checkpoint_every,
                                                 std::shared_ptr<const SharedMacKey> shared) {
  util::UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                           S_IRUSR | S_IWUSR));
  if (!fd) return errno_error("cannot open the audit log", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Error(Errc::config, "the audit log " + shown(path) + " is not a regular file");
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error(Errc::io, "the audit log " + shown(path) +
                                 " is in use by another process (another signet server?)");
    }
    return errno_error("cannot lock", path, errno);
  }
  const auto not_a_log = [&path] {
    return Error(Errc::malformed, "the audit log " + shown(path) +
                                      " does not end with a signet audit record (not touched)");
  };
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::uint64_t seq = 0;
  std::string prev = kZeroHash;
  std::uint64_t torn = 0;
  std::uint64_t kept = size;
  if (size > 0) {
    // The last complete line carries the chain on; bytes after it are a
    // line a crash cut short.
    const std::uint64_t window = std::min<std::uint64_t>(size, 2 * kMaxLine);
    if (::lseek(fd.get(), static_cast<off_t>(size - window), SEEK_SET) < 0) {
      return errno_error("cannot seek in", path, errno);
    }
    auto tail = util::read_rest(fd.get(), window, path);
    if (!tail) return tail.error();
    const std::uint64_t base = size - tail->size();
    const auto end = tail->rfind('\n');
    const auto start =
        end == std::string::npos || end == 0 ? std::string::npos : tail->rfind('\n', end - 1);
    if (end == std::string::npos || (start == std::string::npos && base != 0)) {
      return not_a_log();
    }
    const std::size_t begin = start == std::string::npos ? 0 : start + 1;
    const std::string_view last(tail->data() + begin, end + 1 - begin);
    auto j = parse_line(last.substr(0, last.size() - 1));
    if (!j || !(*j)["seq"].is_number_unsigned() || !is_hex64((*j)["prev"])) {
      return not_a_log();
    }
    seq = (*j)["seq"].get<std::uint64_t>();
    prev = line_hash(last);
    kept = base + end + 1;
    torn = size - kept;
    if (torn > 0) {
      if (::ftruncate(fd.get(), static_cast<off_t>(kept)) != 0) {
        return errno_error("cannot cut the torn last line of", path, errno);
      }
      spdlog::warn("audit log {}: cut off a torn last line of {} bytes (a crash while writing it)",
                   shown(path), torn);
    }
  }
  std::shared_ptr<AuditLog> log(
      new AuditLog(std::move(fd), path, std::move(key), std::move(shared)));
  log->size_ = kept;
  log->seq_ = seq;
  log->prev_ = std::move(prev);
  Queued start{time_now(), "start", {}, Json::object()};
  if (!log->key_fingerprint_.empty()) start.fields["server_key"] = log->key_fingerprint_;
  start.fields["pid"] = static_cast<std::int64_t>(::getpid());
  if (torn > 0) start.fields["torn_bytes_removed"] = torn;
  {
    std::lock_guard lock(log->write_mu_);
    if (!log->append({std::move(start)})) {
      return Error(Errc::io, "cannot write to the audit log " + shown(path));
    }
  }
  if (auto c = log->checkpoint(); !c) return c.error();
  log->writer_ = std::thread([raw = log.get(), checkpoint_every] { raw->run(checkpoint_every); });
  return log;
}

bool AuditLog::append(const std::vector<Queued>& lines) {
  std::string text;
  std::uint64_t seq = seq_;
  std::string prev = prev_;
  std::uint64_t lost = lost_;
  for (const auto& q : lines) {
    Json j = Json::object();
    j["seq"] = seq + 1;
    j["prev"] = prev;
    j["time"] = q.time;
    if (lost > 0) j["lines_lost_before"] = lost;
    j["event"] = q.event;
    if (q.event == "operation") put_entry(j, q.entry);
    if (q.fields.is_object()) {
      for (const auto& [k, v] : q.fields.items()) j[k] = v;
    }
    const std::size_t at = text.size();
    text += j.dump(-1, ' ', false, Json::error_handler_t::replace);
    text += '\n';
    prev = line_hash(std::string_view(text).substr(at));
    ++seq;
    lost = 0;
  }
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd_.get(), text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      // What went out goes again, so that the chain stays whole.
      if (off > 0 && ::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) {
        spdlog::error("audit log {}: cannot cut lines written in part: {}", shown(path_),
                      std::generic_category().message(errno));
      }
      const std::uint64_t before = lost_;
      lost_ += lines.size();
      // Logged when the count passes a power of two: a full disk does not
      // flood the log.
      if (before == 0 || std::bit_width(before) != std::bit_width(lost_)) {
        spdlog::error("audit log {}: cannot write ({} line(s) left out so far): {}", shown(path_),
                      lost_, std::generic_category().message(err));
      }
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  size_ += text.size();
  seq_ = seq;
  prev_ = std::move(prev);
  lost_ = 0;
  dirty_ = true;
  return true;
}

void AuditLog::refused_connection(const std::string& peer, const std::string& reason) {
  Queued q{time_now(), "refused", {}, Json::object()};
  q.fields["peer"] = peer;
  q.fields["reason"] = util::escape_for_display(reason);
  enqueue(std::move(q));
}

void AuditLog::record(AuditEntry e) {
  enqueue(Queued{time_now(), "operation", std::move(e), {}});
}

void AuditLog::enqueue(Queued q) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (queued_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    queued_.push_back(std::move(q));
    if (queued_.size() > 1) return;  // the writer has been woken already
  }
  wake_.notify_one();
}

void AuditLog::write_queued(const Queued* extra) {
  std::vector<Queued> batch;
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    batch.swap(queued_);
    dropped = std::exchange(dropped_, 0);
  }
  lost_ += dropped;
  if (extra != nullptr) batch.push_back(*extra);
  if (!batch.empty()) append(batch);
}

void AuditLog::flush() {
  std::lock_guard lock(write_mu_);
  if (!closed_) write_queued();
}

Result<void> AuditLog::checkpoint() {
  std::unique_lock lock(write_mu_);
  if (closed_) return {};
  write_queued();
  return checkpoint_locked(lock);
}

Result<void> AuditLog::checkpoint_locked(std::unique_lock<std::mutex>& lock) {
  if (!dirty_) return {};
  if (key_ || shared_) {
    const std::string time = time_now();
    const std::string statement =
        audit_checkpoint_statement(key_fingerprint_, seq_ + 1, prev_, time);
    Queued l{time, "checkpoint", {}, Json::object()};
    l.fields["server_key"] = key_fingerprint_;
    if (key_) {
      auto sig = crypto::sshsig_sign(*key_, kAuditNamespace, util::as_bytes(statement));
      if (!sig) return sig.error();
      l.fields["signature"] = std::move(*sig);
    } else {
      l.fields["mac"] = "hmac-sha256 " + shared_->tag_hex(statement);
    }
    if (!append({std::move(l)})) {
      return Error(Errc::io, "cannot write a checkpoint to the audit log " + shown(path_));
    }
  }
  dirty_ = false;
  lock.unlock();
  // Outside the lock: lines written meanwhile are made durable too.
  if (::fdatasync(fd_.get()) != 0) return errno_error("cannot sync the audit log", path_, errno);
  return {};
}

void AuditLog::run(std::chrono::milliseconds checkpoint_every) {
  auto next_checkpoint = std::chrono::steady_clock::now() + checkpoint_every;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_until(lock, next_checkpoint, [&] { return stopping_ || !queued_.empty(); });
      stop = stopping_;
    }
    if (stop) return;
    if (std::chrono::steady_clock::now() >= next_checkpoint) {
      if (auto c = checkpoint(); !c) spdlog::error("audit log: {}", c.error().message());
      next_checkpoint = std::chrono::steady_clock::now() + checkpoint_every;
    } else {
      flush();
    }
  }
}

void AuditLog::close() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
  std::unique_lock lock(write_mu_);
  if (closed_ || !fd_) return;
  const Queued stop{time_now(), "stop", {}, Json::object()};
  write_queued(&stop);
  if (auto c = checkpoint_locked(lock); !c) {
    spdlog::error("audit log {}: {}", shown(path_), c.error().message());
  }
  if (!lock.owns_lock()) lock.lock();
  closed_ = true;
}

std::uint64_t AuditLog::lines() const {
  std::lock_guard lock(write_mu_);
  return seq_;
}

// The trail.

AuditTrail::AuditTrail(std::shared_ptr<AuditLog> log, const net::PeerInfo& peer)
    : log_(std::move(log)) {
  peer_.peer = peer.address;
  peer_.mode = peer.mode;
  peer_.key = peer.identity.fingerprint;
  peer_.comment = util::escape_for_display(peer.identity.comment);
}

AuditTrail::~AuditTrail() {
  std::vector<std::uint32_t> ops;
  ops.reserve(open_.size());
  for (const auto& [op, e] : open_) ops.push_back(op);
  std::sort(ops.begin(), ops.end());
  for (auto op : ops) {
    auto& e = open_[op];
    e.outcome = "cut-off";
    e.reason = "the connection ended first";
    log_->record(std::move(e));
  }
}

AuditEntry AuditTrail::entry(std::uint32_t op, std::uint8_t kind) const {
  AuditEntry e = peer_;
  e.op = op;
  e.operation = proto::is_known_kind(kind) ? std::string(proto::kind_name(kind))
                                           : "kind " + std::to_string(kind);
  return e;
}

void AuditTrail::message(std::uint32_t op, util::ByteSpan body) {
  AuditEntry e = entry(op, static_cast<std::uint8_t>(proto::Kind::message));
  e.size = body.size();
  e.sha256 = util::to_hex(crypto::sha256({body}));
  open_.insert_or_assign(op, std::move(e));
}

void AuditTrail::file(std::uint32_t op, std::uint8_t kind, std::string_view name,
                      std::optional<std::uint64_t> size) {
  AuditEntry e = entry(op, kind);
  e.name = util::escape_for_display(name);
  e.size = size;
  open_.insert_or_assign(op, std::move(e));
}

void AuditTrail::ended(const proto::Ended& end) {
  AuditEntry e;
  if (auto it = open_.find(end.op); it != open_.end()) {
    e = std::move(it->second);
    open_.erase(it);
  } else {
    e = entry(end.op, end.kind);
  }
  const auto text = util::as_chars(end.text);
  switch (end.how) {
    case proto::Ended::How::replied:
      e.outcome = "answered";
      e.status = end.status;
      if (end.kind == static_cast<std::uint8_t>(proto::Kind::message)) {
        e.reply_sha256 = util::to_hex(crypto::sha256({end.text}));
      } else if (end.status == 0 && text.size() == 64) {
        e.sha256 = std::string(text);  // put, get: the file's SHA-256
      } else if (end.status != 0) {
        e.reason = util::escape_for_display(text);
      }
      break;
    case proto::Ended::How::cancelled:
      e.outcome = "cancelled";
      e.reason = util::escape_for_display(text);
      break;
    case proto::Ended::How::cancelled_by_peer:
      e.outcome = "cancelled-by-peer";
      e.reason = util::escape_for_display(text);
      break;
    case proto::Ended::How::refused:
      e.outcome = "refused";
      e.reason = util::escape_for_display(text);
      break;
  }
  log_->record(std::move(e));
}

// Verification.

namespace {

// What is wrong with a checkpoint's SSHSIG signature, or nothing.
std::string check_signature(const std::string& at, const std::string& fp, const std::string& sig,
                            const std::string& statement, std::string_view server_key) {
  auto signer = crypto::sshsig_verify(sig, kAuditNamespace, util::as_bytes(statement));
  if (!signer)
    return at + ": the checkpoint's signature does not verify (" + signer.error().message() + ")";
  if (signer->fingerprint() != fp) {
    return at + ": the checkpoint is signed by " + signer->fingerprint() +
           ", not by the key it names";
  }
  if (!server_key.empty() && fp != server_key) {
    return at + ": the checkpoint is signed by " + util::escape_for_display(fp) + ", not by " +
           std::string(server_key);
  }
  return {};
}

// Checks one complete line (LF included) as line n of the chain; what is
// wrong with it, or empty.
std::string check_line(std::string_view line, std::uint64_t n, const std::string& prev,
                       std::string_view server_key, const SharedMacKey* shared,
                       AuditReport& report) {
  const auto at = "line " + std::to_string(n);
  auto j = parse_line(line.substr(0, line.size() - 1));
  if (!j) return at + " is not a JSON object (it was changed)";
  const Json& seq = (*j)["seq"];
  if (!seq.is_number_unsigned()) return at + " has no seq (it was changed)";
  if (seq.get<std::uint64_t>() != n) {
    return at + " holds record " + std::to_string(seq.get<std::uint64_t>()) + ", not " +
           std::to_string(n) + ": lines before it were removed or added, or lines were moved";
  }
  const Json& p = (*j)["prev"];
  if (!is_hex64(p)) return at + " has no prev hash (it was changed)";
  if (p.get_ref<const std::string&>() != prev) {
    if (n == 1) return at + " does not start a chain: lines before it were removed";
    return "the chain breaks between line " + std::to_string(n - 1) + " and line " +
           std::to_string(n) + ": line " + std::to_string(n - 1) + " was changed (or " + at +
           "'s prev field)";
  }
  const Json& time = (*j)["time"];
  const Json& event = (*j)["event"];
  if (!time.is_string() || !event.is_string()) return at + " has no time or event (it was changed)";
  const auto& ev = event.get_ref<const std::string&>();
  if (ev == "operation" || ev == "refused" || ev == "start" || ev == "stop") return {};
  if (ev != "checkpoint") return at + " holds an unknown event";
  const Json& key = (*j)["server_key"];
  if (!key.is_string()) return at + ": a checkpoint that names no key";
  const auto& fp = key.get_ref<const std::string&>();
  const auto statement =
      audit_checkpoint_statement(fp, n, prev, time.get_ref<const std::string&>());
  const Json& mac = (*j)["mac"];
  if (fp == kSharedKeyName) {
    // A shared-key server's checkpoint: a MAC only the shared key checks.
    constexpr std::string_view kAlgorithm = "hmac-sha256 ";
    if (!mac.is_string()) return at + ": a shared-key checkpoint without its MAC";
    if (!server_key.empty()) {
      return at + ": the checkpoint is a shared-key MAC, not signed by " + std::string(server_key);
    }
    if (shared == nullptr) {
      return at +
             ": a shared-key checkpoint: checking it needs the shared key "
             "(SHARED_SECRET_KEY or --psk-file)";
    }
    const auto& m = mac.get_ref<const std::string&>();
    if (m.substr(0, kAlgorithm.size()) != kAlgorithm ||
        !shared->verify_hex(statement, std::string_view(m).substr(kAlgorithm.size()))) {
      return at + ": the checkpoint's MAC does not verify with this shared key";
    }
  } else {
    const Json& sig = (*j)["signature"];
    if (!sig.is_string()) return at + ": a checkpoint without its signature";
    if (auto wrong =
            check_signature(at, fp, sig.get_ref<const std::string&>(), statement, server_key);
        !wrong.empty()) {
      return wrong;
    }
  }
  if (std::find(report.signers.begin(), report.signers.end(), fp) == report.signers.end()) {
    report.signers.push_back(fp);
  }
  ++report.checkpoints;
  report.last_checkpoint = n;
  return {};
}

}  // namespace

Result<AuditReport> verify_audit_log(const std::filesystem::path& path, std::string_view server_key,
                                     const SharedMacKey* shared) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("cannot open", path, errno);
  AuditReport report;
  std::string prev = kZeroHash;
  std::string line;
  std::string buf(64 * 1024, '\0');
  for (;;) {
    const ssize_t r = ::read(fd.get(), buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_error("cannot read", path, errno);
    if (r == 0) break;
    std::string_view chunk(buf.data(), static_cast<std::size_t>(r));
    while (!chunk.empty()) {
      const auto nl = chunk.find('\n');
      const auto take = nl == std::string_view::npos ? chunk.size() : nl + 1;
      if (line.size() + take > kMaxLine) {
        report.broken_line = report.lines + 1;
        report.broken = "line " + std::to_string(report.broken_line) + " is over 1 MiB";
        return report;
      }
      line.append(chunk.substr(0, take));
      chunk.remove_prefix(take);
      if (nl == std::string_view::npos) break;
      const std::uint64_t n = report.lines + 1;
      if (auto wrong = check_line(line, n, prev, server_key, shared, report); !wrong.empty()) {
        report.broken_line = n;
        report.broken = std::move(wrong);
        return report;
      }
      prev = line_hash(line);
      report.lines = n;
      line.clear();
    }
  }
  if (!line.empty()) {
    report.broken_line = report.lines + 1;
    report.broken = "line " + std::to_string(report.broken_line) +
                    " is cut short (no line end): the log was truncated, or a crash cut it";
  }
  return report;
}

}  // namespace signet
