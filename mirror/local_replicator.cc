#include "mirror/local_replicator.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <climits>
#include <map>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

#include "mirror/designation.h"
#include "mirror/peer_connection.h"

namespace mirror {

std::pair<std::string, std::string> split_host_port(const std::string& s, const char* option) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    throw std::runtime_error(std::string(option) + s + ": expected HOST:PORT");
  }
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, s.substr(colon + 1)};
}

namespace {

bool is_namespace_change(Op op) {
  switch (op) {
    case Op::create:
    case Op::mknod:
    case Op::mkdir:
    case Op::unlink:
    case Op::rmdir:
    case Op::symlink:
    case Op::link:
    case Op::rename:
      return true;
    default:
      return false;
  }
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

class LocalReplicator final : public Replicator {
 public:
  explicit LocalReplicator(const PeerOptions& options)
      : options_(options),
        designation_(Designation::parse(options.exclude)),
        secret_(Secret::from_file(options.secret_file)),
        array_(options.connections) {
    if (options.connections == 0 || options.connections > 64) {
      throw std::runtime_error("-o connections=" + std::to_string(options.connections) +
                               ": expected 1 to 64");
    }
    if (options.volume.empty() || options.volume.size() > wire::kMaxVolumeName) {
      throw std::runtime_error("-o volume=" + options.volume + ": expected a name of 1 to 255 bytes");
    }
    auto [host, port] = split_host_port(options.peer, "-o peer=");
    std::random_device random;
    link_.volume = options.volume;
    link_.session = (static_cast<uint64_t>(random()) << 32) ^ random();
    link_.secret = &secret_;
    link_.resume_from = [this] { return resume_from(); };
    link_.on_answer = [this](const PendingPtr& p, int error) { answered(p, error); };
    for (size_t i = 0; i < array_.size(); ++i) {
      array_[i].host = host;
      array_[i].port = port;
      connections_.push_back(std::make_unique<PeerConnection>(link_, array_[i], i, array_.size()));
    }
  }

  void start() override {
    for (auto& c : connections_) c->start();
  }

  ~LocalReplicator() override { stop(); }

  bool mirrors() const override { return true; }
  const char* describe() const override {
    return options_.mode == Mode::sync ? "mirrored, sync" : "mirrored, async";
  }

  int replicate(const MirrorRequest& r) override {
    if (designation_.empty()) return send(r);
    switch (r.op) {
      case Op::rename:
        return replicate_rename(r);
      case Op::link:
        if (designation_.excluded(r.target)) return 0;
        if (designation_.excluded(r.path)) return send_content(r.target);
        return send(r);
      default:
        return designation_.excluded(r.path) ? 0 : send(r);
    }
  }

  void stop() override {
    {
      std::unique_lock lock(mutex_);
      if (stopped_) return;
      // Give the mirror a moment to answer what is in flight.
      bool drained = drained_.wait_for(lock, std::chrono::seconds(10), [&] { return unanswered_.empty(); });
      if (!drained) {
        spdlog::warn("volume {}: stopping with {} request(s) not acknowledged by the peer",
                     options_.volume, unanswered_.size());
      }
      stopped_ = true;
    }
    for (auto& c : connections_) c->stop();
    std::lock_guard lock(mutex_);
    for (auto& [seq, p] : pending_) answered_locked(p, EIO);
  }

 private:
  // Sends one request (in sync mode: and waits for its answer).
  int send(const MirrorRequest& r) {
    auto p = std::make_shared<PendingRequest>();
    MirrorRequest view = r;
    if (options_.mode == Mode::async && !r.data.empty()) {
      p->owned_data.assign(r.data.begin(), r.data.end());
      view.data = p->owned_data;
    }
    size_t bytes = view.data.size() + wire::kRequestFixedSize + r.path.size() + r.target.size();
    {
      std::unique_lock lock(mutex_);
      // Async mode: writers wait while too much is on its way (the durable
      // queue takes this role once the peer may be away for long).
      drained_.wait(lock, [&] {
        return stopped_ || in_flight_bytes_ == 0 ||
               in_flight_bytes_ + bytes <= options_.max_in_flight_bytes;
      });
      if (stopped_) return EIO;
      uint64_t seq = next_sequence_++;
      uint64_t barrier = is_namespace_change(r.op) ? seq - 1 : last_namespace_change_;
      if (is_namespace_change(r.op)) last_namespace_change_ = seq;
      p->sequence = seq;
      p->frame = wire::encode_request(seq, barrier, view);
      unanswered_.insert(seq);
      pending_[seq] = p;
      in_flight_bytes_ += bytes;
      sizes_[seq] = bytes;
      // All requests on one file travel over one connection, in order.
      uint64_t key = is_namespace_change(r.op) ? seq : (r.inode ? r.inode : std::hash<std::string>{}(r.path));
      connections_[key % connections_.size()]->submit(p);
    }
    if (options_.mode == Mode::async) return 0;
    std::unique_lock lock(p->mutex);
    p->answered.wait(lock, [&] { return p->done; });
    return p->error;
  }

  void answered(const PendingPtr& p, int error) {
    std::lock_guard lock(mutex_);
    answered_locked(p, error);
  }

  void answered_locked(const PendingPtr& p, int error) {
    if (unanswered_.erase(p->sequence) == 0) return;
    pending_.erase(p->sequence);
    in_flight_bytes_ -= sizes_[p->sequence];
    sizes_.erase(p->sequence);
    if (error != 0 && options_.mode == Mode::async) {
      spdlog::error("volume {}: the mirror failed to store request {}: {}", options_.volume,
                    p->sequence, strerror(error));
    }
    {
      std::lock_guard plock(p->mutex);
      p->done = true;
      p->error = error;
    }
    p->answered.notify_all();
    drained_.notify_all();
  }

  uint64_t resume_from() {
    std::lock_guard lock(mutex_);
    return unanswered_.empty() ? next_sequence_ : *unanswered_.begin();
  }

  int replicate_rename(const MirrorRequest& r) {
    bool from_excluded = designation_.excluded(r.path);
    bool to_excluded = designation_.excluded(r.target);
    if (from_excluded == to_excluded) return from_excluded ? 0 : send(r);
    bool exchange = (r.flags & RENAME_EXCHANGE) != 0;
    if (!from_excluded) {
      // Moved out of sight: the mirror drops what it had under the old name
      // (now locally at r.target) and, for an exchange, receives what now
      // lives at the old name.
      if (int err = send_removal(r.path, r.target)) return err;
      return exchange ? send_content(r.path) : 0;
    }
    // Moved into sight: the mirror never had it, so it gets the content.
    if (exchange) {
      if (int err = send_removal(r.target, r.path)) return err;
    } else {
      // Whatever the new name replaced is gone.
      MirrorRequest gone;
      gone.op = Op::unlink;
      gone.path = r.target;
      struct stat st;
      std::string local = options_.backing + "/" + r.target;
      if (lstat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        if (int err = send_removal(r.target, r.target)) return err;
      } else if (int err = send(gone); err != 0 && err != ENOENT) {
        return err;
      }
    }
    return send_content(r.target);
  }

  // Removes `mirror_path` on the mirror, recursively, using the local tree at
  // `local_path` (which holds what the mirror has there) as the listing.
  int send_removal(const std::string& mirror_path, const std::string& local_path) {
    struct stat st;
    std::string local = options_.backing + "/" + local_path;
    if (lstat(local.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      if (DIR* d = opendir(local.c_str())) {
        std::vector<std::string> names;
        while (dirent* e = readdir(d)) {
          if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
        }
        closedir(d);
        for (const auto& n : names) send_removal(join(mirror_path, n), join(local_path, n));
      }
      MirrorRequest rm;
      rm.op = Op::rmdir;
      rm.path = mirror_path;
      int err = send(rm);
      return err == ENOENT ? 0 : err;
    }
    MirrorRequest rm;
    rm.op = Op::unlink;
    rm.path = mirror_path;
    int err = send(rm);
    return err == ENOENT ? 0 : err;
  }

  // Sends the local file or tree at `path` whole: for paths the mirror never
  // had (moved or linked out of an excluded path).
  int send_content(const std::string& path);

  const PeerOptions options_;
  const Designation designation_;
  const Secret secret_;
  LinkContext link_;
  LocalConnectionArray array_;
  std::vector<std::unique_ptr<PeerConnection>> connections_;

  std::mutex mutex_;  // guards everything below; taken before PeerConnection's
  std::condition_variable drained_;
  uint64_t next_sequence_ = 1;
  uint64_t last_namespace_change_ = 0;
  std::set<uint64_t> unanswered_;
  std::map<uint64_t, PendingPtr> pending_;
  std::map<uint64_t, size_t> sizes_;
  size_t in_flight_bytes_ = 0;
  bool stopped_ = false;
};

int LocalReplicator::send_content(const std::string& path) {
  std::string local = options_.backing + "/" + path;
  struct stat st;
  if (lstat(local.c_str(), &st) != 0) return 0;  // gone again meanwhile
  MirrorRequest r;
  r.path = path;
  r.inode = st.st_ino;
  r.attr.valid = kAttrMode | kAttrUid | kAttrGid;
  r.attr.mode = st.st_mode;
  r.attr.uid = st.st_uid;
  r.attr.gid = st.st_gid;
  int err = 0;
  if (S_ISDIR(st.st_mode)) {
    r.op = Op::mkdir;
    if ((err = send(r))) return err;
    std::vector<std::string> names;
    if (DIR* d = opendir(local.c_str())) {
      while (dirent* e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
      }
      closedir(d);
    }
    for (const auto& n : names) {
      if (designation_.excluded(join(path, n))) continue;
      if ((err = send_content(join(path, n)))) return err;
    }
  } else if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink(local.c_str(), target, sizeof target);
    if (n < 0) return 0;
    r.op = Op::symlink;
    r.target.assign(target, static_cast<size_t>(n));
    if ((err = send(r))) return err;
  } else if (S_ISREG(st.st_mode)) {
    r.op = Op::create;
    if ((err = send(r))) return err;
    int fd = open(local.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    std::vector<std::byte> chunk(wire::kMaxData);
    off_t offset = 0;
    for (;;) {
      ssize_t n = pread(fd, chunk.data(), chunk.size(), offset);
      if (n <= 0) break;
      MirrorRequest w;
      w.op = Op::write;
      w.path = path;
      w.inode = st.st_ino;
      w.offset = static_cast<uint64_t>(offset);
      w.length = static_cast<uint64_t>(n);
      w.data = std::span(chunk.data(), static_cast<size_t>(n));
      if ((err = send(w))) break;
      offset += n;
    }
    close(fd);
    if (err) return err;
    MirrorRequest t;
    t.op = Op::truncate;
    t.path = path;
    t.inode = st.st_ino;
    t.attr.valid = kAttrSize;
    t.attr.size = static_cast<uint64_t>(st.st_size);
    if ((err = send(t))) return err;
  } else {
    r.op = Op::mknod;
    r.attr.valid |= kAttrRdev;
    r.attr.rdev = st.st_rdev;
    if ((err = send(r))) return err;
  }
  // Extended attributes, then the times, so the copy's mtime is the primary's.
  char names[65536];
  ssize_t len = llistxattr(local.c_str(), names, sizeof names);
  for (ssize_t i = 0; len > 0 && i < len; i += static_cast<ssize_t>(strlen(names + i)) + 1) {
    std::vector<std::byte> value(65536);
    ssize_t n = lgetxattr(local.c_str(), names + i, value.data(), value.size());
    if (n < 0) continue;
    MirrorRequest x;
    x.op = Op::setxattr;
    x.path = path;
    x.inode = st.st_ino;
    x.xattr_name = names + i;
    x.data = std::span(value.data(), static_cast<size_t>(n));
    x.length = static_cast<uint64_t>(n);
    if ((err = send(x))) return err;
  }
  MirrorRequest times;
  times.op = Op::setattr;
  times.path = path;
  times.inode = st.st_ino;
  times.attr.valid = kAttrAtime | kAttrMtime;
  times.attr.atime = st.st_atim;
  times.attr.mtime = st.st_mtim;
  times.mtime_after = st.st_mtim;
  return send(times);
}

}  // namespace

std::unique_ptr<Replicator> make_local_replicator(const PeerOptions& options) {
  return std::make_unique<LocalReplicator>(options);
}

}  // namespace mirror
