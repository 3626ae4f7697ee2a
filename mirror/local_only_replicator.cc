// The local-only replicator: a plain mount with no peer. Requests are counted
// so that status can say how much changed, and otherwise dropped.
#include <atomic>

#include "mirror/replicator.h"

namespace mirror {
namespace {

class LocalOnlyReplicator final : public Replicator {
 public:
  int replicate(const MirrorRequest&) override {
    applied_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  bool mirrors() const override { return false; }
  const char* describe() const override { return "local only, no peer"; }

 private:
  std::atomic<uint64_t> applied_{0};
};

}  // namespace

std::unique_ptr<Replicator> make_local_only_replicator() {
  return std::make_unique<LocalOnlyReplicator>();
}

}  // namespace mirror
