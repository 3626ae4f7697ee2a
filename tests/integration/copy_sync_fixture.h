// A mirrorfs and a mirrord that the test starts itself, so that the backing
// directory and the copy can hold data (or differ) before they meet: the
// initial sync, resync, verify, split brain and failover tests. Short
// heartbeat intervals; status and commands through mirrorfs's control socket.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mirror/control_client.h"
#include "mirror/status.h"
#include "tests/support/mirror_fixture.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace testing_support {

class CopySyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!fuse_available(&why)) GTEST_SKIP() << why;
    tmp = std::make_unique<TempDir>();
    backing = tmp->sub("backing");
    mnt = tmp->sub("mnt");
    copy = tmp->sub("copy");
    secret = tmp->sub("secret");
    for (const auto& d : {backing, mnt, copy}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
    write_secret(secret, "a shared secret for sync tests\n");
  }
  void TearDown() override {
    mirrorfs.reset();
    mirrord.reset();
  }

 public:  // for the tests' helper functions too
  // Starts mirrord serving `dir` as volume "vol" (on `port` when not 0).
  void start_mirrord(const std::string& dir, uint16_t port = 0) {
    MirrordConfig c;
    c.volumes = {{"vol", dir}};
    c.secret_file = secret;
    c.log_path = tmp->sub("mirrord-" + std::to_string(++mirrord_runs) + ".log");
    c.listen = "127.0.0.1:" + std::to_string(port);
    c.extra_args = {"--heartbeat-interval", "50", "--heartbeat-timeout", "300"};
    mirrord = std::make_unique<MirrordProcess>(c);
  }

  // Mounts `dir` at mnt, mirrored to the running mirrord.
  void start_mirrorfs(const std::string& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> o = {"peer=127.0.0.1:" + std::to_string(mirrord->port()),
                                  "volume=vol",
                                  "secret_file=" + secret,
                                  "mode=async",
                                  "connections=4",
                                  "queue_dir=" + tmp->sub("queue-" + base(dir)),
                                  "control=" + control(),
                                  "heartbeat_interval=50",
                                  "heartbeat_timeout=300",
                                  "probation=300"};
    o.insert(o.end(), extra.begin(), extra.end());
    mirrorfs = std::make_unique<MirrorfsProcess>(
        dir, mnt, o, tmp->sub("mirrorfs-" + std::to_string(++mirrorfs_runs) + ".log"));
  }

  std::string control() const { return tmp->sub("mirrorfs.sock"); }

  nlohmann::json volume_status() {
    auto reply = mirror::control_call(control(), {{"command", "status"}});
    return reply.at("status").at("volumes").at(0);
  }
  mirror::SyncStatus sync_status() {
    try {
      return volume_status().at("sync").get<mirror::SyncStatus>();
    } catch (const std::exception&) {
      return {};
    }
  }
  // The copy consistent, no walk running and nothing unacknowledged.
  bool settled() {
    try {
      auto v = volume_status();
      auto s = v.at("sync").get<mirror::SyncStatus>();
      return s.copy == "consistent" && s.state == "idle" && v.at("queue").at("records") == 0;
    } catch (const std::exception&) {
      return false;
    }
  }
  void wait_settled(std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
    ASSERT_TRUE(wait_until([&] { return settled(); }, deadline))
        << "the copy did not settle; status: " << volume_status().dump(2) << "\nmirrorfs:\n"
        << mirrorfs->log();
  }
  // Sends a control command; its reply must be ok.
  void command(const nlohmann::json& request) {
    auto reply = mirror::control_call(control(), request);
    ASSERT_TRUE(reply.value("ok", false)) << reply.dump();
  }
  // Starts a walk with `request` and waits for its result.
  mirror::SyncStatus run_walk(const nlohmann::json& request) {
    const int64_t before = mirror::wall_clock_ms();
    command(request);
    mirror::SyncStatus s;
    EXPECT_TRUE(wait_until(
        [&] {
          s = sync_status();
          return s.started >= before && s.finished != 0;
        },
        std::chrono::seconds(60)))
        << "no result for " << request.dump() << "\n"
        << mirrorfs->log();
    return s;
  }

  // `mirrorctl ARGS... CONTROL-SOCKET`, as an operator runs it.
  CommandResult mirrorctl(std::vector<std::string> args) {
    args.insert(args.begin(), MIRRORCTL_BIN);
    args.push_back(control());
    return run_command(args, std::chrono::seconds(120));
  }

  static std::string base(const std::string& dir) { return dir.substr(dir.rfind('/') + 1); }

  std::unique_ptr<TempDir> tmp;
  std::string backing, mnt, copy, secret;
  std::unique_ptr<MirrordProcess> mirrord;
  std::unique_ptr<MirrorfsProcess> mirrorfs;
  int mirrord_runs = 0, mirrorfs_runs = 0;
};

// cp -a of a real source tree into `dir`.
inline void copy_tree(const std::string& from, const std::string& dir) {
  auto r = run_command({"cp", "-a", from, dir}, std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace testing_support
