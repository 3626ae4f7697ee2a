// The real mirrorctl binary against control servers that answer with canned
// statuses (tests/tools/mirrorctl_fixture.h), one per state an operator
// meets: connected and idle, interrupted with a queue, probation, lagging,
// back-pressure, a copy consistent / being synced / in split brain, and a
// daemon that is gone. Checked: the exit status, the --json round trip, the
// key lines of the human view and the commands sent.
#include <sstream>

#include "tests/tools/mirrorctl_fixture.h"

namespace {

using namespace mirrorctl_test;
using nlohmann::json;

TEST_F(Mirrorctl, ConnectedAndIdleExitsZero) {
  auto status = daemon_with("mirrorfs", connected_idle());
  serve("mirrorfs-data", status);
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(^mirrorfs 0\.1\.0, pid 4242, .*mirrorfs-data\.sock$)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^data  local async -> 127\.0\.0\.1:7400  OK$)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  link +connected since \S+ \S+ \(1h00m\)$)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  heartbeat +last heard 120ms ago)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  queue +0 records, 0 B, lag 0)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^ +1 +open +120ms +0 +2\.0 MiB +2\.0 MiB$)")) << r.out;

  json doc = status_json();
  EXPECT_EQ(last.exit_code, 0);
  EXPECT_EQ(doc["exit_status"], 0);
  EXPECT_EQ(doc["daemons"][0]["status"].get<mirror::DaemonStatus>(), status);
}

TEST_F(Mirrorctl, InterruptedWithAQueueIsDegraded) {
  auto status = daemon_with("mirrorfs", interrupted_with_queue());
  serve("mirrorfs-data", status);
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(^data  local async .*  DEGRADED: link interrupted$)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  link +interrupted since .*\(2m14s\)$)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  queue +512 records, 4\.0 MiB, lag 2m10s)")) << r.out;
  EXPECT_TRUE(has_line(
      r.out,
      R"(^  last error +connect 127\.0\.0\.1:7400: Connection refused \(at .*, 2m13s ago\)$)"))
      << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^ +0 +closed )")) << r.out;

  json doc = status_json({"data"});
  EXPECT_EQ(last.exit_code, 1);
  const json& v = doc["daemons"][0]["status"]["volumes"][0];
  EXPECT_EQ(v["link"], "interrupted");
  EXPECT_EQ(v["queue"]["records"], 512);
  EXPECT_EQ(v["queue"]["oldest_age_ms"], 130000);
  EXPECT_EQ(doc["daemons"][0]["status"].get<mirror::DaemonStatus>(), status);
  EXPECT_EQ(doc["problems"], json({"data: link interrupted"}));
}

TEST_F(Mirrorctl, ProbationIsDegraded) {
  serve("mirrorfs-data", daemon_with("mirrorfs", probation()));
  auto r = mirrorctl({"status", "/mnt/data"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has_line(
      r.out, R"(^  link +probation since .*\(1\.0s\), reconnects after 3\.0s without a gap$)"))
      << r.out;
  EXPECT_EQ(status_json()["daemons"][0]["status"]["volumes"][0]["link"], "probation");
}

TEST_F(Mirrorctl, AQueueAboveItsWarningLevelIsLagging) {
  serve("mirrorfs-data", daemon_with("mirrorfs", lagging()));
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(DEGRADED: lagging: queue 700\.0 MiB above 512\.0 MiB$)")) << r.out;
}

TEST_F(Mirrorctl, WritersWaitingForSpaceAreBackPressure) {
  serve("mirrorfs-data", daemon_with("mirrorfs", back_pressure()));
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  back-press\. +2 writer\(s\) waiting for queue space$)"))
      << r.out;
}

TEST_F(Mirrorctl, AConsistentCopyShowsItsGenerationAndTheLastVerify) {
  auto status = daemon_with("mirrorfs", with_sync(sync_consistent()));
  serve("mirrorfs-data", status);
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(^data  local async -> 127\.0\.0\.1:7400  OK$)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  copy +consistent \(generation 9f2c0a1b2c3d4e5f\)$)")) << r.out;
  EXPECT_TRUE(has_line(
      r.out,
      R"(^  last walk +equal: 5000 entries, 3\.0 GiB compared in 1m12s; at \S+ \S+ \(2h00m ago\)$)"))
      << r.out;

  json doc = status_json();
  EXPECT_EQ(doc["daemons"][0]["status"].get<mirror::DaemonStatus>(), status);
  EXPECT_EQ(doc["daemons"][0]["status"]["volumes"][0]["sync"]["copy"], "consistent");
}

TEST_F(Mirrorctl, AnInitialSyncInProgressIsDegradedAndShowsItsProgress) {
  serve("mirrorfs-data", daemon_with("mirrorfs", with_sync(sync_initial_running())));
  auto r = mirrorctl({"status", "data"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(  DEGRADED: copy inconsistent \(initial-sync 50%\)$)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  copy +inconsistent: initial-sync 50% \(1200/5000 entries, )"
                              R"(1\.5 GiB/3\.0 GiB, 80\.0 MiB/s, ETA 19\.0s\)$)"))
      << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^ +the copy is empty: full initial sync$)")) << r.out;
  EXPECT_FALSE(has_line(r.out, R"(^  last walk)")) << "nothing finished yet\n" << r.out;
  EXPECT_EQ(status_json()["problems"], json({"data: copy inconsistent (initial-sync 50%)"}));
}

TEST_F(Mirrorctl, ASplitBrainIsCriticalAndSaysWhatToRun) {
  serve("mirrorfs-data", daemon_with("mirrorfs", with_sync(sync_split_brain())));
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(^data  local async -> 127\.0\.0\.1:7400  CRITICAL: split brain$)"))
      << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  copy +SPLIT BRAIN: both sides changed after generation )"
                              R"(1a2b3c4d5e6f7a8b; run: mirrorctl resync --discard-copy data$)"))
      << r.out;
  json doc = status_json();
  EXPECT_EQ(last.exit_code, 2);
  EXPECT_EQ(doc["exit_status"], 2);
  EXPECT_EQ(doc["problems"], json({"data: split brain"}));
  EXPECT_EQ(doc["daemons"][0]["status"]["volumes"][0]["sync"]["state"], "split-brain");
}

TEST_F(Mirrorctl, AVerifyThatFoundDifferencesIsDegradedUntilAResync) {
  auto s = sync_consistent();
  s.result = "differ";
  s.differences = 3;
  s.listed = {{"a/b", "contents differ at byte 4096"}};
  serve("mirrorfs-data", daemon_with("mirrorfs", with_sync(s)));
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(DEGRADED: the last verify found 3 difference\(s\)$)")) << r.out;
  EXPECT_TRUE(has_line(r.out,
                       R"(^  last walk +3 difference\(s\) in 5000 entries, 3\.0 GiB compared in )"
                       R"(1m12s \(the first 1 listed\); at .*; run: mirrorctl resync data$)"))
      << r.out;
}

TEST_F(Mirrorctl, ADaemonThatIsGoneIsUnreachable) {
  stale("mirrorfs-data");
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(has_line(r.out, R"(mirrorfs-data\.sock  UNREACHABLE: .*connection refused)"))
      << r.out;
  json doc = status_json();
  EXPECT_EQ(last.exit_code, 2);
  EXPECT_EQ(doc["daemons"][0]["reachable"], false);
  // Named directly, too.
  EXPECT_EQ(mirrorctl({"status", dir() + "/mirrorfs-data.sock"}).exit_code, 2);
}

TEST_F(Mirrorctl, NoDaemonAtAllIsUnreachable) {
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("no control sockets in " + dir()), std::string::npos) << r.out;
}

TEST_F(Mirrorctl, TargetsSelectByVolumeMountPointOrSocket) {
  serve("mirrorfs-data", daemon_with("mirrorfs", interrupted_with_queue()));
  auto other = connected_idle();
  other.volume = "home";
  other.mountpoint = "/mnt/home";
  serve("mirrorfs-home", daemon_with("mirrorfs", other));
  serve("mirrord", daemon_with("mirrord", mirror_side()));

  auto all = status_json();
  EXPECT_EQ(all["daemons"].size(), 3u);
  EXPECT_EQ(last.exit_code, 1);

  auto home = status_json({"home"});
  ASSERT_EQ(home["daemons"].size(), 1u);
  EXPECT_EQ(home["daemons"][0]["status"]["volumes"][0]["volume"], "home");
  EXPECT_EQ(last.exit_code, 0);

  auto by_mount = status_json({"/mnt/home/"});
  EXPECT_EQ(by_mount["daemons"][0]["status"]["volumes"][0]["volume"], "home");
  EXPECT_EQ(last.exit_code, 0);

  auto data = status_json({"data"});  // both sides of volume data on this host
  EXPECT_EQ(data["daemons"].size(), 2u);

  auto by_socket = status_json({dir() + "/mirrord.sock"});
  EXPECT_EQ(by_socket["daemons"][0]["status"]["program"], "mirrord");
  EXPECT_EQ(last.exit_code, 0);

  auto r = mirrorctl({"status", "mirrord.sock"});  // relative: not in the cwd
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(mirrorctl({"status", "nosuchvolume"}).exit_code, 2);
  r = mirrorctl({"status", "/mnt/nothing"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("serves the mount point /mnt/nothing"), std::string::npos) << r.out;
}

TEST_F(Mirrorctl, TheMirrorSideShowsItsCopyAndNoQueue) {
  serve("mirrord", daemon_with("mirrord", mirror_side()));
  auto r = mirrorctl({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^data  mirror <- 127\.0\.0\.1:40000  OK$)")) << r.out;
  EXPECT_TRUE(has_line(r.out, R"(^  copy +/srv/copy$)")) << r.out;
  EXPECT_FALSE(has_line(r.out, R"(^  queue)")) << r.out;
}

TEST_F(Mirrorctl, WatchPrintsAgainAndAgain) {
  serve("mirrorfs-data", daemon_with("mirrorfs", connected_idle()));
  auto r = mirrorctl({"status", "--json", "--watch=0.3", "data"}, std::chrono::milliseconds(1500));
  EXPECT_EQ(r.exit_code, -1) << "--watch should run until stopped";
  std::istringstream lines(r.out);
  int docs = 0;
  for (std::string line; std::getline(lines, line);) {
    json doc = json::parse(line, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << line;
    ++docs;
  }
  EXPECT_GE(docs, 2) << r.out;
  auto bad = mirrorctl({"status", "--watch=-1"});
  EXPECT_GT(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--watch=-1"), std::string::npos) << bad.err;
}

TEST_F(Mirrorctl, CommandsReachTheDaemon) {
  serve("mirrorfs-data", daemon_with("mirrorfs", interrupted_with_queue()));
  auto r = mirrorctl({"pause", "data"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(mirrorctl({"resume", "/mnt/data"}).exit_code, 0);
  EXPECT_EQ(mirrorctl({"mode", "sync", "data"}).exit_code, 0);
  EXPECT_EQ(mirrorctl({"pause", dir() + "/mirrorfs-data.sock"}).exit_code, 0);
  std::lock_guard lock(mu);
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[0], json({{"command", "pause"}, {"volume", "data"}}));
  EXPECT_EQ(received[1], json({{"command", "resume"}, {"volume", "data"}}));
  EXPECT_EQ(received[2], json({{"command", "mode"}, {"mode", "sync"}, {"volume", "data"}}));
  EXPECT_EQ(received[3], json({{"command", "pause"}}));  // a socket: the whole daemon
}

TEST_F(Mirrorctl, ARefusedOrUnreachableCommandFails) {
  auto v = connected_idle();
  v.volume = "refusing";
  v.mountpoint = "/mnt/refusing";
  serve("mirrorfs-refusing", daemon_with("mirrorfs", v));
  auto r = mirrorctl({"pause", "refusing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not now"), std::string::npos) << r.err;
  EXPECT_EQ(mirrorctl({"resume", "elsewhere"}).exit_code, 2);
  auto bad = mirrorctl({"mode", "fast", "refusing"});
  EXPECT_GT(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("fast"), std::string::npos) << bad.err;
  EXPECT_GT(mirrorctl({"pause"}).exit_code, 2) << "pause without a target";
}

}  // namespace
