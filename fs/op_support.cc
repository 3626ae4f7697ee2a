#include "fs/op_support.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace mirrorfs {

ChangeLock::ChangeLock(Filesystem& fs, bool namespace_change) {
  if (!fs.replicator_mirrors()) return;
  if (namespace_change) {
    exclusive_ = std::unique_lock(fs.change_order());
  } else {
    shared_ = std::shared_lock(fs.change_order());
  }
}

ProcPath::ProcPath(int fd) {
  snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
}

int give_to_caller(fuse_req_t req, int dirfd, const char* name, mode_t mode) {
  static const bool privileged = geteuid() == 0;
  const fuse_ctx* ctx = fuse_req_ctx(req);
  if (!privileged || (ctx->uid == 0 && ctx->gid == 0)) return 0;
  struct stat dir;
  if (fstat(dirfd, &dir) != 0) return errno;
  gid_t gid = (dir.st_mode & S_ISGID) ? static_cast<gid_t>(-1) : ctx->gid;
  if (fchownat(dirfd, name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  // chown clears set-user-ID and set-group-ID: give the asked-for mode back.
  if (S_ISREG(mode) && (mode & (S_ISUID | S_ISGID)) &&
      fchmodat(dirfd, name, mode & 07777, 0) != 0) {
    return errno;
  }
  return 0;
}

bool describe(Filesystem& fs, Inode& inode, mirror::Op op, mirror::MirrorRequest& r) {
  r.op = op;
  r.inode = inode.key.ino;
  if (!fs.replicator_mirrors()) return true;
  auto path = fs.path_of(inode);
  if (!path) return false;
  r.op = op;
  r.path = std::move(*path);
  r.inode = inode.key.ino;
  return true;
}

bool describe_child(Filesystem& fs, Inode& parent, const char* name, mirror::Op op,
                    mirror::MirrorRequest& r) {
  r.op = op;
  if (!fs.replicator_mirrors()) return true;
  auto path = fs.child_path(parent, name);
  if (!path) return false;
  r.op = op;
  r.path = std::move(*path);
  return true;
}

void record_result(mirror::MirrorRequest& r, const struct stat& st) {
  r.inode = st.st_ino;
  r.mtime_after = st.st_mtim;
}

void record_result_of(Filesystem& fs, int fd, mirror::MirrorRequest& r) {
  // The replicator reads mtime_after from it as it orders the request: one
  // fstat, at the only moment that gives racing writes the right order.
  if (fs.replicator_mirrors()) r.stat_fd = fd;
}

void record_parent(Filesystem& fs, Inode& dir, timespec& out) {
  struct stat st;
  if (fs.replicator_mirrors() && fstatat(dir.fd.load(), "", &st, kStatSelf) == 0) out = st.st_mtim;
}

void reply_entry_or_error(fuse_req_t req, Filesystem& fs, const fuse_entry_param& e, int err) {
  if (err != 0) {
    fs.inodes().forget(e.ino, 1);
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_entry(req, &e);
}

}  // namespace mirrorfs
