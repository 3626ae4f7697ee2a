// The replicator of a volume with a peer: the local side of the method. Every
// mirror request gets a global sequence number and a barrier (see
// apply_gate.h) and is appended to the volume's durable queue; while the link
// is up it is handed to one of n worker threads, each owning connection i of
// the local connection array (all requests on one file travel over one
// connection). Heartbeats (local_heartbeat.h) decide when the link is down:
// the connections are closed and requests wait in the queue; once the link is
// back they are replayed in order before any new one. In sync mode
// replicate() returns when the mirror has answered, or as on_disconnect says
// while the peer is away.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mirror/replicator.h"
#include "mirror/status.h"

namespace mirror {

// What a sync-mode request does while the peer is away.
enum class OnDisconnect { queue, block, fail };
// What a request does when the queue holds queue_max: wait for space, or
// leave its directory in the dirty set, resynced once the queue drains.
enum class OnQueueFull { block, resync };

struct PeerOptions {
  std::string peer;    // HOST:PORT of the peer's mirrord
  std::string volume;  // the volume's name there
  Mode mode = Mode::sync;
  unsigned connections = 4;
  std::string secret_file;
  std::string exclude;  // GLOB[:GLOB...] applied locally only
  std::string backing;  // the backing directory: content moved out of an excluded path is read here
  std::string mountpoint;  // only to refuse a queue_dir beneath it
  int64_t heartbeat_interval_ms = 250;
  int64_t heartbeat_timeout_ms = 1500;
  int64_t probation_ms = 3000;
  std::string heartbeat_port;  // the peer's UDP port; empty: the port of `peer`
  std::string queue_dir;       // empty: /var/lib/mirrorfs/VOLUME
  uint64_t queue_max = 1ull << 30;
  OnDisconnect on_disconnect = OnDisconnect::queue;
  OnQueueFull on_queue_full = OnQueueFull::resync;
  std::string control;  // mirrorfs's control socket; empty: the default for the volume
  // The volume identity record (mirror/volume_identity.h); empty: beside the
  // backing directory.
  std::string identity;
  // Bytes of requests held in memory on their way to the peer; beyond this
  // the queue on disk feeds the connections instead.
  size_t max_in_flight_bytes = 64u << 20;
};

// Throws std::runtime_error naming the option or file at fault.
std::unique_ptr<Replicator> make_local_replicator(const PeerOptions& options);

// "HOST:PORT" split, IPv6 in brackets allowed; throws std::runtime_error.
std::pair<std::string, std::string> split_host_port(const std::string& s, const char* option);

// The default queue directory of a volume.
std::string default_queue_dir(const std::string& volume);

}  // namespace mirror
