#include "mirror/peer_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "mirror/frame_io.h"

namespace mirror {
namespace {

constexpr int kConnectTimeoutMs = 3000;
constexpr int kHandshakeTimeoutMs = 5000;

// A TCP connection to host:port within the deadline, or -1 with `why` set.
int connect_to(const std::string& host, const std::string& port, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int r = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); r != 0) {
    why = gai_strerror(r);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = strerror(errno);
      close(fd);
      fd = -1;
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (poll(&p, 1, kConnectTimeoutMs) != 1) {
      why = "connection timed out";
      err = ETIMEDOUT;
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      why = strerror(err);
    }
    if (err != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    tune_socket(fd);
  }
  return fd;
}

}  // namespace

PeerConnection::PeerConnection(const LinkContext& link, ConnectionElement& element, size_t index,
                               size_t count)
    : link_(link), element_(element), index_(index), count_(count) {}

PeerConnection::~PeerConnection() { stop(); }

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
  if (fd >= 0) close(fd);
}

bool PeerConnection::connected() {
  std::lock_guard lock(mutex_);
  return element_.fd.load() >= 0 && !broken_;
}

void PeerConnection::submit(PendingPtr request) {
  {
    std::lock_guard lock(mutex_);
    to_send_.push_back(std::move(request));
  }
  changed_.notify_all();
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
  int fd = connect_to(element_.host, element_.port, why);
  std::string peer = element_.host + ":" + element_.port;
  if (fd < 0) {
    auto level = logged_failure_ ? spdlog::level::debug : spdlog::level::warn;
    spdlog::log(level, "volume {}: connection {} to {}: {}; retrying", link_.volume, index_ + 1,
                peer, why);
    logged_failure_ = true;
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
  if (ok && !same_proof(challenge.proof,
                        prove(*link_.secret, "mirrord", transcript, challenge.nonce))) {
    spdlog::error("volume {}: peer {} failed to prove the shared secret; nothing sent to it",
                  link_.volume, peer);
    close(fd);
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
    spdlog::error("volume {}: peer {} refused connection {} (wrong secret, or volume not "
                  "served there?)", link_.volume, peer, index_ + 1);
    close(fd);
    return -1;
  }
  logged_failure_ = false;
  spdlog::info("volume {}: connection {} of {} to {} established", link_.volume, index_ + 1,
               count_, peer);
  return fd;
}

void PeerConnection::send_loop() {
  std::string name = "worker-" + std::to_string(index_);
  pthread_setname_np(pthread_self(), name.c_str());
  auto backoff = std::chrono::milliseconds(100);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    changed_.wait(lock, [&] {
      return stopping_ || broken_ || element_.fd.load() < 0 || !to_send_.empty();
    });
    if (stopping_) break;
    if (broken_ || element_.fd.load() < 0) {
      int old = element_.fd.exchange(-1);
      if (old >= 0) close(old);
      // Unanswered requests go out again first, in their order.
      to_send_.insert(to_send_.begin(), awaiting_.begin(), awaiting_.end());
      awaiting_.clear();
      broken_ = false;
      lock.unlock();
      int fd = establish();
      lock.lock();
      if (fd < 0) {
        changed_.wait_for(lock, backoff, [&] { return stopping_; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        continue;
      }
      backoff = std::chrono::milliseconds(100);
      element_.fd = fd;
      ++generation_;
      changed_.notify_all();
      continue;
    }
    PendingPtr next = std::move(to_send_.front());
    to_send_.pop_front();
    awaiting_.push_back(next);
    int fd = element_.fd.load();
    lock.unlock();
    bool sent = write_frame(fd, next->frame);
    if (!sent) break_connection(fd);
    lock.lock();
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
        return stopping_ || (element_.fd.load() >= 0 && !broken_ && generation_ != seen);
      });
      if (stopping_) return;
      fd = element_.fd.load();
      generation = seen = generation_;
    }
    for (;;) {
      FrameRead r = read_frame(fd, payload, 500);
      if (r.status == IoStatus::timeout) {
        std::lock_guard lock(mutex_);
        if (stopping_ || broken_ || generation_ != generation) break;
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
        } else {
          fault = "response to request " + std::to_string(response.sequence) +
                  " that was not the next awaited";
        }
      }
      if (!fault.empty()) {
        bool quiet;
        {
          std::lock_guard lock(mutex_);
          quiet = stopping_;
        }
        if (!quiet) {
          spdlog::warn("volume {}: connection {}: {}; re-establishing", link_.volume, index_ + 1,
                       fault);
        }
        break_connection(fd);
        break;
      }
      link_.on_answer(answered, static_cast<int>(response.error));
    }
  }
}

}  // namespace mirror
