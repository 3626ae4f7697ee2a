// The FUSE file system: passes every operation through to the backing
// directory by file descriptors, and hands every successful mutation, described
// as a mirror request, to the volume's Replicator.
#pragma once

#include <fuse_lowlevel.h>

#include <optional>
#include <shared_mutex>
#include <string>

#include "fs/inode_reclaimer.h"
#include "fs/inode_table.h"
#include "fs/options.h"
#include "mirror/replicator.h"

namespace mirrorfs {

class Filesystem {
 public:
  // Opens the backing directory; throws std::system_error naming it.
  Filesystem(const MountOptions& options, mirror::Replicator& replicator);
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // The operations table for fuse_session_new; its userdata is the Filesystem.
  static const fuse_lowlevel_ops& operations();
  static Filesystem& of(fuse_req_t req) {
    return *static_cast<Filesystem*>(fuse_req_userdata(req));
  }

  const MountOptions& options() const { return options_; }
  InodeTable& inodes() { return inodes_; }
  InodeReclaimer& reclaimer() { return reclaimer_; }
  Inode& inode(fuse_ino_t ino) { return inodes_.get(ino); }

  // Path of an inode relative to the backing root ("" for the root), or
  // nothing when the file has no name any more (unlinked while open).
  std::optional<std::string> path_of(Inode& inode);
  // Path of `name` in directory `parent`, relative to the backing root.
  std::optional<std::string> child_path(Inode& parent, const char* name);

  // Hands a described mutation to the replicator; returns the errno the
  // application should see (0 when all is well).
  int replicate(const mirror::MirrorRequest& request);
  bool replicator_mirrors() const { return replicator_.mirrors(); }
  // See ChangeLock (op_support.h).
  std::shared_mutex& change_order() { return change_order_; }

 private:
  const MountOptions options_;
  mirror::Replicator& replicator_;
  InodeTable inodes_;
  InodeReclaimer reclaimer_;
  std::shared_mutex change_order_;
};

}  // namespace mirrorfs
