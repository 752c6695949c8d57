#include "keys/public_key_line.hpp"

#include <algorithm>

#include "util/encoding.hpp"

namespace signet::keys {
namespace {

std::string shown(std::string_view s) {
  return "\"" + util::escape_for_display(s) + "\"";
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

bool is_option_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Takes the next blank-delimited word off the front of s.
std::string_view next_word(std::string_view& s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  std::size_t n = 0;
  while (n < s.size() && !is_blank(s[n])) ++n;
  const std::string_view word = s.substr(0, n);
  s.remove_prefix(n);
  return word;
}

// A word that is a key type signet does not support (rather than options),
// so that the error says so instead of "unknown option".
bool looks_like_key_type(std::string_view word) {
  if (word.find_first_of("=,\"") != std::string_view::npos) return false;
  return word.starts_with("ssh-") || word.starts_with("ecdsa-") || word.starts_with("sk-") ||
         word.find("@openssh.com") != std::string_view::npos;
}

Error unsupported_type(std::string_view word) {
  return Error(Errc::malformed, "unsupported key type " + shown(word) +
                                    " (signet accepts ssh-ed25519, ecdsa-sha2-nistp256 and "
                                    "ssh-rsa)");
}

}  // namespace

Result<std::vector<KeyOption>> parse_options(std::string_view field) {
  std::vector<KeyOption> options;
  std::size_t i = 0;
  while (true) {
    const std::size_t start = i;
    while (i < field.size() && is_option_name_char(field[i])) ++i;
    if (i == start) {
      return Error(Errc::malformed, i < field.size() ? "unexpected character " +
                                                           shown(field.substr(i, 1)) + " in options"
                                                     : std::string("empty option"));
    }
    KeyOption opt;
    opt.name = std::string(field.substr(start, i - start));
    std::transform(opt.name.begin(), opt.name.end(), opt.name.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    if (i < field.size() && field[i] == '=') {
      ++i;
      if (i >= field.size() || field[i] != '"') {
        return Error(Errc::malformed, "option " + opt.name + " needs a value in double quotes");
      }
      ++i;
      std::string value;
      bool closed = false;
      while (i < field.size()) {
        const char c = field[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        // sshd's only escape: \" stands for a quote inside the value.
        if (c == '\\' && i < field.size() && field[i] == '"') {
          value.push_back('"');
          ++i;
          continue;
        }
        value.push_back(c);
      }
      if (!closed) return Error(Errc::malformed, "unterminated quote in option " + opt.name);
      opt.value = std::move(value);
    }
    options.push_back(std::move(opt));
    if (i == field.size()) return options;
    if (field[i] != ',') {
      return Error(Errc::malformed,
                   "unexpected character " + shown(field.substr(i, 1)) + " after an option");
    }
    ++i;
  }
}

Result<crypto::PublicKey> parse_key_fields(std::string_view type_word, std::string_view base64,
                                           crypto::KeyPolicy policy) {
  const auto type = crypto::key_type_from_ssh_name(type_word);
  if (!type) return unsupported_type(type_word);
  if (base64.empty()) return Error(Errc::malformed, "missing key data after the key type");
  if (base64.size() > (crypto::kMaxPublicKeyBlob / 3 + 1) * 4) {
    return Error(Errc::too_large, "key data too long");
  }
  const auto blob = util::base64_decode(base64);
  if (!blob) return Error(Errc::malformed, "key data is not valid base64");
  auto key = crypto::PublicKey::from_ssh_blob(*blob, policy);
  if (!key) return key.error();
  if (key->type() != *type) {
    return Error(Errc::malformed, "key type word " + shown(type_word) +
                                      " does not match the encoded key (" +
                                      std::string(key->ssh_type()) + ")");
  }
  return key;
}

Result<PublicKeyLine> parse_public_key_line(std::string_view line, crypto::KeyPolicy policy) {
  if (line.size() > kMaxKeyLineLength) return Error(Errc::too_large, "line too long");
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      return Error(Errc::malformed, "control character in line");
    }
  }
  std::string_view rest = line;
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  if (rest.empty()) return Error(Errc::malformed, "empty line");

  std::string options;
  std::vector<KeyOption> parsed;
  std::string_view probe = rest;
  const std::string_view first = next_word(probe);
  if (!crypto::key_type_from_ssh_name(first)) {
    if (looks_like_key_type(first)) return unsupported_type(first);
    // The options field ends at the first blank outside double quotes.
    bool quoted = false;
    std::size_t n = 0;
    for (; n < rest.size(); ++n) {
      const char c = rest[n];
      if (!quoted && is_blank(c)) break;
      if (c == '\\' && quoted && n + 1 < rest.size() && rest[n + 1] == '"') {
        ++n;
        continue;
      }
      if (c == '"') quoted = !quoted;
    }
    if (quoted) return Error(Errc::malformed, "unterminated quote in options");
    options = std::string(rest.substr(0, n));
    auto opts = parse_options(options);
    if (!opts) return opts.error();
    parsed = std::move(*opts);
    rest.remove_prefix(n);
  }
  const std::string_view type_word = next_word(rest);
  if (type_word.empty())
    return Error(Errc::malformed, "not a key line (expected [options] TYPE BASE64 [comment])");
  const std::string_view base64 = next_word(rest);
  auto key = parse_key_fields(type_word, base64, policy);
  if (!key) return key.error();
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  while (!rest.empty() && is_blank(rest.back())) rest.remove_suffix(1);
  return PublicKeyLine{std::move(options), std::move(parsed), std::move(*key), std::string(rest)};
}

std::string format_line(const PublicKeyLine& line) {
  std::string out;
  if (!line.options.empty()) {
    out += line.options;
    out += ' ';
  }
  out += crypto::format_public_key_line(line.key, line.comment);
  return out;
}

}  // namespace signet::keys
