// `mirrorctl verify` and `mirrorctl resync`: start a walk over a volume's copy
// in mirrorfs (the local side; mirrord only applies what it is sent) and
// follow it to its end through the daemon's status, with a progress line on
// a terminal, then say what it found.
#pragma once

#include "tools/mirrorctl/targets.h"

namespace mirrorctl {

struct SyncCommand {
  bool resync = false;        // resync; else verify
  bool checksum = false;      // --checksum: compare the contents of every file by blocks
  bool discard_copy = false;  // resync --discard-copy: settle a split brain for the primary
  double max_seconds = 0;     // --max-time: give up waiting after this long; 0: never
  bool json = false;          // print the final SyncStatus as JSON instead of words
};

// Runs the command against the one mirrorfs volume `query` names. Returns
// the exit status: verify 0 equal, 1 differ; resync 0 repaired; 2 for
// anything else (refused, unreachable, interrupted, failed, split brain,
// --max-time reached; the walk itself goes on in the daemon then).
int run_sync_command(const Query& query, const SyncCommand& command);

}  // namespace mirrorctl
