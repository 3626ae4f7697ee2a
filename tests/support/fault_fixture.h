// Fault tests of issue 4 (heartbeats, interruptions, the durable queue): a
// fixture that starts mirrord and mirrorfs with short heartbeat intervals and
// a queue in the test's temporary directory, can kill, stop and restart
// either daemon (mirrord on the same port, mirrorfs on the same backing
// directory and queue), and reads their logs line by line, with mirrorfs's
// wall-clock stamps, to measure detection and probation times.
//
// Teardown continues stopped daemons, unmounts, stops both, removes any
// network namespace, and prints every log of the test when it failed.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/mirror_fixture.h"
#include "tests/support/netns.h"

namespace testing_support {

// The short intervals of the fault tests, in ms, given to both daemons.
struct FaultTimings {
  static constexpr int64_t interval = 50;
  static constexpr int64_t timeout = 300;
  static constexpr int64_t probation = 600;
  static constexpr int64_t request_timeout = 300;
};

// One line of a daemon's log. mirrorfs -f starts each line with its
// wall-clock time "HH:MM:SS.mmm "; ms_of_day is that time, -1 if absent.
struct LogLine {
  int64_t ms_of_day = -1;
  std::string text;
};
std::vector<LogLine> parse_log(const std::string& text);

// The local wall-clock time of day in ms, as the daemons stamp their lines.
int64_t wall_ms_of_day();
// later - earlier in ms, across midnight.
int64_t ms_between(int64_t earlier, int64_t later);

constexpr size_t kNoLine = static_cast<size_t>(-1);
// Index of the first line at or after `from` that contains `needle`, or kNoLine.
size_t find_line(const std::vector<LogLine>& lines, const std::string& needle, size_t from = 0);
// How many lines at or after `from` contain `needle`.
size_t count_lines(const std::vector<LogLine>& lines, const std::string& needle, size_t from = 0);

// Sum of the sizes of the regular files beneath `dir` (0 if it is missing).
uint64_t directory_bytes(const std::string& dir);
// Number of entries beneath `dir`, recursively (0 if it is missing).
size_t count_entries(const std::string& dir);

// Whether a fusermount3 auto_unmount helper for `mountpoint` still runs: the
// helper of a mirrorfs that was killed unmounts whatever is mounted there
// when it gets to it, a new mount included.
bool auto_unmount_helper_running(const std::string& mountpoint);

// The parameter is the mirroring mode, "sync" or "async".
class FaultTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;     // directories and secret; starts no daemon
  void TearDown() override;  // whatever happened: no mount, no process, no namespace left

  std::string mode() const { return GetParam(); }

  // Starts mirrord serving vol=copy with the fault timings, listening on
  // `listen` (default: a free loopback port), inside `netns` if set.
  void start_mirrord(const std::string& listen = "127.0.0.1:0");
  // After mirrord died: starts a new one on the same address and port, with
  // the same copy (retrying while the port is still taken).
  void restart_mirrord();
  // SIGKILL, and reaps it.
  void kill_mirrord();

  // The -o options of mirrorfs: peer (mirrord's address), volume, secret,
  // mode, 4 connections, the fault timings, queue_dir, heartbeat_port if
  // set, then `extra`.
  std::vector<std::string> mirrorfs_options(const std::vector<std::string>& extra = {}) const;
  void start_mirrorfs(const std::vector<std::string>& extra = {});
  // SIGKILL (and SIGCONT, should it be stopped), then the mount is cleaned
  // up; expects it gone.
  void kill_mirrorfs();

  // The current daemon's log (each start writes a new log file).
  std::vector<LogLine> mirrorfs_lines() const;
  std::vector<LogLine> mirrord_lines() const;
  // Waits until a line at or after `from` contains `needle`; its index, or
  // kNoLine at the deadline. `found` receives the line.
  size_t wait_mirrorfs_line(const std::string& needle, size_t from,
                            std::chrono::milliseconds deadline, LogLine* found = nullptr) const;
  size_t wait_mirrord_line(const std::string& needle, size_t from,
                           std::chrono::milliseconds deadline, LogLine* found = nullptr) const;

  // Writes a marker file through the mount and waits for the copy to equal
  // the backing directory, and for a link in probation at start to be
  // recovered: the heartbeats flow both ways and connections are up.
  void wait_link_steady();
  // The copy equals the backing directory within `deadline`.
  void expect_converged(std::chrono::milliseconds deadline = std::chrono::seconds(60));

  std::string at(const std::string& rel) const { return mnt + "/" + rel; }
  std::string in_backing(const std::string& rel) const { return backing + "/" + rel; }
  std::string in_copy(const std::string& rel) const { return copy + "/" + rel; }

  std::unique_ptr<TempDir> tmp;
  std::string backing, mnt, copy, secret, queue_dir;
  // mirrorfs reaches mirrord at peer_host:mirrord->port(); its heartbeats go
  // to heartbeat_port when not 0 (e.g. a UdpRelay's).
  std::string peer_host = "127.0.0.1";
  uint16_t heartbeat_port = 0;
  std::unique_ptr<NetNs> netns;  // when set, mirrord runs inside it
  std::unique_ptr<MirrordProcess> mirrord;
  std::unique_ptr<MirrorfsProcess> mirrorfs;
  std::string mirrord_listen;  // ADDR:PORT the current mirrord listens on
  int mirrord_starts = 0, mirrorfs_starts = 0, markers = 0;
};

}  // namespace testing_support

using testing_support::FaultTest;
