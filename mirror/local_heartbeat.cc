#include "mirror/local_heartbeat.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace mirror {

LocalHeartbeat::LocalHeartbeat(const LocalHeartbeatOptions& options, ConnectionArray& array,
                               Link& link)
    : options_(options), array_(array), link_(link) {
  const bool ipv6 = options.peer_host.find(':') != std::string::npos;
  try {
    peer_address_ = heartbeat::parse_address(
        (ipv6 ? "[" + options.peer_host + "]" : options.peer_host) + ":" + options.peer_port);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("-o peer=" + options.peer_host + ": " + e.what());
  }
  peer_ = heartbeat::format_address(peer_address_);
  heartbeat::HeartbeatConfig config;
  config.interval_ms = options.interval_ms;
  config.timeout_ms = options.timeout_ms;
  config.probation_ms = options.probation_ms;
  config.secret.assign(options.secret.begin(), options.secret.end());
  config.link_name = options.volume;
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("-o ") + e.what());
  }
  socket_ = std::make_unique<heartbeat::HeartbeatSocket>(
      peer_address_.ss_family == AF_INET6 ? "[::]:0" : "0.0.0.0:0");
  detector_ = std::make_unique<heartbeat::FailureDetector>(config.detector(), *this);
  sender_ = std::make_unique<heartbeat::HeartbeatSender>(
      *socket_, config, [this] { return std::vector<sockaddr_storage>{peer_address_}; });
  receiver_ = std::make_unique<heartbeat::HeartbeatReceiver>(
      *socket_, config,
      [this](uint64_t, std::string_view, const sockaddr_storage&, int64_t now) {
        detector_->heard(now);
      },
      [this](int64_t now) {
        detector_->tick(now);
        never_heard_check(now);
      });
  state_since_ms_ = heartbeat::steady_ms();
}

LocalHeartbeat::~LocalHeartbeat() {
  stop();
}

// The detector reports nothing for a peer never heard; the owner still needs
// to know, once, that it is not coming within the timeout.
void LocalHeartbeat::never_heard_check(int64_t now_ms) {
  if (seen_before_ || gave_up_waiting_ || now_ms - started_ms_ <= options_.timeout_ms) return;
  gave_up_waiting_ = true;
  spdlog::warn("link {}: no heartbeat from {} within {} ms of start; requests wait in the queue",
               options_.volume, peer_, options_.timeout_ms);
  link_.link_down();
}

void LocalHeartbeat::start() {
  started_ms_ = heartbeat::steady_ms();
  spdlog::info("link {}: heartbeats every {} ms to {} (timeout {} ms, probation {} ms)",
               options_.volume, options_.interval_ms, peer_, options_.timeout_ms,
               options_.probation_ms);
  receiver_->start();
  sender_->start();
}

void LocalHeartbeat::stop() {
  if (sender_) sender_->stop();
  if (receiver_) receiver_->stop();
}

LocalHeartbeat::Status LocalHeartbeat::status() const {
  Status s;
  s.state = static_cast<heartbeat::LinkState>(state_.load());
  s.ever_heard = ever_heard_.load();
  s.last_heard_age_ms = s.ever_heard ? heartbeat::steady_ms() - last_heard_ms_.load() : -1;
  s.state_since_ms = state_since_ms_.load();
  s.sent = sender_->sent();
  s.received = receiver_->counters();
  return s;
}

void LocalHeartbeat::set_state(heartbeat::LinkState state) {
  state_ = static_cast<int>(state);
  state_since_ms_ = heartbeat::steady_ms();
}

void LocalHeartbeat::heard(int64_t now_ms) {
  last_heard_ms_ = now_ms;
  ever_heard_ = true;
  array_.heard_heartbeat(now_ms);
}

void LocalHeartbeat::interrupted(int64_t silent_ms) {
  set_state(heartbeat::LinkState::interrupted);
  spdlog::warn("link {} interrupted: no heartbeat from {} for {} ms", options_.volume, peer_,
               silent_ms);
  if (up_) {
    up_ = false;
    link_.link_down();
  }
}

void LocalHeartbeat::probation_started() {
  if (!seen_before_) {
    // First contact since start: nothing to outlast, connect at once.
    seen_before_ = true;
    set_state(heartbeat::LinkState::connected);
    spdlog::info("link {}: heartbeat from {} heard; connecting", options_.volume, peer_);
    up_ = true;
    link_.link_up();
    return;
  }
  set_state(heartbeat::LinkState::probation);
  spdlog::info("link {}: heartbeat from {} heard; probation of {} ms started", options_.volume,
               peer_, options_.probation_ms);
}

void LocalHeartbeat::probation_restarted(int64_t gap_ms) {
  spdlog::info("link {}: probation restarted after a gap of {} ms", options_.volume, gap_ms);
}

void LocalHeartbeat::recovered(int64_t probation_ms) {
  if (up_) return;  // the first contact, already connected
  set_state(heartbeat::LinkState::connected);
  spdlog::info("link {} recovered after {} ms of probation: re-establishing {} connection(s)",
               options_.volume, probation_ms, array_.size());
  up_ = true;
  link_.link_up();
}

}  // namespace mirror
