// Internal to mirrord (mirror_server.cc, mirror_status.cc): what MirrorServer
// keeps per volume and per session of a local server, including what its
// status (mirror/status.h) is drawn from. Status fields are atomics or sit
// behind small locks of their own, so that the control thread reads them
// while connection threads and heartbeats run.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mirror/applied_state.h"
#include "mirror/applier.h"
#include "mirror/apply_gate.h"
#include "mirror/connection_array.h"
#include "mirror/mirror_server.h"
#include "mirror/status.h"
#include "mirror/volume_identity.h"

namespace mirror {

// What one connection of a session has carried (status: connections[]).
struct ConnectionTraffic {
  std::atomic<uint64_t> in_flight{0};    // requests read and not yet answered
  std::atomic<uint64_t> bytes_read{0};   // request frames, header included
  std::atomic<uint64_t> bytes_acked{0};  // of those, the answered ones
};

// One run of a local server for one volume: its connection array, the order
// its requests are applied in, and its generation of the applied state.
struct MirrorServer::Session {
  Session(uint64_t id, size_t n, uint64_t applied_through, uint64_t generation, uint64_t serial)
      : id(id),
        array(n),
        gate(applied_through),
        generation(generation),
        serial(serial),
        apply_mutex(n),
        traffic(n) {}
  const uint64_t id;
  MirrorConnectionArray array;
  ApplyGate gate;
  const uint64_t generation;
  const uint64_t serial;                   // this mirrord's count of sessions, from 1
  std::vector<std::mutex> apply_mutex;     // per connection: guards check-apply-mark of a request
  std::vector<ConnectionTraffic> traffic;  // per connection
};

// The status of one volume that is not read straight from its session: the
// link state machine, the counters, the last error and the throughput samples.
struct VolumeMonitor {
  // Counters since mirrord started.
  std::atomic<uint64_t> received{0};  // requests read
  std::atomic<uint64_t> acked{0};     // answered with success
  std::atomic<uint64_t> failed{0};    // answered with an errno
  std::atomic<uint64_t> answered_bytes{0};

  std::mutex mutex;  // guards everything below; never held while taking another lock
  LinkState link = LinkState::connecting;
  int64_t link_since = 0;  // wall-clock ms
  bool ever_connected = false;
  uint64_t connected_serial = 0;  // the session last seen connected
  uint64_t interruptions = 0;
  uint64_t reconnects = 0;
  std::string connected_from;  // the peer of the last accepted connection
  std::optional<ErrorStatus> last_error;
  // Throughput samples, one per kSampleEveryMs at most, oldest overwritten.
  struct Sample {
    int64_t at_ms = 0;  // steady clock; 0: unused
    uint64_t requests = 0;
    uint64_t bytes = 0;
  };
  static constexpr int64_t kSampleEveryMs = 250;
  static constexpr int64_t kWindowMs = 5000;
  std::array<Sample, kWindowMs / kSampleEveryMs + 2> samples{};
  size_t next_sample = 0;
};

struct MirrorServer::Volume {
  std::string name;
  std::string directory;
  std::unique_ptr<Applier> applier;
  std::unique_ptr<AppliedState> state;
  std::mutex identity_mutex;  // guards the use of identity (one owner at a time)
  std::unique_ptr<IdentityFile> identity;
  std::atomic<bool> state_failed{false};  // a failure to keep the state was logged
  std::mutex mutex;                       // guards session
  std::shared_ptr<Session> session;
  VolumeMonitor monitor;
};

// inspection_server.cc: the identity record of volume `name`, at
// identity_path(); read once, so that its state is logged at start (a
// corrupt record is reported, and kept until the local server replaces it).
std::unique_ptr<IdentityFile> open_identity(const MirrordOptions& options, const std::string& name,
                                            const std::string& dir);

}  // namespace mirror
