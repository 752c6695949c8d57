// The server's audit log (signet server --audit-log FILE; docs/PROTOCOL.md,
// "Audit log"): one JSON line per operation a peer opened, however it ended
// (answered, refused, cancelled, cut off), never a message's contents or a
// secret. Each line carries the SHA-256 of the line before it, so that a
// line changed, removed, added or moved breaks the chain where it happened;
// every few seconds a checkpoint line signed by the server's identity key
// (an SSHSIG in namespace "signet-audit") covers the chain so far, and the
// log is fdatasync'ed. `signet audit verify` checks both.
//
// The log is appended with O_APPEND, one write per line, under an
// exclusive flock (one server per log). A line that cannot be written
// whole is cut off again (ftruncate), so a full disk never leaves a torn
// line in the middle of the chain; a torn last line that a crash left is
// cut off when the next server opens the log, and its start line says how
// many bytes went.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/primitives.hpp"
#include "crypto/private_key.hpp"
#include "net/link.hpp"
#include "proto/session.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

namespace signet {

inline constexpr std::string_view kAuditNamespace = "signet-audit";

// One operation as the log records it; empty strings and absent values are
// left out of the line.
struct AuditEntry {
  std::string peer;     // the peer's address
  std::string mode;     // the channel, e.g. "TLS 1.3 (key mode)"
  std::string key;      // key mode: the client key's fingerprint
  std::string comment;  // key mode: its authorized_keys comment (escaped)
  std::uint32_t op = 0;
  std::string operation;  // message, put, get, list, or "kind N" for one unknown
  // answered, cancelled (by the server), cancelled-by-peer, refused, cut-off
  std::string outcome;
  std::optional<int> status;          // answered: the reply's status
  std::string name;                   // files: the name asked for (escaped)
  std::optional<std::uint64_t> size;  // message: its size; files: the file's
  std::string sha256;                 // message: of its bytes; files: of the file
  std::string reply_sha256;           // message: of the reply's text
  std::string reason;                 // not answered, or refused: why (escaped)
};

// The statement a checkpoint's signature covers (namespace kAuditNamespace).
std::string audit_checkpoint_statement(std::string_view server_key, std::uint64_t seq,
                                       std::string_view prev, std::string_view time);

class AuditLog {
 public:
  // Opens (creating it, mode 0600) the log at path and locks it; continues
  // the chain of the lines it holds. key signs checkpoints (none: shared-key
  // mode, which has no identity; the chain is kept, no checkpoint is
  // written). Fails with io when the file cannot be opened or is locked by
  // another process, with malformed when its last complete line is not an
  // audit record (it is not touched then).
  static Result<std::shared_ptr<AuditLog>> open(const std::filesystem::path& path,
                                                std::shared_ptr<const crypto::PrivateKey> key);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();

  // Appends one operation's line. Never fails its caller: a line that
  // cannot be written is logged (spdlog), counted and left out, and the
  // next line written says how many were.
  void record(const AuditEntry& e);
  // Writes a signed checkpoint covering every line so far, then makes the
  // log durable; does nothing when no line was added since the last one.
  Result<void> checkpoint();
  // A "stop" line and a last checkpoint (the server is shutting down).
  void close();

  std::uint64_t lines() const;  // in the file, this server's and earlier ones'

 private:
  AuditLog(util::UniqueFd fd, std::filesystem::path path,
           std::shared_ptr<const crypto::PrivateKey> key);
  struct Line;
  // Writes one line (the caller holds mu_): seq, prev and time first, then
  // the line's fields. False when it could not be written.
  bool append(Line& line, const std::string& time);

  mutable std::mutex mu_;
  util::UniqueFd fd_;
  std::filesystem::path path_;
  std::shared_ptr<const crypto::PrivateKey> key_;
  std::string key_fingerprint_;
  std::uint64_t size_ = 0;  // bytes in the file
  std::uint64_t seq_ = 0;   // the last line's
  std::string prev_;        // SHA-256 of the last line, hex
  bool dirty_ = false;      // lines since the last checkpoint
  std::uint64_t lost_ = 0;  // lines not written since the last one that was
  bool closed_ = false;
};

// One connection's operations on their way to the log: what is known of
// each when it opens (api/message_service.cpp, api/file_service.cpp note
// it), written when it ends (proto::Session::observe_ends). Operations still
// open when the connection ends are written as cut-off.
class AuditTrail {
 public:
  AuditTrail(std::shared_ptr<AuditLog> log, const net::PeerInfo& peer);
  AuditTrail(const AuditTrail&) = delete;
  AuditTrail& operator=(const AuditTrail&) = delete;
  ~AuditTrail();

  void message(std::uint32_t op, util::ByteSpan body);
  // A file operation: the name asked for, and (put, get) the file's size.
  void file(std::uint32_t op, std::uint8_t kind, std::string_view name,
            std::optional<std::uint64_t> size);
  void ended(const proto::Ended& e);

 private:
  AuditEntry entry(std::uint32_t op, std::uint8_t kind) const;
  std::shared_ptr<AuditLog> log_;
  AuditEntry peer_;  // who the peer is, as every entry says
  std::unordered_map<std::uint32_t, AuditEntry> open_;
};

// What signet audit verify found.
struct AuditReport {
  std::uint64_t lines = 0;  // complete lines that chain (all of them when intact)
  std::uint64_t checkpoints = 0;
  std::uint64_t last_checkpoint = 0;  // its line; 0: none
  std::vector<std::string> signers;   // fingerprints that signed checkpoints
  std::uint64_t broken_line = 0;      // 0: intact
  std::string broken;                 // what is wrong there
};

// Checks a log's chain and checkpoints; stops at the first line that breaks
// either. server_key (a "SHA256:" fingerprint; empty: any) is the key every
// checkpoint must be signed by. Fails only when the file cannot be read.
Result<AuditReport> verify_audit_log(const std::filesystem::path& path,
                                     std::string_view server_key);

}  // namespace signet
