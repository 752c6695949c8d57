// files: names a peer may ask for, and the served folder's reads, uploads,
// listings and clean-up, each checked against the file system itself,
// including symbolic links planted to lead out of the folder.
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "crypto/primitives.hpp"
#include "files/folder.hpp"
#include "files/names.hpp"
#include "files/source_digest.hpp"
#include "test_support.hpp"
#include "util/bytes.hpp"

namespace signet::files {
namespace {

namespace fs = std::filesystem;
using test_support::mode_of;
using test_support::read_text;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct TempDir : test_support::TempDir {
  TempDir() : test_support::TempDir("signet-files") {}
};

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// The names in a directory as readdir(3) gives them, "." and ".." left out, sorted.
std::vector<std::string> readdir_names(const fs::path& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return {"<cannot open " + dir.string() + ">"};
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::int64_t mtime_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return -1;
  return st.st_mtim.tv_sec;
}

void set_mtime(const fs::path& p, std::int64_t seconds) {
  const timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(seconds), 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(::time(nullptr));
}

std::string read_fd(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return s;
    s.append(buf, static_cast<std::size_t>(n));
  }
}

ServedFolder open_folder(const fs::path& root) {
  auto f = ServedFolder::open(root);
  EXPECT_TRUE(f) << f.error().message();
  return std::move(*f);
}

// --- split_name ---

TEST(FilesSplitName, AcceptsPlainNamesAndSplitsThem) {
  auto one = split_name("a");
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_THAT(*one, ElementsAre("a"));

  auto nested = split_name("a/b/c.txt");
  ASSERT_TRUE(nested) << nested.error().message();
  EXPECT_THAT(*nested, ElementsAre("a", "b", "c.txt"));

  auto unicode = split_name("ünïcode");
  ASSERT_TRUE(unicode) << unicode.error().message();
  EXPECT_THAT(*unicode, ElementsAre("ünïcode"));

  // Dot files, names that merely start like the reserved prefix, and the
  // largest sizes allowed all pass.
  EXPECT_TRUE(split_name(".hidden"));
  EXPECT_TRUE(split_name(".signet"));
  EXPECT_TRUE(split_name("..a/a.."));
  EXPECT_TRUE(split_name(std::string(kMaxComponent, 'x')));
  std::string longest;
  while (longest.size() + 101 <= kMaxName) longest += std::string(100, 'y') + "/";
  longest += std::string(kMaxName - longest.size(), 'z');
  ASSERT_EQ(longest.size(), kMaxName);
  EXPECT_TRUE(split_name(longest));
}

TEST(FilesSplitName, EmptyNameIsTheRootOnlyWhenAllowed) {
  auto root = split_name("", /*allow_root=*/true);
  ASSERT_TRUE(root) << root.error().message();
  EXPECT_TRUE(root->empty());
  auto refused = split_name("");
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(Errc::malformed));
}

bool malformed(std::string_view name, bool allow_root = false) {
  auto r = split_name(name, allow_root);
  return !r && r.error().is(Errc::malformed);
}

TEST(FilesSplitName, RejectsEachBadName) {
  using namespace std::string_literals;
  EXPECT_TRUE(malformed("/etc/passwd"));
  EXPECT_TRUE(malformed("/", /*allow_root=*/true));
  EXPECT_TRUE(malformed("a//b"));
  EXPECT_TRUE(malformed("a/"));
  EXPECT_TRUE(malformed("a//b", /*allow_root=*/true));
  EXPECT_TRUE(malformed("."));
  EXPECT_TRUE(malformed(".."));
  EXPECT_TRUE(malformed("../x"));
  EXPECT_TRUE(malformed("a/./b"));
  EXPECT_TRUE(malformed("a/../b"));
  EXPECT_TRUE(malformed("a/.."));
  EXPECT_TRUE(malformed("a\0b"s));
  EXPECT_TRUE(
      malformed("a\x01"
                "b"));
  EXPECT_TRUE(malformed("a\nb"));
  EXPECT_TRUE(malformed("a\tb"));
  EXPECT_TRUE(malformed("a\x1b[31mb"));
  EXPECT_TRUE(malformed("a\x7f"));
  EXPECT_TRUE(malformed("\xff"));
  EXPECT_TRUE(malformed("\xc3"));              // truncated sequence
  EXPECT_TRUE(malformed("\xc0\xaf"));          // overlong '/'
  EXPECT_TRUE(malformed("\xed\xa0\x80"));      // a surrogate
  EXPECT_TRUE(malformed("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_TRUE(malformed(std::string(kMaxComponent + 1, 'x')));
  EXPECT_TRUE(malformed("a/" + std::string(kMaxComponent + 1, 'x') + "/b"));
  std::string too_long;
  while (too_long.size() <= kMaxName) too_long += "abcdefgh/";
  too_long += "z";
  EXPECT_TRUE(malformed(too_long));
  EXPECT_TRUE(malformed(".signet-part-0123"));
  EXPECT_TRUE(malformed("a/.signet-x/b"));
  EXPECT_TRUE(malformed(".signet-"));
}

TEST(FilesSplitName, MessagesSayWhatIsWrongAndEscapeTheName) {
  auto r = split_name("a/../b\x1b");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("control character"));
  EXPECT_THAT(r.error().message(), HasSubstr("\\x1b"));
  EXPECT_EQ(r.error().message().find('\x1b'), std::string::npos);

  auto dots = split_name("a/../b");
  ASSERT_FALSE(dots);
  EXPECT_THAT(dots.error().message(), HasSubstr("\"..\" component"));
  EXPECT_THAT(dots.error().message(), HasSubstr("a/../b"));
}

// --- ServedFolder::open ---

TEST(FilesServedFolder, OpenRefusesAMissingRootOrAFile) {
  TempDir dir;
  auto missing = ServedFolder::open(dir / "nope");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(Errc::config));
  EXPECT_THAT(missing.error().message(), HasSubstr("nope"));

  write_text(dir / "file", "x");
  auto file = ServedFolder::open(dir / "file");
  ASSERT_FALSE(file);
  EXPECT_TRUE(file.error().is(Errc::config));

  auto ok = ServedFolder::open(dir.path());
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->root(), dir.path());
}

// --- open_for_reading ---

TEST(FilesOpenForReading, GivesARegularFileWithSizeModeAndMtime) {
  TempDir dir;
  fs::create_directories(dir / "sub");
  write_text(dir / "sub" / "f.txt", "hello world");
  ASSERT_EQ(::chmod((dir / "sub" / "f.txt").c_str(), 0640), 0);
  set_mtime(dir / "sub" / "f.txt", 1'600'000'000);
  const auto folder = open_folder(dir.path());

  auto f = folder.open_for_reading("sub/f.txt");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->size, 11u);
  EXPECT_EQ(f->mode, 0640u);
  EXPECT_EQ(f->mtime, 1'600'000'000);
  EXPECT_EQ(::fcntl(f->fd.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(f->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(read_fd(f->fd.get()), "hello world");
}

TEST(FilesOpenForReading, RefusesASymlinkAsTheFile) {
  TempDir dir;
  TempDir outside;
  write_text(outside / "secret", "top secret");
  fs::create_directories(dir / "served");
  fs::create_symlink(outside / "secret", dir / "served" / "link");
  const auto folder = open_folder(dir / "served");

  auto r = folder.open_for_reading("link");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::config));
  EXPECT_THAT(r.error().message(), HasSubstr("symbolic link"));
  EXPECT_EQ(r.error().message().find("top secret"), std::string::npos);
}

TEST(FilesOpenForReading, RefusesASymlinkedDirectoryLeadingOutside) {
  TempDir dir;
  TempDir outside;
  write_text(outside / "secret", "top secret");
  fs::create_directories(dir / "served" / "real");
  fs::create_directory_symlink(outside.path(), dir / "served" / "real" / "out");
  const auto folder = open_folder(dir / "served");

  auto r = folder.open_for_reading("real/out/secret");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::config)) << r.error().message();
  EXPECT_THAT(r.error().message(), HasSubstr("real/out is a symbolic link"));
}

TEST(FilesOpenForReading, RefusesAFifoWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  const auto folder = open_folder(dir.path());
  // Were the FIFO opened for reading in blocking mode, this would hang.
  auto r = folder.open_for_reading("fifo");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::config));
  EXPECT_THAT(r.error().message(), HasSubstr("not a regular file"));
}

TEST(FilesOpenForReading, RefusesADirectory) {
  TempDir dir;
  fs::create_directories(dir / "d");
  const auto folder = open_folder(dir.path());
  auto r = folder.open_for_reading("d");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::config));
  EXPECT_THAT(r.error().message(), HasSubstr("not a regular file"));
}

TEST(FilesOpenForReading, RefusesBadNames) {
  TempDir dir;
  fs::create_directories(dir / "served");
  write_text(dir / "x", "outside");
  const auto folder = open_folder(dir / "served");
  auto up = folder.open_for_reading("../x");
  ASSERT_FALSE(up);
  EXPECT_TRUE(up.error().is(Errc::malformed));
  auto abs = folder.open_for_reading((dir / "x").string());
  ASSERT_FALSE(abs);
  EXPECT_TRUE(abs.error().is(Errc::malformed));
}

TEST(FilesOpenForReading, MissingFilesAreNotFound) {
  TempDir dir;
  write_text(dir / "file", "x");
  const auto folder = open_folder(dir.path());
  auto missing = folder.open_for_reading("missing");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(Errc::not_found));
  auto missing_dir = folder.open_for_reading("nodir/missing");
  ASSERT_FALSE(missing_dir);
  EXPECT_TRUE(missing_dir.error().is(Errc::not_found));
  auto through_file = folder.open_for_reading("file/x");
  ASSERT_FALSE(through_file);
  EXPECT_TRUE(through_file.error().is(Errc::not_found));
}

// --- begin_upload / Upload ---

TEST(FilesUpload, WriteAndPublishCreatesTheFile) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  auto up = folder.begin_upload("f.bin", false);
  ASSERT_TRUE(up) << up.error().message();
  EXPECT_EQ(up->name(), "f.bin");
  ASSERT_TRUE(up->write(util::as_bytes("hello ")));
  ASSERT_TRUE(up->write(util::as_bytes("world")));
  EXPECT_EQ(up->written(), 11u);
  // Nothing under the name before publish.
  EXPECT_FALSE(fs::exists(dir / "f.bin"));
  ASSERT_TRUE(up->publish(0640, 1'500'000'000));
  EXPECT_EQ(read_text(dir / "f.bin"), "hello world");
  EXPECT_EQ(mode_of(dir / "f.bin"), 0640u);
  EXPECT_EQ(mtime_of(dir / "f.bin"), 1'500'000'000);
  // Published: no temporary file left, and destroying the upload keeps the file.
  up = folder.begin_upload("other", false);
  EXPECT_EQ(read_text(dir / "f.bin"), "hello world");
  const auto names = readdir_names(dir.path());
  ASSERT_EQ(names.size(), 2u);  // the new upload's temporary file, and "f.bin"
  EXPECT_EQ(names[0].rfind(".signet-part-", 0), 0u);
  EXPECT_EQ(names[1], "f.bin");
}

TEST(FilesUpload, PublishNeverSetsSetuidSetgidOrSticky) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  {
    auto up = folder.begin_upload("tool", false);
    ASSERT_TRUE(up) << up.error().message();
    ASSERT_TRUE(up->write(util::as_bytes("#!/bin/sh\n")));
    ASSERT_TRUE(up->publish(07755, now_seconds()));
  }
  EXPECT_EQ(mode_of(dir / "tool"), 0755u);
  {
    auto up = folder.begin_upload("suid", false);
    ASSERT_TRUE(up);
    ASSERT_TRUE(up->publish(04755, now_seconds()));
  }
  EXPECT_EQ(mode_of(dir / "suid"), 0755u);
  EXPECT_THAT(readdir_names(dir.path()), ElementsAre("suid", "tool"));
}

TEST(FilesUpload, AnUnpublishedUploadLeavesNothing) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  {
    auto up = folder.begin_upload("sub/f.txt", false);
    ASSERT_TRUE(up) << up.error().message();
    ASSERT_TRUE(up->write(util::as_bytes("partial")));
    // The temporary file is there meanwhile, hidden.
    const auto during = readdir_names(dir / "sub");
    ASSERT_EQ(during.size(), 1u);
    EXPECT_EQ(during[0].rfind(".signet-part-", 0), 0u);
  }
  EXPECT_TRUE(readdir_names(dir / "sub").empty());
  EXPECT_THAT(readdir_names(dir.path()), ElementsAre("sub"));
}

TEST(FilesUpload, OnlyTheMovedToUploadOwnsTheTemporaryFile) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  {
    auto up = folder.begin_upload("f", false);
    ASSERT_TRUE(up);
    Upload moved = std::move(*up);
    ASSERT_TRUE(moved.write(util::as_bytes("abc")));
    ASSERT_TRUE(moved.publish(0644, now_seconds()));
  }  // the moved-from upload removes nothing
  EXPECT_EQ(read_text(dir / "f"), "abc");
  EXPECT_THAT(readdir_names(dir.path()), ElementsAre("f"));
  {
    auto up = folder.begin_upload("g", false);
    ASSERT_TRUE(up);
    Upload moved = std::move(*up);
    ASSERT_TRUE(moved.write(util::as_bytes("abc")));
    EXPECT_EQ(readdir_names(dir.path()).size(), 2u);
  }  // the moved-to upload, unpublished, removes its temporary file
  EXPECT_THAT(readdir_names(dir.path()), ElementsAre("f"));
}

TEST(FilesUpload, AnExistingNameWithoutReplaceIsRefused) {
  TempDir dir;
  write_text(dir / "f", "old");
  const auto folder = open_folder(dir.path());
  auto up = folder.begin_upload("f", false);
  ASSERT_FALSE(up);
  EXPECT_TRUE(up.error().is(Errc::exists));
  EXPECT_THAT(up.error().message(), HasSubstr("--force"));
  EXPECT_EQ(read_text(dir / "f"), "old");
  EXPECT_THAT(readdir_names(dir.path()), ElementsAre("f"));
}

TEST(FilesUpload, ReplaceKeepsTheOldFileUntilPublish) {
  TempDir dir;
  write_text(dir / "f", "old");
  const auto folder = open_folder(dir.path());
  auto up = folder.begin_upload("f", true);
  ASSERT_TRUE(up) << up.error().message();
  ASSERT_TRUE(up->write(util::as_bytes("new contents")));
  EXPECT_EQ(read_text(dir / "f"), "old");
  ASSERT_TRUE(up->publish(0600, now_seconds()));
  EXPECT_EQ(read_text(dir / "f"), "new contents");
  EXPECT_THAT(readdir_names(dir.path()), ElementsAre("f"));
}

TEST(FilesUpload, ReplaceRefusesWhatIsNotARegularFile) {
  TempDir dir;
  fs::create_directories(dir / "d");
  fs::create_symlink(dir / "d", dir / "link");
  const auto folder = open_folder(dir.path());
  auto over_dir = folder.begin_upload("d", true);
  ASSERT_FALSE(over_dir);
  EXPECT_TRUE(over_dir.error().is(Errc::config));
  auto over_link = folder.begin_upload("link", true);
  ASSERT_FALSE(over_link);
  EXPECT_TRUE(over_link.error().is(Errc::config));
  EXPECT_TRUE(fs::is_directory(dir / "d"));
  EXPECT_TRUE(fs::is_symlink(dir / "link"));
}

TEST(FilesUpload, OfTwoUploadsOfOneNameTheFirstPublishWins) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  auto first = folder.begin_upload("f", false);
  auto second = folder.begin_upload("f", false);
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_TRUE(second) << second.error().message();
  ASSERT_TRUE(first->write(util::as_bytes("first")));
  ASSERT_TRUE(second->write(util::as_bytes("second")));
  ASSERT_TRUE(first->publish(0644, now_seconds()));
  auto r = second->publish(0644, now_seconds());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::exists));
  EXPECT_EQ(read_text(dir / "f"), "first");
  // The loser's temporary file goes with it.
  second = folder.begin_upload("g", false);
  EXPECT_EQ(read_text(dir / "f"), "first");
  auto names = readdir_names(dir.path());
  ASSERT_EQ(names.size(), 2u);  // the new upload's temporary file, and "f"
  EXPECT_EQ(names[0].rfind(".signet-part-", 0), 0u);
  EXPECT_EQ(names[1], "f");
}

// Many finished uploads published with one commit: each as publish() would,
// a name that appeared meanwhile refused on its own, nothing left over.
TEST(FilesUpload, PublishTogetherPublishesEachAndRefusesOnlyTheOneThatLost) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  write_text(dir / "taken", "old");
  std::vector<Upload> uploads;
  for (const char* name : {"a", "sub/b", "taken", "c"}) {
    auto up = folder.begin_upload(name, false);
    ASSERT_TRUE(up || std::string(name) == "taken") << name;
    if (!up) {  // "taken" exists: start it before the file appears instead
      fs::remove(dir / "taken");
      up = folder.begin_upload(name, false);
      ASSERT_TRUE(up);
      write_text(dir / "taken", "old");
    }
    ASSERT_TRUE(up->write(util::as_bytes(std::string("new ") + name)));
    uploads.push_back(std::move(*up));
  }
  std::vector<Finished> batch;
  for (auto& u : uploads) batch.push_back(Finished{&u, 04640, 1'500'000'000});
  const auto results = publish_together(batch);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0]);
  EXPECT_TRUE(results[1]);
  ASSERT_FALSE(results[2]);
  EXPECT_TRUE(results[2].error().is(Errc::exists));
  EXPECT_TRUE(results[3]);
  EXPECT_EQ(read_text(dir / "a"), "new a");
  EXPECT_EQ(read_text(dir / "sub" / "b"), "new sub/b");
  EXPECT_EQ(read_text(dir / "taken"), "old");
  EXPECT_EQ(mode_of(dir / "c"), 0640u);
  EXPECT_EQ(mtime_of(dir / "c"), 1'500'000'000);
  uploads.clear();  // the loser's temporary file goes with it
  EXPECT_EQ(readdir_names(dir.path()), (std::vector<std::string>{"a", "c", "sub", "taken"}));
  EXPECT_EQ(readdir_names(dir / "sub"), (std::vector<std::string>{"b"}));
}

TEST(FilesUpload, CreatesNestedDirectories) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  auto up = folder.begin_upload("a/b/c.txt", false);
  ASSERT_TRUE(up) << up.error().message();
  ASSERT_TRUE(up->write(util::as_bytes("nested")));
  ASSERT_TRUE(up->publish(0644, now_seconds()));
  EXPECT_TRUE(fs::is_directory(dir / "a" / "b"));
  EXPECT_EQ(read_text(dir / "a" / "b" / "c.txt"), "nested");
  EXPECT_THAT(readdir_names(dir / "a" / "b"), ElementsAre("c.txt"));
}

TEST(FilesUpload, RefusesToGoThroughASymlinkedDirectory) {
  TempDir dir;
  TempDir outside;
  fs::create_directories(dir / "served");
  fs::create_directory_symlink(outside.path(), dir / "served" / "out");
  fs::create_symlink(outside / "nowhere", dir / "served" / "dangling");
  const auto folder = open_folder(dir / "served");

  auto through = folder.begin_upload("out/new.txt", false);
  ASSERT_FALSE(through);
  EXPECT_TRUE(through.error().is(Errc::config)) << through.error().message();
  auto deeper = folder.begin_upload("out/x/y.txt", false);
  ASSERT_FALSE(deeper);
  EXPECT_TRUE(deeper.error().is(Errc::config));
  auto dangling = folder.begin_upload("dangling/y.txt", false);
  ASSERT_FALSE(dangling);
  EXPECT_TRUE(dangling.error().is(Errc::config));
  EXPECT_TRUE(readdir_names(outside.path()).empty());
}

TEST(FilesUpload, RefusesAFileOnTheWay) {
  TempDir dir;
  write_text(dir / "file", "x");
  const auto folder = open_folder(dir.path());
  auto r = folder.begin_upload("file/y", false);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::config));
  EXPECT_EQ(read_text(dir / "file"), "x");
}

TEST(FilesUpload, RefusesBadNames) {
  TempDir dir;
  fs::create_directories(dir / "served");
  const auto folder = open_folder(dir / "served");
  auto up = folder.begin_upload("../escaped", false);
  ASSERT_FALSE(up);
  EXPECT_TRUE(up.error().is(Errc::malformed));
  auto reserved = folder.begin_upload(".signet-part-00", false);
  ASSERT_FALSE(reserved);
  EXPECT_TRUE(reserved.error().is(Errc::malformed));
  EXPECT_THAT(readdir_names(dir.path()), ElementsAre("served"));
}

// RLIMIT_FSIZE makes write(2) fail with EFBIG, as a full disk would with
// ENOSPC. In a child process, so this process keeps its limits.
TEST(FilesUpload, AWriteBeyondTheFileSizeLimitIsNoSpace) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    {
      ::signal(SIGXFSZ, SIG_IGN);
      struct rlimit small {};
      small.rlim_cur = 4096;
      small.rlim_max = 4096;
      if (::setrlimit(RLIMIT_FSIZE, &small) != 0) ::_exit(10);
      auto up = folder.begin_upload("big", false);
      if (!up) ::_exit(11);
      const std::vector<std::uint8_t> big(8192, 'x');
      auto r = up->write(big);
      if (r)
        code = 12;
      else if (!r.error().is(Errc::no_space))
        code = 13;
      else if (r.error().message().find("no room for big") == std::string::npos)
        code = 14;
    }  // the upload's temporary file is removed here
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(readdir_names(dir.path()).empty());
}

// --- list ---

TEST(FilesList, ListsSortedEntriesWithTypesAndHidesTemporaries) {
  TempDir dir;
  fs::create_directories(dir / "sub");
  write_text(dir / "b.txt", "12345");
  ASSERT_EQ(::chmod((dir / "b.txt").c_str(), 0604), 0);
  set_mtime(dir / "b.txt", 1'400'000'000);
  write_text(dir / ".hidden", "");
  write_text(dir / ".signet-part-0011223344556677", "partial");
  fs::create_symlink("b.txt", dir / "c-link");
  ASSERT_EQ(::mkfifo((dir / "a-fifo").c_str(), 0600), 0);
  const auto folder = open_folder(dir.path());

  auto entries = folder.list("");
  ASSERT_TRUE(entries) << entries.error().message();
  std::vector<std::string> names;
  for (const auto& e : *entries) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre(".hidden", "a-fifo", "b.txt", "c-link", "sub"));
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ((*entries)[1].type, EntryType::other);
  EXPECT_EQ((*entries)[2].type, EntryType::file);
  EXPECT_EQ((*entries)[2].size, 5u);
  EXPECT_EQ((*entries)[2].mode, 0604u);
  EXPECT_EQ((*entries)[2].mtime, 1'400'000'000);
  EXPECT_EQ((*entries)[3].type, EntryType::symlink);
  EXPECT_EQ((*entries)[4].type, EntryType::directory);
}

TEST(FilesList, ATreeNamesEverythingBelowRelativelyAndNeverFollowsALink) {
  TempDir dir;
  TempDir outside;
  write_text(outside / "secret", "x");
  fs::create_directories(dir / "r" / "b" / "c");
  fs::create_directories(dir / "r" / "a");
  write_text(dir / "r" / "a" / "1", "1");
  write_text(dir / "r" / "b" / "c" / "2", "22");
  write_text(dir / "r" / "top", "");
  fs::create_directory_symlink(outside.path(), dir / "r" / "b" / "out");
  write_text(dir / "r" / "b" / ".signet-part-00", "partial");
  const auto folder = open_folder(dir.path());

  auto tree = folder.list_tree("r", 100);
  ASSERT_TRUE(tree) << tree.error().message();
  std::vector<std::string> names;
  for (const auto& e : *tree) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre("a", "b", "top", "a/1", "b/c", "b/out", "b/c/2"));
  // Each folder comes before what is in it.
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto slash = names[i].rfind('/');
    if (slash == std::string::npos) continue;
    const auto parent = std::find(names.begin(), names.end(), names[i].substr(0, slash));
    EXPECT_LT(parent - names.begin(), static_cast<std::ptrdiff_t>(i)) << names[i];
  }
  EXPECT_EQ((*tree)[5].type, EntryType::symlink);
  EXPECT_EQ((*tree)[6].size, 2u);

  auto whole = folder.list_tree("", 100);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->front().name, "r");
  EXPECT_EQ(whole->size(), names.size() + 1);
  auto small = folder.list_tree("r", 3);
  ASSERT_FALSE(small);
  EXPECT_TRUE(small.error().is(Errc::too_large)) << small.error().message();
  EXPECT_FALSE(folder.list_tree("r/b/out", 100));  // a link is not a folder to enter
}

TEST(FilesList, ListsASubdirectoryAndRefusesWhatIsNotOne) {
  TempDir dir;
  TempDir outside;
  write_text(outside / "secret", "x");
  fs::create_directories(dir / "served" / "sub");
  write_text(dir / "served" / "sub" / "x", "x");
  write_text(dir / "served" / "file", "x");
  fs::create_directory_symlink(outside.path(), dir / "served" / "out");
  const auto folder = open_folder(dir / "served");

  auto sub = folder.list("sub");
  ASSERT_TRUE(sub) << sub.error().message();
  ASSERT_EQ(sub->size(), 1u);
  EXPECT_EQ((*sub)[0].name, "x");

  auto file = folder.list("file");
  ASSERT_FALSE(file);
  EXPECT_TRUE(file.error().is(Errc::config));
  auto link = folder.list("out");
  ASSERT_FALSE(link);
  EXPECT_TRUE(link.error().is(Errc::config));
  EXPECT_THAT(link.error().message(), HasSubstr("symbolic link"));
  auto missing = folder.list("missing");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(Errc::not_found));
  auto bad = folder.list("..");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(Errc::malformed));
}

// --- remove_stale_uploads ---

TEST(FilesRemoveStaleUploads, RemovesOldTemporariesOnly) {
  TempDir dir;
  TempDir outside;
  fs::create_directories(dir / "served" / "sub" / "deeper");
  const fs::path root = dir / "served";
  write_text(root / "sub" / "deeper" / ".signet-part-old", "old");
  set_mtime(root / "sub" / "deeper" / ".signet-part-old", now_seconds() - 7200);
  write_text(root / ".signet-part-fresh", "fresh");
  write_text(root / "sub" / "old-but-mine", "keep");
  set_mtime(root / "sub" / "old-but-mine", now_seconds() - 7200);
  // An old temporary reached only through a symbolic link is not the folder's.
  write_text(outside / ".signet-part-outside", "outside");
  set_mtime(outside / ".signet-part-outside", now_seconds() - 7200);
  fs::create_directory_symlink(outside.path(), root / "out");
  const auto folder = open_folder(root);

  auto removed = folder.remove_stale_uploads(std::chrono::hours(1));
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_EQ(*removed, 1u);
  EXPECT_TRUE(readdir_names(root / "sub" / "deeper").empty());
  EXPECT_TRUE(fs::exists(root / ".signet-part-fresh"));
  EXPECT_TRUE(fs::exists(root / "sub" / "old-but-mine"));
  EXPECT_TRUE(fs::exists(outside / ".signet-part-outside"));
}

TEST(FilesServedFolder, TotalSizeCountsRegularFilesBelowWithoutFollowingLinks) {
  TempDir dir;
  TempDir outside;
  write_text(outside / "big", std::string(5000, 'b'));
  fs::create_directories(dir / "a/b");
  write_text(dir / "top", std::string(10, 't'));
  write_text(dir / "a/b/deep", std::string(100, 'd'));
  write_text(dir / "a/.signet-part-x", std::string(1000, 'p'));  // parts count too
  fs::create_symlink(outside / "big", dir / "a/link");
  fs::create_directory_symlink(outside.path(), dir / "out");
  const auto folder = open_folder(dir.path());
  auto total = folder.total_size();
  ASSERT_TRUE(total) << total.error().message();
  EXPECT_EQ(*total, 1110u);
}

// --- resumable uploads ---

util::ByteSpan key_of(const std::string& k) {
  return util::as_bytes(k);
}

// Writes `data` into a resumable upload, checkpoints, and drops it unpublished.
void write_cut(const ServedFolder& folder, const std::string& name, const std::string& data,
               std::uint64_t size, std::int64_t mtime, const std::string& key = "k") {
  auto up = folder.begin_resumable(name, false, key_of(key), size, mtime, true);
  ASSERT_TRUE(up) << up.error().message();
  crypto::Sha256 h = crypto::Sha256::resume(up->resume_point().state);
  ASSERT_TRUE(up->write(util::as_bytes(data)));
  h.update(util::as_bytes(data));
  ASSERT_TRUE(up->checkpoint(h.midstate()));
}

TEST(FilesResume, AKeptPartIsResumedFromItsCheckpointWithItsHashState) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  const std::string whole(1000, 'x');
  write_cut(folder, "in/f", whole.substr(0, 700), whole.size(), 42);
  // The part and its record stay, hidden; nothing under the name.
  const auto kept = readdir_names(dir / "in");
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].rfind(".signet-part-", 0), 0u);
  EXPECT_EQ(kept[1], kept[0] + ".resume");

  auto up = folder.begin_resumable("in/f", false, key_of("k"), whole.size(), 42, true);
  ASSERT_TRUE(up) << up.error().message();
  const ResumePoint& p = up->resume_point();
  EXPECT_EQ(p.outcome, ResumePoint::Outcome::resumed);
  EXPECT_EQ(p.offset, 640u);  // the last whole 64-byte block of the 700
  EXPECT_EQ(up->written(), 640u);
  crypto::Sha256 h = crypto::Sha256::resume(p.state);
  EXPECT_EQ(h.peek(), crypto::sha256({util::as_bytes(whole.substr(0, 640))}));
  ASSERT_TRUE(up->write(util::as_bytes(whole.substr(640))));
  h.update(util::as_bytes(whole.substr(640)));
  EXPECT_EQ(h.finish(), crypto::sha256({util::as_bytes(whole)}));
  ASSERT_TRUE(up->publish(0644, 42));
  EXPECT_EQ(read_text(dir / "in/f"), whole);
  // Published: neither the part nor its record is left.
  EXPECT_THAT(readdir_names(dir / "in"), ElementsAre("f"));
}

TEST(FilesResume, APartOfAnotherVersionOrAnotherSenderIsNotResumed) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  write_cut(folder, "f", std::string(640, 'a'), 1000, 42);
  // Another size: changed, from empty.
  {
    auto up = folder.begin_resumable("f", false, key_of("k"), 1001, 42, true);
    ASSERT_TRUE(up);
    EXPECT_EQ(up->resume_point().outcome, ResumePoint::Outcome::changed);
    EXPECT_EQ(up->resume_point().offset, 0u);
    EXPECT_EQ(up->written(), 0u);
  }
  write_cut(folder, "f", std::string(640, 'a'), 1000, 42);
  {
    // Another time: changed too.
    auto up = folder.begin_resumable("f", false, key_of("k"), 1000, 43, true);
    ASSERT_TRUE(up);
    EXPECT_EQ(up->resume_point().outcome, ResumePoint::Outcome::changed);
  }
  write_cut(folder, "f", std::string(640, 'a'), 1000, 42);
  {
    // Another sender's key finds a part of its own.
    auto up = folder.begin_resumable("f", false, key_of("other"), 1000, 42, true);
    ASSERT_TRUE(up);
    EXPECT_EQ(up->resume_point().outcome, ResumePoint::Outcome::fresh);
  }
  {
    // Not asked to resume: from empty, and the part's record is gone.
    auto up = folder.begin_resumable("f", false, key_of("k"), 1000, 42, false);
    ASSERT_TRUE(up);
    EXPECT_EQ(up->resume_point().offset, 0u);
  }
  auto up = folder.begin_resumable("f", false, key_of("k"), 1000, 42, true);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->resume_point().outcome, ResumePoint::Outcome::fresh);
}

TEST(FilesResume, ADamagedRecordOrAShortPartStartsFromEmpty) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  write_cut(folder, "f", std::string(640, 'a'), 1000, 42);
  std::string record;
  for (const auto& n : readdir_names(dir.path())) {
    if (n.size() > 7 && n.compare(n.size() - 7, 7, ".resume") == 0) record = n;
  }
  ASSERT_FALSE(record.empty());
  std::string bytes = read_text(dir / record);
  ASSERT_EQ(bytes.size(), 96u);
  bytes[30] ^= 1;  // a bit of the offset: the record's own digest no longer matches
  write_text(dir / record, bytes);
  {
    auto up = folder.begin_resumable("f", false, key_of("k"), 1000, 42, true);
    ASSERT_TRUE(up);
    EXPECT_EQ(up->resume_point().outcome, ResumePoint::Outcome::fresh);
  }
  write_cut(folder, "f", std::string(640, 'a'), 1000, 42);
  for (const auto& n : readdir_names(dir.path())) {
    if (n.rfind(".signet-part-", 0) == 0 && n.find(".resume") == std::string::npos) {
      fs::resize_file(dir / n, 100);  // shorter than the checkpoint claims
    }
  }
  auto up = folder.begin_resumable("f", false, key_of("k"), 1000, 42, true);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->resume_point().outcome, ResumePoint::Outcome::fresh);
}

TEST(FilesResume, APartInUseGoesToAPlainUploadAndAbandonRemovesBoth) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  auto first = folder.begin_resumable("f", false, key_of("k"), 1000, 42, true);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->resumable());
  // The same sender and name at once: the part is locked, this one gets a
  // temporary file of its own that is not kept.
  auto second = folder.begin_resumable("f", false, key_of("k"), 1000, 42, true);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->resumable());
  ASSERT_TRUE(first->write(util::as_bytes(std::string(128, 'z'))));
  crypto::Sha256 h;
  h.update(util::as_bytes(std::string(128, 'z')));
  ASSERT_TRUE(first->checkpoint(h.midstate()));
  EXPECT_EQ(readdir_names(dir.path()).size(), 3u);  // part, record, second's file
  first->abandon();
  second = folder.begin_upload("g", false);         // the old second is dropped: not kept
  EXPECT_EQ(readdir_names(dir.path()).size(), 1u);  // only the new upload's file
}

// A resumed transfer that ends before any byte arrives (the server refused
// it, the connection dropped) keeps the part and the checkpoint it started from.
TEST(FilesResume, ACheckpointNeverMovesBackwards) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  write_cut(folder, "f", std::string(640, 'a'), 1000, 42);
  {
    auto up = folder.begin_resumable("f", false, key_of("k"), 1000, 42, true);
    ASSERT_TRUE(up);
    ASSERT_EQ(up->resume_point().offset, 640u);
    ASSERT_TRUE(up->checkpoint(crypto::Sha256().midstate()));  // nothing new: ignored
  }
  auto up = folder.begin_resumable("f", false, key_of("k"), 1000, 42, true);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->resume_point().outcome, ResumePoint::Outcome::resumed);
  EXPECT_EQ(up->resume_point().offset, 640u);
}

TEST(FilesResume, AnUploadWithNothingCheckpointedLeavesNothing) {
  TempDir dir;
  const auto folder = open_folder(dir.path());
  {
    auto up = folder.begin_resumable("f", false, key_of("k"), 1000, 42, true);
    ASSERT_TRUE(up);
    ASSERT_TRUE(up->write(util::as_bytes("abc")));  // less than a block: nothing to record
  }
  EXPECT_TRUE(readdir_names(dir.path()).empty());
}

// --- SourceDigest ---

struct SourceFile {
  explicit SourceFile(const fs::path& p, const std::string& data) {
    write_text(p, data);
    fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  }
  ~SourceFile() { ::close(fd); }
  int fd = -1;
};

// Sends data[from..] through a SourceDigest in chunks, stepping as a sender does.
Result<crypto::Sha256Digest> send_through(SourceDigest& d, const std::string& data,
                                          std::uint64_t from, std::size_t chunk) {
  std::uint64_t at = from;
  while (at < data.size()) {
    if (auto s = d.step(data.size() - at); !s) return s.error();
    const std::size_t n = std::min<std::size_t>(chunk, data.size() - at);
    d.sent(util::as_bytes(std::string_view(data).substr(at, n)), at);
    at += n;
  }
  return d.finish();
}

TEST(FilesSourceDigest, GivesTheWholeFilesDigestFromAnyStartingPoint) {
  TempDir dir;
  std::string data(5u << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + 7);
  SourceFile f(dir / "src", data);
  const auto whole = crypto::sha256({util::as_bytes(data)});
  for (std::uint64_t from : {std::uint64_t{0}, std::uint64_t{64}, std::uint64_t{3u << 20},
                             std::uint64_t{data.size() - 64}, std::uint64_t{data.size()}}) {
    const auto prefix = crypto::sha256({util::as_bytes(std::string_view(data).substr(0, from))});
    SourceDigest d(f.fd, data.size(), from,
                   from > 0 ? std::optional<crypto::Sha256Digest>(prefix) : std::nullopt);
    auto r = send_through(d, data, from, 61440);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, whole) << from;
    EXPECT_FALSE(d.changed());
  }
}

TEST(FilesSourceDigest, APrefixThatIsNotTheFilesBeginningIsFoundBeforeTheEnd) {
  TempDir dir;
  const std::string data(8u << 20, 'q');
  SourceFile f(dir / "src", data);
  auto wrong = crypto::sha256({util::as_bytes(std::string(1u << 20, 'r'))});
  SourceDigest d(f.fd, data.size(), 1u << 20, wrong);
  std::uint64_t at = 1u << 20;
  Result<void> s;
  // The prefix is checked while the rest is still being sent.
  while (at < data.size() && (s = d.step(data.size() - at))) {
    d.sent(util::as_bytes(std::string_view(data).substr(at, 61440)), at);
    at += 61440;
  }
  ASSERT_FALSE(s);
  EXPECT_TRUE(d.changed());
  EXPECT_TRUE(s.error().is(Errc::not_verified));
  EXPECT_THAT(s.error().message(), HasSubstr("changed"));
  EXPECT_LT(at, data.size() / 2);
}

}  // namespace
}  // namespace signet::files
