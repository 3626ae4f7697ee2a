// A small UDP relay for fault tests, run on a thread of the test process: it
// listens on a loopback port, forwards every datagram from its client to a
// server address, and the server's replies back to the client (the last
// address that sent to the listening port). drop(true) drops everything, both
// ways, until drop(false): heartbeats can be cut while TCP stays up, e.g.
//
//   UdpRelay relay("127.0.0.1:" + std::to_string(mirrord->port()));
//   ... mirrorfs -o peer=127.0.0.1:PORT,heartbeat_port=<relay.port()> ...
//   relay.drop(true);   // the link's heartbeats are lost from now on
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace testing_support {

class UdpRelay {
 public:
  // Binds 127.0.0.1:listen_port (0: a free port) and starts forwarding to
  // `server` ("IPv4:PORT"). Throws std::runtime_error naming what failed.
  explicit UdpRelay(const std::string& server, uint16_t listen_port = 0);
  ~UdpRelay();  // stops and joins the thread
  UdpRelay(const UdpRelay&) = delete;
  UdpRelay& operator=(const UdpRelay&) = delete;

  // The port clients send to.
  uint16_t port() const { return port_; }
  // true: drop every datagram, both ways; false: forward again.
  void drop(bool on) { dropping_.store(on); }
  bool dropping() const { return dropping_.load(); }

  uint64_t forwarded_to_server() const { return to_server_.load(); }
  uint64_t forwarded_to_client() const { return to_client_.load(); }
  uint64_t dropped() const { return dropped_.load(); }

 private:
  void run();

  int client_fd_ = -1;  // bound to 127.0.0.1:port_, faces the client
  int server_fd_ = -1;  // ephemeral, faces the server
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  sockaddr_in server_{};
  sockaddr_in client_{};  // owned by the thread
  bool have_client_ = false;
  std::atomic<bool> dropping_{false}, stopping_{false};
  std::atomic<uint64_t> to_server_{0}, to_client_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace testing_support
