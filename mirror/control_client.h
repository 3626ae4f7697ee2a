// The client side of the control socket (protocol in mirror/control_server.h):
// what mirrorctl uses to ask a daemon for its status and send it commands.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace mirror {

// The daemon could not be reached at all: no socket, nobody listening,
// permission denied. what() names the path and the reason.
class ControlUnreachable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The daemon was reached but the exchange failed: it closed the connection,
// did not answer in time, or answered something that is not a JSON object.
class ControlFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sends one request and returns the daemon's reply (an object with "ok"),
// all within `timeout`. Throws ControlUnreachable or ControlFailed.
nlohmann::json control_call(const std::string& socket_path, const nlohmann::json& request,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The sockets (*.sock) in `dir`, sorted; empty when the directory is missing.
std::vector<std::string> control_sockets_in(const std::string& dir);

}  // namespace mirror
