#include "tests/support/udp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace testing_support {

namespace {

std::runtime_error failure(const std::string& what) {
  return std::runtime_error("udp relay: " + what + ": " + std::strerror(errno));
}

sockaddr_in parse_ipv4(const std::string& address_port) {
  auto colon = address_port.rfind(':');
  if (colon == std::string::npos) {
    throw std::runtime_error("udp relay: expected IPv4:PORT, not '" + address_port + "'");
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (inet_pton(AF_INET, address_port.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    throw std::runtime_error("udp relay: not an IPv4 address: '" + address_port + "'");
  }
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(address_port.substr(colon + 1))));
  return a;
}

int udp_socket(const sockaddr_in& bind_to) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw failure("socket");
  if (bind(fd, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    throw failure("bind");
  }
  return fd;
}

bool same(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

}  // namespace

UdpRelay::UdpRelay(const std::string& server, uint16_t listen_port) : server_(parse_ipv4(server)) {
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  local.sin_port = htons(listen_port);
  client_fd_ = udp_socket(local);
  local.sin_port = 0;
  try {
    server_fd_ = udp_socket(local);
  } catch (...) {
    close(client_fd_);
    throw;
  }
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  getsockname(client_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.sin_port);
  if (pipe2(wake_, O_CLOEXEC) != 0) {
    close(client_fd_);
    close(server_fd_);
    throw failure("pipe2");
  }
  thread_ = std::thread([this] { run(); });
}

UdpRelay::~UdpRelay() {
  stopping_.store(true);
  char c = 'x';
  ssize_t woken = write(wake_[1], &c, 1);  // else the thread sees stopping_ within 100 ms
  (void)woken;
  thread_.join();
  for (int fd : {client_fd_, server_fd_, wake_[0], wake_[1]}) close(fd);
}

void UdpRelay::run() {
  char buf[65536];
  for (;;) {
    pollfd fds[3] = {{client_fd_, POLLIN, 0}, {server_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int n = poll(fds, 3, 100);
    if (stopping_.load() || (n < 0 && errno != EINTR)) return;
    if (fds[0].revents & POLLIN) {
      for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t got =
            recvfrom(client_fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (got < 0) break;
        client_ = from;
        have_client_ = true;
        if (dropping_.load()) {
          ++dropped_;
          continue;
        }
        if (sendto(server_fd_, buf, static_cast<size_t>(got), 0,
                   reinterpret_cast<const sockaddr*>(&server_), sizeof server_) == got) {
          ++to_server_;
        }
      }
    }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t got =
            recvfrom(server_fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (got < 0) break;
        if (!same(from, server_)) continue;  // only the server's replies go back
        if (dropping_.load() || !have_client_) {
          ++dropped_;
          continue;
        }
        if (sendto(client_fd_, buf, static_cast<size_t>(got), 0,
                   reinterpret_cast<const sockaddr*>(&client_), sizeof client_) == got) {
          ++to_client_;
        }
      }
    }
  }
}

}  // namespace testing_support
