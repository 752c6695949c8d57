#include "keys/paths.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include "keys/files.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet::keys {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAppDir = "signet";

std::optional<fs::path> home_dir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/')
    return fs::path(home);
  // No usable $HOME (a service, sudo -H...): ask the password database.
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* result = nullptr;
  if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr &&
      result->pw_dir != nullptr && result->pw_dir[0] == '/') {
    return fs::path(result->pw_dir);
  }
  return std::nullopt;
}

// mkdir with mode 0700; true if it made the directory, false if a directory
// was already there.
Result<bool> make_private_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return true;
  const int err = errno;
  const std::string shown = util::escape_for_display(dir.string());
  if (err != EEXIST) {
    return Error(Errc::io, "cannot create " + shown + ": " + std::generic_category().message(err));
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error(Errc::config, shown + " exists but is not a directory");
  return false;
}

// The configuration directory's path, checked or not.
Result<fs::path> unchecked_config_dir_path() {
  // The XDG Base Directory specification says relative paths are invalid
  // and must be ignored.
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && xdg[0] == '/') {
    return fs::path(xdg) / kAppDir;
  }
  const auto home = home_dir();
  if (!home) {
    return Error(
        Errc::config,
        "cannot find the configuration directory: neither XDG_CONFIG_HOME nor HOME is set");
  }
  return *home / ".config" / kAppDir;
}

Result<void> check_config_dir(const fs::path& dir) {
  auto safe = check_private_directories(dir);
  if (!safe) {
    return Error(safe.error().code, safe.error().detail +
                                        "; not using the configuration directory " +
                                        util::escape_for_display(dir.string()));
  }
  return {};
}

// Where the walk of check_private_directories begins: p with symlinks
// resolved, or nullopt if p does not exist.
Result<std::optional<fs::path>> resolved(const fs::path& p) {
  std::error_code ec;
  fs::path real = fs::canonical(p, ec);
  if (!ec) return std::optional<fs::path>(std::move(real));
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
    return std::optional<fs::path>();
  }
  return Error(Errc::io,
               "cannot resolve " + util::escape_for_display(p.string()) + ": " + ec.message());
}

// Walks from `start` (absolute) up, as described at check_private_directories.
Result<void> check_from(const fs::path& start) {
  // The home directory as written and resolved, to end the walk whichever
  // way it arrives there.
  std::vector<fs::path> home;
  if (const auto h = home_dir()) {
    home.push_back(h->lexically_normal());
    std::error_code ec;
    fs::path c = fs::canonical(*h, ec);
    if (!ec) home.push_back(std::move(c));
  }
  for (fs::path p = start;; p = p.parent_path()) {
    auto st = util::stat_file(p);
    if (!st) return st.error();
    if (!st->exists) {
      return Error(Errc::io, "cannot check " + util::escape_for_display(p.string()) +
                                 ": it vanished while being checked");
    }
    // /tmp and the like (see the header). The tests keep their
    // configuration there too.
    if (st->owner == 0 && (st->mode & S_ISVTX) != 0) return {};
    if (auto ok = check_private_ownership(*st, p); !ok) return ok;
    if (std::find(home.begin(), home.end(), p) != home.end() || p == p.root_path()) return {};
  }
}

}  // namespace

Result<void> check_private_directories(const fs::path& dir) {
  auto real = resolved(dir);
  if (!real) return real.error();
  if (!*real) return {};
  if (auto ok = check_from(**real); !ok) return ok;
  // A directory that holds a symlink on the way is not on the resolved
  // path, yet whoever can write it can point the link elsewhere: walk the
  // path as written too (stat follows each link to what it names).
  std::error_code ec;
  fs::path written = fs::absolute(dir, ec).lexically_normal();
  if (ec) return Error(Errc::io, "cannot resolve " + util::escape_for_display(dir.string()));
  if (written.has_parent_path() && !written.has_filename()) written = written.parent_path();
  if (written == **real) return {};
  return check_from(written);
}

Result<void> check_directories_of(const fs::path& file) {
  // The folders it is reached through, then those of what it resolves to
  // (a symlinked file's target may live elsewhere). A file that does not
  // exist yet would be created in the first.
  if (auto ok = check_private_directories(util::parent_dir(file)); !ok) return ok;
  auto real = resolved(file);
  if (!real) return real.error();
  if (!*real) return {};
  return check_from((*real)->parent_path());
}

Result<fs::path> config_dir_path() {
  auto dir = unchecked_config_dir_path();
  if (!dir) return dir.error();
  if (auto safe = check_config_dir(*dir); !safe) return safe.error();
  return dir;
}

Result<ConfigDir> ensure_config_dir() {
  auto dir = unchecked_config_dir_path();
  if (!dir) return dir.error();
  // Create missing parents too (a fresh account may have no ~/.config),
  // each private to the user, as the XDG specification asks.
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = *dir; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    if (fs::exists(p, ec)) break;
    missing.push_back(p);
  }
  bool created = false;
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    auto made = make_private_dir(*it);
    if (!made) return made.error();
    if (*it == *dir) created = *made;
  }
  if (missing.empty()) {
    if (!fs::is_directory(*dir, ec)) {
      return Error(Errc::config,
                   util::escape_for_display(dir->string()) + " exists but is not a directory");
    }
  }
  if (auto safe = check_config_dir(*dir); !safe) return safe.error();
  return ConfigDir{*dir, created};
}

fs::path identity_path(const fs::path& dir, crypto::KeyType type) {
  switch (type) {
    case crypto::KeyType::ed25519:
      return dir / "id_ed25519";
    case crypto::KeyType::ecdsa_p256:
      return dir / "id_ecdsa";
    case crypto::KeyType::rsa:
      return dir / "id_rsa";
  }
  return dir / "id_ed25519";
}

fs::path default_identity_path(const fs::path& dir) {
  return identity_path(dir, crypto::KeyType::ed25519);
}

std::optional<fs::path> find_default_identity(const fs::path& dir) {
  for (auto t : {crypto::KeyType::ed25519, crypto::KeyType::ecdsa_p256, crypto::KeyType::rsa}) {
    const fs::path p = identity_path(dir, t);
    std::error_code ec;
    if (fs::exists(p, ec)) return p;
  }
  return std::nullopt;
}

fs::path authorized_keys_path(const fs::path& dir) {
  return dir / "authorized_keys";
}

fs::path known_hosts_path(const fs::path& dir) {
  return dir / "known_hosts";
}

}  // namespace signet::keys
