// The order the mirror applies requests in. Requests of one session carry
// global sequence numbers and arrive over n connections; each carries a
// barrier, the sequence number up to which everything must be applied first.
// The local server makes every namespace change a full barrier (seq - 1) and
// sends all requests on one file over one connection, so per-file order and
// namespace order hold while independent files are applied in parallel.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>

namespace mirror {

class ApplyGate {
 public:
  // Everything up to `applied_through` counts as applied already.
  explicit ApplyGate(uint64_t applied_through = 0) : watermark_(applied_through) {}

  enum class Wait { ready, timeout, abandoned };
  // Waits, at most `timeout`, until every request up to `barrier` is
  // applied. `abandoned` when the gate was abandoned (its session ended).
  Wait wait_for(uint64_t barrier, std::chrono::milliseconds timeout);
  void mark_applied(uint64_t sequence);
  bool is_applied(uint64_t sequence);
  // Everything up to `sequence` counts as applied from now on (never lowers
  // the watermark): the local server reconnected saying so, e.g. because it
  // dropped queued requests that a resync covers. Wakes the waiters.
  void advance_to(uint64_t sequence);
  // Every request up to this one is applied.
  uint64_t applied_through();
  // Wakes every waiter with false; for a session replaced or a daemon stopping.
  void abandon();

 private:
  std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  uint64_t watermark_;
  std::set<uint64_t> above_;  // applied, but above a gap
  bool abandoned_ = false;
};

}  // namespace mirror
