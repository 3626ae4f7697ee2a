// Canned statuses, one per state an operator meets, and a fixture that
// serves them from fake daemons' control sockets in a temporary control
// directory and runs the real mirrorctl binary against them.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <regex>

#include "mirror/control_server.h"
#include "mirror/status.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace mirrorctl_test {

using nlohmann::json;

constexpr int64_t kNow = 1767225600000;  // the canned statuses' "time"

inline mirror::VolumeStatus connected_idle() {
  mirror::VolumeStatus v;
  v.volume = "data";
  v.role = mirror::Role::local;
  v.mode = mirror::Mode::async;
  v.peer = "127.0.0.1:7400";
  v.mountpoint = "/mnt/data";
  v.directory = "/srv/data";
  v.link = mirror::LinkState::connected;
  v.link_since = kNow - 3'600'000;
  v.heartbeat = {200, 1500, 3000, 120, 18000, 17990, 0, 0, 0};
  v.connections = {{0, mirror::ConnectionState::open, 120, 0, 1 << 20, 1 << 20},
                   {1, mirror::ConnectionState::open, 120, 0, 2 << 20, 2 << 20}};
  v.queue = mirror::QueueStatus{0, 0, std::nullopt, 1ull << 30, 0, 0};
  v.counters = {5000, 5000, 0, 5000, 0, 0};
  return v;
}

inline mirror::VolumeStatus interrupted_with_queue() {
  auto v = connected_idle();
  v.link = mirror::LinkState::interrupted;
  v.link_since = kNow - 134'000;
  v.heartbeat.last_heard_age_ms = 134'000;
  for (auto& c : v.connections) c.state = mirror::ConnectionState::closed;
  v.queue = mirror::QueueStatus{512, 4 << 20, 130'000, 1ull << 30, 0, 0};
  v.last_error = mirror::ErrorStatus{"connect 127.0.0.1:7400: Connection refused", kNow - 133'000};
  v.counters.interruptions = 1;
  return v;
}

inline mirror::VolumeStatus probation() {
  auto v = interrupted_with_queue();
  v.link = mirror::LinkState::probation;
  v.link_since = kNow - 1'000;
  v.heartbeat.last_heard_age_ms = 150;
  return v;
}

inline mirror::VolumeStatus lagging() {
  auto v = connected_idle();
  v.queue = mirror::QueueStatus{90000, 700ull << 20, 40'000, 1ull << 30, 0, 0};
  return v;
}

inline mirror::VolumeStatus back_pressure() {
  auto v = connected_idle();
  v.queue = mirror::QueueStatus{10, 4096, 10, 1ull << 30, 1ull << 31, 2};
  return v;
}

inline mirror::VolumeStatus mirror_side() {
  mirror::VolumeStatus v;
  v.volume = "data";
  v.role = mirror::Role::mirror;
  v.peer = "127.0.0.1:40000";
  v.directory = "/srv/copy";
  v.link = mirror::LinkState::connected;
  v.link_since = kNow - 60'000;
  v.connections = {{0, mirror::ConnectionState::open, 80, 1, 4096, 4000}};
  return v;
}

// The copy's side of the story (status.sync). A copy verified equal two
// hours ago:
inline mirror::SyncStatus sync_consistent() {
  mirror::SyncStatus s;
  s.copy = "consistent";
  s.state = "idle";
  s.generation = "9f2c0a1b2c3d4e5f";
  s.files_done = s.files_total = 5000;
  s.bytes_done = s.bytes_total = 3ull << 30;
  s.started = kNow - 7'272'000;
  s.finished = kNow - 7'200'000;
  s.result = "equal";
  return s;
}

// An initial sync half done.
inline mirror::SyncStatus sync_initial_running() {
  mirror::SyncStatus s;
  s.copy = "inconsistent";
  s.state = "initial-sync";
  s.reason = "the copy is empty: full initial sync";
  s.generation = "9f2c0a1b2c3d4e5f";
  s.files_done = 1200;
  s.files_total = 5000;
  s.bytes_done = 3ull << 29;
  s.bytes_total = 3ull << 30;
  s.bytes_per_s = 80 << 20;
  s.eta_s = 19;
  s.started = kNow - 20'000;
  return s;
}

// Both sides changed on their own: waiting for the operator.
inline mirror::SyncStatus sync_split_brain() {
  mirror::SyncStatus s;
  s.copy = "unknown";
  s.state = "split-brain";
  s.reason = "both sides changed after generation 1a2b3c4d5e6f7a8b";
  s.generation = "9f2c0a1b2c3d4e5f";
  return s;
}

inline mirror::VolumeStatus with_sync(mirror::SyncStatus s) {
  auto v = connected_idle();
  v.sync = std::move(s);
  return v;
}

inline mirror::DaemonStatus daemon_with(const std::string& program, mirror::VolumeStatus v) {
  mirror::DaemonStatus d;
  d.program = program;
  d.pid = 4242;
  d.version = "0.1.0";
  d.time = kNow;
  d.volumes.push_back(std::move(v));
  return d;
}

struct CtlRun {
  int exit_code = -1;
  std::string out, err;
};

// A control directory with fake daemons in it; each answers "status" with its
// canned DaemonStatus and records the other commands it receives.
class Mirrorctl : public ::testing::Test {
 protected:
  std::string dir() const { return tmp.sub("ctl"); }

  void serve(const std::string& name, mirror::DaemonStatus status) {
    mirror::ControlServerOptions o;
    o.path = dir() + "/" + name + ".sock";
    servers.push_back(std::make_unique<mirror::ControlServer>(o, [this, status](const json& r) {
      if (r["command"] == mirror::kCommandStatus) return mirror::control_ok({{"status", status}});
      std::lock_guard lock(mu);
      received.push_back(r);
      if (r.value("volume", "") == "refusing") return mirror::control_error("not now");
      return mirror::control_ok();
    }));
  }

  // A socket file nobody listens on: a daemon that died.
  void stale(const std::string& name) {
    ASSERT_EQ(system(("mkdir -p " + dir()).c_str()), 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = dir() + "/" + name + ".sock";
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }

  // `stderr_to`: where mirrorctl's stderr goes instead of CtlRun::err (a
  // terminal, say).
  CtlRun mirrorctl(std::vector<std::string> args,
                   std::chrono::milliseconds deadline = std::chrono::seconds(20),
                   const std::string& stderr_to = "") {
    std::string err_path = stderr_to.empty() ? tmp.sub("stderr") : stderr_to;
    std::vector<std::string> argv = {"sh",
                                     "-c",
                                     "err=$1; shift; exec \"$@\" 2>\"$err\"",
                                     "sh",
                                     err_path,
                                     MIRRORCTL_BIN,
                                     "--control-dir",
                                     dir(),
                                     "--timeout",
                                     "2000"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = testing_support::run_command(argv, deadline);
    return {r.exit_code, r.output, stderr_to.empty() ? testing_support::read_file(err_path) : ""};
  }

  json status_json(std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"status", "--json"};
    args.insert(args.end(), more.begin(), more.end());
    last = mirrorctl(args);
    json doc = json::parse(last.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << last.out << last.err;
    return doc;
  }

  TempDir tmp;
  std::vector<std::unique_ptr<mirror::ControlServer>> servers;
  std::mutex mu;
  std::vector<json> received;  // guarded by mu
  CtlRun last;
};

inline bool has_line(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern, std::regex::multiline));
}

}  // namespace mirrorctl_test
