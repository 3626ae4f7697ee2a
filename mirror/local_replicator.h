// The replicator of a volume with a peer: the local side of the method. It
// keeps the local connection array of n elements and n worker threads, each
// owning connection i to the peer's mirrord; gives every mirror request a
// global sequence number and a barrier (see apply_gate.h); sends all requests
// on one file over one connection; and in sync mode returns only when the
// mirror has answered.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mirror/replicator.h"

namespace mirror {

enum class Mode { sync, async };

struct PeerOptions {
  std::string peer;    // HOST:PORT of the peer's mirrord
  std::string volume;  // the volume's name there
  Mode mode = Mode::sync;
  unsigned connections = 4;
  std::string secret_file;
  std::string exclude;  // GLOB[:GLOB...] applied locally only
  std::string backing;  // the backing directory: content moved out of an excluded path is read here
  size_t max_in_flight_bytes = 64u << 20;  // async mode: writers wait beyond this
};

// Throws std::runtime_error naming the option or file at fault.
std::unique_ptr<Replicator> make_local_replicator(const PeerOptions& options);

// "HOST:PORT" split, IPv6 in brackets allowed; throws std::runtime_error.
std::pair<std::string, std::string> split_host_port(const std::string& s, const char* option);

}  // namespace mirror
