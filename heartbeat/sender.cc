// The heartbeat sender thread "hb-send": one signed datagram per target per
// heartbeat interval, on a steady schedule, until stop() wakes it.
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <ctime>

#include "heartbeat/datagram.h"
#include "heartbeat/heartbeat.h"

namespace heartbeat {
namespace {

uint64_t realtime_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace

HeartbeatSender::HeartbeatSender(HeartbeatSocket& socket, HeartbeatConfig config, Targets targets)
    : socket_(socket), config_(std::move(config)), targets_(std::move(targets)) {
  config_.validate();
  if (config_.identity == 0) config_.identity = random_identity();
}

HeartbeatSender::~HeartbeatSender() {
  stop();
}

void HeartbeatSender::start() {
  thread_ = std::thread([this] { run(); });
}

void HeartbeatSender::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HeartbeatSender::run() {
  pthread_setname_np(pthread_self(), "hb-send");
  spdlog::debug("heartbeat sender for link {} started on port {}: every {} ms, identity {:016x}",
                config_.link_name, socket_.port(), config_.interval_ms, config_.identity);
  const auto interval = std::chrono::milliseconds(config_.interval_ms);
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    send_round();
    lock.lock();
    // A steady schedule; after a stall (a stopped process) start afresh rather
    // than sending a burst to catch up.
    next += interval;
    if (auto now = std::chrono::steady_clock::now(); next < now) next = now + interval;
    wake_.wait_until(lock, next, [this] { return stopping_; });
  }
}

void HeartbeatSender::send_round() {
  std::vector<sockaddr_storage> targets;
  try {
    targets = targets_();
  } catch (const std::exception& e) {
    spdlog::error("heartbeat sender for link {}: no targets: {}", config_.link_name, e.what());
    return;
  }
  if (targets.empty()) return;
  Datagram d{.identity = config_.identity,
             .sequence = ++sequence_,
             .send_time_ms = realtime_ms(),
             .link = config_.link_name};
  const std::vector<std::byte> bytes = encode(d, config_.secret);
  for (const sockaddr_storage& to : targets) {
    const int error = socket_.send_to(bytes, to);
    const std::string peer = format_address(to);
    // One line when sending to a peer starts failing or recovers, not one per
    // interval while a network is down.
    int& last = last_errno_[peer];
    if (error != 0) {
      send_failures_.fetch_add(1, std::memory_order_relaxed);
      if (error != last) {
        spdlog::warn("link {}: cannot send heartbeat to {}: {}", config_.link_name, peer,
                     std::strerror(error));
      }
    } else {
      sent_.fetch_add(1, std::memory_order_relaxed);
      if (last != 0)
        spdlog::info("link {}: sending heartbeats to {} again", config_.link_name, peer);
    }
    last = error;
  }
  // Forget peers no longer targeted (the mirror side's sessions come and go);
  // the cost is at most one repeated warning per peer.
  if (last_errno_.size() > 2 * targets.size() + 16) last_errno_.clear();
}

}  // namespace heartbeat
