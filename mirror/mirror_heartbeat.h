// mirrord's heartbeats (method elements 3 and 4, mirror side), internal to
// mirror/: a UDP socket on the port mirrord listens on, a receiver thread
// "hb-recv" and a sender thread "hb-send" from heartbeat/.
//
// - A heartbeat whose link name is a served volume updates that volume's
//   "last heard" time and every element timestamp of its current session's
//   mirror connection array, and makes its source address a target.
// - The sender (link name "mirrord") sends every interval to every source
//   address heard within the last minute.
// - On every receiver tick, an element of a connection whose timestamp is
//   older than the heartbeat timeout is marked closed; its connection thread
//   ends once idle for the request timeout (mirror_server.cc).
//
// - After each tick, Config::on_tick runs on the receiver thread (mirrord's
//   link states move there).
//
// Lock order: the with_array callback takes a volume's lock; the targets
// lock is never held while calling it. heard_of() and counters() take only
// short locks of their own and may be called from any thread.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "heartbeat/heartbeat.h"
#include "mirror/connection_array.h"

namespace mirror {

class MirrorHeartbeat {
 public:
  // Calls `visit` with the connection array of the current session of
  // `volume`, under the volume's lock, if it has one.
  using WithArray = std::function<void(const std::string& volume,
                                       const std::function<void(MirrorConnectionArray&)>& visit)>;

  struct Config {
    std::string address;  // "ADDR:PORT" (numeric) to bind the UDP socket to
    int64_t interval_ms = 250;
    int64_t timeout_ms = 1500;
    std::vector<std::byte> secret;
    std::vector<std::string> volumes;             // the served volumes' names
    std::function<void(int64_t now_ms)> on_tick;  // optional; receiver thread
  };

  // What the receiver knows of one volume's local server.
  struct Heard {
    std::optional<int64_t> last_ms;  // steady clock; nullopt: never heard
    std::string from;                // "ADDR:PORT" of its last heartbeat; "" if none
    uint64_t received = 0;           // heartbeats accepted for this volume
  };
  // The socket's counters: one socket serves every volume, and a datagram
  // dropped as forged, replayed or stale cannot be told apart by volume.
  struct Counters {
    uint64_t sent = 0;
    uint64_t accepted = 0;
    uint64_t forged = 0;
    uint64_t replayed = 0;
    uint64_t stale = 0;
  };

  // Binds the socket; throws std::runtime_error naming the address.
  MirrorHeartbeat(Config config, WithArray with_array);
  ~MirrorHeartbeat();  // stop()
  MirrorHeartbeat(const MirrorHeartbeat&) = delete;
  MirrorHeartbeat& operator=(const MirrorHeartbeat&) = delete;

  uint16_t port() const { return socket_.port(); }
  void start();  // once
  // Stops and joins both threads; returns promptly.
  void stop();

  // Datagrams, authentic but for a volume not served, so far.
  uint64_t unknown_volume() const { return unknown_volume_.load(); }
  // From any thread; a volume not served gives an empty Heard.
  Heard heard_of(const std::string& volume) const;
  Counters counters() const;

 private:
  struct VolumeState {                      // written by the receiver thread
    std::atomic<int64_t> last_heard_ms{0};  // 0: never
    std::atomic<uint64_t> received{0};
    bool silent = false;  // "no heartbeat" was logged, "again" not yet; receiver only
    std::string from;     // guarded by heard_mutex_
  };
  struct Target {
    sockaddr_storage address{};
    int64_t heard_ms = 0;
  };

  void heard(std::string_view link, const sockaddr_storage& from, int64_t now_ms);
  void tick(int64_t now_ms);
  std::vector<sockaddr_storage> targets();

  const Config config_;
  const WithArray with_array_;
  heartbeat::HeartbeatSocket socket_;
  // Its keys are fixed at construction; see VolumeState for its values.
  std::map<std::string, VolumeState, std::less<>> volumes_;
  mutable std::mutex heard_mutex_;         // guards VolumeState::from
  std::mutex targets_mutex_;               // guards targets_
  std::map<std::string, Target> targets_;  // by "ADDR:PORT"
  std::atomic<uint64_t> unknown_volume_{0};
  std::unique_ptr<heartbeat::HeartbeatReceiver> receiver_;
  std::unique_ptr<heartbeat::HeartbeatSender> sender_;
};

}  // namespace mirror
