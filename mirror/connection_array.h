// The connection arrays of the method (design, element 2): n elements, one per
// TCP connection of a link, element i on each side belonging to connection i.
// Each element holds the connection's socket and the time the peer's
// heartbeat was last heard; every heartbeat received updates every element.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "heartbeat/heartbeat.h"

namespace mirror {

// Milliseconds of the steady clock, the time base of every heartbeat report.
using heartbeat::steady_ms;

struct ConnectionElement {
  std::atomic<int> fd{-1};               // the connection's socket, -1 when none
  std::atomic<int64_t> heartbeat_ms{0};  // steady clock: last heartbeat heard
  std::atomic<bool> closed{false};       // the link was interrupted: do not use
  // Local side only: the socket parameters the connection is established from.
  std::string host;
  std::string port;
};

class ConnectionArray {
 public:
  explicit ConnectionArray(size_t n) {
    for (size_t i = 0; i < n; ++i) elements_.push_back(std::make_unique<ConnectionElement>());
  }
  size_t size() const { return elements_.size(); }
  ConnectionElement& operator[](size_t i) { return *elements_[i]; }
  const ConnectionElement& operator[](size_t i) const { return *elements_[i]; }

  // A heartbeat from the peer: every element's timestamp moves on.
  void heard_heartbeat(int64_t now_ms) {
    for (auto& e : elements_) e->heartbeat_ms.store(now_ms, std::memory_order_relaxed);
  }

 private:
  std::vector<std::unique_ptr<ConnectionElement>> elements_;
};

using LocalConnectionArray = ConnectionArray;
using MirrorConnectionArray = ConnectionArray;

}  // namespace mirror
