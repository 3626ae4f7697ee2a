// The daemon's life: refusing to start where it would go through its own
// mount, ending cleanly on SIGTERM and fusermount3 -u, and a killed daemon
// leaving a mount that can still be cleaned up.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/mount_fixture.h"

namespace {

using namespace std::chrono_literals;
using testing_support::is_mounted;
using testing_support::run_command;
using testing_support::wait_until;
using testing_support::write_file;

TEST_F(MountedTest, SigtermUnmountsAndExitsCleanly) {
  write_file(at("kept"), "data");
  daemon->signal(SIGTERM);
  ASSERT_TRUE(wait_until([&] { return daemon->poll_exit() != -1; }));
  EXPECT_EQ(daemon->poll_exit(), 0);
  EXPECT_FALSE(is_mounted(mnt));
  EXPECT_EQ(testing_support::read_file(in_backing("kept")), "data");
}

TEST_F(MountedTest, FusermountUnmountEndsTheDaemon) {
  auto r = run_command({"fusermount3", "-u", mnt});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(wait_until([&] { return daemon->poll_exit() != -1; }));
  EXPECT_EQ(daemon->poll_exit(), 0);
  EXPECT_FALSE(is_mounted(mnt));
}

TEST_F(MountedTest, KilledDaemonLeavesACleanableMount) {
  write_file(at("before"), "x");
  daemon->signal(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return daemon->poll_exit() != -1; }));
  EXPECT_EQ(daemon->poll_exit(), 128 + SIGKILL);
  struct stat st;
  // Either auto_unmount already removed it, or it answers "not connected".
  if (is_mounted(mnt)) {
    errno = 0;
    EXPECT_NE(stat(at("before").c_str(), &st), 0);
  }
  daemon->stop();
  EXPECT_FALSE(is_mounted(mnt));
  EXPECT_EQ(stat(in_backing("before").c_str(), &st), 0);
}

class RefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!testing_support::fuse_available(&why)) GTEST_SKIP() << why;
  }
  testing_support::CommandResult start(const std::string& backing, const std::string& mountpoint) {
    return run_command({MIRRORFS_BIN, backing, mountpoint, "-f"}, 10s);
  }
  TempDir tmp;
};

TEST_F(RefusalTest, BackingInsideMountPointIsRefused) {
  ASSERT_EQ(mkdir(tmp.sub("mnt").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(tmp.sub("mnt/backing").c_str(), 0755), 0);
  auto r = start(tmp.sub("mnt/backing"), tmp.sub("mnt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("inside mount point"), std::string::npos) << r.output;
  EXPECT_FALSE(is_mounted(tmp.sub("mnt")));
}

TEST_F(RefusalTest, MountPointInsideBackingIsRefused) {
  ASSERT_EQ(mkdir(tmp.sub("backing").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(tmp.sub("backing/mnt").c_str(), 0755), 0);
  auto r = start(tmp.sub("backing"), tmp.sub("backing/mnt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("inside backing directory"), std::string::npos) << r.output;
  EXPECT_FALSE(is_mounted(tmp.sub("backing/mnt")));
}

TEST_F(RefusalTest, MountPointInUseIsRefused) {
  for (const char* d : {"b1", "b2", "mnt"}) ASSERT_EQ(mkdir(tmp.sub(d).c_str(), 0755), 0);
  testing_support::MirrorfsProcess first(tmp.sub("b1"), tmp.sub("mnt"), {}, tmp.sub("first.log"));
  auto r = start(tmp.sub("b2"), tmp.sub("mnt"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("in use"), std::string::npos) << r.output;
  EXPECT_EQ(first.stop(), 0);
}

TEST_F(RefusalTest, BadOptionValueIsNamed) {
  ASSERT_EQ(mkdir(tmp.sub("b").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(tmp.sub("m").c_str(), 0755), 0);
  auto r = run_command({MIRRORFS_BIN, tmp.sub("b"), tmp.sub("m"), "-f", "-o", "cache_timeout=soon"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cache_timeout=soon"), std::string::npos) << r.output;
  r = run_command({MIRRORFS_BIN, tmp.sub("b"), tmp.sub("m"), "-f", "-o", "log_level=loud"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("log_level=loud"), std::string::npos) << r.output;
  EXPECT_FALSE(is_mounted(tmp.sub("m")));
}

}  // namespace
