#include "mirror/frame_io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mirror {
namespace {

IoStatus wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    int r = poll(&p, 1, timeout_ms);
    if (r > 0) return IoStatus::ok;
    if (r == 0) return IoStatus::timeout;
    if (errno != EINTR) return IoStatus::failed;
  }
}

IoStatus read_exact(int fd, std::byte* p, size_t n, int first_timeout_ms, int stall_timeout_ms,
                    std::string& fault) {
  size_t done = 0;
  while (done < n) {
    IoStatus w = wait_readable(fd, done == 0 ? first_timeout_ms : stall_timeout_ms);
    if (w == IoStatus::timeout && done > 0) {
      fault = "peer stalled in the middle of a frame";
      return IoStatus::failed;
    }
    if (w != IoStatus::ok) {
      if (w == IoStatus::failed) fault = strerror(errno);
      return w;
    }
    ssize_t r = recv(fd, p + done, n - done, 0);
    if (r == 0) {
      if (done > 0) fault = "connection closed in the middle of a frame";
      return done == 0 ? IoStatus::closed : IoStatus::failed;
    }
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      fault = strerror(errno);
      return IoStatus::failed;
    }
    done += static_cast<size_t>(r);
  }
  return IoStatus::ok;
}

}  // namespace

FrameRead read_frame(int fd, std::vector<std::byte>& payload, int first_byte_timeout_ms,
                     int stall_timeout_ms) {
  FrameRead result;
  std::array<std::byte, wire::kHeaderSize> raw;
  result.status =
      read_exact(fd, raw.data(), raw.size(), first_byte_timeout_ms, stall_timeout_ms, result.fault);
  if (result.status != IoStatus::ok) return result;
  if (auto fault = wire::decode_header(raw, result.header)) {
    result.status = IoStatus::failed;
    result.fault = *fault;
    return result;
  }
  payload.resize(result.header.payload_length);
  result.status = read_exact(fd, payload.data(), payload.size(), stall_timeout_ms, stall_timeout_ms,
                             result.fault);
  if (result.status == IoStatus::timeout || result.status == IoStatus::closed) {
    result.status = IoStatus::failed;
    if (result.fault.empty()) result.fault = "frame cut short";
  }
  if (result.status != IoStatus::ok) return result;
  if (!wire::checksum_matches(raw, payload)) {
    result.status = IoStatus::failed;
    result.fault = "frame checksum mismatch";
  }
  return result;
}

bool write_frame(int fd, const wire::OutFrame& frame) {
  return write_frame_from(fd, frame, 0, true) == static_cast<ssize_t>(frame.size());
}

ssize_t write_frame_from(int fd, const wire::OutFrame& frame, size_t offset, bool wait) {
  iovec iov[2] = {
      {const_cast<std::byte*>(frame.head.data()), frame.head.size()},
      {const_cast<std::byte*>(frame.data.data()), frame.data.size()},
  };
  int count = frame.data.empty() ? 1 : 2;
  iovec* v = iov;
  size_t done = offset;
  for (size_t skip = offset; count > 0 && skip > 0;) {
    size_t step = std::min(skip, v->iov_len);
    v->iov_base = static_cast<char*>(v->iov_base) + step;
    v->iov_len -= step;
    skip -= step;
    if (v->iov_len == 0) {
      ++v;
      --count;
    }
  }
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = v;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!wait && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return -1;
    }
    done += static_cast<size_t>(n);
    auto left = static_cast<size_t>(n);
    while (count > 0 && left >= v->iov_len) {
      left -= v->iov_len;
      ++v;
      --count;
    }
    if (count > 0) {
      v->iov_base = static_cast<char*>(v->iov_base) + left;
      v->iov_len -= left;
    }
  }
  return static_cast<ssize_t>(done);
}

int connect_to(const std::string& host, const std::string& port, int timeout_ms, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int r = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); r != 0) {
    why = gai_strerror(r);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (poll(&p, 1, timeout_ms) != 1) {
      why = "connection timed out";
      err = ETIMEDOUT;
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      why = strerror(err);
    }
    if (err != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    tune_socket(fd);
  }
  return fd;
}

std::string peer_name(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "(unknown peer)";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
  inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
  port = ntohs(a->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

void tune_socket(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

}  // namespace mirror
