// Where the daemon's logs go: stderr in the foreground, syslog once
// daemonized, or a file given with -o log_file=. Internal to fs/.
#pragma once

#include "fs/options.h"

namespace mirrorfs {

// Before daemonizing: logs go to stderr (or the log file).
void start_logging(const MountOptions& options);
// After daemonizing, when stderr is gone: logs go to syslog (or the log file).
void switch_to_background_logging(const MountOptions& options);

}  // namespace mirrorfs
