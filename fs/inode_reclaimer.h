// Keeps the inode table within the process's descriptor limit. Every inode the
// kernel holds costs an O_PATH descriptor, and the kernel keeps names cached
// until memory runs short, so a tree bigger than the limit (an untar of
// /usr/include under a 20,000-descriptor limit) would end in EMFILE. Above a
// high watermark this thread asks the kernel to forget the least recently
// used names (notify_inval_entry); the kernel then sends FORGET and the
// descriptors are closed. Internal to fs/.
#pragma once

#include <fuse_lowlevel.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "fs/inode_table.h"

namespace mirrorfs {

class InodeReclaimer {
 public:
  // Reclaims down to `low` once more than `high` inodes are held.
  InodeReclaimer(InodeTable& table, size_t high, size_t low);
  ~InodeReclaimer();
  InodeReclaimer(const InodeReclaimer&) = delete;
  InodeReclaimer& operator=(const InodeReclaimer&) = delete;

  void start(fuse_session* session);
  void stop();
  // Called after lookups: wakes the thread when the table is above `high`.
  void note_growth() {
    if (table_.size() > high_) wake_.notify_one();
  }
  size_t high() const { return high_; }

 private:
  void run();

  InodeTable& table_;
  const size_t high_, low_;
  fuse_session* session_ = nullptr;
  std::mutex mutex_;  // guards stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The watermarks for the current RLIMIT_NOFILE: most descriptors for inodes,
// the rest for open files, sockets and the queue.
size_t inode_limit_for_descriptors();

}  // namespace mirrorfs
