// The signet server under systemd: readiness and reload notifications
// (sd_notify(3)). The only file that includes libsystemd's headers.
#pragma once

#include <string>

namespace signet::cli {

// Sends state (e.g. "READY=1", "RELOADING=1", "STOPPING=1") to the service
// manager when NOTIFY_SOCKET is set; does nothing otherwise. Failures are
// logged, never fatal: the server serves either way.
void notify_systemd(const std::string& state);

}  // namespace signet::cli
