// The control socket server with a fake handler: requests answered in order,
// bad input answered with an error and never a crash, the socket's mode and
// directory, a stale socket replaced and a live one refused, a clean stop.
#include "mirror/control_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "mirror/control_client.h"
#include "tests/support/temp_dir.h"

namespace {

using nlohmann::json;

// A client speaking raw bytes, to send what control_call never would.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }
  void send_text(const std::string& s) {
    ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  // The next reply line parsed; a discarded json on EOF or after 5 s.
  json reply() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (buffer_.find('\n') == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (std::chrono::steady_clock::now() > deadline || poll(&p, 1, 100) < 0) {
        return json(json::value_t::discarded);
      }
      if (!(p.revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return json(json::value_t::discarded);
      buffer_.append(buf, n);
    }
    size_t nl = buffer_.find('\n');
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    return json::parse(line, nullptr, false);
  }
  // True once the server has closed the connection (within 5 s).
  bool closed_by_server() {
    for (int i = 0; i < 50; ++i) {
      pollfd p{fd_, POLLIN, 0};
      poll(&p, 1, 100);
      char c;
      if (p.revents && recv(fd_, &c, 1, MSG_DONTWAIT) == 0) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

// Echoes the request back under "echo"; "boom" throws; "slow" counts.
json fake_handler(const json& request) {
  std::string command = request["command"];
  if (command == "boom") throw std::runtime_error("the handler failed on purpose");
  if (command == "refuse") return mirror::control_error("refused on purpose");
  if (command == "array") return json::array({1, 2});
  return mirror::control_ok({{"echo", request}});
}

class ControlServerTest : public ::testing::Test {
 protected:
  std::string path() const { return tmp.sub("run/mirrorfs/test.sock"); }
  std::unique_ptr<mirror::ControlServer> start(size_t max_request = 64 << 10) {
    mirror::ControlServerOptions o;
    o.path = path();
    o.max_request_bytes = max_request;
    return std::make_unique<mirror::ControlServer>(o, fake_handler);
  }
  TempDir tmp;
};

TEST_F(ControlServerTest, AnswersARequestThroughTheClient) {
  auto server = start();
  json reply = mirror::control_call(path(), {{"command", "status"}, {"volume", "v"}});
  EXPECT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["echo"]["volume"], "v");
}

TEST_F(ControlServerTest, CreatesTheDirectoryAndMakesTheSocketMode0600) {
  auto server = start();
  struct stat st;
  ASSERT_EQ(stat(path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(ControlServerTest, AnswersSeveralRequestsOnOneConnectionInOrder) {
  auto server = start();
  RawClient c(path());
  ASSERT_TRUE(c.connected());
  c.send_text(R"({"command":"a"})"
              "\n"
              R"({"command":"b"})"
              "\r\n\n");
  c.send_text(R"({"comm)");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  c.send_text(R"(and":"c"})"
              "\n");
  for (const char* want : {"a", "b", "c"}) {
    json r = c.reply();
    ASSERT_TRUE(r.is_object()) << want;
    EXPECT_EQ(r["echo"]["command"], want);
  }
}

TEST_F(ControlServerTest, BadJsonGetsAnErrorAndTheConnectionGoesOn) {
  auto server = start();
  RawClient c(path());
  c.send_text("this is not json\n");
  json r = c.reply();
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("not valid JSON"), std::string::npos) << r;
  for (const char* bad : {"[1,2]", "42", R"({"no":"command"})", R"({"command":7})", "{\"a\":"}) {
    c.send_text(std::string(bad) + "\n");
    json e = c.reply();
    EXPECT_EQ(e["ok"], false) << bad;
    EXPECT_TRUE(e["error"].is_string()) << bad;
  }
  c.send_text("\xff\xfe{\n");
  EXPECT_EQ(c.reply()["ok"], false);
  c.send_text(R"({"command":"after"})"
              "\n");
  EXPECT_EQ(c.reply()["echo"]["command"], "after");
}

TEST_F(ControlServerTest, HandlerErrorsBecomeErrorReplies) {
  auto server = start();
  json r = mirror::control_call(path(), {{"command", "boom"}});
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"], "the handler failed on purpose");
  r = mirror::control_call(path(), {{"command", "refuse"}});
  EXPECT_EQ(r, json({{"ok", false}, {"error", "refused on purpose"}}));
  r = mirror::control_call(path(), {{"command", "array"}});
  EXPECT_EQ(r, json({{"ok", true}, {"result", {1, 2}}}));
  EXPECT_EQ(mirror::control_call(path(), {{"command", "x"}})["ok"], true);
}

TEST_F(ControlServerTest, AnOversizedRequestIsRefusedAndClosed) {
  auto server = start(1024);
  RawClient c(path());
  c.send_text(std::string(4096, 'x'));
  json r = c.reply();
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("longer than 1024"), std::string::npos) << r;
  EXPECT_TRUE(c.closed_by_server());
  // A long line that did end in '\n' is refused the same way.
  RawClient d(path());
  d.send_text(R"({"command":")" + std::string(2000, 'y') + "\"}\n");
  EXPECT_EQ(d.reply()["ok"], false);
  EXPECT_EQ(mirror::control_call(path(), {{"command", "still"}})["ok"], true);
}

TEST_F(ControlServerTest, ALastLineWithoutNewlineIsAnsweredAtEndOfInput) {
  auto server = start();
  RawClient c(path());
  c.send_text(R"({"command":"last"})");
  c.shutdown_write();
  EXPECT_EQ(c.reply()["echo"]["command"], "last");
}

TEST_F(ControlServerTest, AStaleSocketIsReplaced) {
  ASSERT_EQ(system(("mkdir -p " + tmp.sub("run/mirrorfs")).c_str()), 0);
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path().c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);  // the file stays: a daemon that died without cleaning up
  }
  auto server = start();
  EXPECT_EQ(mirror::control_call(path(), {{"command", "x"}})["ok"], true);
}

TEST_F(ControlServerTest, ALiveSocketIsRefusedNamingThePath) {
  auto first = start();
  try {
    auto second = start();
    FAIL() << "a second server took over a live socket";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("listening"), std::string::npos) << e.what();
  }
  EXPECT_EQ(mirror::control_call(path(), {{"command", "x"}})["ok"], true);
}

TEST_F(ControlServerTest, APathThatIsNotASocketIsRefused) {
  ASSERT_EQ(system(("mkdir -p " + tmp.sub("run/mirrorfs")).c_str()), 0);
  testing_support::write_file(path(), "precious");
  EXPECT_THROW(start(), std::runtime_error);
  EXPECT_EQ(testing_support::read_file(path()), "precious");
}

TEST_F(ControlServerTest, StopRemovesTheSocketAndEndsPromptlyWithAnIdleClient) {
  auto server = start();
  RawClient idle(path());
  ASSERT_TRUE(idle.connected());
  auto t0 = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  struct stat st;
  EXPECT_NE(lstat(path().c_str(), &st), 0);
  EXPECT_THROW(mirror::control_call(path(), {{"command", "x"}}), mirror::ControlUnreachable);
  server->stop();  // idempotent
}

TEST_F(ControlServerTest, StopLeavesASuccessorsSocketAlone) {
  auto first = start();
  ASSERT_EQ(unlink(path().c_str()), 0);  // someone removed it; a successor started
  auto second = start();
  first->stop();
  EXPECT_EQ(mirror::control_call(path(), {{"command", "x"}})["ok"], true);
}

TEST_F(ControlServerTest, ServesManyClientsAtOnce) {
  auto server = start();
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        json r = mirror::control_call(path(), {{"command", "n"}, {"t", t}, {"i", i}});
        if (r["echo"]["t"] == t && r["echo"]["i"] == i) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 200);
}

TEST_F(ControlServerTest, ATooLongPathIsRefusedNamingIt) {
  mirror::ControlServerOptions o;
  o.path = tmp.sub(std::string(120, 'p') + ".sock");
  EXPECT_THROW(mirror::ControlServer(o, fake_handler), std::runtime_error);
}

TEST(ControlClient, AMissingSocketIsUnreachable) {
  TempDir tmp;
  EXPECT_THROW(mirror::control_call(tmp.sub("none.sock"), {{"command", "status"}}),
               mirror::ControlUnreachable);
}

TEST(ControlClient, ListsOnlySocketsInTheDirectory) {
  TempDir tmp;
  mirror::ControlServerOptions o;
  o.path = tmp.sub("b.sock");
  mirror::ControlServer b(o, fake_handler);
  o.path = tmp.sub("a.sock");
  mirror::ControlServer a(o, fake_handler);
  testing_support::write_file(tmp.sub("c.sock"), "not a socket");
  EXPECT_EQ(mirror::control_sockets_in(tmp.path()),
            (std::vector<std::string>{tmp.sub("a.sock"), tmp.sub("b.sock")}));
  EXPECT_TRUE(mirror::control_sockets_in(tmp.sub("missing")).empty());
}

}  // namespace
