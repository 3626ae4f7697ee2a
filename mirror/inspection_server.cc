// mirrord's side of an inspection connection (inspect_format.h): answers
// the local server's questions about a volume's copy and keeps the copy's
// identity record. Paths are reached as the applier reaches a request's
// (Applier::open_path), so an answer never describes anything outside the
// copy; a path that would leave it gets an errno, not data.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include "mirror/frame_io.h"
#include "mirror/inspect_format.h"
#include "mirror/mirror_server.h"
#include "mirror/mirror_volume.h"
#include "mirror/tree_inspection.h"
#include "mirror/unique_fd.h"

namespace mirror {
namespace {

using Fd = UniqueFd;

// The node at `path` and its type; 0 or an errno.
int find(const Applier& applier, const std::string& path, Fd& node, struct stat& st) {
  int fd = -1;
  if (int err = applier.open_path(path, fd)) return err;
  node = Fd(fd);
  return ::fstat(node.get(), &st) == 0 ? 0 : errno;
}

void answer_list(const Applier& applier, const inspect::Query& q, inspect::Reply& reply) {
  Fd node, dir;
  struct stat st;
  if ((reply.error = find(applier, q.path, node, st)) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    reply.error = ENOTDIR;
    return;
  }
  if ((reply.error = reopen(node, O_RDONLY | O_DIRECTORY, dir)) != 0) return;
  reply.error = list_directory(dir.get(), q.after, q.max_entries, reply.entries, reply.more);
  if (reply.error != 0) {
    reply.entries.clear();
    reply.more = false;
    return;
  }
  // The reply stops before the entry that would not fit; the peer asks on.
  size_t used = inspect::kReplyFixedSize;
  for (size_t i = 0; i < reply.entries.size(); ++i) {
    used += inspect::entry_size(reply.entries[i]);
    if (used > wire::kMaxPayload) {
      reply.entries.resize(i);
      reply.more = true;
      break;
    }
  }
}

void answer_xattr_names(const Applier& applier, const inspect::Query& q, inspect::Reply& reply) {
  Fd node;
  struct stat st;
  if ((reply.error = find(applier, q.path, node, st)) != 0) return;
  reply.error = xattr_names(node.get(), reply.names);
  if (reply.error != 0) reply.names.clear();
}

void answer_checksums(const Applier& applier, const inspect::Query& q, inspect::Reply& reply) {
  Fd node, file;
  struct stat st;
  if ((reply.error = find(applier, q.path, node, st)) != 0) return;
  // Only a regular file is opened: a FIFO or device in the copy never is.
  if (!S_ISREG(st.st_mode)) {
    reply.error = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return;
  }
  if ((reply.error = reopen(node, O_RDONLY, file)) != 0) return;
  if (::fstat(file.get(), &st) != 0) {
    reply.error = errno;
    return;
  }
  reply.size = static_cast<uint64_t>(st.st_size);
  reply.error = block_checksums(file.get(), q.first_block, q.count, reply.sums);
  if (reply.error != 0) {
    reply.size = 0;
    reply.sums.clear();
  }
}

}  // namespace

std::string identity_path(const MirrordOptions& options, const std::string& name,
                          const std::string& dir) {
  return volume_state_path(options, name, dir, ".identity", ".mirror-identity");
}

std::unique_ptr<IdentityFile> open_identity(const MirrordOptions& options, const std::string& name,
                                            const std::string& dir) {
  auto file = std::make_unique<IdentityFile>(identity_path(options, name, dir));
  try {
    if (auto identity = file->load()) {
      spdlog::info("volume {}: identity {}", name, identity->describe());
    } else {
      spdlog::debug("volume {}: no identity record yet ({})", name, file->path());
    }
  } catch (const std::exception& e) {
    spdlog::warn("volume {}: {}; kept as it is until the local server replaces it", name, e.what());
  }
  return file;
}

void MirrorServer::serve_inspection(int fd, const std::string& peer, Volume& volume) {
  spdlog::info("volume {}: inspection connection from {} accepted", volume.name, peer);
  auto fault = [&](const std::string& what) {
    spdlog::warn("volume {}: inspection connection from {}: {}; closing it", volume.name, peer,
                 what);
    note_error(volume, "inspection connection from " + peer + ": " + what);
  };

  // identity and set_identity: the file has one user at a time.
  auto answer_identity = [&](inspect::Reply& reply) {
    std::lock_guard lock(volume.identity_mutex);
    try {
      if (auto identity = volume.identity->load()) {
        reply.present = true;
        reply.record = identity_format::encode(*identity);
      }
    } catch (const std::exception& e) {
      // Never replaced here: the local side hears EUCLEAN and the operator
      // decides, as for a split brain.
      reply.error = EUCLEAN;
      spdlog::error("volume {}: {}; answered {} with EUCLEAN", volume.name, e.what(), peer);
      note_error(volume, e.what());
    }
  };
  auto answer_set_identity = [&](const inspect::Query& q, inspect::Reply& reply) {
    VolumeIdentity identity;
    if (auto why = identity_format::decode(q.record, identity)) {
      reply.error = EINVAL;
      spdlog::warn("volume {}: {} sent an identity record that is not sound ({}); refused",
                   volume.name, peer, *why);
      return;
    }
    std::lock_guard lock(volume.identity_mutex);
    try {
      volume.identity->store(identity);
    } catch (const std::exception& e) {
      reply.error = EIO;
      spdlog::error("volume {}: {}", volume.name, e.what());
      note_error(volume, e.what());
      return;
    }
    spdlog::info("volume {}: identity now {} (set by {})", volume.name, identity.describe(), peer);
  };

  std::vector<std::byte> payload;
  while (!stopping_) {
    FrameRead r = read_frame(fd, payload, options_.request_timeout_ms);
    if (r.status == IoStatus::timeout) continue;  // idle: look at stopping_ again
    if (r.status == IoStatus::closed) {
      spdlog::info("volume {}: inspection connection from {} closed", volume.name, peer);
      return;
    }
    if (r.status != IoStatus::ok) return fault(r.fault);
    if (r.header.type != wire::FrameType::inspect) {
      return fault("unexpected frame type " + std::to_string(static_cast<int>(r.header.type)));
    }
    inspect::Query q;
    if (auto why = inspect::decode_query(r.header, payload, q)) {
      return fault("bad query " + std::to_string(r.header.sequence) + ": " + *why);
    }
    inspect::Reply reply;
    reply.id = q.id;
    reply.kind = q.kind;
    const Applier& applier = *volume.applier;
    try {
      switch (q.kind) {
        case inspect::Kind::identity:
          answer_identity(reply);
          break;
        case inspect::Kind::set_identity:
          answer_set_identity(q, reply);
          break;
        case inspect::Kind::list:
          answer_list(applier, q, reply);
          break;
        case inspect::Kind::xattr_names:
          answer_xattr_names(applier, q, reply);
          break;
        case inspect::Kind::checksums:
          answer_checksums(applier, q, reply);
          break;
      }
    } catch (const std::bad_alloc&) {
      reply = inspect::Reply{};
      reply.id = q.id;
      reply.kind = q.kind;
      reply.error = ENOMEM;
    }
    if (reply.error != 0) {
      spdlog::debug("volume {}: {} '{}' from {}: {}", volume.name, inspect::to_string(q.kind),
                    q.path, peer, strerror(static_cast<int>(reply.error)));
    }
    if (!write_frame(fd, inspect::encode_reply(reply))) {
      spdlog::info("volume {}: inspection connection from {} ended: {}", volume.name, peer,
                   strerror(errno));
      return;
    }
  }
}

}  // namespace mirror
