#include "crypto/secret_file.hpp"

#include <cerrno>
#include <string>
#include <system_error>

#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet::crypto {

Result<SecretFile> read_secret_file(const std::filesystem::path& path, std::size_t max_size) {
  auto file = util::open_for_reading(path, max_size);
  if (!file) return file.error();
  if (!*file) {
    return Error(Errc::config, "cannot open " + util::escape_for_display(path.string()) + ": " +
                                   std::generic_category().message(ENOENT));
  }
  const util::FileStamp& st = (*file)->stamp;
  // Sized from fstat before the first read: no growing buffer leaves freed
  // copies of the secret behind.
  SecretFile secret{SecretBytes(static_cast<std::size_t>(st.size)), st.mode, st.owner};
  auto got = util::read_into((*file)->fd.get(), secret.contents.mutable_span(), path);
  if (!got) return got.error();
  // A file that shrank: keep what was read, in memory of the right size.
  if (*got < secret.contents.size()) {
    secret.contents = SecretBytes(secret.contents.span().first(*got));
  }
  return secret;
}

}  // namespace signet::crypto
