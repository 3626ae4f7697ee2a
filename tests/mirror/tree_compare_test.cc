// compare_trees on real trees in a temporary directory: tree a is built, b
// is built the same way, then one thing is changed and the test checks that
// exactly that difference is reported.
#include "mirror/tree_compare.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <system_error>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace mirror {

// So that gtest prints differences readably when an expectation fails.
void PrintTo(const TreeDifference& d, std::ostream* os) {
  *os << '{' << d.path << ": " << d.what << '}';
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::write_file;

constexpr off_t kGiB = off_t{1} << 30;

MATCHER_P2(Diff, path, what, "") {
  return arg.path == path && arg.what == what;
}

void check(bool ok, const std::string& what) {
  if (!ok) throw std::system_error(errno, std::generic_category(), what);
}

void set_mtime(const std::string& path, time_t sec, long nsec = 0) {
  struct timespec times[2] = {{sec, nsec}, {sec, nsec}};
  check(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0, "utimensat " + path);
}

// A file of `size` bytes holding the given pieces of data at their offsets,
// and holes elsewhere.
void write_sparse(const std::string& path, off_t size,
                  const std::vector<std::pair<off_t, std::string>>& pieces) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  check(fd >= 0, "open " + path);
  check(::ftruncate(fd, size) == 0, "ftruncate " + path);
  for (const auto& [offset, data] : pieces) {
    check(::pwrite(fd, data.data(), data.size(), offset) == static_cast<ssize_t>(data.size()),
          "pwrite " + path);
  }
  ::close(fd);
}

std::string pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + i * 7 % 26);
  return s;
}

class TreeCompareTest : public ::testing::Test {
 protected:
  TreeCompareTest() : a_(tmp_.sub("a")), b_(tmp_.sub("b")) {
    check(::mkdir(a_.c_str(), 0755) == 0, "mkdir " + a_);
    check(::mkdir(b_.c_str(), 0755) == 0, "mkdir " + b_);
  }

  // Makes the same file in both trees.
  void both_file(const std::string& rel, const std::string& contents) {
    write_file(a_ + "/" + rel, contents);
    write_file(b_ + "/" + rel, contents);
  }
  void both_dir(const std::string& rel) {
    check(::mkdir((a_ + "/" + rel).c_str(), 0755) == 0, "mkdir a/" + rel);
    check(::mkdir((b_ + "/" + rel).c_str(), 0755) == 0, "mkdir b/" + rel);
  }

  // Gives every entry of both trees the same mtime, so that tests about other
  // attributes are not disturbed by the moments the trees were made.
  void settle() {
    for (const std::string& root : {a_, b_}) {
      set_mtime(root, 1700000000);
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        set_mtime(entry.path(), 1700000000);
      }
    }
  }

  std::vector<TreeDifference> compare(const TreeCompareOptions& options = {}) {
    settle();
    return compare_trees(a_, b_, options);
  }

  bool user_xattrs_supported() {
    std::string probe = tmp_.sub("probe");
    write_file(probe, "");
    bool ok = ::setxattr(probe.c_str(), "user.probe", "1", 1, 0) == 0;
    ::unlink(probe.c_str());
    return ok;
  }

  TempDir tmp_;
  const std::string a_, b_;
};

TEST_F(TreeCompareTest, EqualTreesHaveNoDifferences) {
  both_dir("dir");
  both_dir("dir/sub");
  both_file("dir/sub/file", "hello");
  both_file("empty", "");
  both_file("x", "linked");
  for (const std::string& root : {a_, b_}) {
    check(::symlink("dir/sub/file", (root + "/link").c_str()) == 0, "symlink");
    check(::link((root + "/x").c_str(), (root + "/dir/y").c_str()) == 0, "link");
    check(::mkfifo((root + "/fifo").c_str(), 0600) == 0, "mkfifo");
  }
  EXPECT_THAT(compare(), ElementsAre());
}

TEST_F(TreeCompareTest, FileOnlyInOneTreeIsReported) {
  both_file("common", "same");
  write_file(a_ + "/left", "");
  write_file(b_ + "/right", "");
  EXPECT_THAT(compare(), ElementsAre(Diff("left", "only in a"), Diff("right", "only in b")));
}

TEST_F(TreeCompareTest, NamesWithOddBytesAreCompared) {
  const std::string odd = "new\nline \xff\x01 -x";
  both_file(odd, "one");
  write_file(b_ + "/" + odd, "two");
  write_file(a_ + "/" + odd + ".only", "");
  EXPECT_THAT(compare(), ElementsAre(Diff(odd, "contents differ at byte 0"),
                                     Diff(odd + ".only", "only in a")));
}

TEST_F(TreeCompareTest, DirectoryOnlyInOneTreeIsReportedOnce) {
  check(::mkdir((a_ + "/dir").c_str(), 0755) == 0, "mkdir");
  write_file(a_ + "/dir/inner", "");
  EXPECT_THAT(compare(), ElementsAre(Diff("dir", "only in a")));
}

TEST_F(TreeCompareTest, TypeDifferenceIsReportedWithoutWhatIsBeneath) {
  write_file(a_ + "/x", "");
  check(::mkdir((b_ + "/x").c_str(), 0755) == 0, "mkdir");
  write_file(b_ + "/x/inner", "");
  EXPECT_THAT(compare(), ElementsAre(Diff("x", "type regular file vs directory")));
}

TEST_F(TreeCompareTest, ContentsDifferenceReportsFirstDifferingByte) {
  const std::string contents = pattern(3 << 20);
  both_file("big", contents);
  std::string changed = contents;
  const size_t offset = (3 << 20) / 2 + 7;  // in the middle, not on a chunk boundary
  changed[offset] ^= 1;
  write_file(b_ + "/big", changed);
  EXPECT_THAT(compare(),
              ElementsAre(Diff("big", "contents differ at byte " + std::to_string(offset))));
}

TEST_F(TreeCompareTest, SizeDifferenceIsReported) {
  write_file(a_ + "/f", "12345");
  write_file(b_ + "/f", "123");
  EXPECT_THAT(compare(), ElementsAre(Diff("f", "size 5 vs 3")));
}

TEST_F(TreeCompareTest, ModeDifferenceIsReportedInOctal) {
  both_file("f", "");
  check(::chmod((a_ + "/f").c_str(), 0644) == 0, "chmod");
  check(::chmod((b_ + "/f").c_str(), 04755) == 0, "chmod");
  EXPECT_THAT(compare(), ElementsAre(Diff("f", "mode 0644 vs 4755")));
}

TEST_F(TreeCompareTest, SymlinkTargetDifferenceIsReported) {
  check(::symlink("one", (a_ + "/l").c_str()) == 0, "symlink");
  check(::symlink("two", (b_ + "/l").c_str()) == 0, "symlink");
  EXPECT_THAT(compare(), ElementsAre(Diff("l", "symlink target 'one' vs 'two'")));
}

TEST_F(TreeCompareTest, DeviceNumberDifferenceIsReported) {
  if (::mknod((a_ + "/dev").c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0) {
    GTEST_SKIP() << "cannot make a char device here: " << std::strerror(errno);
  }
  check(::mknod((b_ + "/dev").c_str(), S_IFCHR | 0600, makedev(1, 5)) == 0, "mknod");
  EXPECT_THAT(compare(), ElementsAre(Diff("dev", "device 1:3 vs 1:5")));
}

TEST_F(TreeCompareTest, XattrValueDifferenceIsReported) {
  if (!user_xattrs_supported()) GTEST_SKIP() << "the file system of /tmp has no user.* xattrs";
  both_file("f", "");
  check(::setxattr((a_ + "/f").c_str(), "user.k", "1", 1, 0) == 0, "setxattr");
  check(::setxattr((b_ + "/f").c_str(), "user.k", "2", 1, 0) == 0, "setxattr");
  EXPECT_THAT(compare(), ElementsAre(Diff("f", "xattr user.k differs")));
}

TEST_F(TreeCompareTest, XattrMissingInOneTreeIsReported) {
  if (!user_xattrs_supported()) GTEST_SKIP() << "the file system of /tmp has no user.* xattrs";
  both_file("f", "");
  check(::setxattr((a_ + "/f").c_str(), "user.k", "1", 1, 0) == 0, "setxattr");
  EXPECT_THAT(compare(), ElementsAre(Diff("f", "xattr user.k only in a")));
  TreeCompareOptions no_xattrs;
  no_xattrs.compare_xattrs = false;
  EXPECT_THAT(compare(no_xattrs), ElementsAre());
}

TEST_F(TreeCompareTest, HardLinkStructureDifferenceIsReportedForEachPath) {
  both_file("x", "same");
  check(::link((a_ + "/x").c_str(), (a_ + "/y").c_str()) == 0, "link");
  write_file(b_ + "/y", "same");
  EXPECT_THAT(compare(), ElementsAre(Diff("x", "hard-linked with y in a; not hard-linked in b"),
                                     Diff("y", "hard-linked with x in a; not hard-linked in b")));
}

TEST_F(TreeCompareTest, HardLinkMatesAreListed) {
  both_file("x", "same");
  for (const std::string& root : {a_, b_}) {
    check(::link((root + "/x").c_str(), (root + "/y").c_str()) == 0, "link");
  }
  check(::link((a_ + "/x").c_str(), (a_ + "/z").c_str()) == 0, "link");
  write_file(b_ + "/z", "same");
  EXPECT_THAT(compare(),
              ElementsAre(Diff("x", "hard-linked with y, z in a; hard-linked with y in b"),
                          Diff("y", "hard-linked with x, z in a; hard-linked with x in b"),
                          Diff("z", "hard-linked with x, y in a; not hard-linked in b")));
}

TEST_F(TreeCompareTest, MtimeDifferenceIsReportedToTheNanosecond) {
  both_file("f", "");
  settle();
  set_mtime(b_ + "/f", 1700000000, 1);
  EXPECT_THAT(compare_trees(a_, b_),
              ElementsAre(Diff("f", "mtime 1700000000.000000000 vs 1700000000.000000001")));
}

TEST_F(TreeCompareTest, DirectoryMtimeDifferenceIsReported) {
  both_dir("d");
  settle();
  set_mtime(a_, 1600000000);
  EXPECT_THAT(compare_trees(a_, b_),
              ElementsAre(Diff("", "mtime 1600000000.000000000 vs 1700000000.000000000")));
}

TEST_F(TreeCompareTest, MtimeDifferenceIsIgnoredWithoutCompareMtimes) {
  both_file("f", "");
  settle();
  set_mtime(b_ + "/f", 1700000000, 1);
  TreeCompareOptions options;
  options.compare_mtimes = false;
  EXPECT_THAT(compare_trees(a_, b_, options), ElementsAre());
}

TEST_F(TreeCompareTest, OwnerDifferenceIsReported) {
  both_file("f", "");
  if (::lchown((b_ + "/f").c_str(), 1234, 5678) != 0) {
    GTEST_SKIP() << "cannot chown (not root?): " << std::strerror(errno);
  }
  const std::string owner_a = std::to_string(::getuid()) + ":" + std::to_string(::getgid());
  EXPECT_THAT(compare(), ElementsAre(Diff("f", "owner " + owner_a + " vs 1234:5678")));
}

TEST_F(TreeCompareTest, OwnerDifferenceIsIgnoredWithoutCompareOwners) {
  both_file("f", "");
  if (::lchown((b_ + "/f").c_str(), 1234, 5678) != 0) {
    GTEST_SKIP() << "cannot chown (not root?): " << std::strerror(errno);
  }
  TreeCompareOptions options;
  options.compare_owners = false;
  EXPECT_THAT(compare(options), ElementsAre());
}

TEST_F(TreeCompareTest, IgnoredPathIsSkippedWithEverythingBeneath) {
  both_dir("skip");
  both_dir("skip/deep");
  write_file(a_ + "/skip/deep/f", "one");
  write_file(b_ + "/skip/deep/f", "two, longer");
  write_file(a_ + "/skip/only", "");
  write_file(b_ + "/gone", "");
  TreeCompareOptions options;
  options.ignore = {"skip", "gone"};
  EXPECT_THAT(compare(options), ElementsAre());
}

TEST_F(TreeCompareTest, SparseFilesWithEqualDataAreEqual) {
  const std::string data = pattern(4096);
  for (const std::string& root : {a_, b_}) {
    write_sparse(root + "/sparse", 5 * kGiB, {{0, data}, {kGiB, data}, {4 * kGiB + 12345, data}});
  }
  EXPECT_THAT(compare(), ElementsAre());
}

TEST_F(TreeCompareTest, SparseFileDifferenceBeyondFourGiBIsFound) {
  const std::string data = pattern(4096);
  std::string changed = data;
  changed[100] ^= 1;
  const off_t late = 4 * kGiB + 12345;
  write_sparse(a_ + "/sparse", 5 * kGiB, {{0, data}, {kGiB, data}, {late, data}});
  write_sparse(b_ + "/sparse", 5 * kGiB, {{0, data}, {kGiB, data}, {late, changed}});
  EXPECT_THAT(compare(),
              ElementsAre(Diff("sparse", "contents differ at byte " + std::to_string(late + 100))));
}

TEST_F(TreeCompareTest, DataWhereTheOtherFileHasAHoleIsFound) {
  const std::string data = pattern(4096);
  write_sparse(a_ + "/sparse", 2 * kGiB, {{0, data}});
  write_sparse(b_ + "/sparse", 2 * kGiB, {{0, data}, {kGiB + 1, data}});
  EXPECT_THAT(compare(),
              ElementsAre(Diff("sparse", "contents differ at byte " + std::to_string(kGiB + 1))));
}

TEST_F(TreeCompareTest, MissingRootThrowsNamingThePath) {
  const std::string missing = tmp_.sub("missing");
  try {
    compare_trees(missing, b_);
    FAIL() << "expected std::system_error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_THAT(e.what(), HasSubstr(missing));
  }
}

TEST(FormatDifferencesTest, PrintsOneLinePerDifferenceAndTheRootAsDot) {
  EXPECT_EQ(format_differences({{"", "mode 0755 vs 0700"}, {"a/b", "only in a"}}),
            ".: mode 0755 vs 0700\na/b: only in a\n");
}

TEST(FormatDifferencesTest, StopsAtTheLimitAndCountsTheRest) {
  std::vector<TreeDifference> many(5, {"f", "only in b"});
  EXPECT_EQ(format_differences(many, 2), "f: only in b\nf: only in b\n... and 3 more\n");
}

}  // namespace
}  // namespace mirror
