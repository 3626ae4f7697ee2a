// The durable queue: the ordered, on-disk log of mirror requests that the
// mirror has not acknowledged yet. Records go to segment files in one
// directory (format in mirror/queue_format.h); acknowledged records leave by
// whole segments; on open, a torn or corrupt tail is cut and reported. One
// process uses a queue directory at a time (a LOCK file is held).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace mirror {

struct QueueOptions {
  std::string dir;                       // the queue directory (created 0700 if missing)
  uint64_t max_bytes = 1ull << 30;       // back-pressure beyond this
  uint64_t segment_bytes = 64ull << 20;  // a segment is closed once it would grow beyond this
  // Test seam: makes the file or directory `fd` durable, returning 0 or an
  // errno. Empty: fdatasync(2) for segments, fsync(2) for the directory.
  std::function<int(int fd)> sync_file;
};

struct QueueRecord {
  uint64_t sequence;
  std::vector<std::byte> payload;
};

// Called during recovery for every cut: file, bytes and records dropped, and
// why. An empty reporter logs each cut with spdlog instead.
using QueueReporter = std::function<void(const std::string& file, uint64_t bytes_dropped,
                                         uint64_t records_dropped, const std::string& reason)>;

class DurableQueue {
 public:
  // Opens (or creates) the queue and recovers it: reads every segment in
  // order; cuts a torn or corrupt tail (truncating the file), an empty or
  // garbage segment header (the file is reset to an empty segment), and
  // reports each cut; reports a gap in the segment numbering and goes on
  // after it (again at every open, until acknowledgements pass it). A bad
  // state file is reported and counts as session 0, nothing acknowledged.
  // Throws std::runtime_error naming the directory or file on errors that are
  // not the files' contents: cannot create, lock, read or truncate.
  static std::unique_ptr<DurableQueue> open(const QueueOptions& options,
                                            const QueueReporter& reporter);
  // Stops (see stop()) and persists the acknowledged watermark. No call may
  // be in progress. Does not sync appended records: call sync() for that.
  ~DurableQueue();
  DurableQueue(const DurableQueue&) = delete;
  DurableQueue& operator=(const DurableQueue&) = delete;

  // The session identity of the link, persisted in the "state" file at once
  // (set_session throws std::runtime_error naming the file if it cannot).
  uint64_t session() const;
  void set_session(uint64_t session);

  // Appends one record whose payload is `head` then `data` (written from
  // where they lie with pwritev(2), not copied; not synced). The sequence
  // must be above every one appended or recovered and above acknowledged()
  // (std::invalid_argument otherwise, or for a payload beyond
  // queue_format::kMaxRecordPayload). Blocks while bytes() + size >
  // max_bytes and the queue is not empty, until acknowledge() frees space.
  // Returns false, the record not queued, after stop() or when writing failed
  // (logged; the next record starts a new segment). Thread-safe.
  bool append(uint64_t sequence, std::span<const std::byte> head, std::span<const std::byte> data);

  // Makes every record appended before the call durable: fdatasync of the
  // current segment and of each segment closed since the last sync, and
  // fsync of the directory if segments were created. Group commit: a caller
  // whose records a sync in progress covers waits for it; the callers that
  // arrive meanwhile share the next one. Returns 0 or the errno. A failure is
  // sticky (logged once, naming the file): every later sync() returns it.
  int sync();
  // Sync rounds performed (each one fdatasync per segment involved): for
  // tests and status.
  uint64_t sync_count() const;

  // Everything up to and including `sequence` was acknowledged by the mirror.
  // Segments whose records are all at or below it are deleted, oldest first.
  // The watermark is persisted lazily: when a segment is deleted, and at
  // close. After a crash it may lag by up to a segment's records, which are
  // then replayed again (the mirror recognises them by session and sequence).
  void acknowledge(uint64_t sequence);
  uint64_t acknowledged() const;
  // Whether append() of a payload of this size would wait for space now.
  bool full_for(uint64_t payload_size) const;

  // The records above the acknowledged watermark, read from disk, in order.
  // unacknowledged() holds them all in memory and throws std::runtime_error
  // naming the file if one cannot be read; visit_unacknowledged() holds one
  // segment at a time, gives each record to `visit` (which returns false to
  // stop; the payload is valid during the call) and returns 0 or the errno.
  // Records appended during the call may or may not be included.
  std::vector<QueueRecord> unacknowledged() const;
  // `from`: records below this sequence are skipped (whole segments unread).
  using Visitor = std::function<bool(uint64_t sequence, std::span<const std::byte> payload)>;
  int visit_unacknowledged(const Visitor& visit, uint64_t from = 0) const;

  // The highest sequence appended or recovered (0: none ever).
  uint64_t last_sequence() const;
  uint64_t records() const;  // unacknowledged records held
  uint64_t bytes() const;    // bytes of the segment files held
  // Age of the oldest unacknowledged record by the append time stored in its
  // header (wall clock, so it survives restarts); -1 when there is none.
  int64_t oldest_unacknowledged_age_ms() const;
  bool waiting_for_space() const;  // an appender is blocked by back-pressure
  // Wakes blocked appenders (they return false); later appends return false.
  void stop();

 private:
  struct File;  // an open segment file; closed with its last owner
  struct Segment {
    uint64_t number = 0;
    uint64_t bytes = 0;
    uint64_t records = 0;
    uint64_t last_sequence = 0;  // 0: no records
  };
  // Consecutive sequences appended in the same millisecond: the unacknowledged
  // records and their ages, in little memory.
  struct Run {
    uint64_t first = 0;
    uint64_t count = 0;
    int64_t time_ms = 0;
  };

  explicit DurableQueue(QueueOptions options);
  void recover(const QueueReporter& report);  // queue_recovery.cc
  std::string segment_path(uint64_t number) const;
  int roll_segment();                                    // mu_ held
  void close_current();                                  // mu_ held
  void note_record(uint64_t sequence, int64_t time_ms);  // mu_ held
  bool has_space(uint64_t size) const;                   // mu_ held
  int make_durable(int fd, bool directory) const;
  int persist_state();  // takes state_mu_, then mu_

  const QueueOptions options_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;

  // Lock order: state_mu_, then mu_.
  std::mutex state_mu_;  // serialises writes of the state file; guards persisted_
  uint64_t persisted_session_ = 0;
  uint64_t persisted_acknowledged_ = 0;

  mutable std::mutex mu_;                        // guards everything below
  std::condition_variable space_cv_;             // appenders waiting for space
  std::condition_variable sync_cv_;              // callers waiting for a sync round
  std::deque<Segment> segments_;                 // oldest first; current_ is the back one's
  std::shared_ptr<File> current_;                // the segment appended to; none until an append
  std::vector<std::shared_ptr<File>> unsynced_;  // closed since the last sync round
  bool dir_dirty_ = false;                       // segments created since the last sync round
  uint64_t next_segment_ = 1;
  std::deque<Run> runs_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  uint64_t last_sequence_ = 0;  // appended or recovered
  uint64_t session_ = 0;
  uint64_t acknowledged_ = 0;
  uint64_t appended_ = 0;  // records written since open: the position sync() covers
  uint64_t synced_ = 0;    // appended_ as of the last good sync round
  bool syncing_ = false;   // a sync round is in progress, outside mu_
  int sync_error_ = 0;     // sticky
  uint64_t sync_rounds_ = 0;
  unsigned waiting_ = 0;  // appenders blocked by back-pressure
  bool stopped_ = false;
};

}  // namespace mirror
