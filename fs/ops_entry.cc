// Names and attributes: lookup, forget, getattr, setattr, readlink, statfs.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <sys/syscall.h>

#include <atomic>
#include <climits>

#include "fs/op_support.h"
#include "fs/ops.h"

namespace mirrorfs::ops {

int lookup_entry(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_entry_param* e) {
  Filesystem& fs = Filesystem::of(req);
  Inode& dir = fs.inode(parent);
  *e = fuse_entry_param{};
  e->attr_timeout = e->entry_timeout = fs.options().cache_timeout;
  int fd = openat(dir.fd.load(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  if (fstatat(fd, "", &e->attr, kStatSelf) != 0) {
    int err = errno;
    close(fd);
    return err;
  }
  e->ino = fs.inodes().remember(fd, e->attr, &dir, name);
  fs.reclaimer().note_growth();
  return 0;
}

void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_entry_param e;
  int err = lookup_entry(req, parent, name, &e);
  if (err == ENOENT) {
    // A negative entry: the kernel may remember the name is absent, since
    // only this mount creates names.
    e.ino = 0;
    fuse_reply_entry(req, &e);
  } else if (err != 0) {
    if (err == EMFILE || err == ENFILE) spdlog::error("out of file descriptors looking up {}", name);
    fuse_reply_err(req, err);
  } else {
    fuse_reply_entry(req, &e);
  }
}

void forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Filesystem::of(req).inodes().forget(ino, nlookup);
  fuse_reply_none(req);
}

void forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  InodeTable& table = Filesystem::of(req).inodes();
  for (size_t i = 0; i < count; ++i) table.forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  struct stat st;
  int fd = fi != nullptr ? static_cast<int>(fi->fh) : fs.inode(ino).fd.load();
  if (fstatat(fd, "", &st, kStatSelf) != 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_attr(req, &st, fs.options().cache_timeout);
}

namespace {

// fchmodat2 (Linux 6.6) changes the mode through an O_PATH descriptor
// directly; older kernels go through /proc.
int chmod_path_fd(int fd, mode_t mode) {
  constexpr long kFchmodat2 = 452;
  static std::atomic<bool> have_fchmodat2{true};
  if (have_fchmodat2.load(std::memory_order_relaxed)) {
    long r = syscall(kFchmodat2, fd, "", mode, AT_EMPTY_PATH);
    if (r == 0 || (errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)) {
      return static_cast<int>(r);
    }
    have_fchmodat2 = false;
  }
  return chmod(ProcPath(fd).c_str(), mode);
}

int apply_times(Inode& inode, fuse_file_info* fi, const struct stat* attr, int valid) {
  timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  if (valid & FUSE_SET_ATTR_ATIME_NOW) {
    tv[0].tv_nsec = UTIME_NOW;
  } else if (valid & FUSE_SET_ATTR_ATIME) {
    tv[0] = attr->st_atim;
  }
  if (valid & FUSE_SET_ATTR_MTIME_NOW) {
    tv[1].tv_nsec = UTIME_NOW;
  } else if (valid & FUSE_SET_ATTR_MTIME) {
    tv[1] = attr->st_mtim;
  }
  if (fi != nullptr) return futimens(static_cast<int>(fi->fh), tv);
  // Works on the O_PATH descriptor itself, symlinks included.
  return utimensat(inode.fd.load(), "", tv, AT_EMPTY_PATH);
}

int apply_setattr(Inode& inode, fuse_file_info* fi, const struct stat* attr, int valid) {
  int fd = inode.fd.load();
  if (valid & FUSE_SET_ATTR_MODE) {
    int r = fi != nullptr ? fchmod(static_cast<int>(fi->fh), attr->st_mode)
                          : chmod_path_fd(fd, attr->st_mode);
    if (r != 0) return errno;
  }
  if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : static_cast<uid_t>(-1);
    gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : static_cast<gid_t>(-1);
    if (fchownat(fd, "", uid, gid, kStatSelf) != 0) return errno;
  }
  if (valid & FUSE_SET_ATTR_SIZE) {
    int r = fi != nullptr ? ftruncate(static_cast<int>(fi->fh), attr->st_size)
                          : truncate(ProcPath(fd).c_str(), attr->st_size);
    if (r != 0) return errno;
  }
  if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    if (apply_times(inode, fi, attr, valid) != 0) return errno;
  }
  return 0;
}

}  // namespace

void setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int valid, fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  Inode& inode = fs.inode(ino);
  if (int err = apply_setattr(inode, fi, attr, valid)) return (void)fuse_reply_err(req, err);
  struct stat st;
  int fd = fi != nullptr ? static_cast<int>(fi->fh) : inode.fd.load();
  if (fstatat(fd, "", &st, kStatSelf) != 0) return (void)fuse_reply_err(req, errno);

  ChangeLock order(fs, false);
  mirror::MirrorRequest r;
  bool only_size = (valid & ~FUSE_SET_ATTR_SIZE & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
                                                    FUSE_SET_ATTR_GID | FUSE_SET_ATTR_ATIME |
                                                    FUSE_SET_ATTR_MTIME)) == 0;
  if (describe(fs, inode, only_size ? mirror::Op::truncate : mirror::Op::setattr, r)) {
    record_result(r, st);
    auto& a = r.attr;
    // The values the file has now, so that "now" means the same on the mirror.
    if (valid & FUSE_SET_ATTR_MODE) a.valid |= mirror::kAttrMode, a.mode = st.st_mode;
    if (valid & FUSE_SET_ATTR_UID) a.valid |= mirror::kAttrUid, a.uid = st.st_uid;
    if (valid & FUSE_SET_ATTR_GID) a.valid |= mirror::kAttrGid, a.gid = st.st_gid;
    if (valid & FUSE_SET_ATTR_SIZE) a.valid |= mirror::kAttrSize, a.size = st.st_size;
    if (valid & FUSE_SET_ATTR_ATIME) a.valid |= mirror::kAttrAtime, a.atime = st.st_atim;
    if (valid & FUSE_SET_ATTR_MTIME) a.valid |= mirror::kAttrMtime, a.mtime = st.st_mtim;
    r.offset = static_cast<uint64_t>(st.st_size);
    if (int err = fs.replicate(r)) return (void)fuse_reply_err(req, err);
  }
  fuse_reply_attr(req, &st, fs.options().cache_timeout);
}

void readlink(fuse_req_t req, fuse_ino_t ino) {
  char buf[PATH_MAX + 1];
  ssize_t n = readlinkat(Filesystem::of(req).inode(ino).fd.load(), "", buf, PATH_MAX);
  if (n < 0) return (void)fuse_reply_err(req, errno);
  buf[n] = '\0';
  fuse_reply_readlink(req, buf);
}

void statfs(fuse_req_t req, fuse_ino_t ino) {
  struct statvfs st;
  if (fstatvfs(Filesystem::of(req).inode(ino).fd.load(), &st) != 0) {
    return (void)fuse_reply_err(req, errno);
  }
  fuse_reply_statfs(req, &st);
}

}  // namespace mirrorfs::ops
