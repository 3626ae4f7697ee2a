// Open files through the mount: reads, writes, attributes, sync, space
// allocation, holes, locks, copy_file_range and shared mappings.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/fs/twin.h"

namespace {

using testing_support::read_file;
using testing_support::write_file;
using Base = const std::string&;

long write_at(const std::string& path, off_t off, const std::string& data, int flags = 0) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | flags, 0644);
  if (fd < 0) return -1;
  long n = flags & O_APPEND ? write(fd, data.data(), data.size())
                            : pwrite(fd, data.data(), data.size(), off);
  int saved = errno;
  close(fd);
  errno = saved;
  return n;
}

TEST_F(TwinTest, WritesTruncatesAndAppendsBehaveAsNative) {
  expect_same("write", [](Base b) { return write_at(b + "/f", 0, std::string(10000, 'a')); });
  expect_same("overwrite middle", [](Base b) { return write_at(b + "/f", 4000, "MIDDLE"); });
  expect_same("write past end", [](Base b) { return write_at(b + "/f", 20000, "tail"); });
  expect_same("append", [](Base b) { return write_at(b + "/f", 0, "appended", O_APPEND); });
  expect_same("truncate down", [](Base b) { return truncate((b + "/f").c_str(), 5000); });
  expect_same("truncate up", [](Base b) { return truncate((b + "/f").c_str(), 70000); });
  expect_same("O_TRUNC", [](Base b) { return write_at(b + "/g", 0, "long contents here"); });
  expect_same("reopen with O_TRUNC", [](Base b) {
    int fd = open((b + "/g").c_str(), O_WRONLY | O_TRUNC);
    long n = write(fd, "short", 5);
    close(fd);
    return n;
  });
  expect_same("read back", [](Base b) {
    std::string s = read_file(b + "/f");
    return static_cast<long>(s.size() * 1000 + (s.substr(4000, 6) == "MIDDLE"));
  });
  EXPECT_EQ(read_file(at("g")), "short");
  expect_backing_equals_native();
}

TEST_F(TwinTest, AttributesBehaveAsNative) {
  expect_same("create", [](Base b) { return write_at(b + "/f", 0, "data"); });
  expect_same("chmod", [](Base b) { return chmod((b + "/f").c_str(), 04751); });
  expect_same("chown", [](Base b) { return chown((b + "/f").c_str(), 1234, 5678); });
  expect_same("chown keeps group", [](Base b) { return chown((b + "/f").c_str(), 42, -1); });
  expect_same("utimens", [](Base b) {
    timespec t[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
    return utimensat(AT_FDCWD, (b + "/f").c_str(), t, 0);
  });
  expect_same("chmod missing", [](Base b) { return chmod((b + "/nope").c_str(), 0600); });
  expect_same("symlink times", [](Base b) {
    symlink("f", (b + "/ln").c_str());
    timespec t[2] = {{1100000000, 5}, {1100000000, 7}};
    return utimensat(AT_FDCWD, (b + "/ln").c_str(), t, AT_SYMLINK_NOFOLLOW);
  });
  struct stat m, n;
  ASSERT_EQ(stat(at("f").c_str(), &m), 0);
  ASSERT_EQ(stat(in_native("f").c_str(), &n), 0);
  EXPECT_EQ(m.st_mode, n.st_mode);
  EXPECT_EQ(m.st_uid, 42u);
  EXPECT_EQ(m.st_gid, 5678u);
  EXPECT_EQ(m.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(m.st_mtim.tv_nsec, 987654321);
  ASSERT_EQ(lstat(in_backing("ln").c_str(), &m), 0);
  EXPECT_EQ(m.st_mtim.tv_nsec, 7);
  // With times compared, only the roots differ: the file's and the link's
  // times were set explicitly on both sides.
  auto diffs = mirror::compare_trees(native, backing, {});
  for (const auto& d : diffs) EXPECT_EQ(d.path, "") << d.path << ": " << d.what;
}

TEST_F(MountedTest, FsyncFdatasyncAndFsyncdirSucceed) {
  int fd = open(at("f").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "durable", 7), 7);
  EXPECT_EQ(fsync(fd), 0);
  EXPECT_EQ(fdatasync(fd), 0);
  close(fd);
  int dfd = open(mnt.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  EXPECT_EQ(fsync(dfd), 0);
  close(dfd);
  EXPECT_EQ(read_file(in_backing("f")), "durable");
}

TEST_F(MountedTest, SparseFileBeyondFourGiBKeepsItsHoles) {
  const off_t far = 5LL << 30;
  int fd = open(at("sparse").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "start", 5, 0), 5);
  ASSERT_EQ(pwrite(fd, "far away", 8, far), 8);
  ASSERT_EQ(fsync(fd), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, far + 8);
  char buf[8];
  ASSERT_EQ(pread(fd, buf, 8, far), 8);
  EXPECT_EQ(std::string(buf, 8), "far away");
  ASSERT_EQ(pread(fd, buf, 4, 1LL << 32), 4);
  EXPECT_EQ(std::string(buf, 4), std::string(4, '\0'));
  off_t hole = lseek(fd, 0, SEEK_HOLE);
  EXPECT_GT(hole, 0);
  EXPECT_LT(hole, far);
  off_t data = lseek(fd, hole, SEEK_DATA);
  EXPECT_GT(data, hole);
  EXPECT_LE(data, far);
  errno = 0;
  EXPECT_EQ(lseek(fd, far + 8, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  close(fd);
  ASSERT_EQ(stat(in_backing("sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, far + 8);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "the backing file is not sparse";
}

TEST_F(MountedTest, FallocateReservesAndPunchesHoles) {
  int fd = open(at("f").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fallocate(fd, 0, 0, 1 << 20), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
  std::string ones(1 << 20, '\1');
  ASSERT_EQ(pwrite(fd, ones.data(), ones.size(), 0), static_cast<ssize_t>(ones.size()));
  ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192), 0);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  std::string back = read_file(in_backing("f"));
  ASSERT_EQ(back.size(), 1u << 20);
  EXPECT_EQ(back[4095], '\1');
  EXPECT_EQ(back.substr(4096, 8192), std::string(8192, '\0'));
  EXPECT_EQ(back[4096 + 8192], '\1');
}

TEST_F(MountedTest, CopyFileRangeCopiesBytes) {
  write_file(at("src"), std::string(300000, 'x') + "end");
  int in = open(at("src").c_str(), O_RDONLY);
  int out = open(at("dst").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  off_t off_in = 100, off_out = 0;
  ssize_t total = 0;
  while (total < 300003 - 100) {
    ssize_t n = copy_file_range(in, &off_in, out, &off_out, 300003 - 100 - total, 0);
    ASSERT_GT(n, 0) << strerror(errno);
    total += n;
  }
  close(in);
  close(out);
  std::string dst = read_file(in_backing("dst"));
  EXPECT_EQ(dst, std::string(299900, 'x') + "end");
}

TEST_F(MountedTest, FlockExcludesAcrossOpenFiles) {
  write_file(at("lock"), "");
  int a = open(at("lock").c_str(), O_RDWR);
  int b = open(at("lock").c_str(), O_RDWR);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(flock(a, LOCK_EX | LOCK_NB), 0);
  errno = 0;
  EXPECT_EQ(flock(b, LOCK_EX | LOCK_NB), -1);
  EXPECT_EQ(errno, EWOULDBLOCK);
  EXPECT_EQ(flock(a, LOCK_UN), 0);
  EXPECT_EQ(flock(b, LOCK_EX | LOCK_NB), 0);
  close(a);
  close(b);
}

TEST_F(MountedTest, StatfsReportsTheBackingFileSystem) {
  struct statvfs m, b;
  ASSERT_EQ(statvfs(mnt.c_str(), &m), 0);
  ASSERT_EQ(statvfs(backing.c_str(), &b), 0);
  EXPECT_EQ(m.f_bsize, b.f_bsize);
  EXPECT_EQ(m.f_blocks, b.f_blocks);
  EXPECT_EQ(m.f_files, b.f_files);
}

TEST_F(MountedTest, SharedWritableMappingReachesTheBackingFile) {
  const size_t size = 3 * 4096;
  int fd = open(at("mapped").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, size), 0);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  auto* bytes = static_cast<char*>(p);
  std::memset(bytes, 'm', size);
  std::memcpy(bytes + 4096, "second page", 11);
  ASSERT_EQ(msync(p, size, MS_SYNC), 0);
  ASSERT_EQ(munmap(p, size), 0);
  close(fd);
  std::string back = read_file(in_backing("mapped"));
  ASSERT_EQ(back.size(), size);
  EXPECT_EQ(back.substr(4096, 11), "second page");
  EXPECT_EQ(back[0], 'm');
  EXPECT_EQ(back[size - 1], 'm');
}

TEST_F(MountedTest, UnlinkedOpenFileStaysReadableAndWritable) {
  int fd = open(at("ghost").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "before", 6), 6);
  ASSERT_EQ(unlink(at("ghost").c_str()), 0);
  EXPECT_NE(access(in_backing("ghost").c_str(), F_OK), 0);
  ASSERT_EQ(pwrite(fd, " after", 6, 6), 6);
  ASSERT_EQ(fsync(fd), 0);
  char buf[16] = {};
  ASSERT_EQ(pread(fd, buf, sizeof buf, 0), 12);
  EXPECT_EQ(std::string(buf), "before after");
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_size, 12);
  close(fd);
}

}  // namespace
