// Names through the mount: create, mkdir, mknod, symlink, link, unlink, rmdir
// and rename behave as on a plain directory, errors included.
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "tests/fs/twin.h"

namespace {

using testing_support::read_file;
using testing_support::write_file;
using Base = const std::string&;

long create_file(const std::string& path, const std::string& contents) {
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0640);
  if (fd < 0) return -1;
  long n = write(fd, contents.data(), contents.size());
  close(fd);
  return n;
}

TEST_F(TwinTest, DirectoriesBehaveAsNative) {
  expect_same("mkdir", [](Base b) { return mkdir((b + "/d").c_str(), 0750); });
  expect_same("mkdir existing", [](Base b) { return mkdir((b + "/d").c_str(), 0750); });
  expect_same("mkdir nested", [](Base b) { return mkdir((b + "/d/e").c_str(), 0700); });
  expect_same("mkdir in missing", [](Base b) { return mkdir((b + "/x/y").c_str(), 0700); });
  expect_same("rmdir non-empty", [](Base b) { return rmdir((b + "/d").c_str()); });
  expect_same("rmdir missing", [](Base b) { return rmdir((b + "/nope").c_str()); });
  expect_same("unlink a directory", [](Base b) { return unlink((b + "/d").c_str()); });
  expect_same("open a directory for writing",
              [](Base b) { return open((b + "/d").c_str(), O_WRONLY); });
  expect_same("rmdir nested", [](Base b) { return rmdir((b + "/d/e").c_str()); });
  expect_same("rmdir a file", [](Base b) {
    create_file(b + "/f", "x");
    return rmdir((b + "/f").c_str());
  });
  expect_same("mkdir over a file", [](Base b) { return mkdir((b + "/f").c_str(), 0755); });
  expect_backing_equals_native();
}

TEST_F(TwinTest, FilesFifosAndSymlinksBehaveAsNative) {
  expect_same("create", [](Base b) { return create_file(b + "/a", "alpha"); });
  expect_same("create exclusive existing", [](Base b) { return create_file(b + "/a", "x"); });
  expect_same("open missing", [](Base b) { return open((b + "/missing").c_str(), O_RDONLY); });
  expect_same("mkfifo", [](Base b) { return mkfifo((b + "/fifo").c_str(), 0620); });
  expect_same("mknod existing", [](Base b) { return mknod((b + "/a").c_str(), S_IFIFO | 0600, 0); });
  expect_same("symlink", [](Base b) { return symlink("a", (b + "/ln").c_str()); });
  expect_same("dangling symlink", [](Base b) { return symlink("../nowhere", (b + "/dl").c_str()); });
  expect_same("readlink", [](Base b) {
    char buf[PATH_MAX];
    long n = readlink((b + "/dl").c_str(), buf, sizeof buf);
    return n == 10 && std::string(buf, 10) == "../nowhere" ? n : -2;
  });
  expect_same("unlink missing", [](Base b) { return unlink((b + "/missing").c_str()); });
  expect_same("unlink symlink", [](Base b) { return unlink((b + "/ln").c_str()); });
  expect_same("umask applies", [](Base b) {
    mode_t old = umask(027);
    long r = mkdir((b + "/masked").c_str(), 0777);
    umask(old);
    return r;
  });
  struct stat st;
  ASSERT_EQ(stat(at("masked").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ASSERT_EQ(lstat(at("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  expect_backing_equals_native();
}

TEST_F(TwinTest, HardLinksShareOneInode) {
  expect_same("create", [](Base b) { return create_file(b + "/a", "shared"); });
  expect_same("link", [](Base b) { return link((b + "/a").c_str(), (b + "/b").c_str()); });
  expect_same("link over existing", [](Base b) { return link((b + "/a").c_str(), (b + "/b").c_str()); });
  expect_same("link a directory", [](Base b) {
    mkdir((b + "/dir").c_str(), 0755);
    return link((b + "/dir").c_str(), (b + "/dir2").c_str());
  });
  struct stat a, b;
  ASSERT_EQ(stat(at("a").c_str(), &a), 0);
  ASSERT_EQ(stat(at("b").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  // A write through one name is seen through the other, also after the first
  // name is gone.
  write_file(at("b"), "changed");
  EXPECT_EQ(read_file(at("a")), "changed");
  ASSERT_EQ(unlink(at("a").c_str()), 0);
  write_file(at("b"), "again");
  EXPECT_EQ(read_file(in_backing("b")), "again");
  ASSERT_EQ(stat(at("b").c_str(), &b), 0);
  EXPECT_EQ(b.st_nlink, 1u);
}

TEST_F(TwinTest, RenamesBehaveAsNative) {
  expect_same("setup", [](Base b) {
    create_file(b + "/a", "A");
    create_file(b + "/b", "B");
    mkdir((b + "/d1").c_str(), 0755);
    create_file(b + "/d1/inner", "inner");
    mkdir((b + "/d2").c_str(), 0755);
    create_file(b + "/d2/other", "other");
    return mkdir((b + "/empty").c_str(), 0755);
  });
  expect_same("rename plain", [](Base b) { return rename((b + "/a").c_str(), (b + "/a2").c_str()); });
  expect_same("rename over existing", [](Base b) {
    return rename((b + "/a2").c_str(), (b + "/b").c_str());
  });
  expect_same("rename missing", [](Base b) { return rename((b + "/a").c_str(), (b + "/z").c_str()); });
  expect_same("noreplace onto existing", [](Base b) {
    create_file(b + "/c", "C");
    return renameat2(AT_FDCWD, (b + "/c").c_str(), AT_FDCWD, (b + "/b").c_str(), RENAME_NOREPLACE);
  });
  expect_same("noreplace onto free name", [](Base b) {
    return renameat2(AT_FDCWD, (b + "/c").c_str(), AT_FDCWD, (b + "/c2").c_str(), RENAME_NOREPLACE);
  });
  expect_same("exchange", [](Base b) {
    return renameat2(AT_FDCWD, (b + "/b").c_str(), AT_FDCWD, (b + "/c2").c_str(), RENAME_EXCHANGE);
  });
  expect_same("exchange with missing", [](Base b) {
    return renameat2(AT_FDCWD, (b + "/b").c_str(), AT_FDCWD, (b + "/zz").c_str(), RENAME_EXCHANGE);
  });
  expect_same("directory over non-empty directory", [](Base b) {
    return rename((b + "/d1").c_str(), (b + "/d2").c_str());
  });
  expect_same("file over directory", [](Base b) { return rename((b + "/b").c_str(), (b + "/empty").c_str()); });
  expect_same("directory over file", [](Base b) { return rename((b + "/empty").c_str(), (b + "/b").c_str()); });
  expect_same("directory into itself", [](Base b) {
    return rename((b + "/d1").c_str(), (b + "/d1/sub").c_str());
  });
  expect_same("directory with contents", [](Base b) {
    return rename((b + "/d1").c_str(), (b + "/d2/moved").c_str());
  });
  expect_same("directory over empty directory", [](Base b) {
    return rename((b + "/d2").c_str(), (b + "/empty").c_str());
  });
  EXPECT_EQ(read_file(at("empty/moved/inner")), "inner");
  EXPECT_EQ(read_file(at("b")), "C");
  expect_backing_equals_native();
}

TEST_F(MountedTest, RenameAndLinkAcrossFileSystemsFailWithExdev) {
  write_file(at("f"), "x");
  errno = 0;
  EXPECT_EQ(rename(at("f").c_str(), tmp->sub("outside").c_str()), -1);
  EXPECT_EQ(errno, EXDEV);
  errno = 0;
  EXPECT_EQ(link(at("f").c_str(), tmp->sub("outside").c_str()), -1);
  EXPECT_EQ(errno, EXDEV);
}

TEST_F(MountedTest, RenameOverAnOpenFileKeepsTheOpenFileReadable) {
  write_file(at("victim"), "old contents");
  write_file(at("new"), "new contents");
  int fd = open(at("victim").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(rename(at("new").c_str(), at("victim").c_str()), 0);
  char buf[64] = {};
  EXPECT_EQ(pread(fd, buf, sizeof buf, 0), 12);
  EXPECT_EQ(std::string(buf), "old contents");
  close(fd);
  EXPECT_EQ(read_file(at("victim")), "new contents");
  EXPECT_EQ(read_file(in_backing("victim")), "new contents");
}

}  // namespace
