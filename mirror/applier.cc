// A request is applied in two steps. Its paths are first checked as text (no
// absolute paths, "..", ".", empty components or NUL bytes). Then the parent
// directory is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_XDEV ...) from the volume's descriptor, so that a symlink or mount
// point planted in the copy stops resolution instead of leading out, and the
// last component is reached with *at() calls that never follow it. A file
// whose contents change is opened through its O_PATH descriptor only after its
// type was checked, so that a device node or FIFO in the copy is never opened.
#include "mirror/applier.h"
#include "mirror/unique_fd.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string_view>
#include <system_error>
#include <utility>

namespace mirror {
namespace {

using Fd = UniqueFd;

constexpr uint64_t kResolve =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
constexpr uint64_t kMaxOffset = INT64_MAX;
constexpr uint32_t kAllAttrs =
    kAttrMode | kAttrUid | kAttrGid | kAttrSize | kAttrAtime | kAttrMtime | kAttrRdev;

int result(int rc) {
  return rc == 0 ? 0 : errno;
}

// Relative, at most PATH_MAX bytes with its NUL, every component a real name.
bool valid_path(std::string_view path, bool root_allowed) {
  if (path.empty()) return root_allowed;
  if (path.size() >= PATH_MAX || path.find('\0') != path.npos) return false;
  for (size_t start = 0;;) {
    size_t end = path.find('/', start);
    std::string_view name = path.substr(start, end == path.npos ? path.npos : end - start);
    if (name.empty() || name == "." || name == ".." || name.size() > NAME_MAX) return false;
    if (end == path.npos) return true;
    start = end + 1;
  }
}

// Timestamps are resolved values on the primary; UTIME_NOW or UTIME_OMIT
// would mean something else here.
bool valid_time(const timespec& t) {
  return t.tv_nsec >= 0 && t.tv_nsec < 1'000'000'000;
}

// Names and symlink targets are stored as C strings.
bool valid_text(const std::string& text) {
  return !text.empty() && text.find('\0') == text.npos;
}

// Everything that can be judged before touching the copy.
bool well_formed(const MirrorRequest& r) {
  const FileAttributes& a = r.attr;
  if ((a.valid & ~kAllAttrs) || ((a.valid & kAttrSize) && a.size > kMaxOffset)) return false;
  if ((a.valid & kAttrAtime) && !valid_time(a.atime)) return false;
  if ((a.valid & kAttrMtime) && !valid_time(a.mtime)) return false;
  if (!valid_time(r.mtime_after) || !valid_time(r.parent_mtime_after) ||
      !valid_time(r.target_parent_mtime_after)) {
    return false;
  }
  const bool on_root_too =
      r.op == Op::setattr || r.op == Op::setxattr || r.op == Op::removexattr || r.op == Op::fsync;
  if (!valid_path(r.path, on_root_too)) return false;
  switch (r.op) {
    case Op::write:
      return r.length == r.data.size() && r.offset <= kMaxOffset - r.length;
    case Op::fallocate:
      return r.offset <= kMaxOffset && r.length <= kMaxOffset - r.offset;
    case Op::truncate:
      return a.valid & kAttrSize;
    case Op::mknod:
      return a.valid & kAttrMode;
    case Op::symlink:
      return valid_text(r.target);  // the link's text: stored verbatim, never followed here
    case Op::link:
      return valid_path(r.target, false);
    case Op::rename:
      return valid_path(r.target, false) &&
             !(r.flags & ~static_cast<uint32_t>(RENAME_NOREPLACE | RENAME_EXCHANGE));
    case Op::setxattr:
      return valid_text(r.xattr_name) &&
             !(r.flags & ~static_cast<uint32_t>(XATTR_CREATE | XATTR_REPLACE));
    case Op::removexattr:
      return valid_text(r.xattr_name);
    case Op::fsync:
      return r.flags <= 1;  // 1: fdatasync
    default:
      return true;
  }
}

int open_beneath(int dirfd, const char* path, uint64_t flags, Fd& out) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = kResolve;
  for (int attempt = 0;; ++attempt) {
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) {
      out = Fd(static_cast<int>(fd));
      return 0;
    }
    // EAGAIN: a concurrent rename or mount left the kernel unsure that the
    // walk stayed beneath; it asks for a retry.
    if ((errno != EAGAIN && errno != EINTR) || attempt == 16) return errno;
  }
}

// Where a path lives: its parent directory, opened beneath the volume, and its
// last component ("" for the root, which is then reached as ".").
struct Place {
  Fd dir;
  std::string name;
  const char* at() const { return name.empty() ? "." : name.c_str(); }
};

int locate(int volume_fd, const std::string& path, Place& out) {
  size_t slash = path.rfind('/');
  std::string parent = slash == path.npos ? "." : path.substr(0, slash);
  out.name = slash == path.npos ? path : path.substr(slash + 1);
  return open_beneath(volume_fd, parent.c_str(), O_PATH | O_DIRECTORY, out.dir);
}

// A file of the copy, reached without following it: a symlink yields its own
// O_PATH descriptor.
struct Node {
  Fd fd;
  struct stat st;
};

int open_node(const Place& place, Node& node) {
  if (int err = open_beneath(place.dir.get(), place.at(), O_PATH | O_NOFOLLOW, node.fd)) {
    return err;
  }
  return result(fstat(node.fd.get(), &node.st));
}

int find(int volume_fd, const std::string& path, Node& node) {
  Place place;
  if (int err = locate(volume_fd, path, place)) return err;
  return open_node(place, node);
}

// A regular file open for writing. Checking the type first means nothing
// else (a device node, a FIFO that would block) is ever opened.
int open_regular(int volume_fd, const std::string& path, Fd& out) {
  Node node;
  if (int err = find(volume_fd, path, node)) return err;
  if (S_ISLNK(node.st.st_mode)) return ELOOP;
  if (S_ISDIR(node.st.st_mode)) return EISDIR;
  if (!S_ISREG(node.st.st_mode)) return EINVAL;
  return reopen(node.fd, O_WRONLY, out);
}

// Works on any descriptor, O_PATH ones of symlinks included.
int set_times(int fd, timespec atime, timespec mtime) {
  timespec times[2] = {atime, mtime};
  return result(utimensat(fd, "", times, AT_EMPTY_PATH));
}

// The copy's mtime becomes the primary's after a change that set it natively.
int finish(int fd, const MirrorRequest& r) {
  if (r.mtime_after.tv_sec == 0 && r.mtime_after.tv_nsec == 0) return 0;
  return set_times(fd, {0, UTIME_OMIT}, r.mtime_after);
}

int set_owner(int fd, const FileAttributes& a) {
  if (!(a.valid & (kAttrUid | kAttrGid))) return 0;
  uid_t uid = (a.valid & kAttrUid) ? a.uid : static_cast<uid_t>(-1);
  gid_t gid = (a.valid & kAttrGid) ? a.gid : static_cast<gid_t>(-1);
  return result(fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
}

// Call after set_owner: chown clears the set-user-ID and set-group-ID bits.
int set_mode(int fd, const struct stat& st, const FileAttributes& a) {
  if (!(a.valid & kAttrMode)) return 0;
  if (S_ISLNK(st.st_mode)) return EOPNOTSUPP;  // as lchmod(2) on Linux
  return result(chmod(ProcPath(fd).c_str(), a.mode & 07777));
}

// Gives a new, or already present, entry the primary's owner, mode and mtime.
// The type is checked on the entry found: the name may have been taken by a
// file of another kind, which must not be mistaken for the one asked for.
int settle(const Place& place, mode_t type, dev_t rdev, const MirrorRequest& r) {
  Node node;
  if (int err = open_node(place, node)) return err;
  if ((node.st.st_mode & S_IFMT) != type) return EEXIST;
  if ((S_ISCHR(type) || S_ISBLK(type)) && node.st.st_rdev != rdev) return EEXIST;
  FileAttributes a = r.attr;
  if (S_ISLNK(type)) a.valid &= ~kAttrMode;  // always 0777
  if (int err = set_owner(node.fd.get(), a)) return err;
  if (int err = set_mode(node.fd.get(), node.st, a)) return err;
  return finish(node.fd.get(), r);
}

int write_all(int fd, const MirrorRequest& r) {
  const auto* bytes = reinterpret_cast<const char*>(r.data.data());
  for (size_t done = 0; done < r.data.size();) {
    ssize_t n = pwrite(fd, bytes + done, r.data.size() - done, static_cast<off_t>(r.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

// write, truncate and fallocate: changes to a regular file's contents, which
// move its mtime.
int apply_contents(int vfd, const MirrorRequest& r) {
  Fd fd;
  if (int err = open_regular(vfd, r.path, fd)) return err;
  int err = 0;
  if (r.op == Op::write) {
    err = write_all(fd.get(), r);
  } else if (r.op == Op::truncate) {
    err = result(ftruncate(fd.get(), static_cast<off_t>(r.attr.size)));
  } else {
    err = result(fallocate(fd.get(), static_cast<int>(r.flags), static_cast<off_t>(r.offset),
                           static_cast<off_t>(r.length)));
  }
  return err != 0 ? err : finish(fd.get(), r);
}

// New entries are made with no access for others; settle() then gives them
// the primary's owner and mode, so that they are never briefly more open.
int apply_create(int vfd, const MirrorRequest& r) {
  Place place;
  if (int err = locate(vfd, r.path, place)) return err;
  // O_EXCL so that nothing already there (a symlink, a device) is opened; an
  // existing regular file is what an earlier attempt left and is taken over.
  int fd = openat(place.dir.get(), place.at(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    return errno;
  } else if (r.flags & O_TRUNC) {  // the primary's open truncated the file it found
    Fd existing;
    if (int err = open_regular(vfd, r.path, existing)) return err == EISDIR ? EEXIST : err;
    if (ftruncate(existing.get(), 0) != 0) return errno;
  }
  return settle(place, S_IFREG, 0, r);
}

// mknod and mkdir. A name already there with the same type (and device
// number) is what an earlier attempt made.
int apply_make(int vfd, const MirrorRequest& r) {
  mode_t type = r.op == Op::mkdir ? S_IFDIR : r.attr.mode & S_IFMT;
  if (type == 0) type = S_IFREG;  // as mknod(2)
  const bool device = S_ISCHR(type) || S_ISBLK(type);
  if (r.op == Op::mknod && !S_ISREG(type) && !device && !S_ISFIFO(type) && !S_ISSOCK(type)) {
    return EINVAL;  // mknod makes no directories nor symlinks
  }
  dev_t rdev = device && (r.attr.valid & kAttrRdev) ? r.attr.rdev : 0;
  Place place;
  if (int err = locate(vfd, r.path, place)) return err;
  int rc = S_ISDIR(type) ? mkdirat(place.dir.get(), place.at(), 0700)
                         : mknodat(place.dir.get(), place.at(), type | 0600, rdev);
  if (rc != 0 && errno != EEXIST) return errno;
  return settle(place, type, rdev, r);
}

int apply_symlink(int vfd, const MirrorRequest& r) {
  Place place;
  if (int err = locate(vfd, r.path, place)) return err;
  if (symlinkat(r.target.c_str(), place.dir.get(), place.at()) != 0) {
    if (errno != EEXIST) return errno;
    char buf[PATH_MAX];
    ssize_t n = readlinkat(place.dir.get(), place.at(), buf, sizeof buf);
    if (n < 0 || std::string_view(buf, static_cast<size_t>(n)) != r.target) return EEXIST;
  }
  return settle(place, S_IFLNK, 0, r);
}

int apply_link(int vfd, const MirrorRequest& r) {
  Place from, to;
  if (int err = locate(vfd, r.path, from)) return err;
  if (int err = locate(vfd, r.target, to)) return err;
  // Flags 0: a symlink at the old path is linked itself, never followed.
  if (linkat(from.dir.get(), from.at(), to.dir.get(), to.at(), 0) == 0) return 0;
  if (errno != EEXIST) return errno;
  struct stat a, b;
  if (fstatat(from.dir.get(), from.at(), &a, AT_SYMLINK_NOFOLLOW) != 0 ||
      fstatat(to.dir.get(), to.at(), &b, AT_SYMLINK_NOFOLLOW) != 0) {
    return EEXIST;
  }
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? 0 : EEXIST;
}

int apply_rename(int vfd, const MirrorRequest& r) {
  Place from, to;
  if (int err = locate(vfd, r.path, from)) return err;
  if (int err = locate(vfd, r.target, to)) return err;
  return result(renameat2(from.dir.get(), from.at(), to.dir.get(), to.at(), r.flags));
}

// Removing a name that is already gone succeeds: the copy is as asked.
int apply_remove(int vfd, const MirrorRequest& r, int flags) {
  Place place;
  if (int err = locate(vfd, r.path, place)) return err == ENOENT ? 0 : err;
  if (unlinkat(place.dir.get(), place.at(), flags) != 0 && errno != ENOENT) return errno;
  return 0;
}

// Owner before size and mode (chown clears set-user-ID); the mode sent is the
// file's final one.
int apply_setattr(int vfd, const MirrorRequest& r) {
  const FileAttributes& a = r.attr;
  Node node;
  if (int err = find(vfd, r.path, node)) return err;
  const int fd = node.fd.get();
  if (int err = set_owner(fd, a)) return err;
  if (a.valid & kAttrSize) {
    if (S_ISDIR(node.st.st_mode)) return EISDIR;
    if (!S_ISREG(node.st.st_mode)) return EINVAL;
    Fd file;
    if (int err = reopen(node.fd, O_WRONLY, file)) return err;
    if (ftruncate(file.get(), static_cast<off_t>(a.size)) != 0) return errno;
  }
  if (int err = set_mode(fd, node.st, a)) return err;
  if (a.valid & (kAttrAtime | kAttrMtime)) {
    const timespec omit{0, UTIME_OMIT};
    int err = set_times(fd, (a.valid & kAttrAtime) ? a.atime : omit,
                        (a.valid & kAttrMtime) ? a.mtime : omit);
    if (err != 0) return err;
  }
  return (a.valid & kAttrMtime) ? 0 : finish(fd, r);
}

// The primary already honoured XATTR_CREATE / XATTR_REPLACE; the copy only
// needs to end with the value, also when an earlier attempt already set it.
// Extended attributes do not change the mtime: mtime_after is not applied.
int apply_xattr(int vfd, const MirrorRequest& r) {
  Node node;
  if (int err = find(vfd, r.path, node)) return err;
  ProcPath file(node.fd.get());  // the inode itself, even a symlink (see ProcPath)
  if (r.op == Op::setxattr) {
    return result(setxattr(file.c_str(), r.xattr_name.c_str(), r.data.data(), r.data.size(), 0));
  }
  if (removexattr(file.c_str(), r.xattr_name.c_str()) != 0 && errno != ENODATA) return errno;
  return 0;
}

int apply_fsync(int vfd, const MirrorRequest& r) {
  Node node;
  if (int err = find(vfd, r.path, node)) return err;
  if (!S_ISREG(node.st.st_mode) && !S_ISDIR(node.st.st_mode)) return EINVAL;
  Fd fd;
  if (int err = reopen(node.fd, O_RDONLY, fd)) return err;
  return result(r.flags == 1 ? fdatasync(fd.get()) : fsync(fd.get()));
}

int dispatch(int vfd, const MirrorRequest& r) {
  switch (r.op) {
    case Op::write:
    case Op::truncate:
    case Op::fallocate:
      return apply_contents(vfd, r);
    case Op::create:
      return apply_create(vfd, r);
    case Op::mknod:
    case Op::mkdir:
      return apply_make(vfd, r);
    case Op::unlink:
      return apply_remove(vfd, r, 0);
    case Op::rmdir:
      return apply_remove(vfd, r, AT_REMOVEDIR);
    case Op::symlink:
      return apply_symlink(vfd, r);
    case Op::link:
      return apply_link(vfd, r);
    case Op::rename:
      return apply_rename(vfd, r);
    case Op::setattr:
      return apply_setattr(vfd, r);
    case Op::setxattr:
    case Op::removexattr:
      return apply_xattr(vfd, r);
    case Op::fsync:
      return apply_fsync(vfd, r);
  }
  return EINVAL;  // an operation code this version does not know
}

bool changes_namespace(Op op) {
  return op == Op::create || op == Op::mknod || op == Op::mkdir || op == Op::unlink ||
         op == Op::rmdir || op == Op::symlink || op == Op::link || op == Op::rename;
}

// A namespace change moves the mtime of the directory it happened in; the
// primary says what that mtime became, so directories converge too.
void settle_directory_of(int vfd, const std::string& path, const timespec& mtime) {
  if (mtime.tv_sec == 0 && mtime.tv_nsec == 0) return;
  Place place;
  if (locate(vfd, path, place) != 0) return;  // gone meanwhile: nothing to settle
  set_times(place.dir.get(), {0, UTIME_OMIT}, mtime);
}

}  // namespace

Applier::Applier(const std::string& volume_dir)
    : directory_(volume_dir),
      volume_fd_(::open(volume_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
  if (volume_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot open volume directory " + volume_dir);
  }
  // Confinement rests on openat2 (Linux 5.6): find out now, not per request.
  Fd probe;
  if (int err = open_beneath(volume_fd_, ".", O_PATH | O_DIRECTORY, probe)) {
    ::close(volume_fd_);
    throw std::system_error(err, std::generic_category(),
                            "cannot resolve beneath volume directory " + volume_dir);
  }
}

Applier::~Applier() {
  ::close(volume_fd_);
}

int Applier::open_path(const std::string& path, int& fd) const {
  fd = -1;
  if (!valid_path(path, true)) return EINVAL;
  Node node;
  if (int err = find(volume_fd_, path, node)) return err;
  fd = node.fd.release();
  return 0;
}

int Applier::apply(const MirrorRequest& request) {
  try {
    if (!well_formed(request)) return EINVAL;
    int err = dispatch(volume_fd_, request);
    if (err == 0 && changes_namespace(request.op)) {
      settle_directory_of(volume_fd_, request.path, request.parent_mtime_after);
      if (request.op == Op::rename || request.op == Op::link) {
        settle_directory_of(volume_fd_, request.target, request.target_parent_mtime_after);
      }
    }
    return err;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (...) {
    return EIO;
  }
}

}  // namespace mirror
