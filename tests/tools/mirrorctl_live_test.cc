// The real mirrorctl binary against the real daemons: a mirrord and a
// mirrorfs mounted with it as its peer, with short heartbeat settings and
// both control sockets in the test's own control directory. Checked, with
// `mirrorctl status --json SOCKET` and its exit status, in each state an
// operator meets: connected and idle (0); writing while the mirror is
// stopped (the queue fills); the mirror stopped (interrupted, the queue
// growing, 1); probation after it continues (1); recovered (0, the queue
// drained, the copy equal); the daemon gone (a stale socket, 2). Also the
// key lines of the human view, mirrord's own status (role mirror), pause and
// resume, switching the mode, and `mirrorctl metrics` judged by the
// Prometheus text checker.
//
// Every wait has a deadline; teardown continues stopped daemons, unmounts
// and stops both, whatever the outcome.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/fault_fixture.h"
#include "tests/support/mirror_fixture.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_check.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing_support::is_mounted;
using testing_support::MirrordConfig;
using testing_support::MirrordProcess;
using testing_support::MirrorfsProcess;
using testing_support::TempDir;
using testing_support::wait_until;

// Heartbeat interval, timeout and probation of both daemons, in ms.
constexpr int kInterval = 50;
constexpr int kTimeout = 300;
constexpr int kProbation = 600;
// Long enough for a poll to catch the link in probation.
constexpr int kLongProbation = 2000;

struct CtlRun {
  int exit_code = -1;
  std::string out, err;
  json doc;  // stdout parsed as JSON (discarded when it is not)
};

// `text` with the characters that mean something in an ECMAScript regex escaped.
std::string re(const std::string& text) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(text, special, R"(\$&)");
}

bool has_line(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern, std::regex::multiline));
}

class MirrorctlLive : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!testing_support::fuse_available(&why)) GTEST_SKIP() << why;
    tmp = std::make_unique<TempDir>();
    backing = tmp->sub("backing");
    mnt = tmp->sub("mnt");
    copy = tmp->sub("copy");
    ctl_dir = tmp->sub("ctl");
    secret = tmp->sub("secret");
    for (const auto& d : {backing, mnt, copy}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
    testing_support::write_secret(secret, "a shared secret for mirrorctl tests\n");
    mirrorfs_sock = ctl_dir + "/mirrorfs-vol.sock";
    mirrord_sock = ctl_dir + "/mirrord.sock";
  }

  void TearDown() override {
    if (mirrord) mirrord->signal(SIGCONT);
    if (mirrorfs) {
      mirrorfs->signal(SIGCONT);
      mirrorfs->stop();
      EXPECT_FALSE(is_mounted(mnt)) << "mount left behind at " << mnt;
      EXPECT_TRUE(
          wait_until([&] { return !testing_support::auto_unmount_helper_running(mnt); }, 10s))
          << "an auto_unmount helper is left for " << mnt;
    }
    if (mirrord) {
      EXPECT_EQ(mirrord->stop(), 0) << "mirrord did not exit cleanly";
    }
    if (HasFailure()) {
      if (mirrorfs) std::cerr << "mirrorfs output:\n" << mirrorfs->log();
      if (mirrord) std::cerr << "mirrord output:\n" << mirrord->log();
      std::cerr << "last mirrorctl run (exit " << last.exit_code << "):\n" << last.out << last.err;
    }
    mirrorfs.reset();
    mirrord.reset();
    tmp.reset();
  }

  // Starts mirrord (volume vol = copy) and mirrorfs mounting backing at mnt
  // in `mode`, both with the short heartbeat settings, and waits until
  // mirrorctl sees the link connected with an empty queue.
  void start(const std::string& mode, int probation_ms = kProbation) {
    MirrordConfig config;
    config.volumes = {{"vol", copy}};
    config.secret_file = secret;
    config.log_path = tmp->sub("mirrord.log");
    config.request_timeout_ms = kTimeout;
    config.control_path = mirrord_sock;
    config.extra_args = {"--heartbeat-interval", std::to_string(kInterval), "--heartbeat-timeout",
                         std::to_string(kTimeout)};
    mirrord = std::make_unique<MirrordProcess>(config);
    port = std::to_string(mirrord->port());
    std::vector<std::string> options = {"peer=127.0.0.1:" + port,
                                        "volume=vol",
                                        "secret_file=" + secret,
                                        "mode=" + mode,
                                        "connections=2",
                                        "heartbeat_interval=" + std::to_string(kInterval),
                                        "heartbeat_timeout=" + std::to_string(kTimeout),
                                        "probation=" + std::to_string(probation_ms),
                                        "queue_dir=" + tmp->sub("queue"),
                                        "control=" + mirrorfs_sock};
    mirrorfs = std::make_unique<MirrorfsProcess>(backing, mnt, options, tmp->sub("mirrorfs.log"));
    ASSERT_TRUE(poll(mirrorfs_sock, [](const CtlRun& r) {
      return r.exit_code == 0 && volume(r)["link"] == "connected" &&
             volume(r)["queue"]["records"] == 0;
    })) << "mirrorctl never saw the link connected";
  }

  // Runs mirrorctl with our control directory and a 2 s timeout.
  CtlRun mirrorctl(const std::vector<std::string>& args) {
    std::string err_path = tmp->sub("mirrorctl.err");
    std::vector<std::string> argv = {"sh",
                                     "-c",
                                     "err=$1; shift; exec \"$@\" 2>\"$err\"",
                                     "sh",
                                     err_path,
                                     MIRRORCTL_BIN,
                                     "--control-dir",
                                     ctl_dir,
                                     "--timeout",
                                     "2000"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = testing_support::run_command(argv, 20s);
    last = CtlRun{r.exit_code, r.output, testing_support::read_file(err_path), json()};
    last.doc = json::parse(last.out, nullptr, false);
    return last;
  }

  // `mirrorctl status --json TARGET`.
  CtlRun status(const std::string& target) {
    auto r = mirrorctl({"status", "--json", target});
    EXPECT_FALSE(r.doc.is_discarded()) << "not JSON:\n" << r.out << r.err;
    return r;
  }

  // The first volume of the first daemon in a status document; null if none.
  static json volume(const CtlRun& r) {
    if (r.doc.is_discarded()) return json();
    auto p = json::json_pointer("/daemons/0/status/volumes/0");
    return r.doc.contains(p) ? r.doc[p] : json();
  }

  // Polls `status --json target` until `done` holds; the last run is in `last`.
  bool poll(const std::string& target, const std::function<bool(const CtlRun&)>& done,
            std::chrono::milliseconds deadline = 15s) {
    return wait_until([&] { return done(status(target)); }, deadline);
  }

  uint64_t records(const CtlRun& r) {
    json v = volume(r);
    return v.is_object() && v["queue"].is_object() ? v["queue"]["records"].get<uint64_t>() : 0;
  }

  // Writes `n` files of `size` bytes through the mount, each fsync'd so that
  // mirrorfs has seen it (async mode: durable locally, queued for the mirror).
  void write_files(const std::string& prefix, int n, size_t size = 64 << 10) {
    std::string data(size, 'm');
    for (int i = 0; i < n; ++i) {
      std::string path = mnt + "/" + prefix + std::to_string(i);
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
      ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size())) << path;
      ASSERT_EQ(fsync(fd), 0) << path << ": " << strerror(errno);
      ASSERT_EQ(close(fd), 0) << path;
    }
  }

  void expect_converged() {
    EXPECT_EQ(testing_support::wait_for_convergence(backing, copy), "")
        << "the copy did not converge";
  }

  std::unique_ptr<TempDir> tmp;
  std::string backing, mnt, copy, ctl_dir, secret, mirrorfs_sock, mirrord_sock, port;
  std::unique_ptr<MirrordProcess> mirrord;
  std::unique_ptr<MirrorfsProcess> mirrorfs;
  CtlRun last;
};

TEST_F(MirrorctlLive, StatusAndExitCodeFollowTheLinkThroughEveryState) {
  ASSERT_NO_FATAL_FAILURE(start("async", kLongProbation));

  // Connected and idle.
  CtlRun r = status(mirrorfs_sock);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.doc["exit_status"], 0);
  EXPECT_EQ(r.doc["problems"], json::array());
  json v = volume(r);
  EXPECT_EQ(r.doc["daemons"][0]["status"]["program"], "mirrorfs");
  EXPECT_EQ(r.doc["daemons"][0]["status"]["pid"], mirrorfs->pid());
  EXPECT_EQ(v["volume"], "vol");
  EXPECT_EQ(v["role"], "local");
  EXPECT_EQ(v["mode"], "async");
  EXPECT_EQ(v["peer"], "127.0.0.1:" + port);
  EXPECT_EQ(v["mountpoint"], mnt);
  EXPECT_EQ(v["directory"], backing);
  EXPECT_EQ(v["link"], "connected");
  EXPECT_EQ(v["paused"], false);
  EXPECT_EQ(v["heartbeat"]["interval_ms"], kInterval);
  EXPECT_EQ(v["heartbeat"]["timeout_ms"], kTimeout);
  EXPECT_EQ(v["heartbeat"]["probation_ms"], kLongProbation);
  EXPECT_TRUE(v["heartbeat"]["last_heard_age_ms"].is_number()) << v.dump(2);
  EXPECT_EQ(v["queue"]["records"], 0);
  EXPECT_TRUE(v["queue"]["oldest_age_ms"].is_null()) << v.dump(2);
  ASSERT_EQ(v["connections"].size(), 2u) << v.dump(2);
  for (const auto& c : v["connections"]) {
    EXPECT_EQ(c["state"], "open") << c.dump();
    EXPECT_TRUE(c["timestamp_age_ms"].is_number()) << c.dump();
  }

  // The human view of the same, line by line.
  CtlRun human = mirrorctl({"status", mirrorfs_sock});
  EXPECT_EQ(human.exit_code, 0) << human.out << human.err;
  const std::string& h = human.out;
  EXPECT_TRUE(has_line(
      h, "^mirrorfs \\S+, pid " + std::to_string(mirrorfs->pid()) + ", " + re(mirrorfs_sock) + "$"))
      << h;
  EXPECT_TRUE(has_line(h, "^vol  local async -> 127\\.0\\.0\\.1:" + port + "  OK$")) << h;
  EXPECT_TRUE(has_line(h, "^  mount +" + re(mnt) + " \\(backing " + re(backing) + "\\)$")) << h;
  EXPECT_TRUE(has_line(h, R"(^  link +connected since \S+ \S+)")) << h;
  EXPECT_TRUE(has_line(h, R"(^  heartbeat +last heard \S+ ago; sent \d+, received \d+;)")) << h;
  EXPECT_TRUE(has_line(h, R"(^ +every 50ms, timeout 300ms, probation 2\.0s$)")) << h;
  EXPECT_TRUE(has_line(h, R"(^  queue +0 records, \S+ B, lag 0)")) << h;
  EXPECT_TRUE(has_line(h, R"(^  requests +sent \d+, acked \d+, failed 0, queued \d+;)")) << h;
  EXPECT_TRUE(has_line(h, R"(^  conn +state +heard +in-flight +sent +acked$)")) << h;
  EXPECT_TRUE(has_line(h, R"(^ +0 +open )")) << h;
  EXPECT_TRUE(has_line(h, R"(^ +1 +open )")) << h;

  // Writing with the mirror stopped: the requests wait in the queue.
  mirrord->signal(SIGSTOP);
  ASSERT_NO_FATAL_FAILURE(write_files("while-stopped-", 20));
  EXPECT_TRUE(poll(mirrorfs_sock, [&](const CtlRun& s) {
    return records(s) > 0 && volume(s)["queue"]["bytes"].get<uint64_t>() > 0;
  })) << "the queue stayed empty while the mirror was stopped";

  // The mirror stopped: interrupted once the heartbeat timeout passed.
  ASSERT_TRUE(poll(mirrorfs_sock, [](const CtlRun& s) {
    return volume(s)["link"] == "interrupted";
  })) << "the link was never reported interrupted";
  r = last;
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.doc["exit_status"], 1);
  EXPECT_EQ(r.doc["problems"], json({"vol: link interrupted"}));
  v = volume(r);
  EXPECT_GE(v["counters"]["interruptions"].get<uint64_t>(), 1u) << v.dump(2);
  for (const auto& c : v["connections"]) EXPECT_NE(c["state"], "open") << c.dump();
  uint64_t before = records(r);
  EXPECT_GT(before, 0u);
  human = mirrorctl({"status", mirrorfs_sock});
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_TRUE(has_line(human.out, R"(^vol  local async -> \S+  DEGRADED: link interrupted$)"))
      << human.out;
  EXPECT_TRUE(has_line(human.out, R"(^  link +interrupted since )")) << human.out;
  EXPECT_TRUE(has_line(human.out, R"(^  queue +[1-9]\d* records, )")) << human.out;

  // More work while interrupted: the queue grows, and ages.
  ASSERT_NO_FATAL_FAILURE(write_files("while-interrupted-", 10));
  EXPECT_TRUE(poll(mirrorfs_sock,
                   [&](const CtlRun& s) {
                     json q = volume(s)["queue"];
                     return records(s) > before && q["oldest_age_ms"].is_number() &&
                            q["oldest_age_ms"].get<int64_t>() > 0;
                   }))
      << "the queue did not grow past " << before << " records";
  EXPECT_EQ(last.exit_code, 1);
  EXPECT_EQ(volume(last)["link"], "interrupted");

  // The mirror continues: heartbeats again, probation before reconnecting.
  mirrord->signal(SIGCONT);
  ASSERT_TRUE(poll(
      mirrorfs_sock, [](const CtlRun& s) { return volume(s)["link"] != "interrupted"; }, 10s))
      << "the link stayed interrupted after SIGCONT";
  r = last;
  EXPECT_EQ(volume(r)["link"], "probation")
      << "probation (" << kLongProbation << " ms) was not seen";
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.doc["problems"], json({"vol: link probation"}));
  EXPECT_GT(records(r), 0u) << "nothing is sent during probation";

  // Recovered: connected, the queue drained, the copy equal.
  ASSERT_TRUE(poll(
      mirrorfs_sock,
      [&](const CtlRun& s) {
        return s.exit_code == 0 && volume(s)["link"] == "connected" && records(s) == 0;
      },
      30s))
      << "never connected with an empty queue after the mirror came back";
  v = volume(last);
  EXPECT_GE(v["counters"]["reconnects"].get<uint64_t>(), 1u) << v.dump(2);
  EXPECT_TRUE(v["queue"]["oldest_age_ms"].is_null()) << v.dump(2);
  for (const auto& c : v["connections"]) EXPECT_EQ(c["state"], "open") << c.dump();
  human = mirrorctl({"status", mirrorfs_sock});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_TRUE(has_line(human.out, R"(^vol  local async -> \S+  OK$)")) << human.out;
  EXPECT_TRUE(
      has_line(human.out, R"(^  requests .*; [1-9]\d* interruption\(s\), [1-9]\d* reconnect)"))
      << human.out;
  expect_converged();

  // The daemon gone: killed, its socket left behind, nobody answering.
  mirrorfs->signal(SIGKILL);
  EXPECT_EQ(mirrorfs->stop(), 128 + SIGKILL);
  EXPECT_FALSE(is_mounted(mnt));
  EXPECT_EQ(access(mirrorfs_sock.c_str(), F_OK), 0) << "a killed daemon leaves its socket";
  r = status(mirrorfs_sock);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.doc["exit_status"], 2);
  EXPECT_EQ(r.doc["daemons"][0]["reachable"], false) << r.out;
  EXPECT_EQ(r.doc["daemons"][0]["socket"], mirrorfs_sock) << r.out;
  human = mirrorctl({"status", mirrorfs_sock});
  EXPECT_EQ(human.exit_code, 2);
  EXPECT_TRUE(has_line(human.out, "^" + re(mirrorfs_sock) + "  UNREACHABLE: ")) << human.out;
  // Every daemon of the control directory: mirrord answers, mirrorfs not.
  r = mirrorctl({"status", "--json"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.doc["daemons"].size(), 2u) << r.out;
}

TEST_F(MirrorctlLive, MirrordsSocketShowsTheMirrorRole) {
  ASSERT_NO_FATAL_FAILURE(start("async"));
  ASSERT_NO_FATAL_FAILURE(write_files("f", 3));
  expect_converged();
  ASSERT_TRUE(poll(mirrord_sock, [](const CtlRun& s) {
    return s.exit_code == 0 && volume(s)["link"] == "connected";
  })) << "mirrord never reported the volume connected";
  CtlRun r = last;
  EXPECT_EQ(r.doc["daemons"][0]["status"]["program"], "mirrord");
  EXPECT_EQ(r.doc["daemons"][0]["status"]["pid"], mirrord->pid());
  json v = volume(r);
  EXPECT_EQ(v["volume"], "vol");
  EXPECT_EQ(v["role"], "mirror");
  EXPECT_TRUE(v["mode"].is_null()) << v.dump(2);
  EXPECT_TRUE(v["queue"].is_null()) << v.dump(2);
  EXPECT_EQ(v["directory"], copy);
  EXPECT_EQ(v["connections"].size(), 2u) << v.dump(2);
  EXPECT_GT(v["counters"]["requests_sent"].get<uint64_t>(), 0u) << "requests received";

  CtlRun human = mirrorctl({"status", mirrord_sock});
  EXPECT_EQ(human.exit_code, 0) << human.out << human.err;
  EXPECT_TRUE(has_line(human.out, "^mirrord \\S+, pid " + std::to_string(mirrord->pid()) + ", " +
                                      re(mirrord_sock) + "$"))
      << human.out;
  EXPECT_TRUE(has_line(human.out, R"(^vol  mirror <- \S+  OK$)")) << human.out;
  EXPECT_TRUE(has_line(human.out, "^  copy +" + re(copy) + "$")) << human.out;
  EXPECT_FALSE(has_line(human.out, "^  queue ")) << "the mirror side has no queue\n" << human.out;

  // Without a target: every daemon of the control directory, both healthy.
  r = mirrorctl({"status", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(r.doc["daemons"].size(), 2u) << r.out;
  std::set<std::string> programs;
  for (const auto& d : r.doc["daemons"]) programs.insert(d["status"]["program"].get<std::string>());
  EXPECT_EQ(programs, (std::set<std::string>{"mirrord", "mirrorfs"}));
  // A mount point selects mirrorfs's volume only.
  r = status(mnt);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(r.doc["daemons"].size(), 1u) << r.out;
  EXPECT_EQ(r.doc["daemons"][0]["socket"], mirrorfs_sock);
}

TEST_F(MirrorctlLive, PauseQueuesAndResumeDrains) {
  ASSERT_NO_FATAL_FAILURE(start("async"));
  CtlRun r = mirrorctl({"pause", mnt});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": ok"), std::string::npos) << r.out;
  r = status(mirrorfs_sock);
  EXPECT_EQ(volume(r)["paused"], true) << r.out;
  EXPECT_EQ(r.exit_code, 1) << "paused is degraded\n" << r.out;
  EXPECT_EQ(r.doc["problems"], json({"vol: paused"}));
  CtlRun human = mirrorctl({"status", mirrorfs_sock});
  EXPECT_TRUE(has_line(human.out, R"(^vol  local async -> \S+  DEGRADED: paused$)")) << human.out;
  EXPECT_TRUE(has_line(human.out, R"(^  paused +yes)")) << human.out;

  // Writes queue while paused; nothing reaches the copy.
  ASSERT_NO_FATAL_FAILURE(write_files("paused-", 10));
  EXPECT_TRUE(poll(mirrorfs_sock, [&](const CtlRun& s) { return records(s) >= 10; }))
      << "the writes were not queued while paused";
  EXPECT_EQ(volume(last)["link"], "connected") << "pausing leaves the link up";
  EXPECT_NE(access((copy + "/paused-0").c_str(), F_OK), 0) << "sent although paused";

  r = mirrorctl({"resume", mirrorfs_sock});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(poll(mirrorfs_sock, [&](const CtlRun& s) {
    return s.exit_code == 0 && volume(s)["paused"] == false && records(s) == 0;
  })) << "the queue did not drain after resume";
  expect_converged();
}

TEST_F(MirrorctlLive, ModeSwitchesARunningVolume) {
  ASSERT_NO_FATAL_FAILURE(start("sync"));
  EXPECT_EQ(volume(status(mirrorfs_sock))["mode"], "sync");
  CtlRun r = mirrorctl({"mode", "async", mirrorfs_sock});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = status(mirrorfs_sock);
  EXPECT_EQ(volume(r)["mode"], "async") << r.out;
  EXPECT_EQ(r.exit_code, 0);
  CtlRun human = mirrorctl({"status", mnt});
  EXPECT_TRUE(has_line(human.out, R"(^vol  local async -> \S+  OK$)")) << human.out;
  ASSERT_NO_FATAL_FAILURE(write_files("async-", 3));
  expect_converged();

  // Back to sync, naming the volume; mirrord serves no mode and refuses.
  r = mirrorctl({"mode", "sync", mnt});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(volume(status(mirrorfs_sock))["mode"], "sync");
  r = mirrorctl({"mode", "async", mirrord_sock});
  EXPECT_EQ(r.exit_code, 1) << "mirrord has no mode to switch\n" << r.out << r.err;
  ASSERT_NO_FATAL_FAILURE(write_files("sync-", 3));
  expect_converged();
}

TEST_F(MirrorctlLive, MetricsOfLiveDaemonsAreValidPrometheusText) {
  ASSERT_NO_FATAL_FAILURE(start("async"));
  ASSERT_NO_FATAL_FAILURE(write_files("m", 5));
  expect_converged();
  ASSERT_TRUE(poll(mirrorfs_sock, [&](const CtlRun& s) { return records(s) == 0; }));

  CtlRun r = mirrorctl({"metrics"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto p = testing_support::check_prometheus_text(r.out);
  for (const auto& e : p.errors) ADD_FAILURE() << e << "\n" << r.out;
  auto value = [&](const std::string& name, const std::map<std::string, std::string>& labels) {
    const auto* s = testing_support::find_sample(p, name, labels);
    EXPECT_NE(s, nullptr) << name << " missing\n" << r.out;
    return s ? s->value : -1;
  };
  std::map<std::string, std::string> local = {{"volume", "vol"}, {"role", "local"}};
  EXPECT_EQ(value("mirrorfs_control_up", {{"socket", mirrorfs_sock}}), 1);
  EXPECT_EQ(value("mirrorfs_control_up", {{"socket", mirrord_sock}}), 1);
  EXPECT_EQ(value("mirrorfs_queue_records", local), 0);
  EXPECT_GE(value("mirrorfs_queue_bytes", local), 0);
  EXPECT_GT(value("mirrorfs_heartbeat_received_total", local), 0);
  EXPECT_EQ(
      value("mirrorfs_link_state", {{"volume", "vol"}, {"role", "local"}, {"state", "connected"}}),
      1);
  EXPECT_EQ(value("mirrorfs_link_state",
                  {{"volume", "vol"}, {"role", "local"}, {"state", "interrupted"}}),
            0);
  EXPECT_EQ(
      value("mirrorfs_link_state", {{"volume", "vol"}, {"role", "mirror"}, {"state", "connected"}}),
      1);
  EXPECT_EQ(testing_support::find_sample(p, "mirrorfs_queue_records", {{"role", "mirror"}}),
            nullptr);

  // With the mirror stopped, mirrorfs's metrics say so (mirrord, stopped,
  // would not answer: ask mirrorfs only).
  mirrord->signal(SIGSTOP);
  ASSERT_NO_FATAL_FAILURE(write_files("stopped-", 3));
  ASSERT_TRUE(poll(mirrorfs_sock, [](const CtlRun& s) {
    return volume(s)["link"] == "interrupted";
  })) << "the link was never reported interrupted";
  r = mirrorctl({"metrics", mirrorfs_sock});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  p = testing_support::check_prometheus_text(r.out);
  for (const auto& e : p.errors) ADD_FAILURE() << e << "\n" << r.out;
  EXPECT_EQ(value("mirrorfs_link_state",
                  {{"volume", "vol"}, {"role", "local"}, {"state", "interrupted"}}),
            1);
  EXPECT_GT(value("mirrorfs_queue_records", local), 0);
  EXPECT_GE(value("mirrorfs_link_interruptions_total", local), 1);
  mirrord->signal(SIGCONT);
  expect_converged();
}

}  // namespace
