// Each subcommand registers itself on the CLI11 app. Its callback only picks
// the action; main runs it after parsing, once logging is set up.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace signet::cli {

using Action = std::function<int()>;  // returns the exit status

void add_server_command(CLI::App& app, Action& action);
void add_client_commands(CLI::App& app, Action& action);  // client, send
void add_bench_command(CLI::App& app, Action& action);
void add_file_commands(CLI::App& app, Action& action);     // put, get, ls
void add_receipt_commands(CLI::App& app, Action& action);  // verify-receipt
void add_audit_command(CLI::App& app, Action& action);     // audit verify
void add_chat_command(CLI::App& app, Action& action);      // chat

}  // namespace signet::cli
