#include "keys/authorized_keys.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "keys/public_key_line.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet::keys {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

constexpr Operation kAllOperations[] = {Operation::message, Operation::put, Operation::get,
                                        Operation::chat};
// A .pub file is one line; a bigger file is not one.
constexpr std::size_t kMaxPubFileSize = 64 * 1024;

std::string shown(std::string_view s) {
  return util::escape_for_display(s);
}
std::string shown_path(const fs::path& p) {
  return util::escape_for_display(p.string());
}

bool is_comment_or_blank(std::string_view line) {
  const std::string_view t = trim(line);
  return t.empty() || t.front() == '#';
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto comma = s.find(',');
    parts.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) return parts;
    s.remove_prefix(comma + 1);
  }
}

Result<std::vector<IpNetwork>> parse_from(std::string_view value,
                                          std::vector<std::string>* warnings) {
  std::vector<IpNetwork> nets;
  if (value.empty()) return Error(Errc::malformed, "from= lists no addresses");
  for (std::string_view item : split_commas(value)) {
    if (item.empty()) return Error(Errc::malformed, "from= has an empty entry");
    if (item.front() == '!' || item.find_first_of("*?") != std::string_view::npos) {
      return Error(Errc::malformed,
                   "from= entry \"" + shown(item) + "\": negation and wildcards are not supported");
    }
    auto net = IpNetwork::parse(item);
    if (!net) {
      return Error(Errc::malformed,
                   "from= entry " + net.error().detail + " (host names are not supported)");
    }
    // Peers are compared as IPv4 addresses, so ::ffff:10.0.0.0/104 is
    // taken to mean 10.0.0.0/8.
    nets.push_back(net->unmapped());
  }
  // ::/0 looks like "anywhere" but holds no IPv4 peer, not even one that
  // reached a dual-stack server as ::ffff:a.b.c.d (compared as IPv4).
  const bool any_v4 =
      std::any_of(nets.begin(), nets.end(), [](const IpNetwork& n) { return n.is_v4(); });
  if (warnings == nullptr || any_v4) return nets;
  const IpAddress lowest = IpAddress::parse("::ffff:0.0.0.0").value();
  const IpAddress highest = IpAddress::parse("::ffff:255.255.255.255").value();
  for (const IpNetwork& n : nets) {
    if (n.contains(lowest) && n.contains(highest)) {
      warnings->push_back("from= entry " + n.to_string() +
                          " matches IPv6 clients only, not IPv4 ones; add 0.0.0.0/0 (or the "
                          "IPv4 networks meant) to admit those too");
      break;
    }
  }
  return nets;
}

// sshd's authorized_keys options (sshd(8)) and signet's allow=, to recognise
// one written after the key, where it would only be part of the comment.
constexpr std::string_view kValueOptions[] = {
    "allow", "command",    "dir",          "environment", "expiry-time",
    "from",  "permitopen", "permitlisten", "principals",  "tunnel"};
constexpr std::string_view kFlagOptions[] = {"agent-forwarding",
                                             "cert-authority",
                                             "no-agent-forwarding",
                                             "no-port-forwarding",
                                             "no-pty",
                                             "no-touch-required",
                                             "no-user-rc",
                                             "no-x11-forwarding",
                                             "port-forwarding",
                                             "pty",
                                             "restrict",
                                             "touch-required",
                                             "user-rc",
                                             "verify-required",
                                             "x11-forwarding"};

// The first word of a comment that reads as an option (`from="..."`,
// `no-pty`, `x,expiry-time=...`), if any.
std::optional<std::string_view> option_in_comment(std::string_view comment) {
  const auto is_one_of = [](std::string_view word, const auto& names) {
    return std::any_of(std::begin(names), std::end(names), [&](std::string_view name) {
      return word.size() == name.size() &&
             std::equal(word.begin(), word.end(), name.begin(), [](char a, char b) {
               return (a >= 'A' && a <= 'Z' ? static_cast<char>(a + 32) : a) == b;
             });
    });
  };
  while (!comment.empty()) {
    const auto end = comment.find_first_of(" \t,");
    const std::string_view word = comment.substr(0, end);
    if (const auto eq = word.find('='); eq != std::string_view::npos) {
      if (is_one_of(word.substr(0, eq), kValueOptions)) return word;
    } else if (is_one_of(word, kFlagOptions)) {
      return word;
    }
    if (end == std::string_view::npos) break;
    comment.remove_prefix(end + 1);
  }
  return std::nullopt;
}

// dir=: a folder name relative to the served folder (the file layer checks
// it again, fully, when a connection uses it).
Result<void> check_dir(std::string_view value) {
  const auto bad = [&](const char* why) {
    return Error(Errc::malformed, "dir=\"" + shown(value) + "\" " + why);
  };
  if (value.empty()) return bad("names no folder");
  if (value.size() > 4096) return bad("is longer than 4096 bytes");
  if (value.front() == '/') return bad("is absolute; it names a folder below --files");
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return bad("holds a control character");
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = value.find('/', start);
    const std::string_view part = value.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") {
      return bad("has an empty, \".\" or \"..\" component");
    }
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

Result<OperationSet> parse_allow(std::string_view value) {
  OperationSet set;
  if (value.empty()) return Error(Errc::malformed, "allow= lists no operations");
  for (std::string_view item : split_commas(value)) {
    const auto op = operation_from_name(item);
    if (!op) {
      return Error(Errc::malformed, "unknown operation \"" + shown(item) +
                                        "\" in allow= (known: message, put, get, chat)");
    }
    set.add(*op);
  }
  return set;
}

Error not_authorized(std::string detail) {
  return Error(Errc::not_authorized, std::move(detail));
}

// Lines of `text` as owned strings, for rewriting.
std::vector<std::string> owned_lines(std::string_view text) {
  std::vector<std::string> out;
  for (auto l : split_lines(text)) out.emplace_back(l);
  return out;
}

// Joins lines with '\n' and ends the file with one; line endings are
// normalised to '\n' (a '\r' before it was already dropped by split_lines).
std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) {
    text += l;
    text += '\n';
  }
  return text;
}

// Everything an edit needs: the lock, the current text and the mode to keep.
struct EditState {
  util::DirectoryLock lock;
  std::optional<std::string> text;
  unsigned mode = 0600;
};

Result<EditState> begin_edit(const fs::path& file) {
  auto lock = util::DirectoryLock::acquire(util::parent_dir(file));
  if (!lock) return lock.error();
  util::FileStamp stamp;
  auto text = util::read_file(file, kMaxAuthorizedKeysSize, &stamp);
  if (!text) return text.error();
  EditState st{std::move(*lock), std::move(*text), 0600};
  if (stamp.exists) st.mode = stamp.mode & 07777;
  return st;
}

Result<void> finish_edit(const fs::path& file, const EditState& st,
                         const std::vector<std::string>& lines) {
  const std::string text = join_lines(lines);
  return util::write_file_atomic(file, util::as_bytes(text), st.mode, util::Overwrite::yes);
}

}  // namespace

// --- Operations ---

std::string_view operation_name(Operation op) noexcept {
  switch (op) {
    case Operation::message:
      return "message";
    case Operation::put:
      return "put";
    case Operation::get:
      return "get";
    case Operation::chat:
      return "chat";
  }
  return "unknown";
}

std::optional<Operation> operation_from_name(std::string_view name) noexcept {
  for (Operation op : kAllOperations) {
    if (operation_name(op) == name) return op;
  }
  return std::nullopt;
}

OperationSet OperationSet::all() noexcept {
  OperationSet s;
  for (Operation op : kAllOperations) s.add(op);
  return s;
}

std::string OperationSet::to_string() const {
  std::string out;
  for (Operation op : kAllOperations) {
    if (!contains(op)) continue;
    if (!out.empty()) out += ',';
    out += operation_name(op);
  }
  return out;
}

// --- Time ---

std::string format_utc(Clock::time_point t) {
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(t - day)};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::optional<Clock::time_point> parse_expiry_time(std::string_view text) {
  if (!text.empty() && text.back() == 'Z') text.remove_suffix(1);
  if (text.size() != 8 && text.size() != 12 && text.size() != 14) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  const year_month_day ymd{year{num(0, 4)}, month{static_cast<unsigned>(num(4, 2))},
                           day{static_cast<unsigned>(num(6, 2))}};
  if (!ymd.ok()) return std::nullopt;
  const int h = text.size() >= 12 ? num(8, 2) : 0;
  const int m = text.size() >= 12 ? num(10, 2) : 0;
  const int s = text.size() == 14 ? num(12, 2) : 0;
  if (h > 23 || m > 59 || s > 59) return std::nullopt;
  // Computed in seconds, which cannot overflow for years 0000-9999, then
  // range-checked: Clock counts nanoseconds in a 64-bit integer (about
  // 1678-2262 with libstdc++), and converting a year such as 1500 overflowed
  // and wrapped (undefined behaviour; in practice 1500 became 2084, so a key
  // meant to be expired was admitted).
  const sys_seconds t = sys_days{ymd} + hours{h} + minutes{m} + seconds{s};
  if (t < ceil<seconds>(Clock::time_point::min()) || t > floor<seconds>(Clock::time_point::max())) {
    return std::nullopt;
  }
  return Clock::time_point(t);
}

// --- Entries ---

std::string Warning::to_string() const {
  if (line == 0) return message;
  return "line " + std::to_string(line) + ": " + message;
}

Result<void> AuthorizedKey::check(const IpAddress& peer, Clock::time_point now,
                                  std::optional<Operation> op) const {
  if (expiry && now >= *expiry) {
    return not_authorized("key " + fingerprint() + " expired at " + format_utc(*expiry));
  }
  if (!from.empty() && std::none_of(from.begin(), from.end(),
                                    [&](const IpNetwork& n) { return n.contains(peer); })) {
    return not_authorized("address " + peer.unmapped().to_string() + " not in from=\"" +
                          shown(from_text) + "\" (key " + fingerprint() + ")");
  }
  if (op && !allows(*op)) {
    return not_authorized("operation " + std::string(operation_name(*op)) +
                          " not allowed for key " + fingerprint() + " (allow=\"" +
                          allow->to_string() + "\")");
  }
  return {};
}

Result<AuthorizedKey> parse_authorized_key(std::string_view text, std::size_t line,
                                           std::vector<std::string>* warnings) {
  auto parsed = parse_public_key_line(text);
  if (!parsed) return parsed.error();
  // `ssh-ed25519 AAAA... from="10.0.0.0/8"` is a key whose comment happens
  // to read from=: admitting it would admit it from anywhere. Refused like
  // any other option signet cannot honour.
  if (const auto option = option_in_comment(parsed->comment)) {
    return Error(Errc::malformed, shown(*option) +
                                      " after the key reads as an option: options must come "
                                      "before the key type (after it they are only a comment "
                                      "and restrict nothing)");
  }
  AuthorizedKey entry{std::move(parsed->key),
                      std::move(parsed->comment),
                      std::move(parsed->options),
                      std::nullopt,
                      {},
                      {},
                      std::nullopt,
                      {},
                      line};
  bool seen_expiry = false;
  bool seen_from = false;
  bool seen_allow = false;
  bool seen_dir = false;
  for (const KeyOption& opt : parsed->parsed_options) {
    const bool known =
        opt.name == "expiry-time" || opt.name == "from" || opt.name == "allow" || opt.name == "dir";
    if (!known) {
      return Error(Errc::malformed, "unknown option \"" + shown(opt.name) +
                                        "\" (signet knows expiry-time, from, allow and dir)");
    }
    if (!opt.value) return Error(Errc::malformed, "option " + opt.name + " needs a quoted value");
    bool& seen = opt.name == "expiry-time" ? seen_expiry
                 : opt.name == "from"      ? seen_from
                 : opt.name == "dir"       ? seen_dir
                                           : seen_allow;
    if (seen) return Error(Errc::malformed, "option " + opt.name + " given twice");
    seen = true;
    if (opt.name == "expiry-time") {
      entry.expiry = parse_expiry_time(*opt.value);
      if (!entry.expiry) {
        return Error(Errc::malformed,
                     "expiry-time=\"" + shown(*opt.value) + "\" is not YYYYMMDD[HHMM[SS]] (UTC)");
      }
    } else if (opt.name == "dir") {
      if (auto ok = check_dir(*opt.value); !ok) return ok.error();
      entry.dir = *opt.value;
    } else if (opt.name == "from") {
      auto nets = parse_from(*opt.value, warnings);
      if (!nets) return nets.error();
      entry.from = std::move(*nets);
      entry.from_text = *opt.value;
    } else {
      auto ops = parse_allow(*opt.value);
      if (!ops) return ops.error();
      entry.allow = *ops;
    }
  }
  return entry;
}

// --- AuthorizedKeys ---

AuthorizedKeys AuthorizedKeys::parse(std::string_view text) {
  AuthorizedKeys keys;
  std::size_t number = 0;
  for (std::string_view line : split_lines(text)) {
    ++number;
    if (is_comment_or_blank(line)) continue;
    std::vector<std::string> notes;
    auto entry = parse_authorized_key(line, number, &notes);
    if (!entry) {
      keys.warnings_.push_back({number, entry.error().detail + "; line ignored"});
      continue;
    }
    const auto [it, inserted] =
        keys.by_fingerprint_.try_emplace(entry->fingerprint(), keys.entries_.size());
    if (!inserted) {
      keys.warnings_.push_back(
          {number, "key " + entry->fingerprint() + " already appears on line " +
                       std::to_string(keys.entries_[it->second].line) + "; line ignored"});
      continue;
    }
    for (std::string& note : notes) keys.warnings_.push_back({number, std::move(note), false});
    keys.entries_.push_back(std::move(*entry));
  }
  return keys;
}

AuthorizedKeys AuthorizedKeys::refuse_all(std::string reason) {
  AuthorizedKeys keys;
  keys.warnings_.push_back({0, std::move(reason)});
  return keys;
}

const AuthorizedKey* AuthorizedKeys::find(std::string_view fingerprint) const noexcept {
  const auto it = by_fingerprint_.find(std::string(fingerprint));
  return it == by_fingerprint_.end() ? nullptr : &entries_[it->second];
}

const AuthorizedKey* AuthorizedKeys::find(const crypto::PublicKey& key) const noexcept {
  const AuthorizedKey* e = find(key.fingerprint());
  // The fingerprint indexes; the blob decides.
  return e != nullptr && e->key == key ? e : nullptr;
}

Result<AuthorizedKey> AuthorizedKeys::authorize(const crypto::PublicKey& key, const IpAddress& peer,
                                                Clock::time_point now,
                                                std::optional<Operation> op) const {
  const AuthorizedKey* e = find(key);
  if (e == nullptr)
    return not_authorized("key " + key.fingerprint() + " is not in authorized_keys");
  if (auto ok = e->check(peer, now, op); !ok) return ok.error();
  return *e;
}

Result<AuthorizedKey> AuthorizedKeys::authorize(std::string_view fingerprint, const IpAddress& peer,
                                                Clock::time_point now,
                                                std::optional<Operation> op) const {
  const AuthorizedKey* e = find(fingerprint);
  if (e == nullptr) {
    return not_authorized("key " + shown(fingerprint) + " is not in authorized_keys");
  }
  if (auto ok = e->check(peer, now, op); !ok) return ok.error();
  return *e;
}

// --- AuthorizedKeysFile ---

AuthorizedKeysFile::AuthorizedKeysFile(fs::path path)
    : path_(std::move(path)), keys_(std::make_shared<const AuthorizedKeys>()) {}

AuthorizedKeysFile::Snapshot AuthorizedKeysFile::current() {
  std::lock_guard lock(mutex_);
  auto now = util::stat_file(path_);
  if (loaded_) {
    // Unchanged file, or the same stat failure as last time: nothing new.
    if (now && stat_error_.empty() && *now == stamp_) return {keys_, false, {}};
    if (!now && now.error().detail == stat_error_) return {keys_, false, {}};
  }
  stat_error_ = now ? std::string() : now.error().detail;

  const std::string name = shown_path(path_);
  util::FileStamp read_stamp;
  AuthorizedKeys parsed;
  auto text = util::read_file(path_, kMaxAuthorizedKeysSize, &read_stamp);
  if (!text) {
    parsed = AuthorizedKeys::refuse_all(text.error().detail + "; no key is admitted");
  } else if (!*text) {
    parsed = AuthorizedKeys::refuse_all(name + " does not exist; no key is admitted");
  } else if (auto safe = check_private_ownership(read_stamp, path_); !safe) {
    // As sshd's StrictModes: anyone else who can write the file can admit
    // themselves.
    parsed = AuthorizedKeys::refuse_all(safe.error().detail + "; no key is admitted");
  } else {
    parsed = AuthorizedKeys::parse(**text);
  }
  // Remember what was read (or that nothing could be), so an unchanged
  // file is not re-read and its warnings not repeated.
  stamp_ = text && *text ? read_stamp : (now ? *now : util::FileStamp{});
  loaded_ = true;
  Snapshot snap;
  snap.reloaded = true;
  for (const Warning& w : parsed.warnings()) {
    snap.warnings.push_back(w.line == 0 ? w.message : name + ": " + w.to_string());
  }
  keys_ = std::make_shared<const AuthorizedKeys>(std::move(parsed));
  snap.keys = keys_;
  return snap;
}

AuthorizedKeysFile::Snapshot AuthorizedKeysFile::reload() {
  {
    std::lock_guard lock(mutex_);
    loaded_ = false;
  }
  // Another thread may re-read it in between; this call then returns that
  // fresh read (reloaded false), which is as new as ours would be.
  return current();
}

// --- Editing ---

Result<std::vector<AddOutcome>> add_authorized_keys(const fs::path& file,
                                                    std::span<const std::string> entries) {
  std::vector<AuthorizedKey> fresh;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto e = parse_authorized_key(trim(entries[i]));
    if (!e) {
      const std::string which = entries.size() == 1 ? "" : "entry " + std::to_string(i + 1) + ": ";
      return Error(e.error().code, which + e.error().detail);
    }
    fresh.push_back(std::move(*e));
  }
  auto st = begin_edit(file);
  if (!st) return st.error();
  std::vector<std::string> lines = owned_lines(st->text.value_or(""));
  const AuthorizedKeys existing = AuthorizedKeys::parse(st->text.value_or(""));

  std::vector<AddOutcome> outcomes;
  std::unordered_map<std::string, std::size_t> added_now;  // fingerprint -> line
  bool changed = false;
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    const AuthorizedKey& e = fresh[i];
    AddOutcome out{AddStatus::already_present, e.fingerprint(), e.comment, 0};
    if (const AuthorizedKey* old = existing.find(e.key)) {
      out.line = old->line;
    } else if (auto it = added_now.find(e.fingerprint()); it != added_now.end()) {
      out.line = it->second;
    } else {
      lines.emplace_back(trim(entries[i]));
      out.status = AddStatus::added;
      out.line = lines.size();
      added_now.emplace(e.fingerprint(), out.line);
      changed = true;
    }
    outcomes.push_back(std::move(out));
  }
  if (changed) {
    if (auto ok = finish_edit(file, *st, lines); !ok) return ok.error();
  }
  return outcomes;
}

Result<AddOutcome> add_authorized_key(const fs::path& file, std::string_view entry) {
  const std::string one(entry);
  auto outcomes = add_authorized_keys(file, std::span<const std::string>(&one, 1));
  if (!outcomes) return outcomes.error();
  return outcomes->front();
}

Result<std::vector<RemovedKey>> remove_authorized_key(const fs::path& file,
                                                      std::string_view fingerprint_or_line) {
  std::string target(trim(fingerprint_or_line));
  if (!target.starts_with("SHA256:")) {
    auto line = parse_public_key_line(target, crypto::KeyPolicy::display_only);
    if (!line) {
      return Error(Errc::config, "\"" + shown(target) +
                                     "\" is neither a SHA256: fingerprint nor a key line (" +
                                     line.error().detail + ")");
    }
    target = line->key.fingerprint();
  }
  auto st = begin_edit(file);
  if (!st) return st.error();
  if (!st->text) return Error(Errc::config, shown_path(file) + " does not exist");

  std::vector<std::string> kept;
  std::vector<RemovedKey> removed;
  std::size_t number = 0;
  for (std::string_view line : split_lines(*st->text)) {
    ++number;
    if (!is_comment_or_blank(line)) {
      // Any line carrying the key goes, even one skipped for a bad option.
      auto parsed = parse_public_key_line(line, crypto::KeyPolicy::display_only);
      if (parsed && parsed->key.fingerprint() == target) {
        removed.push_back({target, parsed->comment, number});
        continue;
      }
    }
    kept.emplace_back(line);
  }
  if (removed.empty()) {
    return Error(Errc::not_authorized, "key " + shown(target) + " is not in " + shown_path(file));
  }
  if (auto ok = finish_edit(file, *st, kept); !ok) return ok.error();
  return removed;
}

Result<AuthorizedKeys> read_authorized_keys(const fs::path& file) {
  auto text = util::read_file(file, kMaxAuthorizedKeysSize);
  if (!text) return text.error();
  if (!*text) return Error(Errc::config, shown_path(file) + " does not exist");
  return AuthorizedKeys::parse(**text);
}

Result<ImportReport> import_directory(const fs::path& authorized_keys, const fs::path& dir) {
  // Held open and checked as opened: the keys read are the ones in the
  // folder that passed the check, whatever happens to its path meanwhile.
  auto folder = util::OpenDirectory::open(dir);
  if (!folder) return folder.error();
  // Whoever can add a file to the folder could admit themselves: refuse the
  // whole import, as for authorized_keys itself.
  if (auto safe = check_private_ownership(folder->stamp(), dir); !safe) {
    return Error(Errc::config, safe.error().detail + "; no key was imported");
  }
  auto all = folder->names();
  if (!all) return all.error();
  std::vector<std::string> files;
  for (std::string& name : *all) {
    if (fs::path(name).extension() == ".pub") files.push_back(std::move(name));
  }
  std::sort(files.begin(), files.end());

  ImportReport report;
  std::vector<std::string> entries;
  std::vector<std::string> names;
  for (const std::string& name : files) {
    util::FileStamp stamp;
    auto text = folder->read_file(name, kMaxPubFileSize, &stamp);
    if (!text || !*text) {
      report.bad.push_back({name, text ? "vanished while reading" : text.error().detail});
      continue;
    }
    // Judged by what was read (a symlink by its target): a key that others
    // could have written must not end up in our own 0600 authorized_keys.
    if (auto safe = check_private_ownership(stamp, dir / name); !safe) {
      report.bad.push_back({name, safe.error().detail + "; not imported"});
      continue;
    }
    std::vector<std::string_view> keys;
    for (std::string_view line : split_lines(**text)) {
      if (!is_comment_or_blank(line)) keys.push_back(trim(line));
    }
    if (keys.size() != 1) {
      report.bad.push_back({name, keys.empty() ? "holds no key"
                                               : "holds " + std::to_string(keys.size()) +
                                                     " key lines; expected one"});
      continue;
    }
    if (auto e = parse_authorized_key(keys.front()); !e) {
      report.bad.push_back({name, e.error().detail});
      continue;
    }
    entries.emplace_back(keys.front());
    names.push_back(name);
  }
  if (entries.empty()) return report;
  auto outcomes = add_authorized_keys(authorized_keys, entries);
  if (!outcomes) return outcomes.error();
  for (std::size_t i = 0; i < outcomes->size(); ++i) {
    const AddOutcome& o = (*outcomes)[i];
    ImportedKey k{names[i], o.fingerprint, o.comment};
    (o.status == AddStatus::added ? report.added : report.already_present).push_back(std::move(k));
  }
  return report;
}

}  // namespace signet::keys
