#include "fs/inode_reclaimer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace mirrorfs {

size_t inode_limit_for_descriptors() {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return std::max<size_t>(512, lim.rlim_cur * 6 / 10);
}

InodeReclaimer::InodeReclaimer(InodeTable& table, size_t high, size_t low)
    : table_(table), high_(high), low_(std::min(low, high)) {}

InodeReclaimer::~InodeReclaimer() { stop(); }

void InodeReclaimer::start(fuse_session* session) {
  session_ = session;
  thread_ = std::thread([this] { run(); });
}

void InodeReclaimer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void InodeReclaimer::run() {
  pthread_setname_np(pthread_self(), "inode-reclaim");
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1));
    if (stopping_ || table_.size() <= high_) continue;
    lock.unlock();
    size_t held = table_.size();
    auto victims = table_.least_recently_used(held - low_);
    size_t asked = 0;
    for (const auto& [parent, name] : victims) {
      // ENOENT: the kernel no longer has that name; nothing to do.
      int r = fuse_lowlevel_notify_inval_entry(session_, parent, name.c_str(), name.size());
      if (r == 0) ++asked;
    }
    spdlog::info("inode cache: {} inodes held (limit {}); asked the kernel to forget {} of the "
                 "least recently used", held, high_, asked);
    lock.lock();
  }
}

}  // namespace mirrorfs
