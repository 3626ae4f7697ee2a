// mirrord's status (mirror/status.h) for the control socket: each volume's
// link state, moved on every heartbeat tick, and the snapshot status() draws
// from the heartbeats, the current session's connection array and the
// volume's counters.
//
// The mirror side's link states: "connecting" until the volume's local
// server is first heard, and again while it is heard but holds no open
// connection (it is establishing them, or on probation after an
// interruption); "connected" while it is heard within the heartbeat timeout
// and at least one element holds a socket not marked closed; "interrupted"
// once it has been silent longer than the heartbeat timeout.
#include <unistd.h>

#include <algorithm>

#include "mirror/mirror_server.h"
#include "mirror/mirror_volume.h"

namespace mirror {
namespace {

bool is_open(ConnectionElement& e) {
  return e.fd.load() >= 0 && !e.closed.load();
}

bool holds_open_connection(MirrorConnectionArray& array) {
  for (size_t i = 0; i < array.size(); ++i) {
    if (is_open(array[i])) return true;
  }
  return false;
}

// Requests and bytes per second between the oldest sample in the window and
// `now` (totals `requests`, `bytes`); zero before the first sample.
ThroughputStatus throughput(const VolumeMonitor& m, int64_t now_ms, uint64_t requests,
                            uint64_t bytes) {
  const VolumeMonitor::Sample* oldest = nullptr;
  for (const auto& s : m.samples) {
    if (s.at_ms == 0 || now_ms - s.at_ms > VolumeMonitor::kWindowMs) continue;
    if (oldest == nullptr || s.at_ms < oldest->at_ms) oldest = &s;
  }
  ThroughputStatus t;
  if (oldest == nullptr) return t;
  // Just after the start the window is short: count it as one sample period
  // at least, rather than divide by almost nothing.
  const int64_t span = std::max(now_ms - oldest->at_ms, VolumeMonitor::kSampleEveryMs);
  const double seconds = static_cast<double>(span) / 1000.0;
  t.requests_per_s = static_cast<double>(requests - oldest->requests) / seconds;
  t.bytes_per_s = static_cast<double>(bytes - oldest->bytes) / seconds;
  return t;
}

}  // namespace

MirrorServer::Volume* MirrorServer::volume_named(const std::string& name) const {
  auto it = volumes_.find(name);
  return it == volumes_.end() ? nullptr : it->second.get();
}

void MirrorServer::note_error(Volume& volume, const std::string& message) {
  const int64_t now = wall_clock_ms();
  std::lock_guard lock(volume.monitor.mutex);
  volume.monitor.last_error = ErrorStatus{message, now};
}

void MirrorServer::update_links(int64_t now_ms) {
  for (auto& [name, volume] : volumes_) {
    std::shared_ptr<Session> session;
    {
      std::lock_guard lock(volume->mutex);
      session = volume->session;
    }
    const bool holds = session && holds_open_connection(session->array);
    const uint64_t serial = session ? session->serial : 0;
    const auto heard = heartbeat_->heard_of(name);
    LinkState next = LinkState::connecting;
    if (heard.last_ms && now_ms - *heard.last_ms > options_.heartbeat_timeout_ms) {
      next = LinkState::interrupted;
    } else if (heard.last_ms && holds) {
      next = LinkState::connected;
    }
    VolumeMonitor& m = volume->monitor;
    const uint64_t requests = m.acked.load() + m.failed.load();
    const uint64_t bytes = m.answered_bytes.load();
    std::lock_guard lock(m.mutex);
    if (next != m.link) {
      if (m.link == LinkState::connected && next == LinkState::interrupted) ++m.interruptions;
      if (next == LinkState::connected && m.ever_connected) ++m.reconnects;
      m.link = next;
      m.link_since = wall_clock_ms();
    } else if (next == LinkState::connected && serial != m.connected_serial) {
      ++m.reconnects;  // a new session replaced the old one between two ticks
    }
    if (next == LinkState::connected) {
      m.ever_connected = true;
      m.connected_serial = serial;
    }
    const size_t last = (m.next_sample + m.samples.size() - 1) % m.samples.size();
    if (m.samples[last].at_ms == 0 ||
        now_ms - m.samples[last].at_ms >= VolumeMonitor::kSampleEveryMs) {
      m.samples[m.next_sample] = {now_ms, requests, bytes};
      m.next_sample = (m.next_sample + 1) % m.samples.size();
    }
  }
}

DaemonStatus MirrorServer::status() const {
  // The copy as its identity record says: consistent, or in the middle of a
  // sync the local server runs (it rewrites the record at its start and end).
  auto copy_state = [](Volume& volume) -> std::optional<SyncStatus> {
    SyncStatus sync;
    std::lock_guard lock(volume.identity_mutex);
    try {
      if (auto id = volume.identity->load()) {
        sync.generation = format_generation(id->generation);
        sync.copy = id->role == DataRole::copy && (id->flags & kIdentityConsistent)
                        ? "consistent"
                        : "inconsistent";
        sync.reason = id->describe();
      } else {
        return std::nullopt;  // no local server has met this copy yet
      }
    } catch (const std::exception& e) {
      sync.copy = "unknown";
      sync.reason = e.what();
    }
    return sync;
  };
  DaemonStatus d;
  d.program = "mirrord";
  d.pid = getpid();
  d.version = MIRRORFS_VERSION;
  d.time = wall_clock_ms();
  const int64_t now = steady_ms();
  const auto beats = heartbeat_->counters();
  for (const auto& [name, volume] : volumes_) {
    VolumeStatus s;
    s.volume = name;
    s.role = Role::mirror;
    s.directory = volume->directory;
    std::shared_ptr<Session> session;
    {
      std::lock_guard lock(volume->mutex);
      session = volume->session;
    }
    const auto heard = heartbeat_->heard_of(name);

    s.heartbeat.interval_ms = options_.heartbeat_interval_ms;
    s.heartbeat.timeout_ms = options_.heartbeat_timeout_ms;
    s.heartbeat.probation_ms = 0;  // the mirror side accepts connections whenever they come
    if (heard.last_ms) s.heartbeat.last_heard_age_ms = std::max<int64_t>(0, now - *heard.last_ms);
    // One UDP socket serves every volume: what it sent and dropped is the
    // daemon's; what it accepted is counted per volume.
    s.heartbeat.sent = beats.sent;
    s.heartbeat.received = heard.received;
    s.heartbeat.forged = beats.forged;
    s.heartbeat.replayed = beats.replayed;
    s.heartbeat.stale = beats.stale;

    if (session) {
      for (size_t i = 0; i < session->array.size(); ++i) {
        ConnectionElement& e = session->array[i];
        const ConnectionTraffic& t = session->traffic[i];
        ConnectionStatus c;
        c.index = static_cast<int>(i);
        c.state = is_open(e) ? ConnectionState::open : ConnectionState::closed;
        c.timestamp_age_ms = std::max<int64_t>(0, now - e.heartbeat_ms.load());
        c.in_flight = t.in_flight.load();
        c.bytes_sent = t.bytes_read.load();
        c.bytes_acked = t.bytes_acked.load();
        s.connections.push_back(c);
      }
    }

    VolumeMonitor& m = volume->monitor;
    s.counters.requests_sent = m.received.load();
    s.counters.requests_acked = m.acked.load();
    s.counters.requests_failed = m.failed.load();
    const uint64_t requests = s.counters.requests_acked + s.counters.requests_failed;
    const uint64_t bytes = m.answered_bytes.load();
    {
      std::lock_guard lock(m.mutex);
      s.peer = !heard.from.empty() ? heard.from : m.connected_from;
      s.link = m.link;
      s.link_since = m.link_since;
      s.last_error = m.last_error;
      s.counters.interruptions = m.interruptions;
      s.counters.reconnects = m.reconnects;
      s.throughput = throughput(m, now, requests, bytes);
    }
    s.sync = copy_state(*volume);
    d.volumes.push_back(std::move(s));
  }
  return d;
}

}  // namespace mirror
