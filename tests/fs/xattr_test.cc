// Extended attributes through the mount, and the kernel's security.capability
// query before every write answered from the inode table.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <regex>

#include "tests/fs/twin.h"

namespace {

using namespace std::chrono_literals;
using testing_support::run_command;
using testing_support::write_file;
using Base = const std::string&;

TEST_F(TwinTest, XattrsBehaveAsNative) {
  expect_same("create", [](Base b) {
    write_file(b + "/f", "x");
    return mkdir((b + "/d").c_str(), 0755);
  });
  expect_same("set", [](Base b) { return setxattr((b + "/f").c_str(), "user.one", "1", 1, 0); });
  expect_same("set on dir", [](Base b) { return setxattr((b + "/d").c_str(), "user.dir", "dv", 2, 0); });
  expect_same("set binary", [](Base b) {
    const char v[] = {'\0', '\1', '\377'};
    return setxattr((b + "/f").c_str(), "user.bin", v, 3, 0);
  });
  expect_same("create existing", [](Base b) {
    return setxattr((b + "/f").c_str(), "user.one", "2", 1, XATTR_CREATE);
  });
  expect_same("replace missing", [](Base b) {
    return setxattr((b + "/f").c_str(), "user.none", "2", 1, XATTR_REPLACE);
  });
  expect_same("get", [](Base b) {
    char buf[16];
    long n = getxattr((b + "/f").c_str(), "user.one", buf, sizeof buf);
    return n == 1 && buf[0] == '1' ? n : -2;
  });
  expect_same("get size", [](Base b) { return getxattr((b + "/f").c_str(), "user.bin", nullptr, 0); });
  expect_same("get too small", [](Base b) {
    char buf[1];
    return getxattr((b + "/f").c_str(), "user.bin", buf, 1);
  });
  expect_same("get missing", [](Base b) {
    char buf[16];
    return getxattr((b + "/f").c_str(), "user.missing", buf, sizeof buf);
  });
  expect_same("list", [](Base b) {
    char buf[256];
    long n = listxattr((b + "/f").c_str(), buf, sizeof buf);
    return n == static_cast<long>(sizeof("user.one") + sizeof("user.bin")) ? n : -2;
  });
  expect_same("remove", [](Base b) { return removexattr((b + "/f").c_str(), "user.one"); });
  expect_same("remove missing", [](Base b) { return removexattr((b + "/f").c_str(), "user.one"); });
  expect_backing_equals_native();
}

// A version 2 file capability granting CAP_NET_BIND_SERVICE.
std::string capability_blob() {
  vfs_cap_data cap{};
  cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  cap.data[0].permitted = 1u << CAP_NET_BIND_SERVICE;
  return std::string(reinterpret_cast<const char*>(&cap), XATTR_CAPS_SZ_2);
}

TEST_F(MountedTest, CapabilityQueryBeforeWritesCostsNoSyscall) {
  write_file(at("f"), "start");
  // Trace the daemon's xattr syscalls while the kernel writes 200 times.
  std::string trace = tmp->sub("strace.out");
  pid_t tracer = fork();
  ASSERT_GE(tracer, 0);
  if (tracer == 0) {
    execlp("strace", "strace", "-f", "-qq", "-e", "trace=getxattr,lgetxattr,fgetxattr", "-o",
           trace.c_str(), "-p", std::to_string(daemon->pid()).c_str(), nullptr);
    _exit(127);
  }
  // strace announces nothing when attached; wait until it has the daemon.
  ASSERT_TRUE(testing_support::wait_until([&] {
    std::string status = testing_support::read_file("/proc/" + std::to_string(daemon->pid()) + "/status");
    return status.find("TracerPid:\t0\n") == std::string::npos;
  }));
  int fd = open(at("f").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(pwrite(fd, "x", 1, i), 1);
  close(fd);
  kill(tracer, SIGINT);
  testing_support::wait_for_exit(tracer, 10s);
  std::string calls = testing_support::read_file(trace);
  size_t count = 0;
  for (size_t pos = 0; (pos = calls.find("security.capability", pos)) != std::string::npos; ++pos) ++count;
  EXPECT_LE(count, 1u) << "the daemon asked the backing file system each time:\n" << calls.substr(0, 2000);
}

TEST_F(MountedTest, CapabilitiesAreKeptAndClearedByAWrite) {
  write_file(at("tool"), "binary");
  std::string blob = capability_blob();
  char buf[64];
  errno = 0;
  EXPECT_EQ(getxattr(at("tool").c_str(), "security.capability", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
  ASSERT_EQ(setxattr(at("tool").c_str(), "security.capability", blob.data(), blob.size(), 0), 0)
      << strerror(errno);
  EXPECT_EQ(getxattr(at("tool").c_str(), "security.capability", buf, sizeof buf),
            static_cast<ssize_t>(blob.size()));
  EXPECT_EQ(getxattr(in_backing("tool").c_str(), "security.capability", buf, sizeof buf),
            static_cast<ssize_t>(blob.size()));
  // Writing a file drops its capabilities, through the mount as natively.
  int fd = open(at("tool").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "patched", 7), 7);
  close(fd);
  errno = 0;
  EXPECT_EQ(getxattr(at("tool").c_str(), "security.capability", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
  errno = 0;
  EXPECT_EQ(getxattr(in_backing("tool").c_str(), "security.capability", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
}

}  // namespace
