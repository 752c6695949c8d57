#include "cli/systemd.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>


namespace signet::cli {

void notify_systemd(const std::string& state) {
  // unset_environment 0: --exec commands are not systemd's services.
  const int rc = sd_notify(0, state.c_str());
  if (rc < 0) spdlog::warn("cannot notify systemd ({}): error {}", state, -rc);
}

}  // namespace signet::cli
