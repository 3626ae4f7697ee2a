#include "mirror/designated_requests.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#include "mirror/wire_format.h"

namespace mirror {
namespace {

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

}  // namespace

DesignatedRequests::DesignatedRequests(Designation designation, std::string backing, Send send)
    : designation_(std::move(designation)), backing_(std::move(backing)), send_(std::move(send)) {}

int DesignatedRequests::replicate(const MirrorRequest& r) {
  if (designation_.empty()) return send_(r);
  switch (r.op) {
    case Op::rename:
      return replicate_rename(r);
    case Op::link:
      if (designation_.excluded(r.target)) return 0;
      if (designation_.excluded(r.path)) return send_content(r.target);
      return send_(r);
    default:
      return designation_.excluded(r.path) ? 0 : send_(r);
  }
}

int DesignatedRequests::replicate_rename(const MirrorRequest& r) {
  bool from_excluded = designation_.excluded(r.path);
  bool to_excluded = designation_.excluded(r.target);
  if (from_excluded == to_excluded) return from_excluded ? 0 : send_(r);
  bool exchange = (r.flags & RENAME_EXCHANGE) != 0;
  if (!from_excluded) {
    // Moved out of sight: the mirror drops what it had under the old name
    // (now locally at r.target) and, for an exchange, receives what now
    // lives at the old name.
    if (int err = send_removal(r.path, r.target)) return err;
    return exchange ? send_content(r.path) : 0;
  }
  // Moved into sight: the mirror never had it, so it gets the content.
  if (exchange) {
    if (int err = send_removal(r.target, r.path)) return err;
  } else {
    // Whatever the new name replaced is gone.
    MirrorRequest gone;
    gone.op = Op::unlink;
    gone.path = r.target;
    struct stat st;
    std::string local = backing_ + "/" + r.target;
    if (lstat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      if (int err = send_removal(r.target, r.target)) return err;
    } else if (int err = send_(gone); err != 0 && err != ENOENT) {
      return err;
    }
  }
  return send_content(r.target);
}

// Removes `mirror_path` on the mirror, recursively, using the local tree at
// `local_path` (which holds what the mirror has there) as the listing.
int DesignatedRequests::send_removal(const std::string& mirror_path,
                                     const std::string& local_path) {
  struct stat st;
  std::string local = backing_ + "/" + local_path;
  if (lstat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (DIR* d = opendir(local.c_str())) {
      std::vector<std::string> names;
      while (dirent* e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
      }
      closedir(d);
      for (const auto& n : names) send_removal(join(mirror_path, n), join(local_path, n));
    }
    MirrorRequest rm;
    rm.op = Op::rmdir;
    rm.path = mirror_path;
    int err = send_(rm);
    return err == ENOENT ? 0 : err;
  }
  MirrorRequest rm;
  rm.op = Op::unlink;
  rm.path = mirror_path;
  int err = send_(rm);
  return err == ENOENT ? 0 : err;
}

int DesignatedRequests::send_content(const std::string& path) {
  std::string local = backing_ + "/" + path;
  struct stat st;
  if (lstat(local.c_str(), &st) != 0) return 0;  // gone again meanwhile
  MirrorRequest r;
  r.path = path;
  r.inode = st.st_ino;
  r.attr.valid = kAttrMode | kAttrUid | kAttrGid;
  r.attr.mode = st.st_mode;
  r.attr.uid = st.st_uid;
  r.attr.gid = st.st_gid;
  int err = 0;
  if (S_ISDIR(st.st_mode)) {
    r.op = Op::mkdir;
    if ((err = send_(r))) return err;
    std::vector<std::string> names;
    if (DIR* d = opendir(local.c_str())) {
      while (dirent* e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
      }
      closedir(d);
    }
    for (const auto& n : names) {
      if (designation_.excluded(join(path, n))) continue;
      if ((err = send_content(join(path, n)))) return err;
    }
  } else if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink(local.c_str(), target, sizeof target);
    if (n < 0) return 0;
    r.op = Op::symlink;
    r.target.assign(target, static_cast<size_t>(n));
    if ((err = send_(r))) return err;
  } else if (S_ISREG(st.st_mode)) {
    r.op = Op::create;
    if ((err = send_(r))) return err;
    int fd = open(local.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    std::vector<std::byte> chunk(wire::kMaxData);
    off_t offset = 0;
    for (;;) {
      ssize_t n = pread(fd, chunk.data(), chunk.size(), offset);
      if (n <= 0) break;
      MirrorRequest w;
      w.op = Op::write;
      w.path = path;
      w.inode = st.st_ino;
      w.offset = static_cast<uint64_t>(offset);
      w.length = static_cast<uint64_t>(n);
      w.data = std::span(chunk.data(), static_cast<size_t>(n));
      if ((err = send_(w))) break;
      offset += n;
    }
    close(fd);
    if (err) return err;
    MirrorRequest t;
    t.op = Op::truncate;
    t.path = path;
    t.inode = st.st_ino;
    t.attr.valid = kAttrSize;
    t.attr.size = static_cast<uint64_t>(st.st_size);
    if ((err = send_(t))) return err;
  } else {
    r.op = Op::mknod;
    r.attr.valid |= kAttrRdev;
    r.attr.rdev = st.st_rdev;
    if ((err = send_(r))) return err;
  }
  // Extended attributes, then the times, so the copy's mtime is the primary's.
  char names[65536];
  ssize_t len = llistxattr(local.c_str(), names, sizeof names);
  for (ssize_t i = 0; len > 0 && i < len; i += static_cast<ssize_t>(strlen(names + i)) + 1) {
    std::vector<std::byte> value(65536);
    ssize_t n = lgetxattr(local.c_str(), names + i, value.data(), value.size());
    if (n < 0) continue;
    MirrorRequest x;
    x.op = Op::setxattr;
    x.path = path;
    x.inode = st.st_ino;
    x.xattr_name = names + i;
    x.data = std::span(value.data(), static_cast<size_t>(n));
    x.length = static_cast<uint64_t>(n);
    if ((err = send_(x))) return err;
  }
  MirrorRequest times;
  times.op = Op::setattr;
  times.path = path;
  times.inode = st.st_ino;
  times.attr.valid = kAttrAtime | kAttrMtime;
  times.attr.atime = st.st_atim;
  times.attr.mtime = st.st_mtim;
  times.mtime_after = st.st_mtim;
  return send_(times);
}

}  // namespace mirror
