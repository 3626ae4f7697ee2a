// The failure detector of heartbeat/failure_detector.h on injected time:
// connected -> interrupted exactly when the silence exceeds the timeout,
// interrupted -> probation on the first heartbeat, probation -> connected only
// after a whole probation without a gap, and a flap restarting probation.
#include "heartbeat/failure_detector.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heartbeat {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records every report as a word, "interrupted 1501" or "recovered 3000".
struct Recorder : FailureDetector::Listener {
  void heard(int64_t) override { ++heard_count; }
  void interrupted(int64_t silent_ms) override {
    events.push_back("interrupted " + std::to_string(silent_ms));
  }
  void recovered(int64_t probation_ms) override {
    events.push_back("recovered " + std::to_string(probation_ms));
  }
  void probation_started() override { events.push_back("probation"); }
  void probation_restarted(int64_t gap_ms) override {
    events.push_back("probation restarted " + std::to_string(gap_ms));
  }
  std::vector<std::string> events;
  int heard_count = 0;
};

constexpr FailureDetector::Config kConfig{
    .interval_ms = 100, .timeout_ms = 500, .probation_ms = 1000};

class FailureDetectorTest : public ::testing::Test {
 protected:
  // Heartbeats every interval from `from` up to and including `to`, ticking
  // between them as the receiver would.
  void steady(int64_t from, int64_t to) {
    for (int64_t t = from; t <= to; t += kConfig.interval_ms) {
      detector.heard(t);
      detector.tick(t + kConfig.interval_ms / 2);
    }
  }
  // Brings the detector to connected, the last heartbeat at `at`.
  void connect(int64_t at) {
    steady(at - kConfig.probation_ms, at);
    ASSERT_EQ(detector.state(), LinkState::connected);
    recorder.events.clear();
  }

  Recorder recorder;
  FailureDetector detector{kConfig, recorder};
};

TEST_F(FailureDetectorTest, NeverHeardStartsInterruptedWithoutReporting) {
  EXPECT_EQ(detector.state(), LinkState::interrupted);
  EXPECT_FALSE(detector.ever_heard());
  for (int64_t t = 0; t < 10000; t += 100) detector.tick(t);
  EXPECT_EQ(detector.state(), LinkState::interrupted);
  EXPECT_THAT(recorder.events, ElementsAre());
}

TEST_F(FailureDetectorTest, FirstHeartbeatStartsProbation) {
  detector.heard(5000);
  EXPECT_EQ(detector.state(), LinkState::probation);
  EXPECT_TRUE(detector.ever_heard());
  EXPECT_EQ(detector.probation_start_ms(), 5000);
  EXPECT_EQ(recorder.heard_count, 1);
  EXPECT_THAT(recorder.events, ElementsAre("probation"));
}

TEST_F(FailureDetectorTest, SteadyHeartbeatsRecoverAfterExactlyTheProbation) {
  detector.heard(0);
  steady(100, 900);
  detector.tick(999);
  EXPECT_EQ(detector.state(), LinkState::probation);
  detector.tick(1000);
  EXPECT_EQ(detector.state(), LinkState::connected);
  EXPECT_THAT(recorder.events, ElementsAre("probation", "recovered 1000"));
}

TEST_F(FailureDetectorTest, HeartbeatAtTheEndOfProbationRecoversToo) {
  steady(0, 1000);
  EXPECT_EQ(detector.state(), LinkState::connected);
  EXPECT_THAT(recorder.events, ElementsAre("probation", "recovered 1000"));
}

TEST_F(FailureDetectorTest, ConnectedIsInterruptedOnlyAfterTheTimeout) {
  connect(10000);
  detector.tick(10000 + kConfig.timeout_ms);  // silent exactly the timeout: still fine
  EXPECT_EQ(detector.state(), LinkState::connected);
  EXPECT_THAT(recorder.events, ElementsAre());
  detector.tick(10000 + kConfig.timeout_ms + 1);
  EXPECT_EQ(detector.state(), LinkState::interrupted);
  EXPECT_THAT(recorder.events, ElementsAre("interrupted 501"));
  detector.tick(20000);  // reported once, not per tick
  EXPECT_THAT(recorder.events, ElementsAre("interrupted 501"));
}

TEST_F(FailureDetectorTest, HeartbeatsRefreshAConnectedLink) {
  connect(10000);
  steady(10100, 20000);
  EXPECT_EQ(detector.state(), LinkState::connected);
  EXPECT_EQ(detector.last_heard_ms(), 20000);
  EXPECT_THAT(recorder.events, ElementsAre());
}

TEST_F(FailureDetectorTest, InterruptedThenProbationThenConnected) {
  connect(10000);
  detector.tick(11000);
  detector.heard(30000);
  EXPECT_EQ(detector.state(), LinkState::probation);
  steady(30100, 31000);
  EXPECT_EQ(detector.state(), LinkState::connected);
  EXPECT_THAT(recorder.events, ElementsAre("interrupted 1000", "probation", "recovered 1000"));
}

TEST_F(FailureDetectorTest, GapDuringProbationRestartsIt) {
  // Heartbeats every interval but one gap longer than the timeout, seen only
  // by the next heartbeat (no tick fell inside it).
  detector.heard(0);
  steady(100, 600);
  detector.heard(1200);  // a gap of 600 > 500
  EXPECT_EQ(detector.state(), LinkState::probation);
  EXPECT_EQ(detector.probation_start_ms(), 1200);
  steady(1300, 2100);
  detector.tick(2199);
  EXPECT_EQ(detector.state(), LinkState::probation) << "recovered before a gap-free probation";
  detector.heard(2200);
  EXPECT_EQ(detector.state(), LinkState::connected);
  EXPECT_THAT(recorder.events,
              ElementsAre("probation", "probation restarted 600", "recovered 1000"));
}

TEST_F(FailureDetectorTest, SilenceDuringProbationInterruptsAgain) {
  detector.heard(0);
  steady(100, 400);
  detector.tick(901);
  EXPECT_EQ(detector.state(), LinkState::interrupted);
  detector.heard(950);
  EXPECT_EQ(detector.probation_start_ms(), 950);
  steady(1050, 1950);
  EXPECT_EQ(detector.state(), LinkState::connected);
  EXPECT_THAT(recorder.events,
              ElementsAre("probation", "interrupted 501", "probation", "recovered 1000"));
}

TEST_F(FailureDetectorTest, FlappingHeartbeatsNeverRecover) {
  // Bursts of steady heartbeats shorter than the probation, with gaps: the
  // link never comes back.
  int64_t t = 0;
  for (int burst = 0; burst < 10; ++burst) {
    steady(t, t + 800);
    t += 800 + 600;
  }
  EXPECT_NE(detector.state(), LinkState::connected);
  for (const std::string& e : recorder.events)
    EXPECT_THAT(e, ::testing::Not(HasSubstr("recovered")));
}

TEST_F(FailureDetectorTest, ALateHeartbeatOnAConnectedLinkIsAnInterruption) {
  connect(10000);
  detector.heard(10600);  // no tick saw the 600 ms silence
  EXPECT_EQ(detector.state(), LinkState::probation);
  EXPECT_THAT(recorder.events, ElementsAre("interrupted 600", "probation"));
}

TEST_F(FailureDetectorTest, ZeroProbationRecoversOnTheFirstHeartbeat) {
  Recorder r;
  FailureDetector d({.interval_ms = 100, .timeout_ms = 500, .probation_ms = 0}, r);
  d.heard(7);
  EXPECT_EQ(d.state(), LinkState::connected);
  EXPECT_THAT(r.events, ElementsAre("probation", "recovered 0"));
}

TEST(FailureDetectorConfig, InvalidOptionsAreNamed) {
  auto message = [](FailureDetector::Config c) -> std::string {
    try {
      c.validate();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message(kConfig), "");
  EXPECT_THAT(message({.interval_ms = 0, .timeout_ms = 500, .probation_ms = 0}),
              HasSubstr("heartbeat_interval must be positive"));
  EXPECT_THAT(message({.interval_ms = 500, .timeout_ms = 500, .probation_ms = 0}),
              HasSubstr("heartbeat_timeout (500 ms) must be longer than heartbeat_interval"));
  EXPECT_THAT(message({.interval_ms = 100, .timeout_ms = 500, .probation_ms = -1}),
              HasSubstr("probation must not be negative"));
  Recorder r;
  EXPECT_THROW(FailureDetector({.interval_ms = 100, .timeout_ms = 50, .probation_ms = 0}, r),
               std::invalid_argument);
}

}  // namespace
}  // namespace heartbeat
