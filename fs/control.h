// mirrorfs's control socket (mirrorctl status, pause, resume, mode): the
// handler that answers from the volume's replicator.
#pragma once

#include <memory>
#include <string>

#include "mirror/control_server.h"
#include "mirror/replicator.h"

namespace mirrorfs {

// Throws std::runtime_error naming the path when a running daemon already
// answers there. Called before daemonizing, so the error reaches the
// terminal; a stale socket is left for the server to replace.
void check_control_path_free(const std::string& path);

// Starts answering on `path` (after daemonizing: the server has a thread).
std::unique_ptr<mirror::ControlServer> start_control(const std::string& path,
                                                     mirror::Replicator& replicator);

}  // namespace mirrorfs
