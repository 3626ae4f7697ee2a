// Extended attributes. The kernel asks for security.capability before every
// write; the answer is cached per inode so that it costs no syscall.
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "fs/op_support.h"
#include "fs/ops.h"

namespace mirrorfs::ops {
namespace {

constexpr const char* kCapability = "security.capability";

bool is_capability(const char* name) { return std::strcmp(name, kCapability) == 0; }

// Replies to a get/list call: the size when asked for it, else the bytes.
void reply_value(fuse_req_t req, ssize_t n, const std::vector<char>& buf, size_t size) {
  if (n < 0) return (void)fuse_reply_err(req, errno);
  if (size == 0) return (void)fuse_reply_xattr(req, static_cast<size_t>(n));
  fuse_reply_buf(req, buf.data(), static_cast<size_t>(n));
}

}  // namespace

void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Inode& inode = Filesystem::of(req).inode(ino);
  bool cap = is_capability(name);
  if (cap && inode.capability.load() == CapabilityXattr::absent) {
    return (void)fuse_reply_err(req, ENODATA);
  }
  std::vector<char> buf(size);
  ssize_t n = ::getxattr(ProcPath(inode.fd.load()).c_str(), name, size ? buf.data() : nullptr, size);
  if (cap) {
    if (n >= 0) {
      inode.capability = CapabilityXattr::present;
    } else if (errno == ENODATA || errno == ENOTSUP) {
      inode.capability = CapabilityXattr::absent;
    }
  }
  reply_value(req, n, buf, size);
}

void listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Inode& inode = Filesystem::of(req).inode(ino);
  std::vector<char> buf(size);
  ssize_t n = ::listxattr(ProcPath(inode.fd.load()).c_str(), size ? buf.data() : nullptr, size);
  reply_value(req, n, buf, size);
}

void setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  Filesystem& fs = Filesystem::of(req);
  Inode& inode = fs.inode(ino);
  if (::setxattr(ProcPath(inode.fd.load()).c_str(), name, value, size, flags) != 0) {
    return (void)fuse_reply_err(req, errno);
  }
  if (is_capability(name)) inode.capability = CapabilityXattr::present;
  ChangeLock order(fs, false);
  mirror::MirrorRequest r;
  int err = 0;
  if (describe(fs, inode, mirror::Op::setxattr, r)) {
    r.xattr_name = name;
    r.data = std::as_bytes(std::span(value, size));
    r.length = size;
    r.flags = static_cast<uint32_t>(flags);
    err = fs.replicate(r);
  }
  fuse_reply_err(req, err);
}

void removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Filesystem& fs = Filesystem::of(req);
  Inode& inode = fs.inode(ino);
  if (::removexattr(ProcPath(inode.fd.load()).c_str(), name) != 0) {
    return (void)fuse_reply_err(req, errno);
  }
  if (is_capability(name)) inode.capability = CapabilityXattr::absent;
  ChangeLock order(fs, false);
  mirror::MirrorRequest r;
  int err = 0;
  if (describe(fs, inode, mirror::Op::removexattr, r)) {
    r.xattr_name = name;
    err = fs.replicate(r);
  }
  fuse_reply_err(req, err);
}

}  // namespace mirrorfs::ops
