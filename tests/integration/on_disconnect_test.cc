// Sync mode while the peer is away: -o on_disconnect= decides whether an
// operation returns once queued (queue), waits for the peer (block) or fails
// with EIO (fail). In every case the change is made locally and queued, and
// the copy converges once the peer is back.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "tests/support/mirror_fixture.h"

namespace {

using namespace std::chrono_literals;
using testing_support::wait_until;

class OnDisconnectTest : public MirroredTest {
 protected:
  std::vector<std::string> extra_mount_options() const override {
    return {"heartbeat_interval=50", "heartbeat_timeout=1000", "probation=300",
            "on_disconnect=" + GetParam()};
  }
  // Stops mirrord and waits until mirrorfs has declared the link interrupted.
  void interrupt() {
    mirrord->signal(SIGSTOP);
    ASSERT_TRUE(wait_until(
        [&] { return mirrorfs->log().find("link vol interrupted") != std::string::npos; }, 10s))
        << mirrorfs->log();
  }
  // Sync whatever the suite's parameter, which is the policy.
  std::string mode() const override { return "sync"; }
};

TEST_P(OnDisconnectTest, PolicyDecidesWhatASyncOperationDoesWhileThePeerIsAway) {
  interrupt();
  std::atomic<bool> done{false};
  std::atomic<int> result{0}, error{0};
  std::thread caller([&] {
    int r = mkdir(at("made-while-away").c_str(), 0755);
    error = errno;
    result = r;
    done = true;
  });
  if (GetParam() == "block") {
    // A negative claim needs an interval: still waiting for the peer.
    EXPECT_FALSE(wait_until([&] { return done.load(); }, 500ms)) << "block did not block";
    mirrord->signal(SIGCONT);
    EXPECT_TRUE(wait_until([&] { return done.load(); }, 20s)) << "still blocked after recovery";
    caller.join();
    EXPECT_EQ(result.load(), 0) << strerror(error.load());
    // It returned because the mirror stored it.
    EXPECT_EQ(access(in_copy("made-while-away").c_str(), F_OK), 0);
  } else {
    EXPECT_TRUE(wait_until([&] { return done.load(); }, 5s)) << GetParam() << " blocked";
    caller.join();
    if (GetParam() == "fail") {
      EXPECT_EQ(result.load(), -1);
      EXPECT_EQ(error.load(), EIO);
    } else {
      EXPECT_EQ(result.load(), 0) << strerror(error.load());
    }
    mirrord->signal(SIGCONT);
  }
  // Made locally in every case, and queued for the copy.
  EXPECT_EQ(access(in_backing("made-while-away").c_str(), F_OK), 0);
  expect_converged();
}

INSTANTIATE_TEST_SUITE_P(Policies, OnDisconnectTest, ::testing::Values("queue", "block", "fail"),
                         [](const auto& info) { return info.param; });

}  // namespace
