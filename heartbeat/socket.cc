// The heartbeat's UDP socket, its addresses, and the configuration check.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "heartbeat/datagram.h"
#include "heartbeat/heartbeat.h"

namespace heartbeat {

void HeartbeatConfig::validate() const {
  detector().validate();
  if (secret.empty()) throw std::invalid_argument("the heartbeat secret is empty");
  if (max_age_ms < 0) {
    throw std::invalid_argument("heartbeat max_age must not be negative, not " +
                                std::to_string(max_age_ms) + " ms");
  }
  encode(Datagram{.link = link_name}, secret);  // throws for a bad link name
}

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

sockaddr_storage parse_address(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("heartbeat address '" + std::string(text) + "': " + why);
  };
  std::string_view host, port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == text.npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw bad("want [IPv6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == text.npos || text.find(':') != colon) throw bad("want ADDR:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    throw bad("port '" + std::string(port) + "' is not a number from 0 to 65535");
  }
  if (host.empty()) throw bad("no address before the port");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string host_z(host), port_z = std::to_string(value);
  if (int rc = getaddrinfo(host_z.c_str(), port_z.c_str(), &hints, &found); rc != 0) {
    throw bad(gai_strerror(rc));
  }
  sockaddr_storage out{};
  std::memcpy(&out, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return out;
}

std::string format_address(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {  // an IPv4 peer of a dual-stack socket
      inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], host, sizeof host);
      return std::string(host) + ":" + std::to_string(ntohs(in6.sin6_port));
    }
    inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return "(address family " + std::to_string(a.ss_family) + ")";
}

namespace {

socklen_t length_of(const sockaddr_storage& a) {
  return a.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

HeartbeatSocket::HeartbeatSocket(std::string_view address_port) {
  sockaddr_storage want = parse_address(address_port);
  auto fail = [&](const char* what) {
    std::string why = std::string(what) + " heartbeat socket " + std::string(address_port) + ": " +
                      std::strerror(errno);
    if (fd_ >= 0) ::close(fd_);
    return std::runtime_error(why);
  };
  fd_ = ::socket(want.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw fail("cannot create");
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&want), length_of(want)) != 0) {
    throw fail("cannot bind");
  }
  socklen_t length = sizeof local_;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&local_), &length) != 0) {
    throw fail("cannot name");
  }
}

HeartbeatSocket::~HeartbeatSocket() {
  if (fd_ >= 0) ::close(fd_);
}

uint16_t HeartbeatSocket::port() const {
  if (local_.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(local_).sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in&>(local_).sin_port);
}

int HeartbeatSocket::send_to(std::span<const std::byte> datagram,
                             const sockaddr_storage& to) const {
  ssize_t n = ::sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&to), length_of(to));
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(datagram.size()) ? 0 : EMSGSIZE;
}

}  // namespace heartbeat
