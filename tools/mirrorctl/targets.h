// What a mirrorctl TARGET names, and asking the daemons behind it: a socket
// path, a mount point (matched against the `mountpoint` each daemon
// reports) or a volume name (matched against `volume`); no target is every
// daemon with a socket in the control directory.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "mirror/status.h"

namespace mirrorctl {

// One daemon asked: its status (only the volumes the target selects), or why
// it could not be reached.
struct DaemonReport {
  std::string socket;
  std::optional<mirror::DaemonStatus> status;  // nullopt: unreachable
  std::string error;                           // when unreachable
  // The volume names the target selects in this daemon; empty: all of them
  // (a socket path or no target).
  std::vector<std::string> volumes;
};

struct Query {
  std::string target;  // "" for every daemon
  std::string control_dir;
  std::chrono::milliseconds timeout{5000};
};

// Asks every daemon the query reaches for its status. Unreachable daemons
// are reported, not thrown; a target that no reachable daemon serves gives a
// single unreachable report naming it.
std::vector<DaemonReport> collect_status(const Query& query);

// How a path-looking target is told from a volume name.
bool looks_like_path(const std::string& target);

}  // namespace mirrorctl
