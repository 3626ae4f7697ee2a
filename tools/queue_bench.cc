// queue_bench: the append throughput of the durable queue (mirror/queue.h), as
// tools/bench reports it.
//
//   queue_bench [--quick] [--seconds S] [--ack-all] DIR
//
// In DIR (which must exist, on the disk to measure, not on tmpfs) each case
// opens a fresh DurableQueue in its own subdirectory DIR/CASE (which must not
// exist yet; it is removed afterwards), appends records for a bounded time (3 s,
// --quick 1 s, --seconds S otherwise) and prints one JSON line:
//   4k            4 KiB records, one thread, never synced
//   4k-sync64     4 KiB records, one thread, sync() after every 64 records
//   1m            1 MiB records, one thread, never synced
//   4k-group4     4 KiB records, 4 threads, each calling sync() after every record
//                 of its own: group commit, one sync round serves many callers
// Fields: case, threads, record_bytes (payload: a 64-byte head then the data, as
// mirrorfs appends a request's encoded head and its data), records, seconds,
// records_per_s, mb_per_s (payload bytes, MB = 10^6 bytes), sync_calls,
// sync_rounds (DurableQueue::sync_count(): the fdatasync rounds actually made).
// Sequences are taken under one lock held across append(), as mirrorfs does.
// A thread of each case acknowledges, every 20 ms, what had been appended 20 ms
// before (as the mirror's responses would, lagging behind), so the queue trims
// its closed segments (64 MiB each, with a write of its state file) and never
// reaches its limit, while the segment being appended to stays. --ack-all
// acknowledges every 20 ms all that was appended instead: what a mirror that
// keeps up does, where each acknowledgement that empties the queue deletes the
// segment being appended to as well. Without sync the figures are the page
// cache's more than the disk's: segments are deleted soon after they are
// written, possibly before writeback.
//
// Exit status: 0, 1 when a case failed (an append or a sync failed, or the queue
// could not be opened), 2 for a wrong command line.
#include <sys/vfs.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mirror/queue.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kHeadBytes = 64;
constexpr auto kAckEvery = std::chrono::milliseconds(20);
constexpr long kTmpfsMagic = 0x01021994;

struct Case {
  const char* name;
  size_t record_bytes;
  unsigned threads;
  unsigned sync_every;  // 0: never
};

struct Result {
  uint64_t records = 0;
  uint64_t sync_calls = 0;
  uint64_t sync_rounds = 0;
  double seconds = 0;
  std::string error;
};

// The shared state of one case: the queue, and the next sequence under
// `order` (held across append(), so that sequences reach the queue in order).
struct Run {
  mirror::DurableQueue* queue = nullptr;
  std::mutex order;
  uint64_t next_sequence = 1;
  std::atomic<uint64_t> last_appended{0};
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> sync_calls{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::string error;

  void fail(const std::string& why) {
    std::lock_guard lock(error_mu);
    if (error.empty()) error = why;
    failed = true;
  }
};

bool ack_all = false;

void appender(Run& run, const Case& c, Clock::time_point deadline) {
  std::vector<std::byte> head(kHeadBytes, std::byte{0x5a});
  std::vector<std::byte> data(c.record_bytes - kHeadBytes);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 131 + 7);
  uint64_t mine = 0;
  while (!run.failed && Clock::now() < deadline) {
    {
      std::lock_guard lock(run.order);
      const uint64_t seq = run.next_sequence++;
      if (!run.queue->append(seq, head, data)) {
        run.fail("append of record " + std::to_string(seq) + " failed");
        return;
      }
      run.last_appended = seq;
    }
    ++run.records;
    ++mine;
    if (c.sync_every != 0 && mine % c.sync_every == 0) {
      ++run.sync_calls;
      if (int err = run.queue->sync(); err != 0) {
        run.fail(std::string("sync failed: ") + std::strerror(err));
        return;
      }
    }
  }
}

Result run_case(const fs::path& dir, const Case& c, double seconds) {
  Result r;
  mirror::QueueOptions options;
  options.dir = dir.string();
  std::unique_ptr<mirror::DurableQueue> queue;
  try {
    queue = mirror::DurableQueue::open(options, {});
  } catch (const std::exception& e) {
    r.error = e.what();
    return r;
  }
  Run run;
  run.queue = queue.get();
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < c.threads; ++i) {
    threads.emplace_back([&run, &c, deadline] { appender(run, c, deadline); });
  }
  std::atomic<bool> done{false};
  std::thread acker([&run, &done] {
    uint64_t previous = 0;
    while (!done) {
      std::this_thread::sleep_for(kAckEvery);
      if (ack_all) previous = run.last_appended;
      if (previous != 0) run.queue->acknowledge(previous);
      previous = run.last_appended;
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  acker.join();
  // A syncing case ends with everything durable, as its last caller would.
  if (c.sync_every != 0 && !run.failed) {
    ++run.sync_calls;
    if (int err = queue->sync(); err != 0) run.fail(std::string("sync failed: ") + std::strerror(err));
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.records = run.records;
  r.sync_calls = run.sync_calls;
  r.sync_rounds = queue->sync_count();
  r.error = run.error;
  queue.reset();
  return r;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "queue_bench: %s\nusage: queue_bench [--quick] [--seconds S] [--ack-all] DIR\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      seconds = 1;
    } else if (a == "--ack-all") {
      ack_all = true;
    } else if (a == "--seconds") {
      if (i + 1 >= argc) usage("--seconds needs a number");
      char* end = nullptr;
      seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(seconds > 0 && seconds <= 3600)) usage("--seconds needs 0 < S <= 3600");
    } else if (a == "-h" || a == "--help") {
      std::printf("usage: queue_bench [--quick] [--seconds S] [--ack-all] DIR\n"
                  "Appends to a fresh durable queue in DIR/CASE for each case (4k, 4k-sync64,\n"
                  "1m, 4k-group4) for 3 s (--quick 1 s) and prints one JSON line per case.\n");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      usage(("unknown option " + a).c_str());
    } else if (dir.empty()) {
      dir = a;
    } else {
      usage("one directory only");
    }
  }
  if (dir.empty()) usage("no directory given");
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) != 0) {
    std::fprintf(stderr, "queue_bench: %s: %s\n", dir.c_str(), std::strerror(errno));
    return 2;
  }
  if (static_cast<long>(st.f_type) == kTmpfsMagic) {
    std::fprintf(stderr, "queue_bench: %s is on tmpfs: give a directory on a disk\n", dir.c_str());
    return 2;
  }

  const Case cases[] = {
      {"4k", 4096, 1, 0},
      {"4k-sync64", 4096, 1, 64},
      {"1m", 1 << 20, 1, 0},
      {"4k-group4", 4096, 4, 1},
  };
  int status = 0;
  for (const Case& c : cases) {
    const fs::path qdir = fs::path(dir) / c.name;
    if (fs::exists(qdir)) {
      std::fprintf(stderr, "queue_bench: %s already exists: give a directory of its own\n",
                   qdir.c_str());
      return 2;
    }
    Result r = run_case(qdir, c, seconds);
    std::error_code ec;
    fs::remove_all(qdir, ec);
    if (!r.error.empty()) {
      std::fprintf(stderr, "queue_bench: case %s: %s\n", c.name, r.error.c_str());
      std::printf("{\"case\":\"%s\",\"error\":\"failed\"}\n", c.name);
      std::fflush(stdout);
      status = 1;
      continue;
    }
    const double rate = r.seconds > 0 ? static_cast<double>(r.records) / r.seconds : 0;
    std::printf("{\"case\":\"%s\",\"threads\":%u,\"record_bytes\":%zu,\"records\":%llu,"
                "\"seconds\":%.3f,\"records_per_s\":%.0f,\"mb_per_s\":%.1f,\"sync_calls\":%llu,"
                "\"sync_rounds\":%llu}\n",
                c.name, c.threads, c.record_bytes, static_cast<unsigned long long>(r.records),
                r.seconds, rate, rate * static_cast<double>(c.record_bytes) / 1e6,
                static_cast<unsigned long long>(r.sync_calls),
                static_cast<unsigned long long>(r.sync_rounds));
    std::fflush(stdout);
  }
  return status;
}
