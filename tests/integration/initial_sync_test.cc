// Issue 6, the first copy: mirrorfs started on a backing directory that
// already holds a real source tree, with an empty copy, brings the copy to
// equal it in the background while a writer works through the mount; and a
// kill -9 of either daemon in the middle of it resumes, not restarts.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/copy_sync_fixture.h"

namespace testing_support {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTree = "/usr/include/linux";

// Creates, appends to, renames and deletes files through the mount, some of
// them inside the tree being synced, until told to stop.
class Writer {
 public:
  explicit Writer(std::string mnt) : mnt_(std::move(mnt)) {
    fs::create_directories(mnt_ + "/writer");
    thread_ = std::thread([this] { run(); });
  }
  ~Writer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int rounds() const { return rounds_; }

 private:
  void run() {
    for (int i = 0; !stop_; ++i) {
      const std::string name = mnt_ + "/writer/f" + std::to_string(i % 40);
      std::ofstream(name, std::ios::app) << "round " << i << "\n";
      if (i % 7 == 0) fs::rename(name, mnt_ + "/writer/moved" + std::to_string(i % 5));
      if (i % 11 == 0) std::ofstream(mnt_ + "/linux/sync-live.h", std::ios::app) << i << "\n";
      if (i % 13 == 0) {
        std::error_code ec;
        fs::remove(mnt_ + "/writer/f" + std::to_string((i + 3) % 40), ec);
      }
      if (i % 17 == 0) std::ofstream(mnt_ + "/linux/if.h", std::ios::app) << "/* " << i << " */\n";
      rounds_ = i + 1;
    }
  }
  std::string mnt_;
  std::atomic<bool> stop_{false};
  std::atomic<int> rounds_{0};
  std::thread thread_;
};

uint64_t bytes_of_files(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && !e.is_symlink()) n += e.file_size();
  }
  return n;
}

TEST_F(CopySyncTest, InitialSyncConvergesWhileAWriterWorks) {
  copy_tree(kTree, backing);
  const uint64_t tree_bytes = bytes_of_files(backing);
  start_mirrord(copy);
  start_mirrorfs(backing);
  {
    Writer writer(mnt);
    // The writer works through the whole sync, and a little after it.
    ASSERT_TRUE(wait_until(
        [&] {
          auto s = sync_status();
          return s.result == "repaired" && writer.rounds() > 20;
        },
        std::chrono::seconds(60)))
        << volume_status().dump(2) << "\n"
        << mirrorfs->log();
    writer.stop();
  }
  wait_settled();
  EXPECT_EQ(wait_for_convergence(backing, copy), "");
  auto s = sync_status();
  EXPECT_GE(s.files_done, 700u);
  EXPECT_GE(s.bytes_repaired, tree_bytes) << "the tree's bytes went over the wire";
  EXPECT_NE(mirrorfs->log().find("copy without identity"), std::string::npos);
}

// Kills `victim` once the walk is well under way (a part of the tree synced,
// not all of it); false when the walk was over first.
bool midway(CopySyncTest& t, const std::function<void()>& victim) {
  const bool under_way = wait_until(
      [&] {
        auto s = t.sync_status();
        return s.state == "initial-sync" && s.files_done >= 20;
      },
      std::chrono::seconds(30));
  if (!under_way) return false;
  victim();
  return true;
}

TEST_F(CopySyncTest, KillOfMirrordDuringInitialSyncResumesAndConverges) {
  copy_tree("/usr/include/c++", backing);
  start_mirrord(copy);
  const uint16_t port = mirrord->port();
  start_mirrorfs(backing);
  ASSERT_TRUE(midway(*this, [&] {
    mirrord->signal(SIGKILL);
    mirrord->stop();
  })) << mirrorfs->log();
  EXPECT_NE(sync_status().copy, "consistent");
  start_mirrord(copy, port);
  wait_settled();
  EXPECT_EQ(wait_for_convergence(backing, copy), "");
  // The second walk went on from the first: what was synced was not sent again.
  EXPECT_NE(mirrorfs->log().find("resuming after"), std::string::npos) << mirrorfs->log();
}

TEST_F(CopySyncTest, KillOfMirrorfsDuringInitialSyncResumesAndConverges) {
  copy_tree("/usr/include/c++", backing);
  start_mirrord(copy);
  start_mirrorfs(backing);
  ASSERT_TRUE(midway(*this, [&] {
    mirrorfs->signal(SIGKILL);
    mirrorfs->stop();
  }));
  ASSERT_TRUE(wait_until([&] { return !is_mounted(mnt); }, std::chrono::seconds(10)));
  start_mirrorfs(backing);
  wait_settled();
  EXPECT_EQ(wait_for_convergence(backing, copy), "");
  const std::string log = mirrorfs->log();
  EXPECT_NE(log.find("a sync of the copy was not finished"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming after"), std::string::npos) << log;
}

}  // namespace
}  // namespace testing_support
