// Directory listing: opendir, readdir, readdirplus, releasedir, fsyncdir.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "fs/op_support.h"
#include "fs/ops.h"

namespace mirrorfs::ops {
namespace {

struct DirHandle {
  DIR* dp = nullptr;
  off_t offset = 0;
  dirent* entry = nullptr;  // read but not yet returned (did not fit)
  ~DirHandle() {
    if (dp != nullptr) closedir(dp);
  }
};

DirHandle& handle(fuse_file_info* fi) { return *reinterpret_cast<DirHandle*>(fi->fh); }

bool is_dot_or_dotdot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  Filesystem& fs = Filesystem::of(req);
  DirHandle& d = handle(fi);
  std::vector<char> buf(size);
  char* p = buf.data();
  size_t rem = size;
  int err = 0;
  if (off != d.offset) {
    seekdir(d.dp, off);
    d.entry = nullptr;
    d.offset = off;
  }
  for (;;) {
    if (d.entry == nullptr) {
      errno = 0;
      d.entry = ::readdir(d.dp);
      if (d.entry == nullptr) {
        err = errno;
        break;
      }
    }
    const char* name = d.entry->d_name;
    off_t next = d.entry->d_off;
    size_t used;
    if (plus) {
      fuse_entry_param e{};
      if (is_dot_or_dotdot(name)) {
        e.attr.st_ino = d.entry->d_ino;
        e.attr.st_mode = static_cast<mode_t>(d.entry->d_type) << 12;
      } else if ((err = lookup_entry(req, ino, name, &e)) != 0) {
        if (err == ENOENT) {  // vanished meanwhile: skip it
          err = 0;
          d.entry = nullptr;
          continue;
        }
        break;
      }
      used = fuse_add_direntry_plus(req, p, rem, name, &e, next);
      if (used > rem) {
        if (e.ino != 0) fs.inodes().forget(e.ino, 1);
        break;
      }
    } else {
      struct stat st{};
      st.st_ino = d.entry->d_ino;
      st.st_mode = static_cast<mode_t>(d.entry->d_type) << 12;
      used = fuse_add_direntry(req, p, rem, name, &st, next);
      if (used > rem) break;
    }
    p += used;
    rem -= used;
    d.entry = nullptr;
    d.offset = next;
  }
  // An error after some entries were added is reported on the next call.
  if (err != 0 && rem == size) return (void)fuse_reply_err(req, err);
  fuse_reply_buf(req, buf.data(), size - rem);
}

}  // namespace

void opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  int fd = openat(fs.inode(ino).fd.load(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  auto d = std::make_unique<DirHandle>();
  d->dp = fdopendir(fd);
  if (d->dp == nullptr) {
    int err = errno;
    close(fd);
    return (void)fuse_reply_err(req, err);
  }
  fi->fh = reinterpret_cast<uint64_t>(d.get());
  // Listings stay valid until this mount changes the directory.
  if (fs.options().cache_timeout > 0) {
    fi->keep_cache = 1;
    fi->cache_readdir = 1;
  }
  if (fuse_reply_open(req, fi) == 0) d.release();
}

void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  list(req, ino, size, off, fi, false);
}

void readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  list(req, ino, size, off, fi, true);
}

void releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete &handle(fi);
  fuse_reply_err(req, 0);
}

void fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  Filesystem& fs = Filesystem::of(req);
  int fd = dirfd(handle(fi).dp);
  if ((datasync ? fdatasync(fd) : ::fsync(fd)) != 0) return (void)fuse_reply_err(req, errno);
  ChangeLock order(fs, false);
  mirror::MirrorRequest r;
  int err = 0;
  if (describe(fs, fs.inode(ino), mirror::Op::fsync, r)) {
    r.flags = datasync ? 1 : 0;
    err = fs.replicate(r);
  }
  fuse_reply_err(req, err);
}

}  // namespace mirrorfs::ops
