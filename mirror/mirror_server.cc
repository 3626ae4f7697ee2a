#include "mirror/mirror_server.h"

#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstring>
#include <stdexcept>

#include "mirror/applier.h"
#include "mirror/apply_gate.h"
#include "mirror/connection_array.h"
#include "mirror/frame_io.h"

namespace mirror {
namespace asio = boost::asio;
namespace {

constexpr int kHandshakeTimeoutMs = 5000;

std::pair<std::string, std::string> split_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    throw std::runtime_error("--listen " + s + ": expected ADDR:PORT");
  }
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, s.substr(colon + 1)};
}

}  // namespace

// One run of a local server for one volume: its connection array and the
// order its requests are applied in.
struct MirrorServer::Session {
  Session(uint64_t id, size_t n, uint64_t applied_through)
      : id(id), array(n), gate(applied_through) {}
  const uint64_t id;
  MirrorConnectionArray array;
  ApplyGate gate;
};

struct MirrorServer::Volume {
  std::string name;
  std::unique_ptr<Applier> applier;
  std::mutex mutex;  // guards session
  std::shared_ptr<Session> session;
};

MirrorServer::MirrorServer(const MirrordOptions& options, Secret secret)
    : options_(options), secret_(std::move(secret)) {
  if (options.volumes.empty()) throw std::runtime_error("no --volume given: nothing to serve");
  for (const auto& [name, dir] : options.volumes) {
    if (name.empty() || name.size() > wire::kMaxVolumeName) {
      throw std::runtime_error("--volume " + name + "=" + dir + ": bad volume name");
    }
    if (volumes_.count(name)) throw std::runtime_error("--volume " + name + " given twice");
    auto v = std::make_unique<Volume>();
    v->name = name;
    try {
      v->applier = std::make_unique<Applier>(dir);
    } catch (const std::exception& e) {
      throw std::runtime_error("--volume " + name + "=" + dir + ": " + e.what());
    }
    volumes_[name] = std::move(v);
  }
  auto [host, port] = split_host_port(options.listen);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("--listen " + options.listen + ": bad address: " + ec.message());
  int port_number = 0;
  try {
    port_number = std::stoi(port);
  } catch (...) {
    port_number = -1;
  }
  if (port_number < 0 || port_number > 65535) {
    throw std::runtime_error("--listen " + options.listen + ": bad port");
  }
  asio::ip::tcp::endpoint endpoint(address, static_cast<uint16_t>(port_number));
  listen_fd_ = socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd_ < 0 || bind(listen_fd_, endpoint.data(), endpoint.size()) != 0 ||
      listen(listen_fd_, 64) != 0) {
    int err = errno;
    if (listen_fd_ >= 0) close(listen_fd_);
    throw std::runtime_error("--listen " + options.listen + ": " + strerror(err));
  }
  asio::ip::tcp::endpoint bound;
  socklen_t len = static_cast<socklen_t>(bound.capacity());
  getsockname(listen_fd_, bound.data(), &len);
  bound.resize(len);
  port_ = bound.port();
}

MirrorServer::~MirrorServer() {
  stop();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void MirrorServer::stop() { stopping_ = true; }

void MirrorServer::run() {
  spdlog::info("listening on {} (port {}), {} volume(s)", options_.listen, port_, volumes_.size());
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) {
      reap_finished();
      continue;
    }
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    tune_socket(fd);
    auto done = std::make_shared<std::atomic<bool>>(false);
    auto fd_slot = std::make_shared<std::atomic<int>>(fd);
    std::lock_guard lock(threads_mutex_);
    threads_.push_back({std::thread([this, fd, done] {
                          serve(fd);
                          done->store(true);
                        }),
                        fd_slot, done});
  }
  spdlog::info("stopping: closing {} connection(s)", threads_.size());
  for (auto& [name, volume] : volumes_) {
    std::lock_guard lock(volume->mutex);
    if (volume->session) volume->session->gate.abandon();
  }
  std::lock_guard lock(threads_mutex_);
  for (auto& w : threads_) {
    if (!w.done->load()) shutdown(w.fd->load(), SHUT_RDWR);
  }
  for (auto& w : threads_) w.thread.join();
  threads_.clear();
}

void MirrorServer::reap_finished() {
  std::lock_guard lock(threads_mutex_);
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
}

void MirrorServer::serve(int fd) {
  std::string peer = peer_name(fd);
  std::shared_ptr<Session> session;
  size_t index = 0;
  if (handshake(fd, peer, session, index)) {
    std::string name = "conn-" + std::to_string(index);
    pthread_setname_np(pthread_self(), name.c_str());
    serve_requests(fd, peer, *session, index);
  }
  if (session) {
    // Leave the element only if it still holds this socket: a re-established
    // connection may have replaced it. (A copy: on failure the exchange writes
    // the element's socket into `expected`, which must not be closed below.)
    int expected = fd;
    session->array[index].fd.compare_exchange_strong(expected, -1);
  }
  close(fd);
}

bool MirrorServer::handshake(int fd, const std::string& peer, std::shared_ptr<Session>& session,
                             size_t& index) {
  std::vector<std::byte> payload;
  FrameRead r = read_frame(fd, payload, kHandshakeTimeoutMs, kHandshakeTimeoutMs);
  wire::Hello hello;
  if (r.status != IoStatus::ok || r.header.type != wire::FrameType::hello) {
    spdlog::warn("peer {}: no HELLO ({}); closing", peer,
                 r.status == IoStatus::ok ? "another frame came first" : r.fault);
    return false;
  }
  if (auto fault = wire::decode_hello(payload, hello)) {
    spdlog::warn("peer {}: bad HELLO: {}; closing", peer, *fault);
    return false;
  }
  if (hello.min_version > wire::kVersion || hello.max_version < wire::kVersion) {
    spdlog::warn("peer {}: speaks protocol versions {}..{}, we speak {}; closing", peer,
                 hello.min_version, hello.max_version, wire::kVersion);
    return false;
  }
  wire::Challenge challenge;
  challenge.nonce = random_nonce();
  auto transcript = wire::hello_transcript(hello);
  challenge.proof = prove(secret_, "mirrord", transcript, challenge.nonce);
  if (!write_frame(fd, wire::encode_challenge(challenge))) return false;
  r = read_frame(fd, payload, kHandshakeTimeoutMs, kHandshakeTimeoutMs);
  wire::Auth auth;
  if (r.status != IoStatus::ok || r.header.type != wire::FrameType::auth ||
      wire::decode_auth(payload, auth) ||
      !same_proof(auth.proof, prove(secret_, "mirrorfs", transcript, challenge.nonce))) {
    spdlog::warn("peer {}: authentication failed (wrong secret?); connection refused", peer);
    return false;
  }
  auto it = volumes_.find(hello.volume);
  if (it == volumes_.end()) {
    spdlog::warn("peer {}: asks for volume '{}', which this mirrord does not serve; closing", peer,
                 hello.volume);
    return false;
  }
  Volume& volume = *it->second;
  {
    std::lock_guard lock(volume.mutex);
    if (!volume.session || volume.session->id != hello.session ||
        volume.session->array.size() != hello.count) {
      if (volume.session) {
        volume.session->gate.abandon();
        for (size_t i = 0; i < volume.session->array.size(); ++i) {
          int old = volume.session->array[i].fd.load();
          if (old >= 0) shutdown(old, SHUT_RDWR);
        }
      }
      volume.session = std::make_shared<Session>(hello.session, hello.count, hello.resume_from - 1);
      spdlog::info("volume {}: new session {:016x} from {} with {} connection(s), resuming after "
                   "request {}", volume.name, hello.session, peer, hello.count,
                   hello.resume_from - 1);
    }
    session = volume.session;
    index = hello.index;
    ConnectionElement& element = session->array[index];
    int old = element.fd.exchange(fd);
    if (old >= 0) shutdown(old, SHUT_RDWR);  // a re-established connection replaces the old one
    element.closed = false;
    element.heartbeat_ms = steady_ms();
  }
  wire::Welcome welcome;
  welcome.applied_through = session->gate.applied_through();
  if (!write_frame(fd, wire::encode_welcome(welcome))) return false;
  spdlog::info("volume {}: connection {} of {} from {} accepted", hello.volume, index + 1,
               hello.count, peer);
  return true;
}

void MirrorServer::serve_requests(int fd, const std::string& peer, Session& session, size_t index) {
  Volume* volume = nullptr;
  for (auto& [name, v] : volumes_) {
    std::lock_guard lock(v->mutex);
    if (v->session.get() == &session) volume = v.get();
  }
  if (volume == nullptr) return;
  std::vector<std::byte> payload;
  ConnectionElement& element = session.array[index];
  while (!stopping_) {
    FrameRead r = read_frame(fd, payload, options_.request_timeout_ms);
    if (r.status == IoStatus::timeout) {
      // No request for the request timeout: leave if the link was declared
      // interrupted meanwhile (method, element 4).
      if (element.closed) {
        spdlog::info("volume {}: connection {} idle and marked closed; ending it", volume->name,
                     index + 1);
        return;
      }
      continue;
    }
    if (r.status == IoStatus::closed) {
      spdlog::info("volume {}: connection {} closed by {}", volume->name, index + 1, peer);
      return;
    }
    if (r.status != IoStatus::ok) {
      spdlog::warn("volume {}: connection {} from {}: {}; closing it", volume->name, index + 1,
                   peer, r.fault);
      return;
    }
    wire::ReceivedRequest req;
    if (r.header.type != wire::FrameType::request) {
      spdlog::warn("volume {}: connection {} from {}: unexpected frame type {}; closing it",
                   volume->name, index + 1, peer, static_cast<int>(r.header.type));
      return;
    }
    if (auto fault = wire::decode_request(r.header, payload, req)) {
      spdlog::warn("volume {}: connection {} from {}: bad request {}: {}; closing it", volume->name,
                   index + 1, peer, r.header.sequence, *fault);
      return;
    }
    if (req.barrier >= req.sequence) {
      spdlog::warn("volume {}: request {} from {} waits for itself (barrier {}); closing", volume->name,
                   req.sequence, peer, req.barrier);
      return;
    }
    if (!session.gate.wait_for(req.barrier)) return;
    wire::Response response;
    response.sequence = req.sequence;
    if (!session.gate.is_applied(req.sequence)) {
      response.error = static_cast<uint32_t>(volume->applier->apply(req.request));
      if (response.error != 0) {
        spdlog::warn("volume {}: {} {} failed: {}", volume->name, to_string(req.request.op),
                     req.request.path, strerror(static_cast<int>(response.error)));
      }
      session.gate.mark_applied(req.sequence);
    }
    if (!write_frame(fd, wire::encode_response(response))) return;
  }
}

}  // namespace mirror
