// Namespace changes: mknod, mkdir, symlink, link, unlink, rmdir, rename. Each
// applies one *at() call to the backing directory, then describes the change.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/op_support.h"
#include "fs/ops.h"

namespace mirrorfs::ops {
namespace {

// After a new name was made in `parent`: hands ownership to the caller, looks
// the new file up for the kernel, mirrors the change, and replies.
void finish_new_entry(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
                      mirror::MirrorRequest& r) {
  Filesystem& fs = Filesystem::of(req);
  Inode& dir = fs.inode(parent);
  int err = give_to_caller(req, dir.fd.load(), name, mode);
  fuse_entry_param e;
  if (err == 0) err = lookup_entry(req, parent, name, &e);
  if (err != 0) return (void)fuse_reply_err(req, err);
  if (describe_child(fs, dir, name, r.op, r)) {
    record_result(r, e.attr);
    record_parent(fs, dir, r.parent_mtime_after);
    r.attr.valid |= mirror::kAttrMode | mirror::kAttrUid | mirror::kAttrGid;
    r.attr.mode = e.attr.st_mode;
    r.attr.uid = e.attr.st_uid;
    r.attr.gid = e.attr.st_gid;
    err = fs.replicate(r);
  }
  reply_entry_or_error(req, fs, e, err);
}

}  // namespace

void mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  ChangeLock order(Filesystem::of(req), true);
  Inode& dir = Filesystem::of(req).inode(parent);
  if (mknodat(dir.fd.load(), name, mode, rdev) != 0) return (void)fuse_reply_err(req, errno);
  mirror::MirrorRequest r;
  r.op = mirror::Op::mknod;
  r.attr.valid = mirror::kAttrRdev;
  r.attr.rdev = rdev;
  finish_new_entry(req, parent, name, mode, r);
}

void mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  ChangeLock order(Filesystem::of(req), true);
  Inode& dir = Filesystem::of(req).inode(parent);
  if (mkdirat(dir.fd.load(), name, mode) != 0) return (void)fuse_reply_err(req, errno);
  mirror::MirrorRequest r;
  r.op = mirror::Op::mkdir;
  finish_new_entry(req, parent, name, S_IFDIR | mode, r);
}

void symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  ChangeLock order(Filesystem::of(req), true);
  Inode& dir = Filesystem::of(req).inode(parent);
  if (symlinkat(link, dir.fd.load(), name) != 0) return (void)fuse_reply_err(req, errno);
  mirror::MirrorRequest r;
  r.op = mirror::Op::symlink;
  r.target = link;
  finish_new_entry(req, parent, name, S_IFLNK | 0777, r);
}

void link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Filesystem& fs = Filesystem::of(req);
  ChangeLock order(fs, true);
  Inode& inode = fs.inode(ino);
  Inode& dir = fs.inode(newparent);
  mirror::MirrorRequest r;
  bool named = describe(fs, inode, mirror::Op::link, r);
  if (linkat(inode.fd.load(), "", dir.fd.load(), newname, AT_EMPTY_PATH) != 0) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc reaches the same file.
    if (errno != EPERM && errno != ENOENT) return (void)fuse_reply_err(req, errno);
    if (linkat(AT_FDCWD, ProcPath(inode.fd.load()).c_str(), dir.fd.load(), newname,
               AT_SYMLINK_FOLLOW) != 0) {
      return (void)fuse_reply_err(req, errno);
    }
  }
  fuse_entry_param e;
  if (int err = lookup_entry(req, newparent, newname, &e)) return (void)fuse_reply_err(req, err);
  int err = 0;
  auto target = fs.replicator_mirrors() ? fs.child_path(dir, newname) : std::string();
  if (named && target) {
    r.target = std::move(*target);
    record_result(r, e.attr);
    record_parent(fs, dir, r.target_parent_mtime_after);
    err = fs.replicate(r);
  }
  reply_entry_or_error(req, fs, e, err);
}

namespace {

void remove_entry(fuse_req_t req, fuse_ino_t parent, const char* name, bool directory) {
  Filesystem& fs = Filesystem::of(req);
  ChangeLock order(fs, true);
  Inode& dir = fs.inode(parent);
  mirror::MirrorRequest r;
  bool named = describe_child(fs, dir, name, directory ? mirror::Op::rmdir : mirror::Op::unlink, r);
  struct stat victim;
  if (fs.replicator_mirrors() && fstatat(dir.fd.load(), name, &victim, AT_SYMLINK_NOFOLLOW) == 0) {
    r.inode = victim.st_ino;
  }
  if (unlinkat(dir.fd.load(), name, directory ? AT_REMOVEDIR : 0) != 0) {
    return (void)fuse_reply_err(req, errno);
  }
  int err = 0;
  if (named) {
    record_parent(fs, dir, r.parent_mtime_after);
    err = fs.replicate(r);
  }
  fuse_reply_err(req, err);
}

}  // namespace

void unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  remove_entry(req, parent, name, false);
}

void rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  remove_entry(req, parent, name, true);
}

void rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned int flags) {
  Filesystem& fs = Filesystem::of(req);
  ChangeLock order(fs, true);
  Inode& from = fs.inode(parent);
  Inode& to = fs.inode(newparent);
  mirror::MirrorRequest r;
  bool named = describe_child(fs, from, name, mirror::Op::rename, r);
  auto target = fs.replicator_mirrors() ? fs.child_path(to, newname) : std::string();
  if (renameat2(from.fd.load(), name, to.fd.load(), newname, flags) != 0) {
    return (void)fuse_reply_err(req, errno);
  }
  int err = 0;
  if (named && target) {
    r.target = std::move(*target);
    r.flags = flags;
    struct stat moved;
    if (fs.replicator_mirrors() && fstatat(to.fd.load(), newname, &moved, AT_SYMLINK_NOFOLLOW) == 0) {
      record_result(r, moved);
    }
    record_parent(fs, from, r.parent_mtime_after);
    record_parent(fs, to, r.target_parent_mtime_after);
    err = fs.replicate(r);
  }
  fuse_reply_err(req, err);
}

}  // namespace mirrorfs::ops
