// Walks the two trees side by side with directory file descriptors (openat,
// fstatat, readlinkat), so that names with odd bytes work and nothing ever
// follows a symlink. Differences are collected as found and sorted at the end.
#include "mirror/tree_compare.h"
#include "mirror/unique_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

namespace mirror {
namespace {

using Fd = UniqueFd;

// Contents are compared this many bytes at a time.
constexpr off_t kChunkSize = 1 << 20;

[[noreturn]] void throw_errno(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}

// errno values that mean the tree changed under us rather than that it is
// unreadable; the walk reports these as differences instead of throwing.
bool changed_meanwhile(int err) {
  return err == ENOENT || err == ENOTDIR || err == ELOOP;
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

const char* type_name(mode_t mode) {
  static const std::map<mode_t, const char*> kNames = {
      {S_IFREG, "regular file"}, {S_IFDIR, "directory"}, {S_IFLNK, "symlink"},
      {S_IFIFO, "fifo"},         {S_IFSOCK, "socket"},   {S_IFCHR, "char device"},
      {S_IFBLK, "block device"}};
  auto it = kNames.find(mode & S_IFMT);
  return it == kNames.end() ? "unknown type" : it->second;
}

std::string device(dev_t rdev) {
  return std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
}

std::string octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string timestamp(const struct timespec& ts) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(ts.tv_sec), ts.tv_nsec);
  return buf;
}

// Names in a directory without "." and "..", sorted bytewise.
std::vector<std::string> list_dir(int dirfd, const std::string& path) {
  // A fresh descriptor: fdopendir takes ownership and we keep dirfd for openat.
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open directory", path);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    errno = err;
    throw_errno("cannot open directory", path);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const struct dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) {
    errno = err;
    throw_errno("cannot read directory", path);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// nullopt when the entry vanished after it was listed.
std::optional<struct stat> stat_at(int dirfd, const std::string& name, const std::string& path) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
  if (changed_meanwhile(errno)) return std::nullopt;
  throw_errno("cannot stat", path);
}

// Invalid Fd when the entry vanished or was replaced by a symlink meanwhile.
Fd open_at(int dirfd, const std::string& name, int flags, const std::string& path) {
  int fd = ::openat(dirfd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && !changed_meanwhile(errno)) throw_errno("cannot open", path);
  return Fd(fd);
}

// Reads up to len bytes at offset; fewer only at end of file.
size_t read_at(int fd, char* buf, size_t len, off_t offset, const std::string& path) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, buf + done, len - done, offset + done);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path);
    }
    done += n;
  }
  return done;
}

// The next offset >= pos that starts data (SEEK_DATA) or a hole (SEEK_HOLE),
// never beyond size. A file system without hole support is all data.
off_t seek(int fd, off_t pos, int whence, off_t size) {
  off_t found = ::lseek(fd, pos, whence);
  if (found >= 0) return std::min(found, size);
  if (errno == ENXIO) return size;
  return whence == SEEK_DATA ? pos : size;
}

std::string describe_links(const std::vector<std::string>& mates, const char* tree) {
  if (mates.empty()) return std::string("not hard-linked in ") + tree;
  std::string out = "hard-linked with ";
  for (size_t i = 0; i < mates.size(); ++i) out += (i ? ", " : "") + mates[i];
  return out + " in " + tree;
}

// One side of the comparison, and the hard links seen in it.
struct Tree {
  Tree(std::string root, const char* name) : root(std::move(root)), name(name) {}

  std::string root;
  const char* name;                                         // "a" or "b"
  std::map<std::string, std::pair<dev_t, ino_t>> inode_of;  // entries with st_nlink > 1
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> paths_of;

  std::string full(const std::string& rel) const { return rel.empty() ? root : root + "/" + rel; }

  void note_links(const std::string& rel, const struct stat& st) {
    if (S_ISDIR(st.st_mode) || st.st_nlink <= 1) return;
    std::pair<dev_t, ino_t> key{st.st_dev, st.st_ino};
    inode_of[rel] = key;
    paths_of[key].push_back(rel);
  }

  // The other paths of this tree that are the same inode as rel, sorted.
  std::vector<std::string> link_mates(const std::string& rel) const {
    auto it = inode_of.find(rel);
    if (it == inode_of.end()) return {};
    std::vector<std::string> mates;
    for (const std::string& path : paths_of.at(it->second)) {
      if (path != rel) mates.push_back(path);
    }
    std::sort(mates.begin(), mates.end());
    return mates;
  }
};

class Comparer {
 public:
  Comparer(const std::string& a, const std::string& b, const TreeCompareOptions& options)
      : options_(options), a_{a, "a"}, b_{b, "b"} {
    for (std::string path : options.ignore) {
      while (path.size() > 1 && path.back() == '/') path.pop_back();
      if (path.starts_with("./")) path.erase(0, 2);
      ignore_.insert(path);
    }
  }

  std::vector<TreeDifference> run() {
    struct stat sa, sb;
    Fd fa = open_root(a_, &sa), fb = open_root(b_, &sb);
    compare_entry(fa.get(), fb.get(), ".", "", sa, sb);
    for (const std::string& rel : link_candidates_) {
      std::vector<std::string> mates_a = a_.link_mates(rel), mates_b = b_.link_mates(rel);
      if (mates_a != mates_b) {
        add(rel, describe_links(mates_a, "a") + "; " + describe_links(mates_b, "b"));
      }
    }
    std::stable_sort(
        differences_.begin(), differences_.end(),
        [](const TreeDifference& x, const TreeDifference& y) { return x.path < y.path; });
    return std::move(differences_);
  }

 private:
  // The root itself is followed if it is a symlink: the caller named it.
  static Fd open_root(const Tree& tree, struct stat* st) {
    Fd fd(::open(tree.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) throw_errno("cannot open tree", tree.root);
    if (::fstat(fd.get(), st) != 0) throw_errno("cannot stat", tree.root);
    return fd;
  }

  void add(const std::string& rel, std::string what) {
    differences_.push_back({rel, std::move(what)});
  }

  void changed(const std::string& rel, const Tree& tree) {
    add(rel, std::string("changed during comparison in ") + tree.name);
  }

  // Both directories are open; visits every name listed in either.
  void compare_dirs(int fa, int fb, const std::string& dir) {
    std::vector<std::string> names_a = list_dir(fa, a_.full(dir));
    std::vector<std::string> names_b = list_dir(fb, b_.full(dir));
    std::set<std::string> names(names_a.begin(), names_a.end());
    names.insert(names_b.begin(), names_b.end());
    for (const std::string& name : names) {
      const bool in_a = std::binary_search(names_a.begin(), names_a.end(), name);
      const bool in_b = std::binary_search(names_b.begin(), names_b.end(), name);
      visit(in_a ? fa : -1, in_b ? fb : -1, dir, name);
    }
  }

  // A name listed in a (fa >= 0), in b (fb >= 0), or in both.
  void visit(int fa, int fb, const std::string& dir, const std::string& name) {
    const std::string rel = join(dir, name);
    if (ignore_.contains(rel)) return;
    std::optional<struct stat> sa, sb;
    if (fa >= 0) sa = stat_at(fa, name, a_.full(rel));
    if (fb >= 0) sb = stat_at(fb, name, b_.full(rel));
    if (sa && sb) return compare_entry(fa, fb, name, rel, *sa, *sb);
    // Only the topmost path of a one-sided subtree is reported, but the
    // subtree is still walked: its hard links count for the link structure.
    if (sa) {
      add(rel, "only in a");
      census(a_, fa, name, rel, *sa);
    }
    if (sb) {
      add(rel, "only in b");
      census(b_, fb, name, rel, *sb);
    }
  }

  // Records the hard links of an entry, and beneath it if it is a directory,
  // without comparing anything.
  void census(Tree& tree, int dirfd, const std::string& name, const std::string& rel,
              const struct stat& st) {
    if (!S_ISDIR(st.st_mode)) return tree.note_links(rel, st);
    Fd fd = open_at(dirfd, name, O_RDONLY | O_DIRECTORY, tree.full(rel));
    if (!fd.valid()) return;
    for (const std::string& child : list_dir(fd.get(), tree.full(rel))) {
      const std::string child_rel = join(rel, child);
      if (ignore_.contains(child_rel)) continue;
      if (auto child_st = stat_at(fd.get(), child, tree.full(child_rel))) {
        census(tree, fd.get(), child, child_rel, *child_st);
      }
    }
  }

  // name is relative to the directories fa and fb; rel to the roots.
  void compare_entry(int fa, int fb, const std::string& name, const std::string& rel,
                     const struct stat& sa, const struct stat& sb) {
    const bool dir_a = S_ISDIR(sa.st_mode), dir_b = S_ISDIR(sb.st_mode);
    if (!dir_a || !dir_b) {
      census(a_, fa, name, rel, sa);
      census(b_, fb, name, rel, sb);
      if (!dir_a && !dir_b && (sa.st_nlink > 1 || sb.st_nlink > 1)) link_candidates_.push_back(rel);
    }
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
      return add(rel,
                 std::string("type ") + type_name(sa.st_mode) + " vs " + type_name(sb.st_mode));
    }
    compare_attributes(fa, fb, name, rel, sa, sb);
    if (!dir_a) return;
    Fd sub_a = open_at(fa, name, O_RDONLY | O_DIRECTORY, a_.full(rel));
    Fd sub_b = open_at(fb, name, O_RDONLY | O_DIRECTORY, b_.full(rel));
    if (!sub_a.valid()) return changed(rel, a_);
    if (!sub_b.valid()) return changed(rel, b_);
    compare_dirs(sub_a.get(), sub_b.get(), rel);
  }

  // Everything but presence and type, which already match.
  void compare_attributes(int fa, int fb, const std::string& name, const std::string& rel,
                          const struct stat& sa, const struct stat& sb) {
    const mode_t type = sa.st_mode & S_IFMT;
    if (type == S_IFREG) {
      if (sa.st_size != sb.st_size) {
        add(rel, "size " + std::to_string(sa.st_size) + " vs " + std::to_string(sb.st_size));
      } else if (options_.compare_contents && sa.st_size > 0) {
        compare_contents(fa, fb, name, rel, sa.st_size);
      }
    } else if (type == S_IFLNK) {
      std::optional<std::string> target_a = read_link(fa, name, rel, a_);
      std::optional<std::string> target_b = read_link(fb, name, rel, b_);
      if (target_a && target_b && *target_a != *target_b) {
        add(rel, "symlink target '" + *target_a + "' vs '" + *target_b + "'");
      }
    } else if ((type == S_IFCHR || type == S_IFBLK) && sa.st_rdev != sb.st_rdev) {
      add(rel, "device " + device(sa.st_rdev) + " vs " + device(sb.st_rdev));
    }
    // A symlink's permission bits are always 0777 on Linux and cannot be set.
    if (type != S_IFLNK && (sa.st_mode & 07777) != (sb.st_mode & 07777)) {
      add(rel, "mode " + octal(sa.st_mode) + " vs " + octal(sb.st_mode));
    }
    if (options_.compare_owners && (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid)) {
      add(rel, "owner " + std::to_string(sa.st_uid) + ":" + std::to_string(sa.st_gid) + " vs " +
                   std::to_string(sb.st_uid) + ":" + std::to_string(sb.st_gid));
    }
    if (options_.compare_mtimes && (type == S_IFREG || type == S_IFDIR || type == S_IFLNK) &&
        (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)) {
      add(rel, "mtime " + timestamp(sa.st_mtim) + " vs " + timestamp(sb.st_mtim));
    }
    if (options_.compare_xattrs) compare_xattrs(rel);
  }

  // Linux keeps symlink targets shorter than PATH_MAX.
  std::optional<std::string> read_link(int dirfd, const std::string& name, const std::string& rel,
                                       const Tree& tree) {
    std::string target(PATH_MAX, '\0');
    ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
    if (n >= 0) return target.substr(0, n);
    if (!changed_meanwhile(errno) && errno != EINVAL) {
      throw_errno("cannot read symlink", tree.full(rel));
    }
    changed(rel, tree);  // EINVAL: no longer a symlink
    return std::nullopt;
  }

  void compare_contents(int fa, int fb, const std::string& name, const std::string& rel,
                        off_t size) {
    // O_NONBLOCK: should a fifo have taken the file's place, open must not hang.
    Fd file_a = open_at(fa, name, O_RDONLY | O_NONBLOCK, a_.full(rel));
    Fd file_b = open_at(fb, name, O_RDONLY | O_NONBLOCK, b_.full(rel));
    if (!file_a.valid()) return changed(rel, a_);
    if (!file_b.valid()) return changed(rel, b_);
    if (std::optional<off_t> at = first_difference(file_a.get(), file_b.get(), size, rel)) {
      add(rel, "contents differ at byte " + std::to_string(*at));
    }
  }

  // Holes read as zeros, so a stretch that is a hole in both files is equal
  // without reading it: only stretches where either file has data are read.
  std::optional<off_t> first_difference(int fa, int fb, off_t size, const std::string& rel) {
    buffer_a_.resize(kChunkSize);
    buffer_b_.resize(kChunkSize);
    off_t pos = 0;
    while (pos < size) {
      pos = std::min(seek(fa, pos, SEEK_DATA, size), seek(fb, pos, SEEK_DATA, size));
      if (pos >= size) break;
      off_t end = std::min(size, pos + kChunkSize);
      off_t data_end = std::max(seek(fa, pos, SEEK_HOLE, size), seek(fb, pos, SEEK_HOLE, size));
      if (data_end > pos) end = std::min(end, data_end);
      size_t len = end - pos;
      size_t got_a = read_at(fa, buffer_a_.data(), len, pos, a_.full(rel));
      size_t got_b = read_at(fb, buffer_b_.data(), len, pos, b_.full(rel));
      size_t common = std::min(got_a, got_b);
      auto [at, unused] =
          std::mismatch(buffer_a_.begin(), buffer_a_.begin() + common, buffer_b_.begin());
      if (at != buffer_a_.begin() + common) return pos + (at - buffer_a_.begin());
      // A short read means a file shrank while we compared: not equal.
      if (got_a != len || got_b != len) return pos + common;
      pos = end;
    }
    return std::nullopt;
  }

  // Linux caps a file's list of xattr names and each value at 64 KiB
  // (XATTR_LIST_MAX, XATTR_SIZE_MAX), so one buffer of that size always fits.
  std::map<std::string, std::string> read_xattrs(const std::string& path) {
    std::string& names = xattr_names_;
    std::string& value = xattr_value_;
    names.resize(XATTR_LIST_MAX);  // no-ops after the first call
    value.resize(XATTR_SIZE_MAX);
    const ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
    if (n < 0) {
      if (errno == ENOTSUP || changed_meanwhile(errno)) return {};
      throw_errno("cannot list xattrs of", path);
    }
    std::map<std::string, std::string> xattrs;
    for (ssize_t at = 0; at < n; at += std::strlen(names.c_str() + at) + 1) {
      const char* name = names.c_str() + at;
      ssize_t size = ::lgetxattr(path.c_str(), name, value.data(), value.size());
      if (size >= 0) {
        xattrs.emplace(name, value.substr(0, size));
      } else if (errno != ENODATA && !changed_meanwhile(errno)) {
        throw_errno(std::string("cannot read xattr ") + name + " of", path);
      }
    }
    return xattrs;
  }

  void compare_xattrs(const std::string& rel) {
    std::map<std::string, std::string> xa = read_xattrs(a_.full(rel));
    std::map<std::string, std::string> xb = read_xattrs(b_.full(rel));
    for (const auto& [name, value] : xa) {
      auto it = xb.find(name);
      if (it == xb.end()) {
        add(rel, "xattr " + name + " only in a");
      } else if (it->second != value) {
        add(rel, "xattr " + name + " differs");
      }
    }
    for (const auto& [name, value] : xb) {
      if (!xa.contains(name)) add(rel, "xattr " + name + " only in b");
    }
  }

  const TreeCompareOptions& options_;
  std::set<std::string> ignore_;
  Tree a_, b_;
  std::vector<std::string> link_candidates_;  // non-directories in both trees, linked in one
  std::vector<char> buffer_a_, buffer_b_;     // scratch, kept across files
  std::string xattr_names_, xattr_value_;
  std::vector<TreeDifference> differences_;
};

}  // namespace

std::vector<TreeDifference> compare_trees(const std::string& a, const std::string& b,
                                          const TreeCompareOptions& options) {
  return Comparer(a, b, options).run();
}

std::string format_differences(const std::vector<TreeDifference>& differences, size_t limit) {
  std::string out;
  const size_t shown = std::min(limit, differences.size());
  for (size_t i = 0; i < shown; ++i) {
    const TreeDifference& d = differences[i];
    out += (d.path.empty() ? "." : d.path) + ": " + d.what + "\n";
  }
  if (differences.size() > shown) {
    out += "... and " + std::to_string(differences.size() - shown) + " more\n";
  }
  return out;
}

}  // namespace mirror
