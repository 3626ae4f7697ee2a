// A mirror request: one successful mutation of a volume, described once by the
// file system and handed to a Replicator. It is the in-memory form; the wire
// and queue encodings of it live in their own format headers.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <span>
#include <string>

namespace mirror {

// Explicit numbers: they become the operation codes of the wire and queue.
enum class Op : uint8_t {
  write = 1,
  truncate = 2,
  create = 3,
  mknod = 4,
  mkdir = 5,
  unlink = 6,
  rmdir = 7,
  symlink = 8,
  link = 9,
  rename = 10,
  setattr = 11,
  setxattr = 12,
  removexattr = 13,
  fallocate = 14,
  fsync = 15,
};

const char* to_string(Op op);

// Which fields of FileAttributes a request sets.
enum AttrMask : uint32_t {
  kAttrMode = 1u << 0,
  kAttrUid = 1u << 1,
  kAttrGid = 1u << 2,
  kAttrSize = 1u << 3,
  kAttrAtime = 1u << 4,
  kAttrMtime = 1u << 5,
  kAttrRdev = 1u << 6,
};

struct FileAttributes {
  uint32_t valid = 0;  // AttrMask bits
  mode_t mode = 0;     // including the file type bits for create/mknod/mkdir
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;
  dev_t rdev = 0;
  timespec atime{};
  timespec mtime{};
};

struct MirrorRequest {
  Op op{};
  // Path of the file relative to the volume root, without a leading '/'; ""
  // is the root itself. Not resolved (empty) for a replicator that does not
  // mirror, nor are target and mtime_after.
  std::string path;
  // rename and link: the new path; symlink: the link's target text.
  std::string target;
  std::string xattr_name;
  uint64_t offset = 0;
  uint64_t length = 0;
  // Write payload or xattr value. Borrowed: valid only during
  // Replicator::replicate(); a replicator that keeps it must copy it.
  std::span<const std::byte> data;
  // rename: RENAME_* flags; setxattr: XATTR_* flags; fallocate: mode;
  // fsync: 1 for fdatasync.
  uint32_t flags = 0;
  FileAttributes attr;
  // The file's identity in the backing directory (st_ino), so that requests
  // on one file can be ordered even when it has several names.
  uint64_t inode = 0;
  // The file's modification time once the change was applied (read from
  // stat_fd by the replicator when that is set).
  timespec mtime_after{};
  // In memory only, never encoded: a descriptor of the changed file from
  // which the replicator reads mtime_after as it orders the request
  // (under the lock that hands out sequence numbers). Two changes racing on
  // one file may be ordered unlike they were applied; read there, the later
  // in order carries the later mtime, so the copy ends with the primary's.
  int stat_fd = -1;
  // Namespace changes: the modification time of the directory holding
  // `path`, and of the one holding `target` (rename, link), after the change.
  timespec parent_mtime_after{};
  timespec target_parent_mtime_after{};
};

}  // namespace mirror
