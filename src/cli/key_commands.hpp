// Key-mode commands: keygen, fingerprint, and keys add/list/remove, plus the
// pieces the server and client commands reuse (passphrase sources, the
// --add-keys import report).
#pragma once

#include <filesystem>
#include <iosfwd>

#include <CLI/CLI.hpp>

#include "crypto/identity.hpp"
#include "keys/authorized_keys.hpp"

namespace signet::cli {

// Registers `keygen`, `fingerprint` and `keys {add,list,remove}` on app.
// Their callbacks do the work during parsing and set exit_code: 0 ok,
// 2 usage or configuration error, 1 any other failure. Errors go to stderr
// as "signet: <what went wrong>".
void add_key_commands(CLI::App& app, int& exit_code);

// Asks for the passphrase on the controlling terminal (/dev/tty) with echo
// off. Fails with config when there is no terminal or nothing was entered.
crypto::PassphraseProvider tty_passphrase_provider();

// Reads the passphrase from the first line of file (a trailing newline is
// not part of it). Fails with config if the file is missing or empty.
crypto::PassphraseProvider passphrase_file_provider(std::filesystem::path file);

// Prints the result of keys::import_directory in user terms, one line each:
//   added SHA256:... (alice@host) from alice.pub          (to out)
//   already present: SHA256:... (bob@host) from bob.pub   (to out)
//   skipped bad.pub: <reason>                             (to err)
void print_import_report(const keys::ImportReport& report, std::ostream& out, std::ostream& err);

// `signet server --add-keys DIR`: imports DIR into authorized_keys, prints
// the report, and returns the exit status (0 even if some files were
// skipped; 2 or 1 if the import itself failed).
int import_keys(const std::filesystem::path& authorized_keys, const std::filesystem::path& dir);

}  // namespace signet::cli
