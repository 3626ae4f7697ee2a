// The failure detector's transitions (see the drawing in failure_detector.h).
#include "heartbeat/failure_detector.h"

#include <stdexcept>
#include <string>

namespace heartbeat {

void FailureDetector::Config::validate() const {
  auto ms = [](int64_t v) { return std::to_string(v) + " ms"; };
  if (interval_ms <= 0) {
    throw std::invalid_argument("heartbeat_interval must be positive, not " + ms(interval_ms));
  }
  if (timeout_ms <= interval_ms) {
    throw std::invalid_argument("heartbeat_timeout (" + ms(timeout_ms) +
                                ") must be longer than heartbeat_interval (" + ms(interval_ms) +
                                "), or every heartbeat would be late");
  }
  if (probation_ms < 0) {
    throw std::invalid_argument("probation must not be negative, not " + ms(probation_ms));
  }
}

FailureDetector::FailureDetector(Config config, Listener& listener)
    : config_(config), listener_(listener) {
  config_.validate();
}

void FailureDetector::heard(int64_t now_ms) {
  // A silence longer than the timeout counts whether or not a tick fell
  // inside it, so the verdict does not depend on the phase of the ticks.
  const bool gap = ever_heard_ && now_ms - last_heard_ms_ > config_.timeout_ms;
  const int64_t gap_ms = now_ms - last_heard_ms_;
  ever_heard_ = true;
  last_heard_ms_ = now_ms;
  listener_.heard(now_ms);
  switch (state_) {
    case LinkState::connected:
      if (!gap) break;
      state_ = LinkState::interrupted;
      listener_.interrupted(gap_ms);
      [[fallthrough]];
    case LinkState::interrupted:
      start_probation(now_ms);
      listener_.probation_started();
      break;
    case LinkState::probation:
      if (gap) {  // a flap
        start_probation(now_ms);
        listener_.probation_restarted(gap_ms);
      }
      break;
  }
  finish_probation_if_due(now_ms);
}

void FailureDetector::tick(int64_t now_ms) {
  if (state_ == LinkState::interrupted) return;
  const int64_t silent = now_ms - last_heard_ms_;
  if (silent > config_.timeout_ms) {
    state_ = LinkState::interrupted;
    listener_.interrupted(silent);
    return;
  }
  finish_probation_if_due(now_ms);
}

void FailureDetector::start_probation(int64_t now_ms) {
  state_ = LinkState::probation;
  probation_start_ms_ = now_ms;
}

void FailureDetector::finish_probation_if_due(int64_t now_ms) {
  if (state_ != LinkState::probation) return;
  const int64_t watched = now_ms - probation_start_ms_;
  if (watched < config_.probation_ms) return;
  state_ = LinkState::connected;
  listener_.recovered(watched);
}

}  // namespace heartbeat
