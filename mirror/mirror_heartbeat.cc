// mirrord's heartbeat receiver and sender, and the marking of the mirror
// connection array's elements as closed (see mirror_heartbeat.h).
#include "mirror/mirror_heartbeat.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace mirror {
namespace {

// The sender answers a local server for this long after last hearing it.
constexpr int64_t kTargetLifetimeMs = 60000;
// The link name of mirrord's own datagrams.
constexpr const char* kSenderName = "mirrord";

heartbeat::HeartbeatConfig heartbeat_config(const MirrorHeartbeat::Config& c) {
  heartbeat::HeartbeatConfig h;
  h.interval_ms = c.interval_ms;
  h.timeout_ms = c.timeout_ms;
  h.probation_ms = 0;  // the mirror side has none: it accepts connections whenever they come
  h.secret = c.secret;
  h.link_name = kSenderName;
  return h;
}

}  // namespace

MirrorHeartbeat::MirrorHeartbeat(Config config, WithArray with_array)
    : config_(std::move(config)), with_array_(std::move(with_array)), socket_(config_.address) {
  for (const auto& v : config_.volumes) volumes_[v];
  auto hb = heartbeat_config(config_);
  receiver_ = std::make_unique<heartbeat::HeartbeatReceiver>(
      socket_, hb,
      [this](uint64_t, std::string_view link, const sockaddr_storage& from, int64_t now) {
        heard(link, from, now);
      },
      [this](int64_t now) { tick(now); });
  sender_ = std::make_unique<heartbeat::HeartbeatSender>(socket_, hb, [this] { return targets(); });
}

MirrorHeartbeat::~MirrorHeartbeat() {
  stop();
}

void MirrorHeartbeat::start() {
  receiver_->start();
  sender_->start();
  spdlog::info("heartbeats on UDP {} every {} ms; timeout {} ms",
               heartbeat::format_address(socket_.local_address()), config_.interval_ms,
               config_.timeout_ms);
}

void MirrorHeartbeat::stop() {
  sender_->stop();
  receiver_->stop();
}

void MirrorHeartbeat::heard(std::string_view link, const sockaddr_storage& from, int64_t now_ms) {
  auto it = volumes_.find(link);
  if (it == volumes_.end()) {
    const uint64_t count = unknown_volume_.fetch_add(1) + 1;
    spdlog::debug(
        "heartbeat from {} for volume '{}', which this mirrord does not serve ({} so far)",
        heartbeat::format_address(from), link, count);
    return;
  }
  VolumeState& volume = it->second;
  const std::string address = heartbeat::format_address(from);
  {
    std::lock_guard lock(heard_mutex_);
    volume.from = address;
  }
  volume.last_heard_ms = now_ms;
  volume.received.fetch_add(1, std::memory_order_relaxed);
  with_array_(it->first, [&](MirrorConnectionArray& array) { array.heard_heartbeat(now_ms); });
  if (volume.silent) {
    volume.silent = false;
    spdlog::info("volume {}: heartbeat from the local server at {} again", it->first, address);
  }
  std::lock_guard lock(targets_mutex_);
  auto [target, added] = targets_.try_emplace(address);
  if (added) spdlog::debug("volume {}: answering heartbeats of {}", it->first, address);
  target->second.address = from;
  target->second.heard_ms = now_ms;
}

void MirrorHeartbeat::tick(int64_t now_ms) {
  for (auto& [name, volume] : volumes_) {
    size_t marked = 0;
    int64_t silent_ms = 0;
    with_array_(name, [&](MirrorConnectionArray& array) {
      for (size_t i = 0; i < array.size(); ++i) {
        ConnectionElement& e = array[i];
        if (e.fd.load() < 0 || e.closed.load()) continue;
        const int64_t age = now_ms - e.heartbeat_ms.load(std::memory_order_relaxed);
        if (age <= config_.timeout_ms) continue;
        e.closed = true;
        ++marked;
        silent_ms = std::max(silent_ms, age);
      }
    });
    if (marked > 0 && !volume.silent) {
      volume.silent = true;
      spdlog::info(
          "volume {}: no heartbeat from the local server for {} ms; connections marked "
          "closed",
          name, silent_ms);
    }
  }
  if (config_.on_tick) config_.on_tick(now_ms);
}

MirrorHeartbeat::Heard MirrorHeartbeat::heard_of(const std::string& volume) const {
  Heard h;
  auto it = volumes_.find(volume);
  if (it == volumes_.end()) return h;
  if (int64_t last = it->second.last_heard_ms.load(); last != 0) h.last_ms = last;
  h.received = it->second.received.load(std::memory_order_relaxed);
  std::lock_guard lock(heard_mutex_);
  h.from = it->second.from;
  return h;
}

MirrorHeartbeat::Counters MirrorHeartbeat::counters() const {
  const auto r = receiver_->counters();
  Counters c;
  c.sent = sender_->sent();
  c.accepted = r.accepted;
  c.forged = r.forged;
  c.replayed = r.replayed;
  c.stale = r.stale;
  return c;
}

std::vector<sockaddr_storage> MirrorHeartbeat::targets() {
  const int64_t now = heartbeat::steady_ms();
  std::lock_guard lock(targets_mutex_);
  std::vector<sockaddr_storage> out;
  for (auto it = targets_.begin(); it != targets_.end();) {
    if (now - it->second.heard_ms > kTargetLifetimeMs) {
      spdlog::debug("no heartbeat from {} for a minute; no longer answering it", it->first);
      it = targets_.erase(it);
    } else {
      out.push_back(it->second.address);
      ++it;
    }
  }
  return out;
}

}  // namespace mirror
