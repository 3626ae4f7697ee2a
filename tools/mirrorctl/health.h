// Judging a status: what is wrong with a volume, and the exit status of
// `mirrorctl status` for scripts and monitors.
#pragma once

#include <string>
#include <vector>

#include "mirror/status.h"
#include "tools/mirrorctl/targets.h"

namespace mirrorctl {

// The levels follow the monitoring plugins' convention (0 OK, 1 WARNING,
// 2 CRITICAL): a split brain is as urgent as a daemon that does not answer.
enum ExitStatus {
  kHealthy = 0,   // every volume connected, its queue below the warning level, its copy consistent
  kDegraded = 1,  // interrupted, probation, connecting, paused, lagging, back-pressure,
                  // a copy that is inconsistent (being synced) or not known yet, a verify
                  // that found differences
  kUnreachable = 2,  // a daemon could not be reached (or none serves the target)
  kCritical = 2,     // a split brain: the copy waits for the operator
};

// The queue size above which a volume is lagging: warning_bytes, or half of
// max_bytes when the daemon sets none; 0 when neither is known.
uint64_t warning_level(const mirror::QueueStatus& q);

// Short phrases, empty when all is well: "link interrupted", "paused",
// "lagging: queue 4.0 MiB above 2.0 MiB", "back-pressure: 3 writers waiting".
std::vector<std::string> problems_of(const mirror::VolumeStatus& v);

// Whether a volume's problems need a person now rather than time: a split
// brain. problems_of() lists it too.
bool critical(const mirror::VolumeStatus& v);

// Every problem of every report, each prefixed with its volume (or socket).
std::vector<std::string> problems_of(const std::vector<DaemonReport>& reports);

ExitStatus exit_status_of(const std::vector<DaemonReport>& reports);

}  // namespace mirrorctl
