// Reading a secret (a private key, a shared key) from a file without leaving
// copies of it in memory that nobody wipes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>

#include "crypto/secret.hpp"
#include "util/error.hpp"

namespace signet::crypto {

struct SecretFile {
  SecretBytes contents;
  mode_t mode = 0;  // st_mode of the file that was read
  uid_t owner = 0;  // its st_uid
};

// read_secret_file reads the regular file at path, at most max_size bytes,
// into SecretBytes sized from fstat before the first read, so no growing
// buffer leaves freed copies of the secret behind. The file is opened with
// O_NONBLOCK and checked on its descriptor, so a FIFO cannot block the caller
// and /dev/zero cannot exhaust its memory. Fails with config if the file does
// not exist or is not a regular file (a directory, a FIFO, a device), with
// too_large if it is larger than max_size or grows while it is read, with io
// if it cannot be opened or read. Messages name the path, escaped.
Result<SecretFile> read_secret_file(const std::filesystem::path& path, std::size_t max_size);

}  // namespace signet::crypto
