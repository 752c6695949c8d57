// Text for display: what counts as safe UTF-8, and how the rest is escaped.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "util/encoding.hpp"

namespace signet::util {
namespace {

struct Case {
  std::string text;
  const char* what;
};

TEST(DisplaySafeUtf8, AcceptsPrintableTextInAnyScript) {
  const std::vector<Case> ok = {
      {"", "empty"},
      {"shared key mismatch: the proof does not verify", "ASCII"},
      {"tab\tis allowed", "tab"},
      {"back\\slash", "backslash"},
      {"caf\xc3\xa9", "U+00E9, two bytes"},
      {"\xc2\xa0", "U+00A0, first code point after C1"},
      {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "CJK, three bytes each"},
      {"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", "Hebrew (right to left by itself)"},
      {"\xf0\x9f\x98\x80", "U+1F600, four bytes"},
      {"\xf4\x8f\xbf\xbf", "U+10FFFF, the last code point"},
      {"\xe2\x80\x8b", "U+200B zero width space"},
      {"\xe2\x80\xaf", "U+202F, after the bidi overrides"},
      {"\xe2\x81\xaa", "U+206A, after the bidi isolates"},
  };
  for (const auto& c : ok) {
    EXPECT_TRUE(is_display_safe_utf8(c.text)) << c.what;
  }
}

TEST(DisplaySafeUtf8, RefusesControlsBidiAndMalformedUtf8) {
  const std::vector<Case> bad = {
      {"\x1b[2J", "ESC"},
      {std::string("a\0b", 3), "NUL"},
      {"a\nb", "newline"},
      {"a\rb", "carriage return"},
      {"\x7f", "DEL"},
      {"\xc2\x80", "U+0080, first C1 control"},
      {"\xc2\x9b"
       "2J",
       "U+009B CSI as UTF-8"},
      {"\xc2\x9f", "U+009F, last C1 control"},
      {"\x9b"
       "2J",
       "raw 0x9B (8-bit CSI, not UTF-8)"},
      {"\xd8\x9c", "U+061C ARABIC LETTER MARK"},
      {"\xe2\x80\x8e", "U+200E LEFT-TO-RIGHT MARK"},
      {"\xe2\x80\x8f", "U+200F RIGHT-TO-LEFT MARK"},
      {"\xe2\x80\xa8", "U+2028 LINE SEPARATOR"},
      {"\xe2\x80\xa9", "U+2029 PARAGRAPH SEPARATOR"},
      {"\xe2\x80\xaa", "U+202A LEFT-TO-RIGHT EMBEDDING"},
      {"\xe2\x80\xae", "U+202E RIGHT-TO-LEFT OVERRIDE"},
      {"\xe2\x81\xa6", "U+2066 LEFT-TO-RIGHT ISOLATE"},
      {"\xe2\x81\xa9", "U+2069 POP DIRECTIONAL ISOLATE"},
      {"\xc0\xaf", "overlong '/' in two bytes"},
      {"\xc1\xbf", "overlong in two bytes"},
      {"\xe0\x80\xaf", "overlong '/' in three bytes"},
      {"\xf0\x80\x80\xaf", "overlong '/' in four bytes"},
      {"\xed\xa0\x80", "surrogate U+D800"},
      {"\xed\xbf\xbf", "surrogate U+DFFF"},
      {"\xf4\x90\x80\x80", "above U+10FFFF"},
      {"\xf5\x80\x80\x80", "lead byte 0xF5"},
      {"\xff", "byte 0xFF"},
      {"\x80", "lone continuation byte"},
      {"caf\xc3", "sequence cut at the end"},
      {"\xe2\x82"
       "x",
       "sequence cut by ASCII"},
  };
  for (const auto& c : bad) {
    EXPECT_FALSE(is_display_safe_utf8(c.text)) << c.what;
    EXPECT_FALSE(is_display_safe_utf8("fine " + c.text + " text")) << c.what << " inside";
  }
}

// is_utf8 refuses only what is not well-formed UTF-8: controls and
// bidirectional characters are UTF-8 like any other.
TEST(Utf8, WellFormedOrNot) {
  for (const char* ok : {"", "plain", "caf\xc3\xa9", "\xf0\x9f\x94\x91", "\x01\x7f\x1b[2J",
                         "\xe2\x80\xae", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(is_utf8(ok)) << escape_for_display(ok);
  }
  for (const char* bad : {"\xff", "\x80", "caf\xc3", "\xe2\x82x", "\xc0\xaf", "\xe0\x80\xaf",
                          "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\x9b"}) {
    EXPECT_FALSE(is_utf8(bad)) << escape_for_display(bad);
    EXPECT_FALSE(is_utf8(std::string("fine ") + bad + " text")) << escape_for_display(bad);
  }
}

TEST(EscapeForDisplay, EscapesEveryUnsafeCharacterBytewise) {
  EXPECT_EQ(escape_for_display("plain caf\xc3\xa9"), "plain caf\xc3\xa9");
  EXPECT_EQ(escape_for_display("a\tb\nc\\d"), "a\\tb\\nc\\\\d");
  EXPECT_EQ(escape_for_display("\x1b]0;title\x07\x1b[2J"), "\\x1b]0;title\\x07\\x1b[2J");
  EXPECT_EQ(escape_for_display("\xc2\x9b"
                               "2J"),
            "\\xc2\\x9b2J");
  EXPECT_EQ(escape_for_display("\x9b"
                               "2J"),
            "\\x9b2J");
  EXPECT_EQ(escape_for_display("\xe2\x80\xae"
                               "exe"),
            "\\xe2\\x80\\xaeexe");
  EXPECT_EQ(escape_for_display("\xe2\x80\x8f"), "\\xe2\\x80\\x8f");
  EXPECT_EQ(escape_for_display("\xd8\x9c"), "\\xd8\\x9c");
  EXPECT_EQ(escape_for_display("\xe2\x80\xa8"), "\\xe2\\x80\\xa8");
  EXPECT_EQ(escape_for_display("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  // Whatever goes in, what comes out is safe to show.
  for (int b = 0; b < 256; ++b) {
    for (const std::string tail : {"", "\x80", "\x9b", "\xa0\x80"}) {
      const std::string in = std::string(1, static_cast<char>(b)) + tail;
      EXPECT_TRUE(is_display_safe_utf8(escape_for_display(in))) << b;
    }
  }
}

}  // namespace
}  // namespace signet::util
