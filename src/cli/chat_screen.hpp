// The chat's terminal screen (signet chat on a terminal): the conversation
// scrolls above a status line and an input line fixed at the bottom; a line
// arriving while one types is drawn above, and the half-typed line (however
// many rows it wraps over) is redrawn intact. ncursesw draws the screen; the
// line editing is LineEditor's.
//
// Everything here runs on one thread (ncurses is not thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace signet::cli {

// The line being typed, as code points, with a cursor: the editing keys'
// effects, without a terminal (unit-tested).
class LineEditor {
 public:
  // max_bytes: the longest line in UTF-8 bytes (a message's limit); input
  // beyond it is refused (insert returns false).
  explicit LineEditor(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  bool insert(char32_t c);
  void backspace();         // deletes before the cursor
  void erase();             // deletes at the cursor (Delete)
  void left();
  void right();
  void home();
  void end();
  void kill_to_start();     // Ctrl-U
  void kill_to_end();       // Ctrl-K
  void kill_word_back();    // Ctrl-W: the word before the cursor and the spaces after it
  void history_up();        // the previous line entered (the line typed so far is kept)
  void history_down();
  // Ends the line: returns it in UTF-8, adds it to the history (unless
  // empty), and starts an empty one.
  std::string take();

  std::string text() const;          // UTF-8
  const std::u32string& code_points() const noexcept { return line_; }
  std::size_t cursor() const noexcept { return cursor_; }  // in code points
  bool empty() const noexcept { return line_.empty(); }

 private:
  std::size_t max_bytes_;
  std::u32string line_;
  std::size_t cursor_ = 0;
  std::vector<std::u32string> history_;
  std::size_t history_at_ = 0;  // == history_.size(): the line being typed
  std::u32string typed_;        // the line being typed while browsing history
};

// Splits display text into rows of at most `width` terminal columns (wide
// characters count two, combining marks zero; a row never splits a
// character); continuation rows start with `indent` spaces. Never returns
// no rows.
std::vector<std::u32string> wrap_for_display(std::u32string_view text, int width, int indent = 0);

class ChatScreen {
 public:
  enum class Mark {
    none,       // another's line, a notice
    sent,       // sent, not yet acknowledged:           shows "·"
    queued,     // typed while disconnected, not yet sent: shows "…"
    delivered,  // the peer acknowledged it:               shows "✓"
    failed,     // will never be delivered:                shows "✗"
  };

  // Takes over the terminal on standard input and output (ncursesw, after
  // setlocale(LC_ALL, "")): cbreak, no echo, keypad, non-blocking reads;
  // SIGINT stays a signal. max_line: the longest line one may type, in bytes.
  // Fails with config when the terminal cannot be used.
  static Result<std::unique_ptr<ChatScreen>> open(std::size_t max_line);
  // Gives the terminal back as it was (endwin).
  ~ChatScreen();
  ChatScreen(const ChatScreen&) = delete;
  ChatScreen& operator=(const ChatScreen&) = delete;

  // Adds a line of the conversation: "[HH:MM] who: text" and the mark's
  // sign after it. who and text are shown escaped
  // (util::escape_for_display), so a peer's control characters never reach
  // the terminal. Returns the line's id, for set_mark.
  std::size_t add_line(std::string_view time_hhmm, std::string_view who, std::string_view text,
                       Mark mark = Mark::none);
  void set_mark(std::size_t id, Mark mark);
  // A line of the program's own ("-- connection lost; reconnecting in 2 s"),
  // shown escaped, dimmed.
  void add_notice(std::string_view text);
  // The status line between the conversation and the input line.
  void set_status(std::string_view text);

  // What the keys typed since the last call did. Call it whenever standard
  // input is readable; it never blocks. Handles resizing (KEY_RESIZE),
  // Ctrl-L (redraw), PageUp/PageDown (scrolls the conversation).
  struct Input {
    std::vector<std::string> lines;  // lines entered with Enter, in order
    bool eof = false;                // Ctrl-D on an empty line
  };
  Input read_keys();

 private:
  struct Impl;
  explicit ChatScreen(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace signet::cli
