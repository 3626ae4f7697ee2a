// Issue 4, back-pressure: with queue_max small (2 MiB, so the queue's
// segments are 256 KiB) and the peer stopped, a writer of 10 MiB blocks
// rather than the queue outgrowing its limit, and finishes once the peer is
// back; the copy converges.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/support/fault_fixture.h"

namespace {

using namespace std::chrono_literals;
using testing_support::directory_bytes;
using testing_support::kNoLine;
using testing_support::wait_until;

constexpr uint64_t kQueueMax = 2 << 20;
constexpr uint64_t kSegment = kQueueMax / 8;  // min(64 MiB, queue_max / 8)
constexpr size_t kTotal = 10 << 20;
constexpr size_t kChunk = 64 << 10;

class BackPressureTest : public FaultTest {};

TEST_P(BackPressureTest, WritersWaitAtQueueMaxAndResumeWhenThePeerReturns) {
  start_mirrord();
  start_mirrorfs({"queue_max=2M", "on_queue_full=block"});
  wait_link_steady();
  size_t from = mirrorfs_lines().size();
  mirrord->signal(SIGSTOP);
  ASSERT_NE(wait_mirrorfs_line("link vol interrupted", from, 10s), kNoLine);

  std::atomic<size_t> progress{0};
  std::atomic<bool> done{false};
  std::atomic<int> failed_errno{0};
  std::thread writer([&] {
    int fd = open(at("big").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) {
      failed_errno = errno;
      done = true;
      return;
    }
    std::string chunk(kChunk, 'q');
    for (size_t off = 0; off < kTotal; off += kChunk) {
      for (size_t i = 0; i < 8; ++i) chunk[i] = static_cast<char>('0' + (off / kChunk + i) % 10);
      if (write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
        failed_errno = errno;
        break;
      }
      // Through the kernel's cache of the mount to mirrorfs: the request
      // must reach the queue, not stay in the page cache.
      if ((off / kChunk) % 4 == 3 && fdatasync(fd) != 0) {
        failed_errno = errno;
        break;
      }
      progress += kChunk;
    }
    close(fd);
    done = true;
  });
  struct Release {  // whatever fails below, the writer must not be left blocked
    std::thread& t;
    std::unique_ptr<testing_support::MirrordProcess>& d;
    ~Release() {
      if (d) d->signal(SIGCONT);
      if (t.joinable()) t.join();
    }
  } release{writer, mirrord};

  // Blocked: no progress for a whole second (a negative claim needs an
  // interval), with the queue directory within its limit all along.
  uint64_t largest = 0;
  size_t seen = progress.load();
  auto last_change = std::chrono::steady_clock::now();
  bool stalled = wait_until(
      [&] {
        largest = std::max(largest, directory_bytes(queue_dir));
        if (done) return true;  // it never blocked; said below
        size_t now = progress.load();
        if (now != seen) {
          seen = now;
          last_change = std::chrono::steady_clock::now();
          return false;
        }
        return std::chrono::steady_clock::now() - last_change > 1s;
      },
      60s);
  EXPECT_TRUE(stalled) << "the writer never blocked: " << progress.load() << " bytes written";
  EXPECT_FALSE(done.load()) << "the writer finished 10 MiB with a 2 MiB queue and no peer";
  EXPECT_EQ(failed_errno.load(), 0)
      << "a write failed instead of waiting: " << strerror(failed_errno.load());
  largest = std::max(largest, directory_bytes(queue_dir));
  EXPECT_LE(largest, kQueueMax + kSegment) << "the queue outgrew queue_max + one segment";
  std::cerr << "writer blocked after " << progress.load() << " bytes; queue directory at most "
            << largest << " bytes\n";

  mirrord->signal(SIGCONT);
  EXPECT_TRUE(wait_until([&] { return done.load(); }, 120s))
      << "the writer did not resume after the peer returned: " << progress.load() << " bytes";
  writer.join();
  EXPECT_EQ(failed_errno.load(), 0) << strerror(failed_errno.load());
  EXPECT_EQ(progress.load(), kTotal);
  expect_converged(120s);
}

INSTANTIATE_TEST_SUITE_P(Modes, BackPressureTest, ::testing::Values("async"),
                         [](const auto& info) { return info.param; });

}  // namespace
