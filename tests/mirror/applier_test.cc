// The applier on real directories: each operation applied to a copy gives the
// state the same change gives natively in a twin directory, repeating a request
// converges, and mtime_after makes the copy's mtimes the primary's.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/mirror/applier_fixture.h"

namespace mirror::applier_testing {
namespace {

TEST(ApplierConstruction, MissingDirectoryThrowsNamingIt) {
  try {
    Applier applier("/nonexistent/volume");
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/volume"), std::string::npos) << e.what();
  }
}

TEST_F(ApplierTest, DirectoryIsTheOneGiven) {
  EXPECT_EQ(applier_->directory(), volume_);
}

TEST_F(ApplierTest, CreateWriteTruncateMatchNative) {
  const std::string head = "hello, mirror", tail(5000, 'x');
  ASSERT_EQ(apply(new_entry(Op::create, "f", S_IFREG | 04750, 1234, 5678)), 0);
  ASSERT_EQ(apply(write_request("f", 0, head)), 0);
  ASSERT_EQ(apply(write_request("f", 100000, tail)), 0);
  ASSERT_EQ(apply(truncate_request("f", 100100)), 0);

  int fd = ::open(twin("f").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fchown(fd, 1234, 5678), 0);
  ASSERT_EQ(::fchmod(fd, 04750), 0);
  ASSERT_EQ(::pwrite(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), 100000), static_cast<ssize_t>(tail.size()));
  ASSERT_EQ(::ftruncate(fd, 100100), 0);
  ::close(fd);
  expect_same_as_twin();
}

TEST_F(ApplierTest, NamespaceOperationsMatchNative) {
  ASSERT_EQ(apply(new_entry(Op::mkdir, "d", S_IFDIR | 02750, 7, 8)), 0);
  ASSERT_EQ(apply(new_entry(Op::mknod, "d/fifo", S_IFIFO | 0640, 9, 10)), 0);
  MirrorRequest dev = new_entry(Op::mknod, "d/null", S_IFCHR | 0666);
  dev.attr.valid |= kAttrRdev;
  dev.attr.rdev = makedev(1, 3);
  ASSERT_EQ(apply(dev), 0);
  MirrorRequest link_text = new_entry(Op::symlink, "d/s", S_IFLNK | 0777, 11, 12);
  link_text.target = "../../anywhere/at/all";
  ASSERT_EQ(apply(link_text), 0);
  ASSERT_EQ(apply(new_entry(Op::create, "f", S_IFREG | 0644)), 0);
  ASSERT_EQ(apply(request(Op::link, "f", "d/f2")), 0);
  ASSERT_EQ(apply(request(Op::link, "d/s", "s2")), 0);  // links the symlink itself
  ASSERT_EQ(apply(request(Op::rename, "f", "g")), 0);

  ASSERT_EQ(::mkdir(twin("d").c_str(), 0), 0);
  ASSERT_EQ(::chown(twin("d").c_str(), 7, 8), 0);
  ASSERT_EQ(::chmod(twin("d").c_str(), 02750), 0);
  ASSERT_EQ(::mknod(twin("d/fifo").c_str(), S_IFIFO, 0), 0);
  ASSERT_EQ(::chown(twin("d/fifo").c_str(), 9, 10), 0);
  ASSERT_EQ(::chmod(twin("d/fifo").c_str(), 0640), 0);
  ASSERT_EQ(::mknod(twin("d/null").c_str(), S_IFCHR, makedev(1, 3)), 0);
  ASSERT_EQ(::chown(twin("d/null").c_str(), 0, 0), 0);  // not d's set-group-ID group
  ASSERT_EQ(::chmod(twin("d/null").c_str(), 0666), 0);
  ASSERT_EQ(::symlink("../../anywhere/at/all", twin("d/s").c_str()), 0);
  ASSERT_EQ(::lchown(twin("d/s").c_str(), 11, 12), 0);
  write_file(twin("g"), "");
  ASSERT_EQ(::chmod(twin("g").c_str(), 0644), 0);
  ASSERT_EQ(::link(twin("g").c_str(), twin("d/f2").c_str()), 0);
  ASSERT_EQ(::linkat(AT_FDCWD, twin("d/s").c_str(), AT_FDCWD, twin("s2").c_str(), 0), 0);
  expect_same_as_twin();

  ASSERT_EQ(apply(request(Op::unlink, "d/f2")), 0);
  ASSERT_EQ(apply(request(Op::unlink, "d/fifo")), 0);
  ASSERT_EQ(apply(request(Op::unlink, "d/null")), 0);
  ASSERT_EQ(apply(request(Op::unlink, "d/s")), 0);
  ASSERT_EQ(apply(request(Op::rmdir, "d")), 0);
  EXPECT_EQ(names_in(volume_), (std::set<std::string>{"g", "s2"}));
}

TEST_F(ApplierTest, RepeatedRequestsConverge) {
  MirrorRequest dir = new_entry(Op::mkdir, "d", S_IFDIR | 0755);
  MirrorRequest file = new_entry(Op::create, "d/f", S_IFREG | 0600, 5, 6);
  MirrorRequest fifo = new_entry(Op::mknod, "d/p", S_IFIFO | 0600);
  MirrorRequest sym = new_entry(Op::symlink, "d/s", S_IFLNK | 0777);
  sym.target = "f";
  MirrorRequest hard = request(Op::link, "d/f", "d/h");
  for (int round = 0; round < 2; ++round) {
    for (const auto* r : {&dir, &file, &fifo, &sym, &hard}) {
      EXPECT_EQ(apply(*r), 0) << to_string(r->op) << " round " << round;
    }
  }
  EXPECT_EQ(lstat_of(vol("d/f")).st_nlink, 2u);
  EXPECT_EQ(lstat_of(vol("d/f")).st_uid, 5u);
  for (int round = 0; round < 2; ++round) {
    for (const char* name : {"d/f", "d/h", "d/p", "d/s"}) {
      EXPECT_EQ(apply(request(Op::unlink, name)), 0) << name << " round " << round;
    }
    EXPECT_EQ(apply(request(Op::rmdir, "d")), 0) << "round " << round;
    EXPECT_EQ(apply(request(Op::unlink, "d/gone/too")), 0);
  }
  EXPECT_TRUE(names_in(volume_).empty());
}

TEST_F(ApplierTest, ExistingEntryOfAnotherKindIsAnError) {
  write_file(vol("file"), "data");
  ASSERT_EQ(::mkdir(vol("dir").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("one", vol("sym").c_str()), 0);
  EXPECT_EQ(apply(new_entry(Op::mkdir, "file", S_IFDIR | 0755)), EEXIST);
  EXPECT_EQ(apply(new_entry(Op::create, "dir", S_IFREG | 0644)), EEXIST);
  EXPECT_EQ(apply(new_entry(Op::mknod, "file", S_IFIFO | 0644)), EEXIST);
  MirrorRequest other = new_entry(Op::symlink, "sym", S_IFLNK | 0777);
  other.target = "two";
  EXPECT_EQ(apply(other), EEXIST);
  write_file(vol("another"), "");
  EXPECT_EQ(apply(request(Op::link, "file", "another")), EEXIST);
  EXPECT_EQ(apply(request(Op::rmdir, "file")), ENOTDIR);
  EXPECT_EQ(read_file(vol("file")), "data");
}

TEST_F(ApplierTest, CreateKeepsAnExistingFileUnlessTruncating) {
  write_file(vol("f"), "earlier attempt");
  MirrorRequest create = new_entry(Op::create, "f", S_IFREG | 0640);
  create.flags = O_WRONLY | O_CREAT;
  ASSERT_EQ(apply(create), 0);
  EXPECT_EQ(read_file(vol("f")), "earlier attempt");
  EXPECT_EQ(lstat_of(vol("f")).st_mode & 07777, 0640u);
  create.flags |= O_TRUNC;
  ASSERT_EQ(apply(create), 0);
  EXPECT_EQ(read_file(vol("f")), "");
}

TEST_F(ApplierTest, RenameHonoursNoReplaceAndExchange) {
  write_file(vol("a"), "A");
  write_file(vol("b"), "B");
  MirrorRequest rename = request(Op::rename, "a", "b");
  rename.flags = RENAME_NOREPLACE;
  EXPECT_EQ(apply(rename), EEXIST);
  EXPECT_EQ(read_file(vol("a")), "A");
  EXPECT_EQ(read_file(vol("b")), "B");

  rename.flags = RENAME_EXCHANGE;
  ASSERT_EQ(apply(rename), 0);
  EXPECT_EQ(read_file(vol("a")), "B");
  EXPECT_EQ(read_file(vol("b")), "A");

  rename.flags = RENAME_WHITEOUT;
  EXPECT_EQ(apply(rename), EINVAL);
  rename.flags = 0;
  ASSERT_EQ(::mkdir(vol("d").c_str(), 0755), 0);
  rename.target = "d/c";
  ASSERT_EQ(apply(rename), 0);
  EXPECT_EQ(read_file(vol("d/c")), "B");
  EXPECT_FALSE(exists(vol("a")));
}

TEST_F(ApplierTest, SetattrAppliesEachValidField) {
  write_file(vol("f"), "0123456789");
  ASSERT_EQ(::chmod(vol("f").c_str(), 06755), 0);
  MirrorRequest r = request(Op::setattr, "f");
  r.attr.valid = kAttrMode | kAttrUid | kAttrGid | kAttrSize | kAttrAtime | kAttrMtime;
  r.attr.mode = S_IFREG | 06700;  // the final mode: applied after the chown that clears set-ID
  r.attr.uid = 42;
  r.attr.gid = 43;
  r.attr.size = 4;
  r.attr.atime = {111, 222};
  r.attr.mtime = {333, 444};
  r.mtime_after = {999, 0};  // the explicit mtime wins
  ASSERT_EQ(apply(r), 0);
  struct stat st = lstat_of(vol("f"));
  EXPECT_EQ(st.st_mode & 07777, 06700u);
  EXPECT_EQ(st.st_uid, 42u);
  EXPECT_EQ(st.st_gid, 43u);
  EXPECT_EQ(st.st_size, 4);
  EXPECT_EQ(st.st_atim.tv_sec, 111);
  EXPECT_EQ(st.st_atim.tv_nsec, 222);
  EXPECT_EQ(st.st_mtim.tv_sec, 333);
  EXPECT_EQ(st.st_mtim.tv_nsec, 444);

  // Fields not valid are left alone; the root takes setattr too.
  MirrorRequest root = request(Op::setattr, "");
  root.attr.valid = kAttrMode | kAttrAtime;
  root.attr.mode = S_IFDIR | 0711;
  root.attr.atime = {5, 6};
  root.attr.mtime = {77, 0};
  ASSERT_EQ(apply(root), 0);
  st = lstat_of(volume_);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  EXPECT_EQ(st.st_atim.tv_sec, 5);
  EXPECT_NE(st.st_mtim.tv_sec, 77);
}

TEST_F(ApplierTest, MtimeAfterIsApplied) {
  const std::string data = "x";
  const timespec when{1600000000, 123456789};
  auto with_mtime = [&](MirrorRequest r) {
    r.mtime_after = when;
    return r;
  };
  auto expect_mtime = [&](const std::string& rel) {
    struct stat st = lstat_of(vol(rel));
    EXPECT_EQ(st.st_mtim.tv_sec, when.tv_sec) << rel;
    EXPECT_EQ(st.st_mtim.tv_nsec, when.tv_nsec) << rel;
  };
  ASSERT_EQ(apply(with_mtime(new_entry(Op::create, "f", S_IFREG | 0644))), 0);
  expect_mtime("f");
  ASSERT_EQ(apply(with_mtime(new_entry(Op::mkdir, "d", S_IFDIR | 0755))), 0);
  expect_mtime("d");
  ASSERT_EQ(apply(with_mtime(new_entry(Op::mknod, "p", S_IFIFO | 0644))), 0);
  expect_mtime("p");
  MirrorRequest sym = with_mtime(new_entry(Op::symlink, "s", S_IFLNK | 0777));
  sym.target = "f";
  ASSERT_EQ(apply(sym), 0);
  expect_mtime("s");

  // Each later change first moves the copy's mtime, then gets the primary's.
  const std::vector<MirrorRequest> changes = {
      write_request("f", 0, data),
      truncate_request("f", 100),
      [] {
        MirrorRequest r = request(Op::fallocate, "f");
        r.length = 8192;
        return r;
      }(),
      [] {
        MirrorRequest r = request(Op::setattr, "f");
        r.attr.valid = kAttrSize;
        r.attr.size = 10;
        return r;
      }(),
  };
  for (const MirrorRequest& change : changes) {
    struct timespec old[2] = {{0, UTIME_OMIT}, {1, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, vol("f").c_str(), old, 0), 0);
    ASSERT_EQ(apply(with_mtime(change)), 0) << to_string(change.op);
    expect_mtime("f");
  }

  // Without mtime_after, the copy keeps what the change gave it.
  struct timespec old[2] = {{0, UTIME_OMIT}, {1, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, vol("f").c_str(), old, 0), 0);
  ASSERT_EQ(apply(write_request("f", 0, data)), 0);
  EXPECT_NE(lstat_of(vol("f")).st_mtim.tv_sec, 1);
}

TEST_F(ApplierTest, ExtendedAttributes) {
  write_file(vol("f"), "");
  const std::string value = "some value";
  MirrorRequest set = xattr_request(Op::setxattr, "f", "user.test", value);
  set.flags = XATTR_CREATE;
  ASSERT_EQ(apply(set), 0);
  ASSERT_EQ(apply(set), 0);  // a replay after the value was stored
  char buf[64];
  ssize_t n = ::lgetxattr(vol("f").c_str(), "user.test", buf, sizeof buf);
  ASSERT_EQ(std::string(buf, n > 0 ? n : 0), value);

  MirrorRequest on_root = xattr_request(Op::setxattr, "", "user.root", value);
  ASSERT_EQ(apply(on_root), 0);
  EXPECT_GT(::lgetxattr(volume_.c_str(), "user.root", buf, sizeof buf), 0);

  MirrorRequest remove = xattr_request(Op::removexattr, "f", "user.test", "");
  ASSERT_EQ(apply(remove), 0);
  ASSERT_EQ(apply(remove), 0);
  EXPECT_LT(::lgetxattr(vol("f").c_str(), "user.test", buf, sizeof buf), 0);

  set.flags = 0x80;
  EXPECT_EQ(apply(set), EINVAL);
  EXPECT_EQ(apply(xattr_request(Op::setxattr, "f", std::string("user.a\0b", 8), value)), EINVAL);
  EXPECT_EQ(apply(xattr_request(Op::setxattr, "f", "", value)), EINVAL);
}

TEST_F(ApplierTest, FallocateMatchesNative) {
  for (const auto& dir : {volume_, twin_}) write_file(dir + "/f", std::string(100000, 'a'));
  const std::vector<std::pair<int, std::pair<off_t, off_t>>> calls = {
      {0, {0, 200000}},
      {FALLOC_FL_KEEP_SIZE, {0, 400000}},
      {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, {4096, 8192}},
  };
  int fd = ::open(twin("f").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  for (const auto& [mode, range] : calls) {
    MirrorRequest r = request(Op::fallocate, "f");
    r.flags = static_cast<uint32_t>(mode);
    r.offset = static_cast<uint64_t>(range.first);
    r.length = static_cast<uint64_t>(range.second);
    ASSERT_EQ(apply(r), 0) << mode;
    ASSERT_EQ(::fallocate(fd, mode, range.first, range.second), 0);
  }
  ::close(fd);
  expect_same_as_twin();
  EXPECT_EQ(lstat_of(vol("f")).st_blocks, lstat_of(twin("f")).st_blocks);
}

TEST_F(ApplierTest, FsyncFilesAndDirectories) {
  write_file(vol("f"), "x");
  ASSERT_EQ(::mkdir(vol("d").c_str(), 0755), 0);
  ASSERT_EQ(::mkfifo(vol("p").c_str(), 0644), 0);
  for (const char* path : {"f", "d", ""}) {
    for (uint32_t flags : {0u, 1u}) {
      MirrorRequest r = request(Op::fsync, path);
      r.flags = flags;
      EXPECT_EQ(apply(r), 0) << '"' << path << "\" " << flags;
    }
  }
  MirrorRequest r = request(Op::fsync, "f");
  r.flags = 2;
  EXPECT_EQ(apply(r), EINVAL);
  EXPECT_EQ(apply(request(Op::fsync, "p")), EINVAL);
  EXPECT_EQ(apply(request(Op::fsync, "missing")), ENOENT);
}

TEST_F(ApplierTest, ConcurrentRequestsOnDifferentFiles) {
  constexpr int kThreads = 8, kWrites = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string name = "f" + std::to_string(t), chunk(100, static_cast<char>('a' + t));
      failures[t] += apply(new_entry(Op::create, name, S_IFREG | 0644)) != 0;
      for (int i = 0; i < kWrites; ++i) {
        failures[t] += apply(write_request(name, uint64_t{100} * i, chunk)) != 0;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << t;
    EXPECT_EQ(read_file(vol("f" + std::to_string(t))),
              std::string(100 * kWrites, static_cast<char>('a' + t)));
  }
}

}  // namespace
}  // namespace mirror::applier_testing
