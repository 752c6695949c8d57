#include "crypto/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#include "util/encoding.hpp"

namespace signet::crypto {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Error errno_error(Errc code, const std::string& what, int err) {
  return Error(code, what + ": " + std::generic_category().message(err));
}

}  // namespace

Result<SecretFile> read_secret_file(const std::filesystem::path& path, std::size_t max_size) {
  const std::string shown = util::escape_for_display(path.string());
  // O_NONBLOCK: a FIFO in place of the file must not hang us; it is refused
  // as not a regular file. Reads of regular files ignore the flag.
  const Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (fd.fd < 0) {
    const int err = errno;
    return errno_error(err == ENOENT ? Errc::config : Errc::io, "cannot open " + shown, err);
  }
  // Checked on the open descriptor, so the file cannot be swapped in between.
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) return errno_error(Errc::io, "cannot stat " + shown, errno);
  if (!S_ISREG(st.st_mode)) return Error(Errc::config, shown + " is not a regular file");
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max_size) {
    return Error(Errc::too_large, shown + " is larger than " + std::to_string(max_size) + " bytes");
  }
  SecretFile file{SecretBytes(static_cast<std::size_t>(st.st_size)), st.st_mode, st.st_uid};
  const auto buf = file.contents.mutable_span();
  std::size_t got = 0;
  for (;;) {
    // Once the buffer is full, one more byte tells a file that grew after
    // fstat; it is read into a byte that is wiped.
    std::uint8_t extra = 0;
    const bool full = got == buf.size();
    const ssize_t n =
        full ? ::read(fd.fd, &extra, 1) : ::read(fd.fd, buf.data() + got, buf.size() - got);
    cleanse({&extra, 1});
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(Errc::io, "cannot read " + shown, errno);
    if (n == 0) break;
    if (full) return Error(Errc::too_large, shown + " grew while it was read");
    got += static_cast<std::size_t>(n);
  }
  // A file that shrank: keep what was read, in memory of the right size.
  if (got < buf.size()) file.contents = SecretBytes(file.contents.span().first(got));
  return file;
}

}  // namespace signet::crypto
