// The signet server under systemd: readiness and reload notifications
// (sd_notify(3)). The only file that includes libsystemd's headers.
#pragma once

#include <string>

#include <spdlog/common.h>

namespace signet::cli {

// Sends state (e.g. "READY=1", "RELOADING=1", "STOPPING=1") to the service
// manager when NOTIFY_SOCKET is set; does nothing otherwise. Failures are
// logged, never fatal: the server serves either way.
void notify_systemd(const std::string& state);

// True when fd (stderr, or stdout) is the journal stream systemd set up:
// JOURNAL_STREAM is "<device>:<inode>" of that stream (systemd.exec(5)).
bool is_journal_stream(int fd);

// The sd-daemon(3) priority prefix for a log line of this level, "<3>"
// (SD_ERR) for errors, "<6>" (SD_INFO) for information, and so on.
const char* journal_priority_prefix(spdlog::level::level_enum level) noexcept;

}  // namespace signet::cli
