// Issue 4, heartbeats: a stopped mirrord is declared interrupted within the
// heartbeat timeout plus one interval while writes go on into the queue; the
// link comes back only after a gap-free probation and the queue drains;
// heartbeats lost while TCP stays up (a UDP relay dropping them) count as an
// interruption, and flapping during probation delays the recovery; on the
// mirror side, a stopped local server's elements are marked closed, the idle
// connection threads end, and a new local server session is accepted.
//
// Times: both daemons run with heartbeat interval 50 ms, timeout 300 ms,
// probation 600 ms, request timeout 300 ms (FaultTimings). Detection is timed
// from the wall clock read just before kill(SIGSTOP) to mirrorfs's wall-clock
// stamp on its "interrupted" line; kObservationSlack covers stamping the
// line and scheduling on a loaded machine, nothing else.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tests/support/fault_fixture.h"
#include "tests/support/udp_relay.h"

namespace {

using namespace std::chrono_literals;
using testing_support::count_lines;
using testing_support::directory_bytes;
using testing_support::FaultTimings;
using testing_support::find_line;
using testing_support::kNoLine;
using testing_support::LogLine;
using testing_support::ms_between;
using testing_support::UdpRelay;
using testing_support::wait_until;
using testing_support::wall_ms_of_day;
using testing_support::write_file;

constexpr int64_t kObservationSlack = 50;  // ms
// Two lines' stamps measure the time between the events they report up to
// the delay of stamping each; a few ms, not a probation's worth.
constexpr int64_t kStampSlack = 5;  // ms

// N of "... recovered after N ms of probation ...": the detector's own measure.
int64_t probation_watched(const LogLine& recovered) {
  auto at = recovered.text.find(" recovered after ");
  if (at == std::string::npos) return -1;
  return std::atoll(recovered.text.c_str() + at + std::strlen(" recovered after "));
}

// Writes `count` files through the mount on its own thread, so that a sync
// write held up until the interruption is declared holds up no assertion.
class Writer {
 public:
  Writer(std::string dir, int count) : dir_(std::move(dir)), count_(count) {
    thread_ = std::thread([this] {
      for (int i = 0; i < count_; ++i) {
        write_file(dir_ + "/w" + std::to_string(i),
                   "written while the peer was away " + std::to_string(i) + "\n");
        ++written_;
      }
    });
  }
  ~Writer() { thread_.join(); }
  int written() const { return written_.load(); }
  bool done() const { return written_.load() == count_; }

 private:
  std::string dir_;
  int count_;
  std::atomic<int> written_{0};
  std::thread thread_;
};

class StopTest : public FaultTest {};

TEST_P(StopTest, StoppedMirrordIsDetectedWritesQueueAndTheLinkReturnsAfterProbation) {
  start_mirrord();
  start_mirrorfs();
  wait_link_steady();
  ASSERT_EQ(mkdir(at("during").c_str(), 0755), 0);
  expect_converged(30s);

  size_t from = mirrorfs_lines().size();
  int64_t stopped_at = wall_ms_of_day();
  mirrord->signal(SIGSTOP);
  const int files = 40;
  auto writer = std::make_unique<Writer>(at("during"), files);
  // Should an assertion end the test early, the writer must not wait on a
  // stopped mirror forever: continue it before the writer is joined.
  struct ContinueFirst {
    testing_support::MirrordProcess& d;
    ~ContinueFirst() { d.signal(SIGCONT); }
  } continue_first{*mirrord};

  LogLine interrupted;
  size_t i = wait_mirrorfs_line("link vol interrupted: no heartbeat from", from, 10s, &interrupted);
  ASSERT_NE(i, kNoLine) << "the stopped mirrord was never declared interrupted";
  ASSERT_NE(interrupted.ms_of_day, -1) << "no wall-clock stamp on: " << interrupted.text;
  int64_t detection = ms_between(stopped_at, interrupted.ms_of_day);
  std::cerr << "detected " << detection << " ms after SIGSTOP: " << interrupted.text << "\n";
  EXPECT_LE(detection, FaultTimings::timeout + FaultTimings::interval + kObservationSlack)
      << "later than timeout + one interval (+" << kObservationSlack << " ms observation slack)";
  // Not a stale verdict: the last heartbeat came at most an interval before the stop.
  EXPECT_GE(detection, FaultTimings::timeout - FaultTimings::interval - kObservationSlack);

  // Writes go on: the application is answered, the backing directory has
  // them, the stopped mirror cannot, and they wait in the queue.
  ASSERT_TRUE(wait_until([&] { return writer->done(); }, 20s))
      << "writes through the mount stalled while the peer was away: " << writer->written() << " of "
      << files;
  writer.reset();
  for (int f = 0; f < files; ++f) {
    std::string name = "during/w" + std::to_string(f);
    EXPECT_EQ(access(in_backing(name).c_str(), F_OK), 0) << name;
    EXPECT_NE(access(in_copy(name).c_str(), F_OK), 0) << name << " reached a stopped mirror";
  }
  EXPECT_GT(directory_bytes(queue_dir), 0u) << "nothing in the queue directory " << queue_dir;

  int64_t continued_at = wall_ms_of_day();
  mirrord->signal(SIGCONT);
  LogLine started, recovered;
  size_t s = wait_mirrorfs_line("probation of", i, 10s, &started);
  ASSERT_NE(s, kNoLine) << "no probation started after SIGCONT";
  size_t r = wait_mirrorfs_line(" recovered after ", i, 20s, &recovered);
  ASSERT_NE(r, kNoLine) << "the link never recovered";
  EXPECT_GT(r, s) << "recovered before probation started";
  // The first heartbeat after SIGCONT starts the probation; the connections
  // come back only once it has lasted the whole interval.
  EXPECT_GE(probation_watched(recovered), FaultTimings::probation) << recovered.text;
  EXPECT_GE(ms_between(started.ms_of_day, recovered.ms_of_day),
            FaultTimings::probation - kStampSlack)
      << started.text << "\n"
      << recovered.text;
  EXPECT_GE(ms_between(continued_at, recovered.ms_of_day), FaultTimings::probation - kStampSlack)
      << "recovered sooner than the probation after SIGCONT: " << recovered.text;

  expect_converged();
  EXPECT_NE(wait_mirrorfs_line("link vol: queue drained", r, 20s), kNoLine);
  auto lines = mirrorfs_lines();
  size_t replay = find_line(lines, "link vol: replaying queued requests from", r);
  EXPECT_NE(replay, kNoLine) << "no replay announced after the recovery";
}

INSTANTIATE_TEST_SUITE_P(Modes, StopTest, ::testing::Values("sync", "async"),
                         [](const auto& info) { return info.param; });

// mirrorfs's heartbeats go through a relay in the test; TCP goes directly.
class RelayTest : public FaultTest {
 protected:
  void start_with_relay() {
    start_mirrord();
    relay = std::make_unique<UdpRelay>("127.0.0.1:" + std::to_string(mirrord->port()));
    heartbeat_port = relay->port();
    start_mirrorfs();
    wait_link_steady();
    ASSERT_TRUE(wait_until([&] {
      return relay->forwarded_to_server() > 2 && relay->forwarded_to_client() > 2;
    })) << "no heartbeats through the relay";
  }
  void TearDown() override {
    FaultTest::TearDown();
    relay.reset();
  }
  std::unique_ptr<UdpRelay> relay;
};

TEST_P(RelayTest, HeartbeatsLostWhileTcpStaysUpInterruptAndRecover) {
  start_with_relay();
  size_t from = mirrorfs_lines().size();
  relay->drop(true);
  size_t i = wait_mirrorfs_line("link vol interrupted: no heartbeat from", from, 10s);
  ASSERT_NE(i, kNoLine) << "lost heartbeats were not taken as an interruption";
  // The local side closed its connections (the mirror may or may not have
  // marked them closed first: both sides time out alike).
  size_t accepted_before = count_lines(mirrord_lines(), "accepted");

  ASSERT_EQ(mkdir(at("while-lost").c_str(), 0755), 0);
  for (int f = 0; f < 20; ++f) write_file(at("while-lost/f" + std::to_string(f)), "queued\n");
  EXPECT_NE(access(in_copy("while-lost").c_str(), F_OK), 0)
      << "a request went over a connection that should be closed";
  EXPECT_EQ(count_lines(mirrord_lines(), "accepted"), accepted_before)
      << "connections re-established without heartbeats";

  relay->drop(false);
  LogLine started, recovered;
  ASSERT_NE(wait_mirrorfs_line("probation of", i, 10s, &started), kNoLine);
  ASSERT_NE(wait_mirrorfs_line(" recovered after ", i, 20s, &recovered), kNoLine);
  EXPECT_GE(probation_watched(recovered), FaultTimings::probation) << recovered.text;
  EXPECT_GE(ms_between(started.ms_of_day, recovered.ms_of_day),
            FaultTimings::probation - kStampSlack);
  // The mirror accepts the re-established connections into its array.
  EXPECT_TRUE(wait_until(
      [&] { return count_lines(mirrord_lines(), "accepted") >= accepted_before + 4; }, 10s));
  expect_converged();
}

TEST_P(RelayTest, FlappingHeartbeatsDelayTheRecoveryUntilTheyAreSteady) {
  start_with_relay();
  size_t from = mirrorfs_lines().size();
  relay->drop(true);
  size_t i = wait_mirrorfs_line("link vol interrupted: no heartbeat from", from, 10s);
  ASSERT_NE(i, kNoLine);
  ASSERT_EQ(mkdir(at("flapping").c_str(), 0755), 0);
  size_t accepted_before = count_lines(mirrord_lines(), "accepted");

  // Each flap: heartbeats come back (probation starts), then are lost again
  // for longer than the timeout, well within the probation.
  const int flaps = 3;
  size_t last = i;
  for (int k = 0; k < flaps; ++k) {
    write_file(at("flapping/f" + std::to_string(k)), "during flap " + std::to_string(k) + "\n");
    relay->drop(false);
    size_t s = wait_mirrorfs_line("probation", last + 1, 10s);
    ASSERT_NE(s, kNoLine) << "flap " << k << ": heartbeats came back but no probation started";
    relay->drop(true);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(FaultTimings::timeout + 2 * FaultTimings::interval));
    last = s;
  }
  auto lines = mirrorfs_lines();
  EXPECT_EQ(find_line(lines, " recovered after ", i), kNoLine)
      << "recovered although the heartbeat flapped during every probation";
  EXPECT_EQ(count_lines(mirrord_lines(), "accepted"), accepted_before)
      << "connections were re-established while the heartbeat flapped";
  // A flap ends a probation either as a gap seen when the next heartbeat
  // arrives ("probation restarted") or as a new interruption seen by a tick.
  size_t restarted = count_lines(lines, "probation restarted after a gap of", i);
  size_t reinterrupted = count_lines(lines, "link vol interrupted", i + 1);
  std::cerr << "flaps seen as: " << restarted << " probation restart(s), " << reinterrupted
            << " new interruption(s)\n";
  EXPECT_GE(restarted + reinterrupted, static_cast<size_t>(flaps - 1));

  int64_t steady_from = wall_ms_of_day();
  relay->drop(false);
  LogLine recovered;
  size_t r = wait_mirrorfs_line(" recovered after ", i, 20s, &recovered);
  ASSERT_NE(r, kNoLine) << "never recovered once the heartbeat was steady";
  EXPECT_GE(probation_watched(recovered), FaultTimings::probation) << recovered.text;
  EXPECT_GE(ms_between(steady_from, recovered.ms_of_day), FaultTimings::probation - kStampSlack)
      << "recovered before a whole probation of steady heartbeats: " << recovered.text;
  expect_converged();
}

INSTANTIATE_TEST_SUITE_P(Modes, RelayTest, ::testing::Values("async"),
                         [](const auto& info) { return info.param; });

class MirrorSideTest : public FaultTest {};

TEST_P(MirrorSideTest, StoppedLocalServerIsClosedOnTheMirrorAndANewSessionIsAccepted) {
  start_mirrord();
  start_mirrorfs();
  wait_link_steady();
  size_t from = mirrord_lines().size();
  size_t sessions_before = count_lines(mirrord_lines(), "new session");
  ASSERT_GE(sessions_before, 1u);

  mirrorfs->signal(SIGSTOP);  // nothing may touch the mount until it is killed
  size_t closed =
      wait_mirrord_line("volume vol: no heartbeat from the local server for", from, 10s);
  ASSERT_NE(closed, kNoLine)
      << "the mirror never marked the stopped local server's elements closed";
  EXPECT_NE(mirrord_lines()[closed].text.find("connections marked closed"), std::string::npos);
  // Each of the 4 connection threads, idle for the request timeout, sees its
  // element marked closed and ends.
  bool ended = wait_until(
      [&] {
        return count_lines(mirrord_lines(), "idle and marked closed; ending it", closed) >= 4;
      },
      10s);
  EXPECT_TRUE(ended) << "connection threads still running: "
                     << count_lines(mirrord_lines(), "idle and marked closed; ending it", closed)
                     << " of 4 ended";
  for (int c = 1; c <= 4; ++c) {
    std::string line = "volume vol: connection " + std::to_string(c) + " idle and marked closed";
    EXPECT_NE(find_line(mirrord_lines(), line, closed), kNoLine) << line;
  }

  kill_mirrorfs();
  size_t before_new = mirrord_lines().size();
  queue_dir = tmp->sub("queue-2");  // a new local server: a new queue, a new session
  start_mirrorfs();
  EXPECT_NE(wait_mirrord_line("new session", before_new, 10s), kNoLine)
      << "the mirror did not accept the new local server's session";
  ASSERT_EQ(mkdir(at("after").c_str(), 0755), 0);
  for (int f = 0; f < 10; ++f) write_file(at("after/f" + std::to_string(f)), "new session\n");
  expect_converged();
}

INSTANTIATE_TEST_SUITE_P(Modes, MirrorSideTest, ::testing::Values("async"),
                         [](const auto& info) { return info.param; });

}  // namespace
