// mirrord's server: accepts the local servers' connections, authenticates
// each, keeps per volume the mirror connection array of the current session
// with one connection thread per element, and applies requests in the order
// their barriers demand (see apply_gate.h). Heartbeats (mirror_heartbeat.h)
// mark the elements of a silent local server closed; each volume's applied
// state (applied_state.h) keeps a request from being applied twice across a
// restart. Stops on stop(). status() (mirror_status.cc) reports each
// volume for the control socket.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mirror/auth.h"
#include "mirror/mirror_heartbeat.h"
#include "mirror/status.h"
#include "mirror/wire_format.h"

namespace mirror {

struct MirrordOptions {
  std::string listen = "0.0.0.0:7400";  // ADDR:PORT; TCP, and UDP for heartbeats
  std::vector<std::pair<std::string, std::string>> volumes;  // NAME, DIR
  std::string secret_file;
  int request_timeout_ms = 2000;  // an idle connection thread checks its element this often
  int heartbeat_interval_ms = 250;
  int heartbeat_timeout_ms = 1500;  // silence longer than this marks elements closed
  std::string state_dir;            // empty: each volume's applied state beside its copy
};

// Where a state file of volume `name`, kept in `dir`, lives: with --state-dir
// D, "D/NAME<extension>"; else "PARENT/.BASENAME<beside_suffix>" beside DIR.
// Throws std::runtime_error naming the volume when there is no such place.
std::string volume_state_path(const MirrordOptions& options, const std::string& name,
                              const std::string& dir, const std::string& extension,
                              const std::string& beside_suffix);

// Where the applied state of volume `name`, kept in `dir`, lives: with
// --state-dir D, "D/NAME.state"; else "PARENT/.BASENAME.mirrord-state" beside
// DIR. Throws std::runtime_error when there is no such place.
std::string applied_state_path(const MirrordOptions& options, const std::string& name,
                               const std::string& dir);

// Where the identity record (volume_identity.h) of volume `name`, kept in
// `dir`, lives: with --state-dir D, "D/NAME.identity"; else beside DIR, as
// identity_path_beside(DIR) says. Throws std::runtime_error when there is no
// such place.
std::string identity_path(const MirrordOptions& options, const std::string& name,
                          const std::string& dir);

class MirrorServer {
 public:
  // Opens every volume and binds the listening socket; throws
  // std::runtime_error naming what is wrong.
  MirrorServer(const MirrordOptions& options, Secret secret);
  ~MirrorServer();
  MirrorServer(const MirrorServer&) = delete;
  MirrorServer& operator=(const MirrorServer&) = delete;

  uint16_t port() const { return port_; }  // TCP and UDP
  // Serves until stop(); joins every connection thread before returning.
  void run();
  // From any thread or a signal-handling thread.
  void stop();
  // program "mirrord" and one VolumeStatus per --volume, in name order. From
  // any thread, at any time; takes only brief locks, never waits on the network.
  DaemonStatus status() const;

 private:
  struct Volume;
  struct Session;
  void serve(int fd);
  // Authenticates the peer. A request connection joins (or begins) a
  // session: `session` and `index`; an inspection connection (HELLO feature
  // wire::kFeatureInspect) touches no session: `inspected` is its volume.
  bool handshake(int fd, const std::string& peer, std::shared_ptr<Session>& session, size_t& index,
                 Volume*& inspected);
  // inspection_server.cc: answers the peer's questions about the copy until
  // it closes, a bad frame arrives or mirrord stops.
  void serve_inspection(int fd, const std::string& peer, Volume& volume);
  void serve_requests(int fd, const std::string& peer, Session& session, size_t index);
  bool wait_for_barrier(int fd, Volume& volume, Session& session, size_t index,
                        const wire::ReceivedRequest& req);
  void reap_finished();
  // mirror_status.cc: the link states move on every heartbeat tick; errors
  // worth an operator's eye are kept per volume (and logged by the caller).
  void update_links(int64_t now_ms);
  void note_error(Volume& volume, const std::string& message);
  Volume* volume_named(const std::string& name) const;

  const MirrordOptions options_;
  const Secret secret_;
  std::map<std::string, std::unique_ptr<Volume>> volumes_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::unique_ptr<MirrorHeartbeat> heartbeat_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> sessions_{0};  // sessions begun, for Session::serial
  std::mutex threads_mutex_;           // guards threads_
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<int>> fd;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> threads_;
};

}  // namespace mirror
