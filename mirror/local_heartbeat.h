// The local server's side of the heartbeats (method, elements 3 to 5): sends
// the local heartbeat to the peer's mirrord, hears the mirror's, updates every
// element of the local connection array on each one heard, and tells its
// owner when the link is down (silent longer than the heartbeat timeout) and
// when it may be used again (heard without a gap for the probation
// interval). The very first contact after start needs no probation: there is
// no interruption to outlast yet. Internal to mirror/.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "heartbeat/heartbeat.h"
#include "mirror/connection_array.h"

namespace mirror {

struct LocalHeartbeatOptions {
  std::string volume;
  std::string peer_host;
  std::string peer_port;  // the UDP port of the peer's heartbeats
  int64_t interval_ms = 250;
  int64_t timeout_ms = 1500;
  int64_t probation_ms = 3000;
  std::span<const std::byte> secret;
};

class LocalHeartbeat final : public heartbeat::FailureDetector::Listener {
 public:
  // What the owner does about the link. Called on the heartbeat receiver
  // thread, one at a time.
  struct Link {
    virtual ~Link() = default;
    // Also called once if the peer was not heard within the timeout of start.
    virtual void link_down() = 0;
    virtual void link_up() = 0;
  };

  // Binds the UDP socket and resolves the peer; throws std::runtime_error
  // naming the option at fault.
  LocalHeartbeat(const LocalHeartbeatOptions& options, ConnectionArray& array, Link& link);
  ~LocalHeartbeat() override;

  void start();
  void stop();

  struct Status {
    heartbeat::LinkState state = heartbeat::LinkState::interrupted;
    bool ever_heard = false;
    int64_t last_heard_age_ms = -1;  // -1: never heard
    int64_t state_since_ms = 0;      // steady clock
    uint64_t sent = 0;
    heartbeat::HeartbeatReceiver::Counters received;
  };
  Status status() const;

 private:
  void heard(int64_t now_ms) override;
  void interrupted(int64_t silent_ms) override;
  void recovered(int64_t probation_ms) override;
  void probation_started() override;
  void probation_restarted(int64_t gap_ms) override;
  void set_state(heartbeat::LinkState state);
  void never_heard_check(int64_t now_ms);

  const LocalHeartbeatOptions options_;
  ConnectionArray& array_;
  Link& link_;
  std::string peer_;  // ADDR:PORT, for logs
  sockaddr_storage peer_address_{};
  std::unique_ptr<heartbeat::HeartbeatSocket> socket_;
  std::unique_ptr<heartbeat::FailureDetector> detector_;
  std::unique_ptr<heartbeat::HeartbeatSender> sender_;
  std::unique_ptr<heartbeat::HeartbeatReceiver> receiver_;
  bool up_ = false;               // the owner was told link_up (receiver thread only)
  bool seen_before_ = false;      // a probation has started before (receiver thread only)
  bool gave_up_waiting_ = false;  // told link_down without ever hearing (receiver thread only)
  int64_t started_ms_ = 0;
  std::atomic<int> state_{static_cast<int>(heartbeat::LinkState::interrupted)};
  std::atomic<int64_t> state_since_ms_{0};
  std::atomic<int64_t> last_heard_ms_{0};
  std::atomic<bool> ever_heard_{false};
};

}  // namespace mirror
