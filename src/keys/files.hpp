// The keys layer's rules and text helpers for the files that decide whom to
// trust: the ownership rule, line splitting. Reading, locking and atomic
// rewriting are util/file.hpp's.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/file.hpp"

namespace signet::keys {

// util::read_file under the name the program (cli) calls it by.
inline Result<std::optional<std::string>> read_text_file(const std::filesystem::path& path,
                                                         std::size_t max_size,
                                                         util::FileStamp* stamp = nullptr) {
  return util::read_file(path, max_size, stamp);
}

// check_private_ownership applies sshd's StrictModes rule to a file or
// directory that decides whom signet trusts (authorized_keys, known_hosts, a
// key to import, the folders holding them): whoever else can write it can
// admit themselves or pin their own key. Fails with config, naming `name` and
// the fix, if group or others may write it or if it belongs to neither this
// user (the effective uid) nor root. Give it the stamp of what was actually
// opened (fstat of the descriptor), so a symlink is judged by its target.
Result<void> check_private_ownership(const util::FileStamp& stamp,
                                     const std::filesystem::path& name);

// Splits text at '\n' and drops one trailing '\r' per line; a final newline
// does not start an extra empty line.
std::vector<std::string_view> split_lines(std::string_view text);

// Trims ASCII spaces and tabs at both ends.
std::string_view trim(std::string_view s);

}  // namespace signet::keys
