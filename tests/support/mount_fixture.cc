#include "tests/support/mount_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace testing_support {

bool is_mounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mnt;
    fields >> id >> parent >> devno >> root >> mnt;
    if (mnt == path) return true;
  }
  return false;
}

bool fuse_available(std::string* why) {
  if (access("/dev/fuse", R_OK | W_OK) != 0) {
    *why = "/dev/fuse is not usable here: " + std::string(strerror(errno));
    return false;
  }
  if (access(MIRRORFS_BIN, X_OK) != 0) {
    *why = std::string("mirrorfs binary missing: ") + MIRRORFS_BIN;
    return false;
  }
  return true;
}

namespace {
std::vector<std::string> mirrorfs_argv(const std::string& backing, const std::string& mountpoint,
                                       const std::vector<std::string>& options) {
  std::string opts = "auto_unmount";
  for (const auto& o : options) opts += "," + o;
  return {MIRRORFS_BIN, backing, mountpoint, "-f", "-o", opts};
}
}  // namespace

MirrorfsProcess::MirrorfsProcess(std::string backing, std::string mountpoint,
                                 std::vector<std::string> options, std::string log_path)
    : mountpoint_(std::move(mountpoint)),
      child_(mirrorfs_argv(backing, mountpoint_, options), std::move(log_path), SIGTERM) {
  bool up = wait_until([&] { return is_mounted(mountpoint_) || poll_exit() != -1; }, 10s);
  if (!up || !is_mounted(mountpoint_)) {
    stop();
    throw std::runtime_error("mirrorfs did not mount " + mountpoint_ + "; its output:\n" + log());
  }
}

MirrorfsProcess::~MirrorfsProcess() { stop(); }

int MirrorfsProcess::stop() {
  if (stopped_status_) return *stopped_status_;
  if (poll_exit() == -1 && is_mounted(mountpoint_)) {
    auto r = run_command({"fusermount3", "-u", mountpoint_}, 10s);
    if (r.exit_code != 0) run_command({"fusermount3", "-uz", mountpoint_}, 10s);
  }
  int status = child_.wait(10s);
  // A daemon that died leaves a dead mount unless auto_unmount removed it.
  if (is_mounted(mountpoint_)) run_command({"fusermount3", "-uz", mountpoint_}, 10s);
  if (status != -1) stopped_status_ = status;
  return status;
}

void MountedTest::SetUp() {
  std::string why;
  if (!fuse_available(&why)) GTEST_SKIP() << why;
  tmp = std::make_unique<TempDir>();
  backing = tmp->sub("backing");
  mnt = tmp->sub("mnt");
  native = tmp->sub("native");
  for (const auto& d : {backing, mnt, native}) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
  daemon = std::make_unique<MirrorfsProcess>(backing, mnt, mount_options(), tmp->sub("mirrorfs.log"));
}

void MountedTest::TearDown() {
  if (daemon) {
    daemon->stop();
    EXPECT_FALSE(is_mounted(mnt)) << "mount left behind at " << mnt;
    if (HasFailure()) std::cerr << "mirrorfs output:\n" << daemon->log();
  }
  daemon.reset();
  tmp.reset();
}

}  // namespace testing_support
