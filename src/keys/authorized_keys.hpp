// authorized_keys: which client keys a key-mode server admits, from where,
// until when, and for which operations.
//
// File format (a subset of sshd(8) AUTHORIZED_KEYS FILE FORMAT): one key per
// line, `[options] type base64 [comment]`; blank lines and lines starting
// with '#' are ignored. Options are comma-separated, values in double quotes
// (a value may contain commas; \" is a quote). signet knows three options:
//
//   expiry-time="YYYYMMDD[HHMM[SS]][Z]"  the key stops working at that time,
//       always read as UTC (unlike sshd, which uses local time unless a Z
//       follows), so a file means the same on every machine.
//   from="CIDR|ADDRESS,..."  the client's address must be in one of these
//       IPv4/IPv6 networks or equal one of these addresses. IPv4 clients are
//       compared as IPv4 addresses, also when a dual-stack server sees them
//       as ::ffff:a.b.c.d: so an IPv4-mapped entry (::ffff:10.0.0.0/104) is
//       read as the IPv4 network (10.0.0.0/8), and an IPv6 entry such as
//       ::/0 matches IPv6 clients only (a warning says so when the list has
//       no IPv4 entry). Host names, wildcards and negation are not
//       supported (the line is refused).
//   allow="message,put,get,chat"  the operations the key may use; all of
//       them when the option is absent.
//   dir="SUBDIR"  the key's file operations (put, get, ls) reach only this
//       folder below the server's --files folder: a relative name without
//       "." or ".." components, empty components or control characters
//       (created when it does not exist).
//
// A line with any other option, a malformed option or a malformed key is
// skipped with a warning naming its line: failing closed means an option
// meant as a restriction is never silently ignored. So is a line whose
// comment holds a word that reads as an option (`ssh-ed25519 AAAA...
// from="10.0.0.0/8"`): options written after the key would otherwise be
// only a comment, and the key admitted without them. When a key appears on
// several lines, the first valid one wins and the others are warned about.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/identity.hpp"
#include "keys/files.hpp"
#include "keys/ip_address.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

namespace signet::keys {

using Clock = std::chrono::system_clock;

// Bigger than any sane authorized_keys file; a limit keeps a mistaken path
// (a log, a disk image) from being read into memory.
constexpr std::size_t kMaxAuthorizedKeysSize = 4 * 1024 * 1024;

// What a client may do once connected.
enum class Operation : std::uint8_t { message, put, get, chat };

std::string_view operation_name(Operation op) noexcept;
std::optional<Operation> operation_from_name(std::string_view name) noexcept;

class OperationSet {
 public:
  static OperationSet all() noexcept;
  void add(Operation op) noexcept { bits_ |= bit(op); }
  bool contains(Operation op) const noexcept { return (bits_ & bit(op)) != 0; }
  bool empty() const noexcept { return bits_ == 0; }
  // "message,put,get,chat" order, comma-separated.
  std::string to_string() const;

 private:
  static std::uint8_t bit(Operation op) noexcept {
    return static_cast<std::uint8_t>(1u << static_cast<unsigned>(op));
  }
  std::uint8_t bits_ = 0;
};

// "2026-01-01T00:00:00Z".
std::string format_utc(Clock::time_point t);
// Parses expiry-time's "YYYYMMDD[HHMM[SS]]" with an optional trailing 'Z',
// as UTC; nullopt for anything else, including impossible dates and times
// that Clock cannot represent (before 1678 or after 2262 with libstdc++).
std::optional<Clock::time_point> parse_expiry_time(std::string_view text);

// One admitted key and its restrictions.
struct AuthorizedKey {
  crypto::PublicKey key;
  std::string comment;
  std::string options;                      // the options field as written
  std::optional<Clock::time_point> expiry;  // nullopt: never expires
  std::vector<IpNetwork> from;              // empty: any address
  std::string from_text;                    // the from= value as written
  std::optional<OperationSet> allow;        // nullopt: every operation
  std::string dir;                          // dir=; empty: the whole served folder
  std::size_t line = 0;                     // 1-based line in the file

  const std::string& fingerprint() const noexcept { return key.fingerprint(); }
  // check applies this entry's restrictions; fails with not_authorized and
  // one of the messages described at AuthorizedKeys::authorize.
  Result<void> check(const IpAddress& peer, Clock::time_point now,
                     std::optional<Operation> op = std::nullopt) const;
  // Whether op is allowed, ignoring time and address.
  bool allows(Operation op) const noexcept { return !allow || allow->contains(op); }
};

// A problem with one line, reported once per (re)load.
struct Warning {
  std::size_t line = 0;  // 0: about the whole file
  std::string message;
  bool skipped = true;  // the line was ignored; false: a note on an admitted line
  // "line 3: <message>" or just the message.
  std::string to_string() const;
};

// parse_authorized_key parses one line into an entry (line number `line`).
// Fails with malformed (or the key parser's error) with a reason; used both
// for the file and to validate a line before adding it. `warnings`, if
// given, receives what is worth telling about a line that is admitted
// (a from= list that admits no IPv4 client).
Result<AuthorizedKey> parse_authorized_key(std::string_view text, std::size_t line = 0,
                                           std::vector<std::string>* warnings = nullptr);

// The parsed contents of an authorized_keys file. Immutable once built, so
// snapshots can be shared between threads.
class AuthorizedKeys {
 public:
  AuthorizedKeys() = default;
  // Never fails: bad lines become warnings and are skipped; an admitted
  // line may bring a warning too (see parse_authorized_key).
  static AuthorizedKeys parse(std::string_view text);
  // An empty set with one whole-file warning (file missing or unsafe).
  static AuthorizedKeys refuse_all(std::string reason);

  const std::vector<AuthorizedKey>& entries() const noexcept { return entries_; }
  const std::vector<Warning>& warnings() const noexcept { return warnings_; }
  bool empty() const noexcept { return entries_.empty(); }

  const AuthorizedKey* find(const crypto::PublicKey& key) const noexcept;
  const AuthorizedKey* find(std::string_view fingerprint) const noexcept;

  // authorize decides whether `key`, connecting from `peer` at `now`, may
  // proceed (and, if op is given, use op). It returns the matching entry, or
  // not_authorized with one of:
  //   "key SHA256:... is not in authorized_keys"
  //   "key SHA256:... expired at 2026-01-01T00:00:00Z"
  //   "address 10.1.2.3 not in from=\"10.0.0.0/8\" (key SHA256:...)"
  //   "operation put not allowed for key SHA256:... (allow=\"get,message\")"
  Result<AuthorizedKey> authorize(const crypto::PublicKey& key, const IpAddress& peer,
                                  Clock::time_point now,
                                  std::optional<Operation> op = std::nullopt) const;
  Result<AuthorizedKey> authorize(std::string_view fingerprint, const IpAddress& peer,
                                  Clock::time_point now,
                                  std::optional<Operation> op = std::nullopt) const;

 private:
  std::vector<AuthorizedKey> entries_;
  std::vector<Warning> warnings_;
  std::unordered_map<std::string, std::size_t> by_fingerprint_;
};

// AuthorizedKeysFile re-reads the file when it changes, so a running server
// picks up edits without a restart. Thread-safe.
//
// Fails closed: if the file is missing, unreadable, writable by group or
// others, or owned by someone other than the user or root, the snapshot
// admits nobody (and says why in its warnings); the previous set is not kept.
class AuthorizedKeysFile {
 public:
  explicit AuthorizedKeysFile(std::filesystem::path path);

  struct Snapshot {
    std::shared_ptr<const AuthorizedKeys> keys;  // never null
    bool reloaded = false;                       // this call (re)read the file
    // When reloaded: "<path>: line 3: ..." for each bad line, or why nobody
    // is admitted; log them. Empty otherwise.
    std::vector<std::string> warnings;
  };

  // current stats the file (once) and re-reads it if its inode, size, mtime,
  // ctime, mode or owner changed since the last read.
  Snapshot current();
  // reload re-reads the file even if its stat looks unchanged (an edit
  // within the file system's timestamp granularity that kept the size), as
  // the server does on SIGHUP. Callers holding an older snapshot keep it.
  Snapshot reload();
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  const std::filesystem::path path_;
  std::mutex mutex_;
  bool loaded_ = false;
  util::FileStamp stamp_;
  std::string stat_error_;  // the last stat failure, reported once
  std::shared_ptr<const AuthorizedKeys> keys_;
};

// --- Editing (signet keys add/remove/list, signet server --add-keys) ---
// Every edit takes a lock on the directory, re-reads the file, and replaces
// it atomically (util::write_file_atomic), keeping every other line
// byte for byte and the file's mode (0600 for a new file).

enum class AddStatus { added, already_present };

struct AddOutcome {
  AddStatus status = AddStatus::added;
  std::string fingerprint;
  std::string comment;
  std::size_t line = 0;  // where the key now is (the existing line if already present)
};

// add_authorized_keys appends each entry (a full authorized_keys line,
// options allowed) whose key is not already admitted. Each entry is
// validated first; if any is invalid nothing is written and the error names
// it ("entry 2: ..."). Creates the file if missing (its directory must exist).
Result<std::vector<AddOutcome>> add_authorized_keys(const std::filesystem::path& file,
                                                    std::span<const std::string> entries);
Result<AddOutcome> add_authorized_key(const std::filesystem::path& file, std::string_view entry);

struct RemovedKey {
  std::string fingerprint;
  std::string comment;
  std::size_t line = 0;  // in the file before the edit
};

// remove_authorized_key removes every line holding the key, given as a
// "SHA256:..." fingerprint or as a key line; lines with bad options or a
// too-small RSA key are matched too. Fails with not_authorized ("key
// SHA256:... is not in FILE") if no line holds it, config if the argument is
// neither a fingerprint nor a key line or the file does not exist.
Result<std::vector<RemovedKey>> remove_authorized_key(const std::filesystem::path& file,
                                                      std::string_view fingerprint_or_line);

// read_authorized_keys parses the file for listing. Fails with config if it
// does not exist.
Result<AuthorizedKeys> read_authorized_keys(const std::filesystem::path& file);

struct ImportedKey {
  std::string file;  // file name within the directory
  std::string fingerprint;
  std::string comment;
};
struct BadKeyFile {
  std::string file;
  std::string reason;
};
struct ImportReport {
  std::vector<ImportedKey> added;
  std::vector<ImportedKey> already_present;
  std::vector<BadKeyFile> bad;
};

// import_directory adds the key of every `*.pub` file in dir (in name
// order) to the authorized_keys file, in one atomic rewrite. A .pub file
// must hold exactly one key line and pass check_private_ownership (judged by
// the file read, so a symlink by its target); others are reported in `bad`
// with a reason. Fails with config, importing nothing, if dir itself fails
// check_private_ownership (anyone who can add a file to it could admit
// themselves); otherwise only if dir cannot be read or the file cannot be
// written.
Result<ImportReport> import_directory(const std::filesystem::path& authorized_keys,
                                      const std::filesystem::path& dir);

}  // namespace signet::keys
