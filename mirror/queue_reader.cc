// The durable queue's reading side: open (directory, lock), recovery (every
// segment read in order, torn or corrupt tails cut and reported, gaps in the
// numbering reported) and replay of the unacknowledged records. All decoding
// is parse_segment's (queue_format.cc); this file does the I/O around it.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "mirror/queue.h"
#include "mirror/queue_format.h"

namespace mirror {

namespace qf = queue_format;

namespace {

std::runtime_error failure(const std::string& what, int err) {
  return std::runtime_error(what + ": " + std::strerror(err));
}

// Creates `dir` and its missing parents, each 0700.
void make_dirs(const std::string& dir) {
  for (size_t slash = 1; slash != std::string::npos;) {
    slash = dir.find('/', slash + 1);
    const std::string part = dir.substr(0, slash);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      throw failure("queue directory " + dir + ": cannot create " + part, errno);
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw failure("queue directory " + dir, errno);
  if (!S_ISDIR(st.st_mode)) throw failure("queue directory " + dir, ENOTDIR);
}

// The whole file behind `fd`, or at most `limit` bytes of it. 0 or errno.
int read_all(int fd, std::vector<std::byte>& out, uint64_t limit = UINT64_MAX) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  out.resize(std::min<uint64_t>(static_cast<uint64_t>(st.st_size), limit));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) break;  // shorter than fstat said
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return 0;
}

// The number of a segment file name ("000000000042.log"), if it is one.
std::optional<uint64_t> segment_number(const std::string& name) {
  constexpr std::string_view suffix = ".log";
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  const std::string digits = name.substr(0, name.size() - suffix.size());
  if (digits.size() > 19) return std::nullopt;  // always fits in u64
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::vector<uint64_t> list_segments(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) throw failure("queue directory " + dir + ": cannot list", errno);
  std::vector<uint64_t> numbers;
  while (dirent* e = ::readdir(d)) {
    if (auto n = segment_number(e->d_name)) numbers.push_back(*n);
  }
  ::closedir(d);
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

}  // namespace

std::unique_ptr<DurableQueue> DurableQueue::open(const QueueOptions& options,
                                                 const QueueReporter& reporter) {
  if (options.dir.empty()) throw std::runtime_error("queue directory: none given");
  if (options.max_bytes == 0 || options.segment_bytes == 0) {
    throw std::runtime_error("queue " + options.dir + ": max_bytes and segment_bytes must be > 0");
  }
  make_dirs(options.dir);
  std::unique_ptr<DurableQueue> q(new DurableQueue(options));
  q->dir_fd_ = ::open(options.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (q->dir_fd_ < 0) throw failure("queue directory " + options.dir + ": cannot open", errno);
  const std::string lock = options.dir + "/LOCK";
  q->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (q->lock_fd_ < 0) throw failure("queue " + lock + ": cannot open", errno);
  if (::flock(q->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      throw std::runtime_error("queue directory " + options.dir + " is in use by another queue (" +
                               lock + " is locked)");
    }
    throw failure("queue " + lock + ": cannot lock", errno);
  }
  q->recover(reporter ? reporter
                      : QueueReporter([](const std::string& file, uint64_t bytes, uint64_t records,
                                         const std::string& reason) {
                          spdlog::warn("queue recovery: {}: dropped {} bytes, {} record(s): {}",
                                       file, bytes, records, reason);
                        }));
  return q;
}

void DurableQueue::recover(const QueueReporter& report) {
  const std::string& dir = options_.dir;
  std::vector<std::byte> buf;

  // The state file: session and acknowledged watermark.
  const std::string state_path = dir + "/state";
  ::unlink((dir + "/state.tmp").c_str());  // a write that never got renamed
  if (int fd = ::open(state_path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    const int err = read_all(fd, buf, qf::kStateSize + 1);
    ::close(fd);
    if (err) throw failure("queue " + state_path + ": cannot read", err);
    qf::State s;
    if (auto fault = qf::decode_state(buf, s)) {
      report(state_path, buf.size(), 0,
             *fault + "; the session and acknowledged watermark start again from 0");
    } else {
      session_ = persisted_session_ = s.session;
      acknowledged_ = persisted_acknowledged_ = s.acknowledged;
    }
  } else if (errno != ENOENT) {
    throw failure("queue " + state_path + ": cannot open", errno);
  }

  // Every segment, in order.
  bool changed = false;
  std::optional<uint64_t> previous;
  for (const uint64_t number : list_segments(dir)) {
    const std::string path = segment_path(number);
    if (previous && number != *previous + 1) {
      const std::string missing = *previous + 1 == number - 1
                                      ? "segment " + std::to_string(*previous + 1) + " is"
                                      : "segments " + std::to_string(*previous + 1) + " to " +
                                            std::to_string(number - 1) + " are";
      report(segment_path(*previous + 1), 0, 0,
             missing + " missing: records after sequence " + std::to_string(last_sequence_) +
                 " held there are lost; the queue goes on with segment " + std::to_string(number));
    }
    previous = number;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) throw failure("queue segment " + path + ": cannot open", errno);
    if (int err = read_all(fd, buf)) {
      ::close(fd);
      throw failure("queue segment " + path + ": cannot read", err);
    }
    std::vector<std::pair<uint64_t, int64_t>> found;  // sequence, append time
    auto scan = qf::parse_segment(buf, last_sequence_, [&](const qf::SegmentRecord& r) {
      found.emplace_back(r.sequence, static_cast<int64_t>(r.append_time_ms));
      return true;
    });
    if (scan.header_ok && scan.number != number) {
      // Believe nothing from a file that is not the segment its name says.
      scan.fault = "segment header names segment " + std::to_string(scan.number);
      scan.header_ok = false;
      scan.dropped_bytes = buf.size();
      scan.dropped_records = scan.records;
    }
    Segment seg{number, scan.good_bytes, scan.records, scan.last_sequence};
    int err = 0;
    if (!scan.header_ok) {
      // Reset to an empty segment, so that the numbering has no gap.
      report(path, scan.dropped_bytes, scan.dropped_records,
             *scan.fault + "; reset to an empty segment");
      const auto header = qf::encode_segment_header(number);
      seg = Segment{number, header.size(), 0, 0};
      if (::ftruncate(fd, 0) != 0) {
        err = errno;
      } else if (ssize_t n = ::pwrite(fd, header.data(), header.size(), 0); n < 0) {
        err = errno;
      } else if (static_cast<size_t>(n) != header.size()) {
        err = EIO;
      }
    } else if (scan.fault) {
      report(path, scan.dropped_bytes, scan.dropped_records, *scan.fault);
      if (::ftruncate(fd, static_cast<off_t>(scan.good_bytes)) != 0) err = errno;
    }
    if (!err && (scan.fault || !scan.header_ok)) {
      changed = true;
      if (::fdatasync(fd) != 0) err = errno;
    }
    ::close(fd);
    if (err) throw failure("queue segment " + path + ": cannot cut the damaged tail", err);
    if (seg.records > 0) {
      for (const auto& [sequence, time_ms] : found) note_record(sequence, time_ms);
      last_sequence_ = seg.last_sequence;
    }
    segments_.push_back(seg);
    next_segment_ = number + 1;
  }
  if (changed && ::fsync(dir_fd_) != 0) throw failure("queue directory " + dir + ": fsync", errno);

  // Whole segments already acknowledged go now.
  while (!segments_.empty() && segments_.front().last_sequence <= acknowledged_) {
    const std::string path = segment_path(segments_.front().number);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      throw failure("queue segment " + path + ": cannot delete (acknowledged)", errno);
    }
    segments_.pop_front();
  }
  for (const Segment& s : segments_) bytes_ += s.bytes;
}

int DurableQueue::visit_unacknowledged(const Visitor& visit, uint64_t from) const {
  std::vector<std::pair<uint64_t, uint64_t>> snapshot;  // segment number, bytes written
  uint64_t acknowledged = 0;
  {
    std::lock_guard lock(mu_);
    for (const Segment& s : segments_) {
      // A segment wholly below `from` is not read (one being appended to has
      // last_sequence 0 until its first record and is always read).
      if (s.last_sequence != 0 && s.last_sequence < from) continue;
      snapshot.emplace_back(s.number, s.bytes);
    }
    acknowledged = std::max(acknowledged_, from > 0 ? from - 1 : 0);
  }
  std::vector<std::byte> buf;
  uint64_t last = 0;
  for (const auto& [number, size] : snapshot) {
    const std::string path = segment_path(number);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) continue;  // acknowledged and deleted meanwhile
    if (fd < 0) return errno;
    const int err = read_all(fd, buf, size);
    ::close(fd);
    if (err) return err;
    bool stopped = false;
    auto scan = qf::parse_segment(buf, last, [&](const qf::SegmentRecord& r) {
      if (r.sequence <= acknowledged) return true;
      stopped = !visit(r.sequence, r.payload);
      return !stopped;
    });
    if (stopped) return 0;
    if (scan.fault) {
      spdlog::error("queue: segment {} changed on disk since the queue was opened: {}", path,
                    *scan.fault);
    }
    if (scan.records > 0) last = scan.last_sequence;
  }
  return 0;
}

std::vector<QueueRecord> DurableQueue::unacknowledged() const {
  std::vector<QueueRecord> out;
  const int err = visit_unacknowledged([&](uint64_t sequence, std::span<const std::byte> p) {
    out.push_back(QueueRecord{sequence, std::vector<std::byte>(p.begin(), p.end())});
    return true;
  });
  if (err) throw failure("queue " + options_.dir + ": cannot read the unacknowledged records", err);
  return out;
}

}  // namespace mirror
