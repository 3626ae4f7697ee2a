// Issue 6, diverged copies: a resync repairs exactly what differs (missing
// and extra files, changed bytes in the middle of large files, wrong modes,
// stale xattrs) and sends a one-block change in a 1 GiB file as about one
// block; verify finds a corrupted block and says equal otherwise.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/copy_sync_fixture.h"

namespace testing_support {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kBlock = 128 * 1024;  // mirror::kSyncBlockSize
constexpr uint64_t kGiB = 1ull << 30;

void pwrite_at(const std::string& path, uint64_t offset, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_ino;
}

uint64_t connection_bytes_sent(const nlohmann::json& volume) {
  uint64_t n = 0;
  for (const auto& c : volume.at("connections")) n += c.at("bytes_sent").get<uint64_t>();
  return n;
}

class ResyncTest : public CopySyncTest {
 protected:
  // A primary with a sparse 1 GiB file, a few small files and a directory,
  // synced to the copy; then mirrorfs is stopped, cleanly.
  void make_synced_pair() {
    fs::create_directories(backing + "/dir/sub");
    for (int i = 0; i < 20; ++i) {
      std::ofstream(backing + "/dir/f" + std::to_string(i)) << "small file " << i << "\n";
    }
    std::ofstream(backing + "/big").close();
    ASSERT_EQ(truncate((backing + "/big").c_str(), kGiB), 0) << "sparse 1 GiB file";
    for (uint64_t off : {uint64_t{0}, kGiB / 2, kGiB - 4096}) {
      pwrite_at(backing + "/big", off, std::string(4096, 'p'));
    }
    ASSERT_EQ(setxattr((backing + "/dir/f1").c_str(), "user.tag", "primary", 7, 0), 0);
    start_mirrord(copy);
    start_mirrorfs(backing);
    wait_settled();
    ASSERT_EQ(wait_for_convergence(backing, copy), "");
  }
};

TEST_F(ResyncTest, RepairsExactlyWhatDiffers) {
  make_synced_pair();
  const ino_t untouched = inode_of(copy + "/dir/f2");
  // The copy diverges behind mirrorfs's back.
  fs::remove(copy + "/dir/f3");                                // missing
  std::ofstream(copy + "/dir/extra") << "only on the copy\n";  // extra
  fs::create_directories(copy + "/dir/extra-dir/deeper");      // extra, with contents
  std::ofstream(copy + "/dir/extra-dir/deeper/x") << "x\n";
  pwrite_at(copy + "/big", kGiB / 2 + 100, "changed in the middle of 1 GiB");     // one block
  ASSERT_EQ(chmod((copy + "/dir/f4").c_str(), 0600), 0);                          // wrong mode
  ASSERT_EQ(setxattr((copy + "/dir/f1").c_str(), "user.tag", "stale", 5, 0), 0);  // stale xattr
  ASSERT_EQ(setxattr((copy + "/dir/f5").c_str(), "user.extra", "x", 1, 0), 0);
  ASSERT_NE(wait_for_convergence(backing, copy, std::chrono::milliseconds(0)), "");

  const uint64_t sent_before = connection_bytes_sent(volume_status());
  mirror::SyncStatus s = run_walk({{"command", "resync"}});
  ASSERT_EQ(s.result, "repaired") << mirrorfs->log();
  wait_settled();
  EXPECT_EQ(wait_for_convergence(backing, copy), "");
  EXPECT_EQ(inode_of(copy + "/dir/f2"), untouched) << "an equal file was rewritten";
  // File data sent: the one changed block of the 1 GiB file, and the small
  // file that was missing; nothing else.
  EXPECT_EQ(s.bytes_repaired, kBlock + std::string("small file 3\n").size());
  const uint64_t on_the_wire = connection_bytes_sent(volume_status()) - sent_before;
  EXPECT_LT(on_the_wire, 2 * kBlock) << "request bytes sent for the resync";
  RecordProperty("resync_wire_bytes", std::to_string(on_the_wire));
}

TEST_F(ResyncTest, VerifyFindsACorruptedBlockAndOtherwiseSaysEqual) {
  make_synced_pair();
  mirror::SyncStatus equal = run_walk({{"command", "verify"}, {"checksum", true}});
  EXPECT_EQ(equal.result, "equal") << mirrorfs->log();
  EXPECT_EQ(equal.differences, 0u);
  // A block corrupted on the copy, its mtime put back: only checksums see it.
  struct stat st {};
  ASSERT_EQ(stat((copy + "/big").c_str(), &st), 0);
  pwrite_at(copy + "/big", 3 * kBlock + 7, "bit rot");
  timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, (copy + "/big").c_str(), times, 0), 0);
  mirror::SyncStatus metadata_only = run_walk({{"command", "verify"}});
  EXPECT_EQ(metadata_only.result, "equal") << "size and mtime are the same";
  mirror::SyncStatus found = run_walk({{"command", "verify"}, {"checksum", true}});
  EXPECT_EQ(found.result, "differ");
  ASSERT_EQ(found.listed.size(), 1u);
  EXPECT_EQ(found.listed[0].path, "big");
  EXPECT_EQ(found.listed[0].what, "contents differ at byte " + std::to_string(3 * kBlock));
  // verify repairs nothing.
  EXPECT_NE(wait_for_convergence(backing, copy, std::chrono::milliseconds(0)), "");
  // As the operator sees it: the file and the offset, and exit status 1.
  CommandResult r = mirrorctl({"verify", "--checksum"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("big: contents differ at byte " + std::to_string(3 * kBlock)),
            std::string::npos)
      << r.output;
  // resync --checksum repairs what only checksums see, then verify agrees.
  r = mirrorctl({"resync", "--checksum"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = mirrorctl({"verify", "--checksum"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(wait_for_convergence(backing, copy), "");
}

}  // namespace
}  // namespace testing_support
