#include "mirror/local_replicator.h"

#include <fcntl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "mirror/local_replicator_impl.h"
#include "mirror/request_routing.h"

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

std::string default_queue_dir(const std::string& volume) {
  return "/var/lib/mirrorfs/" + volume;
}

namespace {

bool beneath(const std::filesystem::path& dir, const std::string& top) {
  if (top.empty()) return false;
  auto rel = dir.lexically_relative(top);
  return !rel.empty() && *rel.begin() != "..";
}

// The queue directory, checked: never inside what is mirrored or mounted.
std::string queue_dir_of(const PeerOptions& o) {
  std::string dir = o.queue_dir.empty() ? default_queue_dir(o.volume) : o.queue_dir;
  std::error_code ec;
  // Parents as a package would make them (mirrorfs runs with umask 0); the
  // queue makes its own directory 0700.
  mode_t old_umask = umask(022);
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  umask(old_umask);
  auto real = std::filesystem::weakly_canonical(dir, ec);
  if (ec) throw std::runtime_error("-o queue_dir=" + dir + ": " + ec.message());
  if (beneath(real, o.backing) || beneath(real, o.mountpoint)) {
    throw std::runtime_error("-o queue_dir=" + dir +
                             ": must not lie inside the backing directory or the mount point");
  }
  return real.string();
}

constexpr size_t kMaxDirtyDirectories = 1024;

uint64_t segment_bytes_for(uint64_t queue_max) {
  return std::clamp<uint64_t>(queue_max / 8, 64u << 10, 64u << 20);
}

}  // namespace

LocalReplicator::LocalReplicator(const PeerOptions& options)
    : options_(options),
      mode_(options.mode),
      designated_(Designation::parse(options.exclude), options.backing,
                  [this](const MirrorRequest& r) { return send(r); }),
      secret_(Secret::from_file(options.secret_file)),
      array_(options.connections) {
  if (options.connections == 0 || options.connections > 64) {
    throw std::runtime_error("-o connections=" + std::to_string(options.connections) +
                             ": expected 1 to 64");
  }
  if (options.volume.empty() || options.volume.size() > wire::kMaxVolumeName ||
      options.volume.find('/') != std::string::npos) {
    throw std::runtime_error("-o volume=" + options.volume +
                             ": expected a name of 1 to 255 bytes without '/'");
  }
  auto [host, port] = split_host_port(options.peer, "-o peer=");
  open_queue();
  open_identity();
  dirty_ = std::make_unique<DirtySet>(queue_dir_ + "/dirty-set", kMaxDirtyDirectories);
  if (!dirty_->empty()) {
    spdlog::warn(
        "volume {}: {} director(ies) in the dirty set {} are resynced once the peer is back",
        options_.volume, dirty_->size(), dirty_->path());
    copy_inconsistent_ = true;
    dirty_waiting_ = true;
  }
  link_.volume = options.volume;
  link_.session = queue_->session();
  link_.secret = &secret_;
  link_.resume_from = [this] {
    std::lock_guard lock(mutex_);
    return acked_through_ + 1;
  };
  link_.on_answer = [this](const PendingPtr& p, int error) { answered(p->sequence, error); };
  link_.on_error = [this](const std::string& message) { record_error(message); };
  link_.on_peer_closed = [this] {
    std::lock_guard lock(mutex_);
    recheck_wanted_ = true;
    notify_changed();
  };
  for (size_t i = 0; i < array_.size(); ++i) {
    array_[i].host = host;
    array_[i].port = port;
    connections_.push_back(std::make_unique<PeerConnection>(link_, array_[i], i, array_.size()));
  }
  LocalHeartbeatOptions hb;
  hb.volume = options.volume;
  hb.peer_host = host;
  hb.peer_port = options.heartbeat_port.empty() ? port : options.heartbeat_port;
  hb.interval_ms = options.heartbeat_interval_ms;
  hb.timeout_ms = options.heartbeat_timeout_ms;
  hb.probation_ms = options.probation_ms;
  hb.secret = secret_.bytes();
  heartbeat_ = std::make_unique<LocalHeartbeat>(hb, array_, *this);
}

void LocalReplicator::open_queue() {
  queue_dir_ = queue_dir_of(options_);
  QueueOptions q;
  q.dir = queue_dir_;
  q.max_bytes = options_.queue_max;
  q.segment_bytes = segment_bytes_for(options_.queue_max);
  queue_ = DurableQueue::open(q, {});
  if (queue_->session() == 0) {
    std::random_device random;
    uint64_t session = 0;
    while (session == 0) session = (static_cast<uint64_t>(random()) << 32) ^ random();
    queue_->set_session(session);
  }
  acked_through_ = queue_->acknowledged();
  last_appended_ = std::max(queue_->last_sequence(), acked_through_);
  next_sequence_ = last_appended_ + 1;
  // Whatever a new request touches, it comes after everything queued before.
  last_namespace_change_ = last_appended_;
  next_to_feed_ = acked_through_ + 1;
  if (uint64_t n = queue_->records()) {
    spdlog::info(
        "volume {}: queue {} holds {} request(s) ({} bytes) not yet acknowledged by the "
        "peer; they are sent first",
        options_.volume, queue_dir_, n, queue_->bytes());
  }
}

int LocalReplicator::send(const MirrorRequest& r, bool repair, LocalGuard guard) {
  auto p = std::make_shared<PendingRequest>();
  const bool sync = !repair && mode_.load() == Mode::sync;
  std::unique_lock order(order_mutex_);
  if (!repair && options_.on_queue_full == OnQueueFull::resync) {
    const uint64_t size = wire::kHeaderSize + wire::kRequestFixedSize + r.path.size() +
                          r.target.size() + r.xattr_name.size() + r.data.size();
    // Decided before a sequence number is taken: a folded request leaves no
    // gap the mirror would wait on.
    if (folding_ || queue_->full_for(size)) {
      fold(r);
      return 0;
    }
  }
  if (guard != LocalGuard::none) {
    // Under order_mutex_: a live change made after this look is ordered after.
    struct stat st;
    const std::string& name = r.op == Op::link ? r.target : r.path;
    const bool exists =
        fstatat(AT_FDCWD, (options_.backing + "/" + name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists != (guard == LocalGuard::exists)) return 0;
  }
  const uint64_t seq = next_sequence_++;
  std::optional<MirrorRequest> restamped;
  if (struct stat st; r.stat_fd >= 0 && fstat(r.stat_fd, &st) == 0) {
    restamped = r;  // the data stays borrowed: a span
    restamped->mtime_after = st.st_mtim;
  }
  const MirrorRequest& req = restamped ? *restamped : r;
  const bool ns = is_namespace_change(r.op);
  if (!repair) {
    // Counted once the sequence is taken: a walk that sees no change here
    // knows its repairs come after every live request it raced with.
    if (ns) live_namespace_changes_.fetch_add(1);
    if (r.inode != 0 && r.inode == watched_inode_.load()) watched_changes_.fetch_add(1);
  }
  const uint64_t barrier = ns ? seq - 1 : last_namespace_change_;
  if (ns) last_namespace_change_ = seq;
  p->sequence = seq;
  p->route = route_request(r.op, seq, r.inode, r.path, connections_.size());
  p->frame = wire::encode_request(seq, barrier, req);  // borrows r.data
  bool wait = false, live = false;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return EIO;
    // A sync caller waits while the link is up, or while it is down if told
    // to block; registered before the request can be answered.
    wait = sync && (link_up_ || connecting_ || options_.on_disconnect == OnDisconnect::block);
    if (wait) waiters_[seq] = p;
    live = link_up_ && live_;
  }
  bool queued = false;
  try {
    queued = queue_->append(seq, p->frame.head, p->frame.data);
  } catch (const std::exception& e) {
    spdlog::error("volume {}: queue {}: {}", options_.volume, queue_dir_, e.what());
  }
  // Handed over from memory, a request owns its bytes unless its caller waits
  // for the answer (the caller's buffer outlives the send). Copied here,
  // outside mutex_, which the connections' answers need.
  if (!queued || (live && !wait)) p->own_data();
  const size_t bytes = p->frame.size();
  std::unique_lock lock(mutex_);
  if (stopped_) {
    waiters_.erase(seq);
    return EIO;
  }
  last_appended_ = seq;
  if (queued) ++requests_queued_;
  if (!queued) {
    spdlog::error(
        "volume {}: request {} could not be written to the queue {}; it is held in "
        "memory until sent (the copy needs a resync if mirrorfs stops first)",
        options_.volume, seq, queue_dir_);
    record_error("request " + std::to_string(seq) + " could not be written to the queue " +
                 queue_dir_);
    unqueued_[seq] = p;
  }
  if (link_up_ && live_ && next_to_feed_ == seq) {
    if (has_room_locked(bytes)) {
      if (!wait) p->own_data();  // no-op unless the link came up since the check above
      feed_locked(p, bytes);
    } else {
      // Too much on its way: the feeder goes on from the queue on disk.
      live_ = false;
      notify_changed();
    }
  }
  order.unlock();
  if (!wait) {
    if (repair) return 0;
    if (sync && options_.on_disconnect == OnDisconnect::fail) return EIO;
    lock.unlock();
    return r.op == Op::fsync ? queue_->sync() : 0;
  }
  lock.unlock();
  return finish_sync(p, r.op == Op::fsync);
}

int LocalReplicator::finish_sync(const PendingPtr& p, bool fsync) {
  std::unique_lock plock(p->mutex);
  p->answered.wait(plock, [&] { return p->done; });
  if (!p->released) return p->error;
  plock.unlock();
  // Released because the link went down (on_disconnect=queue): the request
  // is in the queue, and what was fsynced must be durable there.
  return fsync ? queue_->sync() : 0;
}

bool LocalReplicator::has_room_locked(size_t bytes) const {
  return in_flight_bytes_ == 0 || in_flight_bytes_ + bytes <= options_.max_in_flight_bytes;
}

void LocalReplicator::feed_unqueued_below_locked(uint64_t limit) {
  for (auto it = unqueued_.lower_bound(next_to_feed_); it != unqueued_.end() && it->first < limit;
       it = unqueued_.lower_bound(next_to_feed_)) {
    feed_locked(it->second, it->second->frame.size());
  }
}

void LocalReplicator::feed_locked(const PendingPtr& p, size_t bytes) {
  in_flight_[p->sequence] = bytes;
  in_flight_bytes_ += bytes;
  next_to_feed_ = p->sequence + 1;
  connections_[p->route]->submit(p);
}

void complete(const PendingPtr& p, int error, bool released) {
  {
    std::lock_guard plock(p->mutex);
    p->done = true;
    p->error = error;
    p->released = released;
  }
  p->answered.notify_all();
}

void LocalReplicator::answered(uint64_t seq, int error) {
  std::unique_lock lock(mutex_);
  const uint64_t previously_acked = acked_through_;
  if (auto it = in_flight_.find(seq); it != in_flight_.end()) {
    in_flight_bytes_ -= it->second;
    in_flight_.erase(it);
  }
  ++(error == 0 ? requests_acked_ : requests_failed_);
  if (seq > acked_through_) {
    answered_above_.insert(seq);
    while (!answered_above_.empty() && *answered_above_.begin() == acked_through_ + 1) {
      answered_above_.erase(answered_above_.begin());
      ++acked_through_;
    }
  }
  unqueued_.erase(seq);
  const bool advanced = acked_through_ > previously_acked;
  if (replay_until_ != 0 && acked_through_ >= replay_until_) {
    spdlog::info(
        "link {}: queue drained: the mirror acknowledged every request through {}, {} ms "
        "after the replay began",
        options_.volume, replay_until_, steady_ms() - replay_started_ms_);
    replay_until_ = 0;
  }
  if (error != 0 && copy_inconsistent_.load()) {
    // The copy is being synced: a change to what it does not hold yet fails
    // there, and the walk carries it instead.
    spdlog::debug("volume {}: request {} failed on the copy being synced: {}", options_.volume, seq,
                  strerror(error));
    error = 0;
  }
  if (auto it = waiters_.find(seq); it != waiters_.end()) {
    complete(it->second, error, false);
    waiters_.erase(it);
  } else if (error != 0) {
    spdlog::error("volume {}: the mirror failed to store request {}: {}", options_.volume, seq,
                  strerror(error));
    record_error("the mirror failed to store request " + std::to_string(seq) + ": " +
                 strerror(error));
  }
  const uint64_t ack = acked_through_;
  answers_.notify_all();
  // The dirty set waits for the queue to empty enough.
  if (dirty_waiting_) changed_.notify_all();
  lock.unlock();
  if (advanced) queue_->acknowledge(ack);
}

void LocalReplicator::release_waiters_locked(bool stopping) {
  if (!stopping && options_.on_disconnect == OnDisconnect::block) return;
  for (auto& [seq, p] : waiters_) {
    bool fail = stopping || options_.on_disconnect == OnDisconnect::fail;
    complete(p, fail ? EIO : 0, !fail);
  }
  waiters_.clear();
}

// Hands the queued requests to the connections, in order, whenever the link
// is up and new requests are not fed from memory: after the link came (back)
// up, and when too much was on its way for memory to hold.
void LocalReplicator::feed_loop() {
  pthread_setname_np(pthread_self(), "feeder");
  std::unique_lock lock(mutex_);
  uint64_t logged_epoch = 0;
  while (!stopped_) {
    changed_.wait(lock, [&] { return stopped_ || (link_up_ && !live_); });
    if (stopped_) break;
    const uint64_t epoch = epoch_;
    const uint64_t from = next_to_feed_;
    if (from > last_appended_) {
      live_ = true;
      continue;
    }
    if (logged_epoch != epoch) {
      logged_epoch = epoch;
      replay_until_ = last_appended_;
      replay_started_ms_ = steady_ms();
      spdlog::info("link {}: replaying queued requests from {} ({} queued)", options_.volume, from,
                   last_appended_ - from + 1);
    }
    lock.unlock();
    int err = queue_->visit_unacknowledged(
        [&](uint64_t seq, std::span<const std::byte> frame) {
          return feed_record(epoch, seq, frame);
        },
        from);
    lock.lock();
    if (err != 0) {
      spdlog::error("volume {}: cannot read the queue {}: {}; retrying", options_.volume,
                    queue_dir_, strerror(err));
      changed_.wait_for(lock, std::chrono::seconds(1), [&] { return stopped_; });
      continue;
    }
    if (epoch_ != epoch) continue;
    // Requests the queue could not take, and sequence numbers it lost.
    feed_unqueued_below_locked(last_appended_ + 1);
    if (next_to_feed_ <= last_appended_ && next_to_feed_ == from) {
      // Nothing fed in a whole pass: records above `from` are gone.
      spdlog::error("volume {}: the queue {} lacks requests {} to {}; resyncing the copy",
                    options_.volume, queue_dir_, from, last_appended_);
      next_to_feed_ = last_appended_ + 1;
      copy_inconsistent_ = true;
      walk_wanted_ = WalkKind::resync;
      walk_resume_after_.reset();
      notify_changed();
    }
  }
}

bool LocalReplicator::feed_record(uint64_t epoch, uint64_t seq, std::span<const std::byte> frame) {
  auto p = std::make_shared<PendingRequest>();
  p->sequence = seq;
  p->frame.data = frame;
  p->own_data();  // the queue's buffer is valid only during the visit
  std::string fault;
  auto route = route_frame(frame, connections_.size(), fault);
  std::unique_lock lock(mutex_);
  if (epoch_ != epoch || stopped_) return false;
  if (seq < next_to_feed_) return true;
  if (!route) {
    spdlog::error("volume {}: queued request {} is unreadable: {}; skipped", options_.volume, seq,
                  fault);
    next_to_feed_ = seq + 1;
    return true;
  }
  p->route = *route;
  feed_unqueued_below_locked(seq);
  if (seq <= acked_through_ || answered_above_.count(seq)) {
    next_to_feed_ = seq + 1;  // answered before the link went down
    return true;
  }
  answers_.wait(lock, [&] { return stopped_ || epoch_ != epoch || has_room_locked(frame.size()); });
  if (epoch_ != epoch || stopped_) return false;
  feed_locked(p, frame.size());
  return true;
}

void LocalReplicator::stop() {
  {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    if (link_up_) {
      // Give the mirror a moment to answer what is on its way.
      answers_.wait_for(lock, std::chrono::seconds(5),
                        [&] { return !link_up_ || acked_through_ >= last_appended_; });
    }
    stopped_ = true;
    notify_changed();
  }
  queue_->stop();
  heartbeat_->stop();
  for (auto& c : connections_) c->stop();
  if (feeder_.joinable()) feeder_.join();
  if (syncer_.joinable()) syncer_.join();
  std::lock_guard lock(mutex_);
  release_waiters_locked(true);
  if (uint64_t left = last_appended_ - acked_through_) {
    spdlog::info(
        "volume {}: {} request(s) not yet acknowledged stay in the queue {}; they are "
        "sent when mirrorfs next starts with it",
        options_.volume, left, queue_dir_);
  }
  close_identity();
}

std::unique_ptr<Replicator> make_local_replicator(const PeerOptions& options) {
  return std::make_unique<LocalReplicator>(options);
}

}  // namespace mirror
