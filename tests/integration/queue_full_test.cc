// Issue 6, queue limit: with on_queue_full=resync (the default) and the peer
// away, writers never wait once the queue is full; the changes fold into a
// small, bounded dirty set, and the copy converges after the peer returns.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/copy_sync_fixture.h"

namespace testing_support {
namespace {

namespace fs = std::filesystem;

TEST_F(CopySyncTest, FullQueueFoldsIntoTheDirtySetAndTheCopyConverges) {
  start_mirrord(copy);
  start_mirrorfs(backing, {"queue_max=1M"});
  wait_settled();
  mirrord->signal(SIGSTOP);
  struct Continue {
    MirrordProcess& d;
    ~Continue() { d.signal(SIGCONT); }
  } resume{*mirrord};
  ASSERT_TRUE(wait_until([&] { return volume_status().at("link") == "interrupted"; },
                         std::chrono::seconds(10)));
  // 4 MiB into one file, then small files in 1500 directories: far beyond
  // the queue's 1 MiB and the dirty set's 1024 directories. With the peer
  // stopped, this finishing at all shows the writer never waited.
  {
    std::ofstream big(mnt + "/big", std::ios::binary);
    std::string chunk(64 * 1024, 'b');
    for (int i = 0; i < 64; ++i) big << chunk;
  }
  for (int d = 0; d < 1500; ++d) {
    const std::string dir = mnt + "/d" + std::to_string(d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
    std::ofstream(dir + "/f") << "file in directory " << d << "\n";
  }
  auto v = volume_status();
  auto s = v.at("sync").get<mirror::SyncStatus>();
  EXPECT_EQ(s.copy, "inconsistent");
  EXPECT_GE(s.dirty, 1u);
  EXPECT_LE(s.dirty, 1024u) << "the dirty set outgrew its bound";
  EXPECT_EQ(v.at("queue").at("waiting_for_space"), 0);
  EXPECT_LT(fs::file_size(tmp->sub("queue-backing/dirty-set")), 64u * 1024);
  EXPECT_NE(v.at("last_error").at("message").get<std::string>().find("dirty set"),
            std::string::npos);
  mirrord->signal(SIGCONT);
  wait_settled(std::chrono::seconds(120));
  EXPECT_EQ(wait_for_convergence(backing, copy), "");
  EXPECT_EQ(sync_status().dirty, 0u);
  EXPECT_FALSE(fs::exists(tmp->sub("queue-backing/dirty-set")));
}

}  // namespace
}  // namespace testing_support
