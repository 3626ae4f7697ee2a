// A real mirrorfs mount for integration tests: the daemon runs in the
// foreground as a child, mounted in a fresh temporary directory, and is
// unmounted and stopped whatever the test's outcome. If the test process
// dies, the daemon gets SIGTERM (PR_SET_PDEATHSIG) and auto_unmount removes
// the mount even if the daemon is killed.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace testing_support {

class MirrorfsProcess {
 public:
  // Starts `mirrorfs backing mountpoint -f -o auto_unmount[,options]` and
  // waits until the mount is there; throws with the daemon's output if not.
  MirrorfsProcess(std::string backing, std::string mountpoint, std::vector<std::string> options,
                  std::string log_path);
  ~MirrorfsProcess();
  MirrorfsProcess(const MirrorfsProcess&) = delete;
  MirrorfsProcess& operator=(const MirrorfsProcess&) = delete;

  pid_t pid() const { return child_.pid(); }
  // Unmounts (fusermount3 -u, lazily if busy) and waits for the daemon;
  // returns its exit status. Idempotent.
  int stop();
  void signal(int sig) { child_.signal(sig); }
  // The daemon's exit status if it has exited, else -1.
  int poll_exit() { return child_.poll_exit(); }
  std::string log() const { return child_.log(); }

 private:
  std::string mountpoint_;
  ChildProcess child_;
  // Set by the first stop(): later calls (a destructor) must not unmount what
  // a successor mounted at the same place meanwhile.
  std::optional<int> stopped_status_;
};

bool is_mounted(const std::string& path);

// A test with a fresh mirrorfs mount: `mnt` is the mount point, `backing` its
// backing directory, `native` a plain directory beside them for comparing
// behaviour.
class MountedTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Extra -o options for the mount (e.g. allow_other).
  virtual std::vector<std::string> mount_options() const { return {}; }

  std::string at(const std::string& rel) const { return mnt + "/" + rel; }
  std::string in_backing(const std::string& rel) const { return backing + "/" + rel; }
  std::string in_native(const std::string& rel) const { return native + "/" + rel; }

  std::unique_ptr<TempDir> tmp;
  std::string backing, mnt, native;
  std::unique_ptr<MirrorfsProcess> daemon;
};

// Skips the test when the machine truly cannot mount FUSE file systems.
bool fuse_available(std::string* why);

}  // namespace testing_support

using testing_support::MountedTest;
