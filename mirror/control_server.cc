// The control socket server: one thread polling the listening socket and its
// clients, each client with an input buffer (requests are lines) and an
// output buffer (replies wait there until the socket takes them), so a slow
// or stuck client never holds up the others or the daemon.
#include "mirror/control_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <list>

namespace mirror {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxPendingReplyBytes = 1 << 20;

std::string errno_text(int err) {
  return strerror(err);
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    throw std::runtime_error("control socket " + path + ": path must be 1 to " +
                             std::to_string(sizeof(addr.sun_path) - 1) + " bytes long");
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Throws unless `path` is free for a new socket: nothing there, or a socket
// nobody listens on (left by a dead daemon), which is removed.
// Whether a stale socket (its daemon gone) is at `path`; throws naming the
// path when a daemon answers there or the path is not a socket.
bool stale_socket_at(const std::string& path, const sockaddr_un& addr) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    throw std::runtime_error("control socket " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw std::runtime_error("control socket " + path +
                             ": exists and is not a socket; remove it or choose another path");
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("control socket " + path + ": " + errno_text(errno));
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(fd);
  if (rc == 0) {
    throw std::runtime_error("control socket " + path +
                             ": another process is listening there (is a daemon for this volume "
                             "already running?); stop it or choose another control socket");
  }
  if (err != ECONNREFUSED) {
    throw std::runtime_error("control socket " + path + ": " + errno_text(err));
  }
  return true;
}

void claim_path(const std::string& path, const sockaddr_un& addr) {
  if (!stale_socket_at(path, addr)) return;
  spdlog::info("control socket {}: replacing the stale socket of a daemon that is gone", path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw std::runtime_error("control socket " + path +
                             ": cannot remove stale socket: " + errno_text(errno));
  }
}

struct Client {
  int fd = -1;
  std::string in;
  std::string out;
  bool closing = false;  // close once `out` is written; read no more
  Clock::time_point last_activity;
};

std::string reply_line(const json& reply) {
  return reply.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace

json control_ok(json fields) {
  if (!fields.is_object()) fields = json{{"result", std::move(fields)}};
  fields["ok"] = true;
  return fields;
}

json control_error(const std::string& message) {
  return json{{"ok", false}, {"error", message}};
}

std::string default_control_dir() {
  if (geteuid() == 0) return "/run/mirrorfs";
  if (const char* xdg = getenv("XDG_RUNTIME_DIR"); xdg && *xdg) {
    return std::string(xdg) + "/mirrorfs";
  }
  return "/tmp/mirrorfs-" + std::to_string(geteuid());
}

std::string default_control_path(const std::string& program, const std::string& volume) {
  std::string name = volume.empty() ? program : program + "-" + volume;
  return default_control_dir() + "/" + name + ".sock";
}

void check_control_path(const std::string& path) {
  stale_socket_at(path, unix_address(path));
}

ControlServer::ControlServer(ControlServerOptions options, ControlHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  const std::string& path = options_.path;
  sockaddr_un addr = unix_address(path);
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    // Directories made here are 0755 whatever the umask (mirrorfs runs with
    // umask 0): the socket's own mode 0600 is what keeps others out.
    std::filesystem::path made;
    for (const auto& part : parent) {
      made /= part;
      if (::mkdir(made.c_str(), 0755) == 0) {
        ::chmod(made.c_str(), 0755);
      } else if (errno != EEXIST) {
        throw std::runtime_error("control socket " + path + ": cannot create " + made.string() +
                                 ": " + errno_text(errno));
      }
    }
  }
  claim_path(path, addr);

  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) throw std::runtime_error("control socket " + path + ": " + errno_text(errno));
  auto fail = [&](const std::string& what) {
    int err = errno;
    close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("control socket " + path + ": " + what + errno_text(err));
  };
  if (bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) fail("");
  // Before listen(): until then a connect is refused, so nobody slips in
  // while the mode still follows the umask.
  struct stat st;
  if (chmod(path.c_str(), 0600) != 0 || stat(path.c_str(), &st) != 0) {
    unlink(path.c_str());
    fail("chmod 600: ");
  }
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  if (listen(listen_fd_, 16) != 0) {
    unlink(path.c_str());
    fail("listen: ");
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    unlink(path.c_str());
    fail("eventfd: ");
  }
  thread_ = std::thread([this] { run(); });
}

ControlServer::~ControlServer() {
  stop();
}

void ControlServer::stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // An eventfd write only fails on counter overflow; run() polls it anyway.
  }
  if (thread_.joinable()) thread_.join();
  struct stat st;
  if (stat(options_.path.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
      st.st_ino == socket_ino_) {
    unlink(options_.path.c_str());
  }
  close(listen_fd_);
  close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

std::string ControlServer::answer(const std::string& line) {
  json request;
  try {
    request = json::parse(line);
  } catch (const json::exception& e) {
    return reply_line(control_error(std::string("request is not valid JSON: ") + e.what()));
  }
  auto command = request.is_object() ? request.find("command") : request.end();
  if (!request.is_object() || command == request.end() || !command->is_string()) {
    return reply_line(control_error(R"(request must be a JSON object with a string "command", )"
                                    R"(e.g. {"command":"status"})"));
  }
  json reply;
  try {
    reply = handler_(request);
  } catch (const std::exception& e) {
    return reply_line(control_error(e.what()));
  } catch (...) {
    return reply_line(control_error("internal error answering " + command->get<std::string>()));
  }
  if (!reply.is_object()) reply = json{{"result", std::move(reply)}};
  if (!reply.contains("ok")) reply["ok"] = true;
  return reply_line(reply);
}

void ControlServer::run() {
  pthread_setname_np(pthread_self(), "control");
  std::list<Client> clients;
  auto close_client = [&](std::list<Client>::iterator it) {
    close(it->fd);
    return clients.erase(it);
  };
  while (!stopping_.load()) {
    std::vector<pollfd> fds;
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients) {
      // A client that sends without reading its replies is not read further
      // until it catches up.
      short events = c.closing || c.out.size() > kMaxPendingReplyBytes ? 0 : POLLIN;
      if (!c.out.empty()) events |= POLLOUT;
      fds.push_back({c.fd, events, 0});
    }
    if (poll(fds.data(), fds.size(), 500) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control socket {}: poll: {}", options_.path, errno_text(errno));
      break;
    }
    if (fds[0].revents) break;
    auto now = Clock::now();

    size_t i = 2;
    for (auto it = clients.begin(); it != clients.end(); ++i) {
      Client& c = *it;
      short rev = fds[i].revents;
      bool drop = (rev & (POLLERR | POLLNVAL)) != 0;
      if (!drop && (rev & (POLLIN | POLLHUP)) && !c.closing) {
        char buf[4096];
        ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
        if (n > 0) {
          c.last_activity = now;
          c.in.append(buf, n);
          size_t start = 0, nl;
          while (!c.closing && (nl = c.in.find('\n', start)) != std::string::npos) {
            std::string line = c.in.substr(start, nl - start);
            start = nl + 1;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.size() > options_.max_request_bytes) {
              c.closing = true;
              break;
            }
            if (line.find_first_not_of(" \t") != std::string::npos) c.out += answer(line);
          }
          c.in.erase(0, start);
          if (c.closing || c.in.size() > options_.max_request_bytes) {
            c.closing = true;
            c.in.clear();
            c.out += reply_line(control_error("request longer than " +
                                              std::to_string(options_.max_request_bytes) +
                                              " bytes; closing the connection"));
          }
        } else if (n == 0) {
          // The client is done sending: a last line without '\n' still counts.
          if (c.in.find_first_not_of(" \t\r") != std::string::npos) c.out += answer(c.in);
          c.in.clear();
          c.closing = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          drop = true;
        }
      }
      if (!drop && !c.out.empty() && (rev & (POLLOUT | POLLHUP))) {
        ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          c.out.erase(0, n);
          c.last_activity = now;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          drop = true;
        }
      }
      if (c.closing && c.out.empty()) drop = true;
      if (now - c.last_activity > options_.idle_timeout) drop = true;
      it = drop ? close_client(it) : std::next(it);
    }

    if (fds[1].revents & POLLIN) {
      while (true) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        Client c;
        c.fd = fd;
        c.last_activity = now;
        if (clients.size() >= options_.max_clients) {
          c.closing = true;
          c.out = reply_line(control_error("too many control clients (" +
                                           std::to_string(options_.max_clients) + ")"));
        }
        clients.push_back(std::move(c));
      }
    }
  }
  for (auto it = clients.begin(); it != clients.end();) it = close_client(it);
}

}  // namespace mirror
