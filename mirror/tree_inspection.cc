// Describes one side's tree with descriptors only (openat, fstat, readlinkat
// and the xattr calls through /proc/self/fd), so that nothing ever follows a
// symlink and both sides describe equal trees alike.
#include "mirror/tree_inspection.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <set>
#include <string_view>
#include <utility>

#include "heartbeat/coding.h"
#include "mirror/unique_fd.h"

namespace mirror {
namespace {

using Fd = UniqueFd;

bool no_xattrs(int err) {
  return err == ENOTSUP || err == EOPNOTSUPP;
}

// The NUL-separated list of names; ERANGE means the list grew between the
// size query and the read, so ask again.
int list_names(const char* path, std::vector<std::string>& out) {
  out.clear();
  std::string buf;
  for (;;) {
    ssize_t n = ::listxattr(path, nullptr, 0);
    if (n < 0) return no_xattrs(errno) ? 0 : errno;
    if (n == 0) return 0;
    buf.resize(static_cast<size_t>(n));
    n = ::listxattr(path, buf.data(), buf.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return errno;
    buf.resize(static_cast<size_t>(n));
    break;
  }
  for (size_t at = 0; at < buf.size();) {
    size_t end = buf.find('\0', at);
    if (end == std::string::npos) end = buf.size();
    if (end > at) out.emplace_back(buf, at, end - at);
    at = end + 1;
  }
  std::sort(out.begin(), out.end());
  return 0;
}

// ENODATA: the attribute was removed after it was listed.
int read_value(const char* path, const std::string& name, std::string& value) {
  for (;;) {
    ssize_t n = ::getxattr(path, name.c_str(), nullptr, 0);
    if (n < 0) return errno;
    value.resize(static_cast<size_t>(n));
    if (n == 0) return 0;
    n = ::getxattr(path, name.c_str(), value.data(), value.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return errno;
    value.resize(static_cast<size_t>(n));
    return 0;
  }
}

}  // namespace

int xattr_digest(int fd, uint64_t& out) {
  out = 0;
  ProcPath path(fd);
  std::vector<std::string> names;
  if (int err = list_names(path.c_str(), names)) return err;
  if (names.empty()) return 0;
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  std::string value;
  std::vector<std::byte> length;
  for (const std::string& name : names) {
    int err = read_value(path.c_str(), name, value);
    if (err == ENODATA) continue;
    if (err != 0) return err;
    // Name, NUL, value length, value: unambiguous whatever the bytes.
    XXH3_64bits_update(&state, name.c_str(), name.size() + 1);
    length.clear();
    heartbeat::coding::put<uint32_t>(length, static_cast<uint32_t>(value.size()));
    XXH3_64bits_update(&state, length.data(), length.size());
    XXH3_64bits_update(&state, value.data(), value.size());
  }
  out = XXH3_64bits_digest(&state);
  return 0;
}

bool EntryDescription::operator==(const EntryDescription& o) const {
  // Not the inode: it names the file on one side only.
  return name == o.name && mode == o.mode && uid == o.uid && gid == o.gid && size == o.size &&
         nlink == o.nlink && rdev == o.rdev && mtime.tv_sec == o.mtime.tv_sec &&
         mtime.tv_nsec == o.mtime.tv_nsec && xattr_digest == o.xattr_digest &&
         link_target == o.link_target;
}

int describe_entry(int dir_fd, const std::string& name, EntryDescription& out) {
  // One O_PATH descriptor for everything, so that stat, target and xattrs
  // all describe the same inode even if the name is replaced meanwhile.
  Fd fd(::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return errno;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errno;
  out = EntryDescription{};
  out.name = name;
  out.mode = st.st_mode;
  out.uid = st.st_uid;
  out.gid = st.st_gid;
  out.inode = st.st_ino;
  out.mtime = st.st_mtim;
  if (S_ISDIR(st.st_mode)) {
    // A directory's size and link count depend on the file system (ext4
    // and tmpfs differ) and follow from its entries: not compared.
    out.size = 0;
    out.nlink = 0;
  } else {
    out.size = static_cast<uint64_t>(st.st_size);
    out.nlink = st.st_nlink;
  }
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) out.rdev = st.st_rdev;
  if (S_ISLNK(st.st_mode)) {
    // Linux keeps symlink targets shorter than PATH_MAX.
    std::string target(PATH_MAX, '\0');
    ssize_t n = ::readlinkat(fd.get(), "", target.data(), target.size());
    if (n < 0) return errno;
    target.resize(static_cast<size_t>(n));
    out.link_target = std::move(target);
  }
  return xattr_digest(fd.get(), out.xattr_digest);
}

int list_directory(int dir_fd, const std::string& after, size_t max_entries,
                   std::vector<EntryDescription>& out, bool& more) {
  out.clear();
  more = false;
  // A fresh open of the directory: fdopendir takes it over, and its offset
  // is its own (a dup would share dir_fd's).
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return err;
  }
  // Only the first max_entries + 1 names after `after` are kept, so a page
  // of a huge directory costs memory for the page, not for the directory.
  std::set<std::string> names;
  int err = 0;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      err = errno;
      break;
    }
    std::string_view name = entry->d_name;
    if (name == "." || name == ".." || name <= after) continue;
    if (names.size() > max_entries && name >= *names.rbegin()) continue;
    names.emplace(name);
    if (names.size() > max_entries + 1) names.erase(std::prev(names.end()));
  }
  ::closedir(dir);
  if (err != 0) return err;
  if (names.size() > max_entries) {
    more = true;
    names.erase(std::prev(names.end()));
  }
  out.reserve(names.size());
  for (const std::string& name : names) {
    EntryDescription e;
    int rc = describe_entry(dir_fd, name, e);
    if (rc == ENOENT) continue;  // removed since it was listed
    if (rc != 0) return rc;
    out.push_back(std::move(e));
  }
  return 0;
}

uint64_t xattr_digest(int fd) {
  uint64_t digest = 0;
  xattr_digest(fd, digest);
  return digest;
}

int xattr_names(int fd, std::vector<std::string>& out) {
  return list_names(ProcPath(fd).c_str(), out);
}

int block_checksums(int fd, uint64_t first, uint32_t count, std::vector<uint64_t>& out) {
  out.clear();
  // A block that cannot start at a file offset lies beyond every file's end.
  if (first > static_cast<uint64_t>(INT64_MAX) / kSyncBlockSize) return 0;
  std::vector<char> block(kSyncBlockSize);
  out.reserve(std::min<uint32_t>(count, 1024));
  for (uint64_t b = first; b < first + count; ++b) {
    const auto start = static_cast<off_t>(b * kSyncBlockSize);
    size_t got = 0;
    while (got < block.size()) {
      ssize_t n = ::pread(fd, block.data() + got, block.size() - got, start + got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    if (got == 0) break;  // the end of the file
    out.push_back(XXH3_64bits(block.data(), got));
    if (got < block.size()) break;  // the short last block
  }
  return 0;
}

}  // namespace mirror
