#include "cli/key_commands.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/common.hpp"
#include "crypto/secret.hpp"
#include "keys/files.hpp"
#include "keys/paths.hpp"
#include "keys/public_key_line.hpp"
#include "util/encoding.hpp"

namespace signet::cli {
namespace {

namespace fs = std::filesystem;

// A passphrase longer than this is a mistake (a wrong file), not a passphrase.
constexpr std::size_t kMaxPassphrase = 1024;
// Enough for any authorized_keys-style file someone wants fingerprinted.
constexpr std::size_t kMaxInspectedFile = 4 * 1024 * 1024;

std::string shown(std::string_view s) {
  return util::escape_for_display(s);
}
std::string shown(const fs::path& p) {
  return util::escape_for_display(p.string());
}
std::string shown(const std::string& s) {
  return util::escape_for_display(s);
}

std::string describe(const Error& e) {
  return e.detail.empty() ? e.message() : e.detail;
}

// Prints the error; configuration problems are usage errors (2), the rest 1.
int fail(const Error& e) {
  print_error(describe(e));
  return e.is(Errc::config) ? kExitUsage : kExitFailure;
}

void warn(const std::string& message) {
  print_error("warning: " + message);
}

std::string comment_or_none(std::string_view comment) {
  return comment.empty() ? std::string("no comment") : shown(comment);
}

// `ssh-keygen -l` style: "256 SHA256:... comment (ED25519)".
std::string fingerprint_line(const crypto::PublicKey& key, std::string_view comment) {
  return std::to_string(key.bits()) + " " + key.fingerprint() + " " + comment_or_none(comment) +
         " (" + std::string(crypto::key_type_label(key.type())) + ")";
}

// The configuration directory; created (with a notice) when `create`.
Result<fs::path> config_dir(bool create) {
  if (!create) return keys::config_dir_path();
  auto dir = keys::ensure_config_dir();
  if (!dir) return dir.error();
  if (dir->created) {
    std::cerr << "signet: created configuration directory " << shown(dir->path) << " (mode 0700)"
              << std::endl;
  }
  return dir->path;
}

Result<fs::path> authorized_keys_file(const std::string& option, bool create_dir) {
  if (!option.empty()) return fs::path(option);
  auto dir = config_dir(create_dir);
  if (!dir) return dir.error();
  return keys::authorized_keys_path(*dir);
}

Result<crypto::SecretBytes> read_passphrase_file(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Error(Errc::config, "cannot open passphrase file " + shown(file) + ": " +
                                   std::generic_category().message(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
    warn("passphrase file " + shown(file) + " is accessible by group or others (chmod 600 " +
         shown(file) + ")");
  }
  crypto::SecretBytes buf(kMaxPassphrase + 1);
  std::size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::read(fd, buf.mutable_span().data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Error(Errc::config, "cannot read passphrase file " + shown(file) + ": " +
                                     std::generic_category().message(errno));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  // The passphrase is the first line, without its line break.
  const auto data = buf.span().first(got);
  std::size_t len = 0;
  while (len < data.size() && data[len] != '\n') ++len;
  if (len == data.size() && got > kMaxPassphrase) {
    return Error(Errc::config, "passphrase file " + shown(file) +
                                   " does not start with a line of "
                                   "at most 1024 bytes");
  }
  if (len > 0 && data[len - 1] == '\r') --len;
  if (len == 0) return Error(Errc::config, "passphrase file " + shown(file) + " is empty");
  return crypto::SecretBytes(data.first(len));
}

// Asks on /dev/tty with echo off. The terminal settings are restored before
// returning.
Result<crypto::SecretBytes> prompt_passphrase(const std::string& prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Error(Errc::config, "there is no terminal to ask for its passphrase");
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  termios saved{};
  const bool have_termios = ::tcgetattr(fd, &saved) == 0;
  if (have_termios) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  if (::write(fd, prompt.data(), prompt.size()) < 0) {
    // Still try to read: the prompt is a courtesy.
  }
  crypto::SecretBytes buf(kMaxPassphrase);
  std::size_t len = 0;
  bool ok = true;
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = len > 0;
      break;
    }
    if (c == '\n' || c == '\r') break;
    if (len == buf.size()) {
      ok = false;
      break;
    }
    buf.mutable_span()[len++] = static_cast<std::uint8_t>(c);
  }
  if (have_termios) ::tcsetattr(fd, TCSAFLUSH, &saved);
  if (::write(fd, "\n", 1) < 0) {
    // Nothing to do: only the cursor position suffers.
  }
  if (!ok) return Error(Errc::config, "no passphrase entered");
  return crypto::SecretBytes(buf.span().first(len));
}

// The key lines of a file (comments and blank lines skipped), numbered.
struct NumberedLine {
  std::size_t number;
  std::string text;
};

Result<std::vector<NumberedLine>> key_lines_of(const fs::path& file) {
  auto text = keys::read_text_file(file, kMaxInspectedFile);
  if (!text) return text.error();
  if (!*text) return Error(Errc::config, shown(file) + " does not exist");
  std::vector<NumberedLine> lines;
  std::size_t number = 0;
  for (std::string_view line : keys::split_lines(**text)) {
    ++number;
    const std::string_view t = keys::trim(line);
    if (t.empty() || t.front() == '#') continue;
    lines.push_back({number, std::string(t)});
  }
  return lines;
}

bool is_regular_file(const std::string& arg) {
  std::error_code ec;
  return !arg.empty() && fs::is_regular_file(arg, ec);
}

// --- keygen ---

struct KeygenOptions {
  std::string file;
  std::string type = "ed25519";
  std::string comment;
  std::string passphrase_file;
  bool force = false;
  CLI::Option* comment_option = nullptr;
};

int run_keygen(const KeygenOptions& o) {
  const auto type = crypto::key_type_from_name(o.type);
  if (!type) return fail(Error(Errc::config, "unknown key type " + shown(o.type)));
  fs::path file = o.file;
  if (file.empty()) {
    auto dir = config_dir(true);
    if (!dir) return fail(dir.error());
    file = keys::identity_path(*dir, *type);
  }
  fs::path pub = file;
  pub += ".pub";
  if (!o.force) {
    for (const fs::path& p : {file, pub}) {
      std::error_code ec;
      if (fs::symlink_status(p, ec).type() != fs::file_type::not_found) {
        return fail(Error(Errc::config, shown(p) +
                                            " already exists; use --force to replace it (the old "
                                            "key is then lost)"));
      }
    }
  }
  std::optional<crypto::SecretBytes> passphrase;
  if (!o.passphrase_file.empty()) {
    auto p = read_passphrase_file(o.passphrase_file);
    if (!p) return fail(p.error());
    passphrase = std::move(*p);
  }
  const std::string comment =
      o.comment_option != nullptr && o.comment_option->count() > 0 ? o.comment : default_comment();

  auto key = crypto::PrivateKey::generate(*type);
  if (!key) return fail(key.error());
  auto saved =
      key->save(file, comment, passphrase ? passphrase->span() : std::span<const std::uint8_t>{},
                o.force ? crypto::Overwrite::yes : crypto::Overwrite::no);
  if (!saved) return fail(saved.error());
  std::cout << "Private key: " << shown(file)
            << (passphrase ? " (encrypted with your passphrase)" : "") << "\n"
            << "Public key:  " << shown(pub) << "\n"
            << "Fingerprint: " << fingerprint_line(key->public_key(), comment) << std::endl;
  return kExitOk;
}

// --- fingerprint ---

int print_public_key_lines(const fs::path& file) {
  auto lines = key_lines_of(file);
  if (!lines) return fail(lines.error());
  bool bad = false;
  std::size_t shown_keys = 0;
  for (const auto& l : *lines) {
    auto parsed = keys::parse_public_key_line(l.text, crypto::KeyPolicy::display_only);
    if (!parsed) {
      print_error(shown(file) + " line " + std::to_string(l.number) + ": " +
                  describe(parsed.error()));
      bad = true;
      continue;
    }
    std::cout << fingerprint_line(parsed->key, parsed->comment) << "\n";
    ++shown_keys;
    if (auto policy = parsed->key.check_policy(); !policy) {
      warn(shown(file) + " line " + std::to_string(l.number) + ": " + policy.error().detail);
    }
  }
  std::cout.flush();
  if (shown_keys == 0 && !bad) {
    return fail(Error(Errc::malformed, shown(file) + " holds no public key"));
  }
  return bad ? kExitFailure : kExitOk;
}

int run_fingerprint(const std::string& arg) {
  fs::path file = arg;
  if (file.empty()) {
    auto dir = config_dir(false);
    if (!dir) return fail(dir.error());
    auto id = keys::find_default_identity(*dir);
    if (!id) {
      return fail(Error(Errc::config,
                        "no identity in " + shown(*dir) + "; create one with `signet keygen`"));
    }
    file = *id;
  }
  auto text = keys::read_text_file(file, kMaxInspectedFile);
  if (!text) return fail(text.error());
  if (!*text) return fail(Error(Errc::config, shown(file) + " does not exist"));
  const bool is_private = (*text)->find("PRIVATE KEY-----") != std::string::npos;
  // The file may be an unencrypted private key: wipe our copy.
  crypto::cleanse(
      std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>((*text)->data()), (*text)->size()));
  if (!is_private) return print_public_key_lines(file);

  // Like ssh-keygen -l, prefer the .pub next to a private key: it has the
  // comment and needs no passphrase.
  fs::path pub = file;
  pub += ".pub";
  std::error_code ec;
  if (fs::is_regular_file(pub, ec)) return print_public_key_lines(pub);
  auto key = crypto::PrivateKey::load(file, tty_passphrase_provider());
  if (!key) return fail(key.error());
  std::cout << fingerprint_line(key->public_key(), key->comment()) << std::endl;
  return kExitOk;
}

// --- keys add / list / remove ---

// Validation failures of the given key are usage errors; file trouble is not.
int fail_edit(const Error& e) {
  print_error(describe(e));
  return e.is(Errc::io) ? kExitFailure : kExitUsage;
}

int run_keys_add(const std::string& what, const std::string& authorized_keys) {
  std::vector<std::string> entries;
  if (is_regular_file(what)) {
    auto lines = key_lines_of(what);
    if (!lines) return fail(lines.error());
    for (auto& l : *lines) entries.push_back(std::move(l.text));
    if (entries.empty()) return fail(Error(Errc::config, shown(what) + " holds no key"));
  } else if (what.find_first_of(" \t") == std::string::npos) {
    // One word cannot be a key line: most likely a mistyped file name.
    return fail(Error(Errc::config, shown(what) + " is neither a file nor a key line"));
  } else {
    entries.push_back(what);
  }
  auto file = authorized_keys_file(authorized_keys, true);
  if (!file) return fail(file.error());
  auto outcomes = keys::add_authorized_keys(*file, entries);
  if (!outcomes) return fail_edit(outcomes.error());
  for (const auto& o : *outcomes) {
    const std::string who = o.fingerprint + " (" + comment_or_none(o.comment) + ")";
    if (o.status == keys::AddStatus::added) {
      std::cout << "added " << who << " to " << shown(*file) << "\n";
    } else {
      std::cout << "already present: " << who << "\n";
    }
  }
  std::cout.flush();
  return kExitOk;
}

int run_keys_list(const std::string& authorized_keys) {
  auto file = authorized_keys_file(authorized_keys, false);
  if (!file) return fail(file.error());
  std::error_code ec;
  if (!fs::exists(*file, ec)) {
    print_error(shown(*file) + " does not exist (no key is authorized)");
    return kExitOk;
  }
  auto keys = keys::read_authorized_keys(*file);
  if (!keys) return fail(keys.error());
  for (const auto& w : keys->warnings()) warn(shown(*file) + " " + w.to_string());
  for (const auto& e : keys->entries()) {
    std::cout << e.fingerprint() << " " << crypto::key_type_label(e.key.type()) << " "
              << comment_or_none(e.comment);
    if (!e.options.empty()) std::cout << " [" << shown(e.options) << "]";
    std::cout << "\n";
  }
  std::cout.flush();
  return kExitOk;
}

int run_keys_remove(const std::string& what, const std::string& authorized_keys) {
  std::vector<std::string> targets;
  if (!what.starts_with("SHA256:") && is_regular_file(what)) {
    auto lines = key_lines_of(what);
    if (!lines) return fail(lines.error());
    for (const auto& l : *lines) {
      auto parsed = keys::parse_public_key_line(l.text, crypto::KeyPolicy::display_only);
      if (!parsed) {
        return fail(Error(Errc::config, shown(what) + " line " + std::to_string(l.number) + ": " +
                                            describe(parsed.error())));
      }
      targets.push_back(parsed->key.fingerprint());
    }
    if (targets.empty()) return fail(Error(Errc::config, shown(what) + " holds no key"));
  } else if (!what.starts_with("SHA256:") && what.find_first_of(" \t") == std::string::npos) {
    return fail(Error(Errc::config,
                      shown(what) + " is neither a SHA256: fingerprint, a file nor a key line"));
  } else {
    targets.push_back(what);
  }
  auto file = authorized_keys_file(authorized_keys, false);
  if (!file) return fail(file.error());
  int rc = kExitOk;
  for (const auto& t : targets) {
    auto removed = keys::remove_authorized_key(*file, t);
    if (!removed) {
      // "not in the file" is a plain failure; a bad argument is a usage error.
      int r = kExitFailure;
      if (removed.error().is(Errc::not_authorized)) {
        print_error(describe(removed.error()));
      } else {
        r = fail(removed.error());
      }
      if (rc == kExitOk) rc = r;
      continue;
    }
    for (const auto& k : *removed) {
      std::cout << "removed " << k.fingerprint << " (" << comment_or_none(k.comment) << ") from "
                << shown(*file) << " line " << k.line << "\n";
    }
  }
  std::cout.flush();
  return rc;
}

}  // namespace

crypto::PassphraseProvider tty_passphrase_provider() {
  return [](const fs::path& key_file) -> Result<crypto::SecretBytes> {
    auto pass = prompt_passphrase("Passphrase for " + shown(key_file) + ": ");
    if (!pass)
      return Error(pass.error().code, shown(key_file) + " is encrypted: " + pass.error().detail);
    return pass;
  };
}

crypto::PassphraseProvider passphrase_file_provider(fs::path file) {
  return [file = std::move(file)](const fs::path&) -> Result<crypto::SecretBytes> {
    return read_passphrase_file(file);
  };
}

void print_import_report(const keys::ImportReport& report, std::ostream& out, std::ostream& err) {
  for (const auto& k : report.added) {
    out << "added " << k.fingerprint << " (" << comment_or_none(k.comment) << ") from "
        << shown(k.file) << "\n";
  }
  for (const auto& k : report.already_present) {
    out << "already present: " << k.fingerprint << " (" << comment_or_none(k.comment) << ") from "
        << shown(k.file) << "\n";
  }
  for (const auto& b : report.bad) {
    err << "signet: skipped " << shown(b.file) << ": " << shown(b.reason) << "\n";
  }
  out.flush();
  err.flush();
}

int import_keys(const fs::path& authorized_keys, const fs::path& dir) {
  auto report = keys::import_directory(authorized_keys, dir);
  if (!report) return fail(report.error());
  print_import_report(*report, std::cout, std::cerr);
  return kExitOk;
}

void add_key_commands(CLI::App& app, int& exit_code) {
  int* rc = &exit_code;

  auto kg = std::make_shared<KeygenOptions>();
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Create a key pair for key mode (PKCS#8 private key, mode 0600, and .pub)");
  keygen->add_option("-f,--file", kg->file, "Private key file (default: the default identity)")
      ->type_name("FILE");
  keygen->add_option("-t,--type", kg->type, "Key type (default ed25519; rsa is 3072 bits)")
      ->check(CLI::IsMember({"ed25519", "ecdsa", "rsa"}));
  kg->comment_option =
      keygen->add_option("-C,--comment", kg->comment, "Comment for the .pub (default user@host)");
  keygen
      ->add_option("--passphrase-file", kg->passphrase_file,
                   "Encrypt the private key with the first line of FILE (AES-256-CBC)")
      ->type_name("FILE");
  keygen->add_flag("--force", kg->force, "Replace an existing key");
  keygen->callback([kg, rc] { *rc = run_keygen(*kg); });

  auto fp_file = std::make_shared<std::string>();
  CLI::App* fingerprint = app.add_subcommand(
      "fingerprint", "Show the SHA256 fingerprint of a key, as `ssh-keygen -lf` does");
  fingerprint
      ->add_option("file", *fp_file,
                   "A .pub file, an authorized_keys-style file or a private key "
                   "(default: the default identity)")
      ->type_name("FILE");
  fingerprint->callback([fp_file, rc] { *rc = run_fingerprint(*fp_file); });

  CLI::App* keys_cmd = app.add_subcommand("keys", "Manage the keys this server admits");
  keys_cmd->require_subcommand(1);
  struct KeysOptions {
    std::string what;
    std::string authorized_keys;
  };
  const auto add_file_option = [](CLI::App* cmd, KeysOptions& o) {
    cmd->add_option("--authorized-keys", o.authorized_keys,
                    "authorized_keys file (default: in the configuration directory)")
        ->type_name("FILE");
  };

  auto add_opts = std::make_shared<KeysOptions>();
  CLI::App* add = keys_cmd->add_subcommand("add", "Admit a key (a .pub file or a key line)");
  add->add_option("key", add_opts->what, "A .pub file, or a quoted authorized_keys line")
      ->required()
      ->type_name("FILE|LINE");
  add_file_option(add, *add_opts);
  add->callback([add_opts, rc] { *rc = run_keys_add(add_opts->what, add_opts->authorized_keys); });

  auto list_opts = std::make_shared<KeysOptions>();
  CLI::App* list = keys_cmd->add_subcommand("list", "List admitted keys with their options");
  add_file_option(list, *list_opts);
  list->callback([list_opts, rc] { *rc = run_keys_list(list_opts->authorized_keys); });

  auto rm_opts = std::make_shared<KeysOptions>();
  CLI::App* remove = keys_cmd->add_subcommand("remove", "Stop admitting a key");
  remove->add_option("key", rm_opts->what, "A SHA256:... fingerprint, a .pub file or a key line")
      ->required()
      ->type_name("FINGERPRINT|FILE");
  add_file_option(remove, *rm_opts);
  remove->callback(
      [rm_opts, rc] { *rc = run_keys_remove(rm_opts->what, rm_opts->authorized_keys); });
}

}  // namespace signet::cli
