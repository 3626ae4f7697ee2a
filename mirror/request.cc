// Names of operations, for logs and errors.
#include "mirror/request.h"

namespace mirror {

const char* to_string(Op op) {
  switch (op) {
    case Op::write: return "write";
    case Op::truncate: return "truncate";
    case Op::create: return "create";
    case Op::mknod: return "mknod";
    case Op::mkdir: return "mkdir";
    case Op::unlink: return "unlink";
    case Op::rmdir: return "rmdir";
    case Op::symlink: return "symlink";
    case Op::link: return "link";
    case Op::rename: return "rename";
    case Op::setattr: return "setattr";
    case Op::setxattr: return "setxattr";
    case Op::removexattr: return "removexattr";
    case Op::fallocate: return "fallocate";
    case Op::fsync: return "fsync";
  }
  return "unknown";
}

}  // namespace mirror
