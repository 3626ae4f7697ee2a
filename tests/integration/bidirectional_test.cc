// Bi-directional mirroring is two one-way links in opposite directions: host A
// mounts volume a and keeps b's copy, host B the reverse (here both on
// loopback). Writers on both mounts at once; both copies converge.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "tests/support/mirror_fixture.h"

namespace {

using testing_support::MirrordProcess;
using testing_support::MirrorfsProcess;
using testing_support::wait_for_convergence;
using testing_support::write_file;

TEST(Bidirectional, BothDirectionsConvergeWithWritersOnBothMounts) {
  std::string why;
  if (!testing_support::fuse_available(&why)) GTEST_SKIP() << why;
  TempDir tmp;
  for (const char* d : {"a", "b", "mnt_a", "mnt_b", "copy_of_a", "copy_of_b"}) {
    ASSERT_EQ(mkdir(tmp.sub(d).c_str(), 0755), 0);
  }
  std::string secret = tmp.sub("secret");
  testing_support::write_secret(secret, "two hosts, one secret");
  // Host A keeps b's copy; host B keeps a's.
  MirrordProcess mirrord_on_a({{"b", tmp.sub("copy_of_b")}}, secret, tmp.sub("mirrord_a.log"));
  MirrordProcess mirrord_on_b({{"a", tmp.sub("copy_of_a")}}, secret, tmp.sub("mirrord_b.log"));
  auto options = [&](const std::string& volume, uint16_t port, const std::string& mode) {
    return std::vector<std::string>{"peer=127.0.0.1:" + std::to_string(port),
                                    "volume=" + volume,
                                    "secret_file=" + secret,
                                    "mode=" + mode,
                                    "queue_dir=" + tmp.sub("queue_" + volume),
                                    "control=" + tmp.sub(volume + ".sock")};
  };
  MirrorfsProcess mount_a(tmp.sub("a"), tmp.sub("mnt_a"), options("a", mirrord_on_b.port(), "sync"),
                          tmp.sub("mirrorfs_a.log"));
  MirrorfsProcess mount_b(tmp.sub("b"), tmp.sub("mnt_b"),
                          options("b", mirrord_on_a.port(), "async"), tmp.sub("mirrorfs_b.log"));
  auto writer = [&](const std::string& mnt, char tag) {
    for (int i = 0; i < 50; ++i) {
      std::string dir = mnt + "/d" + std::to_string(i % 5);
      mkdir(dir.c_str(), 0755);
      write_file(dir + "/f" + std::to_string(i), std::string(1000 + i * 37, tag));
      if (i % 7 == 0)
        rename((dir + "/f" + std::to_string(i)).c_str(),
               (dir + "/moved" + std::to_string(i)).c_str());
    }
  };
  std::thread on_a([&] { writer(tmp.sub("mnt_a"), 'a'); });
  std::thread on_b([&] { writer(tmp.sub("mnt_b"), 'b'); });
  on_a.join();
  on_b.join();
  EXPECT_EQ(wait_for_convergence(tmp.sub("a"), tmp.sub("copy_of_a")), "");
  EXPECT_EQ(wait_for_convergence(tmp.sub("b"), tmp.sub("copy_of_b")), "");
  EXPECT_EQ(mount_a.stop(), 0);
  EXPECT_EQ(mount_b.stop(), 0);
  EXPECT_EQ(mirrord_on_a.stop(), 0);
  EXPECT_EQ(mirrord_on_b.stop(), 0);
}

}  // namespace
