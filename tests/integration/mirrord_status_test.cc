// Issue 5, mirrord's side: the real mirrord answers on its control socket
// (--control) with its status (mirror/status.h) in each state of a volume:
// idle with no local server (connecting, no connections); with a real
// mirrorfs connected; after writes (the counters and bytes move); after the
// local server is stopped (interrupted, its connections closed, one
// interruption) and continued (connected again, one reconnect); with a
// request the copy cannot store (last_error). Commands for mirrorfs are
// refused with a sentence. A second mirrord on the same control socket is
// refused with one line naming it; after a kill -9, a new mirrord replaces
// the stale socket.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mirror/control_client.h"
#include "mirror/status.h"
#include "tests/support/fault_fixture.h"
#include "tests/support/mirror_fixture.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using mirror::ConnectionState;
using mirror::DaemonStatus;
using mirror::LinkState;
using mirror::VolumeStatus;
using nlohmann::json;
using testing_support::FaultTimings;
using testing_support::MirrordConfig;
using testing_support::MirrordProcess;
using testing_support::run_command;
using testing_support::TempDir;
using testing_support::wait_until;
using testing_support::write_file;
using testing_support::write_secret;

json call(const std::string& socket, const json& request) {
  return mirror::control_call(socket, request, 5s);
}

// The "status" document of the reply; fails the test on an error reply.
json status_json(const std::string& socket) {
  json reply = call(socket, {{"command", "status"}});
  EXPECT_EQ(reply.value("ok", false), true) << reply.dump();
  return reply.contains("status") ? reply["status"] : json::object();
}

DaemonStatus status_of(const std::string& socket) {
  return status_json(socket).get<DaemonStatus>();
}

size_t count_in(const VolumeStatus& v, ConnectionState state) {
  size_t n = 0;
  for (const auto& c : v.connections) n += c.state == state;
  return n;
}

std::vector<std::string> nonempty_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// A mirrord with two volumes and no local server.
class IdleMirrord : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& d : {copy_a, copy_b}) ASSERT_EQ(mkdir(d.c_str(), 0700), 0) << d;
    write_secret(secret, "a shared secret for tests\n");
    mirrord = start(tmp.sub("mirrord.log"));
  }
  std::unique_ptr<MirrordProcess> start(const std::string& log) const {
    MirrordConfig config;
    config.volumes = {{"a", copy_a}, {"b", copy_b}};
    config.secret_file = secret;
    config.log_path = log;
    config.control_path = control;
    config.extra_args = {"--heartbeat-interval", "100", "--heartbeat-timeout", "700"};
    return std::make_unique<MirrordProcess>(config);
  }
  void TearDown() override {
    if (HasFailure() && mirrord) std::cerr << "mirrord output:\n" << mirrord->log();
  }

  TempDir tmp;
  std::string copy_a = tmp.sub("copy-a"), copy_b = tmp.sub("copy-b");
  std::string secret = tmp.sub("secret"), control = tmp.sub("mirrord.sock");
  std::unique_ptr<MirrordProcess> mirrord;
};

TEST_F(IdleMirrord, StatusShowsEachVolumeConnectingWithNoConnections) {
  const int64_t before = mirror::wall_clock_ms();
  struct stat st;
  ASSERT_EQ(lstat(control.c_str(), &st), 0) << control;
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  json raw = status_json(control);
  DaemonStatus s = raw.get<DaemonStatus>();
  EXPECT_EQ(s.schema, mirror::kStatusSchema);
  EXPECT_EQ(s.program, "mirrord");
  EXPECT_EQ(s.pid, mirrord->pid());
  EXPECT_EQ(s.version, MIRRORFS_VERSION);
  EXPECT_GE(s.time, before - 1000);
  EXPECT_LE(s.time, mirror::wall_clock_ms());
  ASSERT_EQ(s.volumes.size(), 2u) << raw.dump(2);
  const std::vector<std::pair<std::string, std::string>> want = {{"a", copy_a}, {"b", copy_b}};
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].first);
    const VolumeStatus& v = s.volumes[i];
    const json& rv = raw["volumes"][i];
    EXPECT_EQ(v.volume, want[i].first);
    EXPECT_EQ(v.role, mirror::Role::mirror);
    EXPECT_TRUE(rv["mode"].is_null()) << rv.dump();
    EXPECT_TRUE(rv["queue"].is_null()) << rv.dump();
    EXPECT_TRUE(rv["mountpoint"].is_null()) << rv.dump();
    EXPECT_TRUE(rv["last_error"].is_null()) << rv.dump();
    EXPECT_TRUE(rv["heartbeat"]["last_heard_age_ms"].is_null()) << rv.dump();
    EXPECT_EQ(v.directory, want[i].second);
    EXPECT_EQ(v.peer, "");
    EXPECT_EQ(v.link, LinkState::connecting);
    EXPECT_GT(v.link_since, 0);
    EXPECT_LE(v.link_since, s.time);
    EXPECT_TRUE(v.connections.empty());
    EXPECT_EQ(v.heartbeat.interval_ms, 100);
    EXPECT_EQ(v.heartbeat.timeout_ms, 700);
    EXPECT_EQ(v.heartbeat.probation_ms, 0);
    EXPECT_EQ(v.heartbeat.received, 0u);
    EXPECT_EQ(v.counters, mirror::CounterStatus{});
    EXPECT_EQ(v.throughput, mirror::ThroughputStatus{});
  }
}

TEST_F(IdleMirrord, CommandsForMirrorfsAreRefusedWithASentence) {
  for (const json& request :
       {json{{"command", "pause"}}, json{{"command", "resume"}},
        json{{"command", "mode"}, {"mode", "sync"}}, json{{"command", "pause"}, {"volume", "a"}}}) {
    json reply = call(control, request);
    EXPECT_EQ(reply["ok"], false) << reply.dump();
    EXPECT_EQ(reply.value("error", ""),
              "mirrord keeps copies: pause, resume and mode are commands for mirrorfs")
        << request.dump();
  }
  json reply = call(control, {{"command", "frobnicate"}});
  EXPECT_EQ(reply["ok"], false) << reply.dump();
  EXPECT_NE(reply.value("error", "").find("frobnicate"), std::string::npos) << reply.dump();
  // Still answering.
  EXPECT_EQ(status_of(control).program, "mirrord");
}

TEST_F(IdleMirrord, ASecondMirrordOnTheSameControlSocketIsRefused) {
  auto r = run_command({MIRRORD_BIN, "--listen", "127.0.0.1:0", "--volume", "a=" + copy_a,
                        "--secret-file", secret, "--control", control},
                       20s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  auto lines = nonempty_lines(r.output);
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_NE(lines[0].find(control), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("another process is listening"), std::string::npos) << lines[0];
  // The first one keeps its socket and answers.
  EXPECT_EQ(status_of(control).pid, mirrord->pid());
}

TEST_F(IdleMirrord, SocketIsRemovedOnStopAndAStaleOneIsReplaced) {
  // A clean stop removes the socket.
  EXPECT_EQ(mirrord->stop(), 0) << mirrord->log();
  struct stat st;
  EXPECT_NE(lstat(control.c_str(), &st), 0) << "socket left behind at " << control;
  mirrord = start(tmp.sub("mirrord.2.log"));
  // kill -9 leaves it; the next mirrord replaces it.
  const pid_t killed = mirrord->pid();
  mirrord->signal(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return mirrord->poll_exit() != -1; }));
  ASSERT_EQ(lstat(control.c_str(), &st), 0) << "kill -9 should leave the socket";
  EXPECT_THROW(call(control, {{"command", "status"}}), mirror::ControlUnreachable);
  mirrord = start(tmp.sub("mirrord.3.log"));
  DaemonStatus s = status_of(control);
  EXPECT_EQ(s.pid, mirrord->pid());
  EXPECT_NE(s.pid, killed);
  EXPECT_NE(mirrord->log().find("replacing the stale socket"), std::string::npos) << mirrord->log();
}

// With a real mirrorfs: the fault fixture's short timings (heartbeat interval
// 50 ms, timeout 300 ms, probation 600 ms, request timeout 300 ms).
class MirrordStatusTest : public FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(start_mirrord());
    control = mirrord->control_path();
    ASSERT_FALSE(control.empty());
    ASSERT_NO_FATAL_FAILURE(start_mirrorfs({"control=" + tmp->sub("mirrorfs.sock")}));
  }
  // The status of volume "vol", once `ready` holds for it (the last one seen
  // otherwise, with a test failure naming `what`).
  VolumeStatus wait_status(const std::string& what,
                           const std::function<bool(const VolumeStatus&)>& ready,
                           std::chrono::milliseconds deadline = 15s) {
    VolumeStatus v;
    json last;
    bool ok = wait_until(
        [&] {
          last = status_json(control);
          auto s = last.get<DaemonStatus>();
          if (s.volumes.size() != 1) return false;
          v = s.volumes[0];
          return ready(v);
        },
        deadline);
    EXPECT_TRUE(ok) << "mirrord's status never showed " << what << "; the last:\n" << last.dump(2);
    return v;
  }
  static bool connected(const VolumeStatus& v) {
    return v.link == LinkState::connected && count_in(v, ConnectionState::open) == 4;
  }

  std::string control;
};

TEST_P(MirrordStatusTest, ConnectedThenWritesThenInterruptedThenBack) {
  const int64_t started = mirror::wall_clock_ms();
  VolumeStatus v = wait_status("4 open connections, link connected", connected);
  EXPECT_EQ(v.connections.size(), 4u);
  EXPECT_NE(v.peer, "");
  EXPECT_NE(v.peer.find("127.0.0.1:"), std::string::npos) << v.peer;
  EXPECT_GE(v.link_since, started - 1000);
  ASSERT_TRUE(v.heartbeat.last_heard_age_ms.has_value());
  EXPECT_LE(*v.heartbeat.last_heard_age_ms, 5 * FaultTimings::timeout);
  EXPECT_GT(v.heartbeat.received, 0u);
  EXPECT_GT(v.heartbeat.sent, 0u);
  EXPECT_EQ(v.heartbeat.forged, 0u);
  for (const auto& c : v.connections) EXPECT_LE(c.timestamp_age_ms, 5 * FaultTimings::timeout);
  EXPECT_EQ(v.counters.interruptions, 0u);
  EXPECT_EQ(v.counters.reconnects, 0u);

  // Writes: the counters and bytes move, and the copy converges.
  const std::string block(64 << 10, 'x');
  for (int i = 0; i < 16; ++i) write_file(at("f" + std::to_string(i)), block);
  expect_converged();
  v = wait_status("the writes answered", [](const VolumeStatus& x) {
    uint64_t answered = 0;
    for (const auto& c : x.connections) answered += c.bytes_acked;
    return x.counters.requests_acked >= 32 && answered >= 16 * (64u << 10);
  });
  EXPECT_EQ(v.counters.requests_failed, 0u);
  EXPECT_GE(v.counters.requests_sent, v.counters.requests_acked);
  uint64_t sent = 0, acked = 0;
  for (const auto& c : v.connections) {
    sent += c.bytes_sent;
    acked += c.bytes_acked;
    EXPECT_LE(c.bytes_acked, c.bytes_sent);
    EXPECT_LE(c.in_flight, 1u);
  }
  EXPECT_GE(sent, acked);
  EXPECT_GT(v.throughput.requests_per_s, 0.0) << json(v).dump(2);
  EXPECT_GT(v.throughput.bytes_per_s, 0.0);
  EXPECT_FALSE(v.last_error.has_value()) << v.last_error->message;

  // The local server stops: interrupted, every element closed, once.
  const int64_t stopped = mirror::wall_clock_ms();
  mirrorfs->signal(SIGSTOP);
  v = wait_status("link interrupted with every connection closed", [](const VolumeStatus& x) {
    return x.link == LinkState::interrupted && count_in(x, ConnectionState::open) == 0;
  });
  EXPECT_EQ(v.counters.interruptions, 1u);
  EXPECT_GE(v.link_since, stopped);
  ASSERT_TRUE(v.heartbeat.last_heard_age_ms.has_value());
  EXPECT_GT(*v.heartbeat.last_heard_age_ms, FaultTimings::timeout);

  // It continues: heard again, its connections re-established after probation.
  mirrorfs->signal(SIGCONT);
  v = wait_status("connected again", connected, 30s);
  EXPECT_EQ(v.counters.interruptions, 1u);
  EXPECT_EQ(v.counters.reconnects, 1u);
  EXPECT_LE(*v.heartbeat.last_heard_age_ms, 5 * FaultTimings::timeout);
}

TEST_P(MirrordStatusTest, ARequestTheCopyCannotStoreIsTheLastError) {
  wait_status("4 open connections, link connected", connected);
  // A directory in the copy where the mount creates a file.
  ASSERT_EQ(mkdir(in_copy("clash").c_str(), 0755), 0);
  write_file(at("clash"), "a file here, a directory there\n");
  VolumeStatus v = wait_status("a failed request", [](const VolumeStatus& x) {
    return x.counters.requests_failed > 0 && x.last_error.has_value();
  });
  EXPECT_NE(v.last_error->message.find("clash"), std::string::npos) << v.last_error->message;
  EXPECT_GT(v.last_error->at, 0);
  EXPECT_LE(v.last_error->at, mirror::wall_clock_ms());
}

INSTANTIATE_TEST_SUITE_P(Modes, MirrordStatusTest, ::testing::Values("async"),
                         [](const auto& info) { return info.param; });

}  // namespace
