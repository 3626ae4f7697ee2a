// The inode table: one Inode per backing file however it is reached, freed
// when the kernel forgets it, and re-attached to a surviving hard link.
#include "fs/inode_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>

#include "tests/support/temp_dir.h"

namespace {

using mirrorfs::InodeTable;
using testing_support::write_file;

class InodeTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int root_fd = open(tmp.path().c_str(), O_PATH | O_DIRECTORY);
    ASSERT_GE(root_fd, 0);
    struct stat st;
    ASSERT_EQ(fstat(root_fd, &st), 0);
    table = std::make_unique<InodeTable>(root_fd, st);
  }
  // Looks `name` up in the root the way lookup does.
  fuse_ino_t lookup(const std::string& name) {
    int fd = openat(table->root().fd.load(), name.c_str(), O_PATH | O_NOFOLLOW);
    EXPECT_GE(fd, 0) << name;
    struct stat st;
    EXPECT_EQ(fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), 0);
    return table->remember(fd, st, &table->root(), name.c_str());
  }
  std::string path_of_fd(int fd) {
    char buf[PATH_MAX];
    ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf);
    return n < 0 ? "" : std::string(buf, n);
  }
  TempDir tmp;
  std::unique_ptr<InodeTable> table;
};

TEST_F(InodeTableTest, SameFileThroughTwoNamesIsOneInode) {
  write_file(tmp.sub("a"), "x");
  ASSERT_EQ(link(tmp.sub("a").c_str(), tmp.sub("b").c_str()), 0);
  fuse_ino_t a = lookup("a");
  fuse_ino_t b = lookup("b");
  EXPECT_EQ(a, b);
  EXPECT_EQ(table->size(), 2u);  // the root and one file
}

TEST_F(InodeTableTest, ForgetFreesTheInodeWhenNoReferenceRemains) {
  write_file(tmp.sub("a"), "x");
  fuse_ino_t first = lookup("a");
  lookup("a");
  table->forget(first, 1);
  EXPECT_EQ(table->size(), 2u);
  table->forget(first, 1);
  EXPECT_EQ(table->size(), 1u);
}

TEST_F(InodeTableTest, RootIsNeverForgotten) {
  EXPECT_EQ(table->id_of(table->root()), FUSE_ROOT_ID);
  table->forget(FUSE_ROOT_ID, 100);
  EXPECT_EQ(&table->get(FUSE_ROOT_ID), &table->root());
}

TEST_F(InodeTableTest, ReattachFindsASurvivingHardLink) {
  write_file(tmp.sub("a"), "x");
  ASSERT_EQ(link(tmp.sub("a").c_str(), tmp.sub("b").c_str()), 0);
  fuse_ino_t id = lookup("a");
  lookup("b");  // the kernel learns the second name
  ASSERT_EQ(unlink(tmp.sub("a").c_str()), 0);
  mirrorfs::Inode& inode = table->get(id);
  EXPECT_NE(path_of_fd(inode.fd.load()).find("(deleted)"), std::string::npos);
  ASSERT_TRUE(table->reattach(inode));
  EXPECT_EQ(path_of_fd(inode.fd.load()), tmp.sub("b"));
}

TEST_F(InodeTableTest, ReattachFailsWhenNoNameRemains) {
  write_file(tmp.sub("a"), "x");
  fuse_ino_t id = lookup("a");
  ASSERT_EQ(unlink(tmp.sub("a").c_str()), 0);
  EXPECT_FALSE(table->reattach(table->get(id)));
}

TEST_F(InodeTableTest, ANewFileWithAReusedNumberGetsANewInode) {
  write_file(tmp.sub("a"), "x");
  fuse_ino_t old_id = lookup("a");
  // Replace the file; whether or not the number is reused, the old Inode
  // must not answer for the new file.
  ASSERT_EQ(unlink(tmp.sub("a").c_str()), 0);
  write_file(tmp.sub("a"), "y");
  fuse_ino_t new_id = lookup("a");
  EXPECT_NE(old_id, new_id);
  table->forget(old_id, 1);
  table->forget(new_id, 1);
  EXPECT_EQ(table->size(), 1u);
}

}  // namespace
