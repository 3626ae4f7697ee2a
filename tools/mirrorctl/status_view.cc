// The human status view. Meant to be read at 3 a.m.: the verdict first (OK or
// what is wrong) on the volume's own line, then one line per subject, ages
// rather than raw timestamps, and sizes in binary units. Example:
//
//   mirrorfs 0.1.0, pid 4242, /run/mirrorfs/mirrorfs-data.sock
//   data  local async -> 10.0.0.2:7400  DEGRADED: link interrupted
//     mount       /srv/data (backing /var/lib/mirrorfs/data)
//     link        interrupted since 2026-01-01 03:12:05 (2m14s)
//     copy        inconsistent: resync 45% (1200/5000 entries, 1.2 GiB/3.0 GiB, ...)
//     last walk   3 difference(s) in 5000 entries, 3.0 GiB compared in 1m12s; at ...
//     heartbeat   last heard 2m14s ago; sent 1200, received 1150; dropped 0 forged, ...
//     queue       512 records, 4.0 MiB, lag 2m10s (warning at 512.0 MiB, limit 1.0 GiB)
//     throughput  250 req/s, 1.0 MiB/s
//     requests    sent 1000, acked 990, failed 0, queued 1500; 1 interruption(s), ...
//     last error  connect 10.0.0.2:7400: Connection refused (at 03:12:06, 2m13s ago)
//     conn  state       heard  in-flight      sent     acked
//        0  closed      2m14s          0   1.2 MiB   1.2 MiB
#include "tools/mirrorctl/status_view.h"

#include <cstdio>
#include <sstream>

#include "tools/mirrorctl/format.h"
#include "tools/mirrorctl/health.h"
#include "tools/mirrorctl/sync_view.h"

namespace mirrorctl {

namespace {

using mirror::VolumeStatus;

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

void line(std::ostringstream& out, const char* key, const std::string& value) {
  char buf[16];
  snprintf(buf, sizeof(buf), "  %-12s", key);
  out << buf << value << "\n";
}

std::string ago(int64_t now, int64_t then) {
  if (then <= 0 || now <= 0) return "";
  return human_duration(now - then);
}

void render_volume(std::ostringstream& out, const VolumeStatus& v, int64_t now) {
  auto problems = problems_of(v);
  out << v.volume << "  " << mirror::to_string(v.role);
  if (v.mode) out << " " << mirror::to_string(*v.mode);
  out << (v.role == mirror::Role::local ? " -> " : " <- ") << (v.peer.empty() ? "?" : v.peer);
  std::string verdict = critical(v) ? "CRITICAL: " : "DEGRADED: ";
  out << "  " << (problems.empty() ? "OK" : verdict + join(problems, ", ")) << "\n";

  if (v.mountpoint) {
    line(out, "mount",
         *v.mountpoint + (v.directory.empty() ? "" : " (backing " + v.directory + ")"));
  } else if (!v.directory.empty()) {
    line(out, "copy", v.directory);
  }

  std::string link = mirror::to_string(v.link);
  if (v.link_since > 0) {
    link += " since " + local_time(v.link_since);
    if (std::string d = ago(now, v.link_since); !d.empty()) link += " (" + d + ")";
  }
  if (v.link == mirror::LinkState::probation && v.heartbeat.probation_ms > 0 && now > 0) {
    link += ", reconnects after " + human_duration(v.heartbeat.probation_ms) + " without a gap";
  }
  line(out, "link", link);

  if (v.sync) {
    line(out, "copy", copy_state(*v.sync, v.volume));
    // Why a sync runs (the identity rule's verdict) does not fit on its line;
    // a verify runs because someone asked.
    const std::string& state = v.sync->state;
    if ((state == "initial-sync" || state == "resync") && !v.sync->reason.empty()) {
      line(out, "", v.sync->reason);
    }
    if (std::string last = last_walk(*v.sync, now); !last.empty()) {
      if (v.sync->result == "differ") last += "; run: mirrorctl resync " + v.volume;
      line(out, "last walk", last);
    }
  }

  const auto& hb = v.heartbeat;
  std::string heard = hb.last_heard_age_ms
                          ? "last heard " + human_duration(*hb.last_heard_age_ms) + " ago"
                          : "never heard";
  std::string dropped = "dropped " + std::to_string(hb.forged) + " forged, " +
                        std::to_string(hb.replayed) + " replayed, " + std::to_string(hb.stale) +
                        " stale";
  line(out, "heartbeat",
       heard + "; sent " + std::to_string(hb.sent) + ", received " + std::to_string(hb.received) +
           "; " + dropped);
  if (hb.interval_ms || hb.timeout_ms) {
    line(out, "",
         "every " + human_duration(hb.interval_ms) + ", timeout " + human_duration(hb.timeout_ms) +
             ", probation " + human_duration(hb.probation_ms));
  }

  if (v.queue) {
    const auto& q = *v.queue;
    std::string text = std::to_string(q.records) + " records, " + human_bytes(q.bytes);
    text += q.oldest_age_ms ? ", lag " + human_duration(*q.oldest_age_ms) : ", lag 0";
    std::vector<std::string> limits;
    if (uint64_t level = warning_level(q); level)
      limits.push_back("warning at " + human_bytes(level));
    if (q.max_bytes) limits.push_back("limit " + human_bytes(q.max_bytes));
    if (!limits.empty()) text += " (" + join(limits, ", ") + ")";
    line(out, "queue", text);
    if (q.waiting_for_space) {
      line(out, "back-press.",
           std::to_string(q.waiting_for_space) + " writer(s) waiting for queue space");
    }
  }
  if (v.paused) line(out, "paused", "yes: nothing is sent until `mirrorctl resume`");

  line(out, "throughput",
       human_rate(v.throughput.requests_per_s) + " req/s, " +
           human_bytes(v.throughput.bytes_per_s) + "/s");
  const auto& c = v.counters;
  line(out, "requests",
       "sent " + std::to_string(c.requests_sent) + ", acked " + std::to_string(c.requests_acked) +
           ", failed " + std::to_string(c.requests_failed) +
           (v.role == mirror::Role::local ? ", queued " + std::to_string(c.requests_queued) : "") +
           "; " + std::to_string(c.interruptions) + " interruption(s), " +
           std::to_string(c.reconnects) + " reconnect(s)");
  if (v.last_error) {
    std::string at = v.last_error->at > 0 ? " (at " + local_time(v.last_error->at) : "";
    if (!at.empty()) {
      std::string d = ago(now, v.last_error->at);
      at += d.empty() ? ")" : ", " + d + " ago)";
    }
    line(out, "last error", v.last_error->message + at);
  }
  if (!v.connections.empty()) {
    char buf[128];
    snprintf(buf, sizeof(buf), "  %-5s %-11s %6s %10s %10s %10s\n", "conn", "state", "heard",
             "in-flight", "sent", "acked");
    out << buf;
    for (const auto& e : v.connections) {
      snprintf(buf, sizeof(buf), "  %5d %-11s %6s %10llu %10s %10s\n", e.index,
               mirror::to_string(e.state), human_duration(e.timestamp_age_ms).c_str(),
               static_cast<unsigned long long>(e.in_flight),
               human_bytes(static_cast<double>(e.bytes_sent)).c_str(),
               human_bytes(static_cast<double>(e.bytes_acked)).c_str());
      out << buf;
    }
  }
}

}  // namespace

std::string render_status(const std::vector<DaemonReport>& reports) {
  std::ostringstream out;
  bool first = true;
  for (const auto& r : reports) {
    if (!first) out << "\n";
    first = false;
    if (!r.status) {
      out << r.socket << "  UNREACHABLE: " << r.error << "\n";
      continue;
    }
    const auto& s = *r.status;
    out << s.program << " " << s.version << ", pid " << s.pid << ", " << r.socket << "\n";
    if (s.volumes.empty()) out << "  (no volumes)\n";
    for (const auto& v : s.volumes) render_volume(out, v, s.time);
  }
  return out.str();
}

nlohmann::json status_document(const std::vector<DaemonReport>& reports) {
  nlohmann::json daemons = nlohmann::json::array();
  for (const auto& r : reports) {
    if (r.status) {
      daemons.push_back({{"socket", r.socket}, {"reachable", true}, {"status", *r.status}});
    } else {
      daemons.push_back({{"socket", r.socket}, {"reachable", false}, {"error", r.error}});
    }
  }
  return {{"exit_status", static_cast<int>(exit_status_of(reports))},
          {"problems", problems_of(reports)},
          {"daemons", std::move(daemons)}};
}

}  // namespace mirrorctl
