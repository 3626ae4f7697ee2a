// The heartbeat library's public face (method element 3): a UDP socket, a
// sender thread ("hb-send") that sends a signed datagram (datagram.h) to each
// current target every heartbeat interval, and a receiver thread ("hb-recv")
// that believes only authentic, fresh datagrams and reports each as "heard
// from peer at t", plus a tick at least every interval. Callers own the
// FailureDetectors (failure_detector.h) they drive from those reports; this
// library knows nothing of connections.
//
// Logging: the library logs (spdlog) what only it sees: socket errors and
// dropped datagrams, with the peer's address. Link state changes are logged by
// the owner of the FailureDetector, who knows what they mean, in the form
//   link VOL interrupted: no heartbeat from 127.0.0.1:7400 for 1512 ms
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "heartbeat/failure_detector.h"

namespace heartbeat {

struct HeartbeatConfig {
  int64_t interval_ms = 250;
  int64_t timeout_ms = 1500;
  int64_t probation_ms = 3000;
  std::vector<std::byte> secret;  // the link's shared secret
  // This sender's id; 0: a random one. One per sender: two senders sharing
  // an id would have each other's datagrams dropped as replays.
  uint64_t identity = 0;
  std::string link_name;  // the volume, sent in every datagram
  // Drop datagrams whose send time is further than this from our
  // CLOCK_REALTIME (counted as stale); 0 = off. Needs synchronised clocks;
  // the sequence number already refuses replays within a receiver's life.
  int64_t max_age_ms = 0;

  // Throws std::invalid_argument naming the bad option.
  void validate() const;
  FailureDetector::Config detector() const { return {interval_ms, timeout_ms, probation_ms}; }
};

// Milliseconds of the steady clock: the time base of every heartbeat report.
int64_t steady_ms();

// "ADDR:PORT" (IPv4 address or name, or "[IPv6]:PORT") to a socket address.
// Throws std::invalid_argument with a sentence naming the text.
sockaddr_storage parse_address(std::string_view address_port);
// "127.0.0.1:7400" or "[::1]:7400".
std::string format_address(const sockaddr_storage& address);

// A UDP socket bound to ADDR:PORT (port 0: an ephemeral one). A sender and a
// receiver may share it, so that a peer's heartbeats are answered from the
// port it sends to. Throws std::runtime_error if it cannot be bound.
class HeartbeatSocket {
 public:
  explicit HeartbeatSocket(std::string_view address_port);
  ~HeartbeatSocket();
  HeartbeatSocket(const HeartbeatSocket&) = delete;
  HeartbeatSocket& operator=(const HeartbeatSocket&) = delete;

  int fd() const { return fd_; }
  uint16_t port() const;
  const sockaddr_storage& local_address() const { return local_; }
  // Sends one datagram without blocking; 0 or an errno.
  int send_to(std::span<const std::byte> datagram, const sockaddr_storage& to) const;

 private:
  int fd_ = -1;
  sockaddr_storage local_{};
};

// Sends a heartbeat to each of targets() every interval, from its own thread
// "hb-send". The first round goes out at start().
class HeartbeatSender {
 public:
  using Targets = std::function<std::vector<sockaddr_storage>()>;

  // Validates `config`; `socket` must outlive the sender.
  HeartbeatSender(HeartbeatSocket& socket, HeartbeatConfig config, Targets targets);
  ~HeartbeatSender();  // stop()
  HeartbeatSender(const HeartbeatSender&) = delete;
  HeartbeatSender& operator=(const HeartbeatSender&) = delete;

  void start();  // once
  // Wakes the thread and joins it; returns promptly, whatever the interval.
  void stop();

  uint64_t identity() const { return config_.identity; }
  uint64_t sent() const { return sent_.load(); }                    // datagrams sent
  uint64_t send_failures() const { return send_failures_.load(); }  // sendto errors

 private:
  void run();
  void send_round();

  HeartbeatSocket& socket_;
  HeartbeatConfig config_;
  Targets targets_;
  uint64_t sequence_ = 0;                  // owned by the sender thread
  std::map<std::string, int> last_errno_;  // per target; owned by the sender thread
  std::atomic<uint64_t> sent_{0}, send_failures_{0};

  std::mutex mutex_;  // guards stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// Receives heartbeats on its own thread "hb-recv". Both callbacks run on that
// thread, one at a time, so a FailureDetector they drive needs no lock.
class HeartbeatReceiver {
 public:
  // An authentic datagram from `identity` for link `link`, fresher than any
  // before it from that identity, arrived from `from` at steady `now_ms`.
  using OnHeard = std::function<void(uint64_t identity, std::string_view link,
                                     const sockaddr_storage& from, int64_t now_ms)>;
  // Called at least once per interval, heard or not.
  using OnTick = std::function<void(int64_t now_ms)>;

  struct Counters {
    uint64_t received = 0;   // datagrams read from the socket
    uint64_t accepted = 0;   // reported through on_heard
    uint64_t forged = 0;     // well-formed, bad HMAC
    uint64_t replayed = 0;   // sequence not above the last accepted from its sender
    uint64_t stale = 0;      // send time further than max_age_ms from our clock
    uint64_t malformed = 0;  // not a heartbeat datagram at all
  };

  // Validates `config` (its secret and max_age_ms are used); `socket` must
  // outlive the receiver.
  HeartbeatReceiver(HeartbeatSocket& socket, HeartbeatConfig config, OnHeard on_heard,
                    OnTick on_tick);
  ~HeartbeatReceiver();  // stop()
  HeartbeatReceiver(const HeartbeatReceiver&) = delete;
  HeartbeatReceiver& operator=(const HeartbeatReceiver&) = delete;

  void start();  // once
  // Wakes the thread (through an eventfd) and joins it; returns promptly.
  void stop();

  Counters counters() const;

 private:
  void run();
  void receive_one(std::span<const std::byte> bytes, const sockaddr_storage& from);
  void drop(std::atomic<uint64_t>& counter, const char* kind, const sockaddr_storage& from,
            const std::string& why);

  HeartbeatSocket& socket_;
  HeartbeatConfig config_;
  OnHeard on_heard_;
  OnTick on_tick_;
  int wake_fd_ = -1;  // eventfd: stop() writes, the thread polls it
  std::map<uint64_t, std::pair<uint64_t, int64_t>> last_;  // identity -> (sequence, heard at);
                                                           // owned by the receiver thread
  std::atomic<uint64_t> received_{0}, accepted_{0}, forged_{0}, replayed_{0}, stale_{0},
      malformed_{0};
  std::thread thread_;
};

}  // namespace heartbeat
