// `mirrorctl verify` and `mirrorctl resync` against a fake mirrorfs whose
// status follows a script: what it shows before the command, then, one per
// status request after it, the steps of a walk (the last one repeats). The
// walk's times are set from the moment the command arrives, on this host's
// wall clock as the real daemon does. Checked: the request sent, the lines
// printed, --json, the exit statuses, and that a previous walk still shown
// after the command is not taken for the result.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <condition_variable>
#include <future>

#include "tests/tools/mirrorctl_fixture.h"

namespace {

using namespace mirrorctl_test;
using namespace std::chrono_literals;
using nlohmann::json;

// One status of the script. `ours`: the walk the command started, with
// started = the command's arrival + started_ms and, when finished_ms >= 0,
// finished = the arrival + finished_ms; otherwise the times are kept.
struct Step {
  mirror::SyncStatus sync;
  bool ours = false;
  int64_t started_ms = 0;
  int64_t finished_ms = -1;
};

mirror::SyncStatus previous_walk(const std::string& result) {
  auto s = sync_consistent();
  int64_t now = mirror::wall_clock_ms();
  s.started = now - 60'000;
  s.finished = now - 50'000;
  s.result = result;
  return s;
}

Step previous(const mirror::SyncStatus& s) {
  return {s};
}

Step running(const std::string& state, uint64_t files_done) {
  mirror::SyncStatus s;
  s.copy = state == "verify" ? "consistent" : "inconsistent";
  s.state = state;
  s.files_done = files_done;
  s.files_total = 20;
  s.bytes_done = files_done << 16;
  s.bytes_total = 20 << 16;
  s.bytes_per_s = 1 << 20;
  s.eta_s = 1;
  return {s, true};
}

Step finished(const std::string& result, uint64_t differences = 0,
              std::vector<mirror::SyncDifferenceStatus> listed = {}) {
  mirror::SyncStatus s;
  s.copy = result == "differ" ? "inconsistent" : "consistent";
  s.state = "idle";
  s.files_done = s.files_total = 20;
  s.bytes_done = s.bytes_total = 1 << 20;
  s.differences = differences;
  s.listed = std::move(listed);
  s.result = result;
  if (result == "repaired") {
    s.bytes_repaired = 8192;
    s.repairs = 2;
  }
  return {s, true, 0, 1500};
}

class SyncCommand : public Mirrorctl {
 protected:
  // Serves the fake mirrorfs of volume data at mirrorfs-data.sock. `reply`:
  // its answer to verify/resync.
  void script(mirror::SyncStatus before, std::vector<Step> steps,
              json reply = mirror::control_ok()) {
    mirror::ControlServerOptions o;
    o.path = dir() + "/mirrorfs-data.sock";
    servers.push_back(
        std::make_unique<mirror::ControlServer>(o, [this, before, steps, reply](const json& r) {
          std::lock_guard lock(mu);
          if (r["command"] != mirror::kCommandStatus) {
            received.push_back(r);
            arrived = mirror::wall_clock_ms();
            return reply;
          }
          auto v = connected_idle();
          v.sync = before;
          if (arrived && !steps.empty()) {
            const Step& step = steps[std::min(polls, steps.size() - 1)];
            ++polls;
            v.sync = step.sync;
            if (step.ours) {
              v.sync->started = *arrived + step.started_ms;
              v.sync->finished = step.finished_ms >= 0 ? *arrived + step.finished_ms : 0;
            }
          }
          polled.notify_all();
          return mirror::control_ok({{"status", daemon_with("mirrorfs", v)}});
        }));
  }

  // Waits until mirrorctl has asked for the status `n` times since the command.
  bool wait_for_polls(size_t n) {
    std::unique_lock lock(mu);
    return polled.wait_for(lock, 20s, [&] { return polls >= n; });
  }

  size_t polls_after_command() {
    std::lock_guard lock(mu);
    return polls;
  }

  std::optional<int64_t> arrived;  // when the command came; guarded by mu
  size_t polls = 0;                // status requests since; guarded by mu
  std::condition_variable polled;
};

TEST_F(SyncCommand, VerifyWaitsForItsOwnWalkNotThePreviousOne) {
  // The previous verify found the copy equal; the status goes on showing it
  // for a while after the command, as it may before the new walk starts.
  auto before = previous_walk("equal");
  script(
      before,
      {previous(before), previous(before), previous(before), running("verify", 10),
       finished("differ", 3,
                {{"a/b", "contents differ at byte 4096"}, {"c", "mode 0644, the copy has 0600"}})});
  auto r = mirrorctl({"verify", "--checksum", "data"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out,
            "a/b: contents differ at byte 4096\n"
            "c: mode 0644, the copy has 0600\n"
            "3 difference(s) in 20 entries, 1.0 MiB compared in 1.5s (the first 2 listed)\n");
  EXPECT_EQ(r.err, "") << "no progress line when stderr is not a terminal";
  EXPECT_GE(polls_after_command(), 5u);
  std::lock_guard lock(mu);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], json({{"command", "verify"}, {"checksum", true}, {"volume", "data"}}));
}

TEST_F(SyncCommand, VerifyEqualExitsZeroAndJsonIsTheSyncStatus) {
  auto before = previous_walk("differ");
  script(before, {previous(before), running("verify", 5), finished("equal")});
  auto r = mirrorctl({"verify", "/mnt/data"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "equal: 20 entries, 1.0 MiB compared in 1.5s\n");
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0], json({{"command", "verify"}, {"checksum", false}, {"volume", "data"}}));
    arrived.reset();
    polls = 0;
  }
  r = mirrorctl({"verify", "--json", dir() + "/mirrorfs-data.sock"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto s = json::parse(r.out).get<mirror::SyncStatus>();
  EXPECT_EQ(s.result, "equal");
  EXPECT_EQ(s.finished - s.started, 1500);
  std::lock_guard lock(mu);
  EXPECT_EQ(received.back(), json({{"command", "verify"}, {"checksum", false}}))
      << "a socket names the daemon, not a volume";
}

TEST_F(SyncCommand, AVerifyThatFailsOrIsInterruptedExitsTwo) {
  script(previous_walk("equal"), {running("verify", 5), finished("interrupted")});
  auto r = mirrorctl({"verify", "data"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, "interrupted (after 20 entries, 1.0 MiB in 1.5s)\n");

  servers.clear();
  arrived.reset();
  polls = 0;
  script(previous_walk("equal"), {finished("failed: the peer went away")});
  r = mirrorctl({"verify", "data"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, "failed: the peer went away (after 20 entries, 1.0 MiB in 1.5s)\n");
}

TEST_F(SyncCommand, ResyncRepairsAndSettlesASplitBrainOnRequest) {
  script(sync_split_brain(), {previous(sync_split_brain()), running("resync", 5),
                              running("resync", 15), finished("repaired", 4)});
  auto r = mirrorctl({"resync", "--discard-copy", "data"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "repaired: 4 difference(s) in 20 entries, 1.0 MiB compared in 1.5s; 8.0 KiB sent in 2 "
            "request(s)\n");
  std::lock_guard lock(mu);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], json({{"command", "resync"},
                               {"discard_copy", true},
                               {"checksum", false},
                               {"volume", "data"}}));
}

// The daemon starts no second sync for a resync asked during one: the one
// running is the walk to follow, though it started before the command.
TEST_F(SyncCommand, ResyncJoinsTheSyncAlreadyRunning) {
  auto running_sync = running("initial-sync", 5).sync;
  running_sync.started = mirror::wall_clock_ms() - 5'000;
  auto done = finished("repaired", 20).sync;
  done.started = running_sync.started;
  done.finished = running_sync.started + 6'000;
  script(running_sync, {previous(running_sync), previous(done)});
  auto r = mirrorctl({"resync", "data"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "repaired: 20 difference(s) in 20 entries, 1.0 MiB compared in 6.0s; 8.0 KiB sent in "
            "2 request(s)\n");
}

TEST_F(SyncCommand, ResyncStopsAtASplitBrainWithoutDiscardCopy) {
  script(previous_walk("equal"), {previous(sync_split_brain())});
  auto r = mirrorctl({"resync", "--json", "data"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("split brain: both sides changed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mirrorctl resync --discard-copy data"), std::string::npos) << r.err;
  EXPECT_EQ(json::parse(r.out)["state"], "split-brain") << r.out;
}

TEST_F(SyncCommand, AResyncThatFailsExitsTwo) {
  script(previous_walk("equal"),
         {running("resync", 3), finished("failed: no space left on the copy")});
  auto r = mirrorctl({"resync", "data"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, "failed: no space left on the copy (after 20 entries, 1.0 MiB in 1.5s)\n");
}

TEST_F(SyncCommand, ARefusedCommandExitsTwoWithTheDaemonsReason) {
  script(previous_walk("equal"), {},
         mirror::control_error("the peer is not connected: nothing to compare with"));
  auto r = mirrorctl({"verify", "data"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("the peer is not connected: nothing to compare with"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(SyncCommand, TheMirrorSideIsNotATargetAndNothingIsSent) {
  serve("mirrord", daemon_with("mirrord", mirror_side()));
  auto r = mirrorctl({"verify", "data"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("only by mirrord"), std::string::npos) << r.err;
  EXPECT_EQ(mirrorctl({"resync", "nosuchvolume"}).exit_code, 2);
  EXPECT_GT(mirrorctl({"verify"}).exit_code, 2) << "verify without a target";
  std::lock_guard lock(mu);
  EXPECT_TRUE(received.empty());
}

TEST_F(SyncCommand, BothSidesOnOneHostGoToTheLocalSide) {
  script(previous_walk("equal"), {finished("equal")});
  serve("mirrord", daemon_with("mirrord", mirror_side()));
  auto r = mirrorctl({"verify", "data"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::lock_guard lock(mu);
  EXPECT_EQ(received.size(), 1u) << "mirrord must not be sent the command";
}

TEST_F(SyncCommand, TheDaemonGoingAwayEndsTheWait) {
  script(previous_walk("equal"), {running("verify", 5)});
  auto run = std::async(std::launch::async, [&] { return mirrorctl({"verify", "data"}); });
  ASSERT_TRUE(wait_for_polls(2));
  servers.clear();  // the daemon dies; its socket goes with it
  auto r = run.get();
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("the daemon went away"), std::string::npos) << r.err;
}

TEST_F(SyncCommand, MaxTimeGivesUpButLeavesTheWalkRunning) {
  script(previous_walk("equal"), {running("verify", 5)});
  auto start = std::chrono::steady_clock::now();
  auto r = mirrorctl({"verify", "--max-time", "0.5", "--json", "data"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_NE(r.err.find("still running after --max-time 0.5 s; it goes on in the daemon"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(json::parse(r.out)["state"], "verify") << r.out;
  EXPECT_GT(mirrorctl({"verify", "--max-time", "0", "data"}).exit_code, 2);
}

// On a terminal, stderr carries one progress line redrawn in place.
TEST_F(SyncCommand, ATerminalShowsAProgressBar) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  std::string slave = ptsname(master);
  script(previous_walk("equal"), {running("verify", 10), running("verify", 10), finished("equal")});
  auto r = mirrorctl({"verify", "data"}, 20s, slave);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "equal: 20 entries, 1.0 MiB compared in 1.5s\n") << "stdout stays clean";
  // Everything written is in the pty's buffer now that mirrorctl is gone.
  fcntl(master, F_SETFL, O_NONBLOCK);
  std::string tty;
  char buf[4096];
  for (ssize_t n; (n = read(master, buf, sizeof buf)) > 0;) tty.append(buf, n);
  close(master);
  EXPECT_NE(tty.find("\rverify data [############............] 50% (10/20 entries, "
                     "640.0 KiB/1.2 MiB, 1.0 MiB/s, ETA 1.0s)\033[K"),
            std::string::npos)
      << testing::PrintToString(tty);
  EXPECT_TRUE(tty.ends_with("\r\033[K")) << "the line is cleared at the end";
}

}  // namespace
