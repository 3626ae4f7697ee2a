// mirrorfs's control socket (mirrorctl status, pause, resume, mode): the
// handler that answers from the volume's replicator.
#pragma once

#include <memory>
#include <string>

#include "mirror/control_server.h"
#include "mirror/replicator.h"

namespace mirrorfs {

// Starts answering on `path` (after daemonizing: the server has a thread).
std::unique_ptr<mirror::ControlServer> start_control(const std::string& path,
                                                     mirror::Replicator& replicator);

}  // namespace mirrorfs
