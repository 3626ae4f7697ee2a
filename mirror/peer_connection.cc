#include "mirror/peer_connection.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "mirror/frame_io.h"

namespace mirror {
namespace {

constexpr int kConnectTimeoutMs = 3000;
constexpr int kHandshakeTimeoutMs = 5000;

}  // namespace

PeerConnection::PeerConnection(const LinkContext& link, ConnectionElement& element, size_t index,
                               size_t count)
    : link_(link), element_(element), index_(index), count_(count) {}

PeerConnection::~PeerConnection() {
  stop();
}

namespace {
// Larger frames (data) are left to the sender: the caller holds the
// replicator's locks while it writes.
constexpr size_t kInlineFrameBytes = 64 << 10;
}  // namespace

void PeerConnection::start() {
  sender_ = std::thread([this] { send_loop(); });
  receiver_ = std::thread([this] { receive_loop(); });
}

void PeerConnection::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !sender_.joinable()) return;
    stopping_ = true;
    int fd = element_.fd.load();
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
  }
  changed_.notify_all();
  if (sender_.joinable()) sender_.join();
  if (receiver_.joinable()) receiver_.join();
  int fd = element_.fd.exchange(-1);
  if (fd >= 0) ::close(fd);
}

void PeerConnection::open() {
  {
    std::lock_guard lock(mutex_);
    enabled_ = true;
  }
  changed_.notify_all();
}

void PeerConnection::close() {
  std::unique_lock lock(mutex_);
  enabled_ = false;
  if (int fd = element_.fd.load(); fd >= 0) shutdown(fd, SHUT_RDWR);
  changed_.notify_all();
  idle_.wait(lock, [&] { return !writing_; });
  to_send_.clear();
  awaiting_.clear();
  partial_.reset();
}

PeerConnection::Stats PeerConnection::stats() {
  std::lock_guard lock(mutex_);
  Stats s;
  s.open = element_.fd.load() >= 0 && !broken_;
  s.enabled = enabled_;
  s.in_flight = to_send_.size() + awaiting_.size();
  s.bytes_sent = bytes_sent_;
  s.bytes_acked = bytes_acked_;
  s.requests_sent = requests_sent_;
  return s;
}

bool PeerConnection::connected() {
  std::lock_guard lock(mutex_);
  return element_.fd.load() >= 0 && !broken_;
}

void PeerConnection::submit(PendingPtr request) {
  std::unique_lock lock(mutex_);
  const int fd = element_.fd.load();
  if (request->frame.size() > kInlineFrameBytes || !to_send_.empty() || partial_ || writing_ ||
      !enabled_ || broken_ || fd < 0 || stopping_) {
    to_send_.push_back(std::move(request));
    lock.unlock();
    changed_.notify_all();
    return;
  }
  // Awaited before it is written: the answer may come as soon as it is.
  awaiting_.push_back(request);
  writing_ = true;
  lock.unlock();
  const ssize_t reached = write_frame_from(fd, request->frame, 0, /*wait=*/false);
  lock.lock();
  const bool sender_has_work = !end_write_locked(fd, request, reached);
  lock.unlock();
  if (sender_has_work) changed_.notify_all();
}

bool PeerConnection::end_write_locked(int fd, const PendingPtr& request, ssize_t reached) {
  writing_ = false;
  idle_.notify_all();  // close() may be waiting for the write to end
  if (reached == static_cast<ssize_t>(request->frame.size())) {
    bytes_sent_ += request->frame.size();
    ++requests_sent_;
    return true;
  }
  if (reached >= 0) {
    partial_ = request;
    partial_offset_ = static_cast<size_t>(reached);
  } else if (element_.fd.load() == fd && !broken_) {
    broken_ = true;
    shutdown(fd, SHUT_RDWR);
  }
  return false;
}

void PeerConnection::break_connection(int fd) {
  std::lock_guard lock(mutex_);
  if (element_.fd.load() == fd && !broken_) {
    broken_ = true;
    shutdown(fd, SHUT_RDWR);
  }
  changed_.notify_all();
}

int PeerConnection::establish() {
  std::string why;
  int fd = connect_to(element_.host, element_.port, kConnectTimeoutMs, why);
  std::string peer = element_.host + ":" + element_.port;
  if (fd < 0) {
    auto level = logged_failure_ ? spdlog::level::debug : spdlog::level::warn;
    spdlog::log(level, "volume {}: connection {} to {}: {}; retrying", link_.volume, index_ + 1,
                peer, why);
    logged_failure_ = true;
    if (link_.on_error)
      link_.on_error("connection " + std::to_string(index_ + 1) + " to " + peer + ": " + why);
    return -1;
  }
  wire::Hello hello;
  hello.session = link_.session;
  hello.index = static_cast<uint16_t>(index_);
  hello.count = static_cast<uint16_t>(count_);
  hello.volume = link_.volume;
  hello.nonce = random_nonce();
  hello.resume_from = link_.resume_from();
  std::vector<std::byte> payload;
  wire::Challenge challenge;
  wire::Welcome welcome;
  auto transcript = wire::hello_transcript(hello);
  bool ok = write_frame(fd, wire::encode_hello(hello));
  FrameRead r;
  if (ok) r = read_frame(fd, payload, kHandshakeTimeoutMs, kHandshakeTimeoutMs);
  ok = ok && r.status == IoStatus::ok && r.header.type == wire::FrameType::challenge &&
       !wire::decode_challenge(payload, challenge);
  if (ok &&
      !same_proof(challenge.proof, prove(*link_.secret, "mirrord", transcript, challenge.nonce))) {
    spdlog::error("volume {}: peer {} failed to prove the shared secret; nothing sent to it",
                  link_.volume, peer);
    if (link_.on_error) link_.on_error("peer " + peer + " failed to prove the shared secret");
    ::close(fd);
    return -1;
  }
  if (ok) {
    wire::Auth auth{prove(*link_.secret, "mirrorfs", transcript, challenge.nonce)};
    ok = write_frame(fd, wire::encode_auth(auth));
  }
  if (ok) r = read_frame(fd, payload, kHandshakeTimeoutMs, kHandshakeTimeoutMs);
  ok = ok && r.status == IoStatus::ok && r.header.type == wire::FrameType::welcome &&
       !wire::decode_welcome(payload, welcome);
  if (!ok) {
    // Logged at error once per run of failures, then quietly while retrying.
    auto level = logged_failure_ ? spdlog::level::debug : spdlog::level::err;
    spdlog::log(level,
                "volume {}: peer {} ended connection {} during the handshake (wrong secret, or "
                "volume not served there? see mirrord's log); retrying",
                link_.volume, peer, index_ + 1);
    if (!logged_failure_ && link_.on_error) {
      link_.on_error("peer " + peer + " refused connection " + std::to_string(index_ + 1) +
                     " (wrong secret, or volume not served there?)");
    }
    logged_failure_ = true;
    ::close(fd);
    return -1;
  }
  logged_failure_ = false;
  spdlog::info("volume {}: connection {} of {} to {} established", link_.volume, index_ + 1, count_,
               peer);
  return fd;
}

// Closes the element's socket once the receiver no longer reads it (it was
// shut down, so the receiver leaves promptly): a socket number closed under
// a reader could be reused by the next connection and read by the wrong loop.
void PeerConnection::drop_socket(std::unique_lock<std::mutex>& lock) {
  int old = element_.fd.load();
  if (old < 0) return;
  shutdown(old, SHUT_RDWR);
  changed_.wait(lock, [&] { return receiving_fd_ != old; });
  element_.fd = -1;
  ::close(old);
}

void PeerConnection::send_loop() {
  std::string name = "worker-" + std::to_string(index_);
  pthread_setname_np(pthread_self(), name.c_str());
  auto backoff = std::chrono::milliseconds(100);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    changed_.wait(lock, [&] {
      return stopping_ || (!enabled_ && element_.fd.load() >= 0) ||
             (enabled_ && (broken_ || element_.fd.load() < 0 || !to_send_.empty() || partial_));
    });
    if (stopping_) break;
    if (!enabled_) {
      drop_socket(lock);
      broken_ = false;
      partial_.reset();
      continue;
    }
    if (broken_ || element_.fd.load() < 0) {
      drop_socket(lock);
      // Unanswered requests go out again first, in their order (a partly
      // written one whole).
      to_send_.insert(to_send_.begin(), awaiting_.begin(), awaiting_.end());
      awaiting_.clear();
      partial_.reset();
      broken_ = false;
      lock.unlock();
      int fd = establish();
      lock.lock();
      if (fd >= 0 && !enabled_) {
        ::close(fd);  // closed meanwhile
        continue;
      }
      if (fd < 0) {
        changed_.wait_for(lock, backoff, [&] { return stopping_ || !enabled_; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        continue;
      }
      backoff = std::chrono::milliseconds(100);
      element_.fd = fd;
      ++generation_;
      changed_.notify_all();
      continue;
    }
    PendingPtr next;
    size_t offset = 0;
    if (partial_) {
      next = std::move(partial_);
      offset = partial_offset_;
    } else {
      next = std::move(to_send_.front());
      to_send_.pop_front();
      awaiting_.push_back(next);
    }
    int fd = element_.fd.load();
    writing_ = true;
    lock.unlock();
    const ssize_t reached = write_frame_from(fd, next->frame, offset, /*wait=*/true);
    lock.lock();
    end_write_locked(fd, next, reached);  // a blocking write ends whole or failed
  }
}

void PeerConnection::receive_loop() {
  std::string name = "resp-" + std::to_string(index_);
  pthread_setname_np(pthread_self(), name.c_str());
  std::vector<std::byte> payload;
  uint64_t seen = 0;
  for (;;) {
    int fd;
    uint64_t generation;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] {
        return stopping_ ||
               (enabled_ && element_.fd.load() >= 0 && !broken_ && generation_ != seen);
      });
      if (stopping_) return;
      fd = receiving_fd_ = element_.fd.load();
      generation = seen = generation_;
    }
    for (;;) {
      FrameRead r = read_frame(fd, payload, 500);
      if (r.status == IoStatus::timeout) {
        std::lock_guard lock(mutex_);
        if (stopping_ || broken_ || !enabled_ || generation_ != generation) break;
        continue;
      }
      wire::Response response;
      std::string fault = r.fault;
      if (r.status == IoStatus::ok && r.header.type != wire::FrameType::response) {
        fault = "unexpected frame type " + std::to_string(static_cast<int>(r.header.type));
      } else if (r.status == IoStatus::ok) {
        if (auto f = wire::decode_response(r.header, payload, response)) fault = *f;
      } else if (r.status == IoStatus::closed) {
        fault = "closed by the peer";
      }
      PendingPtr answered;
      if (fault.empty()) {
        std::lock_guard lock(mutex_);
        if (!awaiting_.empty() && awaiting_.front()->sequence == response.sequence) {
          answered = std::move(awaiting_.front());
          awaiting_.pop_front();
          bytes_acked_ += answered->frame.size();
        } else {
          fault = "response to request " + std::to_string(response.sequence) +
                  " that was not the next awaited";
        }
      }
      if (!fault.empty()) {
        bool quiet;
        {
          std::lock_guard lock(mutex_);
          quiet = stopping_ || !enabled_;
        }
        if (!quiet) {
          spdlog::warn("volume {}: connection {}: {}; re-establishing", link_.volume, index_ + 1,
                       fault);
        }
        // Closed or reset under us: whatever comes next may be another mirrord.
        if (!quiet && r.status != IoStatus::ok && link_.on_peer_closed) link_.on_peer_closed();
        break_connection(fd);
        break;
      }
      link_.on_answer(answered, static_cast<int>(response.error));
    }
    {
      std::lock_guard lock(mutex_);
      receiving_fd_ = -1;
    }
    changed_.notify_all();
  }
}

}  // namespace mirror
