// The local replicator's link: whether its connections are up (the
// heartbeat's verdict and the operator's pause together), the operator's
// commands, and the status mirrorctl shows.
#include <spdlog/spdlog.h>

#include "mirror/connection_array.h"
#include "mirror/local_replicator_impl.h"

namespace mirror {

void LocalReplicator::record_error(const std::string& message) const {
  std::lock_guard lock(error_mutex_);
  last_error_ = ErrorStatus{message, wall_clock_ms()};
}

// The connections come up: the queue is replayed from the first request not
// acknowledged, before any new one.
void LocalReplicator::bring_up_locked() {
  if (link_up_ || stopped_ || !heartbeat_up_ || paused_) return;
  if (!agreed_) {
    // The copy's identity first (local_sync.cc): it decides what is sent.
    check_wanted_ = true;
    notify_changed();
    return;
  }
  connecting_ = false;
  link_up_ = true;
  live_ = false;
  ++epoch_;
  ++reconnects_;
  next_to_feed_ = acked_through_ + 1;
  notify_changed();
  for (auto& c : connections_) c->open();
}

// The connections go down: requests wait in the queue; sync callers are
// released as on_disconnect says. `lock` holds mutex_ and is held again on
// return.
void LocalReplicator::take_down(std::unique_lock<std::mutex>& lock) {
  const bool was_up = link_up_;
  connecting_ = false;
  link_up_ = false;
  agreed_ = false;
  check_wanted_ = false;
  recheck_wanted_ = false;
  live_ = false;
  ++epoch_;
  replay_until_ = 0;
  in_flight_.clear();
  in_flight_bytes_ = 0;
  notify_changed();
  if (was_up) {
    lock.unlock();
    spdlog::warn("link {}: connections closed; requests wait in the queue {}", options_.volume,
                 queue_dir_);
    for (auto& c : connections_) c->close();
    lock.lock();
  }
  release_waiters_locked(false);
}

void LocalReplicator::link_down() {
  std::unique_lock lock(mutex_);
  const bool first = connecting_ && !heartbeat_up_;
  if (!heartbeat_up_ && !first) return;
  if (heartbeat_up_) ++interruptions_;
  heartbeat_up_ = false;
  record_error(first ? "no heartbeat from the peer since start"
                     : "link interrupted: no heartbeat "
                       "from the peer");
  take_down(lock);
}

void LocalReplicator::link_up() {
  std::lock_guard lock(mutex_);
  heartbeat_up_ = true;
  bring_up_locked();
}

void LocalReplicator::pause(bool paused) {
  std::unique_lock lock(mutex_);
  if (paused_ == paused) return;
  paused_ = paused;
  spdlog::info("volume {}: {} by the operator", options_.volume,
               paused ? "paused: requests wait in the queue" : "resumed");
  if (paused) {
    take_down(lock);
  } else {
    bring_up_locked();
  }
}

void LocalReplicator::set_mode(Mode mode) {
  Mode old = mode_.exchange(mode);
  if (old != mode) {
    spdlog::info("volume {}: mode switched from {} to {} by the operator", options_.volume,
                 to_string(old), to_string(mode));
  }
}

std::optional<VolumeStatus> LocalReplicator::status() const {
  VolumeStatus v;
  v.volume = options_.volume;
  v.role = Role::local;
  v.mode = mode_.load();
  v.peer = options_.peer;
  v.mountpoint = options_.mountpoint;
  v.directory = options_.backing;
  const int64_t now = steady_ms();
  const int64_t wall = wall_clock_ms();
  LocalHeartbeat::Status hb = heartbeat_->status();
  v.heartbeat.interval_ms = options_.heartbeat_interval_ms;
  v.heartbeat.timeout_ms = options_.heartbeat_timeout_ms;
  v.heartbeat.probation_ms = options_.probation_ms;
  if (hb.last_heard_age_ms >= 0) v.heartbeat.last_heard_age_ms = hb.last_heard_age_ms;
  v.heartbeat.sent = hb.sent;
  v.heartbeat.received = hb.received.accepted;
  v.heartbeat.forged = hb.received.forged;
  v.heartbeat.replayed = hb.received.replayed;
  v.heartbeat.stale = hb.received.stale;
  v.link_since = wall - (now - hb.state_since_ms);
  uint64_t acked = 0;
  {
    std::lock_guard lock(mutex_);
    if (link_up_) {
      v.link = LinkState::connected;
    } else if (connecting_) {
      v.link = LinkState::connecting;
    } else if (hb.state == heartbeat::LinkState::probation) {
      v.link = LinkState::probation;
    } else if (hb.state == heartbeat::LinkState::connected) {
      v.link = paused_ ? LinkState::connected : LinkState::connecting;
    } else {
      v.link = LinkState::interrupted;
    }
    v.paused = paused_;
    v.counters.requests_queued = requests_queued_;
    v.counters.requests_acked = requests_acked_;
    v.counters.requests_failed = requests_failed_;
    v.counters.interruptions = interruptions_;
    v.counters.reconnects = reconnects_;
    acked = requests_acked_ + requests_failed_;
  }
  uint64_t bytes_acked = 0;
  for (size_t i = 0; i < connections_.size(); ++i) {
    PeerConnection::Stats s = connections_[i]->stats();
    ConnectionStatus c;
    c.index = static_cast<int>(i);
    c.state = s.open      ? ConnectionState::open
              : s.enabled ? ConnectionState::connecting
                          : ConnectionState::closed;
    int64_t heard = array_[i].heartbeat_ms.load();
    c.timestamp_age_ms = heard == 0 ? -1 : now - heard;
    c.in_flight = s.in_flight;
    c.bytes_sent = s.bytes_sent;
    c.bytes_acked = s.bytes_acked;
    v.counters.requests_sent += s.requests_sent;
    bytes_acked += s.bytes_acked;
    v.connections.push_back(c);
  }
  QueueStatus q;
  q.records = queue_->records();
  q.bytes = queue_->bytes();
  if (int64_t age = queue_->oldest_unacknowledged_age_ms(); age >= 0) q.oldest_age_ms = age;
  q.max_bytes = options_.queue_max;
  q.waiting_for_space = queue_->waiting_for_space() ? 1 : 0;
  v.queue = q;
  {
    std::lock_guard lock(sync_mutex_);
    SyncStatus sync = sync_status_;
    sync.copy = copy_inconsistent_.load() ? "inconsistent" : sync.copy;
    sync.generation = format_generation(identity_.generation);
    sync.dirty = dirty_->size();
    if (walk_progress_) {
      const SyncProgress& p = *walk_progress_;
      sync.files_done = p.files_done;
      sync.files_total = p.files_total;
      sync.bytes_done = p.bytes_done;
      sync.bytes_total = p.bytes_total;
      sync.bytes_repaired = p.bytes_repaired;
      sync.repairs = p.repairs;
      sync.differences = p.differences;
      const int64_t end = sync.finished != 0 ? sync.finished : wall;
      if (end > sync.started && sync.started != 0) {
        sync.bytes_per_s = double(sync.bytes_done) * 1000.0 / double(end - sync.started);
      }
      if (sync.finished == 0 && sync.bytes_per_s > 0 && sync.bytes_total >= sync.bytes_done) {
        sync.eta_s = static_cast<int64_t>(double(sync.bytes_total - sync.bytes_done) /
                                          sync.bytes_per_s);
      }
    }
    v.sync = sync;
  }
  std::lock_guard lock(error_mutex_);
  v.last_error = last_error_;
  // Throughput over the last few seconds, from samples taken at each status.
  samples_.emplace_back(now, acked, bytes_acked);
  while (samples_.size() > 2 && now - std::get<0>(samples_[1]) >= 5000) samples_.pop_front();
  const auto& [t0, r0, b0] = samples_.front();
  if (now > t0) {
    v.throughput.requests_per_s = static_cast<double>(acked - r0) * 1000.0 / double(now - t0);
    v.throughput.bytes_per_s = static_cast<double>(bytes_acked - b0) * 1000.0 / double(now - t0);
  }
  return v;
}

}  // namespace mirror
