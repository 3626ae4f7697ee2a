// The durable queue's writing side: appends with back-pressure, group-commit
// sync with a sticky error, acknowledgement by whole segments, and the state
// file. Opening, recovery and replay are in queue_reader.cc.
#include "mirror/queue.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "mirror/queue_format.h"

namespace mirror {

namespace qf = queue_format;

struct DurableQueue::File {
  File(uint64_t n, std::string p, int f) : number(n), path(std::move(p)), fd(f) {}
  ~File() { ::close(fd); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  const uint64_t number;
  const std::string path;
  const int fd;
};

namespace {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Writes all of `iov` at `offset`, going on after short writes. 0 or errno.
int pwrite_all(int fd, std::span<iovec> iov, off_t offset) {
  size_t i = 0;
  while (i < iov.size()) {
    ssize_t n = ::pwritev(fd, iov.data() + i, static_cast<int>(iov.size() - i), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    offset += n;
    auto left = static_cast<size_t>(n);
    while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
    if (i < iov.size()) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
  return 0;
}

iovec io(const void* p, size_t n) {
  return iovec{const_cast<void*>(p), n};
}

}  // namespace

DurableQueue::DurableQueue(QueueOptions options) : options_(std::move(options)) {}

DurableQueue::~DurableQueue() {
  stop();
  if (int err = persist_state()) {
    spdlog::warn("queue {}: could not persist the acknowledged watermark at close: {}",
                 options_.dir, std::strerror(err));
  }
  {
    std::lock_guard lock(mu_);
    current_.reset();
    unsynced_.clear();
  }
  if (dir_fd_ >= 0) ::close(dir_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string DurableQueue::segment_path(uint64_t number) const {
  char name[32];
  std::snprintf(name, sizeof name, "%012" PRIu64 ".log", number);
  return options_.dir + "/" + name;
}

int DurableQueue::make_durable(int fd, bool directory) const {
  if (options_.sync_file) return options_.sync_file(fd);
  const int r = directory ? ::fsync(fd) : ::fdatasync(fd);
  return r == 0 ? 0 : errno;
}

uint64_t DurableQueue::session() const {
  std::lock_guard lock(mu_);
  return session_;
}

void DurableQueue::set_session(uint64_t session) {
  {
    std::lock_guard lock(mu_);
    session_ = session;
  }
  if (int err = persist_state()) {
    throw std::runtime_error("queue " + options_.dir +
                             "/state: cannot persist session: " + std::strerror(err));
  }
}

// Writes the state file anew if it differs from what was last persisted:
// state.tmp, fdatasync, rename over state, fsync of the directory.
int DurableQueue::persist_state() {
  std::lock_guard state_lock(state_mu_);
  qf::State s;
  {
    std::lock_guard lock(mu_);
    s = {session_, acknowledged_};
  }
  if (s.session == persisted_session_ && s.acknowledged == persisted_acknowledged_) return 0;
  const std::string tmp = options_.dir + "/state.tmp";
  const auto bytes = qf::encode_state(s);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  std::array<iovec, 1> iov{io(bytes.data(), bytes.size())};
  int err = pwrite_all(fd, iov, 0);
  if (!err && ::fdatasync(fd) != 0) err = errno;
  ::close(fd);
  if (!err && ::rename(tmp.c_str(), (options_.dir + "/state").c_str()) != 0) err = errno;
  if (!err && ::fsync(dir_fd_) != 0) err = errno;
  if (err) return err;
  persisted_session_ = s.session;
  persisted_acknowledged_ = s.acknowledged;
  return 0;
}

bool DurableQueue::has_space(uint64_t size) const {
  // With every record acknowledged, what the files hold is the kept current
  // segment (see acknowledge()), which rolls over once full: no reason to wait.
  return bytes_ == 0 || records_ == 0 || bytes_ + size <= options_.max_bytes;
}

bool DurableQueue::full_for(uint64_t payload_size) const {
  std::lock_guard lock(mu_);
  return !has_space(qf::kRecordHeaderSize + payload_size);
}

void DurableQueue::note_record(uint64_t sequence, int64_t time_ms) {
  if (sequence <= acknowledged_) return;
  ++records_;
  if (!runs_.empty()) {
    Run& r = runs_.back();
    if (r.first + r.count == sequence && r.time_ms == time_ms) {
      ++r.count;
      return;
    }
  }
  runs_.push_back(Run{sequence, 1, time_ms});
}

int DurableQueue::roll_segment() {
  const uint64_t number = next_segment_;
  const std::string path = segment_path(number);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    spdlog::error("queue: cannot create segment {}: {}", path, std::strerror(err));
    return err;
  }
  const auto header = qf::encode_segment_header(number);
  std::array<iovec, 1> iov{io(header.data(), header.size())};
  if (int err = pwrite_all(fd, iov, 0)) {
    spdlog::error("queue: cannot write the header of segment {}: {}", path, std::strerror(err));
    ::close(fd);
    ::unlink(path.c_str());
    return err;
  }
  ++next_segment_;  // only now: a segment that could not be made leaves no gap
  close_current();
  current_ = std::make_shared<File>(number, path, fd);
  segments_.push_back(Segment{number, qf::kSegmentHeaderSize, 0, 0});
  bytes_ += qf::kSegmentHeaderSize;
  dir_dirty_ = true;
  return 0;
}

// The current segment takes no more records; the next sync still covers it.
void DurableQueue::close_current() {
  if (current_) unsynced_.push_back(std::move(current_));
  current_.reset();
}

bool DurableQueue::append(uint64_t sequence, std::span<const std::byte> head,
                          std::span<const std::byte> data) {
  const uint64_t payload = head.size() + data.size();
  if (payload > qf::kMaxRecordPayload) {
    throw std::invalid_argument("queue append: payload of " + std::to_string(payload) +
                                " bytes is beyond the record limit");
  }
  const uint64_t size = qf::kRecordHeaderSize + payload;
  // The checksum is computed before taking the lock, so appenders overlap.
  const int64_t time_ms = now_ms();
  const auto header =
      qf::encode_record_header(sequence, static_cast<uint64_t>(time_ms), head, data);

  std::unique_lock lock(mu_);
  if (!stopped_ && !has_space(size)) {
    ++waiting_;
    space_cv_.wait(lock, [&] { return stopped_ || has_space(size); });
    --waiting_;
  }
  if (stopped_) return false;
  if (const uint64_t floor = std::max(last_sequence_, acknowledged_); sequence <= floor) {
    throw std::invalid_argument("queue append: sequence " + std::to_string(sequence) +
                                " is not above " + std::to_string(floor));
  }
  if (!current_ ||
      (segments_.back().records > 0 && segments_.back().bytes + size > options_.segment_bytes)) {
    if (roll_segment() != 0) return false;
  }
  Segment& seg = segments_.back();
  std::array<iovec, 3> iov{io(header.data(), header.size()), io(head.data(), head.size()),
                           io(data.data(), data.size())};
  if (int err = pwrite_all(current_->fd, iov, static_cast<off_t>(seg.bytes))) {
    spdlog::error("queue: cannot append record {} to {}: {}", sequence, current_->path,
                  std::strerror(err));
    // Take back a partial record so that none is torn before later ones.
    if (::ftruncate(current_->fd, static_cast<off_t>(seg.bytes)) != 0) {
      spdlog::error("queue: cannot truncate {} back to {} bytes: {}", current_->path, seg.bytes,
                    std::strerror(errno));
    }
    close_current();
    return false;
  }
  seg.bytes += size;
  ++seg.records;
  seg.last_sequence = sequence;
  bytes_ += size;
  last_sequence_ = sequence;
  ++appended_;
  note_record(sequence, time_ms);
  return true;
}

int DurableQueue::sync() {
  std::unique_lock lock(mu_);
  const uint64_t target = appended_;
  for (;;) {
    if (sync_error_ != 0) return sync_error_;
    if (synced_ >= target) return 0;
    if (!syncing_) break;
    sync_cv_.wait(lock);  // a round in progress may cover us; if not, the next will
  }
  syncing_ = true;
  ++sync_rounds_;
  const uint64_t covers = appended_;
  std::vector<std::shared_ptr<File>> files = std::exchange(unsynced_, {});
  if (current_) files.push_back(current_);
  const bool directory = std::exchange(dir_dirty_, false);
  lock.unlock();

  int err = 0;
  std::string failed;
  for (const auto& f : files) {
    if ((err = make_durable(f->fd, false)) != 0) {
      failed = f->path;
      break;
    }
  }
  if (err == 0 && directory && (err = make_durable(dir_fd_, true)) != 0) failed = options_.dir;

  lock.lock();
  syncing_ = false;
  if (err != 0 && sync_error_ == 0) {
    sync_error_ = err;
    spdlog::error(
        "queue: fsync of {} failed: {}; the queue can no longer promise durability, "
        "and every later sync reports this error",
        failed, std::strerror(err));
  } else if (err == 0) {
    synced_ = std::max(synced_, covers);
  }
  sync_cv_.notify_all();
  return sync_error_;
}

uint64_t DurableQueue::sync_count() const {
  std::lock_guard lock(mu_);
  return sync_rounds_;
}

void DurableQueue::acknowledge(uint64_t sequence) {
  std::vector<std::string> doomed;
  {
    std::lock_guard lock(mu_);
    if (sequence <= acknowledged_) return;
    acknowledged_ = sequence;
    while (!runs_.empty() && runs_.front().first <= sequence) {
      Run& r = runs_.front();
      const uint64_t gone = std::min(r.count, sequence - r.first + 1);
      records_ -= gone;
      r.count -= gone;
      r.first += gone;
      if (r.count == 0) runs_.pop_front();
    }
    uint64_t deleted_through = 0;
    while (!segments_.empty() && segments_.front().last_sequence <= sequence) {
      // The segment being appended to stays unless an appender waits for
      // its space: deleting it would cost a state file write, a new segment
      // and directory syncs each time the mirror catches up, which is most
      // of the time. It goes once it is full and another follows.
      if (current_ && segments_.size() == 1) {
        if (waiting_ == 0) break;
        current_.reset();
      }
      deleted_through = segments_.front().number;
      bytes_ -= segments_.front().bytes;
      doomed.push_back(segment_path(deleted_through));
      segments_.pop_front();
    }
    if (!doomed.empty()) {
      // A deleted segment needs no sync; its descriptor goes now.
      std::erase_if(unsynced_, [&](const auto& f) { return f->number <= deleted_through; });
      space_cv_.notify_all();
    }
  }
  if (doomed.empty()) return;
  // The watermark first: a crash in between leaves segments that the next
  // open finds acknowledged and deletes.
  if (int err = persist_state()) {
    spdlog::warn("queue {}/state: cannot persist acknowledged sequence {}: {}", options_.dir,
                 sequence, std::strerror(err));
  }
  for (const auto& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("queue: cannot delete acknowledged segment {}: {}", path, std::strerror(errno));
    }
  }
}

uint64_t DurableQueue::acknowledged() const {
  std::lock_guard lock(mu_);
  return acknowledged_;
}

uint64_t DurableQueue::last_sequence() const {
  std::lock_guard lock(mu_);
  return last_sequence_;
}

uint64_t DurableQueue::records() const {
  std::lock_guard lock(mu_);
  return records_;
}

uint64_t DurableQueue::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

int64_t DurableQueue::oldest_unacknowledged_age_ms() const {
  std::lock_guard lock(mu_);
  if (runs_.empty()) return -1;
  return std::max<int64_t>(0, now_ms() - runs_.front().time_ms);
}

bool DurableQueue::waiting_for_space() const {
  std::lock_guard lock(mu_);
  return waiting_ > 0;
}

void DurableQueue::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  space_cv_.notify_all();
}

}  // namespace mirror
