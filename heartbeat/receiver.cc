// The heartbeat receiver thread "hb-recv": reads datagrams, believes only the
// authentic and fresh ones, reports each as heard, and ticks at least every
// interval so that failure detectors notice silence.
#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "heartbeat/datagram.h"
#include "heartbeat/heartbeat.h"

namespace heartbeat {
namespace {

// Senders remembered for replay detection. Only authentic datagrams add one,
// so only holders of the secret can grow the table; beyond this, the sender
// heard from longest ago is forgotten.
constexpr size_t kMaxSenders = 1024;
// Datagrams read per wake-up before ticking is considered again.
constexpr int kBurst = 64;

int64_t realtime_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

HeartbeatReceiver::HeartbeatReceiver(HeartbeatSocket& socket, HeartbeatConfig config,
                                     OnHeard on_heard, OnTick on_tick)
    : socket_(socket),
      config_(std::move(config)),
      on_heard_(std::move(on_heard)),
      on_tick_(std::move(on_tick)) {
  config_.validate();
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    throw std::runtime_error(std::string("heartbeat receiver: eventfd: ") + std::strerror(errno));
  }
}

HeartbeatReceiver::~HeartbeatReceiver() {
  stop();
  ::close(wake_fd_);
}

void HeartbeatReceiver::start() {
  thread_ = std::thread([this] { run(); });
}

void HeartbeatReceiver::stop() {
  uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0 && errno != EAGAIN) {
    spdlog::error("heartbeat receiver: cannot wake its thread: {}", std::strerror(errno));
  }
  if (thread_.joinable()) thread_.join();
}

HeartbeatReceiver::Counters HeartbeatReceiver::counters() const {
  return {received_.load(), accepted_.load(), forged_.load(),
          replayed_.load(), stale_.load(),    malformed_.load()};
}

void HeartbeatReceiver::run() {
  pthread_setname_np(pthread_self(), "hb-recv");
  spdlog::debug("heartbeat receiver listening on {}", format_address(socket_.local_address()));
  std::vector<std::byte> buffer(kMaxDatagram + 1);  // one more, to see oversized datagrams
  int64_t next_tick = steady_ms();
  for (;;) {
    int64_t now = steady_ms();
    if (now >= next_tick) {
      try {
        on_tick_(now);
      } catch (const std::exception& e) {
        spdlog::error("heartbeat receiver: tick failed: {}", e.what());
      }
      next_tick = now + config_.interval_ms;
    }
    pollfd fds[2] = {{socket_.fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int timeout = static_cast<int>(std::max<int64_t>(0, next_tick - steady_ms()));
    if (::poll(fds, 2, timeout) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("heartbeat receiver: poll: {}; stopping", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;  // stop()
    if (fds[0].revents == 0) continue;
    for (int i = 0; i < kBurst; ++i) {
      sockaddr_storage from{};
      socklen_t from_length = sizeof from;
      ssize_t n = ::recvfrom(socket_.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC,
                             reinterpret_cast<sockaddr*>(&from), &from_length);
      if (n < 0) {
        // ECONNREFUSED & co.: an ICMP error for an earlier send; not fatal.
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          spdlog::debug("heartbeat receiver: recvfrom: {}", std::strerror(errno));
          continue;
        }
        break;
      }
      // With MSG_TRUNC, n is the datagram's real length, which may exceed the
      // buffer; decode sees the first kMaxDatagram + 1 bytes and refuses them.
      const size_t length = std::min(static_cast<size_t>(n), buffer.size());
      receive_one(std::span(buffer).first(length), from);
    }
  }
}

void HeartbeatReceiver::receive_one(std::span<const std::byte> bytes,
                                    const sockaddr_storage& from) {
  received_.fetch_add(1, std::memory_order_relaxed);
  Datagram d;
  Fault fault{};
  if (auto why = decode(bytes, config_.secret, d, &fault)) {
    if (fault == Fault::forged) {
      drop(forged_, "forged", from, *why);
    } else {
      drop(malformed_, "malformed", from, *why);
    }
    return;
  }
  const int64_t now = steady_ms();
  auto it = last_.find(d.identity);
  if (it != last_.end() && d.sequence <= it->second.first) {
    drop(replayed_, "replayed", from,
         fmt::format("replayed heartbeat datagram: sequence {} of sender {:016x} is not above {}, "
                     "the last accepted",
                     d.sequence, d.identity, it->second.first));
    return;
  }
  if (config_.max_age_ms > 0) {
    const int64_t age = realtime_ms() - static_cast<int64_t>(d.send_time_ms);
    if (age > config_.max_age_ms || -age > config_.max_age_ms) {
      drop(stale_, "stale", from,
           fmt::format(
               "stale heartbeat datagram: sent {} ms ago by our clock, more than {} ms either way",
               age, config_.max_age_ms));
      return;
    }
  }
  if (it == last_.end() && last_.size() >= kMaxSenders) {
    auto oldest = last_.begin();
    for (auto j = last_.begin(); j != last_.end(); ++j) {
      if (j->second.second < oldest->second.second) oldest = j;
    }
    last_.erase(oldest);
  }
  last_[d.identity] = {d.sequence, now};
  accepted_.fetch_add(1, std::memory_order_relaxed);
  try {
    on_heard_(d.identity, d.link, from, now);
  } catch (const std::exception& e) {
    spdlog::error("heartbeat receiver: handling a heartbeat from {} failed: {}",
                  format_address(from), e.what());
  }
}

// Counts a dropped datagram, and logs it when the count of its kind is a
// power of two: the first ones are visible, a flood is not a log flood.
void HeartbeatReceiver::drop(std::atomic<uint64_t>& counter, const char* kind,
                             const sockaddr_storage& from, const std::string& why) {
  const uint64_t count = counter.fetch_add(1, std::memory_order_relaxed) + 1;
  if (std::has_single_bit(count)) {
    spdlog::warn("heartbeat: dropped a datagram from {} ({} {} so far): {}", format_address(from),
                 count, kind, why);
  }
}

}  // namespace heartbeat
