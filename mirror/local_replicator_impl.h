// The local replicator's parts, shared by its files (local_replicator.cc:
// sequence, queue, feeding and answers; local_link.cc: the link's state,
// operator commands and status). Internal to mirror/; the public face is
// local_replicator.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "mirror/auth.h"
#include "mirror/copy_walk.h"
#include "mirror/dirty_set.h"
#include "mirror/designated_requests.h"
#include "mirror/local_heartbeat.h"
#include "mirror/local_replicator.h"
#include "mirror/peer_connection.h"
#include "mirror/queue.h"
#include "mirror/volume_identity.h"

namespace mirror {

class LocalReplicator final : public Replicator, public LocalHeartbeat::Link, public SyncPort {
 public:
  explicit LocalReplicator(const PeerOptions& options);

  ~LocalReplicator() override { stop(); }

  void start() override {
    for (auto& c : connections_) c->start();
    feeder_ = std::thread([this] { feed_loop(); });
    syncer_ = std::thread([this] { sync_loop(); });
    heartbeat_->start();
  }

  bool mirrors() const override { return true; }
  const char* describe() const override {
    return mode_.load() == Mode::sync ? "mirrored, sync" : "mirrored, async";
  }

  int replicate(const MirrorRequest& r) override { return designated_.replicate(r); }

  void stop() override;

  std::optional<VolumeStatus> status() const override;  // local_link.cc
  void pause(bool paused) override;                     // local_link.cc
  void set_mode(Mode mode) override;                    // local_link.cc
  void verify(bool checksum) override;                  // local_sync.cc
  void resync(bool discard_copy, bool checksum) override;  // local_sync.cc

  // SyncPort (local_sync.cc): the walk's repairs travel as requests.
  bool submit_repair(const MirrorRequest& r, LocalGuard guard) override;
  bool settle() override;
  uint64_t live_namespace_changes() const override { return live_namespace_changes_.load(); }
  void watch(uint64_t inode) override { watched_inode_.store(inode); }
  uint64_t watched_changes() const override { return watched_changes_.load(); }
  bool cancelled() const override;

 private:
  void open_queue();
  // `repair`: a request of the walk, never waited for and not a live change.
  // `guard`: see SyncPort::submit_repair.
  int send(const MirrorRequest& r, bool repair = false, LocalGuard guard = LocalGuard::none);
  int finish_sync(const PendingPtr& p, bool fsync);
  void answered(uint64_t sequence, int error);
  // The link (local_link.cc): heartbeats and the operator decide together
  // whether the connections are up.
  void link_down() override;
  void link_up() override;
  void bring_up_locked();
  void take_down(std::unique_lock<std::mutex>& lock);
  void record_error(const std::string& message) const;
  void feed_loop();
  bool feed_record(uint64_t epoch, uint64_t sequence, std::span<const std::byte> frame);
  void feed_locked(const PendingPtr& p, size_t bytes);
  // Feeds the requests held in memory (the queue could not take them) from
  // next_to_feed_ up to, not including, `limit`.
  void feed_unqueued_below_locked(uint64_t limit);
  // Whether `bytes` more may be handed to the connections from memory.
  bool has_room_locked(size_t bytes) const;
  void release_waiters_locked(bool link_gone);
  void notify_changed() {
    changed_.notify_all();
    answers_.notify_all();
  }
  // The copy (local_sync.cc): its identity checked when the link comes up,
  // the walks that sync or verify it.
  enum class WalkKind { none, initial_sync, resync, resync_checksum, verify, verify_checksum };
  static bool repairs(WalkKind k) {
    return k == WalkKind::initial_sync || k == WalkKind::resync || k == WalkKind::resync_checksum;
  }
  void open_identity();
  void close_identity();
  void sync_loop();
  void check_copy();
  void run_walk(WalkKind kind);
  void discard_queue_locked();
  // on_queue_full=resync: the request is not queued; its directory goes to
  // the dirty set. order_mutex_ held.
  void fold(const MirrorRequest& r);
  // The queue has room again: the dirty set is walked. mutex_ held by `lock`.
  void end_folding(std::unique_lock<std::mutex>& lock);
  void set_sync_state(const std::string& state, const std::string& reason);
  std::optional<std::string> load_walk_progress() const;
  // Nothing: the walk is over, the file goes.
  void save_walk_progress(const std::optional<std::string>& after, bool force);

  const PeerOptions options_;
  std::atomic<Mode> mode_;
  DesignatedRequests designated_;
  const Secret secret_;
  std::unique_ptr<DurableQueue> queue_;
  std::string queue_dir_;
  LinkContext link_;
  LocalConnectionArray array_;
  std::vector<std::unique_ptr<PeerConnection>> connections_;
  std::unique_ptr<LocalHeartbeat> heartbeat_;
  std::thread feeder_;
  std::thread syncer_;
  IdentityFile identity_file_{""};
  VolumeIdentity identity_;  // this side's; written at start and at a clean stop
  std::atomic<uint64_t> live_namespace_changes_{0};
  std::atomic<uint64_t> watched_inode_{0};
  std::atomic<uint64_t> watched_changes_{0};
  // The copy misses changes until a repair walk ends: the mirror's errors
  // meanwhile are expected, and not given to sync callers.
  std::atomic<bool> copy_inconsistent_{false};
  std::unique_ptr<DirtySet> dirty_;
  std::atomic<bool> folding_{false};        // requests go to the dirty set, not the queue
  std::atomic<bool> dirty_waiting_{false};  // the dirty set holds directories to resync

  // Orders sequence numbers, barriers, queue appends and hand-overs to the
  // connections. Taken before mutex_.
  std::mutex order_mutex_;
  uint64_t next_sequence_ = 1;
  uint64_t last_namespace_change_ = 0;

  mutable std::mutex
      mutex_;  // guards everything below; taken before PeerConnection's and error_mutex_
  std::condition_variable changed_;   // the link's state, walks, the operator, stopping
  // Answers arrived (acked_through_ and the room in flight moved): only the
  // few who wait for those are woken per answer, not every loop. Every
  // notification of changed_ also notifies answers_, whose waiters watch the
  // state too.
  std::condition_variable answers_;
  bool link_up_ = false;
  bool connecting_ = true;  // since start, until the link is first up or declared down
  bool live_ = false;       // new requests go to the connections from memory
  uint64_t epoch_ = 0;      // one per time the link came up
  uint64_t next_to_feed_;   // lowest sequence not yet handed to a connection in this epoch
  uint64_t last_appended_;  // highest sequence in the queue (or held in unqueued_)
  uint64_t acked_through_;  // every request up to this one was answered
  std::set<uint64_t> answered_above_;     // answered, above a gap
  std::map<uint64_t, size_t> in_flight_;  // handed to a connection in this epoch: bytes
  size_t in_flight_bytes_ = 0;
  std::map<uint64_t, PendingPtr> waiters_;   // sync mode: callers waiting for the answer
  std::map<uint64_t, PendingPtr> unqueued_;  // the queue could not take them: held here
  uint64_t replay_until_ = 0;                // a replay is on until this sequence is acknowledged
  int64_t replay_started_ms_ = 0;
  bool stopped_ = false;
  bool heartbeat_up_ = false;  // the heartbeat says the peer may be used
  bool paused_ = false;        // mirrorctl pause
  bool agreed_ = false;        // the copy's identity was checked since the link was last down
  bool check_wanted_ = false;  // the link may come up once the copy's identity is checked
  bool discard_copy_ = false;   // mirrorctl resync --discard-copy: settle a split brain
  bool recheck_wanted_ = false;  // the peer closed a connection: check the copy again
  WalkKind walk_wanted_ = WalkKind::none;  // to run while the link is up
  std::optional<std::string> walk_resume_after_;  // a repair walk resumes after this directory
  uint64_t walk_epoch_ = 0;                // the link epoch a running walk belongs to
  std::vector<std::string> walk_roots_;    // of the next repair walk; empty: the whole tree
  std::string walk_reason_;                // why the next walk runs, when an operator asked
  // Counters for status.
  uint64_t requests_queued_ = 0, requests_acked_ = 0, requests_failed_ = 0;
  uint64_t interruptions_ = 0, reconnects_ = 0;

  mutable std::mutex sync_mutex_;  // guards sync_status_, walk_progress_, progress_saved_ms_
  SyncStatus sync_status_;
  std::shared_ptr<SyncProgress> walk_progress_;
  int64_t progress_saved_ms_ = 0;

  mutable std::mutex error_mutex_;  // guards last_error_, samples_
  mutable std::optional<ErrorStatus> last_error_;
  mutable std::deque<std::tuple<int64_t, uint64_t, uint64_t>> samples_;  // ms, acked, bytes
};

// Completes a sync caller's wait.
void complete(const PendingPtr& p, int error, bool released);

}  // namespace mirror
