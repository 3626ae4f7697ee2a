// The control socket of a daemon: a Unix stream socket on which mirrorctl
// (or anyone with the right to open it) sends requests and reads replies.
//
// Protocol: newline-delimited JSON. Each request is one line holding one
// JSON object with a string "command"; each reply is one line holding one
// JSON object with a boolean "ok", and "error" (a sentence) when ok is false.
// A connection may carry several requests, answered in order.
//
//   {"command":"status"}                          -> {"ok":true,"status":DaemonStatus}
//   {"command":"pause"[,"volume":"NAME"]}         -> {"ok":true}
//   {"command":"resume"[,"volume":"NAME"]}        -> {"ok":true}
//   {"command":"mode","mode":"sync"|"async"[,"volume":"NAME"]} -> {"ok":true}
//   {"command":"verify"[,"checksum":true]}        -> {"ok":true}  (mirrorfs: starts a verify;
//                                                    its progress and result are in status.sync)
//   {"command":"resync"[,"discard_copy":true][,"checksum":true]} -> {"ok":true}
//                                                   (mirrorfs: starts a resync)
//   anything else                                 -> {"ok":false,"error":"..."}
//
// Without "volume" a command applies to every volume of the daemon.
// DaemonStatus is drawn in mirror/status.h.
//
// The server checks the framing (size, JSON, object, "command") and answers
// bad requests itself; well-formed ones go to the daemon's handler on the
// server's thread ("control"), so a handler must answer quickly and never
// block on the network or the queue.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>

namespace mirror {

// Command names, as sent in "command".
inline constexpr const char* kCommandStatus = "status";
inline constexpr const char* kCommandPause = "pause";
inline constexpr const char* kCommandResume = "resume";
inline constexpr const char* kCommandMode = "mode";
inline constexpr const char* kCommandVerify = "verify";
inline constexpr const char* kCommandResync = "resync";

// Answers one well-formed request (an object with a string "command"). The
// reply should be an object; "ok": true is added when it has no "ok". A
// thrown std::exception becomes {"ok":false,"error":what()}.
using ControlHandler = std::function<nlohmann::json(const nlohmann::json& request)>;

// Replies for handlers: {"ok":true, ...fields} and {"ok":false,"error":message}.
nlohmann::json control_ok(nlohmann::json fields = nlohmann::json::object());
nlohmann::json control_error(const std::string& message);

// Where control sockets live: /run/mirrorfs for root; otherwise
// $XDG_RUNTIME_DIR/mirrorfs, or /tmp/mirrorfs-UID without it. mirrorctl
// looks in the same place.
std::string default_control_dir();
// The default socket of a daemon: DIR/mirrord.sock, DIR/mirrorfs-VOLUME.sock.
std::string default_control_path(const std::string& program, const std::string& volume = "");

// Throws std::runtime_error naming the path when a running daemon answers
// there, or the path cannot hold a socket; a stale socket passes (the server
// replaces it). For a daemon to check before it forks into the background.
void check_control_path(const std::string& path);

struct ControlServerOptions {
  std::string path;                     // the socket; its parent directory is created
  size_t max_request_bytes = 64 << 10;  // a longer line is answered with an error and closed
  size_t max_clients = 32;              // more at once are answered with an error and closed
  std::chrono::milliseconds idle_timeout{30000};  // a silent client is disconnected
};

// Listens on a Unix socket (mode 0600) from construction to stop(). A socket
// left at the path by a dead process (connecting is refused) is replaced; a
// path where someone is listening, or that is not a socket, makes the
// constructor throw std::runtime_error naming the path.
class ControlServer {
 public:
  ControlServer(ControlServerOptions options, ControlHandler handler);
  ~ControlServer();  // stop()
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Closes every client, removes the socket (if it is still ours) and joins
  // the thread. Idempotent.
  void stop();
  const std::string& path() const { return options_.path; }

 private:
  void run();
  // The reply to one request line.
  std::string answer(const std::string& line);

  ControlServerOptions options_;
  ControlHandler handler_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;      // eventfd: stop() wakes run()'s poll
  dev_t socket_dev_ = 0;  // identity of the socket file we made, so that
  ino_t socket_ino_ = 0;  // stop() never removes a successor's socket
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace mirror
