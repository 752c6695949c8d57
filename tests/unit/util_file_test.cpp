// util/file: the owned descriptor, bounded reads, atomic writes (with a
// write that fails half-way), the directory lock and openat without
// following symlinks, each checked against the file system itself.
#include "util/file.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace signet::util {
namespace {

namespace fs = std::filesystem;
using test_support::dir_names;
using test_support::mode_of;
using test_support::read_text;
using ::testing::HasSubstr;

struct TempDir : test_support::TempDir {
  TempDir() : test_support::TempDir("signet-util-file") {}
};

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

bool fd_is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

// --- UniqueFd ---

TEST(UniqueFd, ClosesOnDestructionAndNotAfterRelease) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd fd(raw);
    EXPECT_TRUE(fd);
    EXPECT_EQ(fd.get(), raw);
  }
  EXPECT_FALSE(fd_is_open(raw));
  EXPECT_EQ(errno, EBADF);

  raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd fd(raw);
    EXPECT_EQ(fd.release(), raw);
    EXPECT_FALSE(fd);
    EXPECT_EQ(fd.get(), -1);
  }
  EXPECT_TRUE(fd_is_open(raw));
  ::close(raw);
}

TEST(UniqueFd, MoveTransfersOwnershipAndResetCloses) {
  const int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  UniqueFd a(raw);
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(fd_is_open(raw));
  c.reset();
  EXPECT_FALSE(fd_is_open(raw));
}

// --- Bounded reads ---

TEST(ReadFile, ReadsUpToTheLimitAndRefusesMoreNamingPathAndLimit) {
  TempDir dir;
  const fs::path p = dir / "data";
  write_text(p, std::string(100, 'x'));

  FileStamp stamp;
  auto at_limit = read_file(p, 100, &stamp);
  ASSERT_TRUE(at_limit) << at_limit.error().message();
  ASSERT_TRUE(*at_limit);
  EXPECT_EQ(**at_limit, std::string(100, 'x'));
  EXPECT_TRUE(stamp.exists);
  EXPECT_EQ(stamp.size, 100);

  auto over = read_file(p, 99);
  ASSERT_FALSE(over);
  EXPECT_TRUE(over.error().is(Errc::too_large));
  EXPECT_THAT(over.error().detail, HasSubstr(p.string()));
  EXPECT_THAT(over.error().detail, HasSubstr("larger than 99 bytes"));
}

TEST(ReadFile, MissingIsNulloptAndNonRegularFilesAreRefused) {
  TempDir dir;
  auto missing = read_file(dir / "none", 10);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  // A path through a regular file is missing too (ENOTDIR).
  write_text(dir / "plain", "x");
  auto through = read_file(dir / "plain" / "x", 10);
  ASSERT_TRUE(through);
  EXPECT_FALSE(*through);

  auto directory = read_file(dir.path(), 10);
  ASSERT_FALSE(directory);
  EXPECT_TRUE(directory.error().is(Errc::config));
  EXPECT_THAT(directory.error().detail, HasSubstr("is not a regular file"));

  // A FIFO with no writer would block a plain open(); it is refused at once.
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  auto fifo = read_file(dir / "fifo", 10);
  ASSERT_FALSE(fifo);
  EXPECT_TRUE(fifo.error().is(Errc::config));

  // /dev/zero is endless; it is refused before a byte is read.
  auto zero = read_file("/dev/zero", 10);
  ASSERT_FALSE(zero);
  EXPECT_TRUE(zero.error().is(Errc::config));
}

TEST(ReadFile, ReadIntoRefusesAFileLargerThanItsBuffer) {
  TempDir dir;
  const fs::path p = dir / "data";
  write_text(p, "abcdef");
  auto file = open_for_reading(p, 100);
  ASSERT_TRUE(file && *file);

  // A buffer sized for fewer bytes than the file has: as if it grew after fstat.
  std::vector<std::uint8_t> small(4);
  auto grew = read_into((*file)->fd.get(), small, p);
  ASSERT_FALSE(grew);
  EXPECT_TRUE(grew.error().is(Errc::too_large));
  EXPECT_THAT(grew.error().detail, HasSubstr("grew while it was read"));

  auto again = open_for_reading(p, 100);
  ASSERT_TRUE(again && *again);
  std::vector<std::uint8_t> exact(static_cast<std::size_t>((*again)->stamp.size));
  auto got = read_into((*again)->fd.get(), exact, p);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 6u);
  EXPECT_EQ(std::string(exact.begin(), exact.end()), "abcdef");
}

// --- Atomic writes ---

TEST(WriteFileAtomic, SetsTheExactModeWhateverTheUmask) {
  TempDir dir;
  const mode_t old_umask = ::umask(077);
  auto ok = write_file_atomic(dir / "f", as_bytes("x"), 0644, Overwrite::no);
  ::umask(old_umask);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(mode_of(dir / "f"), 0644u);
}

// The write itself fails half-way (RLIMIT_FSIZE makes write(2) return EFBIG
// once the temporary file reaches the limit): the old file stays whole under
// its name and no temporary file is left.
TEST(WriteFileAtomic, AWriteFailingHalfWayLeavesTheOldFileAndNoTemporary) {
  TempDir dir;
  const fs::path p = dir / "target";
  write_text(p, "old contents\n");
  const std::string big(64 * 1024, 'n');

  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  // Without this, exceeding the limit would kill the test with SIGXFSZ.
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto replaced = write_file_atomic(p, as_bytes(big), 0600, Overwrite::yes);
  auto created = write_file_atomic(dir / "new", as_bytes(big), 0600, Overwrite::no);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(replaced);
  EXPECT_TRUE(replaced.error().is(Errc::io));
  EXPECT_THAT(replaced.error().detail, HasSubstr("cannot write " + p.string()));
  ASSERT_FALSE(created);
  EXPECT_EQ(read_text(p), "old contents\n");
  EXPECT_EQ(dir_names(dir.path()), std::vector<std::string>{"target"});
}

TEST(WriteFileAtomic, AFailedRenameLeavesNoTemporary) {
  TempDir dir;
  // rename(2) cannot put a file over a non-empty directory.
  fs::create_directories(dir / "target" / "inside");
  auto r = write_file_atomic(dir / "target", as_bytes("x"), 0600, Overwrite::yes);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::io));
  EXPECT_THAT(r.error().detail, HasSubstr("cannot replace"));
  EXPECT_EQ(dir_names(dir.path()), std::vector<std::string>{"target"});
  EXPECT_TRUE(fs::is_directory(dir / "target" / "inside"));
}

TEST(WriteFileAtomic, OverwriteNoKeepsAnExistingFile) {
  TempDir dir;
  const fs::path p = dir / "f";
  write_text(p, "first");
  auto r = write_file_atomic(p, as_bytes("second"), 0600, Overwrite::no);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::config));
  EXPECT_THAT(r.error().detail, HasSubstr("already exists"));
  EXPECT_EQ(read_text(p), "first");
  EXPECT_EQ(dir_names(dir.path()), std::vector<std::string>{"f"});
}

// --- Directory lock ---

TEST(DirectoryLock, ASecondLockFailsUntilTheFirstIsReleased) {
  TempDir dir;
  {
    auto first = DirectoryLock::try_acquire(dir.path());
    ASSERT_TRUE(first) << first.error().message();
    auto second = DirectoryLock::try_acquire(dir.path());
    ASSERT_FALSE(second);
    EXPECT_TRUE(second.error().is(Errc::io));
    EXPECT_THAT(second.error().detail,
                HasSubstr(dir.path().string() + " is locked by another process"));

    // A moved lock is still held; only its destruction releases it.
    DirectoryLock moved = std::move(*first);
    EXPECT_FALSE(DirectoryLock::try_acquire(dir.path()));
  }
  auto after = DirectoryLock::try_acquire(dir.path());
  EXPECT_TRUE(after) << after.error().message();
}

TEST(DirectoryLock, AWaitingLockHoldsOffATry) {
  TempDir dir;
  auto held = DirectoryLock::acquire(dir.path());
  ASSERT_TRUE(held);
  EXPECT_FALSE(DirectoryLock::try_acquire(dir.path()));
}

TEST(DirectoryLock, AMissingDirectoryIsAnError) {
  TempDir dir;
  auto r = DirectoryLock::try_acquire(dir / "none");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::io));
}

// --- OpenDirectory ---

TEST(OpenDirectory, OpenAtRefusesSymlinksAndNamesOutsideTheDirectory) {
  TempDir dir;
  write_text(dir / "real", "contents");
  fs::create_symlink(dir / "real", dir / "link");
  auto folder = OpenDirectory::open(dir.path());
  ASSERT_TRUE(folder) << folder.error().message();

  auto real = folder->open_at("real", O_RDONLY);
  ASSERT_TRUE(real) << real.error().message();
  EXPECT_TRUE(fd_is_open(real->get()));

  auto link = folder->open_at("link", O_RDONLY);
  ASSERT_FALSE(link);
  EXPECT_TRUE(link.error().is(Errc::config));
  EXPECT_THAT(link.error().detail, HasSubstr("link is a symbolic link"));

  for (const std::string bad : {"", ".", "..", "../real", "sub/real"}) {
    auto r = folder->open_at(bad, O_RDONLY);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(Errc::config)) << bad;
  }

  // Creating relative to the directory, exclusively.
  auto made = folder->open_at("made", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_TRUE(fs::is_regular_file(dir / "made"));
  auto twice = folder->open_at("made", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_FALSE(twice);
  EXPECT_TRUE(twice.error().is(Errc::io));
}

TEST(OpenDirectory, ReadsEntriesOfTheDirectoryItOpened) {
  TempDir dir;
  fs::create_directory(dir / "a");
  write_text(dir / "a" / "f", "from a");
  auto folder = OpenDirectory::open(dir / "a");
  ASSERT_TRUE(folder);
  // The path now names another directory; the held one is still read.
  fs::rename(dir / "a", dir / "b");
  fs::create_directory(dir / "a");
  write_text(dir / "a" / "f", "impostor");

  auto names = folder->names();
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, std::vector<std::string>{"f"});
  auto text = folder->read_file("f", 100);
  ASSERT_TRUE(text && *text);
  EXPECT_EQ(**text, "from a");
  auto over = folder->read_file("f", 3);
  ASSERT_FALSE(over);
  EXPECT_THAT(over.error().detail, HasSubstr("larger than 3 bytes"));

  auto not_dir = OpenDirectory::open(dir / "b" / "f");
  ASSERT_FALSE(not_dir);
  EXPECT_TRUE(not_dir.error().is(Errc::config));
}

}  // namespace
}  // namespace signet::util
