// The copy's state and the walks over it (mirror/status.h's SyncStatus) in
// words: shared by `mirrorctl status`, the progress line of `mirrorctl
// verify|resync` and their closing summary, so that all three say the same
// thing the same way.
#pragma once

#include <cstdint>
#include <string>

#include "mirror/status.h"

namespace mirrorctl {

// A walk is running: initial-sync, resync, verify or checking.
bool walk_running(const mirror::SyncStatus& s);

// How far a running walk is, 0 to 100, from its bytes or else its entries;
// -1 while neither total is known.
int walk_percent(const mirror::SyncStatus& s);

// "45% (1200/5000 entries, 1.2 GiB/3.0 GiB, 80.0 MiB/s, ETA 30.0s)"; the
// parts not known yet are left out.
std::string walk_progress(const mirror::SyncStatus& s);

// The `copy` line of `mirrorctl status`: "consistent (generation 9f2c...)",
// "inconsistent: initial-sync 45% (...)", "SPLIT BRAIN: REASON; run:
// mirrorctl resync --discard-copy TARGET".
std::string copy_state(const mirror::SyncStatus& s, const std::string& target);

// What the latest finished walk found, as `mirrorctl verify|resync` prints
// it at the end: "equal: 5000 entries, 3.0 GiB compared in 1m12s",
// "3 difference(s) in 5000 entries, ..." (saying so when more differ than
// `listed` holds), "repaired: ...", "interrupted (after ...)", "failed:
// REASON (after ...)".
std::string walk_summary(const mirror::SyncStatus& s);

// The `last walk` line of `mirrorctl status`: the summary and when it
// finished; "" when no walk has finished or one is running.
std::string last_walk(const mirror::SyncStatus& s, int64_t now);

}  // namespace mirrorctl
