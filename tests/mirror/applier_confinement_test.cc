// Hostile requests against the applier: escaping paths, symlinks and mount
// points planted in the copy, special files. Each is refused, and nothing
// outside the volume changes.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/mirror/applier_fixture.h"

namespace mirror::applier_testing {
namespace {

using namespace std::string_literals;

TEST_F(ApplierTest, SetattrOnSymlinkNeverReachesTheTarget) {
  plant_link("link", outside_ + "/secret");
  MirrorRequest r = request(Op::setattr, "link");
  r.attr.valid = kAttrMode;
  r.attr.mode = 0777;
  EXPECT_EQ(apply(r), EOPNOTSUPP);
  r.attr.valid = kAttrUid | kAttrGid | kAttrMtime;
  r.attr.uid = 77;
  r.attr.gid = 78;
  r.attr.mtime = {1234, 5};
  EXPECT_EQ(apply(r), 0);
  struct stat st = lstat_of(vol("link"));
  EXPECT_EQ(st.st_uid, 77u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234);
  r.attr.valid = kAttrSize;
  EXPECT_EQ(apply(r), EINVAL);
  expect_outside_untouched();
}

TEST_F(ApplierTest, SpecialFilesAreNeverOpenedForWriting) {
  ASSERT_EQ(::mkfifo(vol("p").c_str(), 0644), 0);  // opening it would block
  ASSERT_EQ(::mknod(vol("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::mkdir(vol("d").c_str(), 0755), 0);
  const std::string data = "x";
  EXPECT_EQ(apply(write_request("p", 0, data)), EINVAL);
  EXPECT_EQ(apply(write_request("null", 0, data)), EINVAL);
  EXPECT_EQ(apply(truncate_request("null", 0)), EINVAL);
  EXPECT_EQ(apply(write_request("d", 0, data)), EISDIR);
  EXPECT_EQ(apply(new_entry(Op::create, "p", S_IFREG | 0644)), EEXIST);
}

TEST_F(ApplierTest, MalformedRequestsAreRefused) {
  const std::string data = "x";
  std::vector<std::string> bad_paths = {"/etc/x",
                                        "../escape",
                                        "a/../../escape",
                                        "a/./b",
                                        "",
                                        ".",
                                        "..",
                                        "a//b",
                                        "a/",
                                        "/",
                                        "a\0/../../escape"s,
                                        std::string(NAME_MAX + 1, 'n'),
                                        std::string(PATH_MAX, 'p')};
  for (const std::string& path : bad_paths) {
    for (Op op : {Op::write, Op::truncate, Op::create, Op::mknod, Op::mkdir, Op::unlink, Op::rmdir,
                  Op::symlink, Op::link, Op::rename, Op::fallocate}) {
      MirrorRequest r = write_request(path, 0, data);
      r.op = op;
      r.target = op == Op::link || op == Op::rename ? "fine" : "text";
      r.attr.valid = kAttrMode | kAttrSize;
      r.attr.mode = S_IFREG | 0644;
      EXPECT_EQ(apply(r), EINVAL) << to_string(op) << " on \"" << path << '"';
    }
    if (path.empty()) continue;  // the root takes these
    for (Op op : {Op::setattr, Op::setxattr, Op::removexattr, Op::fsync}) {
      MirrorRequest r = xattr_request(op, path, "user.x", data);
      EXPECT_EQ(apply(r), EINVAL) << to_string(op) << " on \"" << path << '"';
    }
  }
  write_file(vol("f"), "");
  for (const char* target : {"/tmp/escape", "../escape", "a/../../escape", ""}) {
    EXPECT_EQ(apply(request(Op::rename, "f", target)), EINVAL) << target;
    EXPECT_EQ(apply(request(Op::link, "f", target)), EINVAL) << target;
  }
  EXPECT_EQ(apply(request(Op::symlink, "s", std::string("a\0b", 3))), EINVAL);

  MirrorRequest r = write_request("f", 0, data);
  r.length = 2;  // disagrees with the data
  EXPECT_EQ(apply(r), EINVAL);
  r = write_request("f", INT64_MAX, data);
  EXPECT_EQ(apply(r), EINVAL);
  r = write_request("f", 0, data);
  r.mtime_after = {1, UTIME_NOW};
  EXPECT_EQ(apply(r), EINVAL);
  r = request(static_cast<Op>(99), "f");
  EXPECT_EQ(apply(r), EINVAL);
  EXPECT_EQ(apply(request(Op::truncate, "f")), EINVAL);  // no size
  EXPECT_EQ(apply(new_entry(Op::mknod, "d", S_IFDIR | 0755)), EINVAL);
  EXPECT_EQ(apply(new_entry(Op::mknod, "s", S_IFLNK | 0777)), EINVAL);
  EXPECT_EQ(read_file(vol("f")), "");
  EXPECT_EQ(names_in(volume_), std::set<std::string>{"f"});
  expect_outside_untouched();
}

TEST_F(ApplierTest, PlantedSymlinkIsNeverFollowed) {
  plant_link("link", outside_);
  plant_link("dangling", outside_ + "/new");
  ASSERT_EQ(::mkdir(vol("d").c_str(), 0755), 0);
  plant_link("d/up", "..");
  write_file(vol("f"), "mine");
  const std::string data = "evil";
  MirrorRequest mkdir = new_entry(Op::mkdir, "link/d", S_IFDIR | 0777);
  MirrorRequest create = new_entry(Op::create, "link/x", S_IFREG | 0777);
  MirrorRequest create_over = new_entry(Op::create, "dangling", S_IFREG | 0777);
  MirrorRequest rename_in = request(Op::rename, "f", "link/x");
  MirrorRequest rename_out = request(Op::rename, "link/secret", "stolen");
  MirrorRequest link_out = request(Op::link, "link/secret", "stolen");
  MirrorRequest link_in = request(Op::link, "f", "link/x");
  MirrorRequest remove = request(Op::unlink, "link/secret");
  MirrorRequest through_dir = write_request("d/up/link/secret", 0, data);
  struct Case {
    const char* what;
    MirrorRequest r;
    int expected;
  };
  const std::vector<Case> cases = {
      {"write link/secret", write_request("link/secret", 0, data), ELOOP},
      {"write link", write_request("link", 0, data), ELOOP},
      {"write dangling", write_request("dangling", 0, data), ELOOP},
      {"truncate link/secret", truncate_request("link/secret", 0), ELOOP},
      {"truncate dangling", truncate_request("dangling", 0), ELOOP},
      {"mkdir link/d", mkdir, ELOOP},
      {"create link/x", create, ELOOP},
      {"create dangling", create_over, EEXIST},
      {"rename f to link/x", rename_in, ELOOP},
      {"rename link/secret out", rename_out, ELOOP},
      {"link link/secret", link_out, ELOOP},
      {"link f to link/x", link_in, ELOOP},
      {"unlink link/secret", remove, ELOOP},
      {"write through d/up", through_dir, ELOOP},
      {"setxattr user on link", xattr_request(Op::setxattr, "link", "user.x", data), EPERM},
      {"fsync link", request(Op::fsync, "link"), EINVAL},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(apply(c.r), c.expected) << c.what;
    expect_outside_untouched();
  }
  EXPECT_EQ(read_file(vol("f")), "mine");
  EXPECT_EQ(names_in(volume_), (std::set<std::string>{"link", "dangling", "d", "f"}));

  // An attribute root may set on a symlink lands on the symlink itself.
  ASSERT_EQ(apply(xattr_request(Op::setxattr, "link", "trusted.x", data)), 0);
  char buf[16];
  EXPECT_EQ(::lgetxattr(vol("link").c_str(), "trusted.x", buf, sizeof buf), 4);
  expect_outside_untouched();

  // Removing or renaming the planted link itself is fine: it is a name in the copy.
  EXPECT_EQ(apply(request(Op::rename, "link", "renamed")), 0);
  EXPECT_EQ(apply(request(Op::unlink, "renamed")), 0);
  expect_outside_untouched();
}

TEST_F(ApplierTest, SymlinkTextIsStoredVerbatimAndNeverFollowed) {
  MirrorRequest sym = new_entry(Op::symlink, "etc", S_IFLNK | 0777);
  sym.target = outside_;
  ASSERT_EQ(apply(sym), 0);
  char buf[PATH_MAX];
  ssize_t n = ::readlink(vol("etc").c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), outside_);
  const std::string data = "evil";
  EXPECT_EQ(apply(write_request("etc/secret", 0, data)), ELOOP);
  EXPECT_EQ(apply(new_entry(Op::create, "etc/new", S_IFREG | 0644)), ELOOP);
  EXPECT_EQ(apply(new_entry(Op::mknod, "etc/new", S_IFIFO | 0644)), ELOOP);
  expect_outside_untouched();
}

TEST_F(ApplierTest, MountPointInTheCopyIsNotCrossed) {
  ASSERT_EQ(::mkdir(vol("mnt").c_str(), 0755), 0);
  if (::mount(outside_.c_str(), vol("mnt").c_str(), nullptr, MS_BIND, nullptr) != 0) {
    GTEST_SKIP() << "cannot bind-mount: " << strerror(errno);
  }
  const std::string data = "evil";
  int write_err = apply(write_request("mnt/secret", 0, data));
  int create_err = apply(new_entry(Op::create, "mnt/new", S_IFREG | 0644));
  MirrorRequest chmod = request(Op::setattr, "mnt");
  chmod.attr.valid = kAttrMode;
  chmod.attr.mode = 0777;
  int chmod_err = apply(chmod);
  ::umount2(vol("mnt").c_str(), MNT_DETACH);
  EXPECT_EQ(write_err, EXDEV);
  EXPECT_EQ(create_err, EXDEV);
  EXPECT_EQ(chmod_err, EXDEV);
  expect_outside_untouched();
}

// Random requests built from hostile pieces, valid and not: whatever comes
// back, nothing crashes and nothing outside the volume changes.
TEST_F(ApplierTest, RandomRequestsStayInside) {
  plant_link("link", outside_);
  ASSERT_EQ(::mkdir(vol("a").c_str(), 0755), 0);
  write_file(vol("a/f"), "x");
  const std::vector<std::string> pieces = {"a", "f", "link", "..", ".", "", "secret", "x\0y"s};
  std::mt19937 rng(20240611);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto random_path = [&] {
    std::string path = pick(8) == 0 ? "/" : "";
    for (size_t i = 0, n = 1 + pick(3); i < n; ++i) {
      path += (i ? "/" : "") + pieces[pick(pieces.size())];
    }
    return path;
  };
  const std::string data = "payload";
  int stored = 0;
  for (int i = 0; i < 5000; ++i) {
    MirrorRequest r = write_request(random_path(), pick(4096), data);
    r.op = static_cast<Op>(1 + pick(16));  // 16: not an operation
    r.target = pick(2) ? random_path() : outside_ + "/secret";
    r.xattr_name = pick(2) ? "user.x" : "trusted.x";
    r.flags = static_cast<uint32_t>(pick(4));
    r.length = pick(4) ? data.size() : pick(8192);  // fallocate and bad writes: keep sizes small
    r.attr.valid = static_cast<uint32_t>(rng()) & 0x7f;
    r.attr.mode = static_cast<mode_t>(rng()) & (S_IFMT | 07777);
    r.attr.size = pick(8192);
    r.attr.rdev = makedev(1, 3);
    r.mtime_after = {static_cast<time_t>(pick(2)), 0};
    stored += applier_->apply(r) == 0;
  }
  EXPECT_GT(stored, 200) << "too few requests got through to exercise the copy";
  expect_outside_untouched();
}

}  // namespace
}  // namespace mirror::applier_testing
