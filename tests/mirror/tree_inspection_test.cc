// How a side describes its tree (tree_inspection.h): one entry's metadata,
// directory pages in name order, the digest of a file's extended attributes
// and its block checksums, on real files in a temporary directory.
#include "mirror/tree_inspection.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace mirror {
namespace {

using testing_support::write_file;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

class TreeInspection : public ::testing::Test {
 protected:
  std::string at(const std::string& rel) const { return tmp.sub(rel); }
  // The temporary directory, open as list_directory and describe_entry want it.
  Fd root() const { return Fd(open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); }
  Fd path_fd(const std::string& rel) const {
    return Fd(open(at(rel).c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  }
  void set_xattr(const std::string& rel, const std::string& name, const std::string& value) {
    ASSERT_EQ(lsetxattr(at(rel).c_str(), name.c_str(), value.data(), value.size(), 0), 0)
        << rel << " " << name << ": " << strerror(errno);
  }
  uint64_t digest_of(const std::string& rel) const { return xattr_digest(path_fd(rel).get()); }

  TempDir tmp;
};

TEST_F(TreeInspection, DescribesARegularFileAsStatSaysIt) {
  write_file(at("f"), "hello");
  ASSERT_EQ(chmod(at("f").c_str(), 0640), 0);
  const timespec times[2] = {{0, UTIME_OMIT}, {1600000000, 123456789}};
  ASSERT_EQ(utimensat(AT_FDCWD, at("f").c_str(), times, 0), 0);
  struct stat st;
  ASSERT_EQ(lstat(at("f").c_str(), &st), 0);
  EntryDescription e;
  ASSERT_EQ(describe_entry(root().get(), "f", e), 0);
  EXPECT_EQ(e.name, "f");
  EXPECT_EQ(e.mode, S_IFREG | 0640);
  EXPECT_EQ(e.uid, st.st_uid);
  EXPECT_EQ(e.gid, st.st_gid);
  EXPECT_EQ(e.size, 5u);
  EXPECT_EQ(e.nlink, 1u);
  EXPECT_EQ(e.inode, st.st_ino);
  EXPECT_EQ(e.mtime.tv_sec, 1600000000);
  EXPECT_EQ(e.mtime.tv_nsec, 123456789);
  EXPECT_EQ(e.xattr_digest, 0u);
  EXPECT_EQ(e.link_target, "");
}

TEST_F(TreeInspection, HardLinksShowInTheLinkCount) {
  write_file(at("f"), "x");
  ASSERT_EQ(link(at("f").c_str(), at("g").c_str()), 0);
  EntryDescription f, g;
  ASSERT_EQ(describe_entry(root().get(), "f", f), 0);
  ASSERT_EQ(describe_entry(root().get(), "g", g), 0);
  EXPECT_EQ(f.nlink, 2u);
  EXPECT_EQ(f.inode, g.inode);
}

TEST_F(TreeInspection, ADirectoryHasNoSizeNorLinkCount) {
  ASSERT_EQ(mkdir(at("d").c_str(), 0750), 0);
  ASSERT_EQ(mkdir(at("d/sub").c_str(), 0750), 0);
  EntryDescription e;
  ASSERT_EQ(describe_entry(root().get(), "d", e), 0);
  EXPECT_EQ(e.mode, S_IFDIR | 0750);
  EXPECT_EQ(e.size, 0u);
  EXPECT_EQ(e.nlink, 0u);
}

TEST_F(TreeInspection, ASymlinkIsDescribedItselfNeverFollowed) {
  write_file(at("target"), "0123456789");
  ASSERT_EQ(symlink("target", at("link").c_str()), 0);
  const timespec times[2] = {{0, UTIME_OMIT}, {1500000000, 42}};
  ASSERT_EQ(utimensat(AT_FDCWD, at("link").c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  EntryDescription e;
  ASSERT_EQ(describe_entry(root().get(), "link", e), 0);
  EXPECT_TRUE(S_ISLNK(e.mode));
  EXPECT_EQ(e.link_target, "target");
  EXPECT_EQ(e.size, 6u);  // the target's length, as lstat says
  EXPECT_EQ(e.mtime.tv_sec, 1500000000);
  EXPECT_EQ(e.mtime.tv_nsec, 42);
}

TEST_F(TreeInspection, AMissingNameGivesItsErrno) {
  EntryDescription e;
  EXPECT_EQ(describe_entry(root().get(), "nothing", e), ENOENT);
}

TEST_F(TreeInspection, EqualityLooksAtEverythingButTheInode) {
  write_file(at("f"), "x");
  EntryDescription a;
  ASSERT_EQ(describe_entry(root().get(), "f", a), 0);
  EntryDescription b = a;
  b.inode += 1;
  EXPECT_TRUE(a == b);
  for (auto change : std::vector<void (*)(EntryDescription&)>{
           [](EntryDescription& e) { e.name += "x"; }, [](EntryDescription& e) { e.mode ^= 1; },
           [](EntryDescription& e) { e.uid += 1; }, [](EntryDescription& e) { e.gid += 1; },
           [](EntryDescription& e) { e.size += 1; }, [](EntryDescription& e) { e.nlink += 1; },
           [](EntryDescription& e) { e.rdev += 1; },
           [](EntryDescription& e) { e.mtime.tv_sec += 1; },
           [](EntryDescription& e) { e.mtime.tv_nsec += 1; },
           [](EntryDescription& e) { e.xattr_digest += 1; },
           [](EntryDescription& e) { e.link_target += "x"; }}) {
    b = a;
    change(b);
    EXPECT_FALSE(a == b);
  }
}

TEST_F(TreeInspection, ListsSortedByteWiseWithoutDots) {
  for (const char* name : {"b", "a", "B", "\xc3\xa9t\xc3\xa9", "a b", "z"})
    write_file(at(name), "");
  ASSERT_EQ(mkdir(at("dir").c_str(), 0755), 0);
  std::vector<EntryDescription> out;
  bool more = true;
  ASSERT_EQ(list_directory(root().get(), "", 100, out, more), 0);
  EXPECT_FALSE(more);
  std::vector<std::string> names;
  for (const auto& e : out) names.push_back(e.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"B", "a", "a b", "b", "dir", "z", "\xc3\xa9t\xc3\xa9"}));
  EntryDescription one;
  ASSERT_EQ(describe_entry(root().get(), "dir", one), 0);
  EXPECT_TRUE(out[4] == one);
}

TEST_F(TreeInspection, PagesWithAfterAndMaxEntriesCoverTheDirectoryOnce) {
  std::vector<std::string> all;
  for (int i = 0; i < 23; ++i) {
    std::string name = "f" + std::to_string((i * 7) % 23);
    write_file(at(name), std::to_string(i));
    all.push_back(name);
  }
  std::sort(all.begin(), all.end());
  Fd dir = root();
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  for (bool more = true; more; ++pages) {
    std::vector<EntryDescription> page;
    ASSERT_EQ(list_directory(dir.get(), after, 5, page, more), 0);
    ASSERT_LE(page.size(), 5u);
    ASSERT_FALSE(page.empty());
    EXPECT_EQ(more, seen.size() + page.size() < all.size());
    for (const auto& e : page) seen.push_back(e.name);
    after = page.back().name;
  }
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(seen, all);
}

TEST_F(TreeInspection, AfterNeedNotBeAName) {
  for (const char* name : {"a", "c", "e"}) write_file(at(name), "");
  std::vector<EntryDescription> out;
  bool more = true;
  ASSERT_EQ(list_directory(root().get(), "b", 1, out, more), 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "c");
  EXPECT_TRUE(more);
  ASSERT_EQ(list_directory(root().get(), "e", 10, out, more), 0);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(more);
}

TEST_F(TreeInspection, XattrDigestIsZeroWithoutAttributes) {
  write_file(at("f"), "");
  EXPECT_EQ(digest_of("f"), 0u);
  std::vector<std::string> names{"stale"};
  ASSERT_EQ(xattr_names(path_fd("f").get(), names), 0);
  EXPECT_TRUE(names.empty());
}

TEST_F(TreeInspection, XattrDigestIsEqualForEqualSetsWhateverTheOrderSet) {
  write_file(at("a"), "");
  write_file(at("b"), "");
  set_xattr("a", "user.one", "1");
  set_xattr("a", "user.two", std::string("t\0o", 3));
  set_xattr("b", "user.two", std::string("t\0o", 3));
  set_xattr("b", "user.one", "1");
  EXPECT_NE(digest_of("a"), 0u);
  EXPECT_EQ(digest_of("a"), digest_of("b"));
  std::vector<std::string> names;
  ASSERT_EQ(xattr_names(path_fd("b").get(), names), 0);
  EXPECT_EQ(names, (std::vector<std::string>{"user.one", "user.two"}));
}

TEST_F(TreeInspection, XattrDigestDiffersWhenAValueOrNameDiffers) {
  for (const char* f : {"base", "value", "name", "shifted", "extra"}) write_file(at(f), "");
  set_xattr("base", "user.ab", "c");
  set_xattr("value", "user.ab", "d");
  set_xattr("name", "user.ax", "c");
  set_xattr("shifted", "user.a", "bc");  // the same bytes, framed otherwise
  set_xattr("extra", "user.ab", "c");
  set_xattr("extra", "user.empty", "");
  const uint64_t base = digest_of("base");
  for (const char* f : {"value", "name", "shifted", "extra"}) EXPECT_NE(digest_of(f), base) << f;
}

TEST_F(TreeInspection, XattrsOfASymlinkAreItsOwnNotItsTargets) {
  write_file(at("target"), "");
  set_xattr("target", "user.t", "1");
  ASSERT_EQ(symlink("target", at("link").c_str()), 0);
  EXPECT_EQ(digest_of("link"), 0u) << "the target's attributes leaked into the link's digest";
  // trusted.* can be set on a symlink by root; skip the rest otherwise.
  if (lsetxattr(at("link").c_str(), "trusted.l", "v", 1, 0) != 0) {
    GTEST_SKIP() << "cannot set trusted.* on a symlink here: " << strerror(errno);
  }
  const uint64_t link = digest_of("link");
  EXPECT_NE(link, 0u);
  EXPECT_NE(link, digest_of("target"));
  std::vector<std::string> names;
  ASSERT_EQ(xattr_names(path_fd("link").get(), names), 0);
  EXPECT_EQ(names, std::vector<std::string>{"trusted.l"});
  EntryDescription e;
  ASSERT_EQ(describe_entry(root().get(), "link", e), 0);
  EXPECT_EQ(e.xattr_digest, link);
}

// --- Block checksums ---------------------------------------------------

std::string pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (char& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

std::vector<uint64_t> sums_of(const std::string& path, uint64_t first, uint32_t count) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::vector<uint64_t> out{999};
  EXPECT_EQ(block_checksums(fd.get(), first, count, out), 0);
  return out;
}

TEST_F(TreeInspection, OneChangedByteChangesExactlyOneBlockSum) {
  const std::string data = pattern(3 * kSyncBlockSize + 1000);
  write_file(at("f"), data);
  const auto before = sums_of(at("f"), 0, 100);
  ASSERT_EQ(before.size(), 4u);
  std::string changed = data;
  changed[2 * kSyncBlockSize + 17] ^= 1;
  write_file(at("f"), changed);
  const auto after = sums_of(at("f"), 0, 100);
  ASSERT_EQ(after.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(before[i] != after[i], i == 2) << "block " << i;
  }
}

TEST_F(TreeInspection, TheLastBlockIsShortAndSumsAreOfTheBytes) {
  const std::string data = pattern(2 * kSyncBlockSize + 10);
  write_file(at("f"), data);
  const auto sums = sums_of(at("f"), 0, 10);
  ASSERT_EQ(sums.size(), 3u);
  EXPECT_EQ(sums[0], XXH3_64bits(data.data(), kSyncBlockSize));
  EXPECT_EQ(sums[2], XXH3_64bits(data.data() + 2 * kSyncBlockSize, 10));
}

TEST_F(TreeInspection, ChecksumsFromAFirstBlockForACount) {
  write_file(at("f"), pattern(5 * kSyncBlockSize));
  const auto all = sums_of(at("f"), 0, 5);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(sums_of(at("f"), 1, 2), (std::vector<uint64_t>{all[1], all[2]}));
  EXPECT_EQ(sums_of(at("f"), 4, 9), std::vector<uint64_t>{all[4]});
  EXPECT_TRUE(sums_of(at("f"), 5, 1).empty()) << "an exact multiple has no empty last block";
  EXPECT_TRUE(sums_of(at("f"), UINT64_MAX / 2, 1).empty());
  EXPECT_TRUE(sums_of(at("f"), 0, 0).empty());
  write_file(at("empty"), "");
  EXPECT_TRUE(sums_of(at("empty"), 0, 1).empty());
}

}  // namespace
}  // namespace mirror
