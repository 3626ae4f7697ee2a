// mirrord's server: accepts the local servers' connections, authenticates
// each, keeps per volume the mirror connection array of the current session
// with one connection thread per element, and applies requests in the order
// their barriers demand (see apply_gate.h). Stops on stop().
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

namespace mirror {

struct MirrordOptions {
  std::string listen = "0.0.0.0:7400";             // ADDR:PORT
  std::vector<std::pair<std::string, std::string>> volumes;  // NAME, DIR
  std::string secret_file;
  int request_timeout_ms = 2000;  // an idle connection thread checks its element this often
};

class MirrorServer {
 public:
  // Opens every volume and binds the listening socket; throws
  // std::runtime_error naming what is wrong.
  MirrorServer(const MirrordOptions& options, Secret secret);
  ~MirrorServer();
  MirrorServer(const MirrorServer&) = delete;
  MirrorServer& operator=(const MirrorServer&) = delete;

  uint16_t port() const { return port_; }
  // Serves until stop(); joins every connection thread before returning.
  void run();
  // From any thread or a signal-handling thread.
  void stop();

 private:
  struct Volume;
  struct Session;
  void serve(int fd);
  bool handshake(int fd, const std::string& peer, std::shared_ptr<Session>& session,
                 size_t& index);
  void serve_requests(int fd, const std::string& peer, Session& session, size_t index);
  void reap_finished();

  const MirrordOptions options_;
  const Secret secret_;
  std::map<std::string, std::unique_ptr<Volume>> volumes_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex threads_mutex_;  // guards threads_
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<int>> fd;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> threads_;
};

}  // namespace mirror
