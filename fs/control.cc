#include "fs/control.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "mirror/status.h"

namespace mirrorfs {

void check_control_path_free(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    throw std::runtime_error("-o control=" + path + ": path too long for a Unix socket");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  if (live) {
    throw std::runtime_error("control socket " + path +
                             " is in use by a running daemon (another mount of this volume?)");
  }
}

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
    return mirror::control_error("unknown command '" + command + "'");
  };
  return std::make_unique<mirror::ControlServer>(options, handler);
}

}  // namespace mirrorfs
