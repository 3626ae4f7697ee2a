// One request, one reply over a control socket, with a deadline on the whole
// exchange so that a stopped (SIGSTOP) daemon cannot hang mirrorctl.
#include "mirror/control_client.h"
#include "mirror/unique_fd.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace mirror {

namespace {

using Clock = std::chrono::steady_clock;
using Fd = UniqueFd;

constexpr size_t kMaxReplyBytes = 16 << 20;

// Waits for `events` on fd until `deadline`; throws ControlFailed on timeout.
void wait_for(int fd, short events, Clock::time_point deadline, const std::string& path) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      throw ControlFailed("control socket " + path + ": no reply in time (daemon stopped?)");
    }
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return;
    if (n < 0 && errno != EINTR) {
      throw ControlFailed("control socket " + path + ": poll: " + strerror(errno));
    }
  }
}

}  // namespace

nlohmann::json control_call(const std::string& path, const nlohmann::json& request,
                            std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    throw ControlUnreachable("control socket " + path + ": path too long for a Unix socket");
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) throw ControlUnreachable("control socket " + path + ": " + strerror(errno));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    if (err == ECONNREFUSED) {
      throw ControlUnreachable("control socket " + path +
                               ": connection refused (the daemon is not running)");
    }
    if (err != EAGAIN && err != EINPROGRESS) {
      throw ControlUnreachable("control socket " + path + ": " + strerror(err));
    }
    // The listen backlog is full: the daemon is alive but busy; wait for it.
    wait_for(fd.get(), POLLOUT, deadline, path);
  }

  std::string out = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += n;
    } else if (errno == EAGAIN || errno == EINTR) {
      wait_for(fd.get(), POLLOUT, deadline, path);
    } else {
      throw ControlFailed("control socket " + path + ": send: " + strerror(errno));
    }
  }

  std::string in;
  while (in.find('\n') == std::string::npos) {
    wait_for(fd.get(), POLLIN, deadline, path);
    char buf[8192];
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      in.append(buf, n);
      if (in.size() > kMaxReplyBytes) {
        throw ControlFailed("control socket " + path + ": reply longer than " +
                            std::to_string(kMaxReplyBytes) + " bytes");
      }
    } else if (n == 0) {
      throw ControlFailed("control socket " + path + ": the daemon closed the connection");
    } else if (errno != EAGAIN && errno != EINTR) {
      throw ControlFailed("control socket " + path + ": recv: " + strerror(errno));
    }
  }
  in.resize(in.find('\n'));
  nlohmann::json reply = nlohmann::json::parse(in, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    throw ControlFailed("control socket " + path + ": the reply is not a JSON object");
  }
  return reply;
}

std::vector<std::string> control_sockets_in(const std::string& dir) {
  std::vector<std::string> sockets;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code type_ec;
    if (entry.path().extension() == ".sock" && entry.is_socket(type_ec)) {
      sockets.push_back(entry.path().string());
    }
  }
  std::sort(sockets.begin(), sockets.end());
  return sockets;
}

}  // namespace mirror
