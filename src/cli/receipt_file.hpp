// Writing the receipt a client got (send, put and get --receipt FILE).
#pragma once

#include <string>

#include "api/receipt.hpp"
#include "cli/mode.hpp"

namespace signet::cli {

// Writes a receipt that was checked (check_receipt_for) to FILE and FILE.sig,
// once it is seen to name this client's own key (mode's; "shared-key" in
// shared-key mode). Returns the exit status: kExitNotVerified for another
// client key, kExitUsage when a file cannot be written.
int write_receipt(const Receipt& receipt, const std::string& file, const ClientMode& mode);

}  // namespace signet::cli
