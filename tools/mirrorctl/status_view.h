// The two faces of `mirrorctl status`: the compact human table per volume,
// and the JSON document scripts read.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/mirrorctl/targets.h"

namespace mirrorctl {

// The human view: per daemon a header line, per volume a block of
// "key  value" lines, problems first in the volume's header line.
std::string render_status(const std::vector<DaemonReport>& reports);

// The --json document:
//   {
//     "exit_status": 1,                       // what mirrorctl exits with
//     "problems": ["data: link interrupted"], // as in the human view
//     "daemons": [
//       {"socket": PATH, "reachable": true, "status": DaemonStatus},   // mirror/status.h
//       {"socket": PATH, "reachable": false, "error": "..."}
//     ]
//   }
// DaemonStatus.volumes holds only the volumes the target selects.
nlohmann::json status_document(const std::vector<DaemonReport>& reports);

}  // namespace mirrorctl
