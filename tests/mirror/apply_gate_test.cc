// The order the mirror applies requests in (apply_gate.h): the watermark
// moves over contiguous sequences only, and advance_to() moves it on when the
// local server says the requests below some sequence are no longer awaited.
#include "mirror/apply_gate.h"

#include <chrono>
#include <future>

#include "gtest/gtest.h"

namespace mirror {
namespace {

using namespace std::chrono_literals;

TEST(ApplyGate, TheWatermarkMovesOverContiguousSequencesOnly) {
  ApplyGate gate(4);
  gate.mark_applied(6);
  EXPECT_EQ(gate.applied_through(), 4u);
  EXPECT_TRUE(gate.is_applied(6));
  EXPECT_FALSE(gate.is_applied(5));
  gate.mark_applied(5);
  EXPECT_EQ(gate.applied_through(), 6u);
}

TEST(ApplyGate, AdvanceToRaisesTheWatermarkAndNeverLowersIt) {
  ApplyGate gate(10);
  gate.advance_to(7);
  EXPECT_EQ(gate.applied_through(), 10u);
  gate.advance_to(25);
  EXPECT_EQ(gate.applied_through(), 25u);
  EXPECT_TRUE(gate.is_applied(20));
  EXPECT_FALSE(gate.is_applied(26));
  gate.mark_applied(3);  // long counted as applied: nothing changes
  EXPECT_EQ(gate.applied_through(), 25u);
}

TEST(ApplyGate, AdvanceToJoinsWhatWasAppliedAboveTheGap) {
  ApplyGate gate(0);
  gate.mark_applied(5);  // below the new watermark: forgotten
  gate.mark_applied(12);
  gate.mark_applied(13);
  gate.mark_applied(15);
  gate.advance_to(11);
  EXPECT_EQ(gate.applied_through(), 13u);
  EXPECT_TRUE(gate.is_applied(15));
  EXPECT_FALSE(gate.is_applied(14));
  gate.mark_applied(14);
  EXPECT_EQ(gate.applied_through(), 15u);
}

TEST(ApplyGate, AdvanceToReleasesARequestWaitingForItsBarrier) {
  ApplyGate gate(0);
  // The waiter gives up only after a minute: it returns "ready" because
  // advance_to woke it (or had already moved the watermark when it came).
  auto waiter = std::async(std::launch::async, [&] { return gate.wait_for(30, 60s); });
  gate.advance_to(29);
  EXPECT_EQ(gate.wait_for(30, 0ms), ApplyGate::Wait::timeout);
  gate.advance_to(30);
  ASSERT_EQ(waiter.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(waiter.get(), ApplyGate::Wait::ready);
}

TEST(ApplyGate, AbandonWakesWaiters) {
  ApplyGate gate(0);
  auto waiter = std::async(std::launch::async, [&] { return gate.wait_for(1, 60s); });
  gate.abandon();
  ASSERT_EQ(waiter.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(waiter.get(), ApplyGate::Wait::abandoned);
}

}  // namespace
}  // namespace mirror
