#include "fs/filesystem.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <system_error>

#include "fs/ops.h"

namespace mirrorfs {
namespace {

int open_backing_root(const std::string& path, struct stat* st) {
  int fd = open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, st) != 0) {
    throw std::system_error(errno, std::generic_category(), "backing directory " + path);
  }
  return fd;
}

InodeTable make_table(const std::string& backing) {
  struct stat st;
  int fd = open_backing_root(backing, &st);
  return InodeTable(fd, st);
}

constexpr std::string_view kDeleted = " (deleted)";

}  // namespace

Filesystem::Filesystem(const MountOptions& options, mirror::Replicator& replicator)
    : options_(options),
      replicator_(replicator),
      inodes_(make_table(options.backing)),
      reclaimer_(inodes_, inode_limit_for_descriptors(), inode_limit_for_descriptors() * 7 / 10) {}

std::optional<std::string> Filesystem::path_of(Inode& inode) {
  if (&inode == &inodes_.root()) return std::string();
  for (int attempt = 0; attempt < 2; ++attempt) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", inode.fd.load());
    char buf[PATH_MAX + 1];
    ssize_t n = ::readlink(proc, buf, PATH_MAX);
    if (n < 0) {
      spdlog::error("cannot resolve the path of inode {}: {}", inode.key.ino, strerror(errno));
      return std::nullopt;
    }
    std::string_view path(buf, static_cast<size_t>(n));
    const std::string& root = options_.backing;
    if (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/' &&
        !path.ends_with(kDeleted)) {
      return std::string(path.substr(root.size() + 1));
    }
    // The name this descriptor was opened by is gone: the file may live on
    // under another (hard-linked) name.
    struct stat st;
    if (fstatat(inode.fd.load(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 ||
        st.st_nlink == 0 || !inodes_.reattach(inode)) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<std::string> Filesystem::child_path(Inode& parent, const char* name) {
  auto dir = path_of(parent);
  if (!dir) return std::nullopt;
  if (dir->empty()) return std::string(name);
  return *dir + "/" + name;
}

int Filesystem::replicate(const mirror::MirrorRequest& request) {
  SPDLOG_TRACE("mutation {} {} {}", mirror::to_string(request.op), request.path, request.target);
  int err = replicator_.replicate(request);
  if (err != 0) {
    spdlog::warn("{} {}: mirroring failed: {}", mirror::to_string(request.op), request.path,
                 strerror(err));
  }
  return err;
}

const fuse_lowlevel_ops& Filesystem::operations() {
  static const fuse_lowlevel_ops table = [] {
    fuse_lowlevel_ops o{};
    o.init = ops::init;
    o.lookup = ops::lookup;
    o.forget = ops::forget;
    o.forget_multi = ops::forget_multi;
    o.getattr = ops::getattr;
    o.setattr = ops::setattr;
    o.readlink = ops::readlink;
    o.mknod = ops::mknod;
    o.mkdir = ops::mkdir;
    o.symlink = ops::symlink;
    o.link = ops::link;
    o.unlink = ops::unlink;
    o.rmdir = ops::rmdir;
    o.rename = ops::rename;
    o.statfs = ops::statfs;
    o.open = ops::open;
    o.create = ops::create;
    o.read = ops::read;
    o.write_buf = ops::write_buf;
    // No flush: the backing directory is local, so close has nothing to do
    // before release; the kernel stops sending FLUSH (one round trip per close).
    o.release = ops::release;
    o.fsync = ops::fsync;
    o.fallocate = ops::fallocate;
    o.flock = ops::flock;
    o.lseek = ops::lseek;
    o.copy_file_range = ops::copy_file_range;
    o.opendir = ops::opendir;
    o.readdir = ops::readdir;
    o.readdirplus = ops::readdirplus;
    o.releasedir = ops::releasedir;
    o.fsyncdir = ops::fsyncdir;
    o.setxattr = ops::setxattr;
    o.getxattr = ops::getxattr;
    o.listxattr = ops::listxattr;
    o.removexattr = ops::removexattr;
    return o;
  }();
  return table;
}

namespace ops {

void init(void* userdata, fuse_conn_info* conn) {
  auto& fs = *static_cast<Filesystem*>(userdata);
  // The mount is the only writer of its backing directory, so the kernel may
  // keep written pages and send them in large batches.
  if (fs.options().writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
    conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  }
  if (conn->capable & FUSE_CAP_FLOCK_LOCKS) conn->want |= FUSE_CAP_FLOCK_LOCKS;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  // The kernel clears suid/sgid and capabilities itself (through setattr and
  // removexattr), so those changes are seen, applied and mirrored like any other.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  // Mirroring needs every write's bytes in memory, and reads are faster from
  // a reused buffer than spliced (see ops::read): no splice either way.
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  // Large writes: fewer round trips, and whole blocks for the mirror.
  conn->max_write = 1u << 20;
  conn->max_readahead = 1u << 20;
  spdlog::debug("connection: proto {}.{}, max_write {}, writeback {}", conn->proto_major,
                conn->proto_minor, conn->max_write,
                (conn->want & FUSE_CAP_WRITEBACK_CACHE) != 0);
}

}  // namespace ops
}  // namespace mirrorfs
