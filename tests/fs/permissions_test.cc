// Users other than root on a mount with allow_other and default_permissions:
// permission errors, ownership of new files, and set-ID bits cleared when a
// non-owner writes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fs/twin.h"

namespace {

using testing_support::run_in_child;
using testing_support::write_file;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

class SharedMountTest : public TwinTest {
 protected:
  std::vector<std::string> mount_options() const override {
    return {"allow_other", "default_permissions"};
  }
  void SetUp() override {
    TwinTest::SetUp();
    if (IsSkipped()) return;
    // Let other users reach the mount, the backing directory and the twin.
    ASSERT_EQ(chmod(tmp->path().c_str(), 0755), 0);
  }
  // Runs `op` as nobody on the twin and through the mount; same exit status.
  void expect_same_as_nobody(const char* what, const std::function<int(const std::string&)>& op) {
    int n = run_in_child([&] { return op(native); }, kNobody, kNogroup);
    int m = run_in_child([&] { return op(mnt); }, kNobody, kNogroup);
    EXPECT_EQ(n, m) << what << ": native gives " << strerror(n) << ", the mount " << strerror(m);
  }
};

int errno_of(long result) { return result < 0 ? errno : 0; }

TEST_F(SharedMountTest, PermissionDeniedForOtherUsersAsNative) {
  expect_same("setup", [](const std::string& b) {
    write_file(b + "/secret", "root only");
    chmod((b + "/secret").c_str(), 0600);
    mkdir((b + "/closed").c_str(), 0755);
    mkdir((b + "/open").c_str(), 0777);
    return chmod((b + "/closed").c_str(), 0755);
  });
  expect_same_as_nobody("read a 0600 file", [](const std::string& b) {
    return errno_of(open((b + "/secret").c_str(), O_RDONLY));
  });
  expect_same_as_nobody("create in a 0755 directory", [](const std::string& b) {
    return errno_of(open((b + "/closed/new").c_str(), O_CREAT | O_WRONLY, 0644));
  });
  expect_same_as_nobody("mkdir in a 0755 directory", [](const std::string& b) {
    return errno_of(mkdir((b + "/closed/sub").c_str(), 0755));
  });
  expect_same_as_nobody("chmod another's file", [](const std::string& b) {
    return errno_of(chmod((b + "/secret").c_str(), 0666));
  });
  expect_same_as_nobody("create in a 0777 directory", [](const std::string& b) {
    int fd = open((b + "/open/mine").c_str(), O_CREAT | O_WRONLY, 0640);
    return fd < 0 ? errno : close(fd);
  });
  EXPECT_EQ(open(at("secret").c_str(), O_RDONLY) >= 0, true) << "root must still read it";
  expect_backing_equals_native();
}

TEST_F(SharedMountTest, NewFilesBelongToTheirCreator) {
  ASSERT_EQ(mkdir(at("pub").c_str(), 0777), 0);
  ASSERT_EQ(chmod(at("pub").c_str(), 0777), 0);
  int status = run_in_child(
      [&] {
        int fd = open(at("pub/file").c_str(), O_CREAT | O_WRONLY, 0644);
        if (fd < 0) return 1;
        close(fd);
        if (mkdir(at("pub/dir").c_str(), 0755) != 0) return 2;
        if (symlink("file", at("pub/link").c_str()) != 0) return 3;
        return mkfifo(at("pub/fifo").c_str(), 0600) == 0 ? 0 : 4;
      },
      kNobody, kNogroup);
  ASSERT_EQ(status, 0);
  for (const char* name : {"pub/file", "pub/dir", "pub/link", "pub/fifo"}) {
    struct stat st;
    ASSERT_EQ(lstat(in_backing(name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_uid, kNobody) << name;
    EXPECT_EQ(st.st_gid, kNogroup) << name;
  }
  // A set-group-ID directory passes its group on, as natively.
  ASSERT_EQ(mkdir(at("team").c_str(), 0777), 0);
  ASSERT_EQ(chown(at("team").c_str(), 0, 4242), 0);
  ASSERT_EQ(chmod(at("team").c_str(), 02777), 0);
  ASSERT_EQ(run_in_child([&] { return mkdir(at("team/sub").c_str(), 0755) == 0 ? 0 : 1; }, kNobody,
                         kNogroup),
            0);
  struct stat st;
  ASSERT_EQ(stat(in_backing("team/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, 4242u);
  EXPECT_TRUE(st.st_mode & S_ISGID);
}

TEST_F(SharedMountTest, WriteByNonOwnerClearsSetIdBits) {
  for (const std::string& base : {native, mnt}) {
    std::string path = base + "/setid";
    write_file(path, "program");
    ASSERT_EQ(chmod(path.c_str(), 06777), 0);
    int status = run_in_child(
        [&] {
          int fd = open(path.c_str(), O_WRONLY);
          if (fd < 0) return 1;
          int ok = write(fd, "patched", 7) == 7;
          return close(fd) == 0 && ok ? 0 : 2;
        },
        kNobody, kNogroup);
    ASSERT_EQ(status, 0) << base;
  }
  struct stat n, m, b;
  ASSERT_EQ(stat(in_native("setid").c_str(), &n), 0);
  ASSERT_EQ(stat(at("setid").c_str(), &m), 0);
  ASSERT_EQ(stat(in_backing("setid").c_str(), &b), 0);
  EXPECT_EQ(n.st_mode & 07777, 0777u) << "native behaviour changed?";
  EXPECT_EQ(m.st_mode & 07777, n.st_mode & 07777);
  EXPECT_EQ(b.st_mode & 07777, n.st_mode & 07777);
}

}  // namespace
