#include "mirror/mirror_server.h"

#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "mirror/frame_io.h"
#include "mirror/mirror_volume.h"
#include "mirror/state_files.h"

namespace mirror {
namespace asio = boost::asio;
namespace {

constexpr int kHandshakeTimeoutMs = 5000;
// With --listen ADDR:0, how many free TCP ports to try for one whose UDP
// port number is free too.
constexpr int kPortAttempts = 20;

// "ADDR:PORT", "[IPv6]:PORT" or "NAME:PORT" to an endpoint. A name is
// resolved once, preferring its first IPv4 address.
asio::ip::tcp::endpoint resolve_listen(const std::string& s) {
  auto bad = [&](const std::string& why) {
    return std::runtime_error("--listen " + s + ": " + why);
  };
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    throw bad("expected ADDR:PORT");
  }
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    throw bad("write an IPv6 address in brackets, as in [::1]:7400");
  }
  unsigned number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc() || end != port.data() + port.size() || number > 65535) {
    throw bad("bad port '" + port + "': want a number from 0 to 65535");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    throw bad("cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  const addrinfo* pick = found;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  asio::ip::tcp::endpoint endpoint;
  std::memcpy(endpoint.data(), pick->ai_addr, pick->ai_addrlen);
  endpoint.resize(pick->ai_addrlen);
  freeaddrinfo(found);
  return endpoint;
}

// A listening TCP socket on `endpoint`; its port in `port`.
int bind_listener(const std::string& listen, const asio::ip::tcp::endpoint& endpoint,
                  uint16_t& port) {
  int fd = socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, endpoint.data(), endpoint.size()) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    throw std::runtime_error("--listen " + listen + ": " + strerror(err));
  }
  asio::ip::tcp::endpoint bound;
  socklen_t len = static_cast<socklen_t>(bound.capacity());
  getsockname(fd, bound.data(), &len);
  bound.resize(len);
  port = bound.port();
  return fd;
}

std::string udp_address(const asio::ip::tcp::endpoint& e, uint16_t port) {
  auto a = e.address();
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(port)
                   : a.to_string() + ":" + std::to_string(port);
}

}  // namespace

std::string volume_state_path(const MirrordOptions& options, const std::string& name,
                              const std::string& dir, const std::string& extension,
                              const std::string& beside_suffix) {
  if (!options.state_dir.empty()) {
    if (name.find('/') != std::string::npos) {
      throw std::runtime_error("--volume " + name + "=" + dir +
                               ": a volume name with '/' cannot name a file in --state-dir");
    }
    return (std::filesystem::path(options.state_dir) / (name + extension)).string();
  }
  try {
    return path_beside(dir, beside_suffix);
  } catch (const std::exception& e) {
    throw std::runtime_error("--volume " + name + "=" + dir + ": " + e.what() +
                             "; give --state-dir");
  }
}

std::string applied_state_path(const MirrordOptions& options, const std::string& name,
                               const std::string& dir) {
  return volume_state_path(options, name, dir, ".state", ".mirrord-state");
}

MirrorServer::MirrorServer(const MirrordOptions& options, Secret secret)
    : options_(options), secret_(std::move(secret)) {
  if (options.volumes.empty()) throw std::runtime_error("no --volume given: nothing to serve");
  if (options.heartbeat_interval_ms <= 0 ||
      options.heartbeat_timeout_ms <= options.heartbeat_interval_ms) {
    throw std::runtime_error("--heartbeat-timeout (" +
                             std::to_string(options.heartbeat_timeout_ms) +
                             " ms) must be longer than --heartbeat-interval (" +
                             std::to_string(options.heartbeat_interval_ms) + " ms)");
  }
  for (const auto& [name, dir] : options.volumes) {
    if (name.empty() || name.size() > wire::kMaxVolumeName) {
      throw std::runtime_error("--volume " + name + "=" + dir + ": bad volume name");
    }
    if (volumes_.count(name)) throw std::runtime_error("--volume " + name + " given twice");
    auto v = std::make_unique<Volume>();
    v->name = name;
    v->directory = dir;
    v->monitor.link_since = wall_clock_ms();
    try {
      v->applier = std::make_unique<Applier>(dir);
    } catch (const std::exception& e) {
      throw std::runtime_error("--volume " + name + "=" + dir + ": " + e.what());
    }
    v->state = std::make_unique<AppliedState>(applied_state_path(options, name, dir));
    if (v->state->corruption()) {
      spdlog::warn("volume {}: {}; treating it as unknown", name, *v->state->corruption());
    }
    v->identity = open_identity(options, name, dir);
    volumes_[name] = std::move(v);
  }
  MirrorHeartbeat::Config hb;
  hb.interval_ms = options.heartbeat_interval_ms;
  hb.timeout_ms = options.heartbeat_timeout_ms;
  hb.secret.assign(secret_.bytes().begin(), secret_.bytes().end());
  for (const auto& [name, v] : volumes_) hb.volumes.push_back(name);
  hb.on_tick = [this](int64_t now_ms) { update_links(now_ms); };
  auto with_array = [this](const std::string& name,
                           const std::function<void(MirrorConnectionArray&)>& visit) {
    Volume& v = *volumes_.at(name);
    std::lock_guard lock(v.mutex);
    if (v.session) visit(v.session->array);
  };
  // TCP first (port 0 picks one), then UDP on the same number.
  const auto endpoint = resolve_listen(options.listen);
  const int attempts = endpoint.port() == 0 ? kPortAttempts : 1;
  for (int attempt = 1;; ++attempt) {
    listen_fd_ = bind_listener(options.listen, endpoint, port_);
    hb.address = udp_address(endpoint, port_);
    try {
      heartbeat_ = std::make_unique<MirrorHeartbeat>(hb, with_array);
      break;
    } catch (const std::exception& e) {
      close(listen_fd_);
      listen_fd_ = -1;
      if (attempt >= attempts) {
        throw std::runtime_error("--listen " + options.listen + ": " + e.what());
      }
    }
  }
}

MirrorServer::~MirrorServer() {
  stop();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void MirrorServer::stop() {
  stopping_ = true;
}

void MirrorServer::run() {
  spdlog::info("listening on {} (port {}), {} volume(s)", options_.listen, port_, volumes_.size());
  heartbeat_->start();
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
  heartbeat_->stop();
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
  Volume* inspected = nullptr;
  if (handshake(fd, peer, session, index, inspected)) {
    if (inspected != nullptr) {
      pthread_setname_np(pthread_self(), "inspect");
      serve_inspection(fd, peer, *inspected);
    } else {
      std::string name = "conn-" + std::to_string(index);
      pthread_setname_np(pthread_self(), name.c_str());
      serve_requests(fd, peer, *session, index);
    }
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
                             size_t& index, Volume*& inspected) {
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
    if (Volume* v = volume_named(hello.volume)) {
      note_error(*v,
                 "peer " + peer + ": authentication failed (wrong secret?); connection refused");
    }
    return false;
  }
  auto it = volumes_.find(hello.volume);
  if (it == volumes_.end()) {
    spdlog::warn("peer {}: asks for volume '{}', which this mirrord does not serve; closing", peer,
                 hello.volume);
    return false;
  }
  Volume& volume = *it->second;
  if (hello.features & wire::kFeatureInspect) {
    if (hello.count != 1) {
      spdlog::warn(
          "peer {}: an inspection HELLO for volume {} must be connection 1 of 1, not {} of {}; "
          "closing",
          peer, hello.volume, hello.index + 1, hello.count);
      return false;
    }
    // An inspection connection only reads the copy and its identity: no
    // session begins and no element of the connection array changes.
    if (!write_frame(fd, wire::encode_welcome(wire::Welcome{}))) return false;
    inspected = &volume;
    return true;
  }
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
      // Everything below resume_from counts as applied; so does what the
      // applied state knows of this session from before a restart.
      const uint64_t resume_after = hello.resume_from > 0 ? hello.resume_from - 1 : 0;
      auto begun = volume.state->begin(hello.session, hello.count, resume_after);
      if (!begun.error.empty()) spdlog::error("volume {}: {}", volume.name, begun.error);
      volume.session = std::make_shared<Session>(hello.session, hello.count, begun.applied_through,
                                                 begun.generation, ++sessions_);
      for (uint64_t applied : begun.applied) volume.session->gate.mark_applied(applied);
      spdlog::info(
          "volume {}: new session {:016x} from {} with {} connection(s), resuming after "
          "request {}",
          volume.name, hello.session, peer, hello.count, begun.applied_through);
      if (begun.known) {
        uint64_t highest = *std::max_element(begun.applied.begin(), begun.applied.end());
        spdlog::info(
            "volume {}: session {:016x} known from {}: requests up to {} applied, the "
            "latest {}; those sent again are not applied twice",
            volume.name, hello.session, volume.state->path(), begun.applied_through, highest);
      }
    }
    session = volume.session;
    // Every connection's HELLO says what the local server no longer awaits:
    // it may have dropped queued requests that a resync covers, and requests
    // waiting for their barrier must not wait for those.
    if (hello.resume_from > 1) session->gate.advance_to(hello.resume_from - 1);
    index = hello.index;
    ConnectionElement& element = session->array[index];
    int old = element.fd.exchange(fd);
    if (old >= 0) shutdown(old, SHUT_RDWR);  // a re-established connection replaces the old one
    element.closed = false;
    element.heartbeat_ms = steady_ms();
  }
  {
    std::lock_guard lock(volume.monitor.mutex);
    volume.monitor.connected_from = peer;
  }
  wire::Welcome welcome;
  welcome.applied_through = session->gate.applied_through();
  if (!write_frame(fd, wire::encode_welcome(welcome))) return false;
  spdlog::info("volume {}: connection {} of {} from {} accepted", hello.volume, index + 1,
               hello.count, peer);
  return true;
}

// Waits for the request's barrier. Like an idle connection, a waiting one
// checks its element every request timeout, and ends if it was marked closed
// or replaced by a re-established connection. False: end the connection.
bool MirrorServer::wait_for_barrier(int fd, Volume& volume, Session& session, size_t index,
                                    const wire::ReceivedRequest& req) {
  ConnectionElement& element = session.array[index];
  for (;;) {
    switch (session.gate.wait_for(req.barrier,
                                  std::chrono::milliseconds(options_.request_timeout_ms))) {
      case ApplyGate::Wait::ready:
        return true;
      case ApplyGate::Wait::abandoned:
        return false;
      case ApplyGate::Wait::timeout:
        break;
    }
    if (stopping_) return false;
    if (element.fd.load() != fd) {
      spdlog::info("volume {}: connection {} was re-established; its old one ends", volume.name,
                   index + 1);
      return false;
    }
    if (element.closed) {
      spdlog::info(
          "volume {}: connection {} idle and marked closed; ending it (request {} waited "
          "for request {})",
          volume.name, index + 1, req.sequence, req.barrier);
      return false;
    }
  }
}

void MirrorServer::serve_requests(int fd, const std::string& peer, Session& session, size_t index) {
  Volume* volume = nullptr;
  for (auto& [name, v] : volumes_) {
    std::lock_guard lock(v->mutex);
    if (v->session.get() == &session) volume = v.get();
  }
  if (volume == nullptr) return;
  AppliedState& state = *volume->state;
  auto state_failed = [&](const std::string& why) {
    if (!volume->state_failed.exchange(true)) spdlog::error("volume {}: {}", volume->name, why);
    note_error(*volume, why);
  };
  std::vector<std::byte> payload;
  ConnectionElement& element = session.array[index];
  ConnectionTraffic& traffic = session.traffic[index];
  VolumeMonitor& monitor = volume->monitor;
  auto fault = [&](const std::string& what) {
    spdlog::warn("volume {}: connection {} from {}: {}; closing it", volume->name, index + 1, peer,
                 what);
    note_error(*volume, "connection " + std::to_string(index + 1) + " from " + peer + ": " + what);
  };
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
      fault(r.fault);
      return;
    }
    wire::ReceivedRequest req;
    if (r.header.type != wire::FrameType::request) {
      fault("unexpected frame type " + std::to_string(static_cast<int>(r.header.type)));
      return;
    }
    if (auto why = wire::decode_request(r.header, payload, req)) {
      fault("bad request " + std::to_string(r.header.sequence) + ": " + *why);
      return;
    }
    const uint64_t bytes = wire::kHeaderSize + payload.size();
    monitor.received.fetch_add(1, std::memory_order_relaxed);
    traffic.bytes_read.fetch_add(bytes, std::memory_order_relaxed);
    traffic.in_flight.fetch_add(1);
    struct Answered {  // the request is no longer in flight, however this round ends
      std::atomic<uint64_t>& in_flight;
      ~Answered() { in_flight.fetch_sub(1); }
    } answered{traffic.in_flight};
    if (req.barrier >= req.sequence) {
      spdlog::warn("volume {}: request {} from {} waits for itself (barrier {}); closing",
                   volume->name, req.sequence, peer, req.barrier);
      return;
    }
    wire::Response response;
    response.sequence = req.sequence;
    if (state.applied(session.generation, index, req.sequence)) {
      // Applied on this connection before (by an earlier run of mirrord, or
      // before the connection was re-established): answer, do not apply again.
      spdlog::debug("volume {}: request {} on connection {} was applied already", volume->name,
                    req.sequence, index + 1);
      session.gate.mark_applied(req.sequence);
    } else {
      if (!wait_for_barrier(fd, *volume, session, index, req)) return;
      // The thread of a connection that was re-established may still be
      // here with the same request: one applies it, the other sees it applied.
      std::lock_guard apply_lock(session.apply_mutex[index]);
      if (!session.gate.is_applied(req.sequence)) {
        response.error = static_cast<uint32_t>(volume->applier->apply(req.request));
        if (response.error != 0) {
          const std::string failed = std::string(to_string(req.request.op)) + " " +
                                     req.request.path +
                                     " failed: " + strerror(static_cast<int>(response.error));
          spdlog::warn("volume {}: {}", volume->name, failed);
          note_error(*volume, failed);
        }
        session.gate.mark_applied(req.sequence);
        if (auto e = state.record(session.generation, index, req.sequence,
                                  session.gate.applied_through())) {
          state_failed(*e);
        }
        if (req.request.op == Op::fsync) {
          if (auto e = state.sync()) state_failed(*e);
        }
      }
    }
    if (!write_frame(fd, wire::encode_response(response))) return;
    (response.error == 0 ? monitor.acked : monitor.failed).fetch_add(1, std::memory_order_relaxed);
    monitor.answered_bytes.fetch_add(bytes, std::memory_order_relaxed);
    traffic.bytes_acked.fetch_add(bytes, std::memory_order_relaxed);
  }
}

}  // namespace mirror
