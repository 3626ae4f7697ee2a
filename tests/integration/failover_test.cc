// Issue 6, split brain and failover: a copy that changed on its own while the
// primary changed too is detected, nothing is overwritten and status says so
// until the operator's `resync --discard-copy`; the documented failover (the
// copy mounted as the primary, the old primary back as its mirror) ends with
// equal trees, the old primary's unsynced changes detected, not merged.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/copy_sync_fixture.h"

namespace testing_support {
namespace {

namespace fs = std::filesystem;

bool exists(const std::string& path) {
  return fs::exists(fs::symlink_status(path));
}

class FailoverTest : public CopySyncTest {
 protected:
  // A synced pair holding a few files.
  void make_synced_pair() {
    fs::create_directories(backing + "/docs");
    for (int i = 0; i < 5; ++i) std::ofstream(backing + "/docs/d" + std::to_string(i)) << i;
    start_mirrord(copy);
    start_mirrorfs(backing);
    wait_settled();
    ASSERT_EQ(wait_for_convergence(backing, copy), "");
  }
  mirror::SyncStatus wait_split_brain() {
    mirror::SyncStatus s;
    EXPECT_TRUE(wait_until(
        [&] {
          s = sync_status();
          return s.state == "split-brain";
        },
        std::chrono::seconds(20)))
        << volume_status().dump(2) << "\n"
        << mirrorfs->log();
    return s;
  }
};

TEST_F(FailoverTest, CopyChangedOnItsOwnIsASplitBrainUntilTheOperatorDiscardsIt) {
  make_synced_pair();
  const uint16_t port = mirrord->port();
  mirrord->stop();
  // The primary changes while its mirror is away...
  std::ofstream(mnt + "/from-primary") << "primary\n";
  // ... and someone mounts the copy and changes it too.
  const std::string other = tmp->sub("other-mnt");
  ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
  {
    MirrorfsProcess local(copy, other, {}, tmp->sub("copy-mount.log"));
    std::ofstream(other + "/from-copy") << "copy\n";
    local.stop();
  }
  start_mirrord(copy, port);
  mirror::SyncStatus s = wait_split_brain();
  EXPECT_NE(s.reason.find("changed on its own"), std::string::npos) << s.reason;
  EXPECT_EQ(s.copy, "inconsistent");
  EXPECT_NE(volume_status().at("last_error").at("message").get<std::string>().find("split brain"),
            std::string::npos);
  CommandResult st = mirrorctl({"status"});
  EXPECT_EQ(st.exit_code, 2) << st.output;
  EXPECT_NE(st.output.find("SPLIT BRAIN"), std::string::npos) << st.output;
  EXPECT_NE(st.output.find("mirrorctl resync --discard-copy"), std::string::npos) << st.output;
  // Nothing was overwritten: the copy keeps its change and lacks the primary's.
  EXPECT_TRUE(exists(copy + "/from-copy"));
  EXPECT_FALSE(exists(copy + "/from-primary"));
  command({{"command", "resync"}, {"discard_copy", true}});
  wait_settled();
  EXPECT_EQ(wait_for_convergence(backing, copy), "");
  EXPECT_FALSE(exists(copy + "/from-copy"));
}

TEST_F(FailoverTest, ACorruptCopyIdentityWaitsForTheOperator) {
  make_synced_pair();
  const uint16_t port = mirrord->port();
  mirrord->stop();
  std::ofstream(tmp->sub(".copy.mirror-identity"), std::ios::trunc) << "not a record";
  std::ofstream(mnt + "/meanwhile") << "queued\n";
  start_mirrord(copy, port);
  mirror::SyncStatus s = wait_split_brain();
  EXPECT_NE(s.reason.find("corrupt"), std::string::npos) << s.reason;
  EXPECT_FALSE(exists(copy + "/meanwhile"));
  command({{"command", "resync"}, {"discard_copy", true}});
  wait_settled();
  EXPECT_EQ(wait_for_convergence(backing, copy), "");
}

// The primary host is lost with changes its mirror never got; the copy is
// mounted as the new primary; the old primary returns as its mirror.
TEST_F(FailoverTest, FailoverThenOldPrimaryReturnsAsMirror) {
  make_synced_pair();
  mirrord->signal(SIGKILL);
  mirrord->stop();
  std::ofstream(mnt + "/unsynced") << "never reached the copy\n";
  mirrorfs->signal(SIGKILL);
  mirrorfs->stop();
  ASSERT_TRUE(wait_until([&] { return !is_mounted(mnt); }, std::chrono::seconds(10)));
  // Failover: the copy becomes the primary; the old primary's directory is
  // served as its mirror.
  start_mirrord(backing);
  start_mirrorfs(copy);
  EXPECT_NE(mirrorfs->log().find("was a copy"), std::string::npos) << mirrorfs->log();
  std::ofstream(mnt + "/after-failover") << "written on the new primary\n";
  mirror::SyncStatus s = wait_split_brain();
  EXPECT_NE(s.reason.find("former primary"), std::string::npos) << s.reason;
  EXPECT_TRUE(exists(backing + "/unsynced")) << "the old primary's change was overwritten";
  EXPECT_FALSE(exists(backing + "/after-failover"));
  command({{"command", "resync"}, {"discard_copy", true}});
  wait_settled();
  EXPECT_EQ(wait_for_convergence(copy, backing), "");
  EXPECT_FALSE(exists(backing + "/unsynced"));
}

TEST_F(FailoverTest, CleanlyStoppedOldPrimaryIsResyncedWithoutTheOperator) {
  make_synced_pair();
  ASSERT_EQ(mirrorfs->stop(), 0);  // clean: everything acknowledged
  mirrord->stop();
  start_mirrord(backing);
  start_mirrorfs(copy);
  std::ofstream(mnt + "/after-failover") << "new primary\n";
  wait_settled();
  EXPECT_EQ(wait_for_convergence(copy, backing), "");
  EXPECT_EQ(sync_status().state, "idle");
  EXPECT_NE(mirrorfs->log().find("stopped cleanly with nothing unacknowledged"), std::string::npos)
      << mirrorfs->log();
}

}  // namespace
}  // namespace testing_support
