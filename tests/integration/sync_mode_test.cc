// Sync mode: an operation the kernel does not cache returns through the mount
// only once the mirror has stored it, and a failure on the mirror comes back
// to the application as its errno.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "tests/support/mirror_fixture.h"

namespace {

using namespace std::chrono_literals;
using testing_support::read_file;
using testing_support::run_command;
using testing_support::wait_until;
using testing_support::write_file;

class SyncModeTest : public MirroredTest {
 protected:
  // Runs `op` while the mirror is stopped (SIGSTOP): it must still be waiting
  // after a while, and return once the mirror runs again (SIGCONT).
  void expect_waits_for_mirror(const char* what, const std::function<int()>& op) {
    mirrord->signal(SIGSTOP);
    std::atomic<bool> done{false};
    std::atomic<int> result{-1};
    std::thread caller([&] {
      result = op();
      done = true;
    });
    // A negative claim needs an interval: the caller stays blocked for it.
    EXPECT_FALSE(wait_until([&] { return done.load(); }, 400ms))
        << what << " returned before the mirror answered";
    mirrord->signal(SIGCONT);
    EXPECT_TRUE(wait_until([&] { return done.load(); }, 20s))
        << what << " still blocked after the mirror came back";
    caller.join();
    EXPECT_EQ(result.load(), 0) << what << ": " << strerror(errno);
  }
};

TEST_P(SyncModeTest, UncachedOperationsReturnOnlyAfterTheMirrorStoredThem) {
  expect_waits_for_mirror("mkdir", [&] { return mkdir(at("dir").c_str(), 0750); });
  EXPECT_EQ(access(in_copy("dir").c_str(), F_OK), 0);
  expect_waits_for_mirror("create", [&] {
    int fd = open(at("dir/file").c_str(), O_CREAT | O_WRONLY, 0640);
    return fd < 0 ? -1 : close(fd);
  });
  EXPECT_EQ(access(in_copy("dir/file").c_str(), F_OK), 0);
  expect_waits_for_mirror(
      "rename", [&] { return rename(at("dir/file").c_str(), at("dir/renamed").c_str()); });
  EXPECT_EQ(access(in_copy("dir/renamed").c_str(), F_OK), 0);
  expect_waits_for_mirror("chmod", [&] { return chmod(at("dir/renamed").c_str(), 0604); });
  struct stat st;
  ASSERT_EQ(stat(in_copy("dir/renamed").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0604u);
  expect_waits_for_mirror("setxattr",
                          [&] { return setxattr(at("dir/renamed").c_str(), "user.k", "v", 1, 0); });
  expect_waits_for_mirror("unlink", [&] { return unlink(at("dir/renamed").c_str()); });
  EXPECT_NE(access(in_copy("dir/renamed").c_str(), F_OK), 0);
}

TEST_P(SyncModeTest, FsyncReturnsOnlyWhenTheCopyHoldsTheWrites) {
  int fd = open(at("journal").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  mirrord->signal(SIGSTOP);
  // Buffered writes return from the page cache, mirror or not.
  std::string record(64 * 1024, 'j');
  ASSERT_EQ(write(fd, record.data(), record.size()), static_cast<ssize_t>(record.size()));
  mirrord->signal(SIGCONT);
  expect_waits_for_mirror("fsync", [&] {
    std::string more(4096, 'k');
    if (write(fd, more.data(), more.size()) != static_cast<ssize_t>(more.size())) return -1;
    return fsync(fd);
  });
  close(fd);
  EXPECT_EQ(read_file(in_copy("journal")), record + std::string(4096, 'k'));
}

TEST_P(SyncModeTest, MirrorFailureComesBackAsItsErrno) {
  ASSERT_EQ(mkdir(at("locked").c_str(), 0755), 0);
  // The mirror's copy of the directory refuses new entries.
  auto r = run_command({"chattr", "+i", in_copy("locked")});
  if (r.exit_code != 0) GTEST_SKIP() << "chattr +i is not supported here: " << r.output;
  errno = 0;
  int fd = open(at("locked/new").c_str(), O_CREAT | O_WRONLY, 0644);
  int err = errno;
  if (fd >= 0) close(fd);
  errno = 0;
  int mk = mkdir(at("locked/sub").c_str(), 0755);
  int mk_err = errno;
  run_command({"chattr", "-i", in_copy("locked")});
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(err, EPERM) << strerror(err);
  EXPECT_EQ(mk, -1);
  EXPECT_EQ(mk_err, EPERM) << strerror(mk_err);
  EXPECT_NE(mirrord->log().find("failed"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Sync, SyncModeTest, ::testing::Values("sync"),
                         [](const auto& info) { return info.param; });

}  // namespace
