// The chat's terminal screen: the line editor, the wrapping of display text
// into terminal rows, and the ncursesw screen that draws the conversation, a
// status line and the input area.
#include "cli/chat_screen.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <clocale>
#include <cstdio>
#include <cwchar>
#include <deque>
#include <utility>

#include "util/encoding.hpp"

// curses.h defines erase(), move(), clear() and refresh() as macros, which
// would rewrite LineEditor::erase and std::u32string::erase: ask for the
// functions instead. NCURSES_WIDECHAR declares get_wch and the wide output
// functions.
#define NCURSES_NOMACROS 1
#define NCURSES_WIDECHAR 1
#include <curses.h>

namespace signet::cli {
namespace {

constexpr char32_t kReplacement = 0xFFFD;
constexpr std::size_t kMaxHistory = 500;
constexpr std::size_t kMaxLines = 5000;  // conversation lines kept for scrolling back

// ---------------------------------------------------------------------------
// UTF-8

std::size_t utf8_length(char32_t c) {
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c < 0x10000) return 3;
  return 4;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

// Decodes UTF-8 (RFC 3629). Display text comes out of escape_for_display,
// which is valid UTF-8; anything malformed still becomes U+FFFD, one per
// byte, rather than reaching the terminal.
std::u32string from_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<std::uint8_t>(s[i]);
    std::size_t n = 0;
    char32_t c = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
      out += b0;
      ++i;
      continue;
    }
    if ((b0 & 0xE0) == 0xC0) {
      n = 2;
      c = b0 & 0x1Fu;
      min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      n = 3;
      c = b0 & 0x0Fu;
      min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      n = 4;
      c = b0 & 0x07u;
      min = 0x10000;
    }
    bool ok = n != 0 && s.size() - i >= n;
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto b = static_cast<std::uint8_t>(s[i + k]);
      ok = (b & 0xC0) == 0x80;
      c = (c << 6) | (b & 0x3Fu);
    }
    ok = ok && c >= min && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
    if (ok) {
      out += c;
      i += n;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Column widths

struct Range {
  char32_t first;
  char32_t last;
};

// Used only when wcwidth() knows nothing of a code point (the C locale, or
// a code point newer than the C library's tables): the combining marks and
// East Asian wide ranges in common use (Unicode's EastAsianWidth.txt W/F).
constexpr std::array<Range, 33> kZeroWidth = {{
    {0x0300, 0x036F}, {0x0483, 0x0489},   {0x0591, 0x05BD},   {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7},   {0x0610, 0x061A},   {0x064B, 0x065F}, {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4},   {0x06E7, 0x06E8},   {0x06EA, 0x06ED}, {0x0900, 0x0902},
    {0x093C, 0x093C}, {0x0941, 0x0948},   {0x094D, 0x094D},   {0x0E31, 0x0E31}, {0x0E34, 0x0E3A},
    {0x0E47, 0x0E4E}, {0x1160, 0x11FF},   {0x1AB0, 0x1AFF},   {0x1DC0, 0x1DFF}, {0x200B, 0x200F},
    {0x202A, 0x202E}, {0x2060, 0x2064},   {0x20D0, 0x20FF},   {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F},
    {0xFEFF, 0xFEFF}, {0xE0001, 0xE007F}, {0xE0100, 0xE01EF},
}};
constexpr std::array<Range, 21> kWide = {{
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x2614, 0x2615},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
    {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xA960, 0xA97F},   {0xAC00, 0xD7A3},
    {0xF900, 0xFAFF},   {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},
    {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD},
    {0x30000, 0x3FFFD},
}};

template <std::size_t N>
bool in_ranges(const std::array<Range, N>& ranges, char32_t c) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [c](const Range& r) { return c >= r.first && c <= r.last; });
}

// The columns a code point takes: the C library's answer in the current
// locale (the one ncurses draws with), else the fallback tables.
int column_width(char32_t c) {
  const int w = ::wcwidth(static_cast<wchar_t>(c));
  if (w >= 0) return w;
  if (in_ranges(kZeroWidth, c)) return 0;
  if (in_ranges(kWide, c)) return 2;
  return 1;
}

// One row of wrapped text: text[begin, end) taking `cols` columns.
struct Segment {
  std::size_t begin;
  std::size_t end;
  int cols;
};

// Cuts text into rows of at most `width` columns, continuation rows having
// `indent` fewer. A character wider than a whole row gets a row of its own
// (the only case where a row is wider than `width`). With word_break, a row
// that would end inside a word ends at the row's last space instead, and
// the space at a break is dropped; without it, the segments cover the text
// exactly (the input line, where the cursor must map to a column).
std::vector<Segment> layout(std::u32string_view text, int width, int indent, bool word_break) {
  width = std::max(width, 1);
  indent = std::max(indent, 0);
  if (width < indent + 2) indent = 0;
  std::vector<Segment> rows;
  std::size_t pos = 0;
  do {
    const int avail = rows.empty() ? width : width - indent;
    int cols = 0;
    std::size_t i = pos;
    std::size_t last_space = std::u32string_view::npos;  // one after a word
    bool word = false;
    while (i < text.size()) {
      const int w = column_width(text[i]);
      if (w > 0 && cols + w > avail && i > pos) break;
      if (text[i] != U' ') {
        word = true;
      } else if (word) {
        last_space = i;
      }
      cols += w;
      ++i;
    }
    if (i == text.size() || !word_break) {
      rows.push_back({pos, i, cols});
      pos = i;
    } else if (text[i] == U' ') {
      rows.push_back({pos, i, cols});
      pos = i + 1;
    } else if (last_space != std::u32string_view::npos) {
      int used = 0;
      for (std::size_t k = pos; k < last_space; ++k) used += column_width(text[k]);
      rows.push_back({pos, last_space, used});
      pos = last_space + 1;
    } else {
      rows.push_back({pos, i, cols});
      pos = i;
    }
  } while (pos < text.size());
  return rows;
}

// ---------------------------------------------------------------------------
// What a line editor accepts

// Printable: no C0 or C1 control, no DEL, no tab (its width depends on the
// column), and nothing util::is_display_safe_utf8 refuses (bidirectional
// formatting characters, line and paragraph separators), so a typed line is
// always display-safe.
bool printable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) return false;
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
  std::string s;
  append_utf8(s, c);
  return util::is_display_safe_utf8(s);
}

}  // namespace

// ---------------------------------------------------------------------------
// LineEditor

bool LineEditor::insert(char32_t c) {
  if (!printable(c)) return false;
  std::size_t bytes = utf8_length(c);
  for (char32_t d : line_) bytes += utf8_length(d);
  if (bytes > max_bytes_) return false;
  line_.insert(line_.begin() + static_cast<std::ptrdiff_t>(cursor_), c);
  ++cursor_;
  return true;
}

void LineEditor::backspace() {
  if (cursor_ == 0) return;
  --cursor_;
  line_.erase(cursor_, 1);
}

void LineEditor::erase() {
  if (cursor_ < line_.size()) line_.erase(cursor_, 1);
}

void LineEditor::left() {
  if (cursor_ > 0) --cursor_;
}

void LineEditor::right() {
  if (cursor_ < line_.size()) ++cursor_;
}

void LineEditor::home() {
  cursor_ = 0;
}

void LineEditor::end() {
  cursor_ = line_.size();
}

void LineEditor::kill_to_start() {
  line_.erase(0, cursor_);
  cursor_ = 0;
}

void LineEditor::kill_to_end() {
  line_.erase(cursor_);
}

void LineEditor::kill_word_back() {
  std::size_t from = cursor_;
  while (from > 0 && line_[from - 1] == U' ') --from;
  while (from > 0 && line_[from - 1] != U' ') --from;
  line_.erase(from, cursor_ - from);
  cursor_ = from;
}

void LineEditor::history_up() {
  if (history_at_ == 0) return;
  if (history_at_ == history_.size()) typed_ = line_;
  --history_at_;
  line_ = history_[history_at_];
  cursor_ = line_.size();
}

void LineEditor::history_down() {
  if (history_at_ >= history_.size()) return;
  ++history_at_;
  if (history_at_ == history_.size()) {
    line_ = std::move(typed_);
    typed_.clear();
  } else {
    line_ = history_[history_at_];
  }
  cursor_ = line_.size();
}

std::string LineEditor::take() {
  std::string out = to_utf8(line_);
  if (!line_.empty()) {
    history_.push_back(std::move(line_));
    if (history_.size() > kMaxHistory) history_.erase(history_.begin());
  }
  line_.clear();
  typed_.clear();
  cursor_ = 0;
  history_at_ = history_.size();
  return out;
}

std::string LineEditor::text() const {
  return to_utf8(line_);
}

// ---------------------------------------------------------------------------
// wrap_for_display

std::vector<std::u32string> wrap_for_display(std::u32string_view text, int width, int indent) {
  const auto segments = layout(text, width, indent, true);
  // layout() drops an indent too wide for the width; so must the rows.
  const int shown_indent = std::max(width, 1) < std::max(indent, 0) + 2 ? 0 : std::max(indent, 0);
  std::vector<std::u32string> rows;
  rows.reserve(segments.size());
  for (const auto& s : segments) {
    std::u32string row;
    if (!rows.empty()) row.assign(static_cast<std::size_t>(shown_indent), U' ');
    row.append(text.substr(s.begin, s.end - s.begin));
    rows.push_back(std::move(row));
  }
  return rows;
}

// ---------------------------------------------------------------------------
// ChatScreen

namespace {

// The one screen open at a time (ncurses has one terminal state).
bool g_screen_open = false;

// Replaces what the terminal cannot show in this locale (wcwidth() < 0,
// e.g. a code point newer than the C library, or anything but ASCII in a
// non-UTF-8 locale) so that ncurses and layout() agree on every column.
std::u32string for_terminal(std::u32string s) {
  const char32_t stand_in =
      ::wcwidth(static_cast<wchar_t>(kReplacement)) == 1 ? kReplacement : U'?';
  for (char32_t& c : s) {
    if (::wcwidth(static_cast<wchar_t>(c)) < 0) c = stand_in;
  }
  return s;
}

std::u32string escaped(std::string_view text) {
  return for_terminal(from_utf8(util::escape_for_display(text)));
}

// The mark's sign, or an ASCII one when the locale cannot show it.
std::u32string_view mark_sign(ChatScreen::Mark mark) {
  const auto pick = [](std::u32string_view sign, std::u32string_view ascii) {
    return ::wcwidth(static_cast<wchar_t>(sign[0])) == 1 ? sign : ascii;
  };
  switch (mark) {
    case ChatScreen::Mark::sent:
      return pick(U"\u00B7", U".");  // ·
    case ChatScreen::Mark::queued:
      return pick(U"\u2026", U"...");  // …
    case ChatScreen::Mark::delivered:
      return pick(U"\u2713", U"+");  // ✓
    case ChatScreen::Mark::failed:
      return pick(U"\u2717", U"x");  // ✗
    case ChatScreen::Mark::none:
      break;
  }
  return U"";
}

int columns(std::u32string_view s) {
  int cols = 0;
  for (char32_t c : s) cols += column_width(c);
  return cols;
}

// Draws s at (y, x), at most `width` columns of it.
void put(int y, int x, std::u32string_view s, int width) {
  std::wstring w;
  w.reserve(s.size());
  int cols = 0;
  for (char32_t c : s) {
    const int cw = column_width(c);
    if (cols + cw > width) break;
    cols += cw;
    w += static_cast<wchar_t>(c);
  }
  if (!w.empty()) mvwaddnwstr(stdscr, y, x, w.c_str(), static_cast<int>(w.size()));
}

}  // namespace

struct ChatScreen::Impl {
  struct Entry {
    bool notice = false;
    std::u32string time;  // all escaped, and fit for the terminal
    std::u32string who;
    std::u32string text;
    Mark mark = Mark::none;
  };

  SCREEN* screen = nullptr;
  LineEditor editor;
  std::deque<Entry> entries;
  std::size_t first_id = 0;  // the id of entries.front()
  std::u32string status;
  std::size_t scroll = 0;  // pane rows scrolled back from the bottom

  explicit Impl(std::size_t max_line) : editor(max_line) {}

  ~Impl() {
    if (screen != nullptr) {
      endwin();
      delscreen(screen);
      g_screen_open = false;
    }
  }

  static std::vector<std::u32string> rows_of(const Entry& e, int width) {
    if (e.notice) return wrap_for_display(U"-- " + e.text, width, 3);
    std::u32string prefix = U"[" + e.time + U"] " + e.who + U": ";
    const int prefix_cols = columns(prefix);
    const int indent = prefix_cols <= width / 3 ? prefix_cols : 2;
    std::u32string line = std::move(prefix) + e.text;
    const auto sign = mark_sign(e.mark);
    if (!sign.empty()) {
      line += U' ';
      line += sign;
    }
    return wrap_for_display(line, width, indent);
  }

  void add(Entry e) {
    // While scrolled back, the view stays where it is.
    if (scroll > 0) scroll += rows_of(e, std::max(getmaxx(stdscr), 1)).size();
    entries.push_back(std::move(e));
    if (entries.size() > kMaxLines) {
      entries.pop_front();
      ++first_id;
    }
  }

  int pane_height() const {
    const int height = getmaxy(stdscr);
    const int width = std::max(getmaxx(stdscr), 1);
    return std::max(height - input_rows(input_layout(width), height).first - 1, 0);
  }

  // Follows the terminal's size even when someone else caught SIGWINCH
  // (ncurses only learns of it through its own handler).
  static void follow_terminal_size() {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return;
    if (ws.ws_row != getmaxy(stdscr) || ws.ws_col != getmaxx(stdscr)) {
      resize_term(ws.ws_row, ws.ws_col);
      clearok(curscr, TRUE);
    }
  }

  struct InputLayout {
    std::u32string text;  // the prompt and the line
    std::vector<Segment> rows;
    int cursor_row = 0;
    int cursor_col = 0;
    int total_rows = 0;  // rows, plus one when the cursor is past a full last row
  };

  InputLayout input_layout(int width) const {
    InputLayout in;
    in.text = U"> " + for_terminal(editor.code_points());
    in.rows = layout(in.text, width, 0, false);
    const std::size_t at = 2 + editor.cursor();
    in.total_rows = static_cast<int>(in.rows.size());
    for (std::size_t r = 0; r < in.rows.size(); ++r) {
      const auto& seg = in.rows[r];
      const bool last = r + 1 == in.rows.size();
      if (at < seg.begin || (at >= seg.end && !last)) continue;
      in.cursor_row = static_cast<int>(r);
      in.cursor_col = columns(std::u32string_view(in.text).substr(seg.begin, at - seg.begin));
      if (in.cursor_col >= width) {
        if (at == in.text.size()) {
          in.cursor_row += 1;
          in.cursor_col = 0;
          in.total_rows += 1;
        } else {
          in.cursor_col = width - 1;  // after a zero-width mark on a full row
        }
      }
      break;
    }
    return in;
  }

  // The input area's height and its first row shown.
  static std::pair<int, int> input_rows(const InputLayout& in, int height) {
    const int k = std::clamp(in.total_rows, 1, std::max(1, height / 3));
    const int first = in.cursor_row >= k ? in.cursor_row - k + 1 : 0;
    return {k, first};
  }

  void redraw() {
    follow_terminal_size();
    const int height = getmaxy(stdscr);
    const int width = getmaxx(stdscr);
    werase(stdscr);
    if (height <= 0 || width <= 0) {
      wrefresh(stdscr);
      return;
    }

    // The input area at the bottom.
    const auto in = input_layout(width);
    const auto [k, first] = input_rows(in, height);
    const int input_top = height - k;
    wattr_set(stdscr, A_NORMAL, 0, nullptr);
    for (int r = 0; r < k; ++r) {
      const auto at = static_cast<std::size_t>(first + r);
      if (at >= in.rows.size()) break;
      const auto& seg = in.rows[at];
      put(input_top + r, 0, std::u32string_view(in.text).substr(seg.begin, seg.end - seg.begin),
          width);
    }

    // The status line above it.
    const int status_row = input_top - 1;
    if (status_row >= 0) {
      wattr_set(stdscr, A_REVERSE, 0, nullptr);
      mvwhline(stdscr, status_row, 0, ' ', width);
      put(status_row, 0, status, width);
      if (scroll > 0) {
        const std::u32string_view more = U" [scrolled back: PgDn] ";
        const int more_cols = columns(more);
        if (more_cols < width) put(status_row, width - more_cols, more, more_cols);
      }
      wattr_set(stdscr, A_NORMAL, 0, nullptr);
    }

    // The conversation, bottom up.
    const int pane = std::max(status_row, 0);
    if (pane > 0) draw_pane(pane, width);
    wattr_set(stdscr, A_NORMAL, 0, nullptr);

    wmove(stdscr, input_top + in.cursor_row - first, std::min(in.cursor_col, width - 1));
    wrefresh(stdscr);
  }

  void draw_pane(int pane, int width) {
    struct Row {
      std::u32string text;
      bool dim;
    };
    std::vector<Row> rows;  // the newest first
    const std::size_t want = static_cast<std::size_t>(pane) + scroll;
    for (auto it = entries.rbegin(); it != entries.rend() && rows.size() < want; ++it) {
      auto wrapped = rows_of(*it, width);
      for (auto r = wrapped.rbegin(); r != wrapped.rend(); ++r) {
        rows.push_back({std::move(*r), it->notice});
      }
    }
    if (rows.size() < want) {
      // Scrolled back past the oldest line: show the oldest screenful.
      scroll = rows.size() > static_cast<std::size_t>(pane) ? rows.size() - pane : 0;
    }
    const std::size_t shown = std::min(rows.size() - scroll, static_cast<std::size_t>(pane));
    // With fewer rows than the pane holds, the conversation starts at the top.
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& row = rows[scroll + i];
      wattr_set(stdscr, row.dim ? A_DIM : A_NORMAL, 0, nullptr);
      put(static_cast<int>(shown - 1 - i), 0, row.text, width);
    }
  }

  void scroll_by(bool back) {
    const std::size_t step = static_cast<std::size_t>(std::max(pane_height() / 2, 1));
    if (back) {
      scroll += step;  // draw_pane() stops at the oldest line
    } else {
      scroll = scroll > step ? scroll - step : 0;
    }
  }

  void key(wint_t k, Input& in) {
    switch (k) {
      case KEY_ENTER:
        enter(in);
        break;
      case KEY_BACKSPACE:
        editor.backspace();
        break;
      case KEY_DC:
        editor.erase();
        break;
      case KEY_LEFT:
        editor.left();
        break;
      case KEY_RIGHT:
        editor.right();
        break;
      case KEY_HOME:
        editor.home();
        break;
      case KEY_END:
        editor.end();
        break;
      case KEY_UP:
        editor.history_up();
        break;
      case KEY_DOWN:
        editor.history_down();
        break;
      case KEY_PPAGE:
        scroll_by(true);
        break;
      case KEY_NPAGE:
        scroll_by(false);
        break;
      case KEY_RESIZE:
        clearok(curscr, TRUE);
        break;
      default:
        break;  // function keys without a meaning here
    }
  }

  void enter(Input& in) {
    std::string line = editor.take();
    if (line.empty()) return;
    in.lines.push_back(std::move(line));
    scroll = 0;  // one's own line is shown where it lands
  }

  // Returns false when reading should stop (end of input).
  bool character(wint_t c, Input& in) {
    switch (c) {
      case L'\n':
      case L'\r':
        enter(in);
        return true;
      case 0x7F:  // DEL, what most terminals send for Backspace
      case 0x08:  // Ctrl-H
        editor.backspace();
        return true;
      case 0x01:  // Ctrl-A
        editor.home();
        return true;
      case 0x02:  // Ctrl-B
        editor.left();
        return true;
      case 0x04:  // Ctrl-D
        if (editor.empty()) {
          in.eof = true;
          return false;
        }
        editor.erase();
        return true;
      case 0x05:  // Ctrl-E
        editor.end();
        return true;
      case 0x06:  // Ctrl-F
        editor.right();
        return true;
      case 0x0B:  // Ctrl-K
        editor.kill_to_end();
        return true;
      case 0x0C:  // Ctrl-L
        clearok(curscr, TRUE);
        return true;
      case 0x0E:  // Ctrl-N
        editor.history_down();
        return true;
      case 0x10:  // Ctrl-P
        editor.history_up();
        return true;
      case 0x15:  // Ctrl-U
        editor.kill_to_start();
        return true;
      case 0x17:  // Ctrl-W
        editor.kill_word_back();
        return true;
      default:
        break;
    }
    if (c < 0x20) return true;  // other controls (a lone Escape, Tab): ignored
    if (!editor.insert(static_cast<char32_t>(c))) beep();
    return true;
  }
};

ChatScreen::ChatScreen(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ChatScreen::~ChatScreen() = default;

Result<std::unique_ptr<ChatScreen>> ChatScreen::open(std::size_t max_line) {
  if (g_screen_open) return Error(Errc::config, "the chat screen is already open");
  if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDOUT_FILENO) != 1) {
    return Error(Errc::config, "the chat screen needs a terminal on standard input and output");
  }
  std::setlocale(LC_ALL, "");
  auto impl = std::make_unique<Impl>(max_line);
  // newterm rather than initscr: initscr exits the process when it fails.
  impl->screen = newterm(nullptr, stdout, stdin);
  if (impl->screen == nullptr) {
    return Error(Errc::config, "cannot use the terminal (is TERM set?)");
  }
  g_screen_open = true;
  set_term(impl->screen);
  cbreak();  // not raw(): Ctrl-C stays SIGINT
  noecho();
  nonl();  // Enter arrives as '\r' and output keeps its line feeds as they are
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  set_escdelay(25);  // a lone Escape is not held back for a second
  curs_set(1);
  impl->redraw();
  return std::unique_ptr<ChatScreen>(new ChatScreen(std::move(impl)));
}

std::size_t ChatScreen::add_line(std::string_view time_hhmm, std::string_view who,
                                 std::string_view text, Mark mark) {
  Impl::Entry e;
  e.time = escaped(time_hhmm);
  e.who = escaped(who);
  e.text = escaped(text);
  e.mark = mark;
  impl_->add(std::move(e));
  impl_->redraw();
  return impl_->first_id + impl_->entries.size() - 1;
}

void ChatScreen::set_mark(std::size_t id, Mark mark) {
  if (id < impl_->first_id || id - impl_->first_id >= impl_->entries.size()) return;
  auto& e = impl_->entries[id - impl_->first_id];
  if (e.notice || e.mark == mark) return;
  e.mark = mark;
  impl_->redraw();
}

void ChatScreen::add_notice(std::string_view text) {
  Impl::Entry e;
  e.notice = true;
  e.text = escaped(text);
  impl_->add(std::move(e));
  impl_->redraw();
}

void ChatScreen::set_status(std::string_view text) {
  impl_->status = escaped(text);
  impl_->redraw();
}

ChatScreen::Input ChatScreen::read_keys() {
  Input in;
  wint_t c = 0;
  for (;;) {
    const int r = wget_wch(stdscr, &c);
    if (r == ERR) break;
    if (r == KEY_CODE_YES) {
      impl_->key(c, in);
    } else if (!impl_->character(c, in)) {
      break;
    }
  }
  impl_->redraw();
  return in;
}

}  // namespace signet::cli
