// The server's audit log (signet server --audit-log FILE; docs/PROTOCOL.md,
// "Audit log"): one JSON line per operation a peer opened, however it ended
// (answered, refused, cancelled, cut off), never a message's contents or a
// secret. Each line carries the SHA-256 of the line before it, so that a
// line changed, removed, added or moved breaks the chain where it happened;
// every few seconds a checkpoint line signed by the server's identity key
// (an SSHSIG in namespace "signet-audit") covers the chain so far, and the
// log is fdatasync'ed. `signet audit verify` checks both.
//
// The log is appended with O_APPEND by one writer thread, whole lines at a
// time, under an exclusive flock (one server per log); connections only
// queue their lines. Lines that cannot be written whole are cut off again
// (ftruncate), so a full disk never leaves a torn line in the middle of
// the chain; a torn last line that a crash left is
// cut off when the next server opens the log, and its start line says how
// many bytes went.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/receipt.hpp"
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
  // the chain of the lines it holds, and starts the log's writer thread.
  // key signs checkpoints, every checkpoint_every while lines are added
  // (none, and no shared key either: the chain is kept, no checkpoint is
  // written). Fails with io when the file cannot be opened or
  // is locked by another process, with malformed when its last complete
  // line is not an audit record (it is not touched then).
  // shared (when key is none): a key derived from the shared key
  // (audit_shared_key) that authenticates checkpoints with a MAC instead,
  // which only holders of the shared key can check.
  static Result<std::shared_ptr<AuditLog>> open(
      const std::filesystem::path& path, std::shared_ptr<const crypto::PrivateKey> key,
      std::chrono::milliseconds checkpoint_every = std::chrono::seconds(10),
      std::shared_ptr<const SharedMacKey> shared = nullptr);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();  // close()

  // Queues one operation's line, stamped with the time now, for the writer
  // thread, which writes what has queued in one write(2), chained, as soon
  // as it is free (connections never wait for the disk). Never fails its
  // caller: a line that cannot be written (or that finds a million queued
  // before it) is left out, logged (spdlog) and counted, and the next line
  // written says how many were.
  void record(AuditEntry e);
  // Queues a "refused" line: a connection refused at its handshake for its
  // credentials (an unknown key, a wrong shared key), with why (escaped).
  void refused_connection(const std::string& peer, const std::string& reason);
  // Writes what is queued, then a signed checkpoint covering every line so
  // far, then makes the log durable (fdatasync); no checkpoint when no line
  // was added since the last one. Any thread.
  Result<void> checkpoint();
  // Writes what is queued (a test's way to see it in the file).
  void flush();
  // Stops the writer: what is queued, a "stop" line, a last checkpoint.
  void close();

  std::uint64_t lines() const;  // in the file, this server's and earlier ones'

 private:
  struct Queued;
  AuditLog(util::UniqueFd fd, std::filesystem::path path,
           std::shared_ptr<const crypto::PrivateKey> key,
           std::shared_ptr<const SharedMacKey> shared);
  void run(std::chrono::milliseconds checkpoint_every);  // the writer thread
  void enqueue(Queued q);
  // Writes the queued lines, then `extra` (the caller holds write_mu_).
  void write_queued(const Queued* extra = nullptr);
  // Serializes lines after the chain's end and writes them in one write;
  // the chain moves on only if all of it was written.
  bool append(const std::vector<Queued>& lines);
  Result<void> checkpoint_locked(std::unique_lock<std::mutex>& write_lock);

  // The queue (mu_).
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Queued> queued_;
  std::uint64_t dropped_ = 0;  // lines refused because the queue was full
  bool stopping_ = false;
  std::thread writer_;

  // The file and the chain's end (write_mu_).
  mutable std::mutex write_mu_;
  util::UniqueFd fd_;
  std::filesystem::path path_;
  std::shared_ptr<const crypto::PrivateKey> key_;
  std::shared_ptr<const SharedMacKey> shared_;
  std::string key_fingerprint_;  // or "shared-key"
  std::uint64_t size_ = 0;       // bytes in the file
  std::uint64_t seq_ = 0;        // the last line's
  std::string prev_;             // SHA-256 of the last line, hex
  bool dirty_ = false;           // lines since the last checkpoint
  std::uint64_t lost_ = 0;       // lines not written since the last one that was
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

// The key a shared-key server authenticates its audit log's checkpoints
// with: SharedMacKey with label "signet audit v1".
std::shared_ptr<const SharedMacKey> audit_shared_key(const crypto::SecretBytes& psk);

// Checks a log's chain and checkpoints; stops at the first line that breaks
// either. server_key (a "SHA256:" fingerprint; empty: any) is the key every
// signed checkpoint must be signed by; shared checks the MAC of a
// shared-key server's checkpoints (none: such a checkpoint breaks the
// check, unverified). Fails only when the file cannot be read.
Result<AuditReport> verify_audit_log(const std::filesystem::path& path, std::string_view server_key,
                                     const SharedMacKey* shared = nullptr);

}  // namespace signet
