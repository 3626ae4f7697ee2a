// Small helpers the operations share: descriptor paths, the caller's
// ownership of new files, and turning a change into a mirror request.
// Internal to fs/.
#pragma once

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <mutex>
#include <shared_mutex>
#include <string>

#include "fs/filesystem.h"
#include "mirror/request.h"

namespace mirrorfs {

// fstatat flags that stat the descriptor itself, never a symlink's target.
constexpr int kStatSelf = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;

// "/proc/self/fd/N": reaches the file behind an O_PATH descriptor for calls
// that have no *at() form taking one.
struct ProcPath {
  explicit ProcPath(int fd);
  const char* c_str() const { return buf; }
  char buf[32];
};

// New files belong to the caller, as on a local file system (the daemon runs
// as root). A directory with the set-group-ID bit keeps giving its group.
int give_to_caller(fuse_req_t req, int dirfd, const char* name, mode_t mode);

// Starts a request for a change to `inode`, or returns false when the file has
// no name any more (unlinked while open: nothing to mirror). When the
// replicator does not mirror (local only), paths are not resolved and the
// request carries only the operation and the inode.
bool describe(Filesystem& fs, Inode& inode, mirror::Op op, mirror::MirrorRequest& r);
bool describe_child(Filesystem& fs, Inode& parent, const char* name, mirror::Op op,
                    mirror::MirrorRequest& r);

// Fills attributes and mtime_after from the file's state after the change.
void record_result(mirror::MirrorRequest& r, const struct stat& st);
// From an open descriptor, when a replicator will use it: it reads the mtime
// itself as it orders the request (MirrorRequest::stat_fd).
void record_result_of(Filesystem& fs, int fd, mirror::MirrorRequest& r);

// The directory's mtime after a namespace change in it, when mirroring.
void record_parent(Filesystem& fs, Inode& dir, timespec& out);

// Mirror requests are numbered in the order the changes were made. A
// namespace change is made, described and numbered under the exclusive lock,
// so no other change can be described with a path it is moving; other
// changes describe their paths and are numbered under the shared lock. Local
// only, nothing is numbered and no lock is taken.
class ChangeLock {
 public:
  ChangeLock(Filesystem& fs, bool namespace_change);
  ChangeLock(const ChangeLock&) = delete;
  ChangeLock& operator=(const ChangeLock&) = delete;

 private:
  std::unique_lock<std::shared_mutex> exclusive_;
  std::shared_lock<std::shared_mutex> shared_;
};

// Replies with the new entry, or with `err` (from mirroring) after giving the
// kernel's reference back.
void reply_entry_or_error(fuse_req_t req, Filesystem& fs, const fuse_entry_param& e, int err);

}  // namespace mirrorfs
