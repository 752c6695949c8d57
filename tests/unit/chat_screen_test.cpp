// The chat screen's parts that need no terminal: the line editor's keys, and
// the wrapping of display text into terminal rows.
#include <gtest/gtest.h>

#include <clocale>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cli/chat_screen.hpp"
#include "util/encoding.hpp"

namespace signet::cli {
namespace {

constexpr char32_t kWide = 0x4E2D;       // 中, two columns
constexpr char32_t kCombining = 0x0301;  // combining acute accent, zero columns

LineEditor typed(std::u32string_view s, std::size_t max_bytes = 1000) {
  LineEditor e(max_bytes);
  for (char32_t c : s) EXPECT_TRUE(e.insert(c));
  return e;
}

// ---------------------------------------------------------------------------
// LineEditor

TEST(LineEditor, InsertsAtTheCursor) {
  LineEditor e(100);
  EXPECT_TRUE(e.empty());
  EXPECT_TRUE(e.insert(U'a'));
  EXPECT_TRUE(e.insert(U'c'));
  e.left();
  EXPECT_TRUE(e.insert(U'b'));
  EXPECT_EQ(e.text(), "abc");
  EXPECT_EQ(e.code_points(), U"abc");
  EXPECT_EQ(e.cursor(), 2u);
  EXPECT_FALSE(e.empty());
}

TEST(LineEditor, CursorStaysWithinTheLine) {
  auto e = typed(U"abc");
  EXPECT_EQ(e.cursor(), 3u);
  e.right();
  EXPECT_EQ(e.cursor(), 3u);
  e.left();
  e.left();
  EXPECT_EQ(e.cursor(), 1u);
  e.home();
  EXPECT_EQ(e.cursor(), 0u);
  e.left();
  EXPECT_EQ(e.cursor(), 0u);
  e.right();
  EXPECT_EQ(e.cursor(), 1u);
  e.end();
  EXPECT_EQ(e.cursor(), 3u);
  EXPECT_EQ(e.text(), "abc");
}

TEST(LineEditor, BackspaceAndErase) {
  auto e = typed(U"abcd");
  e.erase();  // at the end: nothing
  EXPECT_EQ(e.text(), "abcd");
  e.backspace();
  EXPECT_EQ(e.text(), "abc");
  EXPECT_EQ(e.cursor(), 3u);
  e.home();
  e.backspace();  // at the start: nothing
  EXPECT_EQ(e.text(), "abc");
  EXPECT_EQ(e.cursor(), 0u);
  e.erase();
  EXPECT_EQ(e.text(), "bc");
  EXPECT_EQ(e.cursor(), 0u);
  e.right();
  e.backspace();
  EXPECT_EQ(e.text(), "c");
  EXPECT_EQ(e.cursor(), 0u);
}

TEST(LineEditor, KillsToStartAndToEnd) {
  auto e = typed(U"hello world");
  e.home();
  for (int i = 0; i < 5; ++i) e.right();
  e.kill_to_end();
  EXPECT_EQ(e.text(), "hello");
  EXPECT_EQ(e.cursor(), 5u);

  auto f = typed(U"hello world");
  for (int i = 0; i < 5; ++i) f.left();
  f.kill_to_start();
  EXPECT_EQ(f.text(), "world");
  EXPECT_EQ(f.cursor(), 0u);
  f.kill_to_start();  // at the start: nothing
  EXPECT_EQ(f.text(), "world");
}

TEST(LineEditor, KillWordBackTakesTheWordAndTheSpacesAfterIt) {
  auto e = typed(U"one two   ");
  e.kill_word_back();
  EXPECT_EQ(e.text(), "one ");
  EXPECT_EQ(e.cursor(), 4u);
  e.kill_word_back();
  EXPECT_EQ(e.text(), "");
  e.kill_word_back();  // empty: nothing
  EXPECT_EQ(e.text(), "");

  // In the middle of a word: only the part before the cursor goes.
  auto f = typed(U"alpha beta");
  f.left();
  f.left();
  f.kill_word_back();
  EXPECT_EQ(f.text(), "alpha ta");
  EXPECT_EQ(f.cursor(), 6u);

  auto g = typed(U"  lead");
  g.kill_word_back();
  EXPECT_EQ(g.text(), "  ");
  g.kill_word_back();
  EXPECT_EQ(g.text(), "");
}

TEST(LineEditor, HistoryKeepsTheLineBeingTyped) {
  LineEditor e(100);
  for (char32_t c : std::u32string_view(U"first")) e.insert(c);
  EXPECT_EQ(e.take(), "first");
  for (char32_t c : std::u32string_view(U"second")) e.insert(c);
  EXPECT_EQ(e.take(), "second");
  for (char32_t c : std::u32string_view(U"draft")) e.insert(c);
  e.left();

  e.history_down();  // nothing newer: the draft stays
  EXPECT_EQ(e.text(), "draft");
  EXPECT_EQ(e.cursor(), 4u);

  e.history_up();
  EXPECT_EQ(e.text(), "second");
  EXPECT_EQ(e.cursor(), 6u);
  e.history_up();
  EXPECT_EQ(e.text(), "first");
  e.history_up();  // nothing older
  EXPECT_EQ(e.text(), "first");
  e.history_down();
  EXPECT_EQ(e.text(), "second");
  e.history_down();
  EXPECT_EQ(e.text(), "draft");
  EXPECT_EQ(e.cursor(), 5u);
  e.history_down();
  EXPECT_EQ(e.text(), "draft");
}

TEST(LineEditor, TakeResetsAndSkipsEmptyLinesInHistory) {
  LineEditor e(100);
  EXPECT_EQ(e.take(), "");
  e.history_up();  // no history yet
  EXPECT_EQ(e.text(), "");

  for (char32_t c : std::u32string_view(U"x")) e.insert(c);
  EXPECT_EQ(e.take(), "x");
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.cursor(), 0u);
  EXPECT_EQ(e.take(), "");  // an empty line is not remembered

  e.history_up();
  EXPECT_EQ(e.text(), "x");
  e.history_up();
  EXPECT_EQ(e.text(), "x");

  // A line recalled from history and entered again starts a fresh line.
  EXPECT_EQ(e.take(), "x");
  EXPECT_TRUE(e.empty());
  e.history_down();
  EXPECT_TRUE(e.empty());
  e.history_up();
  EXPECT_EQ(e.text(), "x");
  e.history_up();
  EXPECT_EQ(e.text(), "x");
}

TEST(LineEditor, RefusesInputBeyondMaxBytes) {
  LineEditor e(5);
  EXPECT_TRUE(e.insert(U'\u00E9'));  // two bytes
  EXPECT_TRUE(e.insert(U'\u00E9'));  // four
  EXPECT_FALSE(e.insert(kWide));     // three more: seven
  EXPECT_TRUE(e.insert(U'a'));       // five
  EXPECT_FALSE(e.insert(U'b'));
  EXPECT_EQ(e.text(),
            "\xc3\xa9\xc3\xa9"
            "a");
  e.backspace();
  e.backspace();
  EXPECT_TRUE(e.insert(kWide));  // 2 + 3
  EXPECT_EQ(e.text().size(), 5u);

  LineEditor none(0);
  EXPECT_FALSE(none.insert(U'a'));
  EXPECT_TRUE(none.empty());

  LineEditor four(4);
  EXPECT_TRUE(four.insert(U'\U0001F600'));  // four bytes
  EXPECT_FALSE(four.insert(U'a'));
  EXPECT_EQ(four.text(), "\xf0\x9f\x98\x80");
}

TEST(LineEditor, RefusesControlCharacters) {
  LineEditor e(100);
  const std::vector<char32_t> refused = {
      0x00, 0x07,   0x08,   U'\t',  U'\n',  U'\r',  0x1B,   0x1F,   0x7F,   0x80,     0x9B,
      0x9F, 0x061C, 0x200E, 0x202E, 0x2066, 0x2028, 0x2029, 0xD800, 0xDFFF, 0x110000, 0xFFFFFFFF,
  };
  for (char32_t c : refused) {
    EXPECT_FALSE(e.insert(c)) << std::hex << static_cast<std::uint32_t>(c);
  }
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.cursor(), 0u);

  const std::vector<char32_t> accepted = {U' ',       U'~',   0xA0,    0xE9,    kWide,
                                          kCombining, 0x200B, 0x1F600, 0x10FFFF};
  for (char32_t c : accepted) {
    EXPECT_TRUE(e.insert(c)) << std::hex << static_cast<std::uint32_t>(c);
  }
  EXPECT_TRUE(util::is_display_safe_utf8(e.text()));
}

TEST(LineEditor, TextIsUtf8) {
  auto e = typed(U"a\u00E9\u4E2D\U0001F600");
  EXPECT_EQ(e.text(), "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
  EXPECT_EQ(e.code_points().size(), 4u);
  EXPECT_EQ(e.take(), "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
}

// ---------------------------------------------------------------------------
// wrap_for_display

using Rows = std::vector<std::u32string>;

// The widths of the characters these tests use.
int test_columns(std::u32string_view s) {
  int cols = 0;
  for (char32_t c : s) cols += c == kWide ? 2 : c == kCombining ? 0 : 1;
  return cols;
}

TEST(ChatScreenWrap, AsciiFillsRowsToTheExactWidth) {
  EXPECT_EQ(wrap_for_display(U"abcdef", 3), (Rows{U"abc", U"def"}));
  EXPECT_EQ(wrap_for_display(U"abcdefg", 3), (Rows{U"abc", U"def", U"g"}));
  EXPECT_EQ(wrap_for_display(U"abc", 3), (Rows{U"abc"}));
  EXPECT_EQ(wrap_for_display(U"abc", 80), (Rows{U"abc"}));
}

TEST(ChatScreenWrap, EmptyTextGivesOneEmptyRow) {
  EXPECT_EQ(wrap_for_display(U"", 10), (Rows{U""}));
  EXPECT_EQ(wrap_for_display(U"", 10, 4), (Rows{U""}));
  EXPECT_EQ(wrap_for_display(U"", 0), (Rows{U""}));
}

TEST(ChatScreenWrap, BreaksAtTheLastSpaceOfARow) {
  EXPECT_EQ(wrap_for_display(U"hello world", 8), (Rows{U"hello", U"world"}));
  EXPECT_EQ(wrap_for_display(U"aa bb cc dd", 5), (Rows{U"aa bb", U"cc dd"}));
  EXPECT_EQ(wrap_for_display(U"aa bbb cc", 5), (Rows{U"aa", U"bbb", U"cc"}));
  // The space at the break itself.
  EXPECT_EQ(wrap_for_display(U"abc def", 3), (Rows{U"abc", U"def"}));
  // A word longer than a row is cut.
  EXPECT_EQ(wrap_for_display(U"abcdefgh", 3), (Rows{U"abc", U"def", U"gh"}));
  EXPECT_EQ(wrap_for_display(U"a bcdefgh", 3), (Rows{U"a", U"bcd", U"efg", U"h"}));
  // Leading spaces are kept, and never make an empty row.
  EXPECT_EQ(wrap_for_display(U"  abcd", 3), (Rows{U"  a", U"bcd"}));
}

TEST(ChatScreenWrap, WideCharactersCountTwoAndAreNeverSplit) {
  const std::u32string three = {kWide, kWide, kWide};
  EXPECT_EQ(wrap_for_display(three, 4), (Rows{{kWide, kWide}, {kWide}}));
  EXPECT_EQ(wrap_for_display(three, 5), (Rows{{kWide, kWide}, {kWide}}));
  EXPECT_EQ(wrap_for_display(three, 6), (Rows{three}));
  const std::u32string mixed = {U'a', kWide, U'b'};
  EXPECT_EQ(wrap_for_display(mixed, 2), (Rows{U"a", {kWide}, U"b"}));
  EXPECT_EQ(wrap_for_display(mixed, 3), (Rows{{U'a', kWide}, U"b"}));
}

TEST(ChatScreenWrap, CombiningMarksTakeNoColumnAndStayWithTheirBase) {
  const std::u32string text = {U'e', kCombining, U'e', kCombining, U'e', kCombining};
  EXPECT_EQ(wrap_for_display(text, 3), (Rows{text}));
  EXPECT_EQ(wrap_for_display(text, 2),
            (Rows{{U'e', kCombining, U'e', kCombining}, {U'e', kCombining}}));
  EXPECT_EQ(wrap_for_display(text, 1),
            (Rows{{U'e', kCombining}, {U'e', kCombining}, {U'e', kCombining}}));
}

TEST(ChatScreenWrap, ContinuationRowsAreIndented) {
  EXPECT_EQ(wrap_for_display(U"abcdefgh", 5, 2), (Rows{U"abcde", U"  fgh"}));
  EXPECT_EQ(wrap_for_display(U"abcdefghijk", 5, 2), (Rows{U"abcde", U"  fgh", U"  ijk"}));
  EXPECT_EQ(wrap_for_display(U"[12:00] bo: hi there", 14, 12),
            (Rows{U"[12:00] bo: hi", U"            th", U"            er", U"            e"}));
  EXPECT_EQ(wrap_for_display(U"abc", 5, 2), (Rows{U"abc"}));
}

TEST(ChatScreenWrap, IndentTooWideForTheWidthIsDropped) {
  EXPECT_EQ(wrap_for_display(U"abcdef", 3, 2), (Rows{U"abc", U"def"}));
  EXPECT_EQ(wrap_for_display(U"abcdef", 3, 1), (Rows{U"abc", U" de", U" f"}));
  EXPECT_EQ(wrap_for_display(U"abcdef", 3, -4), (Rows{U"abc", U"def"}));
}

TEST(ChatScreenWrap, AWidthBelowAWideCharacterStillEnds) {
  const std::u32string text = {kWide, U'a', kWide};
  EXPECT_EQ(wrap_for_display(text, 1), (Rows{{kWide}, U"a", {kWide}}));
  EXPECT_EQ(wrap_for_display(text, 0), (Rows{{kWide}, U"a", {kWide}}));
  EXPECT_EQ(wrap_for_display(text, -3), (Rows{{kWide}, U"a", {kWide}}));
  EXPECT_EQ(wrap_for_display(U"ab", 0), (Rows{U"a", U"b"}));
}

// Sets LC_CTYPE for one test and puts the previous one back.
class CtypeLocale {
 public:
  explicit CtypeLocale(const char* name) {
    const char* old = std::setlocale(LC_CTYPE, nullptr);
    old_ = old != nullptr ? old : "C";
    ok_ = std::setlocale(LC_CTYPE, name) != nullptr;
  }
  ~CtypeLocale() { std::setlocale(LC_CTYPE, old_.c_str()); }
  CtypeLocale(const CtypeLocale&) = delete;
  CtypeLocale& operator=(const CtypeLocale&) = delete;
  bool ok() const { return ok_; }

 private:
  std::string old_;
  bool ok_ = false;
};

// On a terminal, the widths come from the locale's wcwidth(); they agree
// with the fallback used in the C locale.
TEST(ChatScreenWrap, SameRowsInAUtf8Locale) {
  CtypeLocale utf8("C.UTF-8");
  if (!utf8.ok()) GTEST_SKIP() << "no C.UTF-8 locale";
  const std::u32string wide = {kWide, kWide, kWide};
  EXPECT_EQ(wrap_for_display(wide, 5), (Rows{{kWide, kWide}, {kWide}}));
  const std::u32string marks = {U'e', kCombining, U'e', kCombining, U'e', kCombining};
  EXPECT_EQ(wrap_for_display(marks, 2),
            (Rows{{U'e', kCombining, U'e', kCombining}, {U'e', kCombining}}));
  EXPECT_EQ(wrap_for_display(U"hello world", 8, 2), (Rows{U"hello", U"  world"}));
}

// Random text of letters, spaces, wide characters and combining marks:
// every row fits, continuation rows carry the indent, and only spaces at
// the breaks are lost.
TEST(ChatScreenWrap, RandomTextFitsAndKeepsEverythingButBreakSpaces) {
  std::mt19937 rng(20261201);
  const std::u32string alphabet = {U'a', U'b', U' ', kWide, kCombining};
  for (int round = 0; round < 2000; ++round) {
    std::u32string text;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    const int width = 1 + static_cast<int>(rng() % 12);
    const int indent = static_cast<int>(rng() % 5);
    const auto rows = wrap_for_display(text, width, indent);
    ASSERT_FALSE(rows.empty());
    const int shown_indent = width < indent + 2 ? 0 : indent;

    std::u32string joined;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::u32string_view row = rows[r];
      if (r > 0) {
        ASSERT_GE(row.size(), static_cast<std::size_t>(shown_indent));
        EXPECT_EQ(row.substr(0, shown_indent), std::u32string(shown_indent, U' '));
        row.remove_prefix(shown_indent);
        EXPECT_FALSE(row.empty());
      }
      const bool lone_wide =
          width < 2 && row.size() >= 1 && row[0] == kWide && test_columns(row) == 2;
      if (!lone_wide) {
        EXPECT_LE(test_columns(rows[r]), width) << "round " << round;
      }
      joined += row;
    }
    std::u32string expected = text;
    std::erase(expected, U' ');
    std::erase(joined, U' ');
    EXPECT_EQ(joined, expected) << "round " << round;
  }
}

}  // namespace
}  // namespace signet::cli
