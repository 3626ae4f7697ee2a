// The local replicator and its copy: the identity check that decides, each
// time the link comes up, whether the queue goes on or the copy needs a walk
// (volume_identity.h), the walks that sync and verify it (copy_walk.h), and
// the SyncPort their repairs travel through.
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "mirror/inspection_client.h"
#include "mirror/local_replicator_impl.h"
#include "mirror/state_files.h"

namespace mirror {
namespace {

constexpr int kInspectTimeoutMs = 30000;
constexpr int64_t kProgressSaveEveryMs = 1000;
constexpr auto kRetryAfterFailure = std::chrono::seconds(2);

}  // namespace

void LocalReplicator::open_identity() {
  identity_file_ = IdentityFile(options_.identity.empty() ? identity_path_beside(options_.backing)
                                                          : options_.identity);
  std::optional<VolumeIdentity> loaded = identity_file_.load();
  if (!loaded) {
    identity_ = VolumeIdentity::fresh();
    spdlog::info("volume {}: new identity {} in {}", options_.volume, identity_.describe(),
                 identity_file_.path());
  } else if (loaded->role == DataRole::copy) {
    identity_ = *loaded;
    identity_.branch(loaded->sequence);
    spdlog::warn(
        "volume {}: {} was a copy ({}); it becomes the primary with generation {}. Its former "
        "primary, if it returns as a copy, is resynced from here, or reported as a split "
        "brain if it changed on its own",
        options_.volume, options_.backing, loaded->describe(),
        format_generation(identity_.generation));
    if (!(loaded->flags & kIdentityConsistent)) {
      spdlog::error(
          "volume {}: the copy promoted was inconsistent (a sync had not finished): "
          "its data may be incomplete",
          options_.volume);
    }
  } else {
    identity_ = *loaded;
  }
  identity_.role = DataRole::primary;
  identity_.flags = 0;  // in use: a crash leaves it so
  identity_file_.store(identity_);
  std::lock_guard lock(sync_mutex_);
  sync_status_.reason = "the copy's identity is checked when the peer is first heard";
}

void LocalReplicator::close_identity() {
  const bool clean = last_appended_ == acked_through_ && !copy_inconsistent_.load();
  if (!clean) return;
  identity_.flags = kIdentityClean;
  identity_.sequence = acked_through_;
  try {
    identity_file_.store(identity_);
  } catch (const std::exception& e) {
    spdlog::error("volume {}: {}", options_.volume, e.what());
  }
}

void LocalReplicator::set_sync_state(const std::string& state, const std::string& reason) {
  std::lock_guard lock(sync_mutex_);
  sync_status_.state = state;
  sync_status_.reason = reason;
}

std::optional<std::string> LocalReplicator::load_walk_progress() const {
  std::ifstream in(queue_dir_ + "/sync-progress");
  if (!in) return std::nullopt;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    if (j.at("generation").get<std::string>() != format_generation(identity_.generation)) {
      return std::nullopt;
    }
    return j.at("after").get<std::string>();
  } catch (const std::exception& e) {
    spdlog::warn("volume {}: {}/sync-progress is unreadable ({}); the sync starts over",
                 options_.volume, queue_dir_, e.what());
    return std::nullopt;
  }
}

void LocalReplicator::save_walk_progress(const std::optional<std::string>& after, bool force) {
  const std::string path = queue_dir_ + "/sync-progress";
  if (!after) {
    ::unlink(path.c_str());
    return;
  }
  {
    std::lock_guard lock(sync_mutex_);
    const int64_t now = steady_ms();
    if (!force && now - progress_saved_ms_ < kProgressSaveEveryMs) return;
    progress_saved_ms_ = now;
  }
  const std::string text =
      nlohmann::json{{"generation", format_generation(identity_.generation)}, {"after", *after}}
          .dump() +
      "\n";
  try {
    replace_file(path, std::as_bytes(std::span(text)));
  } catch (const std::exception& e) {
    // Progress is a help, not a need: without it the walk starts over.
    spdlog::warn("volume {}: {}", options_.volume, e.what());
  }
}

void LocalReplicator::fold(const MirrorRequest& r) {
  if (!folding_.exchange(true)) {
    const std::string what = "the queue " + queue_dir_ + " is full: changes go to the dirty set " +
                             dirty_->path() + " and are resynced once the queue has room";
    spdlog::warn("volume {}: {}", options_.volume, what);
    record_error(what);
  }
  copy_inconsistent_ = true;
  dirty_->add(parent_directory(r.path));
  if (r.op == Op::rename || r.op == Op::link) dirty_->add(parent_directory(r.target));
  dirty_waiting_ = true;
}

void LocalReplicator::end_folding(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  {
    std::lock_guard order(order_mutex_);
    folding_ = false;
  }
  lock.lock();
  dirty_waiting_ = false;
  walk_roots_ = dirty_->roots();
  walk_wanted_ = WalkKind::resync;
  walk_resume_after_.reset();
  spdlog::info("volume {}: the queue has room again; resyncing {} director(ies) of the dirty set",
               options_.volume, walk_roots_.size());
  std::lock_guard slock(sync_mutex_);
  sync_status_.reason =
      "the queue was full: " + std::to_string(walk_roots_.size()) + " director(ies) to resync";
}

void LocalReplicator::discard_queue_locked() {
  if (last_appended_ > acked_through_) {
    spdlog::info(
        "volume {}: {} queued request(s) dropped: the sync of the copy carries their changes",
        options_.volume, last_appended_ - acked_through_);
  }
  acked_through_ = last_appended_;
  // Sync callers waiting for those requests: the walk carries their changes.
  for (auto it = waiters_.begin(); it != waiters_.end() && it->first <= acked_through_;) {
    complete(it->second, 0, true);
    it = waiters_.erase(it);
  }
  answered_above_.clear();
  unqueued_.clear();
  next_to_feed_ = acked_through_ + 1;
  queue_->acknowledge(acked_through_);
}

// Runs while the replicator does: checks the copy whenever the link wants to
// come up, and walks it while a walk is wanted and the link is up.
void LocalReplicator::sync_loop() {
  pthread_setname_np(pthread_self(), "syncer");
  std::unique_lock lock(mutex_);
  while (!stopped_) {
    auto dirty_ready = [&] {
      return link_up_ && walk_wanted_ == WalkKind::none && dirty_waiting_ &&
             !queue_->full_for(options_.queue_max / 2);
    };
    changed_.wait(lock, [&] {
      return stopped_ || (check_wanted_ && heartbeat_up_ && !paused_ && !link_up_) ||
             (link_up_ && (walk_wanted_ != WalkKind::none || recheck_wanted_)) || dirty_ready();
    });
    if (stopped_) break;
    if (dirty_ready()) end_folding(lock);
    if (link_up_ && recheck_wanted_) {
      // A restarted mirrord may serve another copy, or one changed since:
      // the connections wait for the identity check again.
      recheck_wanted_ = false;
      spdlog::info("volume {}: the peer closed a connection; checking the copy again",
                   options_.volume);
      take_down(lock);
      bring_up_locked();
      continue;
    }
    if (!link_up_) {
      check_wanted_ = false;
      lock.unlock();
      check_copy();
      lock.lock();
      continue;
    }
    const WalkKind kind = walk_wanted_;
    walk_epoch_ = epoch_;
    lock.unlock();
    run_walk(kind);
    lock.lock();
  }
}

void LocalReplicator::check_copy() {
  set_sync_state("checking", "asking the peer for the copy's identity");
  std::optional<VolumeIdentity> copy;
  Decision d;
  try {
    InspectionClient client(options_.peer, options_.volume, secret_, kInspectTimeoutMs);
    try {
      copy = client.identity();
      d = decide(identity_, copy);
    } catch (const CopyIdentityUnreadable& e) {
      d = {CopyVerdict::split_brain, e.what()};  // nothing is believed: the operator decides
    }
    bool discard;
    {
      std::lock_guard lock(mutex_);
      discard = discard_copy_;
    }
    if (d.verdict == CopyVerdict::split_brain && discard) {
      d = {CopyVerdict::unknown,
           "the operator discarded the copy's own changes (" + d.reason + "): full resync"};
    }
    spdlog::info("volume {}: copy {}: {}", options_.volume,
                 copy ? copy->describe() : std::string("without identity"), d.reason);
    if (d.verdict == CopyVerdict::behind || d.verdict == CopyVerdict::unknown) {
      VolumeIdentity mine = identity_;
      mine.role = DataRole::copy;
      mine.flags = 0;  // inconsistent until the walk ends
      mine.sequence = 0;
      client.set_identity(mine);
    }
  } catch (const std::exception& e) {
    spdlog::warn("volume {}: cannot check the copy's identity at {}: {}; retrying", options_.volume,
                 options_.peer, e.what());
    record_error("checking the copy at " + options_.peer + ": " + e.what());
    set_sync_state("checking", std::string("failed: ") + e.what());
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, kRetryAfterFailure, [&] { return stopped_; });
    check_wanted_ = true;
    notify_changed();
    return;
  }
  std::unique_lock lock(mutex_);
  if (stopped_ || !heartbeat_up_ || paused_) return;  // the link went away meanwhile
  switch (d.verdict) {
    case CopyVerdict::split_brain: {
      const std::string what = "split brain: " + d.reason +
                               ". Nothing is sent. To overwrite the copy with this side: "
                               "mirrorctl resync --discard-copy";
      spdlog::error("volume {}: {}", options_.volume, what);
      record_error(what);
      {
        std::lock_guard slock(sync_mutex_);
        sync_status_.state = "split-brain";
        sync_status_.reason = d.reason;
        sync_status_.copy = "inconsistent";
      }
      return;  // mirrorctl resync --discard-copy, or the next link cycle, checks again
    }
    case CopyVerdict::in_step: {
      if (!copy_inconsistent_) spdlog::info("volume {}: the copy is consistent", options_.volume);
      std::lock_guard slock(sync_mutex_);
      sync_status_.state = "idle";
      sync_status_.reason = d.reason;
      if (!copy_inconsistent_) sync_status_.copy = "consistent";
      break;
    }
    case CopyVerdict::behind:
    case CopyVerdict::unknown: {
      const bool resume =
          d.verdict == CopyVerdict::behind && copy && copy->generation == identity_.generation;
      if (!resume) {
        walk_resume_after_.reset();
      } else if (!walk_resume_after_) {
        walk_resume_after_ = load_walk_progress();  // mirrorfs restarted
      }
      if (!resume) discard_queue_locked();
      copy_inconsistent_ = true;
      walk_roots_.clear();  // the whole tree, the dirty set included
      walk_wanted_ = d.verdict == CopyVerdict::unknown ? WalkKind::initial_sync : WalkKind::resync;
      discard_copy_ = false;
      std::lock_guard slock(sync_mutex_);
      sync_status_.state = walk_wanted_ == WalkKind::initial_sync ? "initial-sync" : "resync";
      sync_status_.reason = d.reason;
      sync_status_.copy = "inconsistent";
      break;
    }
  }
  agreed_ = true;
  bring_up_locked();
}

void LocalReplicator::run_walk(WalkKind kind) {
  const bool repair = repairs(kind);
  auto progress = std::make_shared<SyncProgress>();
  std::optional<std::string> resume_after;
  std::vector<std::string> roots;
  std::string reason;
  // What the dirty set held when the walk began: covered once it ends.
  const std::vector<std::string> dirty = dirty_->roots();
  {
    std::lock_guard lock(mutex_);
    if (repair) {
      resume_after = walk_resume_after_;
      roots = walk_roots_;
    }
    reason = walk_reason_;
    walk_reason_.clear();
  }
  const int64_t started = wall_clock_ms();
  const char* state = kind == WalkKind::initial_sync ? "initial-sync"
                      : repair                       ? "resync"
                                                     : "verify";
  {
    std::lock_guard lock(sync_mutex_);
    walk_progress_ = progress;
    sync_status_.state = state;
    if (!reason.empty()) sync_status_.reason = reason;
    sync_status_.started = started;
    sync_status_.finished = 0;
    sync_status_.listed.clear();
  }
  spdlog::info("volume {}: {} of the copy begins{}", options_.volume, state,
               resume_after ? " (resuming after '" + *resume_after + "')" : std::string());
  std::string result;
  bool done = false;
  std::vector<WalkDifference> listed;
  try {
    InspectionClient client(options_.peer, options_.volume, secret_, kInspectTimeoutMs);
    WalkOptions wo;
    wo.backing = options_.backing;
    wo.mode = repair                              ? WalkMode::repair
              : kind == WalkKind::verify_checksum ? WalkMode::verify_checksum
                                                  : WalkMode::verify;
    wo.designation = Designation::parse(options_.exclude);
    wo.resume_after = resume_after;
    wo.roots = roots;
    wo.compare_all_contents = kind == WalkKind::resync_checksum;
    if (repair) {
      wo.on_directory_done = [this](const std::string& dir) {
        {
          std::lock_guard lock(mutex_);
          walk_resume_after_ = dir;
        }
        save_walk_progress(dir, false);
      };
    }
    CopyWalk walk(wo, client, this, *progress);
    walk.count();
    done = walk.run() && settle();
    listed = walk.differences();
    if (done && repair) {
      VolumeIdentity mine = identity_;
      mine.role = DataRole::copy;
      mine.flags = kIdentityConsistent;
      {
        std::lock_guard lock(mutex_);
        mine.sequence = acked_through_;
      }
      client.set_identity(mine);
      save_walk_progress(std::nullopt, true);
      spdlog::info("volume {}: the copy is consistent", options_.volume);
    }
    result = !done                        ? "interrupted"
             : repair                     ? "repaired"
             : progress->differences == 0 ? "equal"
                                          : "differ";
  } catch (const std::exception& e) {
    result = std::string("failed: ") + e.what();
    spdlog::error("volume {}: {} of the copy failed: {}", options_.volume, state, e.what());
    record_error(std::string("sync of the copy failed: ") + e.what());
  }
  const int64_t finished = wall_clock_ms();
  spdlog::info(
      "volume {}: {} of the copy {}: {} of {} entries, {} bytes compared, {} bytes and {} "
      "requests sent, {} difference(s), {} ms",
      options_.volume, state, result, progress->files_done.load(), progress->files_total.load(),
      progress->bytes_done.load(), progress->bytes_repaired.load(), progress->repairs.load(),
      progress->differences.load(), finished - started);
  std::unique_lock lock(mutex_);
  if (done && walk_wanted_ == kind) walk_wanted_ = WalkKind::none;
  if (done && repair) {
    if (!dirty.empty()) dirty_->remove(roots.empty() ? dirty : roots);
    walk_roots_.clear();
    copy_inconsistent_ = folding_ || !dirty_->empty();
    walk_resume_after_.reset();
  }
  if (!done && !repair) walk_wanted_ = WalkKind::none;  // a verify is not retried
  {
    std::lock_guard slock(sync_mutex_);
    sync_status_.finished = finished;
    sync_status_.result = result;
    if (done || !repair) sync_status_.state = "idle";
    if (done && repair && !copy_inconsistent_) sync_status_.copy = "consistent";
    sync_status_.listed.clear();
    for (size_t i = 0; i < listed.size() && i < 100; ++i) {
      sync_status_.listed.push_back({listed[i].path, listed[i].what});
    }
  }
  if (!done && repair && !stopped_) {
    // Interrupted (the link went down) or failed: again once the link is up.
    changed_.wait_for(lock, kRetryAfterFailure, [&] { return stopped_; });
  }
}

bool LocalReplicator::submit_repair(const MirrorRequest& r, LocalGuard guard) {
  if (cancelled()) return false;
  send(r, /*repair=*/true, guard);
  return !cancelled();
}

bool LocalReplicator::settle() {
  std::unique_lock lock(mutex_);
  const uint64_t target = last_appended_;
  answers_.wait(lock, [&] {
    return stopped_ || epoch_ != walk_epoch_ || !link_up_ || acked_through_ >= target;
  });
  return !stopped_ && epoch_ == walk_epoch_ && link_up_ && acked_through_ >= target;
}

bool LocalReplicator::cancelled() const {
  std::lock_guard lock(mutex_);
  return stopped_ || epoch_ != walk_epoch_ || !link_up_;
}

void LocalReplicator::verify(bool checksum) {
  std::lock_guard lock(mutex_);
  if (!link_up_) throw std::runtime_error("the peer is not connected: nothing to compare with");
  if (walk_wanted_ != WalkKind::none) {
    throw std::runtime_error(copy_inconsistent_ ? "a sync of the copy is running"
                                                : "a verify is running");
  }
  walk_wanted_ = checksum ? WalkKind::verify_checksum : WalkKind::verify;
  walk_reason_ =
      checksum ? "verify --checksum asked by the operator" : "verify asked by the operator";
  notify_changed();
}

void LocalReplicator::resync(bool discard_copy, bool checksum) {
  std::lock_guard lock(mutex_);
  if (discard_copy) {
    discard_copy_ = true;
    if (!link_up_) {
      check_wanted_ = true;  // the split brain is settled at the next check, now
      notify_changed();
      return;
    }
  }
  if (!link_up_) throw std::runtime_error("the peer is not connected: nothing to repair");
  if (repairs(walk_wanted_)) return;  // one is wanted or running: this joins it
  if (walk_wanted_ != WalkKind::none) throw std::runtime_error("a verify is running");
  copy_inconsistent_ = true;
  walk_resume_after_.reset();
  walk_roots_.clear();
  walk_wanted_ = checksum ? WalkKind::resync_checksum : WalkKind::resync;
  walk_reason_ =
      checksum ? "resync --checksum asked by the operator" : "resync asked by the operator";
  notify_changed();
}

}  // namespace mirror
