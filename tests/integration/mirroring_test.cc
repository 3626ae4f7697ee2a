// Mirroring through a real mount to a real mirrord on loopback, in sync and
// async mode: after a workload, once every request is acknowledged, the copy
// equals the backing directory by the tree comparison.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "tests/support/mirror_fixture.h"

namespace {

using testing_support::read_file;
using testing_support::run_command;
using testing_support::write_file;

void write_at(const std::string& path, off_t off, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), off), static_cast<ssize_t>(data.size()));
  close(fd);
}

TEST_P(MirroredTest, SourceTreeTarballConverges) {
  std::string tarball = tmp->sub("src.tar");
  auto made = run_command({"tar", "-C", "/usr/include", "-cf", tarball, "linux"});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto r = run_command({"tar", "-C", mnt, "-xf", tarball});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_converged();
}

// The kernel flushes a large file's dirty pages as several WRITEs at once;
// mirrorfs may order them unlike it applied them. The copy must still end
// with the primary's mtime (the bench once saw it 3.5 ms behind).
TEST_P(MirroredTest, ParallelWritebackOfOneFileEndsWithThePrimarysMtime) {
  std::string block(1 << 20, 'w');
  for (int round = 0; round < 6; ++round) {
    int fd = open(at("big").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < 48; ++i) {
      block[0] = static_cast<char>('a' + (round + i) % 26);
      ASSERT_EQ(write(fd, block.data(), block.size()), static_cast<ssize_t>(block.size()));
    }
    ASSERT_EQ(fsync(fd), 0);
    ASSERT_EQ(close(fd), 0);
  }
  expect_converged();
}

TEST_P(MirroredTest, RenamesOfEveryKindConverge) {
  ASSERT_EQ(mkdir(at("d1").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(at("d1/sub").c_str(), 0700), 0);
  write_file(at("d1/sub/inner"), "inner");
  write_file(at("a"), "A");
  write_file(at("b"), "B");
  write_file(at("c"), "C");
  ASSERT_EQ(rename(at("a").c_str(), at("a2").c_str()), 0);
  ASSERT_EQ(rename(at("a2").c_str(), at("b").c_str()), 0);  // over an existing file
  ASSERT_EQ(renameat2(AT_FDCWD, at("c").c_str(), AT_FDCWD, at("b").c_str(), RENAME_NOREPLACE), -1);
  ASSERT_EQ(renameat2(AT_FDCWD, at("c").c_str(), AT_FDCWD, at("c2").c_str(), RENAME_NOREPLACE), 0);
  ASSERT_EQ(renameat2(AT_FDCWD, at("b").c_str(), AT_FDCWD, at("c2").c_str(), RENAME_EXCHANGE), 0);
  ASSERT_EQ(mkdir(at("d2").c_str(), 0755), 0);
  ASSERT_EQ(rename(at("d1").c_str(), at("d2/moved").c_str()), 0);  // a directory with contents
  ASSERT_EQ(mkdir(at("empty").c_str(), 0755), 0);
  ASSERT_EQ(rename(at("d2/moved").c_str(), at("empty").c_str()), 0);  // over an empty directory
  expect_converged();
  EXPECT_EQ(read_file(in_copy("empty/sub/inner")), "inner");
  EXPECT_EQ(read_file(in_copy("b")), "C");
  EXPECT_EQ(read_file(in_copy("c2")), "A");
}

TEST_P(MirroredTest, LinksXattrsTruncatesAndAllocationsConverge) {
  write_file(at("f"), std::string(100000, 'x'));
  ASSERT_EQ(link(at("f").c_str(), at("hard").c_str()), 0);
  ASSERT_EQ(symlink("f", at("soft").c_str()), 0);
  ASSERT_EQ(symlink("/nowhere/at/all", at("dangling").c_str()), 0);
  ASSERT_EQ(setxattr(at("f").c_str(), "user.colour", "blue", 4, 0), 0);
  ASSERT_EQ(setxattr(at("f").c_str(), "user.gone", "x", 1, 0), 0);
  ASSERT_EQ(removexattr(at("f").c_str(), "user.gone"), 0);
  ASSERT_EQ(truncate(at("f").c_str(), 5000), 0);
  ASSERT_EQ(truncate(at("f").c_str(), 300000), 0);
  ASSERT_EQ(mkfifo(at("fifo").c_str(), 0640), 0);
  ASSERT_EQ(chmod(at("hard").c_str(), 0600), 0);
  ASSERT_EQ(chown(at("soft").c_str(), 1000, 1000), 0);  // follows to f
  ASSERT_EQ(lchown(at("dangling").c_str(), 1234, 5678), 0);
  int fd = open(at("alloc").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fallocate(fd, 0, 0, 1 << 20), 0);
  ASSERT_EQ(pwrite(fd, "data", 4, 65536), 4);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 65536), 0);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  expect_converged();
}

TEST_P(MirroredTest, RandomOverwritesOfALargeFileConverge) {
  const size_t size = 16 << 20;
  write_at(at("big"), 0, std::string(size, '\0'));
  std::mt19937 rng(42);
  int fd = open(at("big").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 300; ++i) {
    size_t len = 1 + rng() % 20000;
    off_t off = static_cast<off_t>(rng() % (size - len));
    std::string chunk(len, static_cast<char>('a' + i % 26));
    ASSERT_EQ(pwrite(fd, chunk.data(), len, off), static_cast<ssize_t>(len));
  }
  close(fd);
  expect_converged();
}

TEST_P(MirroredTest, ParallelWritersConverge) {
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      std::string data(256 * 1024, static_cast<char>('a' + w));
      for (int i = 0; i < 8; ++i) write_at(at("w" + std::to_string(w)), i * data.size(), data);
    });
  }
  int shared = open(at("shared").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(shared, 0);
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      std::string data(128 * 1024, static_cast<char>('A' + w));
      for (int i = w; i < 32; i += 2) pwrite(shared, data.data(), data.size(), i * data.size());
    });
  }
  for (auto& t : threads) t.join();
  close(shared);
  expect_converged();
}

INSTANTIATE_TEST_SUITE_P(Modes, MirroredTest, ::testing::Values("sync", "async"),
                         [](const auto& info) { return info.param; });

// Paths matching -o exclude stay local; moving a file out of them sends it.
class ExcludedTest : public MirroredTest {
 protected:
  std::vector<std::string> extra_mount_options() const override {
    return {"exclude=*.tmp:scratch"};
  }
};

TEST_P(ExcludedTest, ExcludedGlobsStayLocalAndMovesAcrossAreHandled) {
  ASSERT_EQ(mkdir(at("scratch").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(at("kept").c_str(), 0755), 0);
  write_file(at("kept/notes.tmp"), "local only");
  write_file(at("scratch/draft"), "draft contents");
  write_file(at("kept/doc"), "mirrored");
  ASSERT_EQ(rename(at("scratch/draft").c_str(), at("kept/final").c_str()), 0);
  write_file(at("kept/old"), "to be hidden");
  ASSERT_EQ(rename(at("kept/old").c_str(), at("scratch/old").c_str()), 0);
  mirror::TreeCompareOptions o;
  o.ignore = {"scratch", "kept/notes.tmp"};
  o.compare_mtimes = false;  // moves into excluded paths change directories the copy never sees
  EXPECT_EQ(testing_support::wait_for_convergence(backing, copy, std::chrono::seconds(30), o), "");
  EXPECT_EQ(read_file(in_copy("kept/final")), "draft contents");
  EXPECT_NE(access(in_copy("scratch").c_str(), F_OK), 0);
  EXPECT_NE(access(in_copy("kept/notes.tmp").c_str(), F_OK), 0);
  EXPECT_NE(access(in_copy("kept/old").c_str(), F_OK), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, ExcludedTest, ::testing::Values("sync", "async"),
                         [](const auto& info) { return info.param; });

}  // namespace
