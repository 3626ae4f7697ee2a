// The heartbeat threads of heartbeat/heartbeat.h over real UDP sockets on
// loopback: heartbeats are delivered and reported with their sender; forged,
// replayed, reordered, stale and garbled datagrams are counted and never
// reported as heard; a failure detector driven by the receiver sees the link
// come and go; stop() returns promptly whatever the interval. Every wait has
// a deadline; nothing sleeps as synchronisation.
#include "heartbeat/heartbeat.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "heartbeat/datagram.h"

namespace heartbeat {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr auto kDeadline = 10s;

std::vector<std::byte> bytes_of(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

HeartbeatConfig config(int64_t interval_ms = 20) {
  return {.interval_ms = interval_ms,
          .timeout_ms = interval_ms * 10,
          .probation_ms = interval_ms * 5,
          .secret = bytes_of("s3cret"),
          .identity = 0,
          .link_name = "vol"};
}

// What the receiver reported, for the test thread to wait on.
struct Reports {
  struct Heard {
    uint64_t identity;
    std::string link;
    std::string from;
  };
  void heard(uint64_t identity, std::string_view link, const sockaddr_storage& from, int64_t) {
    std::lock_guard lock(mutex);
    heards.push_back({identity, std::string(link), format_address(from)});
    changed.notify_all();
  }
  void tick(int64_t) {
    std::lock_guard lock(mutex);
    ++ticks;
    changed.notify_all();
  }
  // Waits until `done()` (called under the lock) holds; false at the deadline.
  bool wait(const std::function<bool()>& done) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kDeadline, done);
  }
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Heard> heards;  // guarded by mutex
  int ticks = 0;              // guarded by mutex
};

// Waits with a deadline until `pred` holds, polling a value another thread
// changes without notifying (the receiver's counters).
bool eventually(const std::function<bool()>& pred) {
  auto until = std::chrono::steady_clock::now() + kDeadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    ::poll(nullptr, 0, 2);
  }
  return true;
}

// Receives one datagram on `socket` within the deadline.
std::vector<std::byte> capture(const HeartbeatSocket& socket) {
  pollfd p{socket.fd(), POLLIN, 0};
  if (::poll(&p, 1, std::chrono::milliseconds(kDeadline).count()) != 1) {
    throw std::runtime_error("no datagram captured");
  }
  std::vector<std::byte> buffer(kMaxDatagram);
  ssize_t n = ::recv(socket.fd(), buffer.data(), buffer.size(), 0);
  if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
  buffer.resize(n);
  return buffer;
}

TEST(HeartbeatAddress, ParsesAndFormatsIPv4AndIPv6) {
  EXPECT_EQ(format_address(parse_address("127.0.0.1:7400")), "127.0.0.1:7400");
  EXPECT_EQ(format_address(parse_address("[::1]:7400")), "[::1]:7400");
  EXPECT_THAT([] { parse_address("127.0.0.1"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("want ADDR:PORT")));
  EXPECT_THAT([] { parse_address("127.0.0.1:70000"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("0 to 65535")));
  EXPECT_THROW(parse_address("[::1]7400"), std::invalid_argument);
  EXPECT_THROW(parse_address("no.such.host.invalid:7400"), std::invalid_argument);
}

TEST(HeartbeatSocket, BindsAnEphemeralPort) {
  HeartbeatSocket v4("127.0.0.1:0");
  EXPECT_NE(v4.port(), 0);
  EXPECT_EQ(format_address(v4.local_address()), "127.0.0.1:" + std::to_string(v4.port()));
  HeartbeatSocket v6("[::1]:0");
  EXPECT_NE(v6.port(), 0);
  EXPECT_THROW(HeartbeatSocket("127.0.0.1:" + std::to_string(v4.port())), std::runtime_error);
}

TEST(HeartbeatConfig, InvalidOptionsAreNamed) {
  HeartbeatConfig c = config();
  c.secret.clear();
  EXPECT_THAT([&] { c.validate(); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("secret is empty")));
  c = config();
  c.link_name = "";
  EXPECT_THAT([&] { c.validate(); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("link name is empty")));
  c = config();
  c.timeout_ms = c.interval_ms;
  EXPECT_THAT([&] { c.validate(); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("heartbeat_timeout")));
}

class HeartbeatLoopback : public ::testing::Test {
 protected:
  HeartbeatSocket receiving{"127.0.0.1:0"};
  HeartbeatSocket sending{"127.0.0.1:0"};
  Reports reports;
  HeartbeatReceiver receiver{
      receiving, config(),
      [this](uint64_t id, std::string_view link, const sockaddr_storage& from, int64_t now) {
        reports.heard(id, link, from, now);
      },
      [this](int64_t now) { reports.tick(now); }};
};

TEST_F(HeartbeatLoopback, SenderHeartbeatsAreHeard) {
  receiver.start();
  const sockaddr_storage to = receiving.local_address();
  HeartbeatSender sender(sending, config(), [&] { return std::vector{to}; });
  sender.start();
  ASSERT_TRUE(reports.wait([&] { return reports.heards.size() >= 5 && reports.ticks >= 5; }));
  sender.stop();
  std::lock_guard lock(reports.mutex);
  for (const Reports::Heard& h : reports.heards) {
    EXPECT_EQ(h.identity, sender.identity());
    EXPECT_EQ(h.link, "vol");
    EXPECT_EQ(h.from, "127.0.0.1:" + std::to_string(sending.port()));
  }
  HeartbeatReceiver::Counters c = receiver.counters();
  EXPECT_EQ(c.accepted, reports.heards.size());
  EXPECT_EQ(c.forged + c.replayed + c.malformed + c.stale, 0u);
}

TEST_F(HeartbeatLoopback, ForgedReplayedReorderedAndGarbledAreCountedNotHeard) {
  receiver.start();
  // A genuine datagram of the sender, captured on the way.
  HeartbeatSocket tap("127.0.0.1:0");
  const sockaddr_storage tapped = tap.local_address();
  HeartbeatSender sender(sending, config(), [&] { return std::vector{tapped}; });
  sender.start();
  const std::vector<std::byte> genuine = capture(tap);
  sender.stop();

  HeartbeatSocket attacker("127.0.0.1:0");
  const sockaddr_storage to = receiving.local_address();
  ASSERT_EQ(attacker.send_to(genuine, to), 0);  // believed once
  ASSERT_EQ(attacker.send_to(genuine, to), 0);  // replayed
  Datagram d{.identity = 77, .sequence = 5, .send_time_ms = 0, .link = "vol"};
  ASSERT_EQ(attacker.send_to(encode(d, bytes_of("guess")), to), 0);   // forged
  ASSERT_EQ(attacker.send_to(encode(d, bytes_of("s3cret")), to), 0);  // believed
  d.sequence = 4;
  ASSERT_EQ(attacker.send_to(encode(d, bytes_of("s3cret")), to), 0);  // reordered
  ASSERT_EQ(attacker.send_to(bytes_of("hello, heartbeat"), to), 0);   // malformed

  ASSERT_TRUE(eventually([&] { return receiver.counters().received == 6; }));
  HeartbeatReceiver::Counters c = receiver.counters();
  EXPECT_EQ(c.accepted, 2u);
  EXPECT_EQ(c.replayed, 2u);
  EXPECT_EQ(c.forged, 1u);
  EXPECT_EQ(c.malformed, 1u);
  std::lock_guard lock(reports.mutex);
  ASSERT_EQ(reports.heards.size(), 2u);
  EXPECT_EQ(reports.heards[0].identity, sender.identity());
  EXPECT_EQ(reports.heards[1].identity, 77u);
}

TEST(HeartbeatStale, OldSendTimesAreCountedWhenAMaximumAgeIsSet) {
  HeartbeatSocket receiving("127.0.0.1:0"), attacker("127.0.0.1:0");
  HeartbeatConfig c = config();
  c.max_age_ms = 60000;
  int heard = 0;  // only the receiver thread touches it until stop()
  HeartbeatReceiver receiver(
      receiving, c, [&](uint64_t, std::string_view, const sockaddr_storage&, int64_t) { ++heard; },
      [](int64_t) {});
  receiver.start();
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t now_ms = static_cast<uint64_t>(ts.tv_sec) * 1000;
  Datagram d{.identity = 9, .sequence = 1, .send_time_ms = now_ms - 3600000, .link = "vol"};
  ASSERT_EQ(attacker.send_to(encode(d, c.secret), receiving.local_address()), 0);
  d.sequence = 2;
  d.send_time_ms = now_ms;
  ASSERT_EQ(attacker.send_to(encode(d, c.secret), receiving.local_address()), 0);
  ASSERT_TRUE(eventually([&] { return receiver.counters().received == 2; }));
  receiver.stop();
  EXPECT_EQ(receiver.counters().stale, 1u);
  EXPECT_EQ(receiver.counters().accepted, 1u);
  EXPECT_EQ(heard, 1);
}

// A FailureDetector driven by the receiver, as mirror/ drives one.
struct LinkWatcher : FailureDetector::Listener {
  void heard(int64_t) override {}
  void interrupted(int64_t) override { record("interrupted"); }
  void recovered(int64_t) override { record("recovered"); }
  void probation_started() override { record("probation"); }
  void record(std::string e) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(e));
    changed.notify_all();
  }
  // Waits for event `e` among the events from index `from` on.
  bool wait_for(const std::string& e, size_t from = 0) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, kDeadline, [&] {
      return std::find(events.begin() + std::min(from, events.size()), events.end(), e) !=
             events.end();
    });
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return events.size();
  }
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> events;  // guarded by mutex
};

TEST(HeartbeatLink, DetectorSeesTheLinkRecoverAndBeInterrupted) {
  HeartbeatSocket receiving("127.0.0.1:0"), sending("127.0.0.1:0");
  LinkWatcher watcher;
  FailureDetector detector(config().detector(), watcher);  // only the receiver thread uses it
  HeartbeatReceiver receiver(
      receiving, config(),
      [&](uint64_t, std::string_view, const sockaddr_storage&, int64_t now) {
        detector.heard(now);
      },
      [&](int64_t now) { detector.tick(now); });
  receiver.start();
  const sockaddr_storage to = receiving.local_address();
  HeartbeatSender sender(sending, config(), [&] { return std::vector{to}; });
  sender.start();
  ASSERT_TRUE(watcher.wait_for("probation"));
  ASSERT_TRUE(watcher.wait_for("recovered"));
  sender.stop();
  // (A loaded machine may have made the link flap before; what counts is the
  // interruption after the sender stopped.)
  ASSERT_TRUE(watcher.wait_for("interrupted", watcher.count()));
  receiver.stop();
  EXPECT_EQ(detector.state(), LinkState::interrupted);
}

TEST(HeartbeatShutdown, StopReturnsPromptlyWhateverTheInterval) {
  HeartbeatSocket receiving("127.0.0.1:0"), sending("127.0.0.1:0");
  HeartbeatConfig slow = config(60000);  // a minute between heartbeats and ticks
  HeartbeatReceiver receiver(
      receiving, slow, [](uint64_t, std::string_view, const sockaddr_storage&, int64_t) {},
      [](int64_t) {});
  const sockaddr_storage to = receiving.local_address();
  HeartbeatSender sender(sending, slow, [&] { return std::vector{to}; });
  receiver.start();
  sender.start();
  ASSERT_TRUE(eventually([&] { return receiver.counters().accepted == 1; }));
  const auto begin = std::chrono::steady_clock::now();
  sender.stop();
  receiver.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s) << "stop() waited for the interval";
  EXPECT_EQ(sender.sent(), 1u);
  sender.stop();  // again: a no-op
  receiver.stop();
}

}  // namespace
}  // namespace heartbeat
