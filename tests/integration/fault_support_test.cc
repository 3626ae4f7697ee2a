// The fault tests' own tools, tested: the UDP relay forwards both ways and
// drops both ways on demand; a network namespace's veth carries TCP until
// its link goes down, and everything made is removed; log lines' wall-clock
// stamps are read as mirrorfs writes them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/support/fault_fixture.h"
#include "tests/support/udp_relay.h"

namespace {

using namespace std::chrono_literals;
using testing_support::LogLine;
using testing_support::NetNs;
using testing_support::UdpRelay;
using testing_support::wait_until;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

uint16_t bound_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Receives one datagram within `deadline`, or "" if none came.
std::string receive(int fd, std::chrono::milliseconds deadline) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(deadline.count())) != 1) return "";
  char buf[2048];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// An echo server on a thread: each datagram goes back to its sender, prefixed.
class EchoServer {
 public:
  EchoServer() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    auto a = loopback(0);
    if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("bind");
    port_ = bound_port(fd_.get());
    thread_ = std::thread([this] {
      while (!stopping_) {
        pollfd p{fd_.get(), POLLIN, 0};
        if (poll(&p, 1, 50) != 1) continue;
        char buf[2048];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n =
            recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n <= 0) continue;
        std::string reply = "echo:" + std::string(buf, static_cast<size_t>(n));
        sendto(fd_.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    });
  }
  ~EchoServer() {
    stopping_ = true;
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  Fd fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

TEST(UdpRelayTest, ForwardsBothWaysAndDropsBothWaysOnDemand) {
  EchoServer server;
  UdpRelay relay("127.0.0.1:" + std::to_string(server.port()));
  ASSERT_NE(relay.port(), 0);
  Fd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto to = loopback(relay.port());
  auto send = [&](const std::string& s) {
    return sendto(client.get(), s.data(), s.size(), 0, reinterpret_cast<sockaddr*>(&to),
                  sizeof to) == static_cast<ssize_t>(s.size());
  };

  ASSERT_TRUE(send("one"));
  EXPECT_EQ(receive(client.get(), 5s), "echo:one");
  // The relay counts a datagram once sendto returned: maybe after the reply arrived.
  EXPECT_TRUE(wait_until([&] { return relay.forwarded_to_client() == 1; }, 5s));
  EXPECT_EQ(relay.forwarded_to_server(), 1u);

  relay.drop(true);
  EXPECT_TRUE(relay.dropping());
  ASSERT_TRUE(send("two"));
  // A negative claim needs an interval: nothing comes back in it.
  EXPECT_EQ(receive(client.get(), 300ms), "");
  EXPECT_TRUE(wait_until([&] { return relay.dropped() >= 1; }, 5s));
  EXPECT_EQ(relay.forwarded_to_server(), 1u);

  relay.drop(false);
  ASSERT_TRUE(send("three"));
  EXPECT_EQ(receive(client.get(), 5s), "echo:three");
  EXPECT_TRUE(wait_until([&] { return relay.forwarded_to_client() == 2; }, 5s));
  EXPECT_EQ(relay.forwarded_to_server(), 2u);
}

TEST(UdpRelayTest, DropsRepliesOnTheWayBackToo) {
  // A server that answers late: its reply meets a relay that now drops.
  Fd server(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto a = loopback(0);
  ASSERT_EQ(bind(server.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  UdpRelay relay("127.0.0.1:" + std::to_string(bound_port(server.get())));
  Fd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto to = loopback(relay.port());
  ASSERT_EQ(sendto(client.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 4);
  char buf[64];
  sockaddr_in from{};
  socklen_t len = sizeof from;
  pollfd p{server.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  ASSERT_EQ(recvfrom(server.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len),
            4);
  relay.drop(true);
  ASSERT_EQ(sendto(server.get(), "pong", 4, 0, reinterpret_cast<sockaddr*>(&from), len), 4);
  EXPECT_EQ(receive(client.get(), 300ms), "");
  EXPECT_TRUE(wait_until([&] { return relay.dropped() == 1; }, 5s));
  EXPECT_EQ(relay.forwarded_to_client(), 0u);
}

TEST(UdpRelayTest, RefusesABadServerAddress) {
  EXPECT_THROW(UdpRelay("not-an-address"), std::runtime_error);
  EXPECT_THROW(UdpRelay("localhost:80"), std::runtime_error);
}

// Connects to addr:port within `deadline`; true if the TCP handshake completed.
bool tcp_connects(const std::string& addr, uint16_t port, std::chrono::milliseconds deadline) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
  a.sin_port = htons(port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{fd.get(), POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(deadline.count())) != 1) return false;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

TEST(NetNsTest, VethCarriesTcpUntilTheLinkGoesDownAndEverythingIsRemoved) {
  std::string why;
  if (!NetNs::available(&why)) GTEST_SKIP() << "network namespaces unavailable: " << why;
  TempDir tmp;
  std::string name, root_link;
  {
    NetNs ns;
    name = ns.name();
    root_link = ns.root_link();
    auto inside = ns.run({"ip", "-4", "-o", "addr", "show"});
    ASSERT_EQ(inside.exit_code, 0) << inside.output;
    EXPECT_NE(inside.output.find(ns.inner_address() + "/24"), std::string::npos) << inside.output;
    // A real server inside: mirrord, on the namespace's address.
    testing_support::write_secret(tmp.sub("secret"), "netns test secret\n");
    ASSERT_EQ(mkdir(tmp.sub("copy").c_str(), 0755), 0);
    testing_support::MirrordConfig config;
    config.volumes = {{"vol", tmp.sub("copy")}};
    config.secret_file = tmp.sub("secret");
    config.log_path = tmp.sub("mirrord.log");
    config.listen = ns.inner_address() + ":0";
    config.exec_prefix = ns.exec_prefix();
    testing_support::MirrordProcess mirrord(config);
    EXPECT_TRUE(tcp_connects(ns.inner_address(), mirrord.port(), 5s));
    EXPECT_FALSE(tcp_connects("127.0.0.1", mirrord.port(), 1s))
        << "the namespace's server is reachable on the root namespace's loopback";
    ns.link_down();
    EXPECT_FALSE(tcp_connects(ns.inner_address(), mirrord.port(), 500ms))
        << "reachable with the link down";
    ns.link_up();
    EXPECT_TRUE(
        wait_until([&] { return tcp_connects(ns.inner_address(), mirrord.port(), 1s); }, 10s))
        << "unreachable after the link came up";
    EXPECT_EQ(mirrord.stop(), 0) << mirrord.log();
  }
  auto list = testing_support::run_command({testing_support::ip_program(), "netns", "list"});
  EXPECT_EQ(list.output.find(name), std::string::npos) << "namespace left behind: " << list.output;
  auto link =
      testing_support::run_command({testing_support::ip_program(), "link", "show", root_link});
  EXPECT_NE(link.exit_code, 0) << "veth left behind: " << link.output;
}

TEST(LogLineTest, WallClockStampsAreReadAndComparedAcrossMidnight) {
  auto lines = testing_support::parse_log(
      "12:34:56.789 mirrorfs: info: link vol interrupted: no heartbeat from 127.0.0.1:1 for 320 "
      "ms\n"
      "mirrord: info: no stamp here\n"
      "23:59:59.900 mirrorfs: info: late\n");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].ms_of_day, ((12 * 60 + 34) * 60 + 56) * 1000 + 789);
  EXPECT_EQ(lines[1].ms_of_day, -1);
  EXPECT_EQ(testing_support::ms_between(lines[2].ms_of_day, 150), 250);
  EXPECT_EQ(testing_support::ms_between(150, lines[2].ms_of_day), -250);
  EXPECT_EQ(testing_support::find_line(lines, "interrupted"), 0u);
  EXPECT_EQ(testing_support::find_line(lines, "interrupted", 1), testing_support::kNoLine);
  EXPECT_EQ(testing_support::count_lines(lines, "mirror"), 3u);
  int64_t now = testing_support::wall_ms_of_day();
  EXPECT_GE(now, 0);
  EXPECT_LT(now, 24LL * 3600 * 1000);
}

}  // namespace
