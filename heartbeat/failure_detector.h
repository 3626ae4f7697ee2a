// The failure detector of one peer link: pure logic on injected times (ms of
// a steady clock), no threads, no clock of its own, no logging. Its owner
// feeds it every heartbeat heard (`heard`) and ticks it at least once per
// heartbeat interval (`tick`); it reports what the link's state means for
// the connections to a Listener. heartbeat/ knows nothing of connections:
// mirror/ closes or re-establishes them from these reports.
//
//                          heartbeat silent > timeout
//    connected ───────────────────────────────────────────► interrupted ◄── (start:
//       ▲   heard: refresh                                   │  ▲          never heard)
//       │                                     first heard:   │  │ silent > timeout
//       │                                  probation starts  ▼  │
//       └────────────────────────────────────────────────  probation ──┐
//         no gap > timeout for the whole probation          ▲           │ heard after a gap
//         (recovered)                                       └───────────┘ > timeout: restart
//
// The start state is LinkState::interrupted with ever_heard() false: a link
// never heard from is as good as interrupted, and is not reported as newly
// interrupted. From probation, a silence longer than the timeout reports
// `interrupted` again: the link never came back. A gap longer than the
// timeout counts even if no tick fell inside it: a heartbeat heard after such
// a gap interrupts a connected link (and starts probation) and restarts a
// probation in progress.
//
// Not thread-safe: one owner calls it, e.g. the HeartbeatReceiver's callbacks,
// which all run on the receiver thread.
#pragma once

#include <cstdint>

#include "heartbeat/link_state.h"

namespace heartbeat {

class FailureDetector {
 public:
  struct Config {
    int64_t interval_ms = 250;    // how often the peer sends
    int64_t timeout_ms = 1500;    // silence longer than this is an interruption
    int64_t probation_ms = 3000;  // gap-free heartbeats needed before recovery
    // Throws std::invalid_argument naming the option (heartbeat_interval,
    // heartbeat_timeout, probation) and what is wrong with it.
    void validate() const;
  };

  // Reports transitions. Called synchronously from heard() and tick().
  struct Listener {
    virtual ~Listener() = default;
    // Every heartbeat heard, in any state.
    virtual void heard(int64_t now_ms) = 0;
    // Silent for `silent_ms` > timeout: close the connections.
    virtual void interrupted(int64_t silent_ms) = 0;
    // Back after `probation_ms` of heartbeats without a gap: reconnect.
    virtual void recovered(int64_t probation_ms) = 0;
    // The first heartbeat after an interruption (or ever): probation starts.
    virtual void probation_started() {}
    // A gap of `gap_ms` > timeout during probation: probation starts over.
    virtual void probation_restarted(int64_t gap_ms) { (void)gap_ms; }
  };

  // Validates `config`; `listener` must outlive the detector.
  FailureDetector(Config config, Listener& listener);
  FailureDetector(const FailureDetector&) = delete;
  FailureDetector& operator=(const FailureDetector&) = delete;

  // A heartbeat from the peer arrived at `now_ms`.
  void heard(int64_t now_ms);
  // Time has passed: detect silence and the end of probation.
  void tick(int64_t now_ms);

  LinkState state() const { return state_; }
  bool ever_heard() const { return ever_heard_; }
  // When the last heartbeat was heard (meaningful once ever_heard()).
  int64_t last_heard_ms() const { return last_heard_ms_; }
  // When the current probation started (meaningful in probation).
  int64_t probation_start_ms() const { return probation_start_ms_; }
  const Config& config() const { return config_; }

 private:
  void start_probation(int64_t now_ms);
  void finish_probation_if_due(int64_t now_ms);

  const Config config_;
  Listener& listener_;
  LinkState state_ = LinkState::interrupted;
  bool ever_heard_ = false;
  int64_t last_heard_ms_ = 0;
  int64_t probation_start_ms_ = 0;
};

}  // namespace heartbeat
