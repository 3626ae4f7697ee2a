// One entry of the walk (copy_walk.h): compare the local entry with the
// copy's, then repair the copy or report the difference.
#include "mirror/copy_walk_impl.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mirror {
namespace {

constexpr uint32_t kChecksumPage = 4096;  // blocks per checksum question
constexpr size_t kMaxRepairWrite = 1u << 20;
timespec mtime_of(const struct stat& st) {
  return st.st_mtim;
}

bool same_time(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

std::string CopyWalk::Impl::full(const std::string& rel) const {
  return rel.empty() ? o.backing : o.backing + "/" + rel;
}

int CopyWalk::Impl::open_local(const std::string& rel, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(
      syscall(SYS_openat2, backing_fd, rel.empty() ? "." : rel.c_str(), &how, sizeof how));
}

void CopyWalk::Impl::differ(const std::string& path, std::string what) {
  progress.differences.fetch_add(1, std::memory_order_relaxed);
  dir_differences.push_back({path, std::move(what)});
}

bool CopyWalk::Impl::submit(const MirrorRequest& r, LocalGuard guard) {
  if (!port) return true;
  dir_repaired = true;
  progress.repairs.fetch_add(1, std::memory_order_relaxed);
  return port->submit_repair(r, guard);
}

bool CopyWalk::Impl::create_on_copy(const std::string& path, const EntryDescription& l) {
  MirrorRequest r;
  r.path = path;
  r.inode = l.inode;
  r.attr.valid = kAttrMode | kAttrUid | kAttrGid;
  r.attr.mode = l.mode;
  r.attr.uid = l.uid;
  r.attr.gid = l.gid;
  r.mtime_after = l.mtime;
  const mode_t type = l.mode & S_IFMT;
  if (S_ISREG(type)) {
    if (l.nlink > 1) {
      auto it = links.find(l.inode);
      if (it != links.end()) return link_on_copy(path, l, it->second);
      links[l.inode] = Linked{path, 0, l.nlink - 1};
    }
    r.op = Op::create;
    r.mtime_after = {};
    if (!submit(r, LocalGuard::exists)) return false;
    EntryDescription empty;
    empty.mode = l.mode;
    if (!repair_contents(path, l, empty, /*fresh=*/true)) return false;
  } else if (S_ISDIR(type)) {
    r.op = Op::mkdir;
    if (!submit(r, LocalGuard::exists)) return false;
    fresh_dirs.insert(path);
  } else if (S_ISLNK(type)) {
    r.op = Op::symlink;
    r.target = l.link_target;
    r.attr.valid = kAttrUid | kAttrGid;
    if (!submit(r, LocalGuard::exists)) return false;
  } else {
    r.op = Op::mknod;
    r.attr.valid |= kAttrRdev;
    r.attr.rdev = l.rdev;
    if (!submit(r, LocalGuard::exists)) return false;
  }
  if (l.xattr_digest != 0 && !copy_xattrs(path, {})) return false;
  return true;
}

bool CopyWalk::Impl::link_on_copy(const std::string& path, const EntryDescription& l,
                                  Linked& first) {
  MirrorRequest r;
  r.op = Op::link;
  r.path = first.first_path;
  r.target = path;
  r.inode = l.inode;
  if (first.names_left > 0 && --first.names_left == 0) links.erase(l.inode);
  return submit(r, LocalGuard::exists);
}

bool CopyWalk::Impl::remove_on_copy(const std::string& path, const EntryDescription& c,
                                    LocalGuard guard) {
  MirrorRequest r;
  r.path = path;
  if (S_ISDIR(c.mode)) {
    std::string after;
    for (bool more = true; more;) {
      auto page = copy.list(path, after);
      if (page.error != 0) break;  // gone already: the rmdir below says so
      for (const auto& e : page.entries) {
        if (o.designation.excluded(join(path, e.name))) continue;
        if (!remove_on_copy(join(path, e.name), e, guard)) return false;
      }
      more = page.more && !page.entries.empty();
      if (more) after = page.entries.back().name;
    }
    r.op = Op::rmdir;
  } else {
    r.op = Op::unlink;
  }
  return submit(r, guard);
}

bool CopyWalk::Impl::repair_contents(const std::string& path, const EntryDescription& l,
                                     const EntryDescription& c, bool fresh) {
  int fd = open_local(path, O_RDONLY);
  if (fd < 0) {
    if (errno == ENOENT) return true;  // gone meanwhile: a live unlink follows
    fail_local("cannot open", full(path), errno);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) fail_local("cannot stat", full(path), errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t copy_size = fresh ? 0 : c.size;
  auto truncate_copy = [&]() -> bool {
    MirrorRequest t;
    t.op = Op::truncate;
    t.path = path;
    t.inode = l.inode;
    t.attr.valid = kAttrSize;
    t.attr.size = size;
    t.mtime_after = mtime_of(st);
    return submit(t);
  };
  // A copy longer than the file is cut first; a shorter one grows by the
  // writes, and by a truncate at the end where the file ends in a hole.
  uint64_t written_end = copy_size;
  if (repairing() && copy_size > size) {
    if (!truncate_copy()) return false;
  } else if (!repairing() && copy_size != size) {
    differ(path, "size " + std::to_string(size) + " vs " + std::to_string(copy_size));
    if (o.mode != WalkMode::verify_checksum) return true;
  }
  // Blocks at or beyond this one are zeros on the copy after the truncate.
  const uint64_t copy_blocks = (copy_size + kSyncBlockSize - 1) / kSyncBlockSize;
  const uint64_t blocks = (size + kSyncBlockSize - 1) / kSyncBlockSize;
  std::vector<uint64_t> local_sums;
  std::vector<char> buffer;
  uint64_t run_start = 0, run_end = 0;  // differing blocks not yet sent
  auto flush = [&]() -> bool {
    if (run_end == run_start) return true;
    const uint64_t off = run_start * kSyncBlockSize;
    const uint64_t len = std::min<uint64_t>(run_end * kSyncBlockSize, size) - off;
    buffer.resize(len);
    ssize_t n = pread(fd, buffer.data(), len, static_cast<off_t>(off));
    if (n < 0) fail_local("cannot read", full(path), errno);
    run_start = run_end;
    if (n == 0) return true;  // shortened meanwhile: a live truncate follows
    written_end = std::max<uint64_t>(written_end, off + static_cast<uint64_t>(n));
    MirrorRequest w;
    w.op = Op::write;
    w.path = path;
    w.inode = l.inode;
    w.offset = off;
    w.length = static_cast<uint64_t>(n);
    w.data = std::as_bytes(std::span<const char>(buffer.data(), static_cast<size_t>(n)));
    w.mtime_after = mtime_of(st);
    progress.bytes_repaired.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    return submit(w);
  };
  for (uint64_t first = 0; first < blocks; first += kChecksumPage) {
    const uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(kChecksumPage, blocks - first));
    InspectionClient::Checksums remote;
    if (first < copy_blocks) {
      remote = copy.checksums(path, first, count);
      if (remote.error != 0) remote.sums.clear();
    }
    local_sums.clear();
    if (int err = block_checksums(fd, first, count, local_sums)) {
      fail_local("cannot read", full(path), err);
    }
    for (uint64_t i = 0; i < local_sums.size(); ++i) {
      const uint64_t b = first + i;
      bool same;
      if (b < copy_blocks) {
        // XXH3 covers the length too: a short last block differs from a full one.
        same = i < remote.sums.size() && remote.sums[i] == local_sums[i];
      } else {
        // Beyond the copy's end it reads as zeros (a hole once it grows).
        static const std::vector<char> zeros(kSyncBlockSize, 0);
        const uint64_t len = std::min<uint64_t>(kSyncBlockSize, size - b * kSyncBlockSize);
        same = local_sums[i] == XXH3_64bits(zeros.data(), len);
      }
      if (same) {
        if (!flush()) return false;
        run_start = run_end = b + 1;
        continue;
      }
      if (!repairing()) {
        differ(path, "contents differ at byte " + std::to_string(b * kSyncBlockSize));
        progress.bytes_done.fetch_add(size - std::min(size, first * kSyncBlockSize),
                                      std::memory_order_relaxed);
        return true;
      }
      if (run_end == run_start) run_start = b;
      run_end = b + 1;
      if ((run_end - run_start) * kSyncBlockSize >= kMaxRepairWrite && !flush()) return false;
    }
    if (!flush()) return false;
    progress.bytes_done.fetch_add(
        std::min<uint64_t>(uint64_t(count) * kSyncBlockSize, size - first * kSyncBlockSize),
        std::memory_order_relaxed);
  }
  if (repairing() && written_end < size) return truncate_copy();
  return true;
}

std::vector<std::string> CopyWalk::Impl::local_xattr_names(const std::string& path) {
  std::vector<std::string> names;
  int fd = open_local(path, O_PATH);
  if (fd < 0) return names;
  xattr_names(fd, names);
  ::close(fd);
  return names;
}

bool CopyWalk::Impl::copy_xattrs(const std::string& path,
                                 const std::vector<std::string>& copy_names) {
  auto names = local_xattr_names(path);
  for (const auto& n : copy_names) {
    if (std::find(names.begin(), names.end(), n) != names.end()) continue;
    MirrorRequest r;
    r.op = Op::removexattr;
    r.path = path;
    r.xattr_name = n;
    if (!submit(r)) return false;
  }
  std::string value(64 * 1024, '\0');
  const std::string where = full(path);
  for (const auto& n : names) {
    ssize_t len = lgetxattr(where.c_str(), n.c_str(), value.data(), value.size());
    if (len < 0) continue;  // removed meanwhile: a live removexattr follows
    MirrorRequest r;
    r.op = Op::setxattr;
    r.path = path;
    r.xattr_name = n;
    r.data = std::as_bytes(std::span<const char>(value.data(), static_cast<size_t>(len)));
    r.length = static_cast<uint64_t>(len);
    if (!submit(r)) return false;
  }
  return true;
}

bool CopyWalk::Impl::fix_attributes(const std::string& path, const EntryDescription& l,
                                    const EntryDescription& c) {
  const bool dir = S_ISDIR(l.mode), symlink = S_ISLNK(l.mode);
  MirrorRequest r;
  r.op = Op::setattr;
  r.path = path;
  r.inode = l.inode;
  if (!symlink && (l.mode & 07777) != (c.mode & 07777)) {
    r.attr.valid |= kAttrMode;
    r.attr.mode = l.mode & 07777;
    char buf[32];
    std::snprintf(buf, sizeof buf, "mode %04o vs %04o", l.mode & 07777, c.mode & 07777);
    if (!repairing()) differ(path, buf);
  }
  if (l.uid != c.uid || l.gid != c.gid) {
    r.attr.valid |= kAttrUid | kAttrGid;
    if (!repairing()) {
      differ(path, "owner " + std::to_string(l.uid) + ":" + std::to_string(l.gid) + " vs " +
                       std::to_string(c.uid) + ":" + std::to_string(c.gid));
    }
  }
  r.attr.uid = l.uid;
  r.attr.gid = l.gid;
  if (!dir && !same_time(l.mtime, c.mtime)) {
    r.attr.valid |= kAttrMtime;
    if (!repairing()) differ(path, "mtime differs");
  }
  r.attr.mtime = l.mtime;
  if (r.attr.valid & (kAttrMode | kAttrUid | kAttrGid)) r.attr.valid |= kAttrMtime;
  if (l.xattr_digest != c.xattr_digest) {
    if (!repairing()) {
      differ(path, "xattrs differ");
    } else {
      auto names = copy.xattr_names(path);
      if (!copy_xattrs(path, names.names)) return false;
    }
  }
  if (!repairing() || r.attr.valid == 0) return true;
  if (dir) r.attr.valid &= ~kAttrMtime;  // set once the directory's entries are done
  return r.attr.valid == 0 || submit(r);
}

bool CopyWalk::Impl::entry(const std::string& path, const EntryDescription* l,
                           const EntryDescription* c, std::vector<std::string>& subdirs) {
  if (!l) {
    if (!repairing()) {
      differ(path, "only on the copy");
      return true;
    }
    progress.differences.fetch_add(1, std::memory_order_relaxed);
    return remove_on_copy(path, *c, LocalGuard::absent);
  }
  progress.files_done.fetch_add(1, std::memory_order_relaxed);
  if (port) port->watch(l->inode);
  const uint64_t watched = port ? port->watched_changes() : 0;
  const uint64_t repairs_before = progress.repairs.load(std::memory_order_relaxed);
  bool ok = entry_once(path, *l, c, subdirs);
  // In a repair, an entry that needed any request was a difference.
  if (repairing() && progress.repairs.load(std::memory_order_relaxed) != repairs_before) {
    progress.differences.fetch_add(1, std::memory_order_relaxed);
  }
  if (port && port->watched_changes() != watched) raced = true;
  return ok;
}

bool CopyWalk::Impl::entry_once(const std::string& path, const EntryDescription& l,
                                const EntryDescription* c, std::vector<std::string>& subdirs) {
  const bool dir = S_ISDIR(l.mode);
  if (!c) {
    if (!repairing()) {
      differ(path, "missing on the copy");
      return true;
    }
    if (!create_on_copy(path, l)) return false;
    if (dir) subdirs.push_back(path);
    return true;
  }
  const bool type_differs = (l.mode & S_IFMT) != (c->mode & S_IFMT) ||
                            (S_ISLNK(l.mode) && l.link_target != c->link_target) ||
                            ((S_ISCHR(l.mode) || S_ISBLK(l.mode)) && l.rdev != c->rdev) ||
                            (S_ISREG(l.mode) && l.nlink == 1 && c->nlink > 1);
  if (type_differs) {
    if (!repairing()) {
      differ(path,
             S_ISLNK(l.mode) && S_ISLNK(c->mode) ? "symlink target differs" : "file type differs");
      return true;
    }
    // Another kind of entry under the name: removed whatever the local one is.
    if (!remove_on_copy(path, *c, LocalGuard::none) || !create_on_copy(path, l)) return false;
    if (dir) subdirs.push_back(path);
    return true;
  }
  if (S_ISREG(l.mode) && l.nlink > 1) {
    auto it = links.find(l.inode);
    if (it != links.end()) {
      if (it->second.copy_inode != 0 && it->second.copy_inode == c->inode) {
        if (--it->second.names_left == 0) links.erase(it);
        return true;  // the same file as its first name, compared there
      }
      if (!repairing()) {
        differ(path, "not a hard link of " + it->second.first_path + " on the copy");
        return true;
      }
      return remove_on_copy(path, *c, LocalGuard::none) && link_on_copy(path, l, it->second);
    }
    links[l.inode] = Linked{path, c->inode, l.nlink - 1};
    if (!repairing() && l.nlink != c->nlink) {
      differ(path, "link count " + std::to_string(l.nlink) + " vs " + std::to_string(c->nlink));
    }
  }
  if (dir) subdirs.push_back(path);
  return fix_existing(path, l, *c);
}

bool CopyWalk::Impl::fix_existing(const std::string& path, const EntryDescription& l,
                                  const EntryDescription& c) {
  if (S_ISREG(l.mode)) {
    const bool suspect = l.size != c.size || !same_time(l.mtime, c.mtime);
    if (suspect || o.mode == WalkMode::verify_checksum || o.compare_all_contents) {
      if (!repair_contents(path, l, c, false)) return false;
    } else {
      progress.bytes_done.fetch_add(l.size, std::memory_order_relaxed);
    }
  }
  return fix_attributes(path, l, c);
}

}  // namespace mirror
