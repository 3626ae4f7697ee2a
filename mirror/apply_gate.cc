#include "mirror/apply_gate.h"

namespace mirror {

ApplyGate::Wait ApplyGate::wait_for(uint64_t barrier, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return abandoned_ || watermark_ >= barrier; });
  if (abandoned_) return Wait::abandoned;
  return watermark_ >= barrier ? Wait::ready : Wait::timeout;
}

void ApplyGate::mark_applied(uint64_t sequence) {
  {
    std::lock_guard lock(mutex_);
    if (sequence <= watermark_) return;
    if (sequence != watermark_ + 1) {
      above_.insert(sequence);
      return;
    }
    ++watermark_;
    while (!above_.empty() && *above_.begin() == watermark_ + 1) {
      above_.erase(above_.begin());
      ++watermark_;
    }
  }
  changed_.notify_all();
}

void ApplyGate::advance_to(uint64_t sequence) {
  {
    std::lock_guard lock(mutex_);
    if (sequence <= watermark_) return;
    watermark_ = sequence;
    // What was applied above the old gap is now below, or continues it.
    above_.erase(above_.begin(), above_.upper_bound(watermark_));
    while (!above_.empty() && *above_.begin() == watermark_ + 1) {
      above_.erase(above_.begin());
      ++watermark_;
    }
  }
  changed_.notify_all();
}

bool ApplyGate::is_applied(uint64_t sequence) {
  std::lock_guard lock(mutex_);
  return sequence <= watermark_ || above_.count(sequence) > 0;
}

uint64_t ApplyGate::applied_through() {
  std::lock_guard lock(mutex_);
  return watermark_;
}

void ApplyGate::abandon() {
  {
    std::lock_guard lock(mutex_);
    abandoned_ = true;
  }
  changed_.notify_all();
}

}  // namespace mirror
