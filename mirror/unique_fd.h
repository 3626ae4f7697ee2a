// A file descriptor owned by one object and closed with it, and the
// /proc/self/fd path of a descriptor. Internal to mirror/.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <utility>

namespace mirror {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// "/proc/self/fd/N" reaches exactly the inode behind a descriptor, O_PATH
// ones included, for calls with no descriptor form that takes them (chmod,
// the xattr calls, reopening). The kernel does not follow the inode further:
// for a symlink's O_PATH descriptor it names the symlink itself.
struct ProcPath {
  explicit ProcPath(int fd) { std::snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd); }
  const char* c_str() const { return buf; }
  char buf[32];
};

// Opens the inode behind an O_PATH descriptor through /proc/self/fd: the
// inode found, not whatever its name holds now. 0 or an errno.
inline int reopen(const UniqueFd& node, int flags, UniqueFd& out) {
  out = UniqueFd(::open(ProcPath(node.get()).c_str(), flags | O_CLOEXEC | O_NOCTTY));
  return out.valid() ? 0 : errno;
}

}  // namespace mirror
