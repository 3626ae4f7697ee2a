#include "fs/control.h"

#include <unistd.h>

#include "mirror/status.h"

namespace mirrorfs {

std::unique_ptr<mirror::ControlServer> start_control(const std::string& path,
                                                     mirror::Replicator& replicator) {
  mirror::ControlServerOptions options;
  options.path = path;
  auto handler = [&replicator](const nlohmann::json& request) -> nlohmann::json {
    const std::string command = request.at("command").get<std::string>();
    if (command == mirror::kCommandStatus) {
      mirror::DaemonStatus status;
      status.program = "mirrorfs";
      status.pid = getpid();
      status.version = MIRRORFS_VERSION;
      status.time = mirror::wall_clock_ms();
      if (auto volume = replicator.status()) status.volumes.push_back(*volume);
      return mirror::control_ok({{"status", status}});
    }
    if (command == mirror::kCommandPause || command == mirror::kCommandResume) {
      replicator.pause(command == mirror::kCommandPause);
      return mirror::control_ok();
    }
    if (command == mirror::kCommandMode) {
      if (!request.contains("mode") || !request["mode"].is_string()) {
        return mirror::control_error("mode needs \"mode\": \"sync\" or \"async\"");
      }
      replicator.set_mode(mirror::mode_from_string(request["mode"].get<std::string>()));
      return mirror::control_ok();
    }
    if (command == mirror::kCommandVerify) {
      replicator.verify(request.value("checksum", false));
      return mirror::control_ok();
    }
    if (command == mirror::kCommandResync) {
      replicator.resync(request.value("discard_copy", false), request.value("checksum", false));
      return mirror::control_ok();
    }
    return mirror::control_error("unknown command '" + command + "'");
  };
  return std::make_unique<mirror::ControlServer>(options, handler);
}

}  // namespace mirrorfs
