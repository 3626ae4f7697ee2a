// What counts as degraded. A link that is not connected means changes are
// not reaching the copy; a queue above its warning level means the copy is
// far behind; writers waiting for queue space mean applications are slowed.
// A copy that is not consistent would not serve after a failover, so it is
// degraded until its sync ends; a split brain changes nothing until someone
// decides which side wins, so it is critical.
#include "tools/mirrorctl/health.h"

#include "tools/mirrorctl/format.h"
#include "tools/mirrorctl/sync_view.h"

namespace mirrorctl {

uint64_t warning_level(const mirror::QueueStatus& q) {
  return q.warning_bytes ? q.warning_bytes : q.max_bytes / 2;
}

std::vector<std::string> problems_of(const mirror::VolumeStatus& v) {
  std::vector<std::string> problems;
  if (v.link != mirror::LinkState::connected) {
    problems.push_back(std::string("link ") + mirror::to_string(v.link));
  }
  if (v.paused) problems.push_back("paused");
  if (v.queue) {
    uint64_t level = warning_level(*v.queue);
    // Files may hold acknowledged records until a segment is reclaimed: an
    // empty queue is not lagging, whatever its files still take.
    if (level && v.queue->records > 0 && v.queue->bytes > level) {
      problems.push_back("lagging: queue " + human_bytes(v.queue->bytes) + " above " +
                         human_bytes(level));
    }
    if (v.queue->waiting_for_space) {
      problems.push_back("back-pressure: " + std::to_string(v.queue->waiting_for_space) +
                         " writer(s) waiting for queue space");
    }
  }
  if (v.sync) {
    const auto& s = *v.sync;
    if (s.state == "split-brain") {
      problems.push_back("split brain");
    } else if (s.copy != "consistent") {
      std::string doing;
      if (s.state == "checking") {
        doing = " (checking)";
      } else if (walk_running(s)) {
        int percent = walk_percent(s);
        doing = " (" + s.state + (percent >= 0 ? " " + std::to_string(percent) + "%" : "") + ")";
      }
      problems.push_back("copy " + s.copy + doing);
    } else if (s.result == "differ" && !walk_running(s)) {
      // Consistent by the books, yet the latest verify saw otherwise.
      problems.push_back("the last verify found " + std::to_string(s.differences) +
                         " difference(s)");
    }
  }
  return problems;
}

bool critical(const mirror::VolumeStatus& v) {
  return v.sync && v.sync->state == "split-brain";
}

std::vector<std::string> problems_of(const std::vector<DaemonReport>& reports) {
  std::vector<std::string> all;
  for (const auto& r : reports) {
    if (!r.status) {
      all.push_back(r.socket + ": unreachable: " + r.error);
      continue;
    }
    for (const auto& v : r.status->volumes) {
      for (const auto& p : problems_of(v)) all.push_back(v.volume + ": " + p);
    }
  }
  return all;
}

ExitStatus exit_status_of(const std::vector<DaemonReport>& reports) {
  ExitStatus worst = kHealthy;
  for (const auto& r : reports) {
    if (!r.status) return kUnreachable;
    for (const auto& v : r.status->volumes) {
      if (critical(v)) worst = kCritical;
      if (worst == kHealthy && !problems_of(v).empty()) worst = kDegraded;
    }
  }
  return worst;
}

}  // namespace mirrorctl
