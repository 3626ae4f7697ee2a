// Open files: open, create, read, write, flush, release, fsync, fallocate,
// flock, lseek, copy_file_range. The file handle (fi->fh) is a plain
// descriptor of the backing file.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "fs/op_support.h"
#include "fs/ops.h"

namespace mirrorfs::ops {
namespace {

int fh(const fuse_file_info* fi) { return static_cast<int>(fi->fh); }

// The flags the backing file is opened with.
int backing_flags(const Filesystem& fs, int flags) {
  if (fs.options().writeback_cache) {
    // The kernel may read pages of a file open for writing only, to fill the
    // cache, and computes append offsets itself from the size it caches.
    if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
    flags &= ~O_APPEND;
  }
  // The kernel's buffers are not aligned for the backing file system's direct
  // I/O; O_DIRECT never promised durability (fsync does).
  flags &= ~(O_DIRECT | O_NOFOLLOW);
  return flags | O_CLOEXEC;
}

void set_caching(const Filesystem& fs, fuse_file_info* fi) {
  // Only this mount writes the backing directory: cached pages stay valid
  // across opens.
  fi->keep_cache = fs.options().cache_timeout > 0 ? 1 : 0;
  fi->noflush = 0;
}

int mirror_truncate_on_open(Filesystem& fs, Inode& inode, int fd) {
  ChangeLock order(fs, false);
  mirror::MirrorRequest r;
  if (!describe(fs, inode, mirror::Op::truncate, r)) return 0;
  record_result_of(fs, fd, r);
  r.attr.valid = mirror::kAttrSize;
  r.attr.size = 0;
  return fs.replicate(r);
}

}  // namespace

void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  Inode& inode = fs.inode(ino);
  int fd = ::open(ProcPath(inode.fd.load()).c_str(), backing_flags(fs, fi->flags));
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
    if (int err = mirror_truncate_on_open(fs, inode, fd)) {
      close(fd);
      return (void)fuse_reply_err(req, err);
    }
  }
  fi->fh = static_cast<uint64_t>(fd);
  set_caching(fs, fi);
  if (fuse_reply_open(req, fi) == -ENOENT) close(fd);  // the caller was interrupted
}

void create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  ChangeLock order(fs, true);
  Inode& dir = fs.inode(parent);
  int fd = openat(dir.fd.load(), name, backing_flags(fs, fi->flags) | O_CREAT, mode & 07777);
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  fuse_entry_param e;
  int err = give_to_caller(req, dir.fd.load(), name, S_IFREG | mode);
  if (err == 0) err = lookup_entry(req, parent, name, &e);
  if (err != 0) {
    close(fd);
    return (void)fuse_reply_err(req, err);
  }
  mirror::MirrorRequest r;
  if (describe_child(fs, dir, name, mirror::Op::create, r)) {
    record_result(r, e.attr);
    record_parent(fs, dir, r.parent_mtime_after);
    r.attr.valid = mirror::kAttrMode | mirror::kAttrUid | mirror::kAttrGid;
    r.attr.mode = e.attr.st_mode;
    r.attr.uid = e.attr.st_uid;
    r.attr.gid = e.attr.st_gid;
    r.flags = static_cast<uint32_t>(fi->flags);
    err = fs.replicate(r);
  }
  if (err != 0) {
    close(fd);
    fs.inodes().forget(e.ino, 1);
    return (void)fuse_reply_err(req, err);
  }
  // A new file has no capabilities: the kernel's query before the first
  // write needs no syscall.
  fs.inode(e.ino).capability = CapabilityXattr::absent;
  fi->fh = static_cast<uint64_t>(fd);
  set_caching(fs, fi);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) {
    close(fd);
    fs.inodes().forget(e.ino, 1);
  }
}

void read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  // One buffer per FUSE thread: libfuse's own fallback allocates (and
  // page-faults) a fresh one per read, and splicing 1 MiB reads measured
  // four times slower here.
  thread_local std::vector<char> buffer;
  if (buffer.size() < size) buffer.resize(size);
  ssize_t n = pread(fh(fi), buffer.data(), size, off);
  if (n < 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_buf(req, buffer.data(), static_cast<size_t>(n));
}

void write_buf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in_buf, off_t off,
               fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  size_t size = fuse_buf_size(in_buf);
  // Splice is off, so the bytes normally arrive in one memory buffer; gather
  // them otherwise, since the mirror request needs them in memory.
  std::vector<char> gathered;
  const char* data;
  if (in_buf->count == 1 && !(in_buf->buf[0].flags & FUSE_BUF_IS_FD)) {
    data = static_cast<const char*>(in_buf->buf[0].mem);
  } else {
    gathered.resize(size);
    fuse_bufvec dst = FUSE_BUFVEC_INIT(size);
    dst.buf[0].mem = gathered.data();
    ssize_t n = fuse_buf_copy(&dst, in_buf, FUSE_BUF_NO_SPLICE);
    if (n < 0) return (void)fuse_reply_err(req, static_cast<int>(-n));
    size = static_cast<size_t>(n);
    data = gathered.data();
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fh(fi), data + done, size - done, off + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done == 0) return (void)fuse_reply_err(req, errno);
      break;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ChangeLock order(fs, false);
  mirror::MirrorRequest r;
  if (describe(fs, fs.inode(ino), mirror::Op::write, r)) {
    record_result_of(fs, fh(fi), r);
    r.offset = static_cast<uint64_t>(off);
    r.length = done;
    r.data = std::as_bytes(std::span(data, done));
    if (int err = fs.replicate(r)) return (void)fuse_reply_err(req, err);
  }
  fuse_reply_write(req, done);
}

void release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  close(fh(fi));
  fuse_reply_err(req, 0);
}

void fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  Inode& inode = fs.inode(ino);
  int r = datasync ? fdatasync(fh(fi)) : ::fsync(fh(fi));
  if (r != 0) {
    int expected = 0;
    if (inode.sync_error.compare_exchange_strong(expected, errno)) {
      spdlog::error("fsync of {} failed: {}; later syncs of it will fail too",
                    fs.path_of(inode).value_or("(unlinked file)"), strerror(errno));
    }
  }
  if (int sticky = inode.sync_error.load()) return (void)fuse_reply_err(req, sticky);
  ChangeLock order(fs, false);
  mirror::MirrorRequest m;
  int err = 0;
  if (describe(fs, inode, mirror::Op::fsync, m)) {
    m.flags = datasync ? 1 : 0;
    err = fs.replicate(m);
  }
  fuse_reply_err(req, err);
}

void fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
               fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  if (::fallocate(fh(fi), mode, offset, length) != 0) return (void)fuse_reply_err(req, errno);
  ChangeLock order(fs, false);
  mirror::MirrorRequest r;
  int err = 0;
  if (describe(fs, fs.inode(ino), mirror::Op::fallocate, r)) {
    record_result_of(fs, fh(fi), r);
    r.offset = static_cast<uint64_t>(offset);
    r.length = static_cast<uint64_t>(length);
    r.flags = static_cast<uint32_t>(mode);
    err = fs.replicate(r);
  }
  fuse_reply_err(req, err);
}

void flock(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, int op) {
  fuse_reply_err(req, ::flock(fh(fi), op) == 0 ? 0 : errno);
}

void lseek(fuse_req_t req, fuse_ino_t, off_t off, int whence, fuse_file_info* fi) {
  off_t r = ::lseek(fh(fi), off, whence);
  if (r < 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_lseek(req, r);
}

void copy_file_range(fuse_req_t req, fuse_ino_t, off_t off_in, fuse_file_info* fi_in,
                     fuse_ino_t ino_out, off_t off_out, fuse_file_info* fi_out, size_t len,
                     int flags) {
  Filesystem& fs = Filesystem::of(req);
  off_t out_start = off_out;
  ssize_t n = ::copy_file_range(fh(fi_in), &off_in, fh(fi_out), &off_out, len,
                                static_cast<unsigned>(flags));
  if (n < 0) return (void)fuse_reply_err(req, errno);
  // The mirror has no copy of the source's bytes at hand in general: the
  // copied range travels as writes.
  ChangeLock order(fs, false);
  mirror::MirrorRequest r;
  if (n > 0 && describe(fs, fs.inode(ino_out), mirror::Op::write, r)) {
    record_result_of(fs, fh(fi_out), r);
    std::vector<char> chunk(fs.replicator_mirrors() ? std::min<size_t>(n, 1u << 20) : 0);
    for (off_t pos = out_start; pos < out_start + n && !chunk.empty();) {
      size_t want = std::min<size_t>(chunk.size(), static_cast<size_t>(out_start + n - pos));
      ssize_t got = pread(fh(fi_out), chunk.data(), want, pos);
      if (got <= 0) return (void)fuse_reply_err(req, got < 0 ? errno : EIO);
      r.offset = static_cast<uint64_t>(pos);
      r.length = static_cast<uint64_t>(got);
      r.data = std::as_bytes(std::span(chunk.data(), static_cast<size_t>(got)));
      if (int err = fs.replicate(r)) return (void)fuse_reply_err(req, err);
      pos += got;
    }
    if (!fs.replicator_mirrors()) {
      r.offset = static_cast<uint64_t>(out_start);
      r.length = static_cast<uint64_t>(n);
      if (int err = fs.replicate(r)) return (void)fuse_reply_err(req, err);
    }
  }
  fuse_reply_write(req, static_cast<size_t>(n));
}

}  // namespace mirrorfs::ops
