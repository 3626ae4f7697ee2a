// mirrord's side of heartbeats and of restart without loss, against the real
// daemon: a hand-made heartbeat sender and receiver from heartbeat/ play the
// local server's heartbeats, and a hand-made authenticated TCP connection its
// requests. mirrord answers heartbeats at the address they come from; when
// they stop for longer than --heartbeat-timeout it marks the connections
// closed and an idle connection thread ends after --request-timeout; and
// requests sent again after a kill -9 and a restart, in the same session, are
// answered without being applied twice.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "heartbeat/heartbeat.h"
#include "mirror/auth.h"
#include "mirror/frame_io.h"
#include "mirror/wire_format.h"
#include "tests/support/mirror_fixture.h"
#include "tests/support/process.h"
#include "tests/support/raw_peer.h"
#include "tests/support/temp_dir.h"

namespace {

namespace wire = mirror::wire;
using mirror::IoStatus;
using mirror::MirrorRequest;
using mirror::Op;
using testing_support::MirrordProcess;
using testing_support::RawPeer;
using testing_support::read_file;
using testing_support::wait_until;
using testing_support::write_file;
using testing_support::write_secret;

constexpr int64_t kIntervalMs = 50;
constexpr int64_t kTimeoutMs = 400;
constexpr int kRequestTimeoutMs = 200;  // what MirrordProcess gives mirrord

bool has_line_with(const std::string& log, std::initializer_list<std::string> parts) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

MirrorRequest create_request(const std::string& path) {
  MirrorRequest r;
  r.op = Op::create;
  r.path = path;
  r.attr.valid = mirror::kAttrMode;
  r.attr.mode = S_IFREG | 0644;
  return r;
}

MirrorRequest write_request(const std::string& path, uint64_t offset, const std::string& text) {
  MirrorRequest r;
  r.op = Op::write;
  r.path = path;
  r.offset = offset;
  r.data = bytes_of(text);
  r.length = text.size();
  return r;
}

MirrorRequest truncate_request(const std::string& path, uint64_t size) {
  MirrorRequest r;
  r.op = Op::truncate;
  r.path = path;
  r.attr.valid = mirror::kAttrSize;
  r.attr.size = size;
  return r;
}

// A hand-made local server's heartbeats: a sender to mirrord's port and a
// receiver counting mirrord's answers, sharing one socket.
class LocalHeartbeats {
 public:
  LocalHeartbeats(const mirror::Secret& secret, uint16_t mirrord_port)
      : socket_("127.0.0.1:0"),
        mirrord_(heartbeat::parse_address("127.0.0.1:" + std::to_string(mirrord_port))) {
    config_.interval_ms = kIntervalMs;
    config_.timeout_ms = kTimeoutMs;
    config_.secret.assign(secret.bytes().begin(), secret.bytes().end());
    config_.link_name = "vol";
    receiver_ = std::make_unique<heartbeat::HeartbeatReceiver>(
        socket_, config_,
        [this](uint64_t, std::string_view link, const sockaddr_storage&, int64_t) {
          if (link == "mirrord") heard_.fetch_add(1);
        },
        [](int64_t) {});
    receiver_->start();
  }
  ~LocalHeartbeats() {
    stop_sending();
    receiver_->stop();
  }

  void start_sending() {
    sender_ = std::make_unique<heartbeat::HeartbeatSender>(
        socket_, config_, [this] { return std::vector<sockaddr_storage>{mirrord_}; });
    sender_->start();
  }
  void stop_sending() {
    if (sender_) sender_->stop();
    sender_.reset();
  }
  uint64_t heard() const { return heard_.load(); }  // datagrams from mirrord
  std::string address() const { return heartbeat::format_address(socket_.local_address()); }

 private:
  heartbeat::HeartbeatSocket socket_;
  sockaddr_storage mirrord_;
  heartbeat::HeartbeatConfig config_;
  std::atomic<uint64_t> heard_{0};
  std::unique_ptr<heartbeat::HeartbeatReceiver> receiver_;
  std::unique_ptr<heartbeat::HeartbeatSender> sender_;
};

class MirrordHeartbeatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    copy = tmp.sub("copy");
    secret_path = tmp.sub("secret");
    ASSERT_EQ(mkdir(copy.c_str(), 0755), 0);
    write_secret(secret_path, "the secret of the mirrord heartbeat tests\n");
    secret = std::make_unique<mirror::Secret>(mirror::Secret::from_file(secret_path));
    start_mirrord();
  }

  void TearDown() override {
    if (mirrord) {
      EXPECT_EQ(mirrord->stop(), 0) << "mirrord did not exit cleanly";
      if (HasFailure()) std::cerr << "mirrord output:\n" << mirrord->log();
    }
    mirrord.reset();
  }

  void start_mirrord() {
    mirrord = std::make_unique<MirrordProcess>(
        std::vector<std::pair<std::string, std::string>>{{"vol", copy}}, secret_path,
        tmp.sub("mirrord-" + std::to_string(++runs) + ".log"),
        std::vector<std::string>{"--heartbeat-interval", std::to_string(kIntervalMs),
                                 "--heartbeat-timeout", std::to_string(kTimeoutMs)});
  }

  void kill_mirrord() {
    mirrord->signal(SIGKILL);
    ASSERT_TRUE(wait_until([&] { return mirrord->poll_exit() != -1; }));
    EXPECT_EQ(mirrord->poll_exit(), 128 + SIGKILL);
  }

  bool log_has(std::initializer_list<std::string> parts) {
    return wait_until([&] { return has_line_with(mirrord->log(), parts); });
  }

  TempDir tmp;
  std::string copy, secret_path;
  std::unique_ptr<mirror::Secret> secret;
  std::unique_ptr<MirrordProcess> mirrord;
  int runs = 0;
};

TEST_F(MirrordHeartbeatTest, AnswersHeartbeatsAtTheAddressTheyComeFrom) {
  LocalHeartbeats local(*secret, mirrord->port());
  EXPECT_EQ(local.heard(), 0u) << "mirrord sent heartbeats before hearing any";
  local.start_sending();
  EXPECT_TRUE(wait_until([&] { return local.heard() >= 3; }))
      << "no heartbeats back from mirrord at " << local.address();
}

TEST_F(MirrordHeartbeatTest, HeartbeatsForAnotherVolumeAreNotAnswered) {
  // A sender for a volume this mirrord does not serve; after it, one for
  // "vol" on the same socket: only the second is answered.
  heartbeat::HeartbeatSocket socket("127.0.0.1:0");
  heartbeat::HeartbeatConfig config;
  config.interval_ms = kIntervalMs;
  config.timeout_ms = kTimeoutMs;
  config.secret.assign(secret->bytes().begin(), secret->bytes().end());
  config.link_name = "other";
  std::atomic<int> heard{0};
  heartbeat::HeartbeatReceiver receiver(
      socket, config,
      [&](uint64_t, std::string_view, const sockaddr_storage&, int64_t) { ++heard; },
      [](int64_t) {});
  receiver.start();
  auto to = heartbeat::parse_address("127.0.0.1:" + std::to_string(mirrord->port()));
  heartbeat::HeartbeatSender sender(socket, config, [&] { return std::vector{to}; });
  sender.start();
  // Enough of ours sent for several of mirrord's intervals to have passed.
  ASSERT_TRUE(wait_until([&] { return sender.sent() >= 10; }));
  EXPECT_EQ(heard.load(), 0);
  sender.stop();
  receiver.stop();
}

TEST_F(MirrordHeartbeatTest, SilenceMarksTheConnectionClosedAndTheIdleThreadEnds) {
  LocalHeartbeats local(*secret, mirrord->port());
  local.start_sending();
  RawPeer c(mirrord->port());
  ASSERT_TRUE(c.authenticate(*secret, 0xbea7000000000001, 0, 1, 1));
  std::string why;
  ASSERT_EQ(c.call(1, 0, create_request("f"), &why), std::optional<uint32_t>(0)) << why;

  // While heartbeats flow, an idle connection stays, well past the timeout
  // and the request timeout: wait until mirrord has answered enough
  // heartbeats for that time to have passed.
  const uint64_t enough = local.heard() + 3 * (kTimeoutMs + kRequestTimeoutMs) / kIntervalMs;
  ASSERT_TRUE(wait_until([&] { return local.heard() >= enough; }));
  ASSERT_EQ(c.call(2, 1, write_request("f", 0, "alive"), &why), std::optional<uint32_t>(0)) << why;
  EXPECT_FALSE(has_line_with(mirrord->log(), {"no heartbeat from the local server"}))
      << mirrord->log();

  // Silence: marked closed after the timeout, the thread ends once idle for
  // the request timeout, and the connection is closed.
  local.stop_sending();
  ASSERT_TRUE(log_has(
      {"volume vol: no heartbeat from the local server for", "ms; connections marked closed"}))
      << mirrord->log();
  std::smatch m;
  std::string log = mirrord->log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex(R"(local server for (\d+) ms)"))) << log;
  EXPECT_GT(std::stoll(m[1]), kTimeoutMs);
  // Within the timeout and a tick, give or take a loaded machine's scheduling.
  EXPECT_LE(std::stoll(m[1]), kTimeoutMs + 8 * kIntervalMs) << "detected late";
  ASSERT_TRUE(log_has({"volume vol: connection 1 idle and marked closed; ending it"}))
      << mirrord->log();
  EXPECT_TRUE(c.closed_without_a_word()) << "the connection is still open";
  // The log says so once per silence, not once per tick.
  std::string all = mirrord->log();
  size_t count = 0;
  for (size_t at = 0; (at = all.find("no heartbeat from the local server", at)) != all.npos; ++at) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << all;

  // Heard again: said once, and a new connection is accepted and served.
  local.start_sending();
  ASSERT_TRUE(log_has({"volume vol: heartbeat from the local server at", local.address(), "again"}))
      << mirrord->log();
  RawPeer again(mirrord->port());
  ASSERT_TRUE(again.authenticate(*secret, 0xbea7000000000001, 0, 1, 3));
  ASSERT_EQ(again.call(3, 1, write_request("f", 5, "!"), &why), std::optional<uint32_t>(0)) << why;
  EXPECT_EQ(read_file(copy + "/f"), "alive!");
}

// A connection thread waiting for a barrier that never comes (the local
// server went away before sending it) is no different from an idle one.
TEST_F(MirrordHeartbeatTest, AConnectionWaitingForABarrierEndsWhenMarkedClosed) {
  LocalHeartbeats local(*secret, mirrord->port());
  local.start_sending();
  RawPeer c(mirrord->port());
  ASSERT_TRUE(c.authenticate(*secret, 0xbea7000000000002, 0, 2, 1));
  std::string why;
  ASSERT_EQ(c.call(1, 0, create_request("f"), &why), std::optional<uint32_t>(0)) << why;
  // Request 3 waits for 2, which connection 2 never sends.
  const std::string data = "late";
  MirrorRequest waiting = write_request("f", 0, data);
  ASSERT_TRUE(mirror::write_frame(c.fd(), wire::encode_request(3, 2, waiting)));
  local.stop_sending();
  ASSERT_TRUE(log_has({"volume vol: no heartbeat from the local server for"})) << mirrord->log();
  ASSERT_TRUE(log_has({"volume vol: connection 1 idle and marked closed; ending it",
                       "request 3 waited for request 2"}))
      << mirrord->log();
  EXPECT_TRUE(c.closed_without_a_word()) << "the connection is still open";
  EXPECT_EQ(read_file(copy + "/f"), "") << "request 3 was applied without its barrier";
}

// A write of old data that a later truncate cut back: applied twice, the
// cut-off bytes would come back. Request 5 never reaches the first mirrord,
// so 6 and 7 on the other connection lie above a gap: only the per-connection
// record of the applied state tells that they were applied.
TEST_F(MirrordHeartbeatTest, RequestsSentAgainAfterKillAndRestartAreNotAppliedTwice) {
  const uint64_t session = 0x5e55000000000001;
  std::string why;
  const auto ok = std::optional<uint32_t>(0);
  {
    RawPeer c0(mirrord->port()), c1(mirrord->port());
    ASSERT_TRUE(c0.authenticate(*secret, session, 0, 2, 1));
    ASSERT_TRUE(c1.authenticate(*secret, session, 1, 2, 1));
    ASSERT_EQ(c0.call(1, 0, create_request("f"), &why), ok) << why;
    ASSERT_EQ(c0.call(2, 1, write_request("f", 0, "hello"), &why), ok) << why;
    ASSERT_EQ(c0.call(3, 1, truncate_request("f", 2), &why), ok) << why;
    ASSERT_EQ(c0.call(4, 3, create_request("g"), &why), ok) << why;
    ASSERT_EQ(c1.call(6, 4, write_request("g", 0, "abc"), &why), ok) << why;
    ASSERT_EQ(c1.call(7, 4, truncate_request("g", 1), &why), ok) << why;
    ASSERT_EQ(read_file(copy + "/f"), "he");
    ASSERT_EQ(read_file(copy + "/g"), "a");
    kill_mirrord();
  }
  start_mirrord();

  // The local server got none of the responses: it sends everything again,
  // on the same connections, each in order.
  RawPeer c0(mirrord->port()), c1(mirrord->port());
  ASSERT_TRUE(c0.authenticate(*secret, session, 0, 2, 1));
  ASSERT_TRUE(c1.authenticate(*secret, session, 1, 2, 1));
  EXPECT_EQ(c0.welcome().applied_through, 4u);
  EXPECT_TRUE(log_has({"volume vol: session 5e55000000000001 known from", ".copy.mirrord-state"}))
      << mirrord->log();
  EXPECT_EQ(c1.call(6, 4, write_request("g", 0, "abc"), &why), ok) << why;
  EXPECT_EQ(read_file(copy + "/g"), "a") << "request 6 was applied again";
  EXPECT_EQ(c0.call(1, 0, create_request("f"), &why), ok) << why;
  EXPECT_EQ(c0.call(2, 1, write_request("f", 0, "hello"), &why), ok) << why;
  EXPECT_EQ(read_file(copy + "/f"), "he") << "request 2 was applied again";
  EXPECT_EQ(c0.call(3, 1, truncate_request("f", 2), &why), ok) << why;
  EXPECT_EQ(c0.call(4, 3, create_request("g"), &why), ok) << why;
  EXPECT_EQ(c0.call(5, 4, write_request("f", 2, "Z"), &why), ok) << why;  // new: applied
  EXPECT_EQ(c1.call(7, 4, truncate_request("g", 1), &why), ok) << why;
  EXPECT_EQ(read_file(copy + "/f"), "heZ");
  EXPECT_EQ(read_file(copy + "/g"), "a");

  // New requests go on as usual.
  EXPECT_EQ(c0.call(8, 4, write_request("f", 3, "XY"), &why), ok) << why;
  EXPECT_EQ(read_file(copy + "/f"), "heZXY");
}

TEST_F(MirrordHeartbeatTest, ANewSessionAfterARestartAppliesWhatItSends) {
  std::string why;
  {
    RawPeer c(mirrord->port());
    ASSERT_TRUE(c.authenticate(*secret, 0x5e55000000000002, 0, 1, 1));
    ASSERT_EQ(c.call(1, 0, create_request("f"), &why), std::optional<uint32_t>(0)) << why;
    ASSERT_EQ(c.call(2, 1, write_request("f", 0, "one"), &why), std::optional<uint32_t>(0)) << why;
    kill_mirrord();
  }
  start_mirrord();
  RawPeer c(mirrord->port());
  ASSERT_TRUE(c.authenticate(*secret, 0x5e55000000000003, 0, 1, 1));  // remounted
  EXPECT_EQ(c.call(1, 0, create_request("f"), &why), std::optional<uint32_t>(0)) << why;
  EXPECT_EQ(c.call(2, 1, write_request("f", 0, "two"), &why), std::optional<uint32_t>(0)) << why;
  EXPECT_EQ(read_file(copy + "/f"), "two");
  EXPECT_FALSE(has_line_with(mirrord->log(), {"known from"})) << mirrord->log();
}

TEST_F(MirrordHeartbeatTest, ACorruptStateFileIsNamedAndTreatedAsUnknown) {
  std::string why;
  const std::string state = tmp.sub(".copy.mirrord-state");
  {
    RawPeer c(mirrord->port());
    ASSERT_TRUE(c.authenticate(*secret, 0x5e55000000000004, 0, 1, 1));
    ASSERT_EQ(c.call(1, 0, create_request("f"), &why), std::optional<uint32_t>(0)) << why;
    kill_mirrord();
  }
  std::string bytes = read_file(state);
  ASSERT_GT(bytes.size(), 40u);
  bytes[40] = static_cast<char>(bytes[40] ^ 0x10);
  write_file(state, bytes);
  start_mirrord();
  EXPECT_TRUE(log_has({"warn", state, "is corrupt", "treating it as unknown"})) << mirrord->log();
  RawPeer c(mirrord->port());
  ASSERT_TRUE(c.authenticate(*secret, 0x5e55000000000004, 0, 1, 1));
  EXPECT_FALSE(has_line_with(mirrord->log(), {"known from"})) << mirrord->log();
  // Unknown: sent again, it is applied again (create of an existing file is
  // idempotent), and mirrord goes on serving.
  EXPECT_EQ(c.call(1, 0, create_request("f"), &why), std::optional<uint32_t>(0)) << why;
  EXPECT_EQ(c.call(2, 1, write_request("f", 0, "ok"), &why), std::optional<uint32_t>(0)) << why;
  EXPECT_EQ(read_file(copy + "/f"), "ok");
}

}  // namespace
